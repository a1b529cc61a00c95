"""Pure functions behind the Space: published artifacts in, tables and plot frames out.

The Space reads only what earlier stages published: the dataset repo (local folder or Hub id:
its card's ``diversity_metrics`` and its configs) and the evaluation's ``results.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from macro2micro.dataset_builder.defaults import FULL_CONFIG, RANDOM_CONFIG
from macro2micro.dataset_builder.errors import ArtifactError, OptionsError
from macro2micro.dataset_builder.hub.schemas import short as shorten
from macro2micro.dataset_builder.metrics.diversity import METRICS
from macro2micro.dataset_builder.naming import replicate_of, strategy_of
from macro2micro.dataset_builder.utils import require

MAX_PROMPT_CHARS = 1000
MAX_NEW_TOKENS = 96


class UserError(OptionsError):
    """A bad input from the UI; the app shows it as ``gr.Error``."""


@dataclass
class Artifacts:
    """What the Space shows: per-config metrics, the dataset repo, and evaluation results (optional)."""

    repo: str
    metrics: dict[str, dict]
    results: dict[str, Any] | None = None
    runs: str | None = None
    adapters: dict[str, dict] = field(default_factory=dict)  # name -> {"path"} or {"repo_id", "revision"}
    live: Any = None  # the LiveGenerator, made on the first live request
    _samples: dict[str, Any] = field(default_factory=dict)

    @property
    def configs(self) -> list[str]:
        return list(self.metrics)


def load_artifacts(repo: str, results: str | None = None, runs: str | None = None) -> Artifacts:
    """Everything the Space shows, from a dataset repo folder or Hub id: metrics, the evaluation's results (a given
    results.json, else the repo's own), and the adapters for live generation (a local runs folder, else the repo
    ids the results or the repo record; downloaded on first use)."""
    from macro2micro.dataset_builder.hub.artifacts import open_dataset_repo, read_results

    dataset = open_dataset_repo(repo)
    res = read_results(results) if results else dataset.results()
    metrics = dataset.metrics()
    if res:
        known = {*metrics, "base", res.get("baseline")}
        others = sorted(m for m in res.get("scores") or {} if m not in known)
        if others:
            raise ArtifactError(
                f"{results or repo}: the results score {', '.join(others[:5])}, which are not configs of {repo} "
                f"(the results name the dataset {res.get('dataset')!r}): pass the results of this dataset repo"
            )
    if runs:
        adapters = {
            p.parent.name: {"path": p.parent}
            for p in sorted(Path(runs).glob("*/adapter_config.json"))
            if not p.parent.name.startswith(".")
        }
    else:
        adapters = {**dataset.adapters(), **((res or {}).get("adapters") or {})}
    return Artifacts(repo=str(dataset.path), metrics=metrics, results=res, runs=runs, adapters=adapters)


def metrics_table(art: Artifacts):
    """One row per config: strategy, level, k, pool, coverage and the seven metrics per side."""
    pd = require("pandas")

    rows = []
    for config, m in art.metrics.items():
        row = {
            "config": config,
            "strategy": strategy_of(config),
            "level_%": None if m.get("level") is None else round(100 * m["level"]),
            "k": m.get("k"),
            "realised types": m.get("types_covered"),
            "pool": m.get("pool_size"),
            "coverage": None if m.get("type_coverage") is None else round(m["type_coverage"], 3),
        }
        for side, short in (("instruction", "I"), ("response", "R")):
            for metric in METRICS:
                value = (m.get(side) or {}).get(metric)
                row[f"{short}:{metric}"] = None if value is None else round(value, 4)
        rows.append(row)
    return pd.DataFrame(rows)


def variation_table(art: Artifacts):
    """What else varies per config: lengths per side, turns per row, the top source's share, the sampler, overlap
    (METHOD 2.8)."""
    pd = require("pandas")

    full = art.metrics.get("full", {}).get("varies") or {}
    top = next(iter(full.get("sources") or {}), None)
    rows = []
    for config, m in art.metrics.items():
        v = m.get("varies") or {}
        length, turns = v.get("length") or {}, v.get("turns") or {}
        rows.append(
            {
                "config": config,
                "k": m.get("k"),
                "I mean len": (length.get("instruction") or {}).get("mean"),
                "R mean len": (length.get("response") or {}).get("mean"),
                "R median len": (length.get("response") or {}).get("median"),
                "turns mean": turns.get("mean"),
                "turns 1/2/3/4/5+ %": " / ".join(f"{100 * x:.0f}" for x in turns["shares"].values())
                if turns.get("shares")
                else None,
                f"share of {top}": (v.get("sources") or {}).get(top) if top else None,
                "length ratio vs pool mean": v.get("length_ratio_vs_uniform"),
                "uniform draw 95 % range": "-"
                if not v.get("uniform_ratio_range95")
                else "{:.2f}-{:.2f}".format(*v["uniform_ratio_range95"]),
                "overlap with previous": v.get("overlap_with_previous"),
                "same pool as previous": v.get("same_pool_as_previous"),
            }
        )
    return pd.DataFrame(rows)


def reference_configs(art: Artifacts) -> list[str]:
    """The configs without levels: the random control and the baselines at the same N (first draws only)."""
    return [
        c for c, m in art.metrics.items() if c != FULL_CONFIG and m.get("level") is None and not replicate_of(c)[1]
    ]


def _mean_by_level(rows: list[dict], column: str) -> list[dict]:
    """One point per (strategy, level): the mean over a level's replicates (their spread is in the tables)."""
    groups: dict[tuple, list[float]] = {}
    for row in rows:
        groups.setdefault((row["strategy"], row["level_%"]), []).append(row[column])
    return [{"strategy": s, "level_%": lvl, column: sum(v) / len(v)} for (s, lvl), v in groups.items()]


