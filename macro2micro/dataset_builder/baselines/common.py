"""What every baseline shares: the stats of its manifest, seeded tie-breaks, and the features it reuses.

A baseline picks N rows of the whole corpus by a rule from the selection literature; it has no levels. Its
manifest says where the rule comes from (``reference``) and how this implementation differs from the original
(``differs_from_original``), and the dataset card repeats both. The features are the ladders' own, with their
caches: model-token lengths (:mod:`..corpus.features`), the macro strategies' sentence embeddings
(:mod:`..models.embeddings`) and the meso tagger's normalized tags (:mod:`..types.meso`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from macro2micro.dataset_builder.corpus.ingest import column, corpus_fingerprint
from macro2micro.dataset_builder.defaults import SIDES, STATIC_EMBEDDER
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.options import EmbedderOptions, MesoOptions
from macro2micro.dataset_builder.selection.ladder import PoolTooSmallError
from macro2micro.dataset_builder.selection.strategies import (
    Strategy,
    TypeMatrix,
    check_selection_args,
    replicate_parts,
    strategy_rng,
)


class BaselineStrategy(Strategy):
    """A selection rule at a fixed budget, without levels. Subclasses set the class attributes and ``select``."""

    granularity = "baseline"
    stochastic = False  # the seed only breaks ties (kcenter overrides: its first centre is drawn)
    summary: str = ""  # what it selects, in one line
    reference: str = ""  # where it comes from: authors, title, venue and year
    differs: str = ""  # how this implementation differs from the original

    def check_budget(self, corpus, budget: int, seed: int, level: float = 1.0, replicate: int = 0) -> int:
        """The arguments of ``select`` checked (:func:`check_selection_args`); the corpus's rows."""
        check_selection_args(corpus, budget, seed, level)
        replicate_parts(replicate)
        n = len(corpus)
        if budget > n:
            raise PoolTooSmallError(f"{self.name}: budget N={budget} is larger than the corpus ({n} rows)")
        return n

    def tie_key(self, n: int, seed: int, replicate: int = 0) -> np.ndarray:
        """A seeded random permutation of ``n``: sorts rows whose keys tie."""
        return strategy_rng(seed, self.name, "ties", *replicate_parts(replicate)).permutation(n)

    def stats(self, n: int, budget: int, **extra: Any) -> dict:
        """The manifest fields of a baseline's selection."""
        return {
            "strategy": self.name,
            "granularity": self.granularity,
            "side": self.side,
            "level": None,
            "pool_size": n,
            "budget": budget,
            "summary": self.summary,
            "reference": self.reference,
            "differs_from_original": self.differs,
            **extra,
        }


def _center(emb: np.ndarray) -> np.ndarray:
    from macro2micro.dataset_builder.types.macro import center

    return center(emb)


def row_embeddings(corpus, embedder: EmbedderOptions, side: str) -> tuple[np.ndarray, dict]:
    """Unit-norm float32 embeddings of one side, or of ``both`` (the normalized sum of the two sides').

    The same model, options and cache files as the macro strategies (a static embedder's vectors are centred as
    they are there); ``both`` embeds nothing new when the macro ladders were built.
    """
    from macro2micro.dataset_builder.models.embeddings import embed_texts

    if embedder.model is None:
        raise OptionsError("kcenter and deita need a sentence-embedding model; --embedder none is not possible here")
    sides = SIDES if side == "both" else (side,)
    fp = corpus_fingerprint(corpus)
    total: np.ndarray | None = None
    ident: dict = {}
    for s in sides:
        emb, ident = embed_texts(
            column(corpus, s),
            embedder.embedder,
            fingerprint=f"{fp}:{s}",
            max_seq_length=embedder.max_seq_length,
            precision=embedder.embed_precision,
        )
        emb = emb.astype(np.float32)
        if str(ident.get("name", "")).startswith(f"{STATIC_EMBEDDER}:"):
            emb = _center(emb)
        total = emb if total is None else total + emb
    assert total is not None  # sides is never empty
    norms = np.linalg.norm(total, axis=1, keepdims=True)
    return total / np.maximum(norms, 1e-12), {**ident, "embedded": side}


_MEMO: dict[tuple, TypeMatrix] = {}  # deita and instag share the tags of one build


def instruction_tags(corpus, meso: MesoOptions, embedder: EmbedderOptions) -> TypeMatrix:
    """The meso tagger's normalized tags of every instruction (``meso_instruction``'s types), once per process."""
    from macro2micro.dataset_builder.types.meso import MesoStrategy

    key = (corpus_fingerprint(corpus), repr(meso), repr(embedder))
    if key not in _MEMO:
        if len(_MEMO) >= 4:
            _MEMO.pop(next(iter(_MEMO)))
        _MEMO[key] = MesoStrategy("instruction", meso, embedder).extract_types(corpus)
    return _MEMO[key]
