"""Parsers of option values shared by the options dataclasses (:mod:`.options` re-exports them)."""

from __future__ import annotations

import re
from typing import TypeVar

from macro2micro.dataset_builder.errors import OptionsError

T = TypeVar("T")

AUTO = "auto"  # --length_window auto
EVEN = "even"  # --type_quota even


def parse_window(spec: str) -> str | tuple[int, int]:
    """``"auto"`` or ``"LO:HI"`` (model tokens, inclusive) -> ``"auto"`` or ``(lo, hi)``."""
    text = str(spec).strip().lower()
    if text == AUTO:
        return AUTO
    lo, sep, hi = text.partition(":")
    try:
        bounds = (int(lo), int(hi))
    except ValueError:
        bounds = None
    if not sep or bounds is None or not 0 <= bounds[0] <= bounds[1]:
        raise OptionsError(
            f"length_window={spec!r}: use auto, or LO:HI in model tokens with 0 <= LO <= HI (e.g. 400:600)"
        )
    return bounds


def parse_quota(value: int | str) -> int | str:
    """``1``, ``"2"``, ``"even"`` -> 1, 2, ``"even"``; ValueError otherwise."""
    if str(value).strip().lower() == EVEN:
        return EVEN
    try:
        quota = int(str(value).strip())
    except ValueError:
        quota = 0
    if quota < 1:
        raise OptionsError(f"type_quota={value!r}: a positive number of draws per type, or 'even'")
    return quota


def split_list(values: list[str] | str | None) -> list[str]:
    """``["a,b", "c"]`` or ``"a,b"`` -> ``["a", "b", "c"]`` (blank items dropped)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [item.strip() for value in values for item in str(value).split(",") if item.strip()]


def parse_languages(values: list[str] | str | None) -> list[str]:
    """``"en,zh"`` -> ``["en", "zh"]``: ISO 639 codes (``pt-BR`` too), else OptionsError."""
    codes = split_list(values)
    bad = [code for code in codes if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?", code)]
    if bad:
        raise OptionsError(f"language={bad[0]!r}: give ISO 639 codes such as en, zh or pt-BR")
    return codes


def required(value: T | None, option: str) -> T:
    """``value``, or an OptionsError naming ``--option`` when it was not given."""
    if value is None or value == "":
        raise OptionsError(f"{option}: required (--{option})")
    return value
