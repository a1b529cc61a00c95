"""Meso types: normalized tags (InsTag-style atomic intent / topic labels; METHOD section 3).

A pluggable tagger turns each text into a few tags (:mod:`.tagging`); InsTag's normalization
turns tags into types; the ladder engine does the rest.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import scipy.sparse as sp

from macro2micro.dataset_builder.corpus.ingest import column
from macro2micro.dataset_builder.options import EmbedderOptions, MesoOptions
from macro2micro.dataset_builder.selection.strategies import LadderStrategy, TypeMatrix

logger = logging.getLogger(__name__)


class MesoStrategy(LadderStrategy):
    """Meso diversity: types are normalized tags of the side's texts.

    Args:
        side: ``instruction`` or ``response``.
        options: the tagger and InsTag normalization (:class:`~macro2micro.dataset_builder.options.MesoOptions`).
        embedder: the embedding model of the tag merge (``none``: no merge).
    """

    granularity = "meso"

    def __init__(self, side: str, options: MesoOptions | None = None, embedder: EmbedderOptions | None = None):
        super().__init__(side)
        self.options = options or MesoOptions()
        self.embedder = embedder or EmbedderOptions()

    def get_options(self) -> dict[str, Any]:
        o = self.options
        return {
            "tagger": o.tagger,
            "tagger_model": o.tagger_model,
            "tagger_url": o.tagger_url,
            "alpha": o.alpha,
            "merge_threshold": o.merge_threshold,
            "embedder": self.embedder.embedder,
            "max_tags": o.max_tags,
        }

    def make_tagger(self):
        from macro2micro.dataset_builder.models.llm import OpenAIBackend, TransformersBackend
        from macro2micro.dataset_builder.types.tagging import LLMTagger, OfflineTagger

        o = self.options
        if o.tagger == "offline":
            return OfflineTagger(max_tags=o.max_tags)
        if o.tagger == "openai":
            return LLMTagger(OpenAIBackend(o.tagger_url, o.tagger_model), side=self.side)
        return LLMTagger(TransformersBackend(o.tagger_model), side=self.side)

    def extract_types(self, corpus) -> TypeMatrix:
        from macro2micro.dataset_builder.types.tagging import normalize_tags

        tagger = self.make_tagger()
        raw = tagger.tag(column(corpus, self.side))
        tags, norm_info = normalize_tags(raw, self.options.alpha, self.options.merge_threshold, self.embedder.model)
        names = sorted({t for ts in tags for t in ts})
        col = {t: i for i, t in enumerate(names)}
        rows = np.repeat(np.arange(len(tags)), [len(ts) for ts in tags])
        cols = np.fromiter((col[t] for ts in tags for t in ts), dtype=np.int64, count=len(rows))
        matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(len(tags), len(names)))
        info = {
            "tagger": tagger.identity(),
            "normalization": norm_info,
            "untagged_texts": int(sum(1 for t in tags if not t)),
        }
        if hasattr(tagger, "stats"):
            info["tagger_stats"] = dict(tagger.stats)
        logger.info("%s: %d types from %d raw tags (%s)", self.name, len(names), norm_info["raw_tags"], norm_info)
        return TypeMatrix(matrix, names, info)
