"""The ladder engine shared by all six strategies: types -> nested pools -> levels -> exactly N samples.

Every strategy hands this module a binary sample x type matrix (scipy CSR, one row per corpus
row); macro, meso and micro differ only in how a text becomes types. The construction is
``D_k = union_{i<=k} Pi(C_i)`` of SPEC section 2:

1. :func:`prune` — reverse greedy pruning. Starting from all types, repeatedly drop the type of
   smallest current support (ties broken by a seeded random key) together with every sample
   that carries it. The drop order reversed is the admission order; pool ``P_k`` holds the
   samples all of whose types are among the first ``k`` admitted. Pools are nested.
2. :func:`level_k` — a diversity level ``p`` in [0, 1] maps to
   ``k = round(k_min + p (k_max - k_min))``, ``k_min`` the smallest k whose pool holds N samples.
3. :func:`balanced_sample` — type-aware sampling of exactly N distinct samples of ``P_k`` that
   spreads the selection evenly over the admitted types, then fills uniformly at random.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

_DEAD = np.iinfo(np.int64).max
# prune's heap holds at least this many of the smallest keys when it is (re)filled: fewer means
# fewer pushes per drop, more means fewer O(n_types) refills.
_NEAR = 1024


class PoolTooSmallError(ValueError):
    """Even the pool of all types holds fewer than N samples."""


@dataclass(frozen=True)
class Ladder:
    """The nested pools of one type matrix.

    Attributes:
        order: type indices in admission order (``order[0]`` is admitted first).
        rank: ``rank[t]`` is the 1-based admission position of type ``t``.
        entry_k: per sample, the smallest k whose pool holds it; 0 for samples with no type.
        pool_sizes: ``pool_sizes[k] = |P_k|`` for k = 0..n_types.
    """

    order: np.ndarray
    rank: np.ndarray
    entry_k: np.ndarray
    pool_sizes: np.ndarray

    @property
    def n_types(self) -> int:
        return len(self.order)

    def pool(self, k: int) -> np.ndarray:
        """Sorted row indices of ``P_k``."""
        return np.flatnonzero((self.entry_k >= 1) & (self.entry_k <= k))

    def k_min(self, budget: int, what: str = "") -> int:
        """Smallest k whose pool holds ``budget`` samples; raises PoolTooSmallError if none does."""
        full = int(self.pool_sizes[-1])
        if full < budget:
            raise PoolTooSmallError(
                f"{what + ': ' if what else ''}budget N={budget} is larger than the pool of all "
                f"{self.n_types} types ({full} samples carry at least one type); lower --budget "
                "or loosen the type extraction (e.g. wider token bands, smaller min_cluster_size)")
        return int(np.searchsorted(self.pool_sizes, budget, side="left"))


def as_binary_csr(matrix) -> sp.csr_matrix:
    """A sample x type matrix as canonical binary CSR (sorted indices, no duplicates, int32)."""
    m = sp.csr_matrix(matrix, copy=True)
    m.sum_duplicates()
    m.eliminate_zeros()
    m.data = np.ones_like(m.data, dtype=np.int8)
    m.sort_indices()
    return m


def _positions(indptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Positions in ``indices``/``data`` of the given CSR (or CSC) rows, concatenated, vectorized."""
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return offsets + np.arange(total)


