"""macro2micro: diversity-controlled SFT datasets, LoRA fine-tuning on each, and what diversity does to a model.

The public API, in the order of the pipeline (each a ``datasets`` object in, a ``datasets`` object or a
plain dict out; a folder written only when given ``out``)::

    import macro2micro as m2m

    corpus, report = m2m.load_corpus(raw_dataset)                  # any supported format -> a clean corpus
    subsets = m2m.build_ladders(corpus, strategies=["micro_response"], budget=500, length_window="auto")
    metrics = m2m.score_subsets(subsets)                            # the paper's seven metrics, per side
    m2m.publish(subsets, "repo/", repo_id="org/name")               # the Hub dataset repo, one commit
    m2m.train_adapters("repo/", "runs/", configs=["micro_response_*"], recipe="demo")
    m2m.evaluate_adapters("repo/", "eval/", runs="runs/")

Names are imported on first use (as ``trl`` does), so ``import macro2micro`` stays fast.
"""

from __future__ import annotations

from importlib import import_module, metadata
from typing import TYPE_CHECKING, Any

try:
    __version__ = metadata.version("macro2micro")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

_IMPORT_STRUCTURE = {
    "macro2micro.api.corpus": ["load_corpus", "ingest"],
    "macro2micro.api.build": ["build_ladders", "read_subsets"],
    "macro2micro.api.publish": ["score_subsets", "publish"],
    "macro2micro.api.train": ["train_adapters"],
    "macro2micro.api.evaluate": ["evaluate_adapters"],
    "macro2micro.api.demo": ["run_demo", "demo_options", "DemoOptions"],
    "macro2micro.api.extras": ["plan_tagging", "paper_check", "launch_space", "deploy_space"],
    "macro2micro.dataset_builder.ladders.subsets": ["Subsets"],
    "macro2micro.dataset_builder.ladders.registry": ["StrategyKnobs", "available_strategies", "make_strategy"],
    "macro2micro.dataset_builder.corpus.ingest": ["CorpusReport"],
    "macro2micro.dataset_builder.engine.options": ["EngineOptions"],
    "macro2micro.dataset_builder.metrics.diversity": ["side_metrics", "METRICS"],
    "macro2micro.dataset_builder.hub.artifacts": ["open_dataset_repo", "DatasetRepo"],
    "macro2micro.dataset_builder.options": [
        "CorpusOptions",
        "BuildOptions",
        "TokenizerOptions",
        "MicroOptions",
        "MacroOptions",
        "MesoOptions",
        "EmbedderOptions",
        "MetricOptions",
        "PublishOptions",
    ],
    "macro2micro.training.options": ["TrainOptions", "EvalOptions", "PushAdaptersOptions", "PushResultsOptions"],
    "macro2micro.dataset_builder.errors": [
        "Macro2MicroError",
        "OptionsError",
        "CorpusError",
        "InputError",
        "ArtifactError",
        "SelectionError",
        "ModelError",
        "AssetError",
        "OutputError",
        "HubError",
        "ServiceError",
        "MissingDependencyError",
    ],
}
_WHERE = {name: module for module, names in _IMPORT_STRUCTURE.items() for name in names}
__all__ = [
    "__version__",
    "load_corpus",
    "ingest",
    "build_ladders",
    "read_subsets",
    "score_subsets",
    "publish",
    "train_adapters",
    "evaluate_adapters",
    "run_demo",
    "demo_options",
    "DemoOptions",
    "plan_tagging",
    "paper_check",
    "launch_space",
    "deploy_space",
    "Subsets",
    "StrategyKnobs",
    "available_strategies",
    "make_strategy",
    "CorpusReport",
    "EngineOptions",
    "side_metrics",
    "METRICS",
    "open_dataset_repo",
    "DatasetRepo",
    "CorpusOptions",
    "BuildOptions",
    "TokenizerOptions",
    "MicroOptions",
    "MacroOptions",
    "MesoOptions",
    "EmbedderOptions",
    "MetricOptions",
    "PublishOptions",
    "TrainOptions",
    "EvalOptions",
    "PushAdaptersOptions",
    "PushResultsOptions",
    "Macro2MicroError",
    "OptionsError",
    "CorpusError",
    "InputError",
    "ArtifactError",
    "SelectionError",
    "ModelError",
    "AssetError",
    "OutputError",
    "HubError",
    "ServiceError",
    "MissingDependencyError",
]

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time each name is imported on first use
    from macro2micro.api.build import build_ladders, read_subsets
    from macro2micro.api.corpus import ingest, load_corpus
    from macro2micro.api.demo import DemoOptions, demo_options, run_demo
    from macro2micro.api.evaluate import evaluate_adapters
    from macro2micro.api.extras import deploy_space, launch_space, paper_check, plan_tagging
    from macro2micro.api.publish import publish, score_subsets
    from macro2micro.api.train import train_adapters
    from macro2micro.dataset_builder.corpus.ingest import CorpusReport
    from macro2micro.dataset_builder.engine.options import EngineOptions
    from macro2micro.dataset_builder.errors import (
        ArtifactError,
        AssetError,
        CorpusError,
        HubError,
        InputError,
        Macro2MicroError,
        MissingDependencyError,
        ModelError,
        OptionsError,
        OutputError,
        SelectionError,
        ServiceError,
    )
    from macro2micro.dataset_builder.hub.artifacts import DatasetRepo, open_dataset_repo
    from macro2micro.dataset_builder.ladders.registry import StrategyKnobs, available_strategies, make_strategy
    from macro2micro.dataset_builder.ladders.subsets import Subsets
    from macro2micro.dataset_builder.metrics.diversity import METRICS, side_metrics
    from macro2micro.dataset_builder.options import (
        BuildOptions,
        CorpusOptions,
        EmbedderOptions,
        MacroOptions,
        MesoOptions,
        MetricOptions,
        MicroOptions,
        PublishOptions,
        TokenizerOptions,
    )
    from macro2micro.training.options import EvalOptions, PushAdaptersOptions, PushResultsOptions, TrainOptions


def __getattr__(name: str) -> Any:
    if name == "measurements":  # the shipped evaluate modules (a sub-package, imported on first use)
        return import_module("macro2micro.measurements")
    if name in _WHERE:
        value = getattr(import_module(_WHERE[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'macro2micro' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
