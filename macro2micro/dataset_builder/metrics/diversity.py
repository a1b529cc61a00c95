"""The paper's seven diversity metrics of a subset, per side (METHOD section 4). Pure functions.

| key | definition |
|---|---|
| distinct_1 / distinct_2 | unique word uni-/bigrams / all, over the subset (nltk's Treebank words, lower-cased) |
| embedding_distance | mean pairwise cosine distance, exact in O(n d): mean cos = (|sum e|^2 - n) / (n (n - 1)) |
| mean_length | mean tokens per text (the model tokenizer) |
| compression_ratio | bytes of the joined texts / bytes after gzip (higher = more redundant) |
| self_bleu | mean smoothed BLEU-4 of each sampled text against the other sampled texts (higher = less diverse) |
| token_entropy | Shannon entropy in bits of the subset's token distribution (the model tokenizer) |

Words come as :class:`~macro2micro.dataset_builder.metrics.words.WordIds` (ids plus offsets, from ``word_ids(texts)``,
cheap to cache and to subset with ``take``), or as lists of words (the older form, converted).
Either gives the same values.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Sequence

import numpy as np

from macro2micro.dataset_builder.metrics.words import WordIds, word_ids

METRICS = (
    "distinct_1",
    "distinct_2",
    "embedding_distance",
    "mean_length",
    "compression_ratio",
    "self_bleu",
    "token_entropy",
)

Words = Sequence[Sequence] | WordIds  # per text its words (strings or ids), or a WordIds


def as_word_ids(tokenized: Words) -> WordIds:
    """``tokenized`` as a :class:`WordIds` (lists of words are numbered in order of first appearance)."""
    if isinstance(tokenized, WordIds):
        return tokenized
    return WordIds.from_words(tokenized)


def distinct_n(tokenized: Words, n: int) -> float:
    """Unique n-grams / all n-grams over all texts (0 when there are none), of the words as given: the metrics feed it
    the Treebank words of the lower-cased texts (:mod:`.words`), so "The" and "the" count as one."""
    if isinstance(tokenized, WordIds):
        return distinct_n_ids(tokenized.ids, tokenized.offsets, n)
    total, unique = 0, set()
    for toks in tokenized:
        grams = list(zip(*(toks[i:] for i in range(n)), strict=False))
        total += len(grams)
        unique.update(grams)
    return len(unique) / total if total else 0.0


def _gram_codes(ids: np.ndarray, offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """One integer per n-gram that does not cross a text boundary (equal codes, equal n-grams), and
    the start position of each. The codes are exact: base-``V`` digits while they fit in 63 bits,
    else the n-grams are numbered by sorting their rows."""
    offsets = np.asarray(offsets, dtype=np.int64)
    ids = np.asarray(ids, dtype=np.int64)[offsets[0] : offsets[-1]] if len(offsets) else np.zeros(0, np.int64)
    offsets = offsets - offsets[0] if len(offsets) else offsets
    if len(ids) < n:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    row_start = np.zeros(len(ids) + 1, dtype=bool)
    row_start[np.asarray(offsets)] = True
    valid = np.ones(len(ids) - n + 1, dtype=bool)
    for k in range(1, n):  # no text starts inside the n-gram
        valid &= ~row_start[k : len(ids) - n + 1 + k]
    starts = np.flatnonzero(valid)
    if n == 1:
        return ids, starts
    base = int(ids.max()) + 1
    if base**n < 2**63:
        codes = ids[starts]
        for k in range(1, n):
            codes = codes * base + ids[starts + k]
        return codes, starts
    grams = np.stack([ids[starts + k] for k in range(n)], axis=1)
    return np.unique(grams, axis=0, return_inverse=True)[1].reshape(-1), starts


def distinct_n_ids(ids: np.ndarray, offsets: np.ndarray, n: int) -> float:
    """``distinct_n`` over word ids: text i's words are ``ids[offsets[i]:offsets[i + 1]]``.

    Exactly the value of the string version on the same words (counts of distinct n-grams do not
    depend on how words are named).
    """
    codes, _ = _gram_codes(ids, offsets, n)
    if not len(codes):
        return 0.0
    return _count_distinct(codes) / len(codes)


def _count_distinct(codes: np.ndarray) -> int:
    if codes.min() >= 0 and codes.max() < 8 * len(codes) + (1 << 20):  # small codes: mark them, no sort
        seen = np.zeros(int(codes.max()) + 1, dtype=bool)
        seen[codes] = True
        return int(np.count_nonzero(seen))
    codes = np.sort(codes)  # (plain np.unique takes a slower hashing path in numpy 2)
    return 1 + int(np.count_nonzero(codes[1:] != codes[:-1]))


class _DistinctResampler:
    """distinct-n of row resamples (with repeats) without re-sorting: the n-grams of a resample are the
    union of its rows' n-grams, and their count is each chosen row's count times its multiplicity."""

    def __init__(self, wids: WordIds, n: int) -> None:
        codes, starts = _gram_codes(wids.ids, wids.offsets, n)
        rows = np.searchsorted(wids.offsets - wids.offsets[0], starts, side="right") - 1
        self.grams_per_row = np.bincount(rows, minlength=len(wids)).astype(np.int64)
        dense = np.unique(codes, return_inverse=True)[1].reshape(-1).astype(np.int64)
        kinds = int(dense.max()) + 1 if len(dense) else 0
        pairs = np.sort(rows * kinds + dense)
        pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))] if len(pairs) else pairs  # once per row
        self.pair_row, self.pair_gram = pairs // max(kinds, 1), pairs % max(kinds, 1)
        self.seen = np.zeros(kinds, dtype=bool)

    def __call__(self, idx: np.ndarray) -> float:
        times = np.bincount(idx, minlength=len(self.grams_per_row))
        total = int(times @ self.grams_per_row)
        if not total:
            return 0.0
        grams = self.pair_gram[(times > 0)[self.pair_row]]
        self.seen[grams] = True
        unique = int(np.count_nonzero(self.seen))
        self.seen[grams] = False
        return unique / total


def embedding_distance(embeddings: np.ndarray) -> float:
    """Exact mean pairwise cosine distance of normalized embeddings, without the n x n matrix.

    A zero vector (a text the embedder has no token for, e.g. a lone zero-width space under the static embedder)
    has no direction: it is left out, rather than turning the mean into NaN.
    """
    e = np.asarray(embeddings, dtype=np.float64)
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    e = e[norms[:, 0] > 0] / norms[norms[:, 0] > 0]
    n = len(e)
    if n < 2:
        return 0.0
    s = e.sum(axis=0)
    mean_cos = (float(s @ s) - n) / (n * (n - 1))
    return 1.0 - mean_cos


def mean_length(token_lengths: np.ndarray) -> float:
    return float(np.mean(token_lengths)) if len(token_lengths) else 0.0


def compression_ratio(texts: Sequence[str]) -> float:
    """Joined UTF-8 bytes over their gzip size (mtime fixed, so the value is deterministic)."""
    raw = "\n".join(texts).encode("utf-8")
    if not raw:
        return 0.0
    return len(raw) / len(gzip.compress(raw, compresslevel=9, mtime=0))


def token_entropy(token_ids: np.ndarray) -> float:
    """Shannon entropy (bits) of the frequency distribution of the given token ids."""
    if len(token_ids) == 0:
        return 0.0
    counts = np.unique(np.asarray(token_ids), return_counts=True)[1].astype(np.float64)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def _clipped_counts(ids: np.ndarray, offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per text of a sample: BLEU's clipped n-gram matches against all the other texts (each of its n-grams
    counts at most as often as it occurs in the other text where it is most frequent), and its n-gram count.

    Every (text, n-gram) pair is counted once; an n-gram's largest and second-largest count over the texts
    give "the largest among the *others*" of each pair in O(1): the second where the pair holds the largest,
    the largest elsewhere (with a tie at the top the two are equal)."""
    m = len(offsets) - 1
    codes, starts = _gram_codes(ids, offsets, n)
    if not len(codes):
        return np.zeros(m, dtype=np.int64), np.zeros(m, dtype=np.int64)
    text = np.searchsorted(offsets - offsets[0], starts, side="right") - 1
    totals = np.bincount(text, minlength=m)
    dense = np.unique(codes, return_inverse=True)[1].reshape(-1).astype(np.int64)
    kinds = int(dense.max()) + 1
    pairs = np.sort(text * kinds + dense)
    first = np.flatnonzero(np.concatenate(([True], pairs[1:] != pairs[:-1])))
    count = np.diff(np.append(first, len(pairs)))
    pair_text, pair_gram = pairs[first] // kinds, pairs[first] % kinds
    order = np.lexsort((-count, pair_gram))  # by n-gram, largest count first
    g, c = pair_gram[order], count[order]
    head = np.concatenate(([True], g[1:] != g[:-1]))
    most = np.zeros(kinds, dtype=np.int64)
    most[g[head]] = c[head]
    second = np.zeros(kinds, dtype=np.int64)
    runner = np.flatnonzero(~head & np.concatenate(([False], head[:-1])))  # the second pair of its n-gram
    second[g[runner]] = c[runner]
    others = np.where(count == most[pair_gram], second[pair_gram], most[pair_gram])
    matches = np.bincount(pair_text, weights=np.minimum(count, others), minlength=m)
    return np.rint(matches).astype(np.int64), totals


