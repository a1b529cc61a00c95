"""Score every adapter of a family against one baseline, and fit diversity against score.

    macro2micro evaluate --runs runs/ --dataset demo_out/hub_dataset --out eval/            # small local judge
    macro2micro evaluate --dataset org/repo --prompts alpaca_eval.json --baseline gpt4_reference.json \\
        --judge_url http://judge:8000/v1 --judge_model nvidia/Llama-3.1-Nemotron-70B-Instruct-HF --push_to_hub

Adapters come from a local runs folder, or (without ``--runs``) from the dataset repo's record of
its pushed adapters. The baseline is one adapter config (``random``, the default), ``base`` (the base
model), or a file of reference answers (AlpacaEval-style ``[{"instruction", "output", "generator"}]``),
so scores can sit on the paper's scale: a win-rate against one fixed reference.

Writes ``OUT/results.json`` (scores with intervals, answers and verdicts per prompt: what the Space
reads), the analysis (``analysis.json``, ``report.md``, two PNG plots), and the scores into each
adapter's model card.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from macro2micro.dataset_builder.errors import ArtifactError, InputError, OptionsError
from macro2micro.dataset_builder.hub import run_schemas
from macro2micro.dataset_builder.hub.artifacts import (
    DatasetRepo,
    adapter_base_model,
    open_dataset_repo,
    read_train_results,
)
from macro2micro.dataset_builder.hub.checks import write_json
from macro2micro.dataset_builder.naming import check_name
from macro2micro.model_cards.model_card import rerender_model_card
from macro2micro.training.analysis import analyze, write_report
from macro2micro.training.generate import Decoding, generate_together, load_prompts, load_references
from macro2micro.training.judge import Judge, LocalChoiceBackend, win_rate

logger = logging.getLogger(__name__)
BASE = "base"
REFERENCE = "reference"


@dataclass
class Adapter:
    """A finished adapter: its local folder, and its Hub repo and revision when it was pushed."""

    path: Path
    repo_id: str | None = None
    revision: str | None = None

    @property
    def base_model(self) -> str:
        return adapter_base_model(self.path)


def finished_runs(runs: str | Path) -> dict[str, Adapter]:
    """``{config: Adapter}`` of every finished adapter under a local ``runs`` folder."""
    out = {}
    for p in sorted(Path(runs).glob("*/train_results.json")):
        if p.parent.name.startswith("."):
            continue
        hub = read_train_results(p).get("hub") or {}
        out[check_name(p.parent.name, f"{runs}: adapter folder")] = Adapter(
            p.parent, hub.get("repo_id"), hub.get("revision")
        )
    if not out:
        raise ArtifactError(f"{runs}: no finished adapters (folders with train_results.json); run `macro2micro train`")
    return out


def hub_adapters(repo: DatasetRepo) -> dict[str, Adapter]:
    """The adapters recorded in a dataset repo, downloaded at their recorded revisions."""
    from macro2micro.dataset_builder.hub.client import download_repo

    records = repo.adapters()
    if not records:
        raise ArtifactError(
            f"{repo.repo}: the dataset repo records no adapters (adapters/*.json): train with "
            "`macro2micro train --dataset REPO_ID --push_to_hub`, or pass --runs"
        )
    return {
        config: Adapter(download_repo(r["repo_id"], "model", r.get("revision"))[0], r["repo_id"], r.get("revision"))
        for config, r in records.items()
    }


def _baseline(baseline: str, adapters: dict[str, Adapter], rows: list[dict]) -> tuple[str, list[str] | None, dict]:
    """``(name, reference answers or None, description)`` of the baseline (None: its answers are generated)."""
    if Path(baseline).is_file():
        refs, generator = load_references(baseline)
        missing = [r["id"] for r in rows if r["instruction"] not in refs]
        if missing:
            raise InputError(
                f"{baseline}: no reference answer for {len(missing)} of {len(rows)} prompts (first: "
                f"{missing[0]!r}); use the file's own prompts (leave --prompts as embedded) or a "
                "matching prompt set"
            )
        return (
            REFERENCE,
            [refs[r["instruction"]] for r in rows],
            {"kind": "reference", "file": Path(baseline).name, "generator": generator},
        )
    if baseline == BASE:
        return BASE, None, {"kind": "base model"}
    if baseline not in adapters:
        raise OptionsError(
            f"baseline {baseline!r} is neither an adapter ({', '.join(adapters)}), 'base', nor a file "
            "of reference answers"
        )
    return baseline, None, {"kind": "adapter", "config": baseline}


def evaluate(
    runs: str | Path | None,
    dataset: str,
    out: str | Path,
    prompts: str = "embedded",
    baseline: str = "random",
    judge_backend=None,
    decoding: Decoding | None = None,
    limit: int | None = None,
    note: str = "",
) -> dict:
    """Generate, judge against the baseline, analyse, and write everything to ``out``."""

    decoding = decoding or Decoding()
    repo = open_dataset_repo(dataset)
    adapters = finished_runs(runs) if runs else hub_adapters(repo)
    if Path(baseline).is_file() and prompts == "embedded":
        rows = load_prompts(baseline, limit)  # the reference file's own prompts
    else:
        rows = load_prompts(prompts, limit)
    texts = [r["instruction"] for r in rows]
    anchor = adapters[baseline] if baseline in adapters else next(iter(adapters.values()))
    base_model = anchor.base_model
    template_file = anchor.path / "chat_template.jinja"
    template = template_file.read_text() if template_file.exists() else None  # one prompt format for all
    name, references, baseline_info = _baseline(baseline, adapters, rows)
    if name == BASE:
        baseline_info["model"] = base_model
    models: dict[str, Path | None] = {c: a.path for c, a in adapters.items() if c != name}
    if name != BASE:
        models[BASE] = None
    answering = {} if references is not None else {name: adapters[name].path if name in adapters else None}
    answering |= models
    logger.info(
        "answers of %d models to %d prompts, in shared batches of %d", len(answering), len(rows), decoding.batch_size
    )
    answers = generate_together(base_model, answering, rows, decoding, chat_template=template)
    baseline_answers = references if references is not None else answers[name]
    answers = {c: answers[c] for c in models} | {name: baseline_answers}
    judge = Judge(judge_backend or LocalChoiceBackend())
    scores: dict[str, dict] = {}
    verdicts: dict[str, dict] = {}
    logger.info("judging %d models against %s on %d prompts, both orders", len(models), name, len(texts))
    both = judge.against_baseline(texts, {c: answers[c] for c in models}, baseline_answers)
    for config in models:
        forward, swapped = both[config]
        wr = win_rate(forward, swapped)
        scores[config] = {k: v for k, v in asdict(wr).items() if k != "per_prompt"}
        verdicts[config] = {"model_first": forward, "baseline_first": swapped, "per_prompt": wr.per_prompt}
        logger.info("%s: win-rate %.1f%% vs %s (%d unparseable)", config, wr.win_rate, name, wr.unparseable)
        if config in adapters and (adapters[config].path / "README.md").exists() and runs:
            rerender_model_card(adapters[config].path / "README.md", scores={name: scores[config]})
    metrics = repo.metrics()
    judged = [c for c in scores if c in metrics]
    per_prompt = {c: verdicts[c]["per_prompt"] for c in judged}  # the bootstrap resamples prompts and replicates
    result = analyze({c: scores[c]["win_rate"] for c in judged}, metrics, per_prompt)
    out = Path(out)
    write_report(result, out, title=f"Win-rate vs {name} against diversity level", note=note, win_rates=scores)
    results = {
        "dataset": dataset,
        "dataset_revision": repo.revision,
        "baseline": name,
        "baseline_info": baseline_info,
        "prompts": prompts,
        "prompt_rows": rows,
        "judge": getattr(judge.backend, "model", "?"),
        "judge_precision": getattr(judge.backend, "precision", None),
        "decoding": asdict(decoding),
        "scores": scores,
        "answers": answers,
        "verdicts": verdicts,
        "judge_failures": judge.failures[:20],
        "fits": result["fits"],
        "level_spreads": result["level_spreads"],
        "correlations": result["correlations"],
        "analysis_notes": result["notes"],
        "analysis_gaps": result["gaps"],
        "note": note,
        "adapters": {c: {"repo_id": a.repo_id, "revision": a.revision} for c, a in adapters.items() if a.repo_id},
    }
    write_json(run_schemas.Results, results, out / "results.json", indent=1, ensure_ascii=False)
    return results
