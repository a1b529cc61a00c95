"""Benchmark of the ladder engine (not a test): speed against a plain-Python reference, full-scale time, memory.

    python bench/ladder.py                 # synthetic runs only
    python bench/ladder.py --embedded      # plus the micro_response ladder of the embedded corpus
    python bench/ladder.py --argmin        # plus the argmin prune the heap replaced, timed alongside
    python bench/ladder.py --previous REV  # plus the prune of git revision REV (e.g. 2867989, numpy heap)
    python bench/ladder.py --jit           # plus numba's compile and cache-load time, in fresh processes

1. A size the reference can finish (default 15,000 samples x 2,500 types): the plain-Python
   sample-greedy loop below vs ``macro2micro.dataset_builder.selection.ladder``; both build all 7 levels.
2. The paper's scale: 117,000 samples, 12,000 Zipf-distributed types, ~20 types per sample,
   N = 10,000: pruning plus 7 levels of balanced sampling, engine only.
3. Pruning alone at a larger scale (default 1,000,000 samples x 50,000 types, same shape as 2),
   best of ``--repeat`` runs, with its own peak memory.
Peak memory is the process's maximum resident set (numpy and scipy included). Run 3 also reports,
on Linux, the resident set before pruning and its peak during pruning alone: the high-water mark
is reset first, which resets the process maximum too, so run 3 records that maximum beforehand.
``--argmin`` times ``prune_argmin`` of tests/dataset_builder/test_ladder.py (the implementation
before the heap, O(types) per dropped type) on the same matrices in the same process; it needs
the test dependencies (pytest, hypothesis) and adds about ten times the prune time of run 3.
``--previous REV`` does the same for ``prune`` (``macro2micro/dataset_builder/selection/ladder.py``) at revision REV
(read with ``git show``; the file must be self-contained, as it is up to 2867989). With either, runs
1 and 2 time the current ``prune`` and these alone, best of ``--repeat``; run 3 times these once.
``prune`` runs numba kernels: the first call in a process imports numba and loads them from its
cache, or compiles them (``first_prune_call_s``, never in a timed figure). ``--jit`` measures both
in fresh processes with an empty ``NUMBA_CACHE_DIR``: the first compiles, the second loads.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from macro2micro.dataset_builder.selection.ladder import as_binary_csr, level_k, prune  # noqa: E402
from macro2micro.dataset_builder.selection.sampling import type_sample  # noqa: E402


def synthetic(n: int, n_types: int, per_sample: int, seed: int = 0) -> sp.csr_matrix:
    """Zipf-distributed types (exponent 1), ``per_sample`` draws per sample, duplicates merged."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_types + 1)
    p /= p.sum()
    cols = rng.choice(n_types, size=n * per_sample, p=p)
    rows = np.repeat(np.arange(n), per_sample)
    return as_binary_csr(sp.csr_matrix((np.ones(len(cols), dtype=np.int8), (rows, cols)), shape=(n, n_types)))


def reference(x: sp.csr_matrix, budget: int, levels: int, seed: int) -> list[list[int]]:
    """The straightforward implementation: Python lists and loops, one sample and one type at a time."""
    n, n_types = x.shape
    rows = [x.indices[x.indptr[i] : x.indptr[i + 1]].tolist() for i in range(n)]
    cols = [[] for _ in range(n_types)]
    for i, r in enumerate(rows):
        for t in r:
            cols[t].append(i)
    rnd = random.Random(seed)
    tie = list(range(n_types))
    rnd.shuffle(tie)
    support = [len(c) for c in cols]
    alive = [True] * n
    alive_types = set(range(n_types))
    drop = []
    while alive_types:
        t = min(alive_types, key=lambda u: (support[u], tie[u]))
        alive_types.remove(t)
        drop.append(t)
        for s in cols[t]:
            if alive[s]:
                alive[s] = False
                for u in rows[s]:
                    support[u] -= 1
    rank = {t: i + 1 for i, t in enumerate(reversed(drop))}
    entry = [max(rank[t] for t in r) if r else 0 for r in rows]
    sizes = [0] * (n_types + 1)
    for e in entry:
        if e:
            sizes[e] += 1
    for k in range(1, n_types + 1):
        sizes[k] += sizes[k - 1]
    k_min = next(k for k in range(n_types + 1) if sizes[k] >= budget)
    out = []
    for i in range(levels):
        k = math.floor(k_min + i / (levels - 1) * (n_types - k_min) + 0.5)
        pool = [s for s in range(n) if 1 <= entry[s] <= k]
        admitted = {t for s in pool for t in rows[s]}
        quota = max(1, math.ceil(budget * sum(len(rows[s]) for s in pool) / len(pool) / len(admitted)))
        cover = {t: 0 for t in admitted}
        chosen: set[int] = set()
        carriers = {t: [s for s in cols[t] if 1 <= entry[s] <= k] for t in admitted}
        while len(chosen) < budget:
            todo = [t for t in admitted if cover[t] < quota and any(s not in chosen for s in carriers[t])]
            if not todo:
                break
            t = min(todo, key=lambda u: (cover[u], tie[u]))
            s = rnd.choice([s for s in carriers[t] if s not in chosen])
            chosen.add(s)
            for u in rows[s]:
                cover[u] += 1
        rest = [s for s in pool if s not in chosen]
        chosen |= set(rnd.sample(rest, budget - len(chosen)))
        out.append(sorted(chosen))
    return out


