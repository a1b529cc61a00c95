"""``macro2micro ingest``: read and clean an SFT corpus into a datasets folder (plus its summary)."""

from __future__ import annotations

from macro2micro.cli import report
from macro2micro.cli.commands.base import Command
from macro2micro.dataset_builder.corpus.ingest import load_corpus, save_corpus
from macro2micro.dataset_builder.models.assets import resolve_corpus
from macro2micro.dataset_builder.options import CorpusOptions, OutputOptions
from macro2micro.dataset_builder.outputs import OutputFolder


def ingest(corpus: CorpusOptions, output: OutputOptions) -> dict:
    """Read ``corpus`` into ``output.out``; returns the corpus summary (counts, drops, lengths, fingerprint)."""
    inputs = [resolve_corpus(c) for c in corpus.corpus]
    with OutputFolder(output.out, "ingest", inputs=inputs, overwrite=output.overwrite).check() as tmp:
        ds, corpus_report = load_corpus(inputs, corpus)
        return save_corpus(ds, corpus_report, tmp)


class IngestCommand(Command):
    name = "ingest"
    help = "read and clean an SFT corpus into a datasets folder"
    options = (CorpusOptions, OutputOptions)

    def run(self, corpus: CorpusOptions, output: OutputOptions) -> dict:
        return ingest(corpus, output)

    def report(self, summary: dict, corpus: CorpusOptions, output: OutputOptions) -> None:
        report.corpus_summary(summary, output.out)
