"""Micro types: mid-frequency tokens of the fine-tuned model's own tokenizer (METHOD section 3).

Texts are tokenized once per (corpus, tokenizer, side) (:mod:`macro2micro.dataset_builder.corpus.features`).
Counting each token over the whole side gives bands: high (> ``high``
occurrences: function words, affixes), low (< ``low``: names, typos) and mid (the rest). Only
mid-band tokens are types. ``per_million=True`` reads the bounds as occurrences per million
tokens of that side, for corpora of other sizes than the paper's 117K.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from macro2micro.dataset_builder.corpus.features import TokenFeatures, side_features
from macro2micro.dataset_builder.defaults import DEFAULT_MODEL
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.models.tokenizers import load_tokenizer, tokenizer_identity
from macro2micro.dataset_builder.options import MicroOptions
from macro2micro.dataset_builder.selection.strategies import LadderStrategy, TypeMatrix

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bands:
    """Token-frequency bands. Mid band = ``low <= count <= high`` (inclusive).

    Args:
        low: fewest occurrences of a mid-band token (paper: 10).
        high: most occurrences of a mid-band token (paper: 500).
        per_million: read ``low`` and ``high`` as occurrences per million tokens of the side.
    """

    low: float = 10
    high: float = 500
    per_million: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high:
            raise OptionsError(f"token bands need 0 <= low <= high, got low={self.low}, high={self.high}")

    def bounds(self, total_tokens: int) -> tuple[float, float]:
        if not self.per_million:
            return float(self.low), float(self.high)
        scale = total_tokens / 1e6
        return self.low * scale, self.high * scale

    def mid_mask(self, counts: np.ndarray) -> np.ndarray:
        lo, hi = self.bounds(int(counts.sum()))
        return (counts >= lo) & (counts <= hi)


def band_counts(counts: np.ndarray, bands: Bands) -> dict[str, float]:
    """How many distinct tokens fall into each band (tokens never seen are not counted)."""
    lo, hi = bands.bounds(int(counts.sum()))
    seen = counts > 0
    return {
        "low": int((seen & (counts < lo)).sum()),
        "mid": int((seen & (counts >= lo) & (counts <= hi)).sum()),
        "high": int((counts > hi).sum()),
        "distinct": int(seen.sum()),
        "total_tokens": int(counts.sum()),
        "low_bound": lo,
        "high_bound": hi,
    }


def mid_band_matrix(feats: TokenFeatures, bands: Bands) -> tuple[sp.csr_matrix, np.ndarray, dict]:
    """Binary sample x mid-band-token matrix.

    Returns:
        The CSR matrix (columns = mid-band tokens in id order), the token id of each column,
        and band statistics.
    """
    counts = feats.counts if feats.counts is not None else np.bincount(feats.ids, minlength=feats.vocab_size)
    mid = bands.mid_mask(counts) & (counts > 0)
    column_of = np.full(len(counts), -1, dtype=np.int64)
    token_ids = np.flatnonzero(mid)
    column_of[token_ids] = np.arange(len(token_ids))
    n = len(feats.offsets) - 1
    rows = np.repeat(np.arange(n, dtype=np.int64), feats.lengths())
    cols = column_of[feats.ids]
    keep = cols >= 0
    matrix = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.int8), (rows[keep], cols[keep])), shape=(n, len(token_ids))
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix, token_ids, band_counts(counts, bands)


class MicroStrategy(LadderStrategy):
    """Micro diversity: types are mid-band tokens of the fine-tuned model's tokenizer.

    Args:
        side: ``instruction`` or ``response``.
        tokenizer: model spec whose tokenizer is used (local path, Hub id, the embedded default),
            or ``"word"`` for whitespace words (the paper's ablation).
        options: the frequency bands (:class:`~macro2micro.dataset_builder.options.MicroOptions`).
    """

    granularity = "micro"

    def __init__(self, side: str, tokenizer: str = DEFAULT_MODEL, options: MicroOptions | None = None):
        super().__init__(side)
        self.tokenizer = tokenizer
        self.options = options or MicroOptions()
        self.bands = Bands(self.options.low, self.options.high, self.options.per_million)

    def get_options(self) -> dict:
        o = self.options
        return {"tokenizer": self.tokenizer, "low": o.low, "high": o.high, "per_million": o.per_million}

    def extract_types(self, corpus) -> TypeMatrix:
        feats = side_features(corpus, self.side, self.tokenizer)
        tok = load_tokenizer(self.tokenizer)
        matrix, token_ids, bands = mid_band_matrix(feats, self.bands)
        if feats.vocab is not None:
            names = [feats.vocab[i] for i in token_ids]
        else:
            names = tok.convert_ids_to_tokens(token_ids.tolist())
        logger.info("%s: %d mid-band tokens of %d distinct (%s)", self.name, bands["mid"], bands["distinct"], bands)
        info = {"tokenizer": tokenizer_identity(tok), "bands": bands, "mean_tokens": float(feats.lengths().mean())}
        return TypeMatrix(matrix, names, info)
