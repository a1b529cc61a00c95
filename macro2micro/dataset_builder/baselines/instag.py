"""``instag``: InsTag's complexity-first diverse sampling (Lu et al., "#InsTag", ICLR 2024) on the meso tagger's tags.

Rows are offered in descending number of normalized instruction tags (the paper's measure of complexity). A pass
admits a row only when it brings a tag the pass has not covered yet; when a pass ends short of N, the covered
tags are forgotten and the next pass goes over the rows left. Among rows with the same number of tags, the one
with the most tags new to the pass comes first (a seeded key orders equal ones), so a tie never hides a row that
would widen the coverage. Rows without a tag come last, in seeded order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from macro2micro.dataset_builder.baselines.common import BaselineStrategy, instruction_tags
from macro2micro.dataset_builder.corpus.ingest import corpus_fingerprint
from macro2micro.dataset_builder.options import EmbedderOptions, MesoOptions
from macro2micro.dataset_builder.selection.ladder import as_binary_csr
from macro2micro.dataset_builder.selection.strategies import Selection


def complexity_first(tags, budget: int, tie: np.ndarray) -> tuple[np.ndarray, int]:
    """InsTag's sampling: exactly ``budget`` rows of a binary sample x tag CSR matrix, in admission order.

    Args:
        tags: binary CSR, one row per sample.
        budget: N, at most the rows.
        tie: a permutation of the rows ordering rows of equal tag count and equal novelty.

    Returns:
        The rows in admission order, and the number of passes.
    """
    n, n_tags = tags.shape
    counts = np.diff(tags.indptr)
    taken = np.zeros(n, dtype=bool)
    out: list[int] = []
    passes = 0
    while len(out) < budget:
        passes += 1
        covered = np.zeros(n_tags, dtype=np.int64)  # 1 where the pass has covered the tag
        before = len(out)
        for c in np.unique(counts[(counts > 0) & ~taken])[::-1]:
            group = np.flatnonzero((counts == c) & ~taken)
            group = group[np.argsort(tie[group], kind="stable")]
            sub = tags[group]
            open_ = np.ones(len(group), dtype=bool)
            while len(out) < budget:
                novelty = c - sub @ covered  # tags of each row not yet covered in this pass
                novelty[~open_] = -1
                best = int(np.argmax(novelty))  # the first of the largest: the seeded order breaks ties
                if novelty[best] <= 0:
                    break
                row = group[best]
                open_[best] = False
                taken[row] = True
                covered[tags.indices[tags.indptr[row] : tags.indptr[row + 1]]] = 1
                out.append(int(row))
            if len(out) == budget:
                break
        if len(out) == before:  # only rows without a tag are left
            rest = np.flatnonzero(~taken)
            out += rest[np.argsort(tie[rest], kind="stable")][: budget - len(out)].tolist()
    return np.asarray(out, dtype=np.int64), passes


class InsTagStrategy(BaselineStrategy):
    """Complexity-first diverse sampling on the normalized tags of the instructions.

    Args:
        meso: the tagger and InsTag's normalization (the ``meso_instruction`` ladder's).
        embedder: the model of the tag merge (``none``: no merge).
    """

    name = "instag"
    side = "instruction"
    summary = "most normalized instruction tags first, each row bringing a tag new to its pass"
    reference = (
        'Lu et al., "#InsTag: Instruction Tagging for Analyzing Supervised Fine-tuning of Large Language Models", '
        "ICLR 2024 (arXiv 2308.07074, 2023)"
    )
    differs = (
        "tags from the meso tagger (offline keyphrases unless an LLM tagger is configured; the paper tags with "
        "ChatGPT) after InsTag's normalization; rows of equal tag count taken by most tags new to the pass"
    )

    def __init__(self, meso: MesoOptions | None = None, embedder: EmbedderOptions | None = None):
        self.meso = meso or MesoOptions()
        self.embedder = embedder or EmbedderOptions()

    def get_options(self) -> dict[str, Any]:
        o = self.meso
        return {
            "tagger": o.tagger,
            "tagger_model": o.tagger_model,
            "tagger_url": o.tagger_url,
            "alpha": o.alpha,
            "merge_threshold": o.merge_threshold,
            "embedder": self.embedder.embedder,
            "max_tags": o.max_tags,
        }

    def fit(self, corpus) -> InsTagStrategy:
        fp = corpus_fingerprint(corpus)
        if getattr(self, "corpus_fingerprint_", None) != fp:
            tm = instruction_tags(corpus, self.meso, self.embedder)
            self.tags_ = as_binary_csr(tm.matrix)
            self.tag_info_ = tm.info
            self.corpus_fingerprint_ = fp
        return self

    def select(self, corpus, budget: int, seed: int, level: float = 1.0, replicate: int = 0) -> Selection:
        n = self.check_budget(corpus, budget, seed, level, replicate)
        tags = self.fit(corpus).tags_
        rows, passes = complexity_first(tags, budget, self.tie_key(n, seed, replicate))
        idx = np.sort(rows)
        counts = np.diff(tags.indptr)
        return Selection(
            idx,
            self.stats(
                n,
                budget,
                passes=passes,
                tags_covered=int(len(np.unique(tags[idx].indices))),
                n_tags=int(tags.shape[1]),
                mean_tags_taken=round(float(counts[idx].mean()), 4),
                mean_tags_corpus=round(float(counts.mean()), 4),
                type_info=self.tag_info_,
            ),
        )
