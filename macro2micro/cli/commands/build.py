"""``macro2micro build``: diversity ladders (and the random control) as Hub-layout configs with manifests."""

from __future__ import annotations

from macro2micro.api.build import build_ladders
from macro2micro.cli import report
from macro2micro.cli.commands.base import Command
from macro2micro.dataset_builder.baselines.options import BaselineOptions
from macro2micro.dataset_builder.engine.options import EngineOptions
from macro2micro.dataset_builder.ladders.registry import StrategyKnobs
from macro2micro.dataset_builder.ladders.subsets import Subsets
from macro2micro.dataset_builder.options import (
    BuildOptions,
    CorpusOptions,
    EmbedderOptions,
    MacroOptions,
    MesoOptions,
    MicroOptions,
    OutputOptions,
    TokenizerOptions,
)


class BuildCommand(Command):
    name = "build"
    help = "build diversity ladders (and the random control) as Hub-layout configs"
    options = (
        CorpusOptions,
        BuildOptions,
        TokenizerOptions,
        MicroOptions,
        MacroOptions,
        MesoOptions,
        EmbedderOptions,
        BaselineOptions,
        EngineOptions,
        OutputOptions,
    )

    def run(
        self, corpus, build, tokenizer, micro, macro, meso, embedder, baselines, engine, output: OutputOptions
    ) -> Subsets:
        knobs = StrategyKnobs(tokenizer, micro, macro, meso, embedder, baselines)
        return build_ladders(
            None, build, knobs, corpus_options=corpus, engine=engine, out=output.out, overwrite=output.overwrite
        )

    def report(self, subsets: Subsets, *options) -> None:
        report.manifests(list(subsets.manifests.values()), options[-1].out)