def reference_label(config: str) -> str:
    return f"{config} (control)" if config == RANDOM_CONFIG else f"{config} (baseline)"


def _flat(config: str, value: float, column: str) -> list[dict]:
    """A config without levels as a flat line across the ladders' plot."""
    return [{"strategy": reference_label(config), "level_%": x, column: value} for x in (0, 100)]


def baseline_table(art: Artifacts):
    """One row per baseline (and the random control): what it selects, where it comes from, a few metrics,
    and its win-rate when the results score it."""
    pd = require("pandas")

    from macro2micro.dataset_builder.hub.artifacts import DatasetRepo

    repo = DatasetRepo(art.repo, art.repo)
    scores = (art.results or {}).get("scores") or {}
    rows = []
    for config in reference_configs(art):
        manifest, m = repo.manifest(config), art.metrics[config]
        rows.append(
            {
                "config": config,
                "selects": manifest.get("summary") or "N rows uniformly at random from the whole corpus (the control)",
                "from": manifest.get("reference") or "-",
                "R mean len": (m.get("response") or {}).get("mean_length"),
                "R token_entropy": (m.get("response") or {}).get("token_entropy"),
                "R distinct_2": (m.get("response") or {}).get("distinct_2"),
                "win_rate": (scores.get(config) or {}).get("win_rate"),
            }
        )
    columns = ["config", "selects", "from", "R mean len", "R token_entropy", "R distinct_2", "win_rate"]
    return pd.DataFrame(rows, columns=columns)


def ladder_frame(art: Artifacts, metric: str, side: str):
    """``(strategy, level_%, value)`` of one metric along every ladder, for a line plot; the random control and the
    baselines (no levels) as flat lines beside them."""
    pd = require("pandas")

    if metric not in METRICS:
        raise UserError(f"unknown metric {metric!r}; valid: {', '.join(METRICS)}")
    if side not in ("instruction", "response"):
        raise UserError(f"unknown side {side!r}; valid: instruction, response")
    rows = [
        {"strategy": strategy_of(c), "level_%": round(100 * m["level"]), "value": m[side][metric]}
        for c, m in art.metrics.items()
        if m.get("level") is not None and m[side].get(metric) is not None
    ]
    rows = _mean_by_level(rows, "value")
    for config in reference_configs(art):
        m = art.metrics[config]
        spread = ((m.get("replicates") or {}).get(side) or {}).get(metric) or {}
        value = spread.get("mean", (m.get(side) or {}).get(metric))  # over the draws, when there are several
        if value is not None:
            rows += _flat(config, value, "value")
    return pd.DataFrame(rows, columns=["strategy", "level_%", "value"]).sort_values(["strategy", "level_%"])


