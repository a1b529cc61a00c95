"""Config names and every other name that becomes a path or a repo id, checked where they enter.

Config names are ``{granularity}_{side}_{level}`` (``micro_response_max``), with ``lengthctl``
before the level for length-controlled ladders (``micro_response_lengthctl_max``), plus
``random``, the baselines (``longest``, ...) and ``full``. A replicate r > 0 of a config (an independent draw
of the same level: ``--replicates``) appends ``_r{r}``: ``micro_response_max_r1``, ``random_r2``; replicate 0
keeps the plain name. A name read from the command line or from metadata (a manifest, a card,
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
_REPLICATE_SUFFIX = re.compile(r"_r([1-9]\d{0,2})$")
MAX_REPLICATES = 100


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


def config_name(strategy: str, level_name: str | None, replicate: int = 0) -> str:
    name = strategy if level_name is None else f"{strategy}_{level_name}"
    return check_name(f"{name}_r{replicate}" if replicate else name)


def check_replicates(replicates: int) -> int:
    """``replicates`` if it is a number of draws a config name can carry (1 = no replicates)."""
    if isinstance(replicates, bool) or not isinstance(replicates, int) or not 1 <= replicates <= MAX_REPLICATES:
        raise OptionsError(
            f"replicates={replicates!r}: a whole number of draws, 1 (no replicates) to {MAX_REPLICATES}"
        )
    return replicates


def replicate_of(config: str) -> tuple[str, int]:
    """``(the config of replicate 0, the replicate)``: ``micro_response_max_r2`` -> ``("micro_response_max", 2)``."""
    match = _REPLICATE_SUFFIX.search(config)
    return (config[: match.start()], int(match.group(1))) if match else (config, 0)


def strategy_of(config: str) -> str:
    """The ladder a config belongs to (``micro_response_lengthctl_max`` -> ``micro_response_lengthctl``); a
    replicate's too (``random_r1`` -> ``random``)."""
    config = replicate_of(config)[0]
    if config in (FULL_CONFIG, RANDOM_CONFIG):
        return config
    return _LEVEL_SUFFIX.sub("", config)


def level_of(config: str) -> str | None:
    """The level suffix of a ladder config (``min``, ``17``, ..., ``max``), else None."""
    config = replicate_of(config)[0]
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
