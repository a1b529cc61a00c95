"""One contract test over every registered strategy (as scikit-learn's parametrize_with_checks)."""

import numpy as np
import pytest

from dataset_builder.ladder import PoolTooSmallError
from dataset_builder.strategies import LadderStrategy, available_strategies, get_strategy
from tests.conftest import WORD_KNOBS

BUDGET = 40


@pytest.mark.parametrize("name", available_strategies())
def test_strategy_contract(name, synthetic_corpus):
    corpus = synthetic_corpus
    strategy = get_strategy(name, **WORD_KNOBS)
    assert strategy.name == name
    previous_pool = None
    for level in (0.0, 0.5, 1.0):
        sel = strategy.select(corpus, BUDGET, seed=7, level=level)
        assert len(sel.indices) == BUDGET == len(set(sel.indices.tolist()))
        assert np.all(np.diff(sel.indices) > 0) and sel.indices.max() < len(corpus)
        again = get_strategy(name, **WORD_KNOBS).select(corpus, BUDGET, seed=7, level=level)
        assert np.array_equal(sel.indices, again.indices), "same seed must give the same rows"
        other = get_strategy(name, **WORD_KNOBS).select(corpus, BUDGET, seed=8, level=level)
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


@pytest.mark.parametrize("name", [n for n in available_strategies() if n != "random"])
def test_ladder_strategy_pool_too_small_names_strategy_and_side(name, synthetic_corpus):
    strategy = get_strategy(name, **WORD_KNOBS)
    with pytest.raises(PoolTooSmallError, match=rf"{name} \(\w+ side\): budget N=100000 .* \(\d+ samples"):
        strategy.select(synthetic_corpus, 100_000, seed=0)


def test_unknown_names_and_knobs_list_valid_ones():
    with pytest.raises(ValueError, match=r"unknown strategy 'micro_everything'; valid: random, "):
        get_strategy("micro_everything")
    with pytest.raises(ValueError, match=r"unknown strategy option\(s\) \['tokeniser'\]; valid: \["):
        get_strategy("micro_response", tokeniser="word")
    with pytest.raises(ValueError, match="side='prompt'; valid: instruction, response"):
        from dataset_builder.strategies import MicroStrategy

        MicroStrategy(side="prompt")
    with pytest.raises(ValueError, match="low <= high"):
        get_strategy("micro_response", low=50, high=10)


def test_random_ignores_ladder_knobs_and_manifest_options(synthetic_corpus):
    strategy = get_strategy("random", **WORD_KNOBS)
    assert strategy.get_options() == {}
    micro = get_strategy("micro_instruction", **WORD_KNOBS)
    assert micro.get_options() == {"tokenizer": "word", "low": 3, "high": 200, "per_million": False}
    assert get_strategy("macro_response", **WORD_KNOBS).get_options()["reducer"] == "pca"
    assert get_strategy("meso_response", **WORD_KNOBS).get_options()["merge_threshold"] is None
