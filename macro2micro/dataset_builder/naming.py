"""Config names and every other name that becomes a path or a repo id, checked where they enter.

Config names are ``{granularity}_{side}_{level}`` (``micro_response_max``), with ``lengthctl``
before the level for length-controlled ladders (``micro_response_lengthctl_max``), plus
``random`` and ``full``. A name read from the command line or from metadata (a manifest, a card,
``build.json``, ``results.json``) is checked against a strict pattern before it is joined to a
path, so a tampered file cannot point a command outside its folder.
"""

from __future__ import annotations

import math
import re

from macro2micro.dataset_builder.defaults import FULL_CONFIG, RANDOM_CONFIG
from macro2micro.dataset_builder.errors import OptionsError

LENGTH_CONTROLLED = "lengthctl"
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9_]{0,94}[a-z0-9])?")
_LEVEL_SUFFIX = re.compile(r"_(min|max|\d{1,2})$")


def check_name(value: str, what: str = "config") -> str:
    """``value`` if it is a safe name (lower-case letters, digits, inner underscores), else ValueError."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        shown = repr(value) if len(repr(value)) <= 80 else f"{repr(value)[:80]}... ({len(value)} characters)"
        raise OptionsError(
            f"{what} name {shown} is not valid: use lower-case letters, digits and inner underscores, at most 96 "
            "characters (e.g. micro_response_max)"
        )
    return value


def check_repo_id(value: str, what: str = "repo id") -> str:
    """A Hub repo id (``org/name`` or ``name``) as huggingface_hub accepts it, never a path in disguise."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(value)
    except HFValidationError as err:
        raise OptionsError(f"{what} {value!r} is not valid: {str(err).splitlines()[0]}") from None
    return value


def config_name(strategy: str, level_name: str | None) -> str:
    return check_name(strategy if level_name is None else f"{strategy}_{level_name}")


def strategy_of(config: str) -> str:
    """The ladder a config belongs to (``micro_response_lengthctl_max`` -> ``micro_response_lengthctl``)."""
    if config in (FULL_CONFIG, RANDOM_CONFIG):
        return config
    return _LEVEL_SUFFIX.sub("", config)


def level_of(config: str) -> str | None:
    """The level suffix of a ladder config (``min``, ``17``, ..., ``max``), else None."""
    match = _LEVEL_SUFFIX.search(config)
    return match.group(1) if match and config not in (FULL_CONFIG, RANDOM_CONFIG) else None


def level_names(levels: int) -> list[str]:
    """Config suffixes of ``levels`` evenly spaced levels: min, 17, 33, 50, 67, 83, max for 7."""
    if levels < 2:
        raise OptionsError(f"levels={levels}: need at least 2 (min and max)")
    names = []
    for i in range(levels):
        p = i / (levels - 1)
        names.append("min" if i == 0 else "max" if i == levels - 1 else str(math.floor(100 * p + 0.5)))
    if len(set(names)) != len(names):
        raise OptionsError(f"levels={levels}: too many levels to name by whole percent")
    return names