def self_bleu(tokenized: Words, sample_size: int = 200, seed: int = 0) -> float:
    """Mean smoothed BLEU-4 of each of a seeded sample of texts against the rest of the sample.

    ``tokenized`` is per text its words, as strings or ids (a ``WordIds``, or int arrays): only
    equality of words matters, so both give the same value. Equal to averaging nltk's
    ``sentence_bleu(others, text, smoothing_function=method1)`` (a test checks it), with the n-gram
    matches counted in arrays (:func:`_clipped_counts`): O(n-grams log n-grams) instead of nltk's
    O(sample^2 x length), and no Python loop over n-grams.
    """
    idx = np.arange(len(tokenized))
    if len(idx) > sample_size:
        idx = np.sort(np.random.default_rng(seed).choice(idx, size=sample_size, replace=False))
    rows = [tokenized[int(i)] for i in idx]
    rows = [t for t in rows if len(t)]
    m = len(rows)
    if m < 2:
        return 0.0
    if all(isinstance(t, np.ndarray) and t.dtype.kind in "iu" for t in rows) or all(
        isinstance(w, int | np.integer) for t in rows for w in t
    ):
        lengths = np.array([len(t) for t in rows], dtype=np.int64)
        ids = np.concatenate([np.asarray(t, dtype=np.int64) for t in rows])
        offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    else:
        wids = WordIds.from_words(rows)
        ids, offsets, lengths = wids.ids, wids.offsets, wids.lengths()
    if int(ids.min()) < 0:
        ids = np.unique(ids, return_inverse=True)[1].reshape(-1).astype(np.int64)
    clipped = [_clipped_counts(ids, offsets, n) for n in range(1, 5)]
    sorted_lengths = np.sort(lengths)
    scores = []
    for i in range(m):
        hyp_len = int(lengths[i])
        others = np.delete(sorted_lengths, np.searchsorted(sorted_lengths, hyp_len))
        closest = int(others[np.lexsort((others, np.abs(others - hyp_len)))[0]])
        log_p = 0.0
        for n in range(4):
            numerator = int(clipped[n][0][i])
            denominator = max(1, int(clipped[n][1][i]))
            if n == 0 and numerator == 0:
                log_p = -math.inf
                break
            p = numerator / denominator if numerator else 0.1 / denominator  # nltk method1, epsilon 0.1
            log_p += 0.25 * math.log(p)
        bp = 1.0 if hyp_len > closest else math.exp(1 - closest / hyp_len)
        scores.append(0.0 if log_p == -math.inf else bp * math.exp(log_p))
    return float(np.mean(scores))


