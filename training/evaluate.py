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
import re
from dataclasses import asdict
from pathlib import Path

from .analysis import analyze, write_report
from .generate import Decoding, generate_answers, load_prompts
from .judge import Judge, LocalChoiceBackend, win_rate

logger = logging.getLogger(__name__)


def finished_runs(runs: str | Path) -> dict[str, Path]:
    """``{config: adapter folder}`` of every finished adapter under ``runs``."""
    out = {p.parent.name: p.parent for p in sorted(Path(runs).glob("*/train_results.json"))}
    if not out:
        raise FileNotFoundError(f"{runs}: no finished adapters (folders with train_results.json); run `macro2micro train`")
    return out


def dataset_metrics(dataset: str) -> dict:
    """Per-config diversity metrics of a dataset repo (folder: metrics/diversity.json; Hub: the card)."""
    local = Path(dataset) / "metrics" / "diversity.json"
    if local.exists():
        return json.loads(local.read_text())
    from huggingface_hub import DatasetCard

    return DatasetCard.load(dataset, repo_type="dataset").data.to_dict().get("diversity_metrics", {})


def update_card(adapter: Path, score: dict, baseline: str) -> None:
    """Put the win-rate into the adapter's model card (metadata and the Scores section)."""
    from huggingface_hub import ModelCard

    card = ModelCard.load(str(adapter / "README.md"))
    meta = card.data.to_dict().get("macro2micro", {})
    meta["scores"] = {f"win_rate_vs_{baseline}": score["win_rate"], "ci95": score["ci95"]}
    card.data.macro2micro = meta
    section = (f"## Scores\n\n| judge baseline | win-rate (%) | 95 % CI | prompts |\n|---|---|---|---|\n"
               f"| `{baseline}` | {score['win_rate']:.1f} | [{score['ci95'][0]:.1f}, {score['ci95'][1]:.1f}] | "
               f"{score['prompts_scored']} |\n")
    card.text = re.sub(r"## Scores\n.*", section, card.text, flags=re.S)
    card.save(str(adapter / "README.md"))


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
    answers = {c: generate_answers(base_model, a, rows, decoding, chat_template=template) for c, a in adapters.items()}
    answers["base"] = generate_answers(base_model, None, rows, decoding, chat_template=template)
    judge = Judge(judge_backend or LocalChoiceBackend())
    scores, verdicts = {}, {}
    for config, ans in answers.items():
        if config == baseline:
            continue
        forward, swapped = judge.both_orders(texts, ans, answers[baseline])
        wr = win_rate(forward, swapped)
        scores[config] = {k: v for k, v in asdict(wr).items() if k != "per_prompt"}
        verdicts[config] = {"model_first": forward, "baseline_first": swapped, "per_prompt": wr.per_prompt}
        logger.info("%s: win-rate %.1f%% vs %s (%d unparseable)", config, wr.win_rate, baseline, wr.unparseable)
        if config in adapters:
            update_card(adapters[config], scores[config], baseline)
    metrics = dataset_metrics(dataset)
    ladder_scores = {c: s["win_rate"] for c, s in scores.items() if c in metrics}
    result = analyze(ladder_scores, metrics)
    out = Path(out)
    write_report(result, out, title=f"Win-rate vs {baseline} against diversity level", note=note)
    results = {"dataset": dataset, "baseline": baseline, "prompts": prompts, "prompt_rows": rows,
               "judge": getattr(judge.backend, "model", "?"), "decoding": asdict(decoding), "scores": scores,
               "answers": answers, "verdicts": verdicts, "judge_failures": judge.failures[:20],
               "fits": result["fits"], "correlations": result["correlations"], "note": note}
    (out / "results.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
    return results
