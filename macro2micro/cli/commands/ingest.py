"""``macro2micro ingest``: read and clean an SFT corpus into a datasets folder (plus its summary)."""

from __future__ import annotations

from macro2micro.api.corpus import ingest
from macro2micro.cli import report
from macro2micro.cli.commands.base import Command
from macro2micro.dataset_builder.engine.options import EngineOptions
from macro2micro.dataset_builder.options import CorpusOptions, OutputOptions
from macro2micro.dataset_builder.parsing import required


class IngestCommand(Command):
    name = "ingest"
    help = "read and clean an SFT corpus into a datasets folder"
    options = (CorpusOptions, EngineOptions, OutputOptions)

    def run(self, corpus: CorpusOptions, engine: EngineOptions, output: OutputOptions) -> dict:
        return ingest(None, required(output.out, "out"), corpus, overwrite=output.overwrite, engine=engine)

    def report(self, summary: dict, corpus: CorpusOptions, engine: EngineOptions, output: OutputOptions) -> None:
        report.corpus_summary(summary, output.out)
