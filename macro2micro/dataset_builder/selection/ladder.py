"""The ladder engine shared by all six strategies: types -> nested pools -> levels -> exactly N samples.

Every strategy hands this module a binary sample x type matrix (scipy CSR, one row per corpus
row); macro, meso and micro differ only in how a text becomes types. The construction is
``D_k = union_{i<=k} Pi(C_i)`` of METHOD section 2:

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

import functools
import logging
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from macro2micro.dataset_builder.errors import MissingDependencyError, OptionsError, SelectionError

logger = logging.getLogger(__name__)

# prune's heap holds at least this many of the smallest keys when it is (re)filled: fewer means
# fewer decrements that climb the heap, more means fewer O(n_types) refills.
_NEAR = 1024


class PoolTooSmallError(SelectionError):
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
                "or loosen the type extraction (e.g. wider token bands, smaller min_cluster_size)"
            )
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
    if (
        sp.issparse(matrix)
        and matrix.format == "csr"
        and matrix.has_canonical_format
        and bool((matrix.data == 1).all())
    ):
        return matrix
    return as_binary_csr(matrix)


def _transpose(indptr, indices, col_ptr, col_rows):
    """CSR -> CSC by a counting sort, O(nnz + n_types), compiled by :func:`_kernels`.

    Fills ``col_ptr`` (zeros, n_types + 1) and ``col_rows`` (nnz; its dtype also counts the supports)
    in place; each column lists its rows in increasing order, as scipy's ``tocsc`` does.
    """
    n_types = len(col_ptr) - 1
    support = np.zeros(n_types, dtype=col_rows.dtype)
    for q in range(len(indices)):
        support[indices[q]] += 1
    for t in range(n_types):
        col_ptr[t + 1] = col_ptr[t] + support[t]
    fill = col_ptr[:-1].copy()
    for i in range(len(indptr) - 1):
        for q in range(indptr[i], indptr[i + 1]):
            t = indices[q]
            col_rows[fill[t]] = i
            fill[t] += 1


def _drop_until_dry(
    indptr, indices, col_ptr, col_rows, key, heap, size, threshold, where, dead, pos, drop_order, entry_k, counts
):
    """Drop types from ``heap[:size]`` until it is empty; return the next drop position. Compiled by :func:`_kernels`.

    The type to drop is the one of smallest packed key ``key = support * n_types + tie`` (unique: the tie
    key is a permutation). ``heap`` is an indexed binary min-heap (``where[t]``: t's slot, -1 when t is
    not in it) of exactly the live types whose key is below ``threshold``, so its top is the global
    minimum. Killing a sample decrements the key of each of its other types: one subtraction and one
    comparison, unless the key falls below the threshold; only then does the type enter or climb the
    heap, O(log n_types). :func:`prune` refills the heap when it runs dry.

    Args:
        indptr, indices: the CSR matrix.
        col_ptr, col_rows: its columns (:func:`_transpose`).
        key: per type, updated; a dropped type's key becomes the int64 maximum.
        heap, size, threshold, where: the heap, as described.
        dead: bitmap of killed samples, updated (scanned against nnz times in all: at a million
            samples 1 bit each stays in cache where 1 byte does not).
        pos: drops so far.
        drop_order, entry_k, counts: the outputs (types in drop order; per sample the admission rank of
            the type that killed it; samples per rank), filled from ``pos`` on.
    """
    n_types = len(key)
    dropped = np.iinfo(np.int64).max
    one = np.uint64(1)
    killed = np.empty(len(entry_k), dtype=np.int32)  # per drop: the samples it kills
    starts = np.empty(len(entry_k), dtype=np.int64)  # and where their types lie in indices
    ends = np.empty(len(entry_k), dtype=np.int64)
    while size > 0:
        t = heap[0]  # pop: the last leaf sifts down from the root
        size -= 1
        last = heap[size]
        last_key = key[last]
        h = 0
        while True:
            c = 2 * h + 1
            if c >= size:
                break
            if c + 1 < size and key[heap[c + 1]] < key[heap[c]]:
                c += 1
            if key[heap[c]] >= last_key:
                break
            heap[h] = heap[c]
            where[heap[h]] = h
            h = c
        heap[h] = last
        where[last] = h
        where[t] = -1
        drop_order[pos] = t
        k = n_types - pos  # t's admission rank: the samples it kills enter the pools at k
        pos += 1
        t_key = key[t]
        key[t] = dropped
        if t_key < n_types:  # support 0: no live sample carries it
            continue
        # Three loops where one would do: the loads of the second are independent of each other, so
        # the CPU overlaps their cache misses (a random row of a large matrix each); ~25 % faster.
        n_killed = 0
        for p in range(col_ptr[t], col_ptr[t + 1]):
            i = col_rows[p]
            bit = one << np.uint64(i & 63)
            if not dead[i >> 6] & bit:
                dead[i >> 6] |= bit
                killed[n_killed] = i
                n_killed += 1
        counts[k] = n_killed
        for j in range(n_killed):
            i = killed[j]
            entry_k[i] = k
            starts[j] = indptr[i]
            ends[j] = indptr[i + 1]
        for j in range(n_killed):
            for q in range(starts[j], ends[j]):
                u = indices[q]  # a live sample's types are all live, but t
                if u == t:
                    continue
                u_key = key[u] - n_types
                key[u] = u_key
                if u_key >= threshold:
                    continue
                h = where[u]  # below the threshold: enter the heap or climb it
                if h < 0:
                    h = size
                    size += 1
                while h > 0:
                    parent = (h - 1) >> 1
                    v = heap[parent]
                    if key[v] <= u_key:
                        break
                    heap[h] = v
                    where[v] = h
                    h = parent
                heap[h] = u
                where[u] = h
    return pos


def _compile(numba) -> tuple:
    """``(transpose, drop_until_dry)`` as numba dispatchers (compiled on their first call), cached on disk where
    numba finds a writable place: next to this file, else in the user's cache folder."""
    kernels = (_transpose, _drop_until_dry)
    try:
        return tuple(numba.njit(cache=True, nogil=True)(fn) for fn in kernels)
    except RuntimeError as err:  # "cannot cache function ...: no locator available": read-only install and home
        logger.warning(
            "numba cannot cache prune's kernels (%s); they compile in every process (a few seconds). "
            "Set NUMBA_CACHE_DIR to a writable folder to keep them.",
            err,
        )
        return tuple(numba.njit(nogil=True)(fn) for fn in kernels)


