"""The dataset repo's card: metadata (configs, licence, metrics) plus a body from ``dataset_card.md``."""

from __future__ import annotations

import json
from pathlib import Path

from macro2micro.dataset_builder.defaults import FULL_CONFIG, RANDOM_CONFIG
from macro2micro.dataset_builder.hub.repo import configs_yaml
from macro2micro.dataset_builder.metrics.diversity import METRICS
from macro2micro.model_cards.templates import template_path

METRIC_SHORT = {
    "distinct_1": "D-1",
    "distinct_2": "D-2",
    "embedding_distance": "Emb",
    "mean_length": "Len",
    "compression_ratio": "CR",
    "self_bleu": "SB",
    "token_entropy": "Ent",
}
TYPE_DESC = {
    "macro": "a semantic cluster (embeddings + HDBSCAN)",
    "meso": "a normalized tag",
    "micro": "a mid-frequency token of the model's tokenizer",
    "micro_word": "a mid-frequency whitespace word (the paper's word-level ablation)",
}
CARD_METRIC_KEYS = ("instruction", "response", "k", "types_covered", "pool_size", "type_coverage")
BASELINE = "baseline"  # the granularity of the baselines' manifests
LOAD_PLACEHOLDER = "<your-org>/<repo>"  # the snippets' repo when no repo id is given


EMBEDDED = {
    "both": "each row embedded as the normalized sum of its instruction's and its response's embeddings",
    "instruction": "rows embedded by their instructions",
    "response": "rows embedded by their responses",
}


def baseline_facts(m: dict, unit: str) -> str:
    """What one baseline's manifest says about how its rows were chosen, in a sentence."""
    name = m["strategy"]
    if name == "longest":
        return (
            f"the shortest response taken has {m['shortest_taken']} {unit}; {m['taken_at_shortest']} of the "
            f"{m['rows_at_shortest']} rows of that length were taken (the seed chose which)"
        )
    if name == "kcenter":
        return (
            f"first centre `{m['first_centre']}` (seeded); every corpus row lies within cosine distance "
            f"{m['covering_radius']:.3f} of a selected row (the covering radius); {EMBEDDED[m['options']['embedded']]}"
        )
    if name == "deita":
        return (
            f"score `{m['scorer']['name']}`; {EMBEDDED[m['options']['embedded']]}; threshold {m['threshold']:.4f} "
            "(cosine distance; no two rows more "
            f"similar than {m['max_similarity']:.4f}); the filter went {m['deepest_rank']} rows deep into the "
            f"ranking; mean score {m['mean_score_taken']:.3g} taken vs {m['mean_score_corpus']:.3g} in the corpus"
        )
    if name == "instag":
        return (
            f"{m['passes']} pass(es); the rows cover {m['tags_covered']} of {m['n_tags']} normalized tags; "
            f"{m['mean_tags_taken']:.2f} tags per instruction taken vs {m['mean_tags_corpus']:.2f} in the corpus"
        )
    return ""


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _length(varies: dict, side: str) -> str:
    length = (varies.get("length") or {}).get(side)
    return "-" if not length else f"{length['mean']:.1f} / {length['median']:.0f}"


def _ratio(varies: dict) -> str:
    """The sampler's length ratio, with the range a uniform draw's ratio falls in 95 % of the time."""
    ratio, span = varies.get("length_ratio_vs_uniform"), varies.get("uniform_ratio_range95")
    if ratio is None:
        return "-"
    return f"{ratio:.2f}" if not span else f"{ratio:.2f} ({span[0]:.2f}-{span[1]:.2f})"


def _turns(varies: dict) -> str:
    turns = varies.get("turns")
    if not turns:
        return "-"
    shares = " / ".join(f"{100 * v:.0f}" for v in turns["shares"].values())
    return f"{turns['mean']:.2f} ({shares} %)"


