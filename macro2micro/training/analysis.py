"""The paper's analysis: score against diversity level per strategy, and metric-score correlations.

- :func:`fit_ladder`: ordinary least squares of score on level (level in [0, 1], so the slope is
  in score points per 100 % diversity), Pearson r, and 95 % intervals (t for the slope, Fisher z
  for r). With replicates (several adapters per level), every replicate is a point of the fit.
- :func:`analyze` adds, per ladder, the spread of scores across each level's replicates and a bootstrap
  interval for the slope that resamples the prompts and the replicates (:mod:`.noise`), and says when a slope
  is within noise (its interval contains 0).
- :func:`metric_correlations`: per side, Pearson r between each diversity metric of a config and
  its score, over all configs that have both (the paper's figure 4).
- :func:`write_report`: JSON, a markdown report and PNG plots (score vs level with fitted lines;
  the correlation heat map).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from macro2micro.dataset_builder.metrics.diversity import METRICS
from macro2micro.dataset_builder.naming import strategy_of
from macro2micro.dataset_builder.utils import require
from macro2micro.training.noise import RESAMPLES, bootstrap_slope, level_spreads


def fit_ladder(levels, scores) -> dict:
    """OLS slope (points per 100 % diversity), intercept, Pearson r and their 95 % intervals."""
    from scipy import stats

    x, y = np.asarray(levels, dtype=float), np.asarray(scores, dtype=float)
    if len(x) != len(y) or len(x) < 3:
        raise ValueError(
            f"a ladder fit needs at least 3 (level, score) pairs, got {len(x)} levels and {len(y)} scores"
        )
    if np.ptp(y) == 0:  # constant scores: the slope is 0 and r is undefined
        return {"n": len(x), "slope": 0.0, "intercept": float(y[0]), "r": None, "slope_ci95": [0.0, 0.0], "p": None}
    res = stats.linregress(x, y)
    dof = len(x) - 2
    t = stats.t.ppf(0.975, dof)
    out = {
        "n": len(x),
        "slope": float(res.slope),
        "intercept": float(res.intercept),
        "r": float(res.rvalue),
        "slope_ci95": [float(res.slope - t * res.stderr), float(res.slope + t * res.stderr)],
        "p": float(res.pvalue),
    }
    if len(x) > 3 and abs(res.rvalue) < 1:
        z, se = math.atanh(res.rvalue), 1 / math.sqrt(len(x) - 3)
        out["r_ci95"] = [math.tanh(z - 1.96 * se), math.tanh(z + 1.96 * se)]
    return out


def metric_correlations(metrics: dict[str, dict], scores: dict[str, float]) -> dict[str, dict[str, float | None]]:
    """Per side, Pearson r of each metric with the score over configs having both (None where undefined:
    :func:`correlation_gaps` says why)."""
    out: dict[str, dict[str, float | None]] = {}
    gaps = correlation_gaps(metrics, scores)
    configs = [c for c in scores if c in metrics]
    for side in ("instruction", "response"):
        out[side] = {}
        for m in METRICS:
            if m in gaps[side]:
                out[side][m] = None
                continue
            pairs = [(metrics[c][side][m], scores[c]) for c in configs if metrics[c][side].get(m) is not None]
            a, b = np.array(pairs, dtype=float).T
            out[side][m] = float(np.corrcoef(a, b)[0, 1])
    return out


def correlation_gaps(metrics: dict[str, dict], scores: dict[str, float]) -> dict[str, dict[str, str]]:
    """Per side, why each missing Pearson r is missing, in words (metrics whose r exists are absent)."""
    configs = [c for c in scores if c in metrics]
    out: dict[str, dict[str, str]] = {}
    for side in ("instruction", "response"):
        out[side] = {}
        for m in METRICS:
            pairs = [(metrics[c][side][m], scores[c]) for c in configs if metrics[c][side].get(m) is not None]
            if len(configs) < 3:
                out[side][m] = f"{len(configs)} judged config(s) with metrics; r needs at least 3"
            elif not pairs:
                out[side][m] = "not measured (e.g. embedding distance without an embedder)"
            elif len(pairs) < 3:
                out[side][m] = f"{len(pairs)} judged config(s) have it; r needs at least 3"
            elif np.std([p[0] for p in pairs]) == 0:
                out[side][m] = f"the metric is the same for all {len(pairs)} judged configs"
            elif np.std([p[1] for p in pairs]) == 0:
                out[side][m] = f"the score is the same for all {len(pairs)} judged configs"
    return out


def ladder_points(scores: dict[str, float], levels: dict[str, float | None]) -> dict[str, list[tuple[float, float]]]:
    """Group config scores by strategy: ``{strategy: [(level, score), ...]}`` sorted by level."""
    out: dict[str, list[tuple[float, float]]] = {}
    for config, score in scores.items():
        level = levels.get(config)
        if level is not None:
            out.setdefault(strategy_of(config), []).append((float(level), float(score)))
    return {s: sorted(p) for s, p in out.items()}


def _noise(fit: dict, strategy: str, members: dict[str, float], per_prompt: dict | None, resamples: int) -> list:
    """Add the bootstrap interval and the within-noise verdict to one ladder's fit; the notes they call for."""
    boot = bootstrap_slope(members, per_prompt, resamples) if per_prompt else None
    notes = []
    if boot:
        fit["slope_ci95_bootstrap"] = boot["slope_ci95"]
        fit["noise_sources"] = boot["sources"]
        fit["replicates_per_level"] = boot["replicates_per_level"]
        if "replicates" not in boot["sources"]:
            notes.append(
                f"{strategy}: one draw per level, so its interval covers the prompts only, not the draw "
                "(build with --replicates R for both)"
            )
    else:
        fit["noise_sources"] = ["residuals"]  # the OLS t interval: no per-prompt scores to resample
    lo, hi = fit.get("slope_ci95_bootstrap") or fit["slope_ci95"]
    fit["within_noise"] = bool(lo <= 0 <= hi)
    if fit["within_noise"]:
        notes.append(
            f"{strategy}: slope {fit['slope']:+.2f} is within noise: its 95 % interval [{lo:+.2f}, {hi:+.2f}] "
            f"({' and '.join(fit['noise_sources'])}) contains 0"
        )
    return notes


