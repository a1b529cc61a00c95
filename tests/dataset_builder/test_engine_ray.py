"""``--engine ray`` against ``--engine local``: the same bytes, on one small local Ray cluster of 2 CPUs.

One cluster for the module (Ray's start-up dominates on small inputs); ``ray.shutdown()`` at the end.
"""

import json
import shutil
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from macro2micro.dataset_builder.errors import CorpusError  # noqa: E402
from macro2micro.dataset_builder.utils import cache_dir  # noqa: E402
from tests.conftest import make_synthetic_corpus  # noqa: E402


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory):
    """A cache folder of this module's own (its builds empty the feature and tag caches, and ``static`` is a small
    embedder here), with the converted model assets of the session's cache linked in. Set before the cluster
    starts, so that the Ray workers use it too."""
    import os

    shared = cache_dir("assets")
    own = tmp_path_factory.mktemp("ray_engine_cache")
    (own / "assets").mkdir()
    for asset in shared.iterdir():
        if not asset.name.startswith("static-"):
            (own / "assets" / asset.name).symlink_to(asset)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MACRO2MICRO_CACHE", str(own))
        yield own
    assert os.environ.get("MACRO2MICRO_CACHE") != str(own)


@pytest.fixture(scope="module")
def small_static_asset(module_cache):
    """A small static embedder (the most frequent 1,500 word pieces, 32 dims: seconds, not a minute) where
    ``--embedder static`` finds it, so the driver and the Ray workers load the same one."""
    from macro2micro.dataset_builder.models.assets import AssetError, hub_id, resolve_embedder
    from macro2micro.dataset_builder.models.distill import distill
    from macro2micro.dataset_builder.models.static_embedder import DEFAULT_DIMS, METHOD, source_files_sha256

    source = "embedded:all-minilm-l6-v2"
    try:
        src = Path(resolve_embedder(source))
    except AssetError as err:
        pytest.skip(str(err))
    digest = source_files_sha256(src)[:12]
    target = cache_dir("assets") / f"static-{hub_id(source).split('/')[-1]}-{DEFAULT_DIMS}d-{METHOD}-{digest}"
    distill(src, target, dims=32, vocab_limit=1500, source_name=hub_id(source))
    yield target
    from macro2micro.dataset_builder.models import embeddings

    for key in [k for k in embeddings._MODELS if k[0] == "static"]:  # later tests load the real one
        del embeddings._MODELS[key]


