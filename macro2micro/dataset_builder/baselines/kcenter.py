"""``kcenter``: k-center greedy on sentence embeddings (Sener and Savarese, "A Core-Set Approach", ICLR 2018)."""

from __future__ import annotations

from typing import Any

import numpy as np

from macro2micro.dataset_builder.baselines.common import BaselineStrategy, row_embeddings
from macro2micro.dataset_builder.baselines.options import BaselineOptions
from macro2micro.dataset_builder.corpus.ingest import column, corpus_fingerprint
from macro2micro.dataset_builder.options import EmbedderOptions
from macro2micro.dataset_builder.selection.coreset import farthest_first
from macro2micro.dataset_builder.selection.strategies import Selection, replicate_parts, strategy_rng


class EmbeddingBaseline(BaselineStrategy):
    """A baseline over the macro embedder's vectors of one side or both (``fit`` keeps them in ``embeddings_``)."""

    def __init__(self, embedder: EmbedderOptions | None = None, options: BaselineOptions | None = None):
        self.embedder = embedder or EmbedderOptions()
        self.options = options or BaselineOptions()

    def get_options(self) -> dict[str, Any]:
        return {
            "embedder": self.embedder.embedder,
            "max_seq_length": self.embedder.max_seq_length,
            "embedded": self.options.baseline_embedding,
        }

    def fit(self, corpus) -> EmbeddingBaseline:
        fp = corpus_fingerprint(corpus)
        if getattr(self, "corpus_fingerprint_", None) != fp:
            self.embeddings_, self.embedder_identity_ = row_embeddings(
                corpus, self.embedder, self.options.baseline_embedding
            )
            self.corpus_fingerprint_ = fp
        return self


class KCenterStrategy(EmbeddingBaseline):
    """Farthest-first traversal from a seeded first centre (exact; :func:`..selection.coreset.farthest_first`).

    Args:
        embedder: the sentence-embedding model (the macro strategies' own, with their cache).
        options: which side is embedded (``baseline_embedding``).
    """

    name = "kcenter"
    stochastic = True  # the first centre is drawn
    summary = "k-center greedy: each row the farthest (cosine) from those taken, from a seeded first row"
    reference = (
        'Sener and Savarese, "Active Learning for Convolutional Neural Networks: A Core-Set Approach", ICLR 2018'
    )
    differs = (
        "the greedy 2-approximation only (the paper refines it with a robust mixed-integer program), on sentence "
        "embeddings with cosine distance instead of a CNN's features, and once at N rather than in active-learning "
        "rounds"
    )

    def select(self, corpus, budget: int, seed: int, level: float = 1.0, replicate: int = 0) -> Selection:
        n = self.check_budget(corpus, budget, seed, level, replicate)
        emb = self.fit(corpus).embeddings_
        first = int(strategy_rng(seed, self.name, "first", *replicate_parts(replicate)).integers(n))
        order, picked_at, radius = farthest_first(emb, budget, first)
        return Selection(
            np.sort(order),
            self.stats(
                n,
                budget,
                first_centre=column(corpus, "id")[first],
                covering_radius=round(radius, 6),
                last_pick_distance=round(float(picked_at[-1]), 6) if budget > 1 else None,
                embedder=self.embedder_identity_,
            ),
        )
