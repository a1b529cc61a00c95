"""What else a ladder varies besides diversity (METHOD section 2 item 8): measured, recorded, warned about.

Per config: mean and median length per side (model tokens), turns per row (assistant turns: mean,
median and the shares of 1, 2, 3, 4, 5+), the share of each ``source``, the sampler's length ratio
against the pool's mean length (the exact expectation of a uniform draw of N from the pool) with the
range that holds 95 % of such draws' ratios, the id overlap with the previous level, and whether it
shares its pool with the previous level. Per ladder: warnings when levels repeat a pool, when there
are fewer type counts than levels, when the realised type count (types present in a config's rows)
stops rising, when mean length moves by more than ``LENGTH_RATIO_WARN``, when mean turns per row
move by more than ``TURNS_RATIO_WARN`` (along a ladder of dialogues, rows of more turns carry more
types), when the sampler's rows are longer than the pool's mean by more than ``SAMPLER_RATIO_WARN``
and beyond what a uniform draw shows by chance, or when a source's share moves by more than
``SOURCE_SHIFT_WARN``.
"""

from __future__ import annotations

import math

import numpy as np

from macro2micro.dataset_builder.corpus.table import turn_shares
from macro2micro.dataset_builder.defaults import SIDES

LENGTH_RATIO_WARN = 1.5
TURNS_RATIO_WARN = 1.25  # turns are few and coarse: a mean of 2 turns moving to 2.5 already changes what is trained
SAMPLER_RATIO_WARN = 1.25
SOURCE_SHIFT_WARN = 0.20
MAX_SOURCES = 20


def source_codes(sources: list[str]) -> tuple[np.ndarray, list[str]]:
    """Sources as integer codes (most frequent first) and their names."""
    names, codes, counts = np.unique(np.asarray(sources, dtype=object), return_inverse=True, return_counts=True)
    order = np.lexsort((names, -counts))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes], [str(n) for n in names[order]]


def source_shares(codes: np.ndarray, names: list[str], rows: np.ndarray) -> dict[str, float]:
    """Share of each source among ``rows`` (the corpus's most frequent sources; the rest as ``(other)``)."""
    counts = np.bincount(codes[rows], minlength=len(names)) / max(len(rows), 1)
    out = {names[i]: round(float(counts[i]), 4) for i in range(min(len(names), MAX_SOURCES))}
    if len(names) > MAX_SOURCES:
        out["(other)"] = round(float(counts[MAX_SOURCES:].sum()), 4)
    return out


def sampler_ratio(lengths: np.ndarray, rows: np.ndarray, pool: np.ndarray) -> tuple[float, list[float]]:
    """The rows' mean length over the pool's, and the 95 % range of that ratio for a uniform draw of as many rows.

    The pool's mean is the exact expectation of a uniform draw's mean. Such a draw of n rows without
    replacement from a pool of M has the standard error ``sqrt((1 - n / M) S^2 / n)`` (S^2 the pool's variance,
    the finite-population correction included); the range is ±1.96 of it, over the pool's mean. A ratio
    outside the range is the sampler's doing, not the luck of one draw.
    """
    pool_lengths = lengths[pool].astype(np.float64)
    n, size, mu = len(rows), len(pool), float(pool_lengths.mean())
    if mu <= 0:
        return 1.0, [1.0, 1.0]
    se = math.sqrt(max(0.0, 1 - n / size) * pool_lengths.var(ddof=1) / n) if size > 1 else 0.0
    half = 1.96 * se / mu
    return float(lengths[rows].mean()) / mu, [round(max(0.0, 1 - half), 4), round(1 + half, 4)]


