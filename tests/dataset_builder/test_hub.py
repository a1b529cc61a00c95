import json

import pytest

from macro2micro.dataset_builder.hub.artifacts import ArtifactError, read_build
from macro2micro.dataset_builder.hub.client import publish_folder
from macro2micro.dataset_builder.metrics.scores import compute_metrics
from macro2micro.dataset_builder.options import EmbedderOptions, MetricOptions
from tests.helpers import build_repo


@pytest.fixture(scope="module")
def repo(synthetic_corpus, tmp_path_factory):
    from huggingface_hub import DatasetCard

    from macro2micro.model_cards import render_dataset_card

    folder, metrics = build_repo(
        synthetic_corpus, tmp_path_factory.mktemp("hub"), budget=30, repo_id="org/ladders", self_bleu_sample=20
    )
    info, manifests = read_build(folder.parent / "subsets")
    card = render_dataset_card(
        info,
        manifests,
        metrics,
        len(synthetic_corpus),
        "org/ladders",
        "mit",
        "test data",
        existing={"foreign_key": "kept", "license": "apache-2.0"},
    )
    assert DatasetCard(card.content).data["foreign_key"] == "kept"
    return folder, metrics


def test_every_config_loads_with_load_dataset(repo):
    import datasets

    folder, _ = repo
    names = datasets.get_dataset_config_names(str(folder))
    assert names == ["full", "micro_response_min", "micro_response_50", "micro_response_max", "random"]
    assert datasets.get_dataset_default_config_name(str(folder)) == "full"
    ds = datasets.load_dataset(str(folder), "micro_response_max", split="train")
    assert len(ds) == 30 and ds[0]["messages"][1]["role"] == "assistant"
    assert len(datasets.load_dataset(str(folder), split="train")) == 240
    manifest = json.loads((folder / "manifests/micro_response_max.json").read_text())
    assert manifest["selected_ids"] == list(ds["id"])


def test_card_metadata_round_trip(repo):
    from huggingface_hub import DatasetCard

    folder, metrics = repo
    card = DatasetCard.load(str(folder / "README.md"))
    dm = card.data["diversity_metrics"]
    assert set(dm) == {"full", "micro_response_min", "micro_response_50", "micro_response_max", "random"}
    assert dm["micro_response_50"]["response"] == metrics["micro_response_50"]["response"]
    assert dm["micro_response_max"]["k"] == metrics["micro_response_max"]["k"]
    assert card.data["license"] == "mit"
    assert "| `micro_response_max` |" in card.text and 'load_dataset("org/ladders", "micro_response_max"' in card.text
    assert json.loads((folder / "metrics/diversity.json").read_text()) == metrics


def test_metrics_refuse_a_different_corpus(repo, synthetic_corpus, tmp_path):
    from tests.conftest import make_synthetic_corpus

    folder, _ = repo
    _, manifests = read_build(folder.parent / "subsets")
    with pytest.raises(ValueError, match="was built from corpus .* not the given corpus"):
        compute_metrics(
            make_synthetic_corpus(n=50, seed=3), manifests, MetricOptions(), "word", EmbedderOptions(embedder="none")
        )


def test_read_build_names_missing_files(tmp_path):
    with pytest.raises(ArtifactError, match="no build.json"):
        read_build(tmp_path)