@functools.cache
def _kernels() -> tuple:
    """:func:`_compile`, on first use: importing numba costs about half a second.

    The kernels are plain loops (no np.sort, np.partition or fancy indexing, which take numba seconds
    each to compile).
    """
    try:
        import numba
    except ImportError as err:
        raise MissingDependencyError("prune needs numba: pip install 'numba>=0.60'") from err
    return _compile(numba)


def prune(matrix, seed: int | np.random.SeedSequence = 0) -> Ladder:
    """Reverse greedy pruning: the admission order of types and the nested pools.

    Two numba kernels (:func:`_kernels`; the first call in a process imports numba and loads or
    compiles them). :func:`_transpose` builds the columns by a counting sort, O(nnz).
    :func:`_drop_until_dry` drops types in order of the packed key ``support * n_types + tie`` from
    a binary heap with decrease-key that holds only the ``near`` smallest keys and those that fall
    below them; when it runs dry, this function refills it (``np.partition``, O(n_types), at most
    64 times: each refill is followed by at least ``near >= n_types / 64`` drops). Each sample dies
    once, with the first of its types to be dropped, and decrements the key of each of its other
    types once. Work: O(nnz + n_types log n_types) plus O(log n_types) for each decrement that lands
    below the threshold, so O(nnz log n_types) at worst; on the benchmark's Zipf types fewer than
    4 % do. Types whose support is 0 are popped in tie-key order, as the argmin definition drops them.

    Args:
        matrix: binary sample x type matrix (anything scipy.sparse accepts), fewer than 2**31
            samples and types.
        seed: seeds the random tie-break key.
    """
    x = _binary_csr(matrix)
    n, n_types = x.shape
    if max(n, n_types) >= 2**31:
        raise SelectionError(f"prune: matrix shape {x.shape}; samples and types must each be fewer than 2**31")
    transpose, drop_until_dry = _kernels()
    indptr = x.indptr.astype(np.int64, copy=False)  # one dtype per argument: one compiled kernel
    indices = x.indices.astype(np.int32, copy=False)
    col_ptr = np.zeros(n_types + 1, dtype=np.int64)
    col_rows = np.empty(x.nnz, dtype=np.int32)
    transpose(indptr, indices, col_ptr, col_rows)
    tie = np.random.default_rng(seed).permutation(n_types).astype(np.int64)
    key = np.diff(col_ptr) * n_types + tie
    type_of_tie = np.empty(n_types, dtype=np.int64)
    type_of_tie[tie] = np.arange(n_types)
    heap = np.empty(n_types, dtype=np.int32)
    where = np.full(n_types, -1, dtype=np.int32)
    dead = np.zeros(n // 64 + 1, dtype=np.uint64)
    drop_order = np.empty(n_types, dtype=np.int64)
    entry_k = np.zeros(n, dtype=np.int64)
    counts = np.zeros(n_types + 1, dtype=np.int64)
    near = max(_NEAR, n_types // 64)
    pos = 0
    while pos < n_types:  # (re)fill the heap with the smallest live keys (dropped ones are the int64 maximum)
        m = min(near, n_types - pos)
        smallest = np.sort(np.partition(key, m - 1)[:m])  # sorted is a valid heap
        heap[:m] = type_of_tie[smallest % n_types]
        where[heap[:m]] = np.arange(m)
        pos = drop_until_dry(
            indptr,
            indices,
            col_ptr,
            col_rows,
            key,
            heap,
            m,
            smallest[-1] + 1,
            where,
            dead,
            pos,
            drop_order,
            entry_k,
            counts,
        )
    order = drop_order[::-1].copy()
    rank = np.empty(n_types, dtype=np.int64)
    rank[order] = np.arange(1, n_types + 1)
    return Ladder(order=order, rank=rank, entry_k=entry_k, pool_sizes=np.cumsum(counts))


def level_k(ladder: Ladder, budget: int, level: float, what: str = "") -> tuple[int, int, int]:
    """``(k, k_min, k_max)`` of a diversity level in [0, 1] (round half up)."""
    if not 0.0 <= level <= 1.0:
        raise OptionsError(f"level={level} must lie in [0, 1]")
    k_min, k_max = ladder.k_min(budget, what), ladder.n_types
    return math.floor(k_min + level * (k_max - k_min) + 0.5), k_min, k_max
