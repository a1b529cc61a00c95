"""Keyword arguments -> the option dataclasses a stage takes, so that ``build_ladders(ds, budget=500,
tokenizer="word")`` works like ``--budget 500 --tokenizer word``: each field goes to the one dataclass that
declares it, through its ``__post_init__`` checks; an unknown name is refused with the nearest valid one."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, TypeVar

from macro2micro.dataset_builder.errors import OptionsError

T = TypeVar("T")


def split_fields(fields: dict[str, Any], *types: type, where: str) -> list[dict[str, Any]]:
    """``fields`` split by the dataclass (of ``types``) that declares each; unknown names refused."""
    owners: dict[str, int] = {}
    for i, kind in enumerate(types):
        for f in dataclasses.fields(kind):
            owners.setdefault(f.name, i)
    parts: list[dict[str, Any]] = [{} for _ in types]
    for name, value in fields.items():
        if name not in owners:
            near = difflib.get_close_matches(name, list(owners), n=1)
            hint = f"; did you mean {near[0]}?" if near else ""
            raise OptionsError(f"{where}() got an unknown option {name!r}{hint} (valid: {', '.join(sorted(owners))})")
        parts[owners[name]][name] = value
    return parts


def _accepts(hint: Any, value: Any) -> bool:
    """Whether ``value`` is of the declared type ``hint`` (the shapes option fields use; others pass)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(a, value) for a in args)
    if origin is typing.Literal:
        return value in args
    if origin in (list, tuple):  # a string is a comma-separated list, as on the command line
        items = value if isinstance(value, (list, tuple)) else [value] if isinstance(value, str) else None
        return items is not None and (not args or all(_accepts(args[0], v) for v in items))
    if origin is dict:
        return isinstance(value, dict)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is str:  # a number where a string is declared reads as on the command line (--type_quota 2)
        return isinstance(value, (str, int)) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _describe(hint: Any) -> str:
    text = str(hint).replace("typing.", "")
    return hint.__name__ if isinstance(hint, type) else text


def check_types(kind: type, fields: dict[str, Any]) -> None:
    """Refuse a keyword whose value is not of its field's declared type, in one line naming the field."""
    hints = typing.get_type_hints(kind)
    for name, value in fields.items():
        hint = hints.get(name)
        if hint is not None and not _accepts(hint, value):
            raise OptionsError(
                f"{name}={value!r}: expected {_describe(hint)}, got {type(value).__name__} ({kind.__name__}.{name})"
            )


def make(kind: type[T], given: T | None, fields: dict[str, Any], name: str | None = None) -> T:
    """``given`` (or the defaults) with ``fields`` replaced, validated again.

    Args:
        name: the parameter ``given`` came from, for the message when it is of the wrong type.
    """
    if given is not None and not isinstance(given, kind):
        what = f"{name}: " if name else ""
        raise OptionsError(
            f"{what}expected a {kind.__name__} (or its fields as keywords), got {type(given).__name__} {given!r:.80}"
        )
    check_types(kind, fields)
    if given is None:
        return kind(**fields)
    return dataclasses.replace(given, **fields) if fields else given  # type: ignore[type-var]