SAMPLE_COLUMNS = ["id", "source", "turns", "system", "instruction", "response"]


def sample_rows(art: Artifacts, config: str, query: str = "", limit: int = 20):
    """Rows of a config whose instruction or response contains ``query`` (case-insensitive), with their turns
    (assistant turns) and system prompt."""
    pd = require("pandas")

    from macro2micro.dataset_builder.corpus.table import turns_per_row
    from macro2micro.dataset_builder.hub.repo import load_config

    if config not in art.metrics:
        raise UserError(f"unknown config {config!r}; valid: {', '.join(art.configs[:12])}...")
    if not 1 <= int(limit) <= 200:
        raise UserError(f"limit={limit}: show between 1 and 200 rows")
    if config not in art._samples:
        ds = load_config(art.repo, config)
        turns = turns_per_row(ds).tolist()
        kept = [c for c in ("id", "source", "system", "instruction", "response") if c in ds.column_names]
        ds = ds.select_columns(kept)
        art._samples[config] = ds.add_column("turns", turns)
    ds = art._samples[config]
    q = (query or "").strip().lower()
    out = []
    for row in ds:
        if not q or q in row["instruction"].lower() or q in row["response"].lower():
            out.append(
                {
                    "id": row["id"],
                    "source": row["source"],
                    "turns": row["turns"],
                    "system": (row.get("system") or "")[:200],
                    "instruction": row["instruction"][:400],
                    "response": row["response"][:600],
                }
            )
            if len(out) >= int(limit):
                break
    return pd.DataFrame(out, columns=SAMPLE_COLUMNS)


def _need_results(art: Artifacts) -> dict:
    if not art.results:
        raise UserError("no evaluation results loaded: start the Space with --results eval/results.json")
    return art.results


def prompt_choices(art: Artifacts) -> list[str]:
    """``"id: the first 80 characters"`` of each prompt (shown as text by the dropdown)."""
    if not art.results:
        return []
    return [f"{r['id']}: {' '.join(r['instruction'][:80].split())}" for r in art.results["prompt_rows"]]


def model_choices(art: Artifacts) -> list[str]:
    """The judged models (the baseline's answer is always shown beside them)."""
    if not art.results:
        return []
    return [m for m in art.results["answers"] if m != art.results["baseline"]]


def compare_outputs(art: Artifacts, prompt: str, models: list[str]) -> dict:
    """The prompt, the baseline's answer, and one to four models' answers with the judge's verdicts in words."""
    from macro2micro.space_app.compare import MAX_COLUMNS, compare

    res = _need_results(art)
    ids = [r["id"] for r in res["prompt_rows"]]
    choices = prompt_choices(art)
    if prompt in choices:  # an id may itself hold ': '
        index = choices.index(prompt)
    elif (prompt or "").split(":", 1)[0].strip() in ids:
        index = ids.index((prompt or "").split(":", 1)[0].strip())
    else:
        raise UserError(f"unknown prompt {shorten(prompt)}: choose one from the list")
    models = list(models or [])
    if not 1 <= len(models) <= MAX_COLUMNS:
        raise UserError(f"choose one to {MAX_COLUMNS} models to compare with the baseline")
    unknown = [m for m in models if m not in res["answers"]]
    if unknown:
        raise UserError(f"unknown model(s) {unknown}; valid: {', '.join(model_choices(art))}")
    return compare(res, index, models)


def _num(value, spec: str) -> str:
    """A number as the tables show it (``75.0``, not ``75.000000``); blank for None."""
    return "" if value is None else format(value, spec)