def describe(
    rows: np.ndarray,
    lengths: dict[str, np.ndarray],
    codes: np.ndarray,
    names: list[str],
    length_ratio: float | None = None,
    previous_rows: np.ndarray | None = None,
    same_pool: bool | None = None,
    turns: np.ndarray | None = None,
    uniform_range: list[float] | None = None,
) -> dict:
    """What a config is, besides its types: lengths per side, turns per row, source shares, the sampler's ratio,
    overlap.

    Args:
        rows: the config's corpus rows.
        lengths: per side, the length of every corpus row (model tokens).
        codes, names: sources as codes (:func:`source_codes`).
        length_ratio: the sampler's mean length on the ladder's side over the pool's (:func:`sampler_ratio`).
        previous_rows: the previous level's rows (None at the first level).
        same_pool: whether this level's pool is the previous level's (the same k).
        turns: assistant turns of every corpus row (:func:`macro2micro.dataset_builder.corpus.table.turns_per_row`).
        uniform_range: the range holding 95 % of a uniform draw's ratios (:func:`sampler_ratio`).
    """
    out = {
        "length": {
            side: {
                "mean": round(float(lengths[side][rows].mean()), 2),
                "median": float(np.median(lengths[side][rows])),
            }
            for side in SIDES
        },
        "sources": source_shares(codes, names, rows),
    }
    if turns is not None:
        out["turns"] = {
            "mean": round(float(turns[rows].mean()), 3),
            "median": float(np.median(turns[rows])),
            "shares": turn_shares(turns[rows]),
        }
    if length_ratio is not None:
        out["length_ratio_vs_uniform"] = round(float(length_ratio), 4)
    if uniform_range is not None:
        out["uniform_ratio_range95"] = list(uniform_range)
    if previous_rows is not None:
        out["overlap_with_previous"] = round(len(np.intersect1d(rows, previous_rows)) / len(rows), 4)
        out["same_pool_as_previous"] = bool(same_pool)
    return out


def ladder_warnings(
    ladder: str, manifests: list[dict], levels: int, controlled_side: str | None = None, length_window: bool = False
) -> list[str]:
    """Warnings about one ladder's configs (in level order), each naming the configs and the figures.

    Args:
        controlled_side: the side a length-controlled ladder's window holds (None: a plain ladder).
        length_window: the build already makes length-controlled twins (no advice to).
    """
    out = []
    for prev, cur in zip(manifests, manifests[1:], strict=False):
        if cur["varies"].get("same_pool_as_previous"):
            out.append(
                f"{prev['config']} and {cur['config']} share k={cur['k']} and one pool of {cur['pool_size']} "
                "rows: the same level drawn twice"
            )
    first = manifests[0]
    distinct = first["k_max"] - first["k_min"] + 1
    if distinct < levels:
        out.append(
            f"{ladder} spans only {distinct} type count(s) (k {first['k_min']}..{first['k_max']}) for "
            f"{levels} levels: lower the budget, loosen the type extraction, or use fewer levels"
        )
    for side in SIDES:
        means = [m["varies"]["length"][side]["mean"] for m in manifests]
        if min(means) > 0 and max(means) / min(means) > LENGTH_RATIO_WARN:
            lo, hi = int(np.argmin(means)), int(np.argmax(means))
            if controlled_side and side != controlled_side:
                why = f"the window holds the {controlled_side} side only"
            elif length_window or controlled_side:
                why = "length is the paper's strongest correlate of score"
            else:
                why = "length is the paper's strongest correlate of score: consider --length_window auto"
            out.append(
                f"{ladder}: mean {side} length moves {max(means) / min(means):.2f}x across the ladder "
                f"({means[lo]:.1f} at {manifests[lo]['config']}, {means[hi]:.1f} at {manifests[hi]['config']}); "
                f"{why}"
            )
    turns = [m["varies"]["turns"]["mean"] for m in manifests if "turns" in m["varies"]]
    if len(turns) == len(manifests) and min(turns) > 0 and max(turns) / min(turns) > TURNS_RATIO_WARN:
        lo, hi = int(np.argmin(turns)), int(np.argmax(turns))
        out.append(
            f"{ladder}: mean turns per row move {max(turns) / min(turns):.2f}x across the ladder "
            f"({turns[lo]:.2f} at {manifests[lo]['config']}, {turns[hi]:.2f} at {manifests[hi]['config']}): "
            "rows of more turns carry more types, and more assistant turns are trained per row"
        )
    covered = [m.get("types_covered") for m in manifests]
    realised = [int(c) for c in covered if c is not None]
    if len(realised) == len(manifests):
        flat = [i for i in range(1, len(realised)) if realised[i] <= realised[i - 1]]
        if flat:
            a, b = manifests[flat[0] - 1], manifests[flat[0]]
            out.append(
                f"{ladder}: the realised type count stops rising ({', '.join(map(str, realised))} types present "
                f"in the rows, level by level; {b['config']} holds {realised[flat[0]]} against "
                f"{realised[flat[0] - 1]} at {a['config']}): its diversity no longer varies there, whatever k says"
            )
    excess = []
    for m in manifests:
        ratio, (_, hi) = m["varies"].get("length_ratio_vs_uniform"), m["varies"].get("uniform_ratio_range95", [0, 0])
        if ratio is not None and ratio > max(SAMPLER_RATIO_WARN, hi):
            excess.append((ratio, m, hi))
    if excess:
        ratio, worst, hi = max(excess, key=lambda e: e[0])
        out.append(
            f"{ladder}: at {worst['config']} the sampler's rows are {ratio:.2f}x as long as its pool's mean "
            f"(a uniform draw of N stays below {hi:.2f}x 95 % of the time; {worst['n_balanced']} of "
            f"{len(worst['selected_ids'])} rows came from type rounds: a type-balanced draw favours texts with "
            "many types)"
        )
    sources = sorted({s for m in manifests for s in m["varies"]["sources"]})
    for source in sources:
        shares = [m["varies"]["sources"].get(source, 0.0) for m in manifests]
        if max(shares) - min(shares) > SOURCE_SHIFT_WARN:
            lo, hi = int(np.argmin(shares)), int(np.argmax(shares))
            out.append(
                f"{ladder}: source {source!r} moves from {100 * shares[lo]:.0f} % ({manifests[lo]['config']}) "
                f"to {100 * shares[hi]:.0f} % ({manifests[hi]['config']})"
            )
    return out


