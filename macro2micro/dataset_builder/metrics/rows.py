"""The seven metrics of some rows of a corpus side, read chunk by chunk from what the corpus already holds.

:func:`side_metrics` in :mod:`.diversity` takes a subset's texts, token ids and words as lists; here the
same figures come from the whole side's flat arrays (:class:`~macro2micro.dataset_builder.corpus.features.
TokenFeatures`, :class:`~macro2micro.dataset_builder.metrics.words.WordIds`) and its Arrow text column,
given row indices, so scoring ``full`` costs about one 8-byte code per word bigram on top of the cached
features, not copies of every text, word and token:

- distinct-1: a seen-mask over the vocabulary, filled chunk by chunk;
- distinct-2 (any n): one exact 8-byte code per n-gram (base-V digits), in one array sorted in place, or (past
  :data:`PART_CODES`) in parts by the range of the leading word's id, disjoint, counted one after the other;
- token entropy: token counts accumulated chunk by chunk (the same counts, in the same order, as
  ``np.unique`` on the concatenation, so the same float);
- compression ratio: gzip fed the joined UTF-8 bytes in pieces (deflate's output does not depend on how
  its input is split, so the same compressed size);
- Self-BLEU: the sampled rows only.

Every value equals :func:`.diversity.side_metrics` on the same rows exactly (tests compare).
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterable, Sequence

import numpy as np

from macro2micro.dataset_builder.metrics.diversity import (
    _count_distinct,
    distinct_n_ids,
    embedding_distance,
    mean_length,
    self_bleu,
)
from macro2micro.dataset_builder.metrics.words import WordIds

CHUNK_ROWS = 16_384
# One large n-gram code array at a time: scoring threads (e.g. full's two sides) that each need one take turns,
# while the rest of their work (gzip, the longest part) runs side by side.
LARGE_CODES = 4_000_000
_LARGE = threading.Lock()
# At most this many n-gram codes (8 bytes each) in one array: more are counted part by part (2 + parts passes).
PART_CODES = 24_000_000
GZIP_FRAME = 18  # gzip's 10-byte header (no name, mtime 0) and 8-byte trailer around the deflate stream


def _flat_rows(ids: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ids of ``rows`` (in that order) as one int64 array, and each row's length."""
    starts, lengths = offsets[rows], offsets[rows + 1] - offsets[rows]
    ends = np.cumsum(lengths)
    src = np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) + np.repeat(starts - (ends - lengths), lengths)
    return ids[src].astype(np.int64, copy=False), lengths


def _chunks(rows: np.ndarray, size: int = CHUNK_ROWS) -> Iterable[np.ndarray]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def distinct_n_rows(wids: WordIds, rows: np.ndarray, n: int, chunk_rows: int = CHUNK_ROWS) -> float:
    """``distinct_n(wids.take(rows), n)`` without the copy: n-grams within each row, counted exactly."""
    rows = np.asarray(rows, dtype=np.int64)
    lengths = wids.offsets[rows + 1] - wids.offsets[rows]
    total = int(np.maximum(lengths - (n - 1), 0).sum())
    if not total:
        return 0.0
    base = int(wids.ids.max()) + 1
    if n == 1:
        seen = np.zeros(base, dtype=bool)
        for part in _chunks(rows, chunk_rows):
            seen[_flat_rows(wids.ids, wids.offsets, part)[0]] = True
        return int(np.count_nonzero(seen)) / total
    if base**n >= 2**63:  # codes would overflow: number the n-grams of a copy instead
        sub = wids.take(rows)
        return distinct_n_ids(sub.ids, sub.offsets, n)
    if total >= LARGE_CODES:
        with _LARGE:
            return _distinct_codes(wids, rows, n, total, base, chunk_rows)
    return _distinct_codes(wids, rows, n, total, base, chunk_rows)


def _distinct_codes(wids: WordIds, rows: np.ndarray, n: int, total: int, base: int, chunk_rows: int) -> float:
    """Distinct n-gram codes over ``total``: all codes in one array, or (more than :data:`PART_CODES`) part by part
    of the leading word's id range: the parts' codes are disjoint, so their distinct counts add up to the whole's."""
    if total <= PART_CODES:
        return _count_distinct_in_place(_part_codes(wids, rows, n, base, chunk_rows, total)) / total
    per_lead = np.zeros(base, dtype=np.int64)
    for lead, _ in _grams(wids, rows, n, base, chunk_rows, codes=False):
        per_lead += np.bincount(lead, minlength=base)
    cum = np.cumsum(per_lead)
    distinct, lo = 0, 0
    while lo < base:  # leads lo .. hi - 1 hold at most PART_CODES n-grams (or one lead alone holds more)
        before = int(cum[lo - 1]) if lo else 0
        hi = max(int(np.searchsorted(cum, before + PART_CODES, side="right")), lo + 1)
        size = int(cum[hi - 1]) - before
        if size:
            distinct += _count_distinct_in_place(_part_codes(wids, rows, n, base, chunk_rows, size, (lo, hi)))
        lo = hi
    return distinct / total


