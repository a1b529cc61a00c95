"""``--engine ray`` against ``--engine local`` at the paper's scale (not a test).

    python bench/paper_corpus.py --out bench_out/paper_corpus.jsonl     # once: 117,000 real pairs
    python bench/engine.py [--corpus bench_out/paper_corpus.jsonl] [--budget 10000] [--json bench_out/engine.json]
    python bench/engine.py --stages ingest --json bench_out/engine_ingest.json     # rerun some stages only
    python bench/engine.py --in_process_only bench_out/engine.json                # redo the per-block figures

Each stage runs as a user runs it (``python -m macro2micro ...`` in its own process), once per engine, each
with an empty feature cache; the Ray runs start their own local cluster of this machine's CPUs (its start-up
is part of their time, as it is of a user's run):

1. ingest: the JSONL corpus read and cleaned;
2. build: micro_instruction + micro_response + random, N = 10,000, 7 levels (token ids of both sides, band
   counts, the ladders); the two engines' manifests are compared byte for byte;
3. embeddings: the static embedder on the response side (``macro2micro.build`` with macro_response would add
   HDBSCAN, the same on both engines; this stage is the part the engine changes).

Per stage: wall time, CPU time (user + system of the command and every process it started, Ray's workers
included, sampled every 0.2 s with psutil: a process that ends between two samples loses its last 0.2 s) and
the driver's peak RSS. Then the per-block throughput of one worker (rows/s of the functions the Ray workers run,
on one block, in this process), and the micro type matrix's entries per row (what the driver holds at 10M rows).
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


def run_stage(args: list[str], env: dict) -> dict:
    """Wall seconds, CPU seconds of the process tree, and peak RSS (MB: the driver's, and the tree's sum, which
    counts shared memory once per process) of one command, sampled every 0.2 s."""
    import psutil

    cpu: dict[int, float] = {}
    driver_rss = tree_rss = 0
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=log)
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                rss = 0
                for p in tree:
                    times, mem = p.cpu_times(), p.memory_info().rss
                    cpu[p.pid] = times.user + times.system
                    rss += mem
                    if p.pid == root.pid:
                        driver_rss = max(driver_rss, mem)
                tree_rss = max(tree_rss, rss)
            except psutil.Error:
                pass
            time.sleep(0.2)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            log.seek(0)
            raise SystemExit(f"{' '.join(args[:4])} failed:\n{log.read().decode()[-3000:]}")
    return {
        "s": round(seconds, 1),
        "cpu_s": round(sum(cpu.values()), 1),
        "driver_peak_rss_mb": round(driver_rss / 2**20),
        "tree_peak_rss_mb": round(tree_rss / 2**20),
    }


def macro2micro(*args: str) -> list[str]:
    return [sys.executable, "-m", "macro2micro", *args]


EMBED = """
import sys, datasets
from macro2micro.dataset_builder.corpus.ingest import column, corpus_fingerprint
from macro2micro.dataset_builder.engine.options import EngineOptions
from macro2micro.dataset_builder.options import EmbedderOptions
ds = datasets.load_from_disk(sys.argv[1] + "/dataset")
if sys.argv[2] == "ray":
    from macro2micro.dataset_builder.engine.cluster import ray_session
    from macro2micro.dataset_builder.engine.features import ray_embeddings
    with ray_session(EngineOptions("ray")) as ray:
        ray_embeddings(ray, ds, ["response"], EmbedderOptions("static"), EngineOptions("ray"), {})
else:
    from macro2micro.dataset_builder.models.embeddings import embed_texts
    embed_texts(column(ds, "response"), "static", fingerprint=corpus_fingerprint(ds) + ":response", max_seq_length=128)
