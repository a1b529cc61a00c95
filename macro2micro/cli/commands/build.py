"""``macro2micro build``: diversity ladders (and the random control) as Hub-layout configs with manifests."""

from __future__ import annotations

from macro2micro.cli import report
from macro2micro.cli.commands.base import Command
from macro2micro.dataset_builder.baselines.options import BaselineOptions
from macro2micro.dataset_builder.corpus.ingest import open_corpus
from macro2micro.dataset_builder.ladders.build import write_family
from macro2micro.dataset_builder.ladders.registry import StrategyKnobs, make_strategy, resolve_strategies
from macro2micro.dataset_builder.models.assets import resolve_corpus
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
from macro2micro.dataset_builder.outputs import OutputFolder

BUILD_OPTIONS = (
    CorpusOptions,
    BuildOptions,
    TokenizerOptions,
    MicroOptions,
    MacroOptions,
    MesoOptions,
    EmbedderOptions,
    BaselineOptions,
)


def knobs_of(
    tokenizer: TokenizerOptions,
    micro: MicroOptions,
    macro: MacroOptions,
    meso: MesoOptions,
    embedder: EmbedderOptions,
    baselines: BaselineOptions | None = None,
) -> StrategyKnobs:
    return StrategyKnobs(
        tokenizer=tokenizer,
        micro=micro,
        macro=macro,
        meso=meso,
        embedder=embedder,
        baselines=baselines or BaselineOptions(),
    )


def preflight(build: BuildOptions, knobs: StrategyKnobs) -> list[str]:
    """Check the strategies and load the models they need before any corpus is read (fails fast)."""
    from macro2micro.dataset_builder.models.tokenizers import load_tokenizer

    names = resolve_strategies(build.strategies)
    strategies = [make_strategy(name, knobs) for name in names]
    load_tokenizer(knobs.tokenizer.tokenizer)  # micro types, and every config's lengths
    needs_embedder = any(
        s.granularity == "macro"
        or s.name in ("kcenter", "deita")
        or (s.name in ("meso_instruction", "meso_response", "instag", "deita") and knobs.meso.merge_threshold)
        for s in strategies
    )
    if needs_embedder and knobs.embedder.model:
        from macro2micro.dataset_builder.models.embeddings import load_embedder

        load_embedder(knobs.embedder.model, max_seq_length=knobs.embedder.max_seq_length)
    return names


def build(corpus: CorpusOptions, build: BuildOptions, knobs: StrategyKnobs, output: OutputOptions) -> list[dict]:
    """Build into ``output.out``; returns the manifests."""
    inputs = [resolve_corpus(c) for c in corpus.corpus]
    folder = OutputFolder(output.out, "build", inputs=inputs, overwrite=output.overwrite).check()
    preflight(build, knobs)
    with folder as tmp:
        ds, _ = open_corpus(corpus)
        return write_family(ds, build, knobs, tmp)


class BuildCommand(Command):
    name = "build"
    help = "build diversity ladders (and the random control) as Hub-layout configs"
    options = (*BUILD_OPTIONS, OutputOptions)

    def run(self, corpus, build_opts, tokenizer, micro, macro, meso, embedder, baselines, output) -> list[dict]:
        return build(corpus, build_opts, knobs_of(tokenizer, micro, macro, meso, embedder, baselines), output)

    def report(self, manifests: list[dict], *options) -> None:
        report.manifests(manifests, options[-1].out)
