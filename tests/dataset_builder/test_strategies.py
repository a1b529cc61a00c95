"""One contract test over every registered strategy (as scikit-learn's parametrize_with_checks)."""

import numpy as np
import pytest

from macro2micro.dataset_builder.ladders.registry import available_strategies, make_strategy
from macro2micro.dataset_builder.selection.ladder import PoolTooSmallError
from macro2micro.dataset_builder.selection.strategies import LadderStrategy
from tests.conftest import bow_knobs, word_knobs

BUDGET = 40
BASELINES = ("longest", "kcenter", "deita", "instag")


def _marked(names):
    """Macro strategies embed with the real MiniLM: slow."""
    return [pytest.param(n, marks=pytest.mark.slow) if n.startswith("macro") else n for n in names]


def _knobs(name):
    """The real embedder for the macro ladders (slow); the bag-of-words stand-in for the baselines."""
    return word_knobs() if name.startswith("macro") else bow_knobs()


@pytest.mark.parametrize("name", _marked(available_strategies()))
def test_strategy_contract(name, synthetic_corpus):
    corpus = synthetic_corpus
    strategy = make_strategy(name, _knobs(name))
    assert strategy.name == name
    previous_pool = None
    for level in (0.0, 0.5, 1.0):
        sel = strategy.select(corpus, BUDGET, seed=7, level=level)
        assert len(sel.indices) == BUDGET == len(set(sel.indices.tolist()))
        assert np.all(np.diff(sel.indices) > 0) and sel.indices.max() < len(corpus)
        again = make_strategy(name, _knobs(name)).select(corpus, BUDGET, seed=7, level=level)
        assert np.array_equal(sel.indices, again.indices), "same seed must give the same rows"
        first = strategy.select(corpus, BUDGET, seed=7, level=level, replicate=0)
        assert np.array_equal(sel.indices, first.indices), "replicate 0 is the draw without replicates"
        other = make_strategy(name, _knobs(name)).select(corpus, BUDGET, seed=8, level=level)
        second = strategy.select(corpus, BUDGET, seed=7, level=level, replicate=1)
        if strategy.stochastic and sel.stats.get("pool_size", len(corpus)) > BUDGET:
            assert not np.array_equal(sel.indices, other.indices), "another seed should give other rows"
            assert not np.array_equal(sel.indices, second.indices), "another replicate should give other rows"
        if isinstance(strategy, LadderStrategy):
            assert second.stats["k"] == sel.stats["k"], "replicates share the type order and so the level's k"
            k = sel.stats["k"]
            ladder = strategy.ladder_
            pool = set(ladder.pool(k).tolist())
            assert set(sel.indices.tolist()) <= pool
            assert (ladder.rank[strategy.types_[sel.indices].indices] <= k).all()
            if previous_pool is not None:
                assert previous_pool <= pool
            previous_pool = pool
            assert sel.stats["side"] == strategy.side
        elif name in BASELINES:
            assert sel.stats["level"] is None and sel.stats["granularity"] == "baseline"
            assert sel.stats["reference"] and sel.stats["differs_from_original"] and sel.stats["summary"]


@pytest.mark.parametrize("name", ["random", *BASELINES])
def test_baselines_refuse_a_budget_above_the_corpus(name, synthetic_corpus):
    with pytest.raises(PoolTooSmallError, match=rf"{name}: budget N=100000 is larger than the corpus \(240 rows\)"):
        make_strategy(name, bow_knobs()).select(synthetic_corpus, 100_000, seed=0)


@pytest.mark.parametrize("name", _marked([n for n in available_strategies() if n != "random" and n not in BASELINES]))
def test_ladder_strategy_pool_too_small_names_strategy_and_side(name, synthetic_corpus):
    strategy = make_strategy(name, word_knobs())
    with pytest.raises(PoolTooSmallError, match=rf"{name} \(\w+ side\): budget N=100000 .* \(\d+ samples"):
        strategy.select(synthetic_corpus, 100_000, seed=0)


def test_unknown_names_and_bad_knobs_name_what_is_valid():
    from macro2micro.dataset_builder.options import MicroOptions
    from macro2micro.dataset_builder.types.micro import MicroStrategy

    with pytest.raises(ValueError, match=r"unknown strategy 'micro_everything'; valid: random, "):
        make_strategy("micro_everything")
    with pytest.raises(ValueError, match="side='prompt'; valid: instruction, response"):
        MicroStrategy(side="prompt")
    with pytest.raises(ValueError, match="low <= high"):
        MicroOptions(low=50, high=10)


def test_manifest_options_are_the_knobs_each_strategy_reads(synthetic_corpus):
    assert make_strategy("random", word_knobs()).get_options() == {}
    micro = make_strategy("micro_instruction", word_knobs())
    assert micro.get_options() == {"tokenizer": "word", "low": 3, "high": 200, "per_million": False}
    assert make_strategy("macro_response", word_knobs()).get_options()["reducer"] == "pca"
    assert make_strategy("meso_response", word_knobs()).get_options()["merge_threshold"] is None
