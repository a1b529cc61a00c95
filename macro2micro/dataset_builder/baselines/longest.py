"""``longest``: the N rows with the longest responses (Zhao et al., "Long Is More for Alignment", ICML 2024)."""

from __future__ import annotations

from typing import Any

import numpy as np

from macro2micro.dataset_builder.baselines.common import BaselineStrategy
from macro2micro.dataset_builder.corpus.features import side_features
from macro2micro.dataset_builder.corpus.ingest import corpus_fingerprint
from macro2micro.dataset_builder.defaults import DEFAULT_MODEL
from macro2micro.dataset_builder.selection.strategies import Selection


class LongestStrategy(BaselineStrategy):
    """The N longest responses, in the fine-tuned model's tokens; a seeded key orders rows of equal length.

    Args:
        tokenizer: model spec whose tokenizer counts lengths (the one the ladders and metrics use), or ``word``.
    """

    name = "longest"
    side = "response"
    summary = "the N rows with the longest responses"
    reference = (
        'Zhao, Andriushchenko, Croce and Flammarion, "Long Is More for Alignment: A Simple but Tough-to-Beat '
        'Baseline for Instruction Fine-Tuning", ICML 2024'
    )
    differs = (
        "length counted in the fine-tuned model's tokens, ties broken by a seeded key; the paper's refined variant "
        "(the selected responses rewritten by an LLM) is not reproduced: rows are taken as they are"
    )

    def __init__(self, tokenizer: str = DEFAULT_MODEL):
        self.tokenizer = tokenizer

    def get_options(self) -> dict[str, Any]:
        return {"tokenizer": self.tokenizer}

    def fit(self, corpus) -> LongestStrategy:
        fp = corpus_fingerprint(corpus)
        if getattr(self, "corpus_fingerprint_", None) != fp:
            self.lengths_ = side_features(corpus, self.side, self.tokenizer).lengths()
            self.corpus_fingerprint_ = fp
        return self

    def select(self, corpus, budget: int, seed: int, level: float = 1.0, replicate: int = 0) -> Selection:
        n = self.check_budget(corpus, budget, seed, level, replicate)
        lengths = self.fit(corpus).lengths_
        order = np.lexsort((self.tie_key(n, seed, replicate), -lengths))
        idx = np.sort(order[:budget])
        cut = int(lengths[order[budget - 1]])
        return Selection(
            idx,
            self.stats(
                n,
                budget,
                shortest_taken=cut,
                rows_at_shortest=int((lengths == cut).sum()),
                taken_at_shortest=int((lengths[idx] == cut).sum()),
            ),
        )
