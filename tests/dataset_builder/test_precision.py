"""Precision: float32 by default, bfloat16 (mixed, autocast) where asked, ``auto`` by the device's own support;
and embeddings encoded longest first across a side come back in row order."""

import numpy as np
import pytest

from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.utils import autocast, resolve_precision


def test_precision_resolves_by_what_the_device_computes_natively():
    import torch

    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert resolve_precision("auto", "cpu") == ("bfloat16" if native else "float32")
    assert resolve_precision("float32", "cpu") == "float32" and resolve_precision("bfloat16", "cpu") == "bfloat16"
    with pytest.raises(OptionsError, match="precision='fp8'; valid: float32, bfloat16, auto"):
        resolve_precision("fp8")
    with autocast("bfloat16", "cpu"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with autocast("float32", "cpu"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_precision_options_are_checked_and_train_precision_becomes_trls_bf16_flag():
    from macro2micro.dataset_builder.options import EmbedderOptions
    from macro2micro.training.options import EvalOptions, TrainOptions

    with pytest.raises(OptionsError, match="embed_precision='half'"):
        EmbedderOptions(embed_precision="half")
    with pytest.raises(OptionsError, match="eval_precision='half'"):
        EvalOptions(eval_precision="half")
    with pytest.raises(OptionsError, match="train_precision='half'; valid: recipe, float32"):
        TrainOptions(train_precision="half")
    assert TrainOptions(recipe_overrides=["max_steps=2"]).override_args() == ["--max_steps", "2"]  # the recipe's
    assert TrainOptions(train_precision="bfloat16").override_args() == ["--bf16", "true"]
    assert TrainOptions(train_precision="float32").override_args() == ["--bf16", "false"]
    auto = resolve_precision("auto", "cpu") == "bfloat16"
    assert TrainOptions(train_precision="auto").override_args() == ["--bf16", str(auto).lower()]


@pytest.mark.slow  # the real embedded MiniLM
def test_a_side_is_encoded_longest_first_and_returned_in_row_order():
    from macro2micro.dataset_builder.models.embeddings import embed_texts, load_embedder

    words = "the quick brown fox jumps over a lazy dog while bread bakes in the oven".split()
    texts = [" ".join(words[: 1 + (7 * i) % len(words)] * (1 + i % 4)) for i in range(40)]
    vectors, _ = embed_texts(texts, "embedded:all-minilm-l6-v2", batch_size=4, dtype="float32", use_cache=False)
    model = load_embedder("embedded:all-minilm-l6-v2", None, 256)
    alone = np.stack([model.encode([t], normalize_embeddings=True)[0] for t in texts])
    assert np.allclose(vectors, alone, atol=1e-5)


@pytest.mark.slow  # the real embedded MiniLM
def test_bfloat16_embeddings_are_close_named_and_cached_apart():
    from macro2micro.dataset_builder.models.embeddings import embed_texts, embedding_cache_file

    texts = ["How do I bake bread?", "What is a recipe for baking bread?", "Explain quantum entanglement."]
    full, ident = embed_texts(texts, "embedded:all-minilm-l6-v2", fingerprint="precision-test", dtype="float32")
    half, half_ident = embed_texts(
        texts, "embedded:all-minilm-l6-v2", fingerprint="precision-test", dtype="float32", precision="bfloat16"
    )
    assert "precision" not in ident and half_ident["precision"] == "bfloat16"
    assert {k: v for k, v in half_ident.items() if k != "precision"} == ident
    assert embedding_cache_file("precision-test", ident) != embedding_cache_file("precision-test", half_ident)
    assert np.all(np.sum(full * half, axis=1) > 0.995)  # the same directions
    assert abs(float(half[0] @ half[1]) - float(full[0] @ full[1])) < 5e-3  # and the same similarities
