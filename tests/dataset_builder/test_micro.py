from collections import Counter

import numpy as np
import pytest

from macro2micro.dataset_builder.corpus.features import token_features, word_features
from macro2micro.dataset_builder.types.micro import Bands, band_counts, mid_band_matrix


def test_word_bands_and_matrix_agree_with_a_direct_count(synthetic_corpus):
    texts = list(synthetic_corpus["response"])
    feats = word_features(texts)
    bands = Bands(low=3, high=200)
    matrix, token_ids, stats = mid_band_matrix(feats, bands)
    counts = Counter(w for t in texts for w in t.split())
    mid = {w for w, c in counts.items() if 3 <= c <= 200}
    assert stats["mid"] == len(mid) and stats["distinct"] == len(counts)
    assert stats["low"] == sum(1 for c in counts.values() if c < 3)
    assert stats["high"] == sum(1 for c in counts.values() if c > 200)
    names = [feats.vocab[i] for i in token_ids]
    assert set(names) == mid
    for row in (0, 5, 17):
        have = {names[j] for j in matrix[row].indices}
        assert have == mid & set(texts[row].split())
    assert set(np.unique(matrix.data)) == {1}


def test_per_million_bounds_scale_with_corpus_size():
    counts = np.array([1, 5, 50, 500, 5000])
    b = Bands(low=1000, high=100_000, per_million=True)  # total 5556 tokens -> bounds 5.556 .. 555.6
    assert b.mid_mask(counts).tolist() == [False, False, True, True, False]
    assert band_counts(counts, b)["mid"] == 2


@pytest.mark.slow  # the real embedded assets
def test_model_tokenizer_counts_match_direct_tokenization(synthetic_corpus):
    """The embedded SmolLM2 tokenizer (a real BPE), counted two ways; the second call is cached."""
    from macro2micro.dataset_builder.models.tokenizers import load_tokenizer

    tok = load_tokenizer("embedded:smollm2-135m-instruct")
    texts = [t.replace("w", "word ") for t in list(synthetic_corpus["instruction"])[:60]]
    feats = token_features(texts, tok, fingerprint="test-fp", batch_size=16)
    direct = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    assert feats.ids.tolist() == [i for ids in direct for i in ids]
    assert feats.lengths().tolist() == [len(ids) for ids in direct]
    cached = token_features(texts, tok, fingerprint="test-fp")
    assert np.array_equal(cached.ids, feats.ids)
    matrix, token_ids, stats = mid_band_matrix(feats, Bands(low=2, high=40))
    counts = Counter(i for ids in direct for i in ids)
    assert sorted(token_ids.tolist()) == sorted(i for i, c in counts.items() if 2 <= c <= 40)
    assert stats["total_tokens"] == sum(counts.values())


def test_bands_validated():
    with pytest.raises(ValueError, match="low=5, high=1"):
        Bands(low=5, high=1)
