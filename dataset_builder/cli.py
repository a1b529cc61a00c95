"""The ``macro2micro`` console script: one command, one subcommand per stage that works.

    macro2micro ingest --corpus data.jsonl --out corpus/
    macro2micro build --corpus corpus/ --strategies micro_response,random --budget 1000 --out subsets/
    macro2micro publish --corpus corpus/ --subsets subsets/ --out repo/ [--repo-id org/name]
    macro2micro train --dataset repo/ --configs 'micro_response_*,random' --recipe demo --out runs/
    macro2micro evaluate --runs runs/ --dataset repo/ --out eval/
    macro2micro space --repo repo/ --results eval/results.json --runs runs/
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


def add_embedder_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("sentence embeddings (macro types, meso tag merging, embedding_distance)")
    g.add_argument("--embedder", default="embedded:all-minilm-l6-v2",
                   help="sentence-embedding model (path, Hub id), or none")
    g.add_argument("--max-seq-length", type=int, default=128, help="embedding truncation (word pieces)")


def add_build_args(p: argparse.ArgumentParser, strategies: str = "micro_response,random", budget: int = 1000) -> None:
    from .assets import DEFAULT_MODEL

    g = p.add_argument_group("ladder")
    g.add_argument("--strategies", default=strategies, help="comma-separated strategy names, or all")
    g.add_argument("--budget", type=int, default=budget, help="N, rows per subset")
    g.add_argument("--levels", type=int, default=7, help="diversity levels per ladder (>= 2)")
    g.add_argument("--seed", type=int, default=0)
    g = p.add_argument_group("micro strategy")
    g.add_argument("--tokenizer", default=DEFAULT_MODEL,
                   help="model whose tokenizer defines micro types (path, Hub id), or 'word'")
    g.add_argument("--low", type=float, default=10, help="fewest occurrences of a mid-band token")
    g.add_argument("--high", type=float, default=500, help="most occurrences of a mid-band token")
    g.add_argument("--per-million", action="store_true", help="read --low/--high per million tokens")
    g = p.add_argument_group("macro strategy")
    g.add_argument("--reducer", default="umap", choices=["umap", "pca", "none"])
    g.add_argument("--n-components", type=int, default=5)
    g.add_argument("--min-cluster-size", type=int, default=10)
    g.add_argument("--cluster-selection", default="eom", choices=["eom", "leaf"])
    g = p.add_argument_group("meso strategy")
    g.add_argument("--tagger", default="offline", choices=["offline", "openai", "transformers"])
    g.add_argument("--tagger-model", default=None, help="served model name (openai) or model path / Hub id")
    g.add_argument("--tagger-url", default=None, help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1")
    g.add_argument("--alpha", type=int, default=2, help="drop raw tags seen fewer times")
    g.add_argument("--merge-threshold", type=float, default=0.9, help="merge tags at least this cosine-similar")
    add_embedder_args(p)


def build_options(args: argparse.Namespace):
    from .build import BuildOptions

    knobs = {"tokenizer": args.tokenizer, "low": args.low, "high": args.high, "per_million": args.per_million,
             "embedder": args.embedder, "max_seq_length": args.max_seq_length, "reducer": args.reducer,
             "n_components": args.n_components, "min_cluster_size": args.min_cluster_size,
             "cluster_selection": args.cluster_selection, "tagger": args.tagger, "tagger_model": args.tagger_model,
             "tagger_url": args.tagger_url, "alpha": args.alpha, "merge_threshold": args.merge_threshold}
    options = BuildOptions(strategies=[s.strip() for s in args.strategies.split(",") if s.strip()],
                           budget=args.budget, levels=args.levels, seed=args.seed, knobs=knobs)
    from .strategies import get_strategy

    for name in options.strategies:  # constructors validate their knobs: fail before any slow step
        get_strategy(name, **knobs)
    return options


def cmd_tag_plan(args: argparse.Namespace) -> int:
    """Dry run of the LLM tagger: calls and tokens it would spend."""
    from .strategies import get_strategy

    ds, _ = load_corpus_from_args(args)
    for side in ("instruction", "response"):
        strategy = get_strategy(f"meso_{side}", **build_options(args).knobs)
        tagger = strategy.make_tagger()
        plan = tagger.plan(list(ds[side])) if hasattr(tagger, "plan") else {"calls": 0, "note": "offline tagger"}
        print(f"meso_{side}: {json.dumps(plan)}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from .build import build_family

    options = build_options(args)  # validate before the slow corpus read
    ds, _ = load_corpus_from_args(args)
    manifests = build_family(ds, options, args.out)
    for m in manifests:
        print(f"{m['config']:<28} k={m.get('k', '-')!s:>6}  pool={m['pool_size']:>7}  sha256={m['manifest_sha256'][:12]}")
    print(f"wrote {len(manifests)} configs to {args.out}")
    return 0


def add_publish_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("metrics")
    g.add_argument("--self-bleu-sample", type=int, default=200, help="texts per side sampled for Self-BLEU")
    g.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples for 95%% intervals (0: none)")
    g = p.add_argument_group("Hub")
    g.add_argument("--repo-id", default=None, help="org/name of the dataset repo; upload when given")
    g.add_argument("--private", action="store_true", help="create the repo private")
    g.add_argument("--dry-run", action="store_true", help="write and check the folder, upload nothing")
    g.add_argument("--license", default="other", help="licence id for the card (of the source corpus)")


def metric_options(args: argparse.Namespace):
    from .hub import MetricOptions

    embedder = None if str(args.embedder).lower() == "none" else args.embedder
    return MetricOptions(tokenizer=args.tokenizer, embedder=embedder, max_seq_length=args.max_seq_length,
                         self_bleu_sample=args.self_bleu_sample, bootstrap=args.bootstrap)


def publish_repo(corpus, subsets: Path, out: Path, args: argparse.Namespace, source_note: str) -> None:
    from .hub import compute_metrics, publish_folder, read_build, write_repo_folder

    _, manifests = read_build(subsets)
    metrics = compute_metrics(corpus, manifests, metric_options(args))
    repo_id = args.repo_id or "your-org/macro2micro-subsets"
    write_repo_folder(corpus, subsets, out, metrics, repo_id=repo_id, license=args.license,
                      source_note=source_note)
    print(f"wrote the dataset repo folder {out} ({len(manifests) + 1} configs, each loaded back with load_dataset)")
    if args.repo_id:
        # write_repo_folder has just loaded every config back; no need to do it twice.
        print(publish_folder(out, args.repo_id, private=args.private, dry_run=args.dry_run, validate=False))


def cmd_publish(args: argparse.Namespace) -> int:
    metric_options(args)  # validates the options before the slow corpus read
    corpus, _ = load_corpus_from_args(args)
    publish_repo(corpus, args.subsets, args.out, args, source_note=args.source_note)
    return 0


def add_train_args(p: argparse.ArgumentParser, configs: str = "micro_response_*,random") -> None:
    g = p.add_argument_group("training")
    g.add_argument("--configs", default=configs, help="comma-separated glob patterns of configs to train")
    g.add_argument("--recipe", default="demo", help="recipe name (demo, llama-2-7b-lora, llama-3-8b-lora) or YAML path")
    g.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="recipe override, e.g. --set max_steps=8 (repeatable)")
    g.add_argument("--print-commands", action="store_true", help="print the accelerate launch command per config")
    g.add_argument("--accelerate-config", default=None, help="accelerate config file for --print-commands")


def _overrides(pairs: list[str]) -> list[str]:
    out = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {pair!r}")
        out += [f"--{key}", value]
    return out


def cmd_train(args: argparse.Namespace) -> int:
    from training.sweep import sweep

    results = sweep(args.dataset, args.configs, args.recipe, args.out, _overrides(args.overrides),
                    args.print_commands, args.accelerate_config)
    for config, r in results.items():
        print(r if args.print_commands and isinstance(r, str) and r != "skipped" else
              f"{config:<26} {r if isinstance(r, str) else 'loss %.4f, %d steps, %.0f s' % (r['train_loss'], r['steps'], r['train_seconds'])}")
    return 0


def add_eval_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("evaluation")
    g.add_argument("--prompts", default="embedded",
                   help="embedded, or an AlpacaEval / Arena-Hard JSON(L) file or Hub id")
    g.add_argument("--prompt-limit", type=int, default=None, help="use the first N prompts")
    g.add_argument("--baseline", default="random", help="config whose adapter every model is judged against")
    g.add_argument("--judge-model", default="embedded:smollm2-135m-instruct",
                   help="judge model: served name (with --judge-url) or a local model for the constrained-choice judge")
    g.add_argument("--judge-url", default=None, help="OpenAI-compatible base URL of the judge server")
    g.add_argument("--max-new-tokens", type=int, default=96, help="answer length cap")


def judge_backend(args: argparse.Namespace):
    from .llm import OpenAIBackend

    if args.judge_url:
        return OpenAIBackend(args.judge_url, args.judge_model, max_tokens=1024)
    from training.judge import LocalChoiceBackend

    return LocalChoiceBackend(args.judge_model)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from training.evaluate import evaluate
    from training.generate import Decoding

    results = evaluate(args.runs, args.dataset, args.out, args.prompts, args.baseline, judge_backend(args),
                       Decoding(max_new_tokens=args.max_new_tokens), args.prompt_limit)
    for config, s in results["scores"].items():
        print(f"{config:<26} win-rate {s['win_rate']:5.1f}%  CI [{s['ci95'][0]:.1f}, {s['ci95'][1]:.1f}]  "
              f"unparseable {s['unparseable']}")
    for strategy, fit in results["fits"].items():
        r = "n/a" if fit["r"] is None else f"{fit['r']:+.2f}"
        print(f"{strategy:<26} slope {fit['slope']:+.2f} points / 100 % diversity, r {r}")
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0


def cmd_space(args: argparse.Namespace) -> int:
    from space_app.app import launch

    print(f"macro2micro space: http://{args.host}:{args.port}/ (Ctrl+C to stop)")
    launch(args.repo, args.results, args.runs, args.host, args.port)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(args)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="macro2micro", description="Diversity-controlled SFT datasets (macro / meso / micro x instruction / response), LoRA fine-tuning on each, and what diversity does to a model.")
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

    p = sub.add_parser("publish", help="score every config and write (and upload) the Hub dataset repo folder")
    add_corpus_args(p)
    p.add_argument("--subsets", type=Path, required=True, help="folder written by `macro2micro build`")
    p.add_argument("--out", type=Path, required=True, help="the repo folder to write (atomically)")
    p.add_argument("--tokenizer", default="embedded:smollm2-135m-instruct",
                   help="model whose tokenizer counts mean_length and token_entropy")
    p.add_argument("--source-note", default="See the licence of the source corpus.",
                   help="the card's paragraph on the source data and its licence")
    add_embedder_args(p)
    add_publish_args(p)
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("tag-plan", help="dry run of the LLM tagger: the calls and tokens it would spend")
    add_corpus_args(p)
    add_build_args(p, strategies="meso_instruction,meso_response")
    p.set_defaults(func=cmd_tag_plan)

    p = sub.add_parser("train", help="LoRA fine-tune (TRL SFT) one adapter per config; skips finished ones")
    p.add_argument("--dataset", required=True, help="dataset repo id or local repo folder")
    p.add_argument("--out", type=Path, default=Path("runs"), help="one adapter folder per config")
    add_train_args(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="judge every adapter against the baseline's, fit diversity vs score")
    p.add_argument("--runs", type=Path, required=True, help="folder of adapters written by `macro2micro train`")
    p.add_argument("--dataset", required=True, help="the dataset repo (folder or id) the adapters were trained on")
    p.add_argument("--out", type=Path, default=Path("eval"), help="results.json, report.md and plots")
    add_eval_args(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("space", help="launch the Gradio Space on published artifacts (127.0.0.1)")
    p.add_argument("--repo", default="demo_out/hub_dataset", help="dataset repo folder or Hub id")
    p.add_argument("--results", default=None, help="results.json written by `macro2micro evaluate`")
    p.add_argument("--runs", default=None, help="adapters folder, for live generation")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.set_defaults(func=cmd_space)

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