def has_dialogues(configs: list[str], metrics: dict[str, dict], manifests: dict[str, dict]) -> bool:
    """Whether any config holds a row of more than one assistant turn (then the card shows turns per row)."""
    for c in configs:
        turns = ((manifests.get(c, {}).get("varies") or metrics[c].get("varies") or {}).get("turns")) or {}
        if turns.get("mean", 1) != 1:
            return True
    return False


def corpus_lines(info: dict, turns: dict | None) -> dict:
    """What the card says of the corpus: what a row is, the system prompts, the ``max_rows`` sample."""
    corpus = info.get("corpus") or {}
    options, sample = corpus.get("shape") or {}, corpus.get("sample")
    rows = None
    if turns and turns.get("mean", 1) != 1:
        kind = "conversations"
        rows = (
            f"A row is a whole conversation ({turns['mean']:.2f} assistant turns on average): its instruction side is "
            "its user turns and its response side its assistant turns, each joined in order with a blank line; "
            "types, metrics and lengths read those sides, and training covers every assistant turn."
        )
    else:
        kind = "single-turn pairs" if options.get("multi_turn") != "all" else "conversations, each of one exchange"
    system = {
        ("keep", "none"): "System prompts are kept (the `system` column, and the first message of `messages`) and "
        "belong to neither side: types, metrics and lengths ignore them.",
        ("keep", "instruction"): "System prompts are kept (the `system` column, and the first message of "
        "`messages`) and open the instruction side: types, metrics and lengths include them.",
        ("drop", "none"): "System prompts were dropped at ingest.",
    }.get((str(options.get("system")), str(options.get("system_side", "none"))))
    text = None
    if sample:
        text = (
            f"The corpus is a seeded uniform sample (seed {sample['seed']}) of {sample['max_rows']} of the "
            f"{sample['from_rows']} rows left after cleaning (`--max_rows {sample['max_rows']}`)."
        )
    return {"kind": kind, "rows": rows, "system": system, "sample": text}


def variation_rows(configs: list[str], metrics: dict[str, dict], manifests: dict[str, dict]) -> tuple[str, list]:
    """The "What else varies" table: one row per config, from the manifests (``full`` from the metrics)."""
    full = metrics[FULL_CONFIG].get("varies") or {}
    top = next(iter(full.get("sources") or {}), None)
    rows = []
    for c in configs:
        m = manifests.get(c, {})
        v = m.get("varies") or metrics[c].get("varies") or {}
        share = (v.get("sources") or {}).get(top)
        rows.append(
            {
                "config": c,
                "k": "-" if m.get("k") is None else m["k"],
                "same_pool": {True: "**yes**", False: "no", None: "-"}[v.get("same_pool_as_previous")],
                "instruction": _length(v, "instruction"),
                "response": _length(v, "response"),
                "turns": _turns(v),
                "top_source": "-" if share is None else f"{100 * share:.0f} %",
                "sampler": f"{m['n_balanced']} + {m['n_filled']}" if "n_balanced" in m else "-",
                "ratio": _ratio(v),
                "overlap": "-"
                if v.get("overlap_with_previous") is None
                else f"{100 * v['overlap_with_previous']:.0f} %",
            }
        )
    return top or "-", rows


def replicate_rows(configs: list[str], metrics: dict[str, dict]) -> list[dict]:
    """One row per config drawn more than once: the replicates and each metric's standard deviation across them."""
    rows = []
    for c in configs:
        rep = metrics[c].get("replicates")
        if rep:
            rows.append(
                {
                    "config": c,
                    "n": len(rep["configs"]),
                    "pool": metrics[c].get("pool_size"),
                    **{
                        side: {m: "-" if "sd" not in v else f"±{v['sd']:.3f}" for m, v in rep[side].items()}
                        for side in ("instruction", "response")
                    },
                }
            )
    return rows