@pytest.fixture(scope="module")
def ray_cluster(small_static_asset):
    """A local cluster of 2 CPUs that every build of this module joins (the engine leaves it running)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def _build(tmp_path: Path, name: str, engine: str, **fields) -> dict[str, bytes]:
    """Build into a fresh folder with empty feature caches; the folder's files as bytes (build.json apart: it
    holds timings)."""
    import macro2micro as m2m

    shutil.rmtree(cache_dir("features"), ignore_errors=True)
    out = tmp_path / name
    m2m.build_ladders(make_synthetic_corpus(), engine=engine, out=out, **fields)
    files = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert json.loads(files.pop("build.json"))["configs"]
    return files


def _token_caches() -> list:
    import numpy as np

    return [np.load(p) for p in sorted(cache_dir("features", "tokens").glob("*.npz"))]


def test_ray_engine_builds_the_same_bytes(ray_cluster, tmp_path):
    """Micro ladders on both sides (token ids and band counts on Ray) and a macro ladder with the static embedder
    (embeddings from an actor pool): the same parquet files and manifests as the local engine."""
    fields = {
        "strategies": ["micro_response", "micro_instruction", "macro_response", "random"],
        "budget": 30,
        "levels": 3,
        "embedder": "static",
        "min_cluster_size": 5,
    }
    on_ray = _build(tmp_path, "ray", "ray", **fields)
    made = _token_caches()
    assert len(made) == 2 and all("counts" in c.files for c in made)  # both sides, counted on Ray
    assert len(list(cache_dir("features", "embeddings").glob("*.npy"))) == 1
    local = _build(tmp_path, "local", "local", **fields)
    assert all("counts" not in c.files for c in _token_caches())  # the local engine made its own
    assert sorted(on_ray) == sorted(local)
    assert {"manifests/micro_instruction_max.json", "manifests/macro_response_max.json"} <= set(local)
    for name, data in local.items():
        assert on_ray[name] == data, name


def _records() -> list:
    """ShareGPT rows (some multi-turn, with system prompts), a duplicate, a drop, a bad field and a bad line."""
    records = []
    for i in range(14):
        conv = [{"from": "human", "value": f"Question {i} about orbits?"}, {"from": "gpt", "value": f"Answer {i}."}]
        if i % 3 == 0:
            conv = [
                {"from": "system", "value": f"Be brief, {i}."},
                {"from": "human", "value": f"Question {i} about stars?"},
                {"from": "gpt", "value": f"Answer {i}: planets orbit   stars.\r\n"},
                {"from": "human", "value": f"And follow-up {i}?"},
                {"from": "gpt", "value": f"Follow-up answer {i}."},
            ]
        records.append({"id": f"c{i}", "conversations": conv})
    records[5] = {"conversations": records[4]["conversations"]}  # a duplicate
    records[7] = {"conversations": [{"from": "human", "value": "no answer"}, {"from": "gpt", "value": ""}]}
    records[10] = {"conversations": "not a list"}  # skipped: a bad field
    records.insert(9, "{not json")  # skipped: a line that cannot be read at all
    return records


def test_ray_ingest_reads_the_same_rows_and_report(ray_cluster, write_jsonl):
    """Blocks of 4 lines read and cleaned on Ray: the same rows (multi-turn, system column) and the same report."""
    import macro2micro as m2m

    path = write_jsonl(_records(), "mixed.jsonl")
    opts = {"format": "sharegpt", "multi_turn": "all", "on_error": "skip"}
    ds_local, rep_local = m2m.load_corpus(str(path), **opts)
    ds_ray, rep_ray = m2m.load_corpus(str(path), engine="ray", ray_block_rows=4, **opts)
    assert ds_ray.data.table.equals(ds_local.data.table) and ds_ray._fingerprint == ds_local._fingerprint
    assert rep_ray.to_dict() == rep_local.to_dict()
    assert rep_local.dropped["invalid"] == 2 and rep_local.dropped["duplicate"] == 1 and len(rep_local.errors) == 2
    assert ds_local[0]["system"] == "Be brief, 0." and len(ds_local[0]["messages"]) == 5


def test_an_error_in_a_ray_worker_is_the_same_one_line_message(ray_cluster, write_jsonl, tmp_path, capsys):
    """A malformed row in the third block fails the run with the local engine's message (file, line, field), and
    the console script prints it as the same one line."""
    import macro2micro as m2m
    from macro2micro.cli.main import main

    records = [{"instruction": f"Q{i}", "output": f"A{i}"} for i in range(9)]
    records[7] = {"instruction": "Q7", "output": ["not", "text"]}
    path = write_jsonl(records, "bad.jsonl")
    with pytest.raises(CorpusError) as local:
        m2m.load_corpus(str(path), format="alpaca")
    with pytest.raises(CorpusError) as on_ray:
        m2m.load_corpus(str(path), format="alpaca", engine="ray", ray_block_rows=3)
    assert str(on_ray.value) == str(local.value)
    assert str(local.value) == f"{path}, line 8, field 'output': expected a string, got list"
    assert "\n" not in str(on_ray.value) and type(on_ray.value) is CorpusError
    lines = {}
    for engine in ("local", "ray"):
        args = ["--corpus", str(path), "--format", "alpaca", "--ray_block_rows", "3", "--out", str(tmp_path / engine)]
        assert main(["ingest", *args, "--engine", engine]) == 2
        lines[engine] = capsys.readouterr().err.strip().splitlines()[-1]
    assert lines["ray"] == lines["local"] and lines["local"].startswith(f"macro2micro ingest: error: {local.value}")


def test_ray_llm_tags_fill_the_taggers_own_cache(ray_cluster, tmp_path):
    """meso_instruction with an LLM tagger (a local OpenAI-compatible stub): an actor pool asks for each text once
    and writes the tagger's cache file as the local engine writes it; the builds are the same bytes as a local
    rerun's (a first run's manifest counts calls where a rerun counts cache hits, on either engine)."""
    from tests.dataset_builder.test_tagging import _Server

    server = _Server(lambda prompt: json.dumps([{"tag": w, "explanation": ""} for w in prompt.split()[-3:]]))
    fields = {
        "strategies": ["meso_instruction"],
        "budget": 30,
        "levels": 2,
        "tagger": "openai",
        "tagger_model": "m",
        "tagger_url": server.url,
        "merge_threshold": None,
    }
    try:
        shutil.rmtree(cache_dir("tags"), ignore_errors=True)
        on_ray = _build(tmp_path, "ray", "ray", **fields)
        asked = len(server.calls)
        ray_cache = [p.read_bytes() for p in cache_dir("tags").glob("*.jsonl")]
        shutil.rmtree(cache_dir("tags"))
        _build(tmp_path, "local", "local", **fields)
        assert len(server.calls) == 2 * asked == 2 * len(set(make_synthetic_corpus()["instruction"]))
        assert [p.read_bytes() for p in cache_dir("tags").glob("*.jsonl")] == ray_cache
        rerun = _build(tmp_path, "rerun", "local", **fields)
        assert len(server.calls) == 2 * asked and rerun == on_ray
    finally:
        server.close()