def test_publish_merges_remote_card_and_uploads_once(repo, monkeypatch, tmp_path):
    import shutil

    import huggingface_hub
    from huggingface_hub import DatasetCard

    folder, _ = repo
    local = tmp_path / "repo"
    shutil.copytree(folder, local)
    calls = []
    remote = DatasetCard("---\nlicense: mit\nremote_only: yes-please\n---\nold body\n")
    real_load = DatasetCard.load.__func__

    def fake_load(cls, repo_id_or_path, **kw):
        if kw.get("repo_type") == "dataset" and repo_id_or_path == "org/ladders":
            return remote
        return real_load(cls, repo_id_or_path, **kw)

    monkeypatch.setattr(DatasetCard, "load", classmethod(fake_load))
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, *a, **kw: calls.append(("create", a, kw)))
    monkeypatch.setattr(
        huggingface_hub.HfApi,
        "upload_folder",
        lambda self, **kw: calls.append(("upload", kw)) or "https://hub/commit/1",
    )
    assert publish_folder(local, "org/ladders", private=True) == "https://hub/commit/1"
    assert [c[0] for c in calls] == ["create", "upload"]
    assert calls[0][2] == {"repo_type": "dataset", "private": True, "exist_ok": True}
    assert calls[1][1]["folder_path"] == str(local) and calls[1][1]["repo_type"] == "dataset"
    merged = DatasetCard.load(str(local / "README.md"))
    assert merged.data["remote_only"] == "yes-please" and "diversity_metrics" in merged.data.to_dict()
    assert "dry run: would upload" in publish_folder(local, "org/ladders", dry_run=True)
    assert len(calls) == 2


@pytest.mark.slow  # the real embedded assets
def test_embedding_metric_with_the_embedded_model(synthetic_corpus):
    import numpy as np

    from macro2micro.dataset_builder.models.embeddings import embed_texts

    texts = ["How do I bake bread?", "What is a recipe for baking bread?", "Explain quantum entanglement."]
    emb, ident = embed_texts(texts, "embedded:all-minilm-l6-v2", use_cache=False)
    assert emb.shape == (3, 384) and ident["name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert np.allclose(np.linalg.norm(emb.astype(np.float32), axis=1), 1, atol=2e-3)
    cos = emb.astype(np.float32) @ emb.astype(np.float32).T
    assert cos[0, 1] > 0.7 > 0.3 > cos[0, 2]


def test_load_config_never_serves_a_stale_local_folder(tmp_path):
    """datasets 5.2 caches local folders by basename + config: a rebuilt or same-named folder
    would be answered with old rows. hub.load_config re-reads local folders."""
    import datasets

    from macro2micro.dataset_builder.hub.repo import load_config

    card = "---\nconfigs:\n- config_name: cfg\n  data_files:\n  - split: train\n    path: cfg/train-*\n---\n"
    for name, n in (("a", 3), ("b", 5)):
        (tmp_path / name / "repo" / "cfg").mkdir(parents=True)
        (tmp_path / name / "repo" / "README.md").write_text(card)
        datasets.Dataset.from_dict({"x": list(range(n))}).to_parquet(str(tmp_path / name / "repo/cfg/train-0.parquet"))
    assert len(load_config(tmp_path / "a" / "repo", "cfg")) == 3
    assert len(load_config(tmp_path / "b" / "repo", "cfg")) == 5
    datasets.Dataset.from_dict({"x": list(range(7))}).to_parquet(str(tmp_path / "a/repo/cfg/train-0.parquet"))
    assert len(load_config(tmp_path / "a" / "repo", "cfg")) == 7


@pytest.mark.slow  # the real MiniLM
def test_metrics_embed_only_the_configs_rows_and_a_sample_for_full(synthetic_corpus, tmp_path, caplog):
    import logging

    import numpy as np

    from macro2micro.dataset_builder.ladders.build import build_family
    from macro2micro.dataset_builder.models.embeddings import embed_texts
    from macro2micro.dataset_builder.options import BuildOptions
    from tests.conftest import word_knobs

    build_family(
        synthetic_corpus,
        BuildOptions(strategies=["micro_response", "random"], budget=20, levels=3),
        word_knobs(),
        tmp_path / "subsets",
    )
    _, manifests = read_build(tmp_path / "subsets")
    with caplog.at_level(logging.INFO):
        metrics = compute_metrics(
            synthetic_corpus, manifests, MetricOptions(self_bleu_sample=10), "word", EmbedderOptions()
        )
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("embedding ")]
    assert lines and all(" of 240 texts " in line and "plus a sample of 20 for full" in line for line in lines)
    assert metrics["full"]["embedding_distance_sample"] == 20
    rows = {rid: i for i, rid in enumerate(synthetic_corpus["id"])}
    idx = [rows[i] for i in manifests["micro_response_max"]["selected_ids"]]
    emb, _ = embed_texts(
        [synthetic_corpus["response"][i] for i in idx],
        "embedded:all-minilm-l6-v2",
        use_cache=False,
        max_seq_length=128,
    )
    from macro2micro.dataset_builder.metrics.diversity import embedding_distance

    assert metrics["micro_response_max"]["response"]["embedding_distance"] == pytest.approx(
        embedding_distance(emb.astype(np.float32)), abs=2e-3
    )