def render_dataset_card(
    info: dict,
    manifests: dict[str, dict],
    metrics: dict[str, dict],
    corpus_rows: int,
    repo_id: str | None,
    license: str,
    source_note: str,
    existing: dict | None = None,
    local_path: str | None = None,
    infos=None,
    scores: dict | None = None,
):
    """The DatasetCard: our metadata merged over ``existing`` (foreign keys are kept).

    Args:
        info: the build's ``build.json``.
        manifests: ``{config: manifest}`` of the build.
        metrics: ``{config: metrics}`` (``full`` included).
        corpus_rows: rows of the whole corpus.
        repo_id: the Hub id the repo is published as (None: a local folder; snippets then load the folder).
        license: licence id of the source corpus.
        source_note: the paragraph on the source data.
        existing: card metadata already on the Hub, merged under ours.
        local_path: the folder the repo is written to (without a repo id the snippets name a placeholder and
            this folder's name, never its absolute path).
        infos: the configs' ``DatasetInfosDict`` (features, rows, bytes), written as ``dataset_info``.
        scores: published evaluation results (``evaluation/results.json``), for the scores table.
    """
    from huggingface_hub import DatasetCard, DatasetCardData

    configs = [FULL_CONFIG] + list(manifests)
    budget = info["options"]["budget"]
    ours = {
        "license": license,
        "task_categories": ["text-generation"],
        "size_categories": [_size_category(corpus_rows)],
        "tags": ["sft", "instruction-tuning", "dataset-diversity", "macro2micro"],
        "pretty_name": f"macro2micro diversity ladders (N={budget})",
        "configs": configs_yaml(configs),
        "diversity_metrics": {c: {k: v for k, v in metrics[c].items() if k in CARD_METRIC_KEYS} for c in configs},
    }
    languages = metrics[FULL_CONFIG].get("languages") or {}
    if languages.get("languages"):  # from the data or the publisher; never a default
        ours["language"] = list(languages["languages"])
    if repo_id:
        ours["macro2micro_repo_id"] = repo_id  # lets adapter cards trained from a local copy name the Hub repo
    ours["macro2micro_source_note"] = source_note  # so a later stage can re-render the card whole
    data = DatasetCardData(**{**(existing or {}), **ours})
    if infos is not None:
        infos.to_dataset_card_data(data)
    word = (info.get("knobs") or {}).get("tokenizer", {}).get("tokenizer") == "word"
    strategies: list[dict] = []
    build_lines: list[str] = []
    unit = "words" if word else "model tokens"
    baselines = [
        {
            "name": m["strategy"],
            "summary": m["summary"],
            "reference": m["reference"],
            "differs": m["differs_from_original"],
            "facts": baseline_facts(m, unit),
        }
        for m in manifests.values()
        if m.get("granularity") == BASELINE and not m.get("replicate")  # a baseline's further draws: same rule
    ]
    for m in manifests.values():
        if m.get("granularity") == BASELINE:
            continue
        if m["strategy"] != RANDOM_CONFIG and m["strategy"] not in {s["name"] for s in strategies}:
            kind = "micro_word" if m["granularity"] == "micro" and word else m["granularity"]
            strategies.append({"name": m["strategy"], "side": m["side"], "type_desc": TYPE_DESC[kind]})
            build_lines.append(
                f"`{m['strategy']}`: options `{json.dumps(m['options'], sort_keys=True)}`, {m['n_types']} types"
            )
    rows = [
        {
            "config": c,
            "k": "-" if metrics[c]["k"] is None else metrics[c]["k"],
            "realised": "-" if metrics[c].get("types_covered") is None else metrics[c]["types_covered"],
            "pool": metrics[c]["pool_size"],
            "coverage": "-" if metrics[c]["type_coverage"] is None else f"{metrics[c]['type_coverage']:.3f}",
            **{side: {k: _fmt(v) for k, v in metrics[c][side].items()} for side in ("instruction", "response")},
        }
        for c in configs
    ]
    sampled = metrics[FULL_CONFIG].get("embedding_distance_sample")
    if sampled:  # full's embedding distance is over a seeded sample of its rows
        for side in ("instruction", "response"):
            if rows[0][side]["embedding_distance"] != "-":
                rows[0][side]["embedding_distance"] += "*"
    example = next((c for c in manifests if c.endswith("_max")), configs[-1])
    top_source, varies = variation_rows(configs, metrics, manifests)
    dialogues = has_dialogues(configs, metrics, manifests)
    corpus = corpus_lines(info, (metrics[FULL_CONFIG].get("varies") or {}).get("turns"))
    warnings = [line for lines in (info.get("warnings") or {}).values() for line in lines]
    return DatasetCard.from_template(
        data,
        template_path=str(template_path("dataset_card.md")),
        pretty_name=ours["pretty_name"],
        load_path=repo_id or LOAD_PLACEHOLDER,  # never the publisher's absolute path: it means nothing to a reader
        load_placeholder=not repo_id,
        folder_name=Path(local_path).name if local_path else ".",
        embedder=embedder_line(metrics[FULL_CONFIG].get("embedder")),
        budget=budget,
        corpus_rows=corpus_rows,
        corpus_fingerprint=info["corpus"]["fingerprint"],
        strategies=strategies,
        levels=info["level_names"],
        seed=info["options"]["seed"],
        build_lines=build_lines,
        metric_names=list(METRICS),
        metric_short=METRIC_SHORT,
        metric_rows=rows,
        example_config=example,
        source_note=source_note,
        type_quota=info["options"].get("type_quota", "even"),
        length_controlled=info.get("length_control") or {},
        random_control=info.get("random_control"),
        top_source=top_source,
        variation_rows=varies,
        dialogues=dialogues,
        corpus=corpus,
        warnings=warnings,
        scores=score_rows(scores, metrics),
        results=scores,
        full_sample=sampled,
        license=license,
        unit=unit,
        has_random=RANDOM_CONFIG in manifests,
        baselines=baselines,
        replicates=info.get("replicates"),
        replicate_rows=replicate_rows(configs, metrics),
        spread_rows=[
            {"ladder": name, "level": f"{100 * row['level']:.0f} %", **row}
            for name, rows in ((scores or {}).get("level_spreads") or {}).items()
            for row in rows
            if any(r["n"] > 1 for r in rows)
        ],
        languages=languages,
    )


