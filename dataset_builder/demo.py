"""``macro2micro demo``: every stage that exists, on the embedded default, into one folder.

Stages: ingest the bundled ShareGPT corpus -> build the diversity ladders and the random control
-> (later stages append themselves here).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def add_demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder")
    p.add_argument("--max-instruction-chars", type=int, default=4000,
                   help="drop longer instructions (ShareGPT holds pasted documents)")
    p.add_argument("--max-response-chars", type=int, default=8000)
    p.add_argument("--strategies", default="micro_response,micro_instruction,random",
                   help="strategies to build (comma-separated, or all)")
    p.add_argument("--budget", type=int, default=1000, help="N, rows per subset")
    p.add_argument("--levels", type=int, default=7)
    p.add_argument("--seed", type=int, default=0)


def run_demo(args: argparse.Namespace) -> None:
    from .assets import DEFAULT_CORPUS, resolve_corpus
    from .corpus import CorpusOptions, load_corpus, save_corpus, summarize

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    logger.info("demo 1/2: ingest %s", DEFAULT_CORPUS)
    options = CorpusOptions(max_instruction_chars=args.max_instruction_chars,
                            max_response_chars=args.max_response_chars)
    ds, report = load_corpus(resolve_corpus(DEFAULT_CORPUS), options)
    save_corpus(ds, report, out / "corpus")
    summary = summarize(ds, report)
    print(json.dumps({k: summary[k] for k in ("rows", "rows_read", "dropped")}, indent=2))
    print(f"demo: corpus of {len(ds)} pairs in {out / 'corpus'}")

    from .build import BuildOptions, build_family

    logger.info("demo 2/2: build %s ladders, N=%d, %d levels", args.strategies, args.budget, args.levels)
    options = BuildOptions(strategies=args.strategies.split(","), budget=args.budget, levels=args.levels,
                           seed=args.seed)
    manifests = build_family(ds, options, out / "subsets")
    for m in manifests:
        print(f"  {m['config']:<26} k={m.get('k', '-')!s:>6}  pool={m['pool_size']:>6}")
    print(f"demo: {len(manifests)} configs in {out / 'subsets'}")
