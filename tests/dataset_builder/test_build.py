import json

import pytest

from dataset_builder.build import build_family
from dataset_builder.ladder import PoolTooSmallError
from dataset_builder.options import BuildOptions
from tests.conftest import word_knobs


def _options(seed=0, **kw):
    return BuildOptions(strategies=["micro_response", "micro_instruction", "random"], budget=30, levels=3,
                        seed=seed, **kw)


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_build_is_byte_identical_per_seed_and_differs_across_seeds(synthetic_corpus, tmp_path):
    m1 = build_family(synthetic_corpus, _options(), word_knobs(), tmp_path / "a")
    build_family(synthetic_corpus, _options(), word_knobs(), tmp_path / "b")
    build_family(synthetic_corpus, _options(seed=1), word_knobs(), tmp_path / "c")
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    build_a = json.loads(a.pop("build.json")); build_b = json.loads(b.pop("build.json"))
    c.pop("build.json")
    build_a.pop("seconds"); build_b.pop("seconds")
    assert a == b and build_a == build_b
    assert a["micro_response_max/train-00000-of-00001.parquet"] != c["micro_response_max/train-00000-of-00001.parquet"]
    configs = [m["config"] for m in m1]
    assert configs == ["micro_response_min", "micro_response_50", "micro_response_max",
                       "micro_instruction_min", "micro_instruction_50", "micro_instruction_max", "random"]


def test_configs_load_and_manifests_describe_them(synthetic_corpus, tmp_path):
    import datasets

    build_family(synthetic_corpus, _options(), word_knobs(), tmp_path / "out")
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "out/micro_response_50/*.parquet"), split="train")
    assert ds.column_names == ["id", "source", "instruction", "response", "messages"] and len(ds) == 30
    manifest = json.loads((tmp_path / "out/manifests/micro_response_50.json").read_text())
    assert manifest["selected_ids"] == list(ds["id"])
    for key in ("strategy", "side", "level", "k", "pool_size", "options", "seed", "corpus", "versions",
                "type_info", "manifest_sha256"):
        assert key in manifest, key
    assert manifest["side"] == "response" and manifest["level"] == 0.5 and manifest["options"]["tokenizer"] == "word"
    from dataset_builder.build import manifest_hash

    assert manifest_hash(manifest) == manifest["manifest_sha256"]


def test_failed_build_leaves_earlier_output(synthetic_corpus, tmp_path):
    out = tmp_path / "out"
    build_family(synthetic_corpus, _options(), word_knobs(), out)
    before = _files(out)
    with pytest.raises(PoolTooSmallError, match="budget N=100000"):
        build_family(synthetic_corpus, BuildOptions(strategies=["random", "micro_response"], budget=100_000),
                     word_knobs(), out)
    assert _files(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_build_options_validated():
    from dataset_builder.registry import resolve_strategies

    with pytest.raises(ValueError, match="unknown strategy 'macro'; valid: .*or all"):
        resolve_strategies(BuildOptions(strategies=["macro"]).strategies)
    with pytest.raises(ValueError, match="budget=0"):
        BuildOptions(budget=0)
    assert "micro_response" in resolve_strategies(BuildOptions(strategies=["all"]).strategies)
    assert BuildOptions(strategies=["micro_response,random", "macro_response"]).strategies == [
        "micro_response", "random", "macro_response"]
    with pytest.raises(ValueError, match="name at least one strategy"):
        BuildOptions(strategies=[","])


def test_cli_build(synthetic_corpus, tmp_path, capsys):
    from macro2micro.cli import main

    synthetic_corpus.to_json(str(tmp_path / "c.jsonl"))
    rc = main(["build", "--corpus", str(tmp_path / "c.jsonl"), "--strategies", "micro_response", "random",
               "--tokenizer", "word", "--low", "3", "--high", "200", "--budget", "25", "--levels", "3",
               "--out", str(tmp_path / "o")])
    assert rc == 0
    assert "wrote 4 configs" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "o/manifests").iterdir()) == [
        "micro_response_50.json", "micro_response_max.json", "micro_response_min.json", "random.json"]