def engine(
    x: sp.csr_matrix, budget: int, levels: int, seed: int, quota: int | str = 1
) -> tuple[list[np.ndarray], dict]:
    t0 = time.perf_counter()
    ladder = prune(x, seed)
    t1 = time.perf_counter()
    out = []
    for i in range(levels):
        k, _, _ = level_k(ladder, budget, i / (levels - 1))
        # the even spread: the method the plain-Python reference implements (the default quota 1 does less work)
        idx, _ = type_sample(x, ladder.pool(k), budget, np.random.default_rng([seed, i]), quota=quota)
        out.append(idx)
    t2 = time.perf_counter()
    return out, {"prune_s": round(t1 - t0, 3), "sample_7_levels_s": round(t2 - t1, 3), "total_s": round(t2 - t0, 3)}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> bool:
    """Reset the process's resident-set high-water mark (Linux only); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def high_water_mb() -> float:
    """The resident-set high-water mark since the last :func:`reset_peak` (Linux), else the process peak."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return peak_mb()
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), peak_mb())


def time_prune(fn, x: sp.csr_matrix, repeat: int = 1, memory: bool = False) -> dict:
    """Best wall time of ``repeat`` calls of ``fn(x, 0)``.

    Args:
        fn: a prune function.
        x: the matrix.
        repeat: calls; the fastest counts.
        memory: also the resident set before the calls and its peak during them (Linux; resets the
            process's high-water mark, and with it ``peak_mb``).
    """
    can_reset = memory and reset_peak()
    before = high_water_mb()  # right after a reset the high-water mark is the current resident set
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn(x, 0)
        best = min(best, time.perf_counter() - start)
    out = {"s": round(best, 3)}
    if can_reset:
        out.update(rss_before_mb=round(before, 1), peak_rss_mb=round(high_water_mb(), 1))
    return out


def prune_at(rev: str):
    """``prune`` of ``macro2micro/dataset_builder/selection/ladder.py`` as it was at git revision ``rev``."""
    path = "macro2micro/dataset_builder/selection/ladder.py"
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:{path}"], check=True, capture_output=True, text=True
    ).stdout
    module = types.ModuleType(f"ladder_at_{rev}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:{path}", "exec"), module.__dict__)
    return module.prune


_JIT_PROBE = """
import time
start = time.perf_counter()
import numpy as np, scipy.sparse as sp
from dataset_builder import ladder
imported = time.perf_counter()
ladder._kernels()
numba_imported = time.perf_counter()
ladder.prune(sp.csr_matrix(np.eye(3, dtype=np.int8)))
done = time.perf_counter()
print(round(imported - start, 3), round(numba_imported - imported, 3), round(done - numba_imported, 3))
"""


