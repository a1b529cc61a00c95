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


def mid_band_matrix(
    feats: TokenFeatures, bands: Bands, chunk_rows: int = 65_536
) -> tuple[sp.csr_matrix, np.ndarray, dict]:
    """Binary sample x mid-band-token matrix, built a chunk of rows at a time with 4-byte indices (its memory
    follows its nonzeros, not every token of the side).

    Returns:
        The CSR matrix (columns = mid-band tokens in id order, sorted within each row), the token id of each
        column, and band statistics.
    """
    counts = feats.counts if feats.counts is not None else np.bincount(feats.ids, minlength=feats.vocab_size)
    mid = bands.mid_mask(counts) & (counts > 0)
    token_ids = np.flatnonzero(mid)
    column_of = np.full(len(counts), -1, dtype=np.int32)
    column_of[token_ids] = np.arange(len(token_ids), dtype=np.int32)
    n, width = len(feats.offsets) - 1, max(len(token_ids), 1)
    index_type = np.int32 if chunk_rows * width < 2**31 else np.int64  # (row, column) packed in one integer
    indptr = np.zeros(n + 1, dtype=np.int64)
    parts = []
    for start in range(0, n, chunk_rows):
        stop = min(start + chunk_rows, n)
        lo, hi = int(feats.offsets[start]), int(feats.offsets[stop])
        cols = column_of[feats.ids[lo:hi]]
        local = np.repeat(np.arange(stop - start, dtype=index_type), np.diff(feats.offsets[start : stop + 1]))
        keep = cols >= 0
        cells = np.unique(local[keep] * index_type(width) + cols[keep].astype(index_type))  # sorted, once each
        indptr[start + 1 : stop + 1] = np.bincount(cells // width, minlength=stop - start)
        parts.append((cells % width).astype(np.int32))
    np.cumsum(indptr, out=indptr)
    indices = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
    if indptr[-1] < 2**31:
        indptr = indptr.astype(np.int32)
    matrix = sp.csr_matrix((np.ones(len(indices), dtype=np.int8), indices, indptr), shape=(n, len(token_ids)))
    matrix.has_sorted_indices = True
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
