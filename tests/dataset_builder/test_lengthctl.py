"""Length-controlled twins are honest (SPEC 2.7), and the sampler's length ratio has an interval (SPEC 2.8)."""

import json

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from macro2micro.dataset_builder.metrics import variation
from macro2micro.dataset_builder.selection.ladder import as_binary_csr, prune
from macro2micro.dataset_builder.selection.lengthctl import carried_counts, twin_level_k, windowed


@st.composite
def matrix_and_mask(draw):
    rows, types = draw(st.integers(2, 40)), draw(st.integers(1, 12))
    density = draw(st.floats(0.05, 0.6))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = as_binary_csr(sp.random(rows, types, density=density, format="csr", random_state=rng))
    return x, rng.random(rows) < draw(st.floats(0.1, 1.0)), seed


@settings(max_examples=150, deadline=None)
@given(matrix_and_mask())
def test_carried_counts_are_the_types_present_in_each_windowed_pool(case):
    x, mask, seed = case
    ladder = prune(x, seed)
    carried = carried_counts(ladder, x, mask)
    wl = windowed(ladder, mask)
    for k in range(ladder.n_types + 1):
        pool = wl.pool(k)
        present = np.unique(x[pool].indices) if len(pool) else np.array([], dtype=int)
        assert carried[k] == len(present)
        assert set(present.tolist()) <= set(ladder.order[:k].tolist())  # only admitted types are present
    assert (np.diff(carried) >= 0).all() and carried[-1] <= ladder.n_types


@settings(max_examples=100, deadline=None)
@given(matrix_and_mask(), st.integers(1, 10))
def test_twin_levels_count_carried_types_and_rise(case, budget):
    x, mask, seed = case
    ladder = prune(x, seed)
    wl = windowed(ladder, mask)
    if wl.pool_sizes[-1] < budget:
        return
    carried = carried_counts(ladder, x, mask)
    picks = [twin_level_k(wl, carried, budget, p) for p in np.linspace(0, 1, 5)]
    for admitted, k, k_min, k_max in picks:
        assert k == carried[admitted] and k_min <= k <= k_max == carried[-1]
        assert len(wl.pool(admitted)) >= budget
    ks = [p[1] for p in picks]
    assert ks == sorted(ks) and ks[0] == picks[0][2] and ks[-1] == picks[0][3]


def test_a_twin_records_k_realised_and_coverage_truthfully(tmp_path):
    from macro2micro.dataset_builder.ladders.build import build_family
    from macro2micro.dataset_builder.options import BuildOptions
    from tests.conftest import make_synthetic_corpus, word_knobs

    corpus = make_synthetic_corpus(n=600)
    options = BuildOptions(strategies=["micro_response"], budget=60, levels=5, length_window="18:26")
    manifests = build_family(corpus, options, word_knobs(), tmp_path / "o")
    twins = [m for m in manifests if "lengthctl" in m["config"]]
    from macro2micro.dataset_builder.ladders.registry import make_strategy

    strategy = make_strategy("micro_response", word_knobs()).fit(corpus, 0)
    lengths = np.array([len(t.split()) for t in corpus["response"]])
    window = (lengths >= 18) & (lengths <= 26)
    row_of = {rid: i for i, rid in enumerate(corpus["id"])}
    for m in twins:
        pool = windowed(strategy.ladder_, window).pool(m["k_admitted"])
        assert m["k"] == len(np.unique(strategy.types_[pool].indices))  # types with carriers inside the window
        rows = [row_of[i] for i in m["selected_ids"]]
        assert m["types_covered"] == len(np.unique(strategy.types_[rows].indices))  # realised: present in its rows
        assert m["type_coverage"] == pytest.approx(m["types_covered"] / m["k"], abs=1e-6)
        assert m["k_max"] < strategy.ladder_.n_types  # the window leaves some types without carriers
    info = json.loads((tmp_path / "o/build.json").read_text())["length_control"]["micro_response_lengthctl"]
    assert info["realised"] == [m["types_covered"] for m in twins]
    assert info["realised_rises"] == all(b > a for a, b in zip(info["realised"], info["realised"][1:], strict=False))


def _ladder(realised, ratios=(1.0,), ranges=((0.9, 1.1),)):
    out = []
    for i, r in enumerate(realised):
        ratio, span = ratios[min(i, len(ratios) - 1)], ranges[min(i, len(ranges) - 1)]
        out.append(
            {
                "config": f"x_{i}",
                "k": 10 * (i + 1),
                "k_min": 10,
                "k_max": 10 * len(realised),
                "pool_size": 100,
                "types_covered": r,
                "n_balanced": 5,
                "selected_ids": ["a"] * 10,
                "varies": {
                    "length": {"instruction": {"mean": 5.0}, "response": {"mean": 5.0}},
                    "sources": {"s": 1.0},
                    "length_ratio_vs_uniform": ratio,
                    "uniform_ratio_range95": list(span),
                },
            }
        )
    return out


def test_the_build_warns_when_the_realised_count_stops_rising():
    warnings = variation.ladder_warnings("x", _ladder([10, 20, 20, 25]), 4)
    assert any(
        "realised type count stops rising (10, 20, 20, 25" in w and "x_2 holds 20 against 20" in w for w in warnings
    )
    assert not any("stops rising" in w for w in variation.ladder_warnings("x", _ladder([10, 20, 30, 40]), 4))


def test_the_sampler_warning_compares_against_the_uniform_range():
    inside = variation.ladder_warnings("x", _ladder([1, 2], ratios=(1.3,), ranges=((0.7, 1.35),)), 2)
    assert not any("as long as its pool's mean" in w for w in inside)  # within what chance gives a uniform draw
    outside = variation.ladder_warnings("x", _ladder([1, 2], ratios=(1.4,), ranges=((0.7, 1.35),)), 2)
    assert any("1.40x as long as its pool's mean (a uniform draw of N stays below 1.35x" in w for w in outside)


def test_the_uniform_range_holds_95_percent_of_uniform_draws():
    rng = np.random.default_rng(0)
    lengths = rng.lognormal(3, 1, size=2000).round()
    pool = np.arange(2000)[rng.random(2000) < 0.5]
    n = 200
    ratio, (lo, hi) = variation.sampler_ratio(lengths, pool[:n], pool)
    assert ratio == pytest.approx(lengths[pool[:n]].mean() / lengths[pool].mean())
    draws = [lengths[rng.choice(pool, n, replace=False)].mean() / lengths[pool].mean() for _ in range(4000)]
    inside = np.mean([(lo <= d <= hi) for d in draws])
    assert 0.93 <= inside <= 0.97, inside
    assert variation.sampler_ratio(lengths, pool, pool) == (pytest.approx(1.0), [1.0, 1.0])  # the whole pool
