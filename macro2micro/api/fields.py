"""Keyword arguments -> the option dataclasses a stage takes, so that ``build_ladders(ds, budget=500,
tokenizer="word")`` works like ``--budget 500 --tokenizer word``: each field goes to the one dataclass that
declares it, through its ``__post_init__`` checks; an unknown name is refused with the nearest valid one."""

from __future__ import annotations

import dataclasses
import difflib
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


def make(kind: type[T], given: T | None, fields: dict[str, Any]) -> T:
    """``given`` (or the defaults) with ``fields`` replaced, validated again."""
    if given is not None and not isinstance(given, kind):
        raise OptionsError(f"expected {kind.__name__}, got {type(given).__name__}")
    if given is None:
        return kind(**fields)
    return dataclasses.replace(given, **fields) if fields else given  # type: ignore[type-var]
