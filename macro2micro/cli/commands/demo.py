"""``macro2micro demo``: every stage on the embedded default, into one folder (:func:`macro2micro.run_demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from macro2micro.api.demo import DEMO_DEFAULTS, DemoOptions, run_demo
from macro2micro.cli import report
from macro2micro.cli.commands.base import Command
from macro2micro.cli.commands.build import BuildCommand
from macro2micro.dataset_builder.engine.options import EngineOptions
from macro2micro.dataset_builder.ladders.registry import StrategyKnobs
from macro2micro.dataset_builder.options import MetricOptions, OutputOptions
from macro2micro.training.options import EvalOptions, TrainOptions


class DemoCommand(Command):
    name = "demo"
    help = "run every stage on the embedded default (offline)"
    # build's options but its engine (the demo runs in-process) and its output folder (the demo's own)
    options = (
        DemoOptions,
        *(o for o in BuildCommand.options if o not in (EngineOptions, OutputOptions)),
        MetricOptions,
        TrainOptions,
        EvalOptions,
    )

    def make_parser(self):
        parser = super().make_parser()
        parser.set_defaults(**DEMO_DEFAULTS)
        return parser

    def run(
        self, demo, corpus, build, tokenizer, micro, macro, meso, embedder, baselines, metric, train, evaluation
    ) -> None:
        knobs = StrategyKnobs(tokenizer, micro, macro, meso, embedder, baselines)
        run_demo(demo, corpus, build, knobs, metric, train, evaluation, on_stage=lambda s, r: _show(demo, s, r))

    def report(self, result, *options) -> None:
        """Each stage was reported as it finished."""


def _show(demo: DemoOptions, stage: str, result: Any) -> None:
    out = Path(demo.out)
    if stage == "corpus":
        report.corpus_summary({k: result[k] for k in ("rows", "rows_read", "dropped", "sample")})
    elif stage == "build":
        report.manifests(list(result.manifests.values()))
    elif stage == "publish":
        example = next(c for c in result["rows"] if c.endswith("_max"))
        repo = out / "hub_dataset"
        report.say(
            f"demo: {len(result['rows'])} configs in {repo}; load one with  "
            f"datasets.load_dataset('{repo}', '{example}')"
        )
    elif stage == "train":
        report.train_results(result)
    elif stage == "evaluate":
        report.scores(result, result["baseline"])
        report.say(f"demo: report in {out / 'eval' / 'report.md'} (demo scores are not meaningful)")
        report.say(
            f"demo: open the Space with  {_console_script()} space --repo {out / 'hub_dataset'} "
            f"--results {out / 'eval' / 'results.json'} --runs {out / 'adapters'}"
        )


def _console_script() -> str:
    """``macro2micro`` where the shell finds it, else its path in this environment (``make demo`` runs the venv's
    copy without activating it, so a plain ``macro2micro`` would not be found)."""
    import shutil
    import sys

    here = Path(sys.executable).parent / "macro2micro"
    found = shutil.which("macro2micro")
    if found and Path(found).resolve() == here.resolve():
        return "macro2micro"
    return str(here) if here.exists() else "macro2micro"
