"""Build a family of subsets: every strategy's ladder (plus ``random``) as Hub-layout configs.

Output folder (already the layout of the Hub dataset repo that ``publish`` completes)::

    OUT/{config}/train-00000-of-00001.parquet     rows of the corpus: id, source, instruction, response, messages
    OUT/manifests/{config}.json                   how the subset was chosen, with a hash of it all
    OUT/build.json                                the build's options and the list of configs

Config names are ``{granularity}_{side}_{level}`` (``micro_response_max``) and ``random``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

from .corpus import column, corpus_fingerprint
from .defaults import PARQUET_NAME, RANDOM_CONFIG
from .ladder import level_names
from .naming import config_name
from .options import BuildOptions
from .registry import StrategyKnobs, make_strategy, resolve_strategies
from .strategies import LadderStrategy, Selection
from .utils import package_versions, stable_json

logger = logging.getLogger(__name__)


def manifest_hash(manifest: dict) -> str:
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(stable_json(body).encode()).hexdigest()


def _write_config(corpus, selection: Selection, out: Path, config: str, manifest: dict) -> dict:
    subset = corpus.select(selection.indices.tolist())
    (out / config).mkdir(parents=True)
    subset.to_parquet(str(out / config / PARQUET_NAME))
    ids = column(subset, "id")
    manifest = {**manifest, "config": config, **selection.stats, "selected_ids": ids}
    manifest["manifest_sha256"] = manifest_hash(manifest)
    (out / "manifests" / f"{config}.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False,
                                                                 sort_keys=True))
    return manifest


def write_family(corpus, options: BuildOptions, knobs: StrategyKnobs, folder: str | Path) -> list[dict]:
    """Build every configured ladder and the random control into the (empty) ``folder``.

    Returns:
        The manifests, in build order.
    """
    from tqdm.auto import tqdm

    folder = Path(folder)
    strategies = resolve_strategies(options.strategies)
    fp = corpus_fingerprint(corpus)
    names = level_names(options.levels)
    base = {"corpus": {"fingerprint": fp, "rows": len(corpus)}, "seed": options.seed,
            "budget": options.budget, "versions": package_versions()}
    manifests: list[dict] = []
    timings: dict[str, float] = {}
    (folder / "manifests").mkdir(parents=True, exist_ok=True)
    for name in strategies:
        start = time.perf_counter()
        strategy = make_strategy(name, knobs)
        meta = {**base, "options": strategy.get_options()}
        if not isinstance(strategy, LadderStrategy):
            selection = strategy.select(corpus, options.budget, options.seed)
            manifests.append(_write_config(corpus, selection, folder, RANDOM_CONFIG, meta))
        else:
            strategy.fit(corpus, options.seed)
            meta["type_info"] = strategy.type_info_
            for i, level_name in enumerate(tqdm(names, desc=name, unit="level", leave=False)):
                level = i / (options.levels - 1)
                selection = strategy.select(corpus, options.budget, options.seed, level=level)
                config = config_name(name, level_name)
                manifests.append(_write_config(corpus, selection, folder, config, {**meta, "level_name": level_name}))
                logger.info("%s: k=%d of %d types, pool %d", config, selection.stats["k"],
                            selection.stats["k_max"], selection.stats["pool_size"])
        timings[name] = round(time.perf_counter() - start, 3)
    info = {"options": {**asdict(options), "strategies": strategies}, "knobs": asdict(knobs),
            "corpus": base["corpus"], "configs": [m["config"] for m in manifests], "level_names": names,
            "seconds": timings}
    (folder / "build.json").write_text(json.dumps(info, indent=1, sort_keys=True, default=str))
    logger.info("built %d configs into %s", len(manifests), folder)
    return manifests


def build_family(corpus, options: BuildOptions, knobs: StrategyKnobs, out_dir: str | Path) -> list[dict]:
    """:func:`write_family` into ``out_dir``, written atomically: a failing build leaves an earlier one untouched."""
    from .utils import atomic_dir

    with atomic_dir(out_dir) as tmp:
        return write_family(corpus, options, knobs, tmp)
