"""The Ray cluster of a run: joined (``--ray_address auto`` or ``ray://HOST:PORT``) or started for it, quiet.

A cluster this module starts is stopped when the run ends; one that was already running in this process (a test
fixture, a notebook) or that the run joined is left as it was. Ray is imported only here, lazily.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from macro2micro.dataset_builder.engine.options import EngineOptions
from macro2micro.dataset_builder.utils import require

logger = logging.getLogger(__name__)


def _quiet(ray: Any) -> None:
    """No progress bars, no per-operator INFO lines: the run's own log says what happens."""
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.enable_operator_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.enable_auto_log_stats = False
    ctx.verbose_stats_logs = False


@contextlib.contextmanager
def ray_session(options: EngineOptions) -> Iterator[Any]:
    """Yield the ``ray`` module with a connected cluster (see the module docstring for who stops it)."""
    ray = require("ray")
    require("ray.data")
    started = False
    if not ray.is_initialized():
        os.environ.setdefault("RAY_DEDUP_LOGS", "1")
        kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
        if options.ray_address is None:
            kwargs.update(num_cpus=len(os.sched_getaffinity(0)), include_dashboard=False)
        ray.init(address=options.ray_address, **kwargs)
        started = True
        logger.info("ray: %s cluster, resources %s", "joined" if options.ray_address else "local", cluster(ray))
    _quiet(ray)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def cluster(ray: Any) -> dict[str, float]:
    """The cluster's CPUs and GPUs."""
    res = ray.cluster_resources()
    return {"CPU": float(res.get("CPU", 0)), "GPU": float(res.get("GPU", 0))}
