"""``macro2micro publish``: score every config, write the dataset repo folder, and upload it in one commit."""

from __future__ import annotations

from dataset_builder.artifacts import read_build
from dataset_builder.assets import resolve_corpus
from dataset_builder.corpus import open_corpus
from dataset_builder.hub import publish_folder
from dataset_builder.options import (
    CorpusOptions,
    EmbedderOptions,
    MetricOptions,
    OutputOptions,
    PublishOptions,
    TokenizerOptions,
)
from dataset_builder.outputs import OutputFolder
from dataset_builder.repo import write_repo_folder
from dataset_builder.scores import compute_metrics
from model_cards import render_dataset_card

from .. import report
from .base import Command

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
    from dataset_builder.micro import load_tokenizer

    info, manifests = read_build(options.subsets)
    load_tokenizer(tokenizer.tokenizer)
    if embedder.model:
        from dataset_builder.embeddings import load_embedder

        load_embedder(embedder.model, max_seq_length=embedder.max_seq_length)
    inputs = [resolve_corpus(c) for c in corpus.corpus] + [options.subsets]
    with OutputFolder(output.out, "publish", inputs=inputs, overwrite=output.overwrite) as tmp:
        ds, _ = open_corpus(corpus)
        metrics = compute_metrics(ds, manifests, metric, tokenizer.tokenizer, embedder, seed=info["options"]["seed"])

        def card(infos) -> str:
            return render_dataset_card(
                info,
                manifests,
                metrics,
                len(ds),
                options.repo_id,
                options.license,
                options.source_note,
                local_path=str(output.out),
                infos=infos,
            ).content

        rows = write_repo_folder(ds, options.subsets, tmp, metrics, card)
    result = {"out": str(output.out), "rows": rows, "commit": None}
    if options.repo_id:
        result["commit"] = publish_folder(
            output.out, options.repo_id, private=options.private, dry_run=options.dry_run
        )
    return result


class PublishCommand(Command):
    name = "publish"
    help = "score every config and write (and upload) the Hub dataset repo folder"
    options = (CorpusOptions, *PUBLISH_OPTIONS, OutputOptions)

    def run(self, corpus, options, metric, tokenizer, embedder, output) -> dict:
        return publish(corpus, options, metric, tokenizer, embedder, output)

    def report(self, result: dict, *options) -> None:
        report.say(
            f"wrote the dataset repo folder {result['out']} ({len(result['rows'])} configs, each loaded "
            "back with load_dataset)"
        )
        if result["commit"]:
            report.say(result["commit"])
