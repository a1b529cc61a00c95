"""Meso types: normalized tags (InsTag-style atomic intent / topic labels; SPEC section 3).

A pluggable tagger turns each text into a few tags (:mod:`.tagging`); InsTag's normalization
turns tags into types; the ladder engine does the rest.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import scipy.sparse as sp

from .strategies import LadderStrategy, TypeMatrix, register

logger = logging.getLogger(__name__)

TAGGERS = ("offline", "openai", "transformers")


class MesoStrategy(LadderStrategy):
    """Meso diversity: types are normalized tags of the side's texts.

    Args:
        side: ``instruction`` or ``response``.
        tagger: ``offline`` (no model), ``openai`` (an OpenAI-compatible server) or
            ``transformers`` (a local model).
        tagger_model: the served model's name (openai) or a model path / Hub id (transformers).
        tagger_url: base URL of the OpenAI-compatible server, e.g. ``http://localhost:8000/v1``.
        alpha: drop raw tags seen fewer than this many times.
        merge_threshold: merge normalized tags at least this cosine-similar (None: no merge).
        embedder: embedding model for the merge (``none``: no merge).
        max_tags: tags per text for the offline tagger.
    """

    granularity = "meso"

    def __init__(self, side: str, tagger: str = "offline", tagger_model: str | None = None,
                 tagger_url: str | None = None, alpha: int = 2, merge_threshold: float | None = 0.9,
                 embedder: str = "embedded:all-minilm-l6-v2", max_tags: int = 4):
        super().__init__(side)
        if tagger not in TAGGERS:
            raise ValueError(f"tagger={tagger!r}; valid: {', '.join(TAGGERS)}")
        if tagger != "offline" and not tagger_model:
            raise ValueError(f"tagger={tagger!r} needs tagger_model (--tagger-model)")
        if tagger == "openai" and not tagger_url:
            raise ValueError("tagger='openai' needs tagger_url (--tagger-url), e.g. http://localhost:8000/v1")
        if alpha < 1:
            raise ValueError(f"alpha={alpha} must be at least 1")
        if merge_threshold is not None and not 0 < merge_threshold <= 1:
            raise ValueError(f"merge_threshold={merge_threshold} must lie in (0, 1] or be None")
        self.tagger, self.tagger_model, self.tagger_url = tagger, tagger_model, tagger_url
        self.alpha, self.merge_threshold, self.embedder, self.max_tags = alpha, merge_threshold, embedder, max_tags

    def get_options(self) -> dict[str, Any]:
        return {"tagger": self.tagger, "tagger_model": self.tagger_model, "tagger_url": self.tagger_url,
                "alpha": self.alpha, "merge_threshold": self.merge_threshold, "embedder": self.embedder,
                "max_tags": self.max_tags}

    def make_tagger(self):
        from .tagging import LLMTagger, OfflineTagger, OpenAIBackend, TransformersBackend

        if self.tagger == "offline":
            return OfflineTagger(max_tags=self.max_tags)
        if self.tagger == "openai":
            return LLMTagger(OpenAIBackend(self.tagger_url, self.tagger_model), side=self.side)
        return LLMTagger(TransformersBackend(self.tagger_model), side=self.side)

    def extract_types(self, corpus) -> TypeMatrix:
        from .tagging import normalize_tags

        tagger = self.make_tagger()
        raw = tagger.tag(list(corpus[self.side]))
        embedder = None if str(self.embedder).lower() == "none" else self.embedder
        tags, norm_info = normalize_tags(raw, self.alpha, self.merge_threshold, embedder)
        names = sorted({t for ts in tags for t in ts})
        col = {t: i for i, t in enumerate(names)}
        rows = np.repeat(np.arange(len(tags)), [len(ts) for ts in tags])
        cols = np.fromiter((col[t] for ts in tags for t in ts), dtype=np.int64, count=len(rows))
        matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(len(tags), len(names)))
        info = {"tagger": tagger.identity(), "normalization": norm_info,
                "untagged_texts": int(sum(1 for t in tags if not t))}
        if hasattr(tagger, "stats"):
            info["tagger_stats"] = dict(tagger.stats)
        logger.info("%s: %d types from %d raw tags (%s)", self.name, len(names), norm_info["raw_tags"], norm_info)
        return TypeMatrix(matrix, names, info)


register("meso_instruction", MesoStrategy, side="instruction")
register("meso_response", MesoStrategy, side="response")
