"""Build a family of subsets: every strategy's ladder (plus ``random``) as Hub-layout configs.

Output folder (already the layout of the Hub dataset repo that ``publish`` completes)::

    OUT/{config}/train-00000-of-00001.parquet     rows of the corpus: id, source, instruction, response, messages
    OUT/manifests/{config}.json                   how the subset was chosen, with a hash of it all
    OUT/build.json                                the build's options and the list of configs

Config names are ``{granularity}_{side}_{level}`` (``micro_response_max``) and ``random``.
The folder is written atomically: a failing build leaves an earlier one untouched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .ladder import level_names
from .strategies import available_strategies, fingerprint, get_strategy
from .utils import atomic_dir, package_versions, stable_json

logger = logging.getLogger(__name__)

PARQUET_NAME = "train-00000-of-00001.parquet"


@dataclass
class BuildOptions:
    """What to build.

    Args:
        strategies: registered strategy names, or ``["all"]`` for every one.
        budget: N, the rows of every subset.
        levels: diversity levels per ladder (>= 2), evenly spaced from min to max.
        seed: seeds pruning ties, sampling and the random control.
        knobs: strategy options (e.g. ``tokenizer``, ``low``, ``high``), passed to the strategies
            that take them.
    """

    strategies: list[str] = field(default_factory=lambda: ["micro_response", "random"])
    budget: int = 1000
    levels: int = 7
    seed: int = 0
    knobs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.strategies == ["all"]:
            self.strategies = available_strategies()
        valid = available_strategies()
        for name in self.strategies:
            if name not in valid:
                raise ValueError(f"unknown strategy {name!r}; valid: {', '.join(valid)}, or all")
        if len(set(self.strategies)) != len(self.strategies):
            raise ValueError(f"strategies={self.strategies} names one twice")
        if self.budget < 1:
            raise ValueError(f"budget={self.budget} must be a positive number of rows")
        level_names(self.levels)  # validates


def config_name(strategy: str, level_name: str | None) -> str:
    return strategy if level_name is None else f"{strategy}_{level_name}"


def manifest_hash(manifest: dict) -> str:
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(stable_json(body).encode()).hexdigest()


def _write_config(corpus, selection, out: Path, config: str, manifest: dict) -> dict:
    subset = corpus.select(selection.indices.tolist())
    (out / config).mkdir(parents=True)
    subset.to_parquet(str(out / config / PARQUET_NAME))
    manifest = {**manifest, "config": config, **selection.stats,
                "selected_ids": list(subset["id"])}
    manifest["manifest_sha256"] = manifest_hash(manifest)
    (out / "manifests" / f"{config}.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False,
                                                                 sort_keys=True))
    return manifest


def build_family(corpus, options: BuildOptions, out_dir: str | Path) -> list[dict]:
    """Build every configured ladder and the random control into ``out_dir`` (atomically).

    Returns:
        The manifests, in build order.
    """
    from tqdm.auto import tqdm

    fp = fingerprint(corpus)
    names = level_names(options.levels)
    base = {"corpus": {"fingerprint": fp, "rows": len(corpus)}, "seed": options.seed,
            "budget": options.budget, "versions": package_versions()}
    manifests: list[dict] = []
    timings: dict[str, float] = {}
    with atomic_dir(out_dir) as tmp:
        (tmp / "manifests").mkdir()
        for name in options.strategies:
            start = time.perf_counter()
            strategy = get_strategy(name, **options.knobs)
            meta = {**base, "options": strategy.get_options()}
            if name == "random":
                selection = strategy.select(corpus, options.budget, options.seed)
                manifests.append(_write_config(corpus, selection, tmp, "random", meta))
            else:
                strategy.fit(corpus, options.seed)
                meta["type_info"] = strategy.type_info_
                for i, level_name in enumerate(tqdm(names, desc=name, unit="level", leave=False)):
                    level = i / (options.levels - 1)
                    selection = strategy.select(corpus, options.budget, options.seed, level=level)
                    config = config_name(name, level_name)
                    manifests.append(_write_config(corpus, selection, tmp, config,
                                                   {**meta, "level_name": level_name}))
                    logger.info("%s: k=%d of %d types, pool %d", config, selection.stats["k"],
                                selection.stats["k_max"], selection.stats["pool_size"])
            timings[name] = round(time.perf_counter() - start, 3)
        info = {"options": asdict(options), "corpus": base["corpus"], "configs": [m["config"] for m in manifests],
                "level_names": names, "seconds": timings}
        (tmp / "build.json").write_text(json.dumps(info, indent=1, sort_keys=True, default=str))
    logger.info("built %d configs into %s", len(manifests), out_dir)
    return manifests
