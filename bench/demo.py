"""The demo's first run, stage by stage: where its minutes go (not a test).

    python bench/demo.py [--json bench_out/demo.json] [--keep DIR]

Runs ``macro2micro demo`` as a user's first run does: in its own process, with an empty
``$MACRO2MICRO_CACHE`` (so the embedded model is converted from its GGUF file, every feature and
embedding is computed, no answer is cached), an empty Hugging Face cache and an empty numba cache
(``NUMBA_CACHE_DIR``: every kernel compiles). The demo's own stage lines (``demo 1/5: ...``) mark the
stages; at each one the child records wall time, CPU time (user + sys of all its threads, which is what
a loaded machine cannot inflate much) and peak RSS. ``setup`` is imports, checks and the model's
conversion before the first stage.

Prints a table to paste into the README and writes every figure to ``--json``. Wall times need a quiet
machine; CPU times are comparable across runs on a busy one.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import demo_table  # bench/ is this script's own folder on sys.path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("setup", "ingest", "build", "metrics and repo", "training", "answers and judging")


def _usage() -> tuple[float, float, float]:
    """``(wall, cpu, peak RSS MB)`` of this process so far (children included)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    return time.monotonic(), cpu, max(own.ru_maxrss, kids.ru_maxrss) / 1024


class _StageClock(logging.Handler):
    """Marks a stage boundary at every ``demo N/5`` line the demo logs."""

    def __init__(self, start: tuple[float, float, float]):
        super().__init__(logging.INFO)
        self.marks = [start]

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith("demo ") and "/5:" in str(record.msg):
            self.marks.append(_usage())


def child(out: str, report: str) -> None:
    """Run the console script's ``demo`` in this process, then write the stage figures to ``report``."""
    # setup starts when the parent started this process (CLOCK_MONOTONIC is one clock for all processes)
    clock = _StageClock((float(os.environ["M2M_BENCH_T0"]), 0.0, 0.0))
    logging.getLogger("macro2micro.api.demo").addHandler(clock)
    from macro2micro.cli.main import main

    code = main(["demo", "--out", out])
    clock.marks.append(_usage())
    stages = []
    for name, (a, b) in zip(STAGES, zip(clock.marks, clock.marks[1:], strict=False), strict=False):
        wall, cpu = round(b[0] - a[0], 1), round(b[1] - a[1], 1)
        stages.append({"stage": name, "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": round(b[2])})
    Path(report).write_text(json.dumps({"exit_code": code, "stages": stages}, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--keep", type=Path, default=None, help="leave the run's folder (demo_out, caches) here")
    ap.add_argument("--child", nargs=2, metavar=("OUT", "REPORT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    work = Path(tempfile.mkdtemp(prefix="m2m-demo-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "MACRO2MICRO_CACHE": str(work / "cache"),
        "HF_HOME": str(work / "hf"),
        "NUMBA_CACHE_DIR": str(work / "numba"),
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    report = work / "stages.json"
    log = work / "demo.log"
    start = time.monotonic()
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", str(work / "demo_out"), str(report)],
            env={**env, "M2M_BENCH_T0": repr(start)},
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(proc.pid, 0)
    total = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0 or not report.exists():
        raise SystemExit(f"the demo failed; its log: {log}\n{log.read_text()[-3000:]}")
    stages = json.loads(report.read_text())["stages"]
    result = {
        "what": "macro2micro demo, first run: empty MACRO2MICRO_CACHE, HF and numba caches",
        "cpus": len(os.sched_getaffinity(0)),
        "omp_num_threads": env["OMP_NUM_THREADS"],
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "total_wall_s": round(total, 1),
        "total_cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "stages": stages,
    }
    print("\n".join(demo_table(stages)))
    print(
        f"\nthe whole process: {total:.0f} s wall, {result['total_cpu_s']:.0f} s CPU; "
        f"load average {result['load_average_1min_at_end']} at its end"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