def side_metrics(
    texts: Sequence[str],
    token_ids: Sequence[np.ndarray],
    embeddings: np.ndarray | None,
    self_bleu_sample: int = 200,
    seed: int = 0,
    tokenized: Words | None = None,
) -> dict[str, float | None]:
    """All seven metrics of one side of one subset.

    Args:
        texts: the subset's texts of that side.
        token_ids: per text, its model-tokenizer ids.
        embeddings: per text, its normalized embedding (None: embedding_distance is None).
        self_bleu_sample: texts sampled for Self-BLEU.
        seed: seeds the Self-BLEU sample.
        tokenized: the texts' words, if already computed: a ``WordIds`` (e.g. ``word_ids(corpus_side)``
            then ``.take(rows)``; the fast form) or per text a list of words.
    """
    wids = word_ids(texts) if tokenized is None else as_word_ids(tokenized)
    lengths = np.fromiter((len(t) for t in token_ids), dtype=np.int64, count=len(token_ids))
    flat = np.concatenate(token_ids) if len(token_ids) else np.zeros(0, dtype=np.int64)
    out = {
        "distinct_1": distinct_n(wids, 1),
        "distinct_2": distinct_n(wids, 2),
        "embedding_distance": embedding_distance(embeddings) if embeddings is not None else None,
        "mean_length": mean_length(lengths),
        "compression_ratio": compression_ratio(texts),
        "self_bleu": self_bleu(wids, self_bleu_sample, seed),
        "token_entropy": token_entropy(flat),
    }
    return {k: (round(float(v), 6) if v is not None else None) for k, v in out.items()}


def bootstrap_ci(
    texts: Sequence[str],
    token_ids: Sequence[np.ndarray],
    embeddings: np.ndarray | None,
    resamples: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
    tokenized: Words | None = None,
) -> dict[str, list[float]]:
    """Percentile bootstrap intervals (rows resampled) of the metrics that are cheap to recompute.

    Self-BLEU is left out: it is already an estimate on a sample, and costly. ``tokenized`` as in
    :func:`side_metrics`.
    """
    wids = word_ids(texts) if tokenized is None else as_word_ids(tokenized)
    distinct = {n: _DistinctResampler(wids, n) for n in (1, 2)}
    rng = np.random.default_rng(seed)
    n = len(texts)
    draws: dict[str, list[float]] = {k: [] for k in METRICS if k != "self_bleu"}
    for _ in range(resamples):
        idx = rng.integers(0, n, size=n)
        ids = [token_ids[i] for i in idx]
        draws["distinct_1"].append(distinct[1](idx))
        draws["distinct_2"].append(distinct[2](idx))
        draws["mean_length"].append(mean_length(np.array([len(t) for t in ids])))
        draws["compression_ratio"].append(compression_ratio([texts[i] for i in idx]))
        draws["token_entropy"].append(token_entropy(np.concatenate(ids)))
        if embeddings is not None:
            draws["embedding_distance"].append(embedding_distance(embeddings[idx]))
    return {
        k: [round(float(np.quantile(v, alpha / 2)), 6), round(float(np.quantile(v, 1 - alpha / 2)), 6)]
        for k, v in draws.items()
        if v
    }
