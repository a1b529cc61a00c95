"""Peak memory of ingest, build and publish as the corpus grows (not a test).

    python bench/paper_corpus.py --out bench_out/paper_corpus.jsonl     # once: 117,000 real pairs
    python bench/memory.py [--source bench_out/paper_corpus.jsonl] [--rows 250000 500000 1000000]
                           [--work /tmp/m2m_memory] [--json bench_out/memory.json] [--tree PATH]

For each size, a corpus of that many rows is written (outside the repo, under ``--work``) from unique copies of
the source's rows of at most ``--max_row_chars`` characters (default 650: about 310 characters per row, so that
1M rows hold about 300M characters, the shape of the corpora the issue measured): copy c > 0 of a row gets the
id ``{id}~{c}`` and `` [c]`` after its instruction, so deduplication keeps every row and the text is the source's.
Then each stage runs as a user runs it, in its own process
(``python -m macro2micro``), with an empty feature cache: ingest, build (micro_instruction + micro_response +
random, N = 10,000, 7 levels) and publish without embeddings. Each stage's peak RSS (the kernel's accounting of
the child, ``wait4``), wall and CPU (user + sys) seconds are recorded, with the peak per corpus character and the
rows a 24 GB machine holds at this corpus's characters per row (from a straight-line fit of peak against
characters over the sizes run). ``--tree`` runs another checkout's code (e.g. an older commit, for a before and
after on the same corpus). Goals at about 1M rows and 300M characters: build and publish under 2.5 GB, ingest
under 2 GB.
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
GOALS_GB = {"ingest": 2.0, "build": 2.5, "publish": 2.5}
MACHINE_GB = 24


def write_corpus(source: Path, rows: int, out: Path, max_row_chars: int) -> dict:
    """``rows`` unique rows from copies of ``source`` (a ``messages`` JSONL file); returns rows and characters.

    Streamed line by line: this process stays small, and a child's peak RSS as the kernel reports it is at least
    its parent's size when it was forked."""
    chars = written = copy = 0
    with out.open("w") as f:
        while written < rows:
            with source.open(encoding="utf-8", newline="\n") as src:  # (U+2028 in a text is not a line end)
                written, chars = _copy(src, f, copy, rows, written, chars, max_row_chars)
            copy += 1
    return {"rows": written, "chars": chars, "copies": copy}


def _copy(src, f, copy: int, rows: int, written: int, chars: int, max_row_chars: int) -> tuple[int, int]:
    for line in src:
        if written == rows:
            break
        if not line.strip():
            continue
        rec = json.loads(line)
        n = sum(len(m["content"]) for m in rec["messages"])
        if n > max_row_chars:
            continue
        if copy:
            rec["id"] = f"{rec['id']}~{copy}"
            rec["messages"][0]["content"] += f" [{copy}]"
            n += len(f" [{copy}]")
        chars += n
        f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        written += 1
    return written, chars


def run_stage(args: list[str], env: dict) -> dict:
    """Wall and CPU seconds and peak RSS (MB) of one ``macro2micro`` command in its own process."""
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "macro2micro", *args], env=env, stdout=log, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            log.seek(0)
            raise SystemExit(f"macro2micro {args[0]} failed:\n{log.read().decode()[-3000:]}")
    return {
        "s": round(wall, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def measure(corpus: Path, work: Path, budget: int, tokenizer: str, env: dict) -> dict:
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    resolve = f"from macro2micro.dataset_builder.models.assets import resolve_tokenizer as r; print(r({tokenizer!r}))"
    # the converted embedded model (not what this measures), found in a child: this process stays small
    converted = Path(
        subprocess.run([sys.executable, "-c", resolve], env=env, capture_output=True, text=True, check=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    shutil.copytree(converted, cache / "assets" / converted.name)
    env = {**env, "MACRO2MICRO_CACHE": str(cache)}
    stages = {
        "ingest": ["ingest", "--corpus", str(corpus), "--out", str(work / "corpus")],
        "build": ["build", "--corpus", str(work / "corpus"), "--strategies", "micro_instruction", "micro_response"]
        + ["random", "--budget", str(budget), "--tokenizer", tokenizer, "--out", str(work / "subsets")],
        "publish": ["publish", "--corpus", str(work / "corpus"), "--subsets", str(work / "subsets")]
        + ["--tokenizer", tokenizer, "--embedder", "none", "--out", str(work / "repo")],
    }
    out = {}
    for name, args in stages.items():
        out[name] = run_stage(args, env)
        print(f"  {name}: {out[name]}", file=sys.stderr, flush=True)
    for name in ("corpus", "subsets", "repo", "cache"):
        shutil.rmtree(work / name, ignore_errors=True)
    return out


def fit(runs: list[dict]) -> dict:
    """Per stage: peak MB = fixed + per_char x characters (least squares), and the rows 24 GB holds."""
    import numpy as np

    chars = np.array([r["chars"] for r in runs], dtype=float)
    per_row = float(chars.sum() / sum(r["rows"] for r in runs))
    out = {"chars_per_row": round(per_row, 1)}
    for stage in GOALS_GB:
        peak = np.array([r["stages"][stage]["peak_rss_mb"] for r in runs]) * 2**20
        slope, fixed = np.polyfit(chars, peak, 1) if len(runs) > 1 else (peak[0] / chars[0], 0.0)
        rows = (MACHINE_GB * 1e9 - fixed) / (slope * per_row) if slope > 0 else None
        out[stage] = {
            "bytes_per_char": round(float(slope), 2),
            "fixed_mb": round(float(fixed) / 2**20),
            "rows_24gb": None if rows is None else int(rows),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", type=Path, default=ROOT / "bench_out" / "paper_corpus.jsonl")
    ap.add_argument("--rows", type=int, nargs="+", default=[250_000, 500_000, 1_000_000])
    ap.add_argument(
        "--max_row_chars",
        type=int,
        default=650,
        help="source rows up to this many characters only (650: about 310 per row, so 1M rows hold about 300M "
        "characters, the shape of the issue's measurement)",
    )
    ap.add_argument("--budget", type=int, default=10_000)
    ap.add_argument("--tokenizer", default="embedded:smollm2-135m-instruct")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "m2m_memory")
    ap.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose code runs the stages")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if not args.source.exists():
        raise SystemExit(f"{args.source}: missing; make it with `python bench/paper_corpus.py --out {args.source}`")
    args.work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(args.tree.resolve())}
    runs = []
    for rows in args.rows:
        corpus = args.work / f"corpus_{rows}.jsonl"
        facts = write_corpus(args.source, rows, corpus, args.max_row_chars)
        print(f"{rows:,} rows, {facts['chars'] / 1e6:.0f}M characters ({facts['copies']} copies)", file=sys.stderr)
        stages = measure(corpus, args.work, args.budget, args.tokenizer, env)
        corpus.unlink()
        for s in stages.values():
            s["bytes_per_char"] = round(s["peak_rss_mb"] * 2**20 / facts["chars"], 2)
        runs.append({**facts, "stages": stages})
        results = {
            "tree": str(args.tree),
            "budget": args.budget,
            "max_row_chars": args.max_row_chars,
            "runs": runs,
            "fit": fit(runs),
            "goals_gb": GOALS_GB,
        }
        if args.json:  # after every size: a long run that stops early keeps what it measured
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
