"""The diversity metrics of every config of a build (and of ``full``), on both sides.

Features are computed once over the corpus (token ids and embeddings are cached on disk) and
sliced per config by row index; the metric definitions are :mod:`.metrics`'.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from . import variation
from .corpus import column, corpus_fingerprint
from .defaults import FULL_CONFIG, SIDES
from .metrics import bootstrap_ci, side_metrics, words
from .micro import side_features
from .options import EmbedderOptions, MetricOptions

logger = logging.getLogger(__name__)


def compute_metrics(corpus, manifests: dict[str, dict], options: MetricOptions, tokenizer: str,
                    embedder: EmbedderOptions | None = None, seed: int = 0) -> dict[str, dict]:
    """Per config (and ``full``): the seven metrics on both sides, plus k, pool size and coverage.

    Args:
        corpus: the corpus the build used (checked against the manifests' fingerprint).
        manifests: ``{config: manifest}`` of the build.
        options: Self-BLEU sample size and bootstrap resamples.
        tokenizer: model spec whose tokenizer counts lengths and entropy (or ``"word"``).
        embedder: sentence embeddings for the embedding distance (None or ``none``: skipped).
        seed: seeds the Self-BLEU samples and the bootstrap.
    """
    from tqdm.auto import tqdm

    from .embeddings import embed_texts

    fp = corpus_fingerprint(corpus)
    for config, m in manifests.items():
        if m["corpus"]["fingerprint"] != fp:
            raise ValueError(f"config {config!r} was built from corpus {m['corpus']['fingerprint']}, "
                             f"not the given corpus {fp}: pass the corpus the build used (--corpus)")
    row_of = {rid: i for i, rid in enumerate(column(corpus, "id"))}
    model = embedder.model if embedder is not None else None
    sides, lengths = {}, {}
    for side in SIDES:
        texts = column(corpus, side)
        feats = side_features(corpus, side, tokenizer)
        lengths[side] = feats.lengths()
        ids = [feats.row(i) for i in range(len(texts))]
        emb = None
        if model:
            emb, _ = embed_texts(texts, model, fingerprint=f"{fp}:{side}", max_seq_length=embedder.max_seq_length)
        sides[side] = (texts, ids, emb, [words(t) for t in texts])
    sources = variation.source_codes(column(corpus, "source"))
    selections = {FULL_CONFIG: np.arange(len(corpus))}
    for config, m in manifests.items():
        selections[config] = np.array([row_of[i] for i in m["selected_ids"]])
    out: dict[str, dict] = {}
    for config, idx in tqdm(selections.items(), desc="metrics", unit="config", leave=False):
        entry: dict[str, Any] = {}
        for side, (texts, ids, emb, tokenized) in sides.items():
            sub_texts = [texts[i] for i in idx]
            sub_ids = [ids[i] for i in idx]
            sub_tok = [tokenized[i] for i in idx]
            sub_emb = emb[idx] if emb is not None else None
            entry[side] = side_metrics(sub_texts, sub_ids, sub_emb, options.self_bleu_sample, seed,
                                       tokenized=sub_tok)
            if options.bootstrap:
                entry[f"{side}_ci95"] = bootstrap_ci(sub_texts, sub_ids, sub_emb, options.bootstrap, seed,
                                                     tokenized=sub_tok)
        m = manifests.get(config, {})
        entry.update(rows=int(len(idx)), k=m.get("k"), pool_size=m.get("pool_size", len(corpus)),
                     type_coverage=m.get("type_coverage"), strategy=m.get("strategy", FULL_CONFIG),
                     level=m.get("level"), varies=m.get("varies") or variation.describe(idx, lengths, *sources))
        out[config] = entry
    return out