def _grams(wids: WordIds, rows: np.ndarray, n: int, base: int, chunk_rows: int, codes: bool = True):
    """Chunk by chunk of ``rows``: the leading word id of every n-gram within a row, and (``codes``) its exact code
    (its word ids as base-``base`` digits)."""
    for part in _chunks(rows, chunk_rows):
        ids, lens = _flat_rows(wids.ids, wids.offsets, part)
        row_start = np.zeros(len(ids) + 1, dtype=bool)
        row_start[np.concatenate(([0], np.cumsum(lens)))] = True
        valid = np.ones(max(len(ids) - n + 1, 0), dtype=bool)
        for k in range(1, n):  # no row starts inside the n-gram
            valid &= ~row_start[k : len(ids) - n + 1 + k]
        starts = np.flatnonzero(valid)
        lead = ids[starts]
        part_codes = None
        if codes:
            part_codes = lead
            for k in range(1, n):
                part_codes = part_codes * base + ids[starts + k]
        yield lead, part_codes


def _part_codes(
    wids: WordIds, rows: np.ndarray, n: int, base: int, chunk_rows: int, size: int, leads: tuple | None = None
) -> np.ndarray:
    """The ``size`` codes of the n-grams whose leading word id is in ``leads`` (lo, hi) (None: every n-gram), less
    the part's first possible code (a part's codes stay small enough to mark)."""
    codes = np.empty(size, dtype=np.int64)
    filled = 0
    for lead, part_codes in _grams(wids, rows, n, base, chunk_rows):
        assert part_codes is not None
        if leads is not None:
            part_codes = part_codes[(lead >= leads[0]) & (lead < leads[1])] - leads[0] * base ** (n - 1)
        codes[filled : filled + len(part_codes)] = part_codes
        filled += len(part_codes)
    return codes


def _count_distinct_in_place(codes: np.ndarray) -> int:
    """Distinct values of ``codes``, sorting it in place when it is not small enough to mark (no copy)."""
    if codes.min() >= 0 and codes.max() < 8 * len(codes) + (1 << 20):
        return _count_distinct(codes)
    codes.sort()
    return 1 + int(np.count_nonzero(codes[1:] != codes[:-1]))


def token_entropy_rows(ids: np.ndarray, offsets: np.ndarray, rows: np.ndarray, chunk_rows: int = CHUNK_ROWS) -> float:
    """Shannon entropy (bits) of the tokens of ``rows``, counted chunk by chunk (= ``token_entropy`` of their
    concatenation)."""
    rows = np.asarray(rows, dtype=np.int64)
    if not len(rows) or not int((offsets[rows + 1] - offsets[rows]).sum()):
        return 0.0
    counts = np.zeros(int(ids.max()) + 1, dtype=np.int64)
    for part in _chunks(rows, chunk_rows):
        counts += np.bincount(_flat_rows(ids, offsets, part)[0], minlength=len(counts))
    c = counts[counts > 0].astype(np.float64)
    p = c / c.sum()
    return float(-(p * np.log2(p)).sum())


def compression_ratio_stream(pieces: Iterable[bytes]) -> float:
    """``compression_ratio`` of the text whose UTF-8 bytes are the concatenation of ``pieces``."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = packed = 0
    for piece in pieces:
        raw += len(piece)
        packed += len(deflate.compress(piece))
    if not raw:
        return 0.0
    return raw / (packed + len(deflate.flush()) + GZIP_FRAME)


class RowView(Sequence):
    """``wids.take(rows)`` as a view: item i is row ``rows[i]``'s word ids (what Self-BLEU reads)."""

    def __init__(self, wids: WordIds, rows: np.ndarray):
        self.wids, self.rows = wids, np.asarray(rows, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):  # one row's word ids, as an array
        row = int(self.rows[i])
        return self.wids.ids[self.wids.offsets[row] : self.wids.offsets[row + 1]]


def side_metrics_rows(
    texts,
    token_ids: np.ndarray,
    token_offsets: np.ndarray,
    wids: WordIds,
    rows: np.ndarray,
    embeddings: np.ndarray | None,
    self_bleu_sample: int = 200,
    seed: int = 0,
) -> dict[str, float | None]:
    """:func:`.diversity.side_metrics` of ``rows`` of one corpus side, from the whole side's features.

    Args:
        texts: the side's texts, with ``byte_chunks(rows, sep)`` (an
            :class:`~macro2micro.dataset_builder.corpus.texts.ArrowTexts`).
        token_ids, token_offsets: the side's model-token ids, row i's being ``ids[offsets[i]:offsets[i+1]]``.
        wids: the side's word ids.
        rows: the subset's rows, in its order.
        embeddings: the subset's normalized embeddings, one per row (None: embedding_distance is None).
        self_bleu_sample, seed: as for ``side_metrics``.
    """
    rows = np.asarray(rows, dtype=np.int64)
    lengths = token_offsets[rows + 1] - token_offsets[rows]
    out = {
        "distinct_1": distinct_n_rows(wids, rows, 1),
        "distinct_2": distinct_n_rows(wids, rows, 2),
        "embedding_distance": embedding_distance(embeddings) if embeddings is not None else None,
        "mean_length": mean_length(lengths.astype(np.int64)),
        "compression_ratio": compression_ratio_stream(texts.byte_chunks(rows, b"\n")),
        "self_bleu": self_bleu(RowView(wids, rows), self_bleu_sample, seed),
        "token_entropy": token_entropy_rows(token_ids, token_offsets, rows),
    }
    return {k: (round(float(v), 6) if v is not None else None) for k, v in out.items()}
