"""Embedding-space selection at a fixed budget: k-center greedy and DEITA's diversity filter, exact and blocked.

Both work on unit-norm embeddings (rows of ``emb``) with cosine distance ``1 - <a, b>``, and both keep memory at
O(n d): nothing pairwise over the corpus is ever held, only blocks of it.

- :func:`farthest_first`: k-center greedy (Sener and Savarese, ICLR 2018): from a first centre, repeatedly take the
  row farthest from every centre taken so far. One pass over the corpus per centre, O(N n d) in all.
- :func:`diversity_filter`: DEITA's filter (Liu et al., ICLR 2024): rows in a given order (descending score), each
  admitted only when its cosine distance to every admitted row exceeds a threshold, until N are admitted.
- :func:`filter_threshold`: the largest threshold at which the filter still admits N rows (a bisection), so that a
  budget, not a guessed threshold, decides the subset.
"""

from __future__ import annotations

import numpy as np

from macro2micro.dataset_builder.errors import SelectionError

BLOCK = 8192  # corpus rows per block of a distance update: the only temporary, BLOCK floats
FILTER_BLOCK = 256  # candidates checked together against the admitted rows
BISECTIONS = 24  # the threshold is found to 2 / 2**24 (cosine distance)


def farthest_first(
    emb: np.ndarray, budget: int, first: int, block: int = BLOCK
) -> tuple[np.ndarray, np.ndarray, float]:
    """k-center greedy: ``budget`` rows, each the farthest (cosine distance) from the rows taken before it.

    Exact: every row's distance to its nearest centre is kept and lowered after each new centre, so each pick is
    the true argmax. Ties go to the lowest row index (the seeded ``first`` makes the draw random).

    Args:
        emb: ``n x d`` unit-norm embeddings (the arithmetic is done in their dtype).
        budget: N, at most n.
        first: the first centre's row.
        block: rows per block of the distance update.

    Returns:
        The rows in pick order, the distance at which each was picked (``inf`` for the first), and the covering
        radius (the k-center objective: the largest distance of any row to its nearest centre).
    """
    n = len(emb)
    if not 0 < budget <= n:
        raise SelectionError(f"k-center: budget N={budget} must lie in 1..{n} (the corpus rows)")
    if not 0 <= first < n:
        raise SelectionError(f"k-center: first centre {first} is not a row of 0..{n - 1}")
    nearest = np.full(n, np.inf, dtype=np.float64)
    order = np.empty(budget, dtype=np.int64)
    picked_at = np.empty(budget, dtype=np.float64)
    centre = first
    for j in range(budget):
        order[j], picked_at[j] = centre, nearest[centre]
        _lower(nearest, emb, emb[centre], block)
        nearest[order[: j + 1]] = -np.inf  # a centre is never picked again (its own distance is only ~0)
        centre = int(np.argmax(nearest))
    return order, picked_at, float(max(nearest[centre], 0.0)) if budget < n else 0.0


def _lower(nearest: np.ndarray, emb: np.ndarray, centre: np.ndarray, block: int) -> None:
    """``nearest = min(nearest, 1 - emb @ centre)``, a block of rows at a time."""
    for start in range(0, len(emb), block):
        part = nearest[start : start + block]
        np.minimum(part, 1.0 - emb[start : start + block] @ centre, out=part)


def diversity_filter(
    emb: np.ndarray, order: np.ndarray, budget: int, threshold: float, block: int = FILTER_BLOCK
) -> np.ndarray:
    """Rows of ``order`` admitted in turn while their cosine distance to every admitted row exceeds ``threshold``.

    Stops once ``budget`` rows are admitted. Candidates are checked a block at a time: one product against the
    rows admitted before the block, then the block's own pairs in order.

    Args:
        emb: ``n x d`` unit-norm embeddings.
        order: the rows in the order they are offered (best score first).
        budget: stop after this many admissions.
        threshold: the smallest cosine distance (exclusive) an admitted row keeps to every other.

    Returns:
        The admitted rows, in admission order (at most ``budget``).
    """
    limit = 1.0 - threshold  # distance > threshold  <=>  similarity < 1 - threshold
    admitted = np.empty((budget, emb.shape[1]), dtype=emb.dtype)
    rows: list[int] = []
    for start in range(0, len(order), block):
        cand = order[start : start + block]
        x = emb[cand]
        ok = np.ones(len(cand), dtype=bool)
        if rows:
            ok = (x @ admitted[: len(rows)].T).max(axis=1) < limit
        keep = np.flatnonzero(ok)
        if len(keep) == 0:
            continue
        inner = x[keep] @ x[keep].T
        taken: list[int] = []
        for i in range(len(keep)):
            if not taken or inner[i, taken].max() < limit:
                taken.append(i)
                admitted[len(rows)] = x[keep[i]]
                rows.append(int(cand[keep[i]]))
                if len(rows) == budget:
                    return np.asarray(rows, dtype=np.int64)
    return np.asarray(rows, dtype=np.int64)


def filter_threshold(emb: np.ndarray, order: np.ndarray, budget: int, what: str = "") -> tuple[float, np.ndarray]:
    """The largest threshold (to 2 / 2**BISECTIONS) at which :func:`diversity_filter` still admits ``budget`` rows.

    The count the filter admits falls as the threshold rises, though not strictly everywhere (a row turned away
    can let later ones in): the bisection keeps the invariant "``lo`` admits N, ``hi`` does not", so the result
    always admits exactly N.

    Returns:
        The threshold and the rows it admits (exactly ``budget``, in admission order).
    """
    rows = diversity_filter(emb, order, budget, 0.0)
    if len(rows) < budget:
        raise SelectionError(
            f"{what + ': ' if what else ''}only {len(rows)} rows have distinct embeddings, fewer than N={budget}: "
            "lower --budget"
        )
    lo, hi, best = 0.0, 2.0, rows
    if budget == 1:  # the best-scored row alone, whatever the threshold
        return hi, diversity_filter(emb, order, budget, hi)
    # (N > 1: no threshold of 2 or more can hold, cosine distances end at 2; one that seemed to admit N at 2 was
    # float rounding of two opposite vectors, so the bisection runs below it)
    for _ in range(BISECTIONS):
        mid = (lo + hi) / 2
        rows = diversity_filter(emb, order, budget, mid)
        if len(rows) == budget:
            lo, best = mid, rows
        else:
            hi = mid
    return lo, best