def length_control_warnings(
    ladder: str, side: str, manifests: list[dict], info: dict, plain_k: list[int] | None
) -> list[str]:
    """What a length-controlled twin did not achieve: levels off the ±5 % goal, no window at all, a narrow k range."""
    out = []
    means = np.array(info["level_means"])
    centre = float(means.mean())
    for m, x in zip(manifests, means, strict=True):
        if abs(x / centre - 1) > 0.05:
            out.append(
                f"{ladder}: {m['config']} has mean {side} length {100 * (x / centre - 1):+.1f} % from the "
                f"ladder's {centre:.1f} (goal ±5 %; {info.get('windows_tried', 1)} window(s) tried)"
            )
    if info.get("whole_range"):
        out.append(
            f"{ladder}: the chosen window spans every length of the typed rows, so this twin controls no "
            f"length: the plain ladder's lengths already stay within the goal, or no narrower window helped"
        )
    if plain_k and info.get("k_range"):
        (a, b), (c, d) = info["k_range"], plain_k
        if d > c and (b - a) < 0.5 * (d - c):
            out.append(
                f"{ladder}: k spans {a}..{b}, {100 * (b - a) / (d - c):.0f} % of the plain ladder's {c}..{d}: "
                "its levels are not the plain ladder's levels (its min is more diverse than the plain min)"
            )
    return out


def random_control(random_rows: np.ndarray, corpus_rows: int, reachable: dict[str, np.ndarray]) -> dict:
    """What population ``random`` draws from, and which share of its rows no config of each ladder can contain.

    Args:
        random_rows: the random control's rows.
        corpus_rows: rows of the corpus (random draws uniformly from all of them).
        reachable: per ladder, a mask of the rows its configs can contain (its full, possibly windowed, pool).
    """
    outside: dict[str, float] = {}
    out = {"population": "the whole corpus", "corpus_rows": int(corpus_rows), "outside_ladder": outside}
    if not reachable:
        return out
    union = np.zeros(corpus_rows, dtype=bool)
    for ladder, mask in reachable.items():
        outside[ladder] = round(float((~mask[random_rows]).mean()), 4)
        union |= mask
    out["outside_every_ladder"] = round(float((~union[random_rows]).mean()), 4)
    return out
