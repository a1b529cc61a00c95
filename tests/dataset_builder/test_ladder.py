import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from dataset_builder.ladder import PoolTooSmallError, as_binary_csr, level_k, level_names, prune


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
    rows = [set(x.indices[x.indptr[i]:x.indptr[i + 1]]) for i in range(n)]
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
            types = x.indices[x.indptr[s]:x.indptr[s + 1]]
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
        assert all(a < b for a, b in zip(ks, ks[1:]))


def test_pool_too_small_names_budget_pool_and_what():
    x = sp.csr_matrix(np.eye(5, dtype=np.int8))
    with pytest.raises(PoolTooSmallError, match=r"micro_response \(response side\): budget N=6 .* 5 types \(5 samples"):
        level_k(prune(x), 6, 0.5, what="micro_response (response side)")


def test_level_names_and_validation():
    assert level_names(7) == ["min", "17", "33", "50", "67", "83", "max"]
    assert level_names(3) == ["min", "50", "max"]
    with pytest.raises(ValueError, match="levels=1"):
        level_names(1)
    with pytest.raises(ValueError, match=r"level=1.5 must lie in \[0, 1\]"):
        level_k(prune(sp.csr_matrix(np.eye(3))), 1, 1.5)
