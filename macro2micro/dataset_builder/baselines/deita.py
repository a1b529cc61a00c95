"""``deita``: DEITA's score-first, diversity-aware selection (Liu et al., "What Makes Good Data for Alignment?",
ICLR 2024).

Rows in descending score; a row is admitted only when its cosine distance to every admitted row exceeds a
threshold; the threshold is the largest at which N rows are admitted (:func:`..selection.coreset.filter_threshold`),
so the budget decides it. The score is pluggable (:mod:`.scorers`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from macro2micro.dataset_builder.baselines.common import instruction_tags
from macro2micro.dataset_builder.baselines.kcenter import EmbeddingBaseline
from macro2micro.dataset_builder.baselines.options import BaselineOptions
from macro2micro.dataset_builder.corpus.features import side_features
from macro2micro.dataset_builder.corpus.ingest import column, corpus_fingerprint
from macro2micro.dataset_builder.defaults import DEFAULT_MODEL
from macro2micro.dataset_builder.options import EmbedderOptions, MesoOptions
from macro2micro.dataset_builder.selection.coreset import filter_threshold
from macro2micro.dataset_builder.selection.strategies import Selection


class DeitaStrategy(EmbeddingBaseline):
    """Score-first, diversity-aware selection at exactly N rows.

    Args:
        tokenizer: counts response lengths (``tags_x_length``).
        meso: the instruction tagger (``tags_x_length``).
        embedder: the sentence-embedding model (the macro strategies' own, with their cache).
        options: the scorer and which side is embedded.
    """

    name = "deita"
    summary = (
        "rows by descending score, each kept only if its cosine distance to every kept row exceeds a threshold "
        "(the largest that keeps N)"
    )
    reference = (
        'Liu, Zeng, He, Jiang and He, "What Makes Good Data for Alignment? A Comprehensive Study of Automatic Data '
        'Selection in Instruction Tuning", ICLR 2024'
    )

    def __init__(
        self,
        tokenizer: str = DEFAULT_MODEL,
        meso: MesoOptions | None = None,
        embedder: EmbedderOptions | None = None,
        options: BaselineOptions | None = None,
    ):
        super().__init__(embedder, options)
        self.tokenizer = tokenizer
        self.meso = meso or MesoOptions()

    @property
    def differs(self) -> str:  # type: ignore[override]
        o = self.options
        if o.deita_scorer == "tags_x_length":
            score = (
                "the score is an offline stand-in, tags_x_length = (1 + normalized instruction tags) x response "
                "tokens, not DEITA's complexity x quality scorers"
            )
        else:
            score = (
                f"the score is complexity x quality rated 1-6 by {o.deita_scorer_model} (an integer reply; DEITA "
                "takes the expected score from its own fine-tuned scorers)"
            )
        return (
            f"{score}; embeddings from the sentence embedder, not LLaMA-13B's hidden states; the threshold is "
            "searched so that exactly N rows are kept (DEITA fixes a similarity of 0.9 and stops at N)"
        )

    def get_options(self) -> dict[str, Any]:
        o = self.options
        out = {**super().get_options(), "scorer": o.deita_scorer}
        if o.deita_scorer == "tags_x_length":
            out.update(tokenizer=self.tokenizer, tagger=self.meso.tagger, alpha=self.meso.alpha)
            out.update(merge_threshold=self.meso.merge_threshold, max_tags=self.meso.max_tags)
        else:
            out.update(scorer_model=o.deita_scorer_model, scorer_url=o.deita_scorer_url)
        return out

    def make_scorer(self):
        from macro2micro.dataset_builder.baselines.scorers import LLMScorer, TagsTimesLength
        from macro2micro.dataset_builder.models.llm import OpenAIBackend, TransformersBackend

        o = self.options
        if o.deita_scorer == "tags_x_length":
            return TagsTimesLength()
        if o.deita_scorer == "openai":
            return LLMScorer(OpenAIBackend(o.deita_scorer_url, o.deita_scorer_model, max_tokens=8))
        return LLMScorer(TransformersBackend(o.deita_scorer_model, max_new_tokens=8))

    def fit(self, corpus) -> DeitaStrategy:
        fp = corpus_fingerprint(corpus)
        if getattr(self, "scores_fingerprint_", None) != fp:
            scorer = self.make_scorer()
            if self.options.deita_scorer == "tags_x_length":
                counts = np.diff(instruction_tags(corpus, self.meso, self.embedder).matrix.tocsr().indptr)
                lengths = side_features(corpus, "response", self.tokenizer).lengths()
                self.scores_ = scorer.score(counts, lengths)
            else:
                self.scores_ = scorer.score(column(corpus, "instruction"), column(corpus, "response"))
            self.scorer_identity_ = {
                **scorer.identity(),
                **({"stats": dict(scorer.stats)} if hasattr(scorer, "stats") else {}),
            }
            self.scores_fingerprint_ = fp
        super().fit(corpus)
        return self

    def select(self, corpus, budget: int, seed: int, level: float = 1.0, replicate: int = 0) -> Selection:
        n = self.check_budget(corpus, budget, seed, level, replicate)
        self.fit(corpus)
        scores, emb = self.scores_, self.embeddings_
        order = np.lexsort((self.tie_key(n, seed, replicate), -scores))
        threshold, rows = filter_threshold(emb, order, budget, what=self.name)
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        idx = np.sort(rows)
        return Selection(
            idx,
            self.stats(
                n,
                budget,
                threshold=round(threshold, 6),
                max_similarity=round(1.0 - threshold, 6),
                deepest_rank=int(rank[rows].max()) + 1,
                mean_score_taken=round(float(scores[idx].mean()), 4),
                mean_score_corpus=round(float(scores.mean()), 4),
                scorer=self.scorer_identity_,
                embedder=self.embedder_identity_,
            ),
        )
