import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from macro2micro.dataset_builder.naming import level_names
from macro2micro.dataset_builder.selection import ladder as ladder_module
from macro2micro.dataset_builder.selection.ladder import (
    Ladder,
    PoolTooSmallError,
    _gather_rows,
    as_binary_csr,
    level_k,
    prune,
)


@st.composite
def matrices(draw):
    n = draw(st.integers(1, 60))
    t = draw(st.integers(1, 25))
    density = draw(st.floats(0.02, 0.6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dense = rng.random((n, t)) < density
    return sp.csr_matrix(dense.astype(np.int8))


def reference_drop_order(x, seed):
    """Plain-Python reverse greedy pruning: the definition, one type at a time."""
    x = as_binary_csr(x)
    n, t = x.shape
    tie = np.random.default_rng(seed).permutation(t)
    rows = [set(x.indices[x.indptr[i] : x.indptr[i + 1]]) for i in range(n)]
    alive_samples, alive_types, order = set(range(n)), set(range(t)), []
    while alive_types:
        support = {u: sum(1 for s in alive_samples if u in rows[s]) for u in alive_types}
        drop = min(alive_types, key=lambda u: (support[u], tie[u]))
        order.append(drop)
        alive_types.remove(drop)
        alive_samples = {s for s in alive_samples if drop not in rows[s]}
    return order


@settings(max_examples=60, deadline=None)
@given(matrices(), st.integers(0, 1000))
def test_prune_matches_the_plain_definition(x, seed):
    ladder = prune(x, seed)
    assert ladder.order[::-1].tolist() == reference_drop_order(x, seed)


def prune_argmin(matrix, seed=0) -> Ladder:
    """The argmin implementation that the heap replaced (commit 59fc8cc), kept as the reference.

    O(n_types) per dropped type; bench/ladder.py times it against :func:`prune`.
    """
    x = as_binary_csr(matrix)
    n, n_types = x.shape
    csc = x.tocsc()
    tie = np.random.default_rng(seed).permutation(n_types).astype(np.int64)
    support = np.diff(csc.indptr).astype(np.int64)
    key = support * n_types + tie
    alive = np.ones(n, dtype=bool)
    drop_order = np.empty(n_types, dtype=np.int64)
    dead = np.iinfo(np.int64).max
    pos = 0
    while pos < n_types:
        t = int(np.argmin(key))
        if key[t] < n_types:  # support 0: drop all such types at once, by tie key
            zero = np.flatnonzero(key < n_types)
            zero = zero[np.argsort(key[zero], kind="stable")]
            drop_order[pos : pos + len(zero)] = zero
            pos += len(zero)
            key[zero] = dead
            continue
        drop_order[pos] = t
        pos += 1
        key[t] = dead
        rows = csc.indices[csc.indptr[t] : csc.indptr[t + 1]]
        rows = rows[alive[rows]]
        alive[rows] = False
        if len(rows):
            np.subtract.at(key, _gather_rows(x.indptr, x.indices, rows), n_types)
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


def assert_same_ladder(a: Ladder, b: Ladder):
    for field in ("order", "rank", "entry_k", "pool_sizes"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field


@st.composite
def tied_matrices(draw):
    """Larger matrices full of ties and zero supports: empty and duplicated columns, empty rows,
    a few rows far longer than the rest (prune's row table then overflows)."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(1, 400))
    t = draw(st.integers(1, 150))
    density = draw(st.floats(0.005, 0.3))
    dense = rng.random((n, t)) < density
    dense[:, rng.random(t) < draw(st.floats(0, 0.5))] = False  # zero-support types
    dup = rng.random(t) < draw(st.floats(0, 0.5))  # copies of column 0: same support throughout
    dense[:, dup] = dense[:, [0]]
    dense[rng.random(n) < 0.1] = False  # rows without a type
    long_rows = rng.random(n) < 0.05
    dense[long_rows] |= rng.random((int(long_rows.sum()), t)) < 0.8
    return sp.csr_matrix(dense.astype(np.int8))


@settings(max_examples=300, deadline=None)
@given(tied_matrices(), st.integers(0, 2**63 - 1), st.sampled_from([1, 2, 7, 1024]))
def test_prune_matches_the_argmin_implementation(x, seed, near):
    # A small heap threshold makes prune refill its heap and admit types that fall below it often.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ladder_module, "_NEAR", near)
        assert_same_ladder(prune(x, seed), prune_argmin(x, seed))


@pytest.mark.parametrize("near", [5, 1024])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_prune_matches_the_argmin_implementation_on_zipf_types(seed, near, monkeypatch):
    # The benchmark's shape, small: Zipf-distributed types, ~20 draws per row, plus empty columns
    # and one row that carries a third of all types.
    monkeypatch.setattr(ladder_module, "_NEAR", near)
    rng = np.random.default_rng(seed)
    n, t = 3000, 1500
    p = 1.0 / np.arange(1, t + 1)
    cols = rng.choice(t, size=n * 20, p=p / p.sum())
    x = sp.lil_matrix(
        sp.csr_matrix((np.ones(len(cols), dtype=np.int8), (np.repeat(np.arange(n), 20), cols)), shape=(n, t + 300))
    )
    x[7, rng.choice(t, t // 3, replace=False)] = 1
    assert_same_ladder(prune(x, seed), prune_argmin(x, seed))
    assert_same_ladder(prune(as_binary_csr(x), seed), prune_argmin(x, seed))  # the no-copy path


@settings(max_examples=60, deadline=None)
@given(tied_matrices(), st.integers(0, 2**32 - 1), st.sampled_from(["coo", "dense", "int64", "messy"]))
def test_prune_accepts_any_sparse_form(x, seed, form):
    # Whatever form the matrix comes in, the kernels see canonical int32 CSR and give the same ladder.
    if form == "coo":
        y = x.tocoo()
    elif form == "dense":
        y = x.toarray()
    elif form == "int64":
        y = as_binary_csr(x)
        y.indices, y.indptr = y.indices.astype(np.int64), y.indptr.astype(np.int64)  # the constructor would downcast
    else:  # every entry twice (values 3 and 2), explicit zeros where x has none, indices descending
        coo = x.tocoo()
        zero_rows, zero_cols = np.nonzero(x.toarray() == 0)
        rows = np.concatenate((coo.row, coo.row, zero_rows[:7]))
        cols = np.concatenate((coo.col, coo.col, zero_cols[:7]))
        vals = np.concatenate((np.full(coo.nnz, 3), np.full(coo.nnz, 2), np.zeros(len(zero_rows[:7]), dtype=int)))
        order = np.lexsort((-cols, rows))
        indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=x.shape[0]))))
        y = sp.csr_matrix((vals[order], cols[order], indptr), shape=x.shape)
    assert_same_ladder(prune(y, seed), prune_argmin(x, seed))


@pytest.mark.parametrize("shape", [(0, 0), (0, 4), (4, 0), (1, 1), (3, 5)])
def test_prune_on_degenerate_shapes(shape):
    x = sp.csr_matrix(shape, dtype=np.int8)
    assert_same_ladder(prune(x, 3), prune_argmin(x, 3))
    if shape == (3, 5):
        x = sp.csr_matrix(np.ones(shape, dtype=np.int8))
        assert_same_ladder(prune(x, 3), prune_argmin(x, 3))


def test_prune_refuses_more_than_int32_types():
    with pytest.raises(ValueError, match=r"shape \(1, 2147483648\); samples and types must each be fewer"):
        prune(sp.csr_matrix((1, 2**31), dtype=np.int8))


def test_kernels_compile_without_a_cache_where_numba_has_no_place_for_it(caplog):
    # A read-only install with an unwritable home: numba.njit(cache=True) raises RuntimeError
    # ("no locator available"); prune must still work, compiling in every process.
    calls = []

    class FakeNumba:
        @staticmethod
        def njit(**options):
            calls.append(options.get("cache", False))
            if options.get("cache"):
                raise RuntimeError("cannot cache function '_transpose': no locator available for file")
            return lambda fn: fn

    assert ladder_module._compile(FakeNumba) == (ladder_module._transpose, ladder_module._drop_until_dry)
    assert calls == [True, False, False]
    assert "NUMBA_CACHE_DIR" in caplog.text


@settings(max_examples=80, deadline=None)
@given(matrices(), st.integers(0, 1000))
def test_pools_are_nested_and_defined_by_admitted_types(x, seed):
    x = as_binary_csr(x)
    ladder = prune(x, seed)
    previous = set()
    for k in range(ladder.n_types + 1):
        pool = set(ladder.pool(k).tolist())
        assert previous <= pool
        assert len(pool) == ladder.pool_sizes[k]
        for s in range(x.shape[0]):
            types = x.indices[x.indptr[s] : x.indptr[s + 1]]
            expected = len(types) > 0 and bool((ladder.rank[types] <= k).all())
            assert (s in pool) == expected
        previous = pool


@settings(max_examples=40, deadline=None)
@given(matrices(), st.integers(0, 1000))
def test_k_non_decreasing_with_level_and_strict_where_room(x, seed):
    ladder = prune(x, seed)
    if ladder.pool_sizes[-1] == 0:
        return
    budget = max(1, int(ladder.pool_sizes[-1]) // 2)
    ks = [level_k(ladder, budget, i / 6)[0] for i in range(7)]
    assert ks == sorted(ks)
    if ladder.n_types - ladder.k_min(budget) >= 6:
        assert all(a < b for a, b in zip(ks, ks[1:], strict=False))


def test_pool_too_small_names_budget_pool_and_what():
    x = sp.csr_matrix(np.eye(5, dtype=np.int8))
    match = r"micro_response \(response side\): budget N=6 .* 5 types \(5 samples"
    with pytest.raises(PoolTooSmallError, match=match):
        level_k(prune(x), 6, 0.5, what="micro_response (response side)")


def test_level_names_and_validation():
    assert level_names(7) == ["min", "17", "33", "50", "67", "83", "max"]
    assert level_names(3) == ["min", "50", "max"]
    with pytest.raises(ValueError, match="levels=1"):
        level_names(1)
    with pytest.raises(ValueError, match=r"level=1.5 must lie in \[0, 1\]"):
        level_k(prune(sp.csr_matrix(np.eye(3))), 1, 1.5)