def score_frame(art: Artifacts):
    """``(strategy, level_%, win_rate)`` per ladder level (the mean of its judged replicates) and per baseline (a
    flat line), and the fits as a table: every judged ladder, its slope, the slope's 95 % interval and the noise it
    resamples, whether it is within noise, r, and in words why a fit or an r is missing."""
    pd = require("pandas")

    res = _need_results(art)
    rows: list = []
    flat: dict = {}
    for config, s in res["scores"].items():
        m = art.metrics.get(config, {})
        if m.get("level") is not None:
            rows.append(
                {"strategy": strategy_of(config), "level_%": round(100 * m["level"]), "win_rate": s["win_rate"]}
            )
        elif replicate_of(config)[0] in reference_configs(art):
            flat.setdefault(replicate_of(config)[0], []).append(s["win_rate"])
    rows = _mean_by_level(rows, "win_rate")
    for config, values in flat.items():
        rows += _flat(config, sum(values) / len(values), "win_rate")
    points = pd.DataFrame(rows, columns=["strategy", "level_%", "win_rate"]).sort_values(["strategy", "level_%"])
    gaps = (res.get("analysis_gaps") or {}).get("fits") or {}
    fits = res.get("fits") or {}
    table = []
    ladders = {strategy_of(c) for c in res["scores"] if (art.metrics.get(c) or {}).get("level") is not None}
    for name in sorted({*fits, *ladders, *gaps}):
        f = fits.get(name)
        judged = int((points["strategy"] == name).sum())  # levels (a level's replicates are one point)
        if f is None:
            why = gaps.get(name) or f"{judged} level(s) judged; a fit needs at least 3"
            row = {"strategy": name, "slope_per_100%": "", "95 % CI": "", "noise": "", "within_noise": None}
            table.append({**row, "r": "", "n": judged, "note": why})
            continue
        table.append(
            {
                "strategy": name,
                "slope_per_100%": _num(f["slope"], "+.2f"),
                "95 % CI": "[{:+.2f}, {:+.2f}]".format(*(f.get("slope_ci95_bootstrap") or f["slope_ci95"])),
                "noise": " + ".join(f.get("noise_sources") or ["residuals"]),
                "within_noise": f.get("within_noise"),
                "r": _num(f["r"], "+.3f"),
                "n": f["n"],
                "note": "" if f["r"] is not None else gaps.get(name, "the scores are equal at every level: no r"),
            }
        )
    columns = ["strategy", "slope_per_100%", "95 % CI", "noise", "within_noise", "r", "n", "note"]
    return points, pd.DataFrame(table, columns=columns)


def spread_frame(art: Artifacts):
    """Per ladder and level: the win-rates of its replicates (count, mean, sd, min, max)."""
    pd = require("pandas")

    res = _need_results(art)
    rows = [
        {"strategy": s, "level_%": round(100 * row["level"]), **{k: row[k] for k in ("n", "mean", "sd", "min", "max")}}
        for s, spreads in (res.get("level_spreads") or {}).items()
        for row in spreads
    ]
    return pd.DataFrame(rows, columns=["strategy", "level_%", "n", "mean", "sd", "min", "max"])


def correlation_frame(art: Artifacts):
    """Pearson r between each metric and the score, per side (the paper's figure 4), long form; a blank r says
    why it is blank."""
    pd = require("pandas")

    res = _need_results(art)
    gaps = (res.get("analysis_gaps") or {}).get("correlations") or {}
    rows = [
        {
            "side": side,
            "metric": m,
            "r": _num(r, "+.3f"),
            "why blank": "" if r is not None else (gaps.get(side) or {}).get(m, "undefined for these configs"),
        }
        for side, per in res.get("correlations", {}).items()
        for m, r in per.items()
    ]
    return pd.DataFrame(rows, columns=["side", "metric", "r", "why blank"])


def analysis_notes(art: Artifacts) -> list[str]:
    """What the evaluation could not fit or correlate, in words (from results.json)."""
    return list((art.results or {}).get("analysis_notes") or [])


def shown_answer(answer: str, max_new_tokens: int) -> str:
    """A live answer as the Space shows it: an empty one says so in words."""
    return answer if answer.strip() else f"(the adapter generated nothing in {int(max_new_tokens)} new tokens)"


def check_live_prompt(prompt: str, max_new_tokens: int) -> tuple[str, int]:
    """Validate a typed prompt for live generation (length caps keep a CPU Space responsive)."""
    text = (prompt or "").strip()
    if not text:
        raise UserError("type a prompt first")
    if len(text) > MAX_PROMPT_CHARS:
        raise UserError(f"prompt has {len(text)} characters; the limit is {MAX_PROMPT_CHARS}")
    if not 1 <= int(max_new_tokens) <= MAX_NEW_TOKENS:
        raise UserError(f"max_new_tokens={max_new_tokens}: between 1 and {MAX_NEW_TOKENS}")
    return text, int(max_new_tokens)