"""


def per_block(corpus_dir: Path, tokenizer: str, rows: int) -> dict:
    """Rows/s of one worker: the Ray workers' own functions on one block, in this process."""
    import datasets

    from macro2micro.dataset_builder.engine.features import Embedder, _row_blocks, tokenize_block
    from macro2micro.dataset_builder.models.tokenizers import load_tokenizer
    from macro2micro.dataset_builder.utils import torch_threads

    ds = datasets.load_from_disk(str(corpus_dir / "dataset"))
    rows = min(rows, len(ds))
    block = _row_blocks(ds.select(range(rows)), ["instruction", "response"], rows)[0]
    load_tokenizer(tokenizer)
    out = {"rows": rows}
    os.environ["MACRO2MICRO_TORCH_THREADS"] = "1"
    torch_threads()
    embedder = Embedder("static", 128, ["response"], "cpu")
    for name, work in (
        ("tokenize", lambda: tokenize_block(block, ["instruction", "response"], tokenizer)),
        ("embed_static", lambda: embedder(block)),
    ):
        out[f"{name}_rows_per_s"], out[f"{name}_rows_per_cpu_s"] = _rates(rows, work)
    return out


def _rates(rows: int, work) -> tuple[int, int]:
    """Rows per wall second and per CPU second (this process, all its threads) of ``work()``: on a loaded machine
    the second is what one worker on a core of its own would do."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return round(rows / (time.perf_counter() - wall)), round(rows / (time.process_time() - cpu))


def clean_rate(corpus: Path, rows: int) -> tuple[int, int]:
    """Rows/s of one ingest worker: one block of ``rows`` JSONL lines read and cleaned."""
    from macro2micro.dataset_builder.engine.corpus import clean_block, plan
    from macro2micro.dataset_builder.options import CorpusOptions

    options = CorpusOptions(corpus=[str(corpus)])
    first = plan([corpus], options, rows)[0]
    batch = {k: [v] for k, v in first.items()}
    return _rates(first_rows(corpus, rows), lambda: clean_block(batch, options))


def first_rows(corpus: Path, rows: int) -> int:
    with open(corpus, "rb") as f:
        return sum(1 for _, line in zip(range(rows), f, strict=False) if line.strip())


def type_matrix(cache: Path, corpus_dir: Path, tokenizer: str) -> dict:
    """Entries (nnz) per row of the micro type matrix of each side, from the build's cached token ids."""
    import datasets

    from macro2micro.dataset_builder.corpus.features import side_features
    from macro2micro.dataset_builder.types.micro import Bands, mid_band_matrix

    os.environ["MACRO2MICRO_CACHE"] = str(cache)
    ds = datasets.load_from_disk(str(corpus_dir / "dataset"))
    out = {}
    for side in ("instruction", "response"):
        feats = side_features(ds, side, tokenizer)
        matrix, token_ids, bands = mid_band_matrix(feats, Bands())
        out[side] = {
            "nnz": int(matrix.nnz),
            "nnz_per_row": round(matrix.nnz / len(ds), 2),
            "types": len(token_ids),
            "tokens_per_row": round(len(feats.ids) / len(ds), 1),
        }
    out["rows"] = len(ds)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "bench_out" / "paper_corpus.jsonl")
    ap.add_argument("--budget", type=int, default=10_000)
    ap.add_argument("--tokenizer", default="embedded:smollm2-135m-instruct")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--stages", nargs="+", default=["ingest", "build", "embed_static"], help="a subset to rerun")
    ap.add_argument(
        "--in_process_only",
        type=Path,
        default=None,
        metavar="JSON",
        help="redo only the per-block and type-matrix figures of JSON (its corpus ingested again, locally)",
    )
    args = ap.parse_args()
    if args.in_process_only:
        return in_process_only(args)
    if not args.corpus.exists():
        raise SystemExit(f"{args.corpus}: missing; make it with `python bench/paper_corpus.py --out {args.corpus}`")
    from macro2micro.dataset_builder.models.assets import resolve_tokenizer
    from macro2micro.dataset_builder.models.static_embedder import static_embedder_dir

    work = Path(tempfile.mkdtemp(prefix="m2m-engine-"))
    assets = [Path(resolve_tokenizer(args.tokenizer)), static_embedder_dir()]  # converted once per machine
    results: dict = {"budget": args.budget, "corpus": str(args.corpus), "cpus": len(os.sched_getaffinity(0))}
    manifests: dict = {}
    for engine in ("local", "ray"):
        cache = work / f"cache_{engine}"
        for asset in assets:  # an empty *feature* cache, not a model conversion that no real run repeats
            shutil.copytree(asset, cache / "assets" / asset.name)
        env = {**os.environ, "MACRO2MICRO_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
        flags = ["--engine", engine]
        corpus, subsets = work / f"corpus_{engine}", work / f"subsets_{engine}"
        stages = {
            "ingest": macro2micro("ingest", "--corpus", str(args.corpus), "--out", str(corpus), *flags),
            "build": macro2micro(
                "build",
                "--corpus",
                str(corpus),
                "--strategies",
                "micro_instruction",
                "micro_response",
                "random",
                "--budget",
                str(args.budget),
                "--tokenizer",
                args.tokenizer,
                "--out",
                str(subsets),
                *flags,
            ),  # fmt: skip
            "embed_static": [sys.executable, "-c", EMBED, str(corpus), engine],
        }
        results[engine] = {}
        for name, stage in stages.items():
            if name not in args.stages and name != "ingest":  # later stages read the ingested corpus
                continue
            results[engine][name] = run_stage(stage, env)
            print(json.dumps({engine: {name: results[engine][name]}}), flush=True)
        if subsets.exists():
            manifests[engine] = {p.name: p.read_bytes() for p in sorted((subsets / "manifests").glob("*.json"))}
    if "build" in args.stages:
        results["same_manifests"] = manifests["local"] == manifests["ray"] and bool(manifests["local"])
    results["overhead"] = {
        stage: {
            "wall_ratio": round(results["ray"][stage]["s"] / results["local"][stage]["s"], 2),
            "cpu_ratio": round(results["ray"][stage]["cpu_s"] / max(results["local"][stage]["cpu_s"], 0.1), 2),
        }
        for stage in results["local"]
    }
    if args.stages != ["ingest", "build", "embed_static"]:  # a partial rerun: no in-process figures
        print(json.dumps(results, indent=2))
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return shutil.rmtree(work, ignore_errors=True)
    results["per_block"] = per_block(work / "corpus_local", args.tokenizer, 8192)
    rates = clean_rate(args.corpus, 8192)
    results["per_block"]["clean_rows_per_s"], results["per_block"]["clean_rows_per_cpu_s"] = rates
    results["type_matrix"] = type_matrix(work / "cache_local", work / "corpus_local", args.tokenizer)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    shutil.rmtree(work, ignore_errors=True)


def in_process_only(args) -> None:
    """The in-process figures again (they need the ingested corpus and its token cache), into the same JSON."""
    results = json.loads(args.in_process_only.read_text())
    work = Path(tempfile.mkdtemp(prefix="m2m-engine-"))
    from macro2micro.dataset_builder.models.assets import resolve_tokenizer

    asset = Path(resolve_tokenizer(args.tokenizer))
    shutil.copytree(asset, work / "cache" / "assets" / asset.name)
    env = {**os.environ, "MACRO2MICRO_CACHE": str(work / "cache"), "HF_HUB_OFFLINE": "1"}
    run_stage(macro2micro("ingest", "--corpus", results["corpus"], "--out", str(work / "corpus")), env)
    results["per_block"] = per_block(work / "corpus", args.tokenizer, 8192)
    rates = clean_rate(Path(results["corpus"]), 8192)
    results["per_block"]["clean_rows_per_s"], results["per_block"]["clean_rows_per_cpu_s"] = rates
    results["type_matrix"] = type_matrix(work / "cache", work / "corpus", args.tokenizer)
    args.in_process_only.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
