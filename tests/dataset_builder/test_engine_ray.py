"""``--engine ray`` against ``--engine local``: the same bytes, on one small local Ray cluster of 2 CPUs.

One cluster for the module (Ray's start-up dominates on small inputs); ``ray.shutdown()`` at the end.
"""

import json
import os
import shutil
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from macro2micro.dataset_builder.engine.options import EngineOptions  # noqa: E402
from macro2micro.dataset_builder.errors import CorpusError, OptionsError  # noqa: E402
from macro2micro.dataset_builder.utils import cache_dir  # noqa: E402
from tests.conftest import make_synthetic_corpus  # noqa: E402


@pytest.fixture(scope="module")
def small_static_asset():
    """A small static embedder (the most frequent 4,000 word pieces, 32 dims: seconds, not a minute) where
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
    if not (target / "config.json").exists():
        distill(src, target, dims=32, vocab_limit=4000, source_name=hub_id(source))
    return target


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


@pytest.mark.parametrize(
    "fields",
    [
        {"strategies": ["micro_response", "micro_instruction", "random"], "budget": 40, "levels": 3},
        {"strategies": ["macro_response", "random"], "budget": 30, "levels": 3, "embedder": "static",
         "min_cluster_size": 5},
    ],
    ids=["micro", "macro-static"],
)
def test_ray_engine_builds_the_same_bytes(ray_cluster, tmp_path, fields):
    on_ray = _build(tmp_path, "ray", "ray", **fields)
    made = _token_caches()
    assert len(made) == 2 and all("counts" in c.files for c in made)  # both sides, counted on Ray
    if "embedder" in fields:
        assert list(cache_dir("features", "embeddings").glob("*.npy"))
    local = _build(tmp_path, "local", "local", **fields)
    assert all("counts" not in c.files for c in _token_caches())  # the local engine made its own
    assert sorted(on_ray) == sorted(local) and any(k.startswith("manifests/") for k in local)
    for name, data in local.items():
        assert on_ray[name] == data, name


def test_engine_options_are_checked():
    with pytest.raises(OptionsError, match="engine='spark'; valid: local, ray"):
        EngineOptions("spark")
    with pytest.raises(OptionsError, match="needs --engine ray"):
        EngineOptions("local", ray_address="auto")
    with pytest.raises(OptionsError, match="ray_address='nowhere'; valid: auto, ray://HOST:PORT"):
        EngineOptions("ray", ray_address="nowhere")
    assert EngineOptions("ray", ray_address="ray://head:10001").ray
