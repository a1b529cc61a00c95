"""The baselines at the same N: k-center and DEITA's filter against brute-force oracles, InsTag's passes by hand,
longest's order, and the scorers."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from macro2micro.dataset_builder.baselines.instag import complexity_first
from macro2micro.dataset_builder.errors import SelectionError
from macro2micro.dataset_builder.ladders.registry import make_strategy
from macro2micro.dataset_builder.selection.coreset import (
    BISECTIONS,
    diversity_filter,
    farthest_first,
    filter_threshold,
)
from tests.conftest import bow_knobs

GAP = 1e-9  # a max this far above the runner-up is unique: the oracle and the kernel must agree on its row


@st.composite
def unit_rows(draw, max_n=24, max_d=5):
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, max_d))
    x = draw(arrays(np.float64, (n, d), elements=st.integers(-3, 3).map(float)))
    x[:, 0] += 0.5  # no zero row
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def kcenter_oracle(emb: np.ndarray, budget: int, first: int) -> tuple[list[int], bool]:
    """The definition, with the whole distance matrix: each pick maximizes the distance to the nearest centre.
    Also whether every pick was unique by more than GAP (then the kernel must pick the same rows)."""
    dist = 1.0 - emb @ emb.T
    centres, unique = [first], True
    for _ in range(budget - 1):
        nearest = dist[:, centres].min(axis=1)
        nearest[centres] = -np.inf
        top2 = np.sort(nearest)[-2:]
        unique &= bool(top2[-1] - top2[0] > GAP)
        centres.append(int(np.argmax(nearest)))
    return centres, unique


@settings(max_examples=150, deadline=None)
@given(data=st.data(), emb=unit_rows())
def test_kcenter_matches_the_brute_force_oracle(data, emb):
    n = len(emb)
    budget = data.draw(st.integers(1, n))
    first = data.draw(st.integers(0, n - 1))
    block = data.draw(st.sampled_from([1, 3, 8192]))  # blocks never change the answer
    order, picked_at, radius = farthest_first(emb, budget, first, block=block)
    assert order[0] == first and len(set(order.tolist())) == budget
    dist = 1.0 - emb @ emb.T
    for j in range(1, budget):  # each pick is a farthest row from the picks before it (exact ties: either)
        nearest = dist[:, order[:j]].min(axis=1)
        nearest[order[:j]] = -np.inf
        assert nearest[order[j]] >= nearest.max() - GAP
        assert picked_at[j] == pytest.approx(nearest[order[j]], abs=GAP)
    true_radius = max(dist[:, order].min(axis=1).max(), 0.0) if budget < n else 0.0
    assert radius == pytest.approx(true_radius, abs=GAP)
    centres, unique = kcenter_oracle(emb, budget, first)
    if unique:  # no tie on the way: the very rows of the definition
        assert order.tolist() == centres


def test_kcenter_spreads_over_clusters_and_checks_its_arguments():
    rng = np.random.default_rng(0)
    centres = np.eye(4)
    emb = centres[np.repeat(np.arange(4), 25)] + rng.normal(scale=0.05, size=(100, 4))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    order, _, radius = farthest_first(emb, 4, first=0)
    assert sorted(order // 25) == [0, 1, 2, 3]  # one centre per cluster
    assert radius < 0.1
    with pytest.raises(SelectionError, match="budget N=101 must lie in 1..100"):
        farthest_first(emb, 101, 0)


def filter_oracle(emb, order, budget, threshold):
    """DEITA's filter one row at a time, with the whole distance matrix."""
    dist = 1.0 - emb @ emb.T
    kept = []
    for row in order:
        if all(dist[row, k] > threshold for k in kept):
            kept.append(int(row))
            if len(kept) == budget:
                break
    return kept


@settings(max_examples=150, deadline=None)
@given(data=st.data(), emb=unit_rows())
def test_diversity_filter_matches_the_one_row_at_a_time_oracle(data, emb):
    n = len(emb)
    order = np.array(data.draw(st.permutations(range(n))), dtype=np.int64)
    budget = data.draw(st.integers(1, n))
    threshold = data.draw(st.floats(0.0, 2.0))
    block = data.draw(st.sampled_from([1, 2, 256]))
    dist = 1.0 - emb @ emb.T
    if np.any(np.abs(dist - threshold) < 1e-9):
        return  # a distance on the threshold: float order decides, not the rule
    assert diversity_filter(emb, order, budget, threshold, block=block).tolist() == filter_oracle(
        emb, order, budget, threshold
    )


@settings(max_examples=80, deadline=None)
@given(data=st.data(), emb=unit_rows())
def test_the_threshold_admits_exactly_n_and_is_the_largest_that_does(data, emb):
    n = len(emb)
    order = np.array(data.draw(st.permutations(range(n))), dtype=np.int64)
    budget = data.draw(st.integers(1, n))
    if len(diversity_filter(emb, order, budget, 0.0)) < budget:
        with pytest.raises(SelectionError, match=f"fewer than N={budget}"):
            filter_threshold(emb, order, budget)
        return
    threshold, rows = filter_threshold(emb, order, budget)
    assert len(rows) == budget == len(set(rows.tolist()))
    sub = emb[rows]
    dist = 1.0 - sub @ sub.T
    assert (dist[~np.eye(budget, dtype=bool)] > threshold).all()
    above = threshold + 2.0 / 2**BISECTIONS
    if budget > 1 and above < 2.0:  # the bisection's other end, a hair above, admits fewer than N (its invariant);
        # at 2, the largest cosine distance, opposite vectors may pass or not as float rounding has it
        assert len(diversity_filter(emb, order, budget, above)) < budget


