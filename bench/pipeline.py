"""The micro pipeline at the paper's scale, against the cost of tokenizing its corpus (not a test).

    python bench/paper_corpus.py --out bench_out/paper_corpus.jsonl     # once: 117,000 real pairs
    python bench/pipeline.py [--corpus bench_out/paper_corpus.jsonl] [--budget 10000] [--json bench_out/pipeline.json]

Measured in one run, each stage as a user runs it (``python -m macro2micro ...`` in its own process):

1. the yardstick: the raw fast tokenizer (``tokenizers``' ``encode_batch_fast``) on both sides of the
   ingested corpus, in this process, with the model's tokenizer already loaded;
2. micro features: ``macro2micro.dataset_builder.corpus.features.token_features`` on the same texts (no cache): its
   throughput as a share of the raw tokenizer's (goal: at least 0.9);
3. cold: ingest, build (micro_instruction + micro_response + random, N = 10,000, 7 levels) and publish
   without embeddings, with an empty feature cache; then warm: the same three with the cache filled
   by the cold run. Goals: warm at most 3x and cold at most 5x the yardstick.
Each stage's wall time and peak RSS (from the kernel's accounting of the child) are printed, and the
ratios. Absolute times are context; the ratios are the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_stage(args: list[str], env: dict) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one ``macro2micro`` command in its own process."""
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "macro2micro", *args], env=env, stdout=log, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            log.seek(0)
            raise SystemExit(f"macro2micro {args[0]} failed:\n{log.read().decode()[-3000:]}")
    return seconds, usage.ru_maxrss / 1024


def yardstick(corpus_dir: Path, tokenizer_spec: str) -> dict:
    """The raw fast tokenizer and our micro features on both sides of the ingested corpus."""
    import datasets

    from macro2micro.dataset_builder.corpus.features import token_features
    from macro2micro.dataset_builder.corpus.ingest import column
    from macro2micro.dataset_builder.models.tokenizers import load_tokenizer

    ds = datasets.load_from_disk(str(corpus_dir / "dataset"))
    texts = {side: column(ds, side) for side in ("instruction", "response")}
    tok = load_tokenizer(tokenizer_spec)
    backend = tok._tokenizer
    backend.encode_batch_fast(["warm up"], add_special_tokens=False)
    out = {"rows": len(ds), "chars": sum(len(t) for side in texts.values() for t in side)}
    raw, ours = [], []
    for _ in range(3):  # median of three pairs, interleaved so drift in machine load hits both alike
        start = time.perf_counter()
        for side in texts.values():
            for i in range(0, len(side), 1024):
                backend.encode_batch_fast(side[i : i + 1024], add_special_tokens=False)
        raw.append(time.perf_counter() - start)
        start = time.perf_counter()
        for side in texts.values():
            token_features(side, tok, use_cache=False)
        ours.append(time.perf_counter() - start)
    out["raw_tokenizer_s"] = round(sorted(raw)[1], 2)
    out["micro_features_s"] = round(sorted(ours)[1], 2)
    out["micro_features_throughput_vs_raw"] = round(sorted(raw)[1] / sorted(ours)[1], 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "bench_out" / "paper_corpus.jsonl")
    ap.add_argument("--budget", type=int, default=10_000)
    ap.add_argument("--tokenizer", default="embedded:smollm2-135m-instruct")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if not args.corpus.exists():
        raise SystemExit(f"{args.corpus}: missing; make it with `python bench/paper_corpus.py --out {args.corpus}`")
    work = Path(tempfile.mkdtemp(prefix="m2m-pipeline-"))
    env = {
        **os.environ,
        "MACRO2MICRO_CACHE": str(work / "cache"),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    # The embedded model is converted once per machine: copy the converted folder so the cold run starts from
    # an empty *feature* cache, not from a GGUF conversion that no real run repeats.
    from macro2micro.dataset_builder.models.assets import resolve_tokenizer

    shutil.copytree(
        Path(resolve_tokenizer(args.tokenizer)), work / "cache/assets" / Path(resolve_tokenizer(args.tokenizer)).name
    )
    stages = {
        "ingest": ["ingest", "--corpus", str(args.corpus), "--out", str(work / "corpus")],
        "build": [
            "build",
            "--corpus",
            str(work / "corpus"),
            "--strategies",
            "micro_instruction",
            "micro_response",
            "random",
            "--budget",
            str(args.budget),
            "--tokenizer",
            args.tokenizer,
            "--out",
            str(work / "subsets"),
        ],
        "publish": [
            "publish",
            "--corpus",
            str(work / "corpus"),
            "--subsets",
            str(work / "subsets"),
            "--tokenizer",
            args.tokenizer,
            "--embedder",
            "none",
            "--out",
            str(work / "repo"),
        ],
    }
    results: dict = {"budget": args.budget, "corpus": str(args.corpus)}
    for run in ("cold", "warm"):
        results[run] = {}
        for name, stage in stages.items():
            seconds, peak = run_stage(stage, env)
            results[run][name] = {"s": round(seconds, 1), "peak_rss_mb": round(peak)}
            print(json.dumps({run: {name: results[run][name]}}), flush=True)
        results[run]["total_s"] = round(sum(v["s"] for v in results[run].values()), 1)
    results["yardstick"] = yardstick(work / "corpus", args.tokenizer)
    raw = results["yardstick"]["raw_tokenizer_s"]
    results["ratios"] = {
        "cold_vs_raw_tokenizer": round(results["cold"]["total_s"] / raw, 2),
        "warm_vs_raw_tokenizer": round(results["warm"]["total_s"] / raw, 2),
        "micro_features_throughput_vs_raw": results["yardstick"]["micro_features_throughput_vs_raw"],
    }
    results["goals_met"] = {
        "cold <= 5x": results["ratios"]["cold_vs_raw_tokenizer"] <= 5,
        "warm <= 3x": results["ratios"]["warm_vs_raw_tokenizer"] <= 3,
        "features >= 0.9": results["ratios"]["micro_features_throughput_vs_raw"] >= 0.9,
    }
    print(json.dumps({k: results[k] for k in ("yardstick", "ratios", "goals_met")}, indent=1), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
