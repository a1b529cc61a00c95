"""One contract test over every registered strategy (as scikit-learn's parametrize_with_checks)."""

import numpy as np
import pytest

from macro2micro.dataset_builder.ladders.registry import available_strategies, make_strategy
from macro2micro.dataset_builder.selection.ladder import PoolTooSmallError
from macro2micro.dataset_builder.selection.strategies import LadderStrategy
from tests.conftest import word_knobs

BUDGET = 40


def _marked(names):
    """Macro strategies embed with the real MiniLM: slow."""
    return [pytest.param(n, marks=pytest.mark.slow) if n.startswith("macro") else n for n in names]


@pytest.mark.parametrize("name", _marked(available_strategies()))
def test_strategy_contract(name, synthetic_corpus):
    corpus = synthetic_corpus
    strategy = make_strategy(name, word_knobs())
    assert strategy.name == name
    previous_pool = None
    for level in (0.0, 0.5, 1.0):
        sel = strategy.select(corpus, BUDGET, seed=7, level=level)
        assert len(sel.indices) == BUDGET == len(set(sel.indices.tolist()))
        assert np.all(np.diff(sel.indices) > 0) and sel.indices.max() < len(corpus)
        again = make_strategy(name, word_knobs()).select(corpus, BUDGET, seed=7, level=level)
        assert np.array_equal(sel.indices, again.indices), "same seed must give the same rows"
        other = make_strategy(name, word_knobs()).select(corpus, BUDGET, seed=8, level=level)
        if sel.stats.get("pool_size", len(corpus)) > BUDGET:
            assert not np.array_equal(sel.indices, other.indices), "another seed should give other rows"
        if isinstance(strategy, LadderStrategy):
            k = sel.stats["k"]
            ladder = strategy.ladder_
            pool = set(ladder.pool(k).tolist())
            assert set(sel.indices.tolist()) <= pool
            assert (ladder.rank[strategy.types_[sel.indices].indices] <= k).all()
            if previous_pool is not None:
                assert previous_pool <= pool
            previous_pool = pool
            assert sel.stats["side"] == strategy.side


@pytest.mark.parametrize("name", _marked([n for n in available_strategies() if n != "random"]))
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
