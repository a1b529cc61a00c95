"""The static embedder distilled from the packaged all-MiniLM-L6-v2.

The fast tests distill only the most frequent tokens (``vocab_limit``), which takes seconds; the
full distillation into the cache is marked slow.
"""

import json

import numpy as np
import pytest

pytest.importorskip("safetensors")
pytest.importorskip("transformers")
pytestmark = pytest.mark.slow  # the real packaged MiniLM

from macro2micro.dataset_builder.errors import ModelError  # noqa: E402
from macro2micro.dataset_builder.models.distill import distill, zipf_sif_weights  # noqa: E402
from macro2micro.dataset_builder.models.static_embedder import (  # noqa: E402
    EMBEDDINGS_FILE,
    StaticEmbedder,
    static_embedder_dir,
)

# Word pieces of these sentences all have ids below 3,100, inside the first 2,500 kept tokens.
SPORT = ["The football team won the game", "Our club won the match"]
OTHER = ["The market fell today", "What is the capital city of France"]


@pytest.fixture(scope="module")
def minilm_dir():
    from macro2micro.dataset_builder.models.assets import AssetError, resolve_embedder

    try:
        return resolve_embedder("embedded:all-minilm-l6-v2")
    except AssetError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def small_static(minilm_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("static") / "small"
    distill(minilm_dir, out, dims=64, vocab_limit=2500, source_name="minilm")
    return out


def test_distillation_is_deterministic_and_writes_what_it_says(minilm_dir, tmp_path):
    a = distill(minilm_dir, tmp_path / "a", dims=16, vocab_limit=300)
    b = distill(minilm_dir, tmp_path / "b", dims=16, vocab_limit=300)
    assert sorted(p.name for p in a.iterdir()) == ["config.json", EMBEDDINGS_FILE, "tokenizer.json"]
    for name in ("config.json", EMBEDDINGS_FILE, "tokenizer.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    config = json.loads((a / "config.json").read_text())
    assert config["dims"] == 16 and config["tokens_distilled"] == 300 and config["vocab_size"] == 30522
    assert len(config["source"]["files_sha256"]) == 64
    assert {"torch", "transformers", "tokenizers", "numpy"} <= set(config["versions"])
    assert config["method"]["pca_dims"] == 16 and config["method"]["sif_coefficient"] == 1e-4
    tok = json.loads((a / "tokenizer.json").read_text())
    assert tok["post_processor"] is None and tok["padding"] is None and tok["truncation"] is None

    model = StaticEmbedder.load(a)
    assert model.embeddings.shape == (30522, 16) and model.embeddings.dtype == np.float32
    assert model.active.sum() == 300  # tokens beyond the limit (and [unused*], [CLS], [SEP], [MASK]) are zero
    vocab = model.tokenizer.get_vocab()
    for token in ("[unused0]", "[CLS]", "[SEP]", "[MASK]"):
        assert not model.active[vocab[token]]


def test_zipf_sif_weights_follow_model2vec():
    w = zipf_sif_weights(5, 1e-4)
    proba = 1 / np.arange(2, 7) / (1 / np.arange(2, 7)).sum()
    np.testing.assert_allclose(w, 1e-4 / (1e-4 + proba))
    assert np.all(np.diff(w) > 0)  # rarer tokens weigh more


def test_encode_is_normalized_batch_independent_and_semantic(small_static):
    model = StaticEmbedder.load(small_static)
    texts = SPORT + OTHER + ["", "yes"]
    full = model.encode(texts)
    assert full.shape == (6, 64) and full.dtype == np.float32
    norms = np.linalg.norm(full, axis=1)
    np.testing.assert_allclose(norms[[0, 1, 2, 3, 5]], 1, atol=1e-5)
    assert norms[4] == 0  # no token, no direction
    np.testing.assert_allclose(model.encode(texts, batch_size=1), full, atol=1e-6)
    np.testing.assert_allclose(model.encode(texts[0]), full[0], atol=1e-6)
    # Similar sentences are closer than unrelated ones.
    assert full[0] @ full[1] > max(full[0] @ full[2], full[0] @ full[3], full[1] @ full[2], full[1] @ full[3])
    raw = model.encode(texts[:2], normalize_embeddings=False)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1)
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), full[:2], atol=1e-6)


def test_max_seq_length_truncates_in_word_pieces(small_static):
    model = StaticEmbedder.load(small_static, max_seq_length=6)
    same_start = ["the football team won the game and then it rained", "the football team won the game"]
    a, b = model.encode(same_start)
    np.testing.assert_allclose(a, b, atol=1e-6)
    model.max_seq_length = None
    a, b = model.encode(same_start)
    assert not np.allclose(a, b)
    with pytest.raises(ValueError, match="max_seq_length=0"):
        model.max_seq_length = 0


def test_sentence_transformer_surface_and_embed_texts(small_static, monkeypatch):
    """``embed_texts`` runs unchanged on a StaticEmbedder: how ``--embedder static`` will be wired."""
    from macro2micro.dataset_builder.models import embeddings

    model = StaticEmbedder.load(small_static, max_seq_length=128)
    assert model.get_embedding_dimension() == model.get_sentence_embedding_dimension() == 64
    spec = str(small_static)
    monkeypatch.setitem(embeddings._MODELS, (spec, "cpu", 128, "float32"), model)
    vectors, ident = embeddings.embed_texts(SPORT, spec, device="cpu", max_seq_length=128, use_cache=False)
    assert vectors.shape == (2, 64) and vectors.dtype == np.float16
    assert ident["dimension"] == 64 and ident["max_seq_length"] == 128
    own = model.identity()
    assert own["files_sha256"] == ident["files_sha256"] and own["name"] == "static:minilm"
    assert own["method"] == "model2vec-distill-v1" and len(own["source_files_sha256"]) == 16


def test_loader_and_options_are_validated(small_static, minilm_dir, tmp_path):
    with pytest.raises(ModelError, match="missing config.json, tokenizer.json, embeddings.safetensors"):
        StaticEmbedder.load(tmp_path)
    with pytest.raises(ValueError, match="dtype='int8'; valid: float16, float32"):
        distill(minilm_dir, tmp_path / "x", dtype="int8")
    with pytest.raises(ValueError, match="dims=500 must be between 1 and"):
        distill(minilm_dir, tmp_path / "x", dims=500, vocab_limit=1000)
    with pytest.raises(ModelError, match="no tokenizer.json"):
        distill(tmp_path, tmp_path / "x")
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_full_distillation_into_the_cache(minilm_dir):
    # 1-2 minutes on 2 cores: make test runs it, make test-fast (-m "not slow") does not
    path = static_embedder_dir()
    assert static_embedder_dir() == path  # distilled once
    config = json.loads((path / "config.json").read_text())
    assert config["dims"] == 256 and config["tokens_distilled"] == 29525  # model2vec 0.10.0 keeps 29,525 too
    assert config["source"]["name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert (path / EMBEDDINGS_FILE).stat().st_size < 16_000_000
    model = StaticEmbedder.load(path)
    bread = model.encode(
        ["How do I bake bread?", "What is a recipe for baking bread?", "Explain quantum entanglement."]
    )
    assert bread[0] @ bread[1] > 0.5 > 0.25 > bread[0] @ bread[2]  # model2vec's own distillation: 0.66 and 0.12
