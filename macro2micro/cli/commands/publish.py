"""``macro2micro publish``: score every config, write the dataset repo folder, and upload it in one commit."""

from __future__ import annotations

from pathlib import Path

from macro2micro.cli import report
from macro2micro.cli.commands.base import Command
from macro2micro.dataset_builder.corpus.ingest import open_corpus
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.hub.artifacts import read_build
from macro2micro.dataset_builder.hub.client import publish_folder
from macro2micro.dataset_builder.hub.repo import write_repo_folder
from macro2micro.dataset_builder.metrics.scores import compute_metrics
from macro2micro.dataset_builder.models.assets import resolve_corpus
from macro2micro.dataset_builder.options import (
    CorpusOptions,
    EmbedderOptions,
    MetricOptions,
    OutputOptions,
    PublishOptions,
    TokenizerOptions,
)
from macro2micro.dataset_builder.outputs import OutputFolder
from macro2micro.model_cards import render_dataset_card

PUBLISH_OPTIONS = (PublishOptions, MetricOptions, TokenizerOptions, EmbedderOptions)


def publish(
    corpus: CorpusOptions,
    options: PublishOptions,
    metric: MetricOptions,
    tokenizer: TokenizerOptions,
    embedder: EmbedderOptions,
    output: OutputOptions,
) -> dict:
    """Write the repo folder ``output.out`` (every config loaded back with ``load_dataset``); upload it when
    ``options.repo_id`` is given. Returns rows per config and the commit (or dry-run) line."""
    from macro2micro.dataset_builder.models.tokenizers import load_tokenizer

    info, manifests = read_build(options.subsets)
    spec = build_tokenizer(info, tokenizer.tokenizer)
    inputs = [resolve_corpus(c) for c in corpus.corpus] + [options.subsets]
    folder = OutputFolder(output.out, "publish", inputs=inputs, overwrite=output.overwrite).check()
    load_tokenizer(spec)
    if embedder.model:
        from macro2micro.dataset_builder.models.embeddings import load_embedder

        load_embedder(embedder.model, max_seq_length=embedder.max_seq_length)
    with folder as tmp:
        ds, _ = open_corpus(corpus)
        metrics = compute_metrics(ds, manifests, metric, spec, embedder, seed=info["options"]["seed"])

        def card(infos) -> str:
            return render_dataset_card(
                info,
                manifests,
                metrics,
                len(ds),
                options.repo_id,
                options.license,
                options.source_note,
                local_path=str(Path(output.out).resolve()),
                infos=infos,
            ).content

        rows = write_repo_folder(ds, options.subsets, tmp, metrics, card)
    result = {"out": str(output.out), "rows": rows, "commit": None}
    if options.repo_id:
        result["commit"] = publish_folder(
            output.out, options.repo_id, private=options.private, dry_run=options.dry_run
        )
    return result


def build_tokenizer(info: dict, given: str | None) -> str:
    """The tokenizer the build used (lengths and entropy must count what the build's windows and types count)."""
    built = (info.get("knobs") or {}).get("tokenizer", {}).get("tokenizer")
    if given and built and given != built:
        raise OptionsError(
            f"--tokenizer {given} differs from the build's {built}: the metrics would count lengths in "
            f"other units than the ladders' types and windows; leave --tokenizer out (or pass {built})"
        )
    return given or built or TokenizerOptions().tokenizer


class PublishCommand(Command):
    name = "publish"
    help = "score every config and write (and upload) the Hub dataset repo folder"
    options = (CorpusOptions, *PUBLISH_OPTIONS, OutputOptions)

    def make_parser(self):
        parser = super().make_parser()
        for action in parser._actions:
            if action.dest == "tokenizer":
                action.default = None  # the build's
                action.help = "model whose tokenizer counts lengths and entropy (unset: the one the build used)"
        return parser

    def run(self, corpus, options, metric, tokenizer, embedder, output) -> dict:
        return publish(corpus, options, metric, tokenizer, embedder, output)

    def report(self, result: dict, *options) -> None:
        report.say(
            f"wrote the dataset repo folder {result['out']} ({len(result['rows'])} configs, each loaded "
            "back with load_dataset)"
        )
        if result["commit"]:
            report.say(result["commit"])
