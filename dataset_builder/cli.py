"""The ``macro2micro`` console script: one command, one subcommand per stage that works.

    macro2micro ingest --corpus data.jsonl --out corpus/
    macro2micro build --corpus corpus/ --strategies micro_response,random --budget 1000 --out subsets/
    macro2micro demo --out demo_out/
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

logger = logging.getLogger("macro2micro")


def _columns(value: str) -> dict[str, str]:
    out = {}
    for part in value.split(","):
        role, sep, column = part.partition("=")
        if not sep or not role.strip() or not column.strip():
            raise argparse.ArgumentTypeError(f"--columns expects ROLE=COLUMN[,ROLE=COLUMN...], got {value!r}")
        out[role.strip()] = column.strip()
    return out


def add_corpus_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    from .assets import DEFAULT_CORPUS

    g = p.add_argument_group("corpus")
    g.add_argument("--corpus", nargs="+", default=None if required else [DEFAULT_CORPUS], required=required,
                   help="files (jsonl/json/parquet/csv), folders, saved datasets folders, Hub ids, or "
                        f"{DEFAULT_CORPUS}")
    g.add_argument("--format", default="auto",
                   help="auto, alpaca, sharegpt, messages, prompt_completion or columns")
    g.add_argument("--columns", type=_columns, default=None,
                   help="with --format columns: e.g. instruction=question,response=answer[,id=qid]")
    g.add_argument("--multi-turn", default="first", choices=["first", "drop"],
                   help="keep the first user turn and reply of a conversation, or drop multi-turn rows")
    g.add_argument("--on-error", default="raise", choices=["raise", "skip"],
                   help="stop at the first bad row, or skip bad rows and count them")
    g.add_argument("--max-instruction-chars", type=int, default=None)
    g.add_argument("--max-response-chars", type=int, default=None)
    g.add_argument("--split", default="train", help="split of a saved DatasetDict or Hub dataset")


def corpus_options(args: argparse.Namespace):
    from .corpus import CorpusOptions

    return CorpusOptions(format=args.format, columns=args.columns, multi_turn=args.multi_turn,
                         on_error=args.on_error, max_instruction_chars=args.max_instruction_chars,
                         max_response_chars=args.max_response_chars, split=args.split)


def load_corpus_from_args(args: argparse.Namespace):
    from .assets import resolve_corpus
    from .corpus import load_corpus

    return load_corpus([resolve_corpus(c) for c in args.corpus], corpus_options(args))


def cmd_ingest(args: argparse.Namespace) -> int:
    from .corpus import save_corpus, summarize

    ds, report = load_corpus_from_args(args)
    save_corpus(ds, report, args.out)
    print(json.dumps(summarize(ds, report), indent=2, ensure_ascii=False))
    print(f"wrote {len(ds)} rows to {args.out}")
    return 0


def add_build_args(p: argparse.ArgumentParser) -> None:
    from .assets import DEFAULT_MODEL

    g = p.add_argument_group("ladder")
    g.add_argument("--strategies", default="micro_response,random",
                   help="comma-separated strategy names, or all")
    g.add_argument("--budget", type=int, default=1000, help="N, rows per subset")
    g.add_argument("--levels", type=int, default=7, help="diversity levels per ladder (>= 2)")
    g.add_argument("--seed", type=int, default=0)
    g = p.add_argument_group("micro strategy")
    g.add_argument("--tokenizer", default=DEFAULT_MODEL,
                   help="model whose tokenizer defines micro types (path, Hub id), or 'word'")
    g.add_argument("--low", type=float, default=10, help="fewest occurrences of a mid-band token")
    g.add_argument("--high", type=float, default=500, help="most occurrences of a mid-band token")
    g.add_argument("--per-million", action="store_true", help="read --low/--high per million tokens")


def build_options(args: argparse.Namespace):
    from .build import BuildOptions

    knobs = {"tokenizer": args.tokenizer, "low": args.low, "high": args.high, "per_million": args.per_million}
    return BuildOptions(strategies=[s.strip() for s in args.strategies.split(",") if s.strip()],
                        budget=args.budget, levels=args.levels, seed=args.seed, knobs=knobs)


def cmd_build(args: argparse.Namespace) -> int:
    from .build import build_family

    options = build_options(args)  # validate before the slow corpus read
    ds, _ = load_corpus_from_args(args)
    manifests = build_family(ds, options, args.out)
    for m in manifests:
        print(f"{m['config']:<28} k={m.get('k', '-')!s:>6}  pool={m['pool_size']:>7}  sha256={m['manifest_sha256'][:12]}")
    print(f"wrote {len(manifests)} configs to {args.out}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(args)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="macro2micro", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="read and clean an SFT corpus into a datasets folder")
    add_corpus_args(p)
    p.add_argument("--out", type=Path, required=True, help="output folder (written atomically)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("build", help="build diversity ladders (and the random control) as Hub-layout configs")
    add_corpus_args(p)
    add_build_args(p)
    p.add_argument("--out", type=Path, required=True, help="output folder (written atomically)")
    p.set_defaults(func=cmd_build)

    from .demo import add_demo_args

    p = sub.add_parser("demo", help="run every stage on the embedded default (offline)")
    add_demo_args(p)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if not args.verbose:
        import datasets

        datasets.disable_progress_bars()
    from .assets import AssetError
    from .corpus import CorpusError

    try:
        return args.func(args)
    except (CorpusError, AssetError, ValueError, FileExistsError, ImportError) as err:
        print(f"macro2micro {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