def _csr(rows, n_tags):
    data = [(i, t) for i, tags in enumerate(rows) for t in tags]
    r, c = zip(*data, strict=True) if data else ((), ())
    return sp.csr_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(len(rows), n_tags))


def test_instag_passes_by_hand():
    a, b, c, d, e = range(5)
    tags = _csr([[a, b, c], [a, b, d], [a, b, c], [e], [a], []], 5)
    identity = np.arange(6)
    # pass 1: row 0 (3 new), row 1 (d new), row 2 brings nothing, row 3 (e new), row 4 nothing; pass 2: row 2
    assert complexity_first(tags, 4, identity)[0].tolist() == [0, 1, 3, 2]
    # then row 4 alone in pass 3 (pass 2's row 2 covered a); the untagged row 5 fills last
    rows, passes = complexity_first(tags, 6, identity)
    assert rows.tolist() == [0, 1, 3, 2, 4, 5] and passes == 4


def test_instag_breaks_count_ties_by_novelty_then_the_seeded_order():
    a, b, c, d, e, f = range(6)
    tags = _csr([[a, b, c], [a, d], [e, f], [b, f]], 6)
    # rows 1, 2 and 3 have two tags each; after row 0, row 2 brings two new ones, rows 1 and 3 one
    assert complexity_first(tags, 2, np.arange(4))[0].tolist() == [0, 2]
    assert complexity_first(tags, 3, np.array([0, 2, 3, 1]))[0].tolist() == [0, 2, 1]  # (ties: seeded order)


def test_longest_takes_the_longest_responses(synthetic_corpus):
    strategy = make_strategy("longest", bow_knobs())
    sel = strategy.select(synthetic_corpus, 30, seed=0)
    lengths = strategy.lengths_
    out = np.setdiff1d(np.arange(len(lengths)), sel.indices)
    assert lengths[sel.indices].min() >= lengths[out].max()
    assert sel.stats["shortest_taken"] == lengths[sel.indices].min()
    # only the rows at the cut depend on the seed
    other = strategy.select(synthetic_corpus, 30, seed=1)
    changed = np.setxor1d(sel.indices, other.indices)
    assert (lengths[changed] == sel.stats["shortest_taken"]).all()


def test_deita_scores_first_and_keeps_its_rows_apart(synthetic_corpus):
    strategy = make_strategy("deita", bow_knobs())
    sel = strategy.select(synthetic_corpus, 30, seed=0)
    emb, scores = strategy.embeddings_, strategy.scores_
    sub = emb[sel.indices]
    dist = 1.0 - sub @ sub.T
    assert (dist[~np.eye(30, dtype=bool)] > sel.stats["threshold"]).all()
    assert sel.stats["mean_score_taken"] > sel.stats["mean_score_corpus"]  # score-first
    assert sel.stats["scorer"]["name"] == "tags_x_length"
    assert "stand-in" in sel.stats["differs_from_original"]
    # the highest-scored row is always admitted
    assert int(np.argmax(scores)) in sel.indices.tolist() or np.sum(scores == scores.max()) > 1


def test_llm_scorer_rates_complexity_times_quality_counts_failures_and_caches():
    from macro2micro.dataset_builder.baselines.scorers import FALLBACK, LLMScorer, parse_rating

    assert parse_rating("Score: 5") == 5 and parse_rating("4.5/6") == 4.5
    assert parse_rating("9") is None and parse_rating("no idea") is None

    class Backend:
        model = "fake-judge"

        def __init__(self):
            self.prompts = []

        def generate(self, prompts):
            self.prompts += prompts
            return [("2" if "complexity" in p else "3") if "bad" not in p else "unsure" for p in prompts]

    backend = Backend()
    scorer = LLMScorer(backend)
    scores = scorer.score(["sort a list", "bad query"], ["sorted(xs)", "?"])
    assert scores.tolist() == [6.0, FALLBACK * FALLBACK]
    assert scorer.stats["failed_ratings"] == 2 and len(backend.prompts) == 4
    again = LLMScorer(backend).score(["sort a list"], ["sorted(xs)"])
    assert again.tolist() == [6.0] and len(backend.prompts) == 4  # from the cache


def test_baseline_options_are_checked():
    from macro2micro.dataset_builder.baselines.options import BaselineOptions

    with pytest.raises(ValueError, match="deita_scorer='openai' needs deita_scorer_model"):
        BaselineOptions(deita_scorer="openai")
    with pytest.raises(ValueError, match="needs deita_scorer_url"):
        BaselineOptions(deita_scorer="openai", deita_scorer_model="m")
    with pytest.raises(ValueError, match="baseline_embedding='both_sides'; valid: instruction, response, both"):
        BaselineOptions(baseline_embedding="both_sides")
