import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataset_builder import metrics as M


def test_distinct_n_closed_form():
    toks = [["a", "b", "a"], ["a", "b"]]
    assert M.distinct_n(toks, 1) == pytest.approx(2 / 5)
    assert M.distinct_n(toks, 2) == pytest.approx(2 / 3)  # (a,b) (b,a) (a,b)
    assert M.distinct_n([[]], 2) == 0.0


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 40), st.integers(2, 16), st.integers(0, 10_000))
def test_embedding_distance_equals_brute_force(n, d, seed):
    e = np.random.default_rng(seed).normal(size=(n, d))
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    cos = e @ e.T
    brute = 1 - (cos.sum() - n) / (n * (n - 1))
    assert M.embedding_distance(e) == pytest.approx(brute, abs=1e-9)


def test_identical_texts_and_single_token():
    texts = ["the same answer every time"] * 20
    toks = [M.words(t) for t in texts]
    assert M.self_bleu(toks) == pytest.approx(1.0)
    e = np.tile(np.array([[0.6, 0.8]]), (20, 1))
    assert M.embedding_distance(e) == pytest.approx(0.0, abs=1e-12)
    assert M.token_entropy(np.full(100, 7)) == 0.0
    assert M.token_entropy(np.array([1, 2, 3, 4])) == pytest.approx(2.0)
    assert M.distinct_n(toks, 1) == pytest.approx(5 / 100)
    assert M.compression_ratio(texts) > 10 * M.compression_ratio(["x"])


def test_self_bleu_equals_nltk():
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(30)]
    toks = [list(rng.choice(vocab, size=int(rng.integers(1, 25)))) for _ in range(25)]
    expected = np.mean([sentence_bleu(toks[:i] + toks[i + 1:], h, smoothing_function=SmoothingFunction().method1)
                        for i, h in enumerate(toks)])
    assert M.self_bleu(toks, sample_size=100) == pytest.approx(expected, abs=1e-12)


def test_side_metrics_permutation_invariant_and_complete():
    rng = np.random.default_rng(1)
    texts = [" ".join(rng.choice(["a", "b", "c", "d", "e"], size=8)) for _ in range(30)]
    ids = [np.array([ord(c) for c in t.replace(" ", "")]) for t in texts]
    emb = rng.normal(size=(30, 4))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    base = M.side_metrics(texts, ids, emb)
    assert set(base) == set(M.METRICS)
    perm = rng.permutation(30)
    shuffled = M.side_metrics([texts[i] for i in perm], [ids[i] for i in perm], emb[perm])
    for key in M.METRICS:
        if key == "compression_ratio":  # gzip sees the order; it should barely move
            assert shuffled[key] == pytest.approx(base[key], rel=0.05)
        else:
            assert shuffled[key] == pytest.approx(base[key], abs=1e-9), key


def test_bootstrap_intervals_bracket_the_estimate():
    rng = np.random.default_rng(2)
    texts = [" ".join(rng.choice(list("abcdefgh"), size=int(rng.integers(3, 12)))) for _ in range(60)]
    ids = [np.array([ord(c) for c in t.split()]) for t in texts]
    point = M.side_metrics(texts, ids, None)
    ci = M.bootstrap_ci(texts, ids, None, resamples=100)
    assert "self_bleu" not in ci and "embedding_distance" not in ci
    lo, hi = ci["mean_length"]
    assert lo <= point["mean_length"] <= hi
