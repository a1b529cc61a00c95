"""The build stage: a corpus -> every ladder's configs (and ``random``) as :class:`Subsets`, in memory;
written to a folder only when asked."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from macro2micro.api.corpus import Source, engine_options, is_clean_corpus, resolve_inputs
from macro2micro.api.fields import make, split_fields
from macro2micro.dataset_builder.baselines.options import BaselineOptions
from macro2micro.dataset_builder.corpus.readers import is_in_memory
from macro2micro.dataset_builder.engine.options import EngineOptions
from macro2micro.dataset_builder.ladders.registry import StrategyKnobs, make_strategy, resolve_strategies
from macro2micro.dataset_builder.ladders.subsets import Subsets
from macro2micro.dataset_builder.options import (
    BuildOptions,
    CorpusOptions,
    EmbedderOptions,
    MacroOptions,
    MesoOptions,
    MicroOptions,
    TokenizerOptions,
)

logger = logging.getLogger(__name__)
KNOB_TYPES = (TokenizerOptions, MicroOptions, MacroOptions, MesoOptions, EmbedderOptions, BaselineOptions)
KNOB_NAMES = ("tokenizer", "micro", "macro", "meso", "embedder", "baselines")


def build_options(
    options: BuildOptions | None, knobs: StrategyKnobs | None, corpus: CorpusOptions | None, fields: dict[str, Any]
) -> tuple[BuildOptions, StrategyKnobs, CorpusOptions]:
    """The build's typed options from the given objects plus keyword fields (each to the dataclass declaring it)."""
    build_f, *knob_f, corpus_f = split_fields(fields, BuildOptions, *KNOB_TYPES, CorpusOptions, where="build_ladders")
    knobs = knobs or StrategyKnobs()
    parts = {
        name: make(kind, getattr(knobs, name), f) for name, kind, f in zip(KNOB_NAMES, KNOB_TYPES, knob_f, strict=True)
    }
    return make(BuildOptions, options, build_f), StrategyKnobs(**parts), make(CorpusOptions, corpus, corpus_f)


def preflight(options: BuildOptions, knobs: StrategyKnobs) -> list[str]:
    """Check the strategies and load the models they need before any corpus is read (fails fast)."""
    from macro2micro.dataset_builder.models.tokenizers import load_tokenizer

    names = resolve_strategies(options.strategies)
    strategies = [make_strategy(name, knobs) for name in names]
    load_tokenizer(knobs.tokenizer.tokenizer)  # micro types, and every config's lengths
    tags_merged = ("meso_instruction", "meso_response", "instag", "deita")  # the meso tagger's merge embeds tags
    needs_embedder = any(
        s.granularity == "macro"
        or s.name in ("kcenter", "deita")
        or (s.name in tags_merged and knobs.meso.merge_threshold)
        for s in strategies
    )
    if needs_embedder and knobs.embedder.model:
        from macro2micro.dataset_builder.models.embeddings import load_embedder

        load_embedder(knobs.embedder.model, None, knobs.embedder.max_seq_length, knobs.embedder.embed_precision)
    return names


def open_source(source: Source, options: CorpusOptions) -> tuple[Any, CorpusOptions | None]:
    """``(clean corpus, how it was read)``: an in-memory corpus as it is (cleaned first if it is raw data),
    anything else read like ``--corpus`` (an ingested folder is opened as it is); the options read it, with
    ``corpus`` the resolved inputs (None for an in-memory corpus: nothing on disk to find it again)."""
    from macro2micro.dataset_builder.corpus.ingest import load_corpus, open_corpus
    from macro2micro.dataset_builder.corpus.readers import ingested_dataset
    from macro2micro.dataset_builder.corpus.shape import reconcile

    if is_clean_corpus(source):
        return source, None
    if is_in_memory(source):
        logger.info("build: the dataset lacks the corpus columns; reading it as raw SFT data first")
        return load_corpus([source], options)[0], None
    inputs = resolve_inputs(source, options)
    options = dataclasses.replace(options, corpus=[str(i) for i in inputs])
    folder = inputs[0] if len(inputs) == 1 and isinstance(inputs[0], (str, Path)) else None
    if folder is not None and ingested_dataset(folder) is not None:  # opened as it is: record how it was shaped
        options = reconcile(options, folder)
    ds, _ = open_corpus(options)
    return ds, options


def build_ladders(
    corpus: Source = None,
    options: BuildOptions | None = None,
    knobs: StrategyKnobs | None = None,
    *,
    corpus_options: CorpusOptions | None = None,
    engine: EngineOptions | str | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    **fields: Any,
) -> Subsets:
    """Diversity ladders (and the random control) from a corpus, as ``macro2micro build`` builds them.

    Args:
        corpus: a clean corpus (:func:`load_corpus`), raw SFT data in memory (read with ``corpus_options``
            first), or paths / a Hub id / an ingested folder; None: ``corpus_options.corpus`` (the embedded
            default).
        options: :class:`~macro2micro.dataset_builder.options.BuildOptions` (strategies, budget, levels, seed,
            sampler, length control).
        knobs: the strategies' settings (:class:`StrategyKnobs`: tokenizer, micro bands, macro clustering,
            meso tagger, embedder).
        corpus_options: how raw data is read and cleaned.
        engine: ``"local"`` (default), ``"ray"``, or :class:`EngineOptions` (``ray_address``, ``ray_block_rows``
            may also be given as keywords): where the per-row work runs. The subsets are the same bytes on either.
        out: also write the build folder here (atomic; the layout ``publish`` reads), as the console script does.
        overwrite: with ``out``: replace a folder macro2micro did not write.
        **fields: any field of those dataclasses, e.g. ``strategies=["micro_response"], budget=500,
            length_window="auto", tokenizer="word"``.

    Returns:
        :class:`Subsets`: a ``DatasetDict`` with one split per config, plus ``manifests``, ``info`` (what
        ``build.json`` holds) and ``warnings``.
    """
    from macro2micro.dataset_builder.ladders.build import build_ladders as build

    engine_opts = engine_options(engine, fields, "build_ladders", BuildOptions, *KNOB_TYPES, CorpusOptions)
    options, knobs, corpus_opts = build_options(options, knobs, corpus_options, fields)
    folder = None
    if out is not None:
        from macro2micro.dataset_builder.outputs import OutputFolder

        paths = [] if is_in_memory(corpus) else resolve_inputs(corpus, corpus_opts)
        folder = OutputFolder(out, "build", inputs=paths, overwrite=overwrite).check()
    names = preflight(options, knobs)

    def run():
        ds, location = open_source(corpus, corpus_opts)
        if engine_opts.ray:
            from macro2micro.dataset_builder.engine.features import prepare_features

            prepare_features(ds, names, knobs, engine_opts)  # into the caches the build reads: the same bytes
        return build(ds, options, knobs, location)

    if folder is None:
        return run()
    with folder as tmp:
        subsets = run()
        subsets.write(tmp)
    return subsets


def read_subsets(folder: str | Path) -> Subsets:
    """A build folder (``macro2micro build --out``, :meth:`Subsets.save`) read back as :class:`Subsets`."""
    return Subsets.load(folder)
