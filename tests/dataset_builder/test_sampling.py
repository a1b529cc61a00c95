"""The sampler Pi: exact N, only admitted types, coverage, a uniform fill, the size bias of the even spread."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from macro2micro.dataset_builder.options import parse_quota
from macro2micro.dataset_builder.selection.ladder import PoolTooSmallError, as_binary_csr, level_k, prune
from macro2micro.dataset_builder.selection.sampling import type_sample
from tests.dataset_builder.test_ladder import matrices


@settings(max_examples=80, deadline=None)
@given(matrices(), st.integers(0, 1000), st.sampled_from([1, 2, "even"]), st.data())
def test_exactly_n_distinct_admitted_seeded_and_covering(x, seed, quota, data):
    x = as_binary_csr(x)
    ladder = prune(x, seed)
    full = int(ladder.pool_sizes[-1])
    if full == 0:
        return
    budget = data.draw(st.integers(1, full))
    k, _, _ = level_k(ladder, budget, data.draw(st.floats(0, 1)))
    pool = ladder.pool(k)
    chosen, stats = type_sample(x, pool, budget, np.random.default_rng(seed), quota)
    assert len(chosen) == budget == len(set(chosen.tolist()))
    assert set(chosen.tolist()) <= set(pool.tolist())
    assert (ladder.rank[x[chosen].indices] <= k).all()  # every selected type is admitted
    again, _ = type_sample(x, pool, budget, np.random.default_rng(seed), quota)
    assert np.array_equal(chosen, again)
    assert stats["n_balanced"] + stats["n_filled"] == budget
    if quota == 1:
        assert stats["n_balanced"] <= len(np.unique(x[pool].indices))  # at most one draw per admitted type
    if stats["n_filled"] > 0:  # the rounds ended before N: every admitted type got its quota or ran out
        assert stats["type_coverage"] == 1.0


def _long_and_short(n: int = 400, n_types: int = 10, long_types: int = 6, seed: int = 0):
    """Half the rows carry one type, half carry six: a type count that tracks length, as real texts do."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        k = long_types if i % 2 else 1
        rows.append(rng.choice(n_types, size=k, replace=False))
    x = sp.lil_matrix((n, n_types), dtype=np.int8)
    for i, types in enumerate(rows):
        x[i, types] = 1
    return as_binary_csr(x), np.array([len(r) for r in rows])


def test_quota_one_fills_uniformly_while_even_picks_long_rows():
    x, size = _long_and_short()
    pool = np.arange(x.shape[0])
    share = {}
    for quota in (1, "even"):
        shares = [np.mean(size[type_sample(x, pool, 100, np.random.default_rng(s), quota)[0]] > 1) for s in range(200)]
        share[quota] = float(np.mean(shares))
    # 10 types are covered within ~10 draws; the other ~90 rows are uniform: about half of them long.
    assert share[1] == pytest.approx(0.5, abs=0.04)
    assert share["even"] > share[1] + 0.08  # a type-balanced draw is size-biased (measured: 0.62 vs 0.51)


def test_fill_is_uniform_over_the_remaining_rows():
    # Every row carries the one type: one type-round draw, then four rows from a fill that must be uniform.
    x = as_binary_csr(sp.csr_matrix(np.ones((20, 1), dtype=np.int8)))
    counts = np.zeros(20)
    trials = 4000
    for s in range(trials):
        chosen, stats = type_sample(x, np.arange(20), 5, np.random.default_rng(s), 1)
        assert stats["n_balanced"] == 1 and stats["n_filled"] == 4
        counts[chosen] += 1
    expected = trials * 5 / 20
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 43.8  # 99.9th percentile of chi-square with 19 degrees of freedom


def test_every_rare_type_is_represented():
    # Type 0 is carried by 90 of 100 rows; types 1..9 by one row each. A uniform draw of 10 rarely holds all
    # nine rare types; the sampler must.
    rows = [[0] for _ in range(90)] + [[t] for t in range(1, 10)] + [[0, 1]]
    x = sp.lil_matrix((100, 10), dtype=np.int8)
    for i, types in enumerate(rows):
        x[i, types] = 1
    x = as_binary_csr(x)
    for quota in (1, "even"):
        chosen, stats = type_sample(x, np.arange(100), 10, np.random.default_rng(0), quota)
        assert set(x[chosen].indices.tolist()) == set(range(10)) and stats["type_coverage"] == 1.0


def test_quota_parsing_and_small_pools():
    assert parse_quota("1") == 1 and parse_quota(3) == 3 and parse_quota("Even") == "even"
    for bad in ("0", "-2", "many", 1.5):
        with pytest.raises(ValueError, match="type_quota"):
            parse_quota(bad)
    with pytest.raises(PoolTooSmallError, match="pool of 3 samples is smaller than N=5"):
        type_sample(as_binary_csr(np.eye(3)), np.arange(3), 5, np.random.default_rng(0))