def jit_costs() -> dict:
    """Import and first-call times of ``prune`` in two fresh processes sharing an empty numba cache folder."""
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
        for run in ("cold_compile", "warm_cache"):
            line = subprocess.run(
                [sys.executable, "-c", _JIT_PROBE], check=True, capture_output=True, text=True, env=env
            ).stdout.split()
            out[run] = dict(zip(("import_ladder_s", "import_numba_s", "first_prune_s"), map(float, line), strict=True))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", default="15000x2500", help="reference size, SAMPLESxTYPES")
    ap.add_argument("--full", default="117000x12000", help="full size, SAMPLESxTYPES")
    ap.add_argument("--per-sample", type=int, default=20)
    ap.add_argument("--budget", type=int, default=10_000)
    ap.add_argument(
        "--scale", default="1000000x50000", help="pruning-only size, SAMPLESxTYPES; an empty string skips this run"
    )
    ap.add_argument("--repeat", type=int, default=3, help="pruning-only runs at --scale; the best counts")
    ap.add_argument(
        "--argmin",
        action="store_true",
        help="also time the argmin prune that the heap replaced (tests/dataset_builder/test_ladder.py)",
    )
    ap.add_argument(
        "--previous",
        default="",
        metavar="REV",
        help="also time prune of macro2micro/dataset_builder/selection/ladder.py at this git revision (e.g. 2867989)",
    )
    ap.add_argument("--jit", action="store_true", help="also time numba's compile and cache load in fresh processes")
    ap.add_argument("--embedded", action="store_true", help="also time the embedded corpus's micro ladder")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = ap.parse_args()
    results: dict = {"load_avg_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    if args.jit:
        results["jit"] = jit_costs()
        print(json.dumps({"jit": results["jit"]}), flush=True)
    start = time.perf_counter()
    prune(sp.csr_matrix(np.eye(3, dtype=np.int8)))  # imports numba, loads (or compiles) the kernels
    results["first_prune_call_s"] = round(time.perf_counter() - start, 3)
    others = {}
    if args.argmin:
        from tests.dataset_builder.test_ladder import prune_argmin

        others["prune_argmin"] = prune_argmin
    if args.previous:
        others[f"prune_at_{args.previous}"] = prune_at(args.previous)

    n, t = map(int, args.small.split("x"))
    x = synthetic(n, t, args.per_sample, seed=1)
    small_budget = max(1, n // 12)
    start = time.perf_counter()
    reference(x, small_budget, 7, 0)
    ref_s = time.perf_counter() - start
    engine(x, small_budget, 7, 0, "even")  # warm-up (imports, JIT, allocator)
    _, eng = engine(x, small_budget, 7, 0, "even")
    results["small"] = {
        "samples": n,
        "types": t,
        "nnz": int(x.nnz),
        "budget": small_budget,
        "reference_s": round(ref_s, 3),
        "engine": eng,
        "speedup": round(ref_s / eng["total_s"], 1),
    }
    if others:
        results["small"]["prune_s"] = time_prune(prune, x, args.repeat)["s"]
    for name, fn in others.items():
        results["small"][f"{name}_s"] = time_prune(fn, x, args.repeat)["s"]
    print(json.dumps(results["small"]), flush=True)

    n, t = map(int, args.full.split("x"))
    start = time.perf_counter()
    x = synthetic(n, t, args.per_sample, seed=2)
    gen_s = time.perf_counter() - start
    _, eng = engine(x, args.budget, 7, 0)
    results["full"] = {
        "samples": n,
        "types": int((np.diff(x.tocsc().indptr) > 0).sum()),
        "nnz": int(x.nnz),
        "mean_types_per_sample": round(x.nnz / n, 2),
        "budget": args.budget,
        "generate_s": round(gen_s, 2),
        "engine": eng,
        "peak_rss_mb": round(peak_mb(), 1),
    }
    if others:
        results["full"]["prune_s"] = time_prune(prune, x, args.repeat)["s"]
    for name, fn in others.items():
        results["full"][f"{name}_s"] = time_prune(fn, x, args.repeat)["s"]
    print(json.dumps(results["full"]), flush=True)

    if args.scale:
        n, t = map(int, args.scale.split("x"))
        del x
        start = time.perf_counter()
        x = synthetic(n, t, args.per_sample, seed=3)
        gen_s = time.perf_counter() - start
        results["scale"] = {
            "samples": n,
            "types": t,
            "nnz": int(x.nnz),
            "generate_s": round(gen_s, 2),
            "peak_rss_mb_before": round(peak_mb(), 1),
            "repeat": args.repeat,
            "prune": time_prune(prune, x, args.repeat, memory=True),
        }
        for name, fn in others.items():
            results["scale"][name] = time_prune(fn, x, memory=True)
        print(json.dumps(results["scale"]), flush=True)

    if args.embedded:
        from macro2micro.dataset_builder.corpus.ingest import CorpusOptions, load_corpus
        from macro2micro.dataset_builder.ladders.registry import make_strategy
        from macro2micro.dataset_builder.models.assets import DEFAULT_CORPUS, resolve_corpus

        ds, _ = load_corpus(
            resolve_corpus(DEFAULT_CORPUS), CorpusOptions(max_instruction_chars=4000, max_response_chars=8000)
        )
        strategy = make_strategy("micro_response")
        start = time.perf_counter()
        strategy.fit(ds, 0)
        fit_s = time.perf_counter() - start
        _, eng = engine(strategy.types_, 1000, 7, 0)
        results["embedded"] = {
            "rows": len(ds),
            "types": strategy.types_.shape[1],
            "nnz": int(strategy.types_.nnz),
            "features_s(tokenize or cache)": round(fit_s, 2),
            "engine": eng,
        }
        print(json.dumps(results["embedded"]), flush=True)
    results["load_avg_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(json.dumps({k: results[k] for k in ("load_avg_start", "first_prune_call_s", "load_avg_end")}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