def analyze(
    scores: dict[str, float],
    metrics: dict[str, dict],
    per_prompt: dict[str, list[float | None]] | None = None,
    resamples: int = RESAMPLES,
) -> dict:
    """Fits per strategy (over every replicate), each level's spread across replicates, the slope's interval from
    both sources of noise, metric correlations, and in words (``gaps``, ``notes``) why a fit, an r or a correlation
    is missing, and when a slope is within noise.

    Args:
        scores: ``{config: win-rate}``.
        metrics: the repo's metrics (levels come from there).
        per_prompt: ``{config: [per-prompt score 0..1 or None]}`` (the judge's verdicts); without it the slope's
            interval is OLS's t interval.
        resamples: bootstrap rounds.
    """
    levels = {c: m.get("level") for c, m in metrics.items()}
    points = ladder_points(scores, levels)
    fits = {s: fit_ladder(*zip(*pts, strict=True)) for s, pts in points.items() if len(pts) >= 3}
    spreads = {s: level_spreads(pts) for s, pts in points.items()}
    fit_gaps = {s: f"{len(pts)} level(s) judged; a fit needs at least 3" for s, pts in points.items() if len(pts) < 3}
    fit_gaps.update(
        {s: "the scores are equal at every level: r is undefined" for s, f in fits.items() if f["r"] is None}
    )
    notes = [f"{s}: {why}" for s, why in sorted(fit_gaps.items())]
    if not points:
        notes.append("no ladder config was judged (only the baseline and controls): nothing to fit or plot")
    corr = metric_correlations(metrics, scores)
    gaps = correlation_gaps(metrics, scores)
    reasons: dict[str, list[str]] = {}
    for side, per in gaps.items():
        for metric, why in per.items():
            reasons.setdefault(why, []).append(f"{side} {metric}")
    for why, pairs in reasons.items():
        named = ", ".join(pairs[:4]) + (", ..." if len(pairs) > 4 else "")
        notes.append(f"Pearson r is missing for {len(pairs)} metric(s) ({named}): {why}")
    for strategy, fit in fits.items():
        members = {c: float(lv) for c in scores if (lv := levels.get(c)) is not None and strategy_of(c) == strategy}
        notes += _noise(fit, strategy, members, per_prompt, resamples)
    return {
        "fits": fits,
        "points": points,
        "level_spreads": spreads,
        "correlations": corr,
        "scores": scores,
        "notes": notes,
        "gaps": {"fits": fit_gaps, "correlations": gaps},
    }


def _interval(ci) -> str:
    return "-" if not ci else f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"


def fit_lines(fits: dict, points: dict | None = None) -> list[str]:
    """The fits as a markdown table: slope, its intervals, whether it is within noise, r, points; a row saying why
    for each judged ladder without a fit."""
    lines = [
        "| strategy | slope (points / 100 %) | 95 % CI, prompts + replicates (bootstrap) | 95 % CI, OLS | "
        "within noise | Pearson r | points |",
        "|---|---|---|---|---|---|---|",
    ]
    for s, f in sorted(fits.items()):
        r = "n/a" if f["r"] is None else f"{f['r']:+.3f}"
        sources = " + ".join(f.get("noise_sources") or [])
        boot = _interval(f.get("slope_ci95_bootstrap")) + (f" ({sources})" if f.get("slope_ci95_bootstrap") else "")
        noise = {True: "**yes**", False: "no", None: "-"}[f.get("within_noise")]
        lines.append(
            f"| `{s}` | {f['slope']:+.2f} | {boot} | {_interval(f['slope_ci95'])} | {noise} | {r} | {f['n']} |"
        )
    for s, pts in sorted((points or {}).items()):
        if s not in fits:
            lines.append(f"| `{s}` | no fit: {len(pts)} level(s) judged, a fit needs 3 | - | - | - | - | {len(pts)} |")
    if points is not None and not points:
        lines.append("| (none) | no ladder config was judged | - | - | - | - | 0 |")
    return lines


