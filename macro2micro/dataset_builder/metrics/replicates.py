"""Each metric's spread across the replicates of a config (independent draws of one level: ``--replicates``).

A level drawn R times gives R values of every metric; their spread is the part of a difference between two
levels that the draw alone can make. Recorded on replicate 0's entry of ``metrics/diversity.json``::

    "micro_response_max": {..., "replicates": {"configs": ["micro_response_max", "micro_response_max_r1", ...],
        "instruction": {"distinct_1": {"mean": ..., "sd": ..., "min": ..., "max": ...}, ...}, "response": {...}}}
"""

from __future__ import annotations

import numpy as np

from macro2micro.dataset_builder.defaults import SIDES
from macro2micro.dataset_builder.metrics.diversity import METRICS
from macro2micro.dataset_builder.naming import replicate_of


def replicate_groups(configs) -> dict[str, list[str]]:
    """``{replicate 0's config: [it, its replicates in order]}`` for the configs that have replicates."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for config in configs:
        base, r = replicate_of(config)
        groups.setdefault(base, []).append((r, config))
    return {base: [c for _, c in sorted(members)] for base, members in groups.items() if len(members) > 1}


def spread(values) -> dict[str, float | int]:
    """Mean, sample standard deviation, min and max of one metric over the replicates that have it."""
    x = np.array([v for v in values if v is not None], dtype=np.float64)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return {"n": 0}
    return {
        "n": int(len(x)),
        "mean": round(float(x.mean()), 6),
        "sd": round(float(x.std(ddof=1)), 6) if len(x) > 1 else 0.0,
        "min": round(float(x.min()), 6),
        "max": round(float(x.max()), 6),
    }


def add_replicate_spread(metrics: dict[str, dict]) -> dict[str, dict]:
    """Add ``replicates`` (the members and each metric's spread per side) to replicate 0's entry; returns metrics."""
    for base, members in replicate_groups(metrics).items():
        if base not in metrics:
            continue
        metrics[base]["replicates"] = {
            "configs": members,
            **{
                side: {m: spread((metrics[c].get(side) or {}).get(m) for c in members) for m in METRICS}
                for side in SIDES
            },
        }
    return metrics