def test_cards_parse_the_same_through_libyaml_and_the_patch_is_scoped(repo):
    import yaml

    from macro2micro.dataset_builder.hub.repo import libyaml_cards, validate_folder

    folder, _ = repo
    header = (folder / "README.md").read_text().split("---\n")[1]
    original = yaml.safe_load
    with libyaml_cards():
        fast = yaml.safe_load(header)
        with libyaml_cards():  # nested (or another thread's): the outer one restores
            assert yaml.safe_load is not original
        assert yaml.safe_load is not original
    assert yaml.safe_load is original
    assert fast == yaml.safe_load(header) and fast["configs"]
    assert set(validate_folder(folder)) == {"full", "micro_response_min", "micro_response_50"} | {
        "micro_response_max",
        "random",
    }
    assert yaml.safe_load is original


@pytest.mark.parametrize("row_group", ["20KB", "100MB"])
def test_full_parquet_from_the_arrow_files_is_to_parquet_byte_for_byte(row_group, tmp_path, monkeypatch):
    """write_parquet streams a saved corpus from its Arrow files (several files of several record batches, row
    groups cut across them): the same bytes as Dataset.to_parquet, and the same rows read back."""
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    import macro2micro.dataset_builder.hub.repo as repo_mod
    from macro2micro.dataset_builder.utils import stream_batches
    from tests.conftest import make_synthetic_corpus

    ds = make_synthetic_corpus(300, seed=4, max_turns=3, system="Be brief.")
    t = ds.data.table
    ds = datasets.Dataset(pa.concat_tables([t.slice(0, 70), t.slice(70, 1), t.slice(71)]), info=ds.info)
    monkeypatch.setattr(datasets.config, "MAX_ROW_GROUP_SIZE", "20KB")  # (also small record batches on disk)
    ds.save_to_disk(str(tmp_path / "corpus"), num_shards=2)
    saved = datasets.load_from_disk(str(tmp_path / "corpus"))
    assert len(saved.cache_files) == 2 and saved.data.table.column("id").num_chunks > 2
    monkeypatch.setattr(datasets.config, "MAX_ROW_GROUP_SIZE", row_group)
    streamed = []
    monkeypatch.setattr(repo_mod, "stream_batches", lambda files: streamed.append(files) or stream_batches(files))
    for source, reads in ((saved, 1), (saved.select([5, 1, 1]), 0), (ds, 0)):  # the last two: to_parquet itself
        source.to_parquet(str(tmp_path / "want.parquet"))
        repo_mod.write_parquet(source, tmp_path / "got.parquet")
        assert (tmp_path / "got.parquet").read_bytes() == (tmp_path / "want.parquet").read_bytes()
        assert len(streamed) == reads
        streamed.clear()
    meta = pq.ParquetFile(tmp_path / "got.parquet").metadata
    assert (meta.num_row_groups > 2) == (row_group == "20KB") and b"huggingface" in meta.metadata


def test_publish_leaves_no_arrow_copies_in_the_datasets_cache(synthetic_corpus, tmp_path):
    """The load-back check writes its Arrow copies to a folder it removes: in the datasets cache they stayed,
    named after the temporary output folder (0.87 GB per publish at 1M rows)."""
    import os
    from pathlib import Path

    cache = Path(os.environ["HF_DATASETS_CACHE"])
    before = {p for p in cache.rglob("*.arrow")} if cache.exists() else set()
    folder, _ = build_repo(synthetic_corpus, tmp_path, budget=30, repo_id="org/ladders", self_bleu_sample=10)
    after = {p for p in cache.rglob("*.arrow")} if cache.exists() else set()
    assert list((folder / "full").glob("*.parquet"))
    assert after - before == set()