def _gather_rows(indptr: np.ndarray, indices: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Concatenated ``indices`` of the given CSR (or CSC) rows."""
    return indices[_positions(indptr, rows)]


def _binary_csr(matrix) -> sp.csr_matrix:
    """:func:`as_binary_csr`, without its copy when ``matrix`` already is canonical binary CSR.

    :func:`prune` only reads the matrix; at a million rows the copy costs 5-10 % of its time.
    """
    if (sp.issparse(matrix) and matrix.format == "csr" and matrix.has_canonical_format
            and bool((matrix.data == 1).all())):
        return matrix
    return as_binary_csr(matrix)


def _row_table(x: sp.csr_matrix, fill: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """The types of every row as a dense ``(n, width)`` table padded with ``fill``, plus the overflow.

    One ``take`` on the table gathers the types of a set of rows, where a ragged CSR gather costs
    ten numpy calls; in the pruning loop those calls, not the data, are the cost. Padding may at
    most double the nonzeros: rows longer than that width keep their remaining types in an
    overflow CSR ``(indptr, indices)`` (``None`` when every row fits).

    Args:
        x: canonical binary CSR.
        fill: the padding value (a dummy type id).
    """
    n = x.shape[0]
    lengths = np.diff(x.indptr)
    longest = int(lengths.max()) if n else 0
    width = min(longest, max(1, -(-2 * x.nnz // n))) if n else 0
    table = np.full((n, width), fill, dtype=np.intp)
    in_row = np.arange(width) < lengths[:, None]
    if longest <= width:
        table[in_row] = x.indices  # a boolean mask fills row-major, i.e. in CSR order
        return table, None
    col = np.arange(x.nnz) - np.repeat(x.indptr[:-1], lengths)
    table[in_row] = x.indices[col < width]
    over = np.maximum(lengths - width, 0)
    return table, (np.concatenate(([0], np.cumsum(over))), x.indices[col >= width].astype(np.intp))


def prune(matrix, seed: int | np.random.SeedSequence = 0) -> Ladder:
    """Reverse greedy pruning: the admission order of types and the nested pools.

    One pass. Each sample dies once, so gathering the types of the dead costs O(nnz) in all, done
    with a few numpy calls per dropped type. The type to drop comes from a binary heap of packed
    keys ``support * n_types + tie`` with lazy deletion: an entry is current only if it still
    equals the type's key. Only types whose key lies below a threshold are kept in the heap (the
    ``max(1024, n_types // 64)`` smallest when it is (re)filled, plus every type whose key falls
    below it later); the rest cannot be the minimum, and the heap is refilled from all types only
    when it runs dry, at most ~64 times. Heap work is O((n_types + h) log n_types), h <= nnz the
    decrements that land below the threshold. Types whose support is 0 cost no row work; once no
    sample is left the remaining ones are dropped in one batch, in tie-key order, as one-by-one
    would.

    Args:
        matrix: binary sample x type matrix (anything scipy.sparse accepts).
        seed: seeds the random tie-break key.
    """
    x = _binary_csr(matrix)
    n, n_types = x.shape
    csc = x.tocsc()
    support = np.diff(csc.indptr).astype(np.int64)
    col_ptr = csc.indptr.tolist()
    col_rows = csc.indices.astype(np.intp)  # intp: numpy indexes with it several times faster than int32
    del csc  # before the row table: at a million rows each is a few hundred MB
    table, overflow = _row_table(x, n_types)
    has_overflow = [False] * n_types
    if overflow is not None:
        flag = np.zeros(n_types, dtype=bool)
        flag[_gather_rows(x.indptr, x.indices, np.flatnonzero(np.diff(overflow[0])))] = True
        has_overflow = flag.tolist()
    tie = np.random.default_rng(seed).permutation(n_types).astype(np.int64)
    type_of_tie = np.argsort(tie).tolist()
    # Slot n_types absorbs the padding of the row table; like dead types it sits near _DEAD,
    # which decrements cannot bring near live keys.
    key = np.append(support * n_types + tie, _DEAD)
    near = max(_NEAR, n_types // 64)  # each refill drops >= near types first: at most ~64 refills of O(n_types)

    alive = np.ones(n, dtype=bool)
    n_alive = int((np.diff(x.indptr) > 0).sum())
    drop_order: list[int] = []
    killed: list[np.ndarray] = []  # the rows each drop kills, for drops that kill any
    killed_at: list[int] = []  # and that drop's 1-based position
    heap: list[int] = []
    threshold = 0
    while len(drop_order) < n_types:
        if n_alive == 0:  # every remaining type has support 0: drop them all, by tie key
            rest = np.flatnonzero(key[:n_types] < n_types)
            drop_order.extend(rest[np.argsort(key[rest])].tolist())
            break
        if not heap:
            # Every live type below the old threshold is dropped: raise it to the near-th smallest key.
            live = key[:n_types]
            m = min(near, n_types - len(drop_order))
            threshold = int(np.partition(live, m - 1)[m - 1]) + 1
            heap = live[live < threshold].tolist()
            heapq.heapify(heap)
            continue
        k = heapq.heappop(heap)
        t = type_of_tie[k % n_types]
        if key[t] != k:  # stale: the type was dropped or its support fell since this entry
            continue
        drop_order.append(t)
        key[t] = _DEAD
        if k < n_types:  # support 0: no live sample carries it
            continue
        rows = col_rows[col_ptr[t]:col_ptr[t + 1]]
        rows = rows[alive[rows]]
        alive[rows] = False
        n_alive -= len(rows)
        killed.append(rows)
        killed_at.append(len(drop_order))
        hit = table.take(rows, axis=0).ravel()
        if has_overflow[t]:
            hit = np.concatenate((hit, _gather_rows(overflow[0], overflow[1], rows)))
        np.subtract.at(key, hit, n_types)
        new = key.take(hit)
        for v in new[new < threshold].tolist():  # duplicates are harmless: the second is stale
            heapq.heappush(heap, v)

    order = np.array(drop_order[::-1], dtype=np.int64)
    rank = np.empty(n_types, dtype=np.int64)
    rank[order] = np.arange(1, n_types + 1)
    # A sample dies with the first of its types to be dropped, the last of them to be admitted:
    # its entry k is that type's rank, n_types + 1 - (drop position, 1-based).
    entry_k = np.zeros(n, dtype=np.int64)
    counts = np.zeros(n_types + 1, dtype=np.int64)
    if killed:
        sizes = np.array([len(r) for r in killed], dtype=np.int64)
        ranks = n_types + 1 - np.array(killed_at, dtype=np.int64)
        entry_k[np.concatenate(killed)] = np.repeat(ranks, sizes)
        counts[ranks] = sizes
    return Ladder(order=order, rank=rank, entry_k=entry_k, pool_sizes=np.cumsum(counts))


def level_names(levels: int) -> list[str]:
    """Config suffixes of ``levels`` evenly spaced levels: min, 17, 33, 50, 67, 83, max for 7."""
    if levels < 2:
        raise ValueError(f"levels={levels}: need at least 2 (min and max)")
    names = []
    for i in range(levels):
        p = i / (levels - 1)
        names.append("min" if i == 0 else "max" if i == levels - 1 else str(math.floor(100 * p + 0.5)))
    if len(set(names)) != len(names):
        raise ValueError(f"levels={levels}: too many levels to name by whole percent")
    return names


def level_k(ladder: Ladder, budget: int, level: float, what: str = "") -> tuple[int, int, int]:
    """``(k, k_min, k_max)`` of a diversity level in [0, 1] (round half up)."""
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"level={level} must lie in [0, 1]")
    k_min, k_max = ladder.k_min(budget, what), ladder.n_types
    return math.floor(k_min + level * (k_max - k_min) + 0.5), k_min, k_max


def balanced_sample(matrix, pool: np.ndarray, budget: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Exactly ``budget`` distinct rows of ``pool`` spread evenly over the pool's types.

    Rounds: every admitted type at the current lowest coverage (below quota, with samples left)
    draws one not-yet-selected sample that carries it, the first in a seeded random order of the
    pool; a drawn sample counts for all its
    types. Types are served in a seeded random order, which decides who is cut when a round would
    overshoot N. Once every type is covered ``quota = max(1, ceil(N * mean types per sample / k))``
    times or has run out, the rest is filled uniformly at random from the pool.

    Args:
        matrix: binary CSR sample x type matrix over the whole corpus.
        pool: sorted row indices of the pool ``P_k`` (its types are the admitted ones).
        budget: N.
        rng: the seeded generator; all randomness comes from it.

    Returns:
        Sorted selected row indices and stats (quota, balanced and filled counts, coverage).
    """
    if len(pool) < budget:
        raise PoolTooSmallError(f"pool of {len(pool)} samples is smaller than N={budget}")
    sub = matrix[pool]
    n_pool, n_types = sub.shape
    # One random order of the pool's samples; the CSC of the row-permuted matrix then lists every
    # type's carriers in that random order (a counting sort, O(nnz)). A type's draw is its first
    # carrier not yet selected: a pointer per type that only moves forward.
    perm = rng.permutation(n_pool)
    csc = sub[perm].tocsc()
    carriers = perm[csc.indices]
    ptr = csc.indptr[:-1].astype(np.int64)
    available = np.diff(csc.indptr).astype(np.int64)
    admitted = np.flatnonzero(available > 0)
    k = max(len(admitted), 1)
    quota = max(1, math.ceil(budget * sub.nnz / n_pool / k))
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
    n_balanced = n_selected
    if n_selected < budget:
        rest = np.flatnonzero(~selected)
        selected[rng.choice(rest, size=budget - n_selected, replace=False)] = True
    chosen = pool[np.flatnonzero(selected)]
    final_cov = np.bincount(sub[selected].indices, minlength=n_types)[admitted]
    stats = {
        "quota": int(quota),
        "n_balanced": int(n_balanced),
        "n_filled": int(budget - n_balanced),
        "types_covered": int((final_cov > 0).sum()),
        "type_coverage": round(float((final_cov > 0).mean()), 6) if len(admitted) else 0.0,
        "min_type_count": int(final_cov.min()) if len(admitted) else 0,
    }
    return chosen, stats
