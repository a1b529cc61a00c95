"""Length-controlled ladders (METHOD section 2 item 7; the paper's Figure 6a ablation).

A length-controlled ladder keeps the plain ladder's type order and nested pools, and samples each
level only from pool members whose length on the strategy's side (model tokens) lies in a window
``[lo, hi]``; ``k_min`` is the smallest k whose *windowed* pool holds N. Its configs are named
``{granularity}_{side}_lengthctl_{level}``.

A window removes carriers: an admitted type none of whose rows lies in the window cannot be in
any config. So a twin's ``k`` counts only the admitted types that still have carriers inside the
window (:func:`carried_counts`: the types present in the windowed pool ``P_k``), its levels are
spaced evenly in that count (:func:`twin_level_k`), and each config also records its realised
type count (the types present in its rows); coverage is realised / k.

``auto`` picks the window. Narrowing a window around the median always evens out the levels'
mean lengths, but it raises ``k_min`` and so shrinks the range of diversity the ladder spans. So
``auto`` tries windows centred on the median (in quantiles of the lengths of the rows that carry
a type) from the widest down whose levels' expected mean lengths (the mean over each level's
windowed pool) lie within ``AUTO_TOLERANCE`` of their average while the carried k still rises,
samples each, and keeps the widest whose realised type counts keep rising and whose levels meet
the ±5 % goal: as narrow as the goal needs, no narrower. If none does, it keeps the one that came
closest (rising realised counts first), and the build says what it missed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from macro2micro.dataset_builder.options import AUTO, parse_window
from macro2micro.dataset_builder.selection.ladder import Ladder, PoolTooSmallError, level_k

AUTO_TOLERANCE = 0.03  # on expected pool means: room for sampling noise under the ±5 % goal
GOAL = 0.05
HALF_WIDTHS = tuple(round(0.5 - 0.025 * i, 3) for i in range(20))  # 0.5 (everything) .. 0.025


@dataclass
class LengthWindow:
    """The window of a length-controlled ladder and how it was chosen."""

    lo: int
    hi: int
    info: dict = field(default_factory=dict)

    def mask(self, lengths: np.ndarray) -> np.ndarray:
        return (lengths >= self.lo) & (lengths <= self.hi)


def windowed(ladder: Ladder, mask: np.ndarray) -> Ladder:
    """The same type order with every row outside ``mask`` left out of every pool."""
    entry = np.where(mask, ladder.entry_k, 0)
    counts = np.bincount(entry, minlength=ladder.n_types + 1)
    counts[0] = 0
    return Ladder(order=ladder.order, rank=ladder.rank, entry_k=entry, pool_sizes=np.cumsum(counts))


def carried_counts(ladder: Ladder, matrix, mask: np.ndarray | None = None) -> np.ndarray:
    """``counts[k]`` (k = 0..n_types): how many of the first k admitted types have a carrier in the pool ``P_k``
    restricted to ``mask`` (all rows when None), i.e. the types present in that pool.

    A type ``t`` enters the count at the smallest ``entry_k`` of its carriers inside the mask (a row's
    ``entry_k`` is the rank of its last-admitted type, so every type of the row is admitted by then).
    """
    entry = ladder.entry_k if mask is None else np.where(mask, ladder.entry_k, 0)
    rows = np.flatnonzero(entry > 0)
    sub = matrix[rows]
    first = np.full(ladder.n_types, ladder.n_types + 1, dtype=np.int64)
    np.minimum.at(first, sub.indices, np.repeat(entry[rows], np.diff(sub.indptr)))
    counts = np.bincount(first[first <= ladder.n_types], minlength=ladder.n_types + 1)
    return np.cumsum(counts)


def twin_level_k(ladder: Ladder, carried: np.ndarray, budget: int, level: float, what: str = "") -> tuple:
    """``(k_admitted, k, k_min, k_max)`` of a twin's level: ``k`` counts the types with carriers in the window.

    Levels are spaced evenly in that count, from the smallest windowed pool that holds N (``k_min``) to every
    type with a carrier in the window (``k_max``); ``k_admitted`` is the position in the admission order that
    first reaches it (types admitted on the way whose carriers all lie outside the window are not counted).
    """
    k_admitted_min, _, _ = level_k(ladder, budget, 0.0, what)
    k_min, k_max = int(carried[k_admitted_min]), int(carried[-1])
    target = math.floor(k_min + level * (k_max - k_min) + 0.5)
    k_admitted = max(k_admitted_min, int(np.searchsorted(carried, target, side="left")))
    return k_admitted, int(carried[k_admitted]), k_min, k_max


def expected_means(ladder: Ladder, lengths: np.ndarray, ks: list[int]) -> np.ndarray:
    """Mean length over each pool ``P_k`` (what a uniform draw from the pool averages)."""
    sums = np.cumsum(np.bincount(ladder.entry_k, weights=lengths.astype(np.float64), minlength=ladder.n_types + 1))
    sums[:] -= sums[0]  # rows with no type (entry 0) are in no pool
    sizes = ladder.pool_sizes
    return np.array([sums[k] / sizes[k] for k in ks])


def spread(means: np.ndarray) -> float:
    """Largest relative distance of a level's mean length from the average of the levels' means."""
    centre = float(np.mean(means))
    return float(np.max(np.abs(means / centre - 1))) if centre > 0 else 0.0


def _levels_k(ladder: Ladder, carried: np.ndarray, budget: int, levels: int) -> tuple[list[int], list[int]]:
    """Per level, the position in the admission order and the carried k."""
    picks = [twin_level_k(ladder, carried, budget, i / (levels - 1)) for i in range(levels)]
    return [p[0] for p in picks], [p[1] for p in picks]


def resolve_window(
    spec: str, lengths: np.ndarray, ladder: Ladder, budget: int, levels: int, what: str = "", matrix=None
) -> list[LengthWindow]:
    """The windows to try, in order of preference: the given ``LO:HI``, or ``auto``'s candidates.

    ``auto``'s candidates are the windows centred on the median whose expected level means lie within
    ``AUTO_TOLERANCE`` while the carried k (types with carriers in the window) rises at every level, widest
    first, then the others by expected spread. The caller samples each in turn and keeps the first whose
    realised type counts keep rising and whose levels' actual means meet the ±5 % ``GOAL``.

    Args:
        matrix: the sample x type matrix (counts the types a window leaves carriers for); None: every admitted
            type counts.
    """
    parsed = parse_window(spec)
    typed = ladder.entry_k > 0
    if not isinstance(parsed, str):
        window = LengthWindow(*parsed, info={"mode": "fixed"})
        rows = int((window.mask(lengths) & typed).sum())
        if rows < budget:
            raise PoolTooSmallError(
                f"{what}: length window {window.lo}:{window.hi} holds {rows} rows that carry a "
                f"type, fewer than N={budget}; widen --length_window"
            )
        return [window]
    typed_lengths = lengths[typed]
    if len(typed_lengths) < budget:
        raise PoolTooSmallError(
            f"{what}: budget N={budget} is larger than the {len(typed_lengths)} rows that carry a type"
        )
    tried: list[dict] = []
    for h in HALF_WIDTHS:
        lo, hi = (int(v) for v in np.quantile(typed_lengths, [0.5 - h, 0.5 + h], method="nearest"))
        mask = (lengths >= lo) & (lengths <= hi)
        wl = windowed(ladder, mask)
        if wl.pool_sizes[-1] < budget:
            break  # narrower windows hold even fewer rows
        carried = carried_counts(ladder, matrix, mask) if matrix is not None else np.arange(ladder.n_types + 1)
        admitted, ks = _levels_k(wl, carried, budget, levels)
        tried.append(
            {
                "half_width": h,
                "window": [lo, hi],
                "k_range": [ks[0], ks[-1]],
                "expected_spread": round(spread(expected_means(wl, lengths, admitted)), 4),
                "k_rises": len(set(ks)) == levels,
                "rows": int(wl.pool_sizes[-1]),
            }
        )
    good = [t for t in tried if t["k_rises"] and t["expected_spread"] <= AUTO_TOLERANCE]
    rest = sorted((t for t in tried if t not in good), key=lambda t: (not t["k_rises"], t["expected_spread"]))
    return [
        LengthWindow(
            t["window"][0],
            t["window"][1],
            {
                "mode": AUTO,
                "quantiles": [round(0.5 - t["half_width"], 3), round(0.5 + t["half_width"], 3)],
                "expected_spread": t["expected_spread"],
                "rows_in_window": t["rows"],
                "k_range": t["k_range"],
                "whole_range": t["half_width"] >= 0.5,
            },
        )
        for t in good + rest
    ]