def embedder_line(ref: dict | None) -> str | None:
    """The embedder of the embedding distances as the card names it: name, then revision or files hash."""
    if not ref:
        return None
    line = f"`{ref['name']}`"
    if ref.get("revision") and ref["revision"] != "unknown":
        line += f" (revision `{ref['revision']}`)"
    elif ref.get("files_sha256"):
        line += f" (files sha256 `{ref['files_sha256']}`)"
    return line


def score_rows(results: dict | None, metrics: dict[str, dict]) -> list[dict]:
    """One row per judged model: its win-rate with interval, and the level of a ladder config."""
    if not results:
        return []
    rows = []
    for model, s in results["scores"].items():
        level = (metrics.get(model) or {}).get("level")
        adapter = (results.get("adapters") or {}).get(model) or {}
        rows.append(
            {
                "model": model,
                "level": "-" if level is None else f"{100 * level:.0f} %",
                "win_rate": f"{s['win_rate']:.1f}",
                "ci": f"[{s['ci95'][0]:.1f}, {s['ci95'][1]:.1f}]",
                "prompts": s["prompts_scored"],
                "adapter": adapter.get("repo_id") or "-",
            }
        )
    return rows


def render_from_repo(repo, results: dict | None = None):
    """Re-render a published repo's card whole (same inputs as at publish time), with evaluation results added."""
    from datasets.info import DatasetInfosDict

    from macro2micro.dataset_builder.hub.artifacts import read_build

    info, manifests = read_build(repo.path)
    metrics = repo.metrics()
    data = repo.card_data()
    infos = DatasetInfosDict.from_dataset_card_data(data) if data.get("dataset_info") else None
    return render_dataset_card(
        info,
        manifests,
        metrics,
        int(metrics[FULL_CONFIG]["rows"]),
        data.get("macro2micro_repo_id"),
        data.get("license", "other"),
        data.get("macro2micro_source_note", "See the licence of the source corpus."),
        existing=data,
        local_path=str(repo.path),
        infos=infos,
        scores=results,
    )
