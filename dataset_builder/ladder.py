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
3. Pi, the type-aware sampler of exactly N rows of ``P_k``, is :mod:`.sampling`'s; length-controlled
   ladders (pools intersected with a length window) are :mod:`.lengthctl`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

_DEAD = np.iinfo(np.int64).max


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


def prune(matrix, seed: int | np.random.SeedSequence = 0) -> Ladder:
    """Reverse greedy pruning: the admission order of types and the nested pools.

    One pass; each sample dies once, so gathering their types costs O(nnz) in all. The type to
    drop is found by an argmin over a packed (support, tie key) array, and every type whose
    support is already 0 is dropped in one batch (in tie-key order, as one-by-one would).

    Args:
        matrix: binary sample x type matrix (anything scipy.sparse accepts).
        seed: seeds the random tie-break key.
    """
    x = as_binary_csr(matrix)
    n, n_types = x.shape
    csc = x.tocsc()
    tie = np.random.default_rng(seed).permutation(n_types).astype(np.int64)
    support = np.diff(csc.indptr).astype(np.int64)
    key = support * n_types + tie
    alive = np.ones(n, dtype=bool)
    drop_order = np.empty(n_types, dtype=np.int64)
    pos = 0
    while pos < n_types:
        t = int(np.argmin(key))
        # Dead types sit near _DEAD (decrements cannot bring them near live keys).
        if key[t] < n_types:  # support 0: drop all such types at once, by tie key
            zero = np.flatnonzero(key < n_types)
            zero = zero[np.argsort(key[zero], kind="stable")]
            drop_order[pos:pos + len(zero)] = zero
            pos += len(zero)
            key[zero] = _DEAD
            continue
        drop_order[pos] = t
        pos += 1
        key[t] = _DEAD
        rows = csc.indices[csc.indptr[t]:csc.indptr[t + 1]]
        rows = rows[alive[rows]]
        alive[rows] = False
        if len(rows):
            hit = _gather_rows(x.indptr, x.indices, rows)
            np.subtract.at(key, hit, n_types)  # dead types stay far above every live key

    order = drop_order[::-1].copy()
    rank = np.empty(n_types, dtype=np.int64)
    rank[order] = np.arange(1, n_types + 1)
    entry_k = np.zeros(n, dtype=np.int64)
    nonempty = np.diff(x.indptr) > 0
    if nonempty.any():
        entry_k[nonempty] = np.maximum.reduceat(rank[x.indices], x.indptr[:-1][nonempty])
    counts = np.bincount(entry_k, minlength=n_types + 1)
    counts[0] = 0
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
