"""How much of a ladder's slope is noise: the spread of scores across replicates, and a bootstrap interval for the
slope that resamples both sources of noise.

A ladder's score moves for two reasons besides diversity: which rows the sampler drew at each level (the
*replicates* of a level are independent draws: ``build --replicates R``), and which prompts the judge scored
(a finite sample of the prompt population). :func:`bootstrap_slope` resamples both, at once, many times:

- prompts: one resample of the prompt indices per round, shared by every adapter. All adapters answered the same
  prompts, so a hard prompt lowers them all; resampling it for each adapter apart would count that shared
  difficulty as noise in the slope, which it is not (it moves every level alike);
- replicates: within each level, R draws with replacement from the level's R adapters (nothing to resample when
  a level was drawn once: the interval then covers the prompts only, and says so).

Each round refits the ordinary least-squares slope over every (level, score) point; the 2.5 and 97.5 percentiles
of the rounds' slopes are the interval. A slope whose interval contains 0 is *within noise*.
"""

from __future__ import annotations

import numpy as np

RESAMPLES = 2000


def level_spreads(points: list[tuple[float, float]]) -> list[dict]:
    """Per level: how many scores (replicates), their mean, sample standard deviation, min and max."""
    levels: dict[float, list[float]] = {}
    for level, score in points:
        levels.setdefault(level, []).append(score)
    out = []
    for level in sorted(levels):
        y = np.array(levels[level], dtype=np.float64)
        out.append(
            {
                "level": level,
                "n": int(len(y)),
                "mean": round(float(y.mean()), 4),
                "sd": round(float(y.std(ddof=1)), 4) if len(y) > 1 else None,
                "min": round(float(y.min()), 4),
                "max": round(float(y.max()), 4),
            }
        )
    return out


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    xc = x - x.mean()
    return float((xc * (y - y.mean())).sum() / (xc * xc).sum())


def bootstrap_slope(
    levels: dict[str, float],
    per_prompt: dict[str, list[float | None]],
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> dict | None:
    """A 95 % percentile interval for a ladder's slope (score points per 100 % diversity) from both noise sources.

    Args:
        levels: ``{config: level in [0, 1]}`` of the ladder's judged adapters (replicates share a level).
        per_prompt: ``{config: [score of each prompt, 0..1, None where unparseable]}`` (the judge's verdicts,
            both orders averaged), every list over the same prompts in the same order.
        resamples: bootstrap rounds.
        seed: seeds the rounds.

    Returns:
        ``{"slope_ci95", "sources", "resamples", "replicates_per_level"}``, or None when there is nothing to
        resample (fewer than 2 levels with per-prompt scores).
    """
    configs = [c for c in levels if per_prompt.get(c) and any(v is not None for v in per_prompt[c])]
    if len({levels[c] for c in configs}) < 2:
        return None
    lengths = {len(per_prompt[c]) for c in configs}
    if len(lengths) != 1:
        raise ValueError(f"per-prompt scores over different prompt counts {sorted(lengths)}: not one prompt set")
    scores = np.array([[np.nan if v is None else v for v in per_prompt[c]] for c in configs], dtype=np.float64)
    x = np.array([levels[c] for c in configs], dtype=np.float64)
    groups = [np.flatnonzero(x == level) for level in np.unique(x)]
    n_prompts = scores.shape[1]
    rng = np.random.default_rng(seed)
    slopes = []
    for _ in range(resamples):
        prompts = rng.integers(0, n_prompts, n_prompts)
        rows = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
        sample = scores[rows][:, prompts]
        scored = ~np.isnan(sample)
        keep = scored.any(axis=1)  # an adapter whose resampled prompts all went unparsed has no score this round
        if len(np.unique(x[rows][keep])) < 2:
            continue
        y = 100 * np.where(scored, sample, 0).sum(axis=1)[keep] / scored.sum(axis=1)[keep]
        slopes.append(_slope(x[rows][keep], y))
    if not slopes:
        return None
    lo, hi = np.quantile(slopes, [0.025, 0.975])
    replicates = [len(g) for g in groups]
    sources = (["prompts"] if n_prompts > 1 else []) + (["replicates"] if max(replicates) > 1 else [])
    return {
        "slope_ci95": [round(float(lo), 4), round(float(hi), 4)],
        "sources": sources,
        "resamples": len(slopes),
        "replicates_per_level": replicates,
    }
