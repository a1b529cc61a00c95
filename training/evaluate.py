"""Score every trained adapter against a baseline and fit diversity against score.

    macro2micro evaluate --runs runs/ --dataset demo_out/hub_dataset --out eval/            # small local judge
    macro2micro evaluate --runs runs/ --dataset org/repo --prompts alpaca_eval.json \\
        --judge-url http://judge:8000/v1 --judge-model nvidia/Llama-3.1-Nemotron-70B-Instruct-HF --out eval/

Writes ``OUT/results.json`` (scores with intervals, answers and verdicts per prompt: what the
Space reads), the analysis (``analysis.json``, ``report.md``, two PNG plots), and the scores into
each adapter's model card.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

from dataset_builder.artifacts import open_dataset_repo
from dataset_builder.naming import check_name
from model_cards.model_card import update_model_card_scores

from .analysis import analyze, write_report
from .generate import Decoding, generate_answers, load_prompts
from .judge import Judge, LocalChoiceBackend, win_rate

logger = logging.getLogger(__name__)


def finished_runs(runs: str | Path) -> dict[str, Path]:
    """``{config: adapter folder}`` of every finished adapter under ``runs``."""
    out = {check_name(p.parent.name, f"{runs}: adapter folder"): p.parent
           for p in sorted(Path(runs).glob("*/train_results.json")) if not p.parent.name.startswith(".")}
    if not out:
        raise FileNotFoundError(f"{runs}: no finished adapters (folders with train_results.json); run `macro2micro train`")
    return out


def evaluate(runs: str | Path, dataset: str, out: str | Path, prompts: str = "embedded", baseline: str = "random",
             judge_backend=None, decoding: Decoding = Decoding(), limit: int | None = None, note: str = "") -> dict:
    """Generate, judge against ``baseline``'s adapter, analyse, and write everything to ``out``."""
    adapters = finished_runs(runs)
    if baseline not in adapters:
        raise ValueError(f"baseline {baseline!r} has no finished adapter under {runs}; have: {', '.join(adapters)}")
    rows = load_prompts(prompts, limit)
    texts = [r["instruction"] for r in rows]
    base_model = json.loads((adapters[baseline] / "adapter_config.json").read_text())["base_model_name_or_path"]
    template_file = adapters[baseline] / "chat_template.jinja"
    template = template_file.read_text() if template_file.exists() else None  # one prompt format for all
    from tqdm.auto import tqdm

    models = {**adapters, "base": None}
    answers = {c: generate_answers(base_model, a, rows, decoding, chat_template=template)
               for c, a in tqdm(models.items(), desc=f"answers to {len(rows)} prompts", unit="model")}
    judge = Judge(judge_backend or LocalChoiceBackend())
    scores, verdicts = {}, {}
    for config, ans in tqdm(answers.items(), desc=f"judging against {baseline}, both orders", unit="model"):
        if config == baseline:
            continue
        forward, swapped = judge.both_orders(texts, ans, answers[baseline])
        wr = win_rate(forward, swapped)
        scores[config] = {k: v for k, v in asdict(wr).items() if k != "per_prompt"}
        verdicts[config] = {"model_first": forward, "baseline_first": swapped, "per_prompt": wr.per_prompt}
        logger.info("%s: win-rate %.1f%% vs %s (%d unparseable)", config, wr.win_rate, baseline, wr.unparseable)
        if config in adapters:
            update_model_card_scores(adapters[config] / "README.md", {baseline: scores[config]})
    metrics = open_dataset_repo(dataset).metrics()
    ladder_scores = {c: s["win_rate"] for c, s in scores.items() if c in metrics}
    result = analyze(ladder_scores, metrics)
    out = Path(out)
    write_report(result, out, title=f"Win-rate vs {baseline} against diversity level", note=note, win_rates=scores)
    results = {"dataset": dataset, "baseline": baseline, "prompts": prompts, "prompt_rows": rows,
               "judge": getattr(judge.backend, "model", "?"), "decoding": asdict(decoding), "scores": scores,
               "answers": answers, "verdicts": verdicts, "judge_failures": judge.failures[:20],
               "fits": result["fits"], "correlations": result["correlations"], "analysis_notes": result["notes"],
               "note": note}
    (out / "results.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
    return results
