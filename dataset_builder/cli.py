"""The ``macro2micro`` console script: one command, one subcommand per stage that works.

    macro2micro ingest --corpus data.jsonl --out corpus/
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
    from .assets import AssetError
    from .corpus import CorpusError

    try:
        return args.func(args)
    except (CorpusError, AssetError, ValueError, FileExistsError, ImportError) as err:
        print(f"macro2micro {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
