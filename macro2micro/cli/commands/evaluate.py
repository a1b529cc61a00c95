"""``macro2micro evaluate``: answers of every adapter, judged against the baseline's, and the fits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from macro2micro.api.evaluate import evaluate_adapters
from macro2micro.cli import report
from macro2micro.cli.commands.base import Command
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.parsing import required
from macro2micro.training.options import EvalOptions, PushResultsOptions


@dataclass
class EvalPaths:
    """The adapters, their dataset repo, and where the results go."""

    runs: str | None = field(
        default=None,
        metadata={
            "help": "folder of adapters written by `macro2micro train` (unset: the adapters the dataset repo records)"
        },
    )
    dataset: str | None = field(
        default=None, metadata={"help": "the dataset repo (folder or Hub id) the adapters were trained on (required)"}
    )
    out: str = field(default="eval", metadata={"help": "results.json, report.md and plots"})

    def __post_init__(self) -> None:
        if not self.dataset:
            raise OptionsError("dataset: required (--dataset), a dataset repo folder or Hub id")


class EvaluateCommand(Command):
    name = "evaluate"
    help = "judge every adapter against the baseline's, fit diversity vs score"
    options = (EvalPaths, EvalOptions, PushResultsOptions)

    def run(self, paths: EvalPaths, options: EvalOptions, push: PushResultsOptions) -> dict:
        return evaluate_adapters(required(paths.dataset, "dataset"), paths.out, paths.runs, options, push)

    def report(self, results: dict, paths: EvalPaths, *options) -> None:
        report.scores(results, results["baseline"])
        report.say(f"report: {Path(paths.out) / 'report.md'}")
        if results.get("commit"):
            report.say(f"published to the dataset repo: {results['commit']}")
