"""``macro2micro evaluate``: answers of every adapter, judged against the baseline's, and the fits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from macro2micro.cli import report
from macro2micro.cli.commands.base import Command
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.outputs import OutputFolder
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
    dataset: str = field(
        default=None, metadata={"help": "the dataset repo (folder or Hub id) the adapters were trained on (required)"}
    )
    out: str = field(default="eval", metadata={"help": "results.json, report.md and plots"})

    def __post_init__(self) -> None:
        if not self.dataset:
            raise OptionsError("dataset: required (--dataset), a dataset repo folder or Hub id")


def judge_backend(options: EvalOptions):
    """The judge: an OpenAI-compatible server, or a local constrained-choice model."""
    if options.judge_url:
        from macro2micro.dataset_builder.models.llm import OpenAIBackend

        return OpenAIBackend(options.judge_url, options.judge_model, max_tokens=1024)
    from macro2micro.training.judge import LocalChoiceBackend

    return LocalChoiceBackend(options.judge_model)


def evaluate(paths: EvalPaths, options: EvalOptions, note: str = "", push: PushResultsOptions | None = None) -> dict:
    """Generate, judge and analyse into ``paths.out``; returns the results."""
    from macro2micro.training.evaluate import evaluate as run_evaluation
    from macro2micro.training.generate import Decoding, load_prompts

    push = push or PushResultsOptions()
    if push.push_to_hub:
        from macro2micro.dataset_builder.naming import check_repo_id

        if Path(paths.dataset).exists():
            raise OptionsError(f"--push_to_hub needs --dataset as a Hub repo id, not the folder {paths.dataset}")
        check_repo_id(paths.dataset, "--dataset")
    # everything that can fail without a model fails first: the output folder, the prompt set, the judge's name
    inputs = [paths.runs] + ([paths.dataset] if Path(paths.dataset).exists() else [])
    folder = OutputFolder(paths.out, "evaluate", inputs=inputs).check()
    load_prompts(options.prompts, options.prompt_limit)
    if not options.judge_url:
        from macro2micro.dataset_builder.models.assets import check_model

        check_model(options.judge_model)
    with folder as tmp:
        results = run_evaluation(
            paths.runs,
            paths.dataset,
            tmp,
            options.prompts,
            options.baseline,
            judge_backend(options),
            Decoding(max_new_tokens=options.max_new_tokens),
            options.prompt_limit,
            note,
        )
    if push.push_to_hub:
        from macro2micro.training.hub import publish_results

        results["commit"] = publish_results(paths.out, paths.dataset, results, paths.runs)
    return results


class EvaluateCommand(Command):
    name = "evaluate"
    help = "judge every adapter against the baseline's, fit diversity vs score"
    options = (EvalPaths, EvalOptions, PushResultsOptions)

    def run(self, paths: EvalPaths, options: EvalOptions, push: PushResultsOptions) -> dict:
        return evaluate(paths, options, push=push)

    def report(self, results: dict, paths: EvalPaths, *options) -> None:
        report.scores(results, results["baseline"])
        report.say(f"report: {Path(paths.out) / 'report.md'}")
        if results.get("commit"):
            report.say(f"published to the dataset repo: {results['commit']}")