def spread_lines(spreads: dict) -> list[str]:
    """Per ladder and level: the scores of its replicates (mean, sd, min..max); nothing when no level repeats."""
    if not any(row["n"] > 1 for rows in spreads.values() for row in rows):
        return []
    lines = [
        "",
        "Scores per level across replicates (independent draws of the level, each trained and judged):",
        "",
        "| strategy | level | replicates | mean | sd | min | max |",
        "|---|---|---|---|---|---|---|",
    ]
    for s, rows in sorted(spreads.items()):
        for row in rows:
            sd = "-" if row["sd"] is None else f"{row['sd']:.2f}"
            lines.append(
                f"| `{s}` | {100 * row['level']:.0f} % | {row['n']} | {row['mean']:.2f} | {sd} | "
                f"{row['min']:.2f} | {row['max']:.2f} |"
            )
    return lines


def write_report(
    result: dict, out_dir: str | Path, title: str = "Diversity vs score", note: str = "", win_rates: dict | None = None
) -> Path:
    """``analysis.json``, ``report.md``, ``score_vs_level.png`` and ``correlations.png`` in out_dir."""
    matplotlib = require("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "analysis.json").write_text(json.dumps(result, indent=1, sort_keys=True))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    points = result.get("points") or {}
    for strategy, pts in sorted(points.items()):  # every judged point, fitted or not
        x, y = zip(*pts, strict=True)
        fit = result["fits"].get(strategy)
        if fit is None:
            label = f"{strategy} (no fit: {len(pts)} level(s), a fit needs 3)"
        else:
            r = "n/a" if fit["r"] is None else f"{fit['r']:+.2f}"
            label = f"{strategy} (slope {fit['slope']:+.2f}, r {r})"
        line = ax.plot(np.array(x) * 100, y, "o", label=label)
        if fit is not None:
            xs = np.linspace(0, 1, 2)
            ax.plot(xs * 100, fit["intercept"] + fit["slope"] * xs, "-", color=line[0].get_color(), alpha=0.7)
    ys = [y for pts in points.values() for _, y in pts] + [50.0]
    pad = max(2.0, 0.1 * (max(ys) - min(ys)))
    ax.set_ylim(max(0.0, min(ys) - pad), min(100.0, max(ys) + pad))  # the data's range, with the 50 % line
    ax.set_xlim(-5, 105)
    ax.axhline(50, color="grey", lw=0.8, ls=":")
    if not points:
        ax.text(50, 50, "no ladder config was judged: nothing to plot", ha="center", va="bottom", fontsize=9)
    ax.set_xlabel("diversity level (%)")
    ax.set_ylabel("win-rate vs baseline (%)")
    ax.set_title(title)
    if points:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "score_vs_level.png", dpi=110)
    plt.close(fig)
    corr = result["correlations"]
    grid = np.array(
        [[np.nan if corr[s][m] is None else corr[s][m] for m in METRICS] for s in ("instruction", "response")]
    )
    fig, ax = plt.subplots(figsize=(8, 2.6))
    im = ax.imshow(grid, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(METRICS)), METRICS, rotation=30, ha="right", fontsize=8)
    ax.set_yticks([0, 1], ["instruction", "response"])
    for i in range(2):
        for j in range(len(METRICS)):
            cell = "n/a" if np.isnan(grid[i, j]) else f"{grid[i, j]:+.2f}"
            ax.text(j, i, cell, ha="center", va="center", fontsize=8, color="grey" if cell == "n/a" else "black")
    fig.colorbar(im, ax=ax)
    missing = int(np.isnan(grid).sum())
    ax.set_title(
        "Pearson r between diversity metric and score"
        + (f" (n/a: {missing} undefined, see report.md)" if missing else ""),
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(out / "correlations.png", dpi=110)
    plt.close(fig)
    lines = [f"# {title}", "", note, ""]
    if win_rates:
        lines += [
            "| model | win-rate (%) | 95 % CI | prompts scored | unparseable verdicts |",
            "|---|---|---|---|---|",
        ]
        for model, w in win_rates.items():
            lines.append(
                f"| `{model}` | {w['win_rate']:.1f} | [{w['ci95'][0]:.1f}, {w['ci95'][1]:.1f}] | "
                f"{w['prompts_scored']} / {w['prompts_total']} | {w['unparseable']} |"
            )
        lines.append("")
    lines += [f"- {n}" for n in result.get("notes", [])] + ([""] if result.get("notes") else [])
    lines += fit_lines(result["fits"], result.get("points") or {})
    lines += spread_lines(result.get("level_spreads") or {})
    lines += ["", "| side | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS)]
    for side in ("instruction", "response"):
        lines.append(
            f"| {side} | "
            + " | ".join("-" if corr[side][m] is None else f"{corr[side][m]:+.2f}" for m in METRICS)
            + " |"
        )
    lines += ["", "![score vs level](score_vs_level.png)", "", "![correlations](correlations.png)", ""]
    (out / "report.md").write_text("\n".join(lines))
    return out
