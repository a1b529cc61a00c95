"""The evaluation stage: every adapter's answers, judged in both orders against one baseline, and the fits of
score against diversity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from macro2micro.api.fields import make, split_fields
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.outputs import OutputFolder
from macro2micro.training.options import EvalOptions, PushResultsOptions


def judge_backend(options: EvalOptions):
    """The judge: an OpenAI-compatible server, or a local constrained-choice model."""
    if options.judge_url:
        from macro2micro.dataset_builder.models.llm import OpenAIBackend

        return OpenAIBackend(options.judge_url, options.judge_model, max_tokens=1024)
    from macro2micro.training.judge import LocalChoiceBackend

    return LocalChoiceBackend(options.judge_model, batch_size=options.batch_size, precision=eval_precision(options))


def eval_precision(options: EvalOptions) -> str:
    """The precision the local models compute at, resolved for this machine's device."""
    import torch

    from macro2micro.dataset_builder.utils import resolve_precision

    return resolve_precision(options.eval_precision, "cuda" if torch.cuda.is_available() else "cpu")


def evaluate_adapters(
    dataset: str | Path,
    out: str | Path = "eval",
    runs: str | Path | None = None,
    options: EvalOptions | None = None,
    push: PushResultsOptions | None = None,
    note: str = "",
    **fields: Any,
) -> dict[str, Any]:
    """Generate, judge and fit into ``out`` (``results.json``, ``report.md``, plots), as ``macro2micro evaluate``.

    Args:
        dataset: the dataset repo (folder or Hub id) the adapters were trained on.
        out: the results folder (written atomically).
        runs: the folder of adapters (:func:`train_adapters`); None: the adapters the dataset repo records.
        options: :class:`~macro2micro.training.options.EvalOptions` (prompts, baseline, judge, answer length).
        push: :class:`~macro2micro.training.options.PushResultsOptions` (commit everything into the dataset repo).
        note: a paragraph for the report (e.g. what the scores do not mean).
        **fields: any field of those, e.g. ``baseline="random", prompt_limit=12``.

    Returns:
        The results: win-rates per adapter, answers, verdicts, fits (``results.json``).
    """
    from macro2micro.training.evaluate import evaluate as run_evaluation
    from macro2micro.training.generate import Decoding, load_prompts

    eval_f, push_f = split_fields(fields, EvalOptions, PushResultsOptions, where="evaluate_adapters")
    options, push = make(EvalOptions, options, eval_f), make(PushResultsOptions, push, push_f)
    dataset = str(dataset)
    if push.push_to_hub:
        from macro2micro.dataset_builder.naming import check_repo_id

        if Path(dataset).exists():
            raise OptionsError(f"--push_to_hub needs --dataset as a Hub repo id, not the folder {dataset}")
        check_repo_id(dataset, "--dataset")
    # everything that can fail without a model fails first: the output folder, the prompt set, the judge's name
    inputs = [runs] + ([dataset] if Path(dataset).exists() else [])
    folder = OutputFolder(out, "evaluate", inputs=inputs).check()
    load_prompts(options.prompts, options.prompt_limit)
    if not options.judge_url:
        from macro2micro.dataset_builder.models.assets import check_model

        check_model(options.judge_model)
    with folder as tmp:
        results = run_evaluation(
            None if runs is None else str(runs),
            dataset,
            tmp,
            options.prompts,
            options.baseline,
            judge_backend(options),
            Decoding(
                max_new_tokens=options.max_new_tokens, batch_size=options.batch_size, precision=eval_precision(options)
            ),
            options.prompt_limit,
            note,
        )
    if push.push_to_hub:
        from macro2micro.training.hub import publish_results

        results["commit"] = publish_results(out, dataset, results, None if runs is None else str(runs))
    return results
