"""Pi, the type-aware sampler: exactly N distinct rows of a pool, every admitted type represented.

METHOD section 2 item 4. The paper's sampler, the default (``quota=1``): repeatedly take the
admitted type that is least covered so far and draw (seeded, uniformly among its carriers) one
not-yet-selected row carrying it; a drawn row counts for all of its types. Stop when every
admitted type is covered ``quota`` times or its rows run out, then fill up to N uniformly at
random from the rest of the pool.

``quota="even"`` spreads all N rows over the types (quota = N x mean types per row / k, served in
batched rounds). A type-balanced draw is size-biased: a text with more types is more often a
carrier, so the larger the quota, the longer the texts it picks. The even spread is kept as an
option for comparison, never as the silent default.
"""

from __future__ import annotations

import math

import numpy as np

from macro2micro.dataset_builder.options import parse_quota
from macro2micro.dataset_builder.selection.ladder import PoolTooSmallError, _gather_rows


def _carriers(sub, rng: np.random.Generator):
    """One random order of the pool's rows; each type's carriers listed in that order (a counting sort)."""
    perm = rng.permutation(sub.shape[0])
    csc = sub[perm].tocsc()
    return perm[csc.indices], csc.indptr[:-1].astype(np.int64), csc.indptr[1:].astype(np.int64)


def _stats(sub, selected: np.ndarray, admitted: np.ndarray, quota, n_rounds: int, budget: int, type_quota) -> dict:
    final_cov = np.bincount(sub[selected].indices, minlength=sub.shape[1])[admitted]
    return {
        "type_quota": type_quota,
        "quota": int(quota),
        "n_balanced": int(n_rounds),
        "n_filled": int(budget - n_rounds),
        "types_covered": int((final_cov > 0).sum()),
        "type_coverage": round(float((final_cov > 0).mean()), 6) if len(admitted) else 0.0,
        "min_type_count": int(final_cov.min()) if len(admitted) else 0,
    }


def _least_covered_rounds(sub, budget: int, quota: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Round r serves, in a seeded order, every type still covered fewer than r + 1 times, one draw each."""
    carriers, ptr, end = _carriers(sub, rng)
    admitted = np.flatnonzero(end > ptr)
    serve = admitted[np.argsort(rng.permutation(sub.shape[1])[admitted], kind="stable")]
    selected = np.zeros(sub.shape[0], dtype=bool)
    coverage = np.zeros(sub.shape[1], dtype=np.int64)
    indptr, indices = sub.indptr, sub.indices
    n = 0
    for r in range(quota):
        for t in serve[coverage[serve] <= r]:  # the types still below r + 1 when the round starts
            if n == budget:
                break
            if coverage[t] > r:  # covered meanwhile through another type's draw
                continue
            p = ptr[t]
            while p < end[t] and selected[carriers[p]]:
                p += 1
            ptr[t] = p
            if p == end[t]:
                continue  # its rows ran out
            row = carriers[p]
            selected[row] = True
            coverage[indices[indptr[row] : indptr[row + 1]]] += 1
            n += 1
    return selected, admitted


def _even_rounds(sub, budget: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """Batched rounds up to quota = max(1, ceil(N x mean types per row / k)): every type at the lowest coverage
    draws its first unselected carrier; types in a seeded order decide who is cut when a round would overshoot N."""
    n_pool, n_types = sub.shape
    carriers, ptr, end = _carriers(sub, rng)
    available = end - ptr
    admitted = np.flatnonzero(available > 0)
    quota = max(1, math.ceil(budget * sub.nnz / n_pool / max(len(admitted), 1)))
    serve_key = rng.permutation(n_types)
    selected = np.zeros(n_pool, dtype=bool)
    coverage = np.zeros(n_types, dtype=np.int64)
    n_selected = 0
    while n_selected < budget:
        need = (coverage < quota) & (available > 0)
        if not need.any():
            break
        low = coverage[need].min()
        todo = np.flatnonzero(need & (coverage == low))
        todo = todo[np.argsort(serve_key[todo], kind="stable")]
        pos = ptr[todo]
        stale = np.flatnonzero(selected[carriers[pos]])
        while len(stale):  # skip carriers already drawn through another type
            pos[stale] += 1
            stale = stale[selected[carriers[pos[stale]]]]
        ptr[todo] = pos
        picks = carriers[pos]  # one draw per type, in serve order
        _, keep = np.unique(picks, return_index=True)
        picks = picks[np.sort(keep)][: budget - n_selected]
        selected[picks] = True
        n_selected += len(picks)
        hit = np.bincount(_gather_rows(sub.indptr, sub.indices, picks), minlength=n_types)
        coverage += hit
        available -= hit
    return selected, admitted, quota


def type_sample(
    matrix, pool: np.ndarray, budget: int, rng: np.random.Generator, quota: int | str = 1
) -> tuple[np.ndarray, dict]:
    """Exactly ``budget`` distinct rows of ``pool``: type rounds up to ``quota``, then a uniform fill.

    Args:
        matrix: binary CSR sample x type matrix over the whole corpus.
        pool: sorted row indices of the pool ``P_k`` (its types are the admitted ones).
        budget: N.
        rng: the seeded generator; all randomness comes from it.
        quota: draws per admitted type before the uniform fill (default 1), or ``"even"``.

    Returns:
        Sorted selected row indices and stats (quota, rows from type rounds and from the fill, coverage).
    """
    parsed = parse_quota(quota)
    if len(pool) < budget:
        raise PoolTooSmallError(f"pool of {len(pool)} samples is smaller than N={budget}")
    sub = matrix[pool]
    if isinstance(parsed, str):  # "even", parse_quota's one word
        selected, admitted, effective = _even_rounds(sub, budget, rng)
    else:
        selected, admitted = _least_covered_rounds(sub, budget, parsed, rng)
        effective = parsed
    n_rounds = int(selected.sum())
    if n_rounds < budget:
        rest = np.flatnonzero(~selected)
        selected[rng.choice(rest, size=budget - n_rounds, replace=False)] = True
    return pool[np.flatnonzero(selected)], _stats(sub, selected, admitted, effective, n_rounds, budget, parsed)
