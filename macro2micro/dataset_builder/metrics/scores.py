"""The diversity metrics of every config of a build (and of ``full``), on both sides.

Features are computed once over the corpus (token ids and embeddings are cached on disk) and
sliced per config by row index; the metric definitions are :mod:`.metrics`'.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from macro2micro.dataset_builder.corpus.features import side_features
from macro2micro.dataset_builder.corpus.ingest import column, corpus_fingerprint, turns_per_row
from macro2micro.dataset_builder.corpus.texts import ArrowTexts, arrow_column
from macro2micro.dataset_builder.defaults import FULL_CONFIG, SIDES
from macro2micro.dataset_builder.errors import ArtifactError
from macro2micro.dataset_builder.hub.schemas import short
from macro2micro.dataset_builder.metrics import variation
from macro2micro.dataset_builder.metrics.diversity import bootstrap_ci
from macro2micro.dataset_builder.metrics.language import detect_languages
from macro2micro.dataset_builder.metrics.replicates import add_replicate_spread
from macro2micro.dataset_builder.metrics.rows import side_metrics_rows
from macro2micro.dataset_builder.metrics.words import release_memo, side_word_ids
from macro2micro.dataset_builder.options import EmbedderOptions, MetricOptions
from macro2micro.dataset_builder.utils import release_memory

logger = logging.getLogger(__name__)


def compute_metrics(
    corpus,
    manifests: dict[str, dict],
    options: MetricOptions,
    tokenizer: str,
    embedder: EmbedderOptions | None = None,
    seed: int = 0,
) -> dict[str, dict]:
    """Per config (and ``full``): the seven metrics on both sides, plus k, pool size and coverage.

    Args:
        corpus: the corpus the build used (checked against the manifests' fingerprint).
        manifests: ``{config: manifest}`` of the build.
        options: Self-BLEU sample size and bootstrap resamples.
        tokenizer: model spec whose tokenizer counts lengths and entropy (or ``"word"``).
        embedder: sentence embeddings for the embedding distance (None or ``none``: skipped); its identity (spec,
            name, revision or files hash) is recorded in every config's ``embedder``.
        seed: seeds the Self-BLEU samples and the bootstrap.
    """
    from tqdm.auto import tqdm

    from macro2micro.dataset_builder.models.embeddings import embed_rows

    fp = corpus_fingerprint(corpus)
    for config, m in manifests.items():
        if m["corpus"]["fingerprint"] != fp:
            raise ArtifactError(
                f"config {config!r} was built from corpus {m['corpus']['fingerprint']}, "
                f"not the given corpus {fp}: pass the corpus the build used (--corpus, with the same --max_rows, "
                "--multi_turn and --system options when it is read from raw files)"
            )
    selections = {FULL_CONFIG: np.arange(len(corpus))}
    selections.update(_selected_rows(corpus, manifests, fp))
    # full's embedding distance on a seeded sample of N rows: the exact mean over all pairs of a sample is an
    # unbiased estimate of the corpus's, and embedding 117K texts on a CPU costs an hour.
    budget = max((len(idx) for c, idx in selections.items() if c != FULL_CONFIG), default=len(corpus))
    full_sample = np.sort(
        np.random.default_rng(seed).choice(len(corpus), size=min(budget, len(corpus)), replace=False)
    )
    needed = np.unique(np.concatenate([full_sample] + [idx for c, idx in selections.items() if c != FULL_CONFIG]))
    model = embedder.model if embedder is not None else None
    # the configs' rows, copied in one pass: scattered reads through the memory map would bring most of each column
    # into the resident set (a page holds a dozen rows)
    config_rows = np.concatenate([idx for c, idx in selections.items() if c != FULL_CONFIG] + [np.zeros(0, np.int64)])
    sides, held, lengths, embedder_ref = {}, {}, {}, None
    for side in SIDES:
        texts = ArrowTexts.of(corpus, side)  # read in slices from the (memory-mapped) corpus, never all at once
        held[side] = texts.only(config_rows)
        feats = side_features(corpus, side, tokenizer, remember=False).narrow()  # (freed before the repo is written)
        lengths[side] = feats.lengths()
        emb = None
        if model and embedder is not None:
            emb, embedder_ref = embed_rows(
                texts,
                needed,
                model,
                f"{fp}:{side}",
                embedder.max_seq_length,
                why=f"the {side}s of the {len(selections) - 1} configs, plus a sample of "
                f"{len(full_sample)} for full's embedding distance",
                precision=embedder.embed_precision,
            )
        sides[side] = (texts, feats, emb, side_word_ids(texts, f"{fp}:{side}"))
    release_memo()  # every side's word ids are in hand: the tokenizer's memo is not needed while scoring
    release_memory()
    sources = variation.source_codes(column(corpus, "source"))
    turns = turns_per_row(corpus)

    def side_entry(config: str, idx: np.ndarray, side: str) -> dict:
        texts, feats, emb, wids = sides[side]
        texts = texts if config == FULL_CONFIG else held[side]
        sub_emb = None if emb is None else emb[full_sample if config == FULL_CONFIG else idx]
        metrics = side_metrics_rows(
            texts, feats.ids, feats.offsets, wids, idx, sub_emb, options.self_bleu_sample, seed
        )
        entry: dict[str, dict] = {side: metrics}
        if options.bootstrap:  # (full's embeddings are a sample, not its rows: no interval for them)
            entry[f"{side}_ci95"] = bootstrap_ci(
                texts.take(idx),
                [feats.row(i) for i in idx],
                None if config == FULL_CONFIG else sub_emb,
                options.bootstrap,
                seed,
                tokenized=wids.take(idx),
            )
        return entry

    # One task per (config, side); gzip (the costliest metric at scale) releases the GIL, so threads use every core.
    tasks = [(config, idx, side) for config, idx in selections.items() for side in SIDES]
    with ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0))) as pool:
        done = list(
            tqdm(
                pool.map(lambda t: side_entry(*t), tasks),
                total=len(tasks),
                desc="metrics",
                unit="config side",
                leave=False,
            )
        )
    texts_of = {side: sides[side][0] for side in SIDES}
    sides.clear()  # the features and word ids: what follows reads texts only
    held.clear()
    release_memory()
    out: dict[str, dict] = {config: {} for config in selections}
    for (config, _, _), part in zip(tasks, done, strict=True):
        out[config].update(part)
    for config, idx in selections.items():
        entry, m = out[config], manifests.get(config, {})
        if embedder_ref is not None:  # which model the embedding distances are in: a reader compares like with like
            entry["embedder"] = {"spec": model, **embedder_ref}
        if config == FULL_CONFIG and model and len(full_sample) < len(corpus):
            entry["embedding_distance_sample"] = int(len(full_sample))
        if config == FULL_CONFIG:
            entry["languages"] = (
                {"given": list(options.language), "languages": list(options.language)}
                if options.language
                else detect_languages(
                    texts_of["instruction"],
                    texts_of["response"],
                    options.language_sample,
                    options.language_threshold,
                    seed,
                )
            )
        entry.update(
            rows=int(len(idx)),
            k=m.get("k"),
            pool_size=m.get("pool_size", len(corpus)),
            types_covered=m.get("types_covered"),
            type_coverage=m.get("type_coverage"),
            strategy=m.get("strategy", FULL_CONFIG),
            level=m.get("level"),
            varies=m.get("varies") or variation.describe(idx, lengths, *sources, turns=turns),
        )
    return add_replicate_spread(out)


def _selected_rows(corpus, manifests: dict[str, dict], fp: str) -> dict[str, np.ndarray]:
    """Each config's rows of the corpus, in its manifest's order (ids looked up in Arrow, not a dict of every id)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = arrow_column(corpus, "id")
    ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    out = {}
    for config, m in manifests.items():
        rows = pc.index_in(pa.array(m["selected_ids"], type=pa.string()), value_set=ids)
        if rows.null_count:
            missing = int(np.flatnonzero(rows.is_null().to_numpy(zero_copy_only=False))[0])
            raise ArtifactError(
                f"manifests/{config}.json: field 'selected_ids[{missing}]': id {short(m['selected_ids'][missing])} "
                f"is not a row of the corpus {fp}"
            )
        out[config] = rows.to_numpy().astype(np.int64)
    return out
