"""The paper's seven diversity metrics of a subset, per side (SPEC section 4). Pure functions.

| key | definition |
|---|---|
| distinct_1 / distinct_2 | unique word uni-/bigrams / all, over the subset (nltk's data-free word tokenizer, lower-cased) |
| embedding_distance | mean pairwise cosine distance, exact in O(n d): mean cos = (|sum e|^2 - n) / (n (n - 1)) |
| mean_length | mean tokens per text (the model tokenizer) |
| compression_ratio | bytes of the joined texts / bytes after gzip (higher = more redundant) |
| self_bleu | mean smoothed BLEU-4 of each sampled text against the other sampled texts (higher = less diverse) |
| token_entropy | Shannon entropy in bits of the subset's token distribution (the model tokenizer) |
"""

from __future__ import annotations

import gzip
import math
from functools import lru_cache
from typing import Sequence

import numpy as np

METRICS = ("distinct_1", "distinct_2", "embedding_distance", "mean_length", "compression_ratio", "self_bleu",
           "token_entropy")


@lru_cache(maxsize=1)
def _word_tokenizer():
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


def words(text: str) -> list[str]:
    """Lower-cased word tokens (nltk's Treebank-style tokenizer; needs no downloaded data)."""
    return _word_tokenizer().tokenize(text.lower())


def distinct_n(tokenized: Sequence[Sequence[str]], n: int) -> float:
    """Unique n-grams / all n-grams over all texts (0 when there are none)."""
    total, unique = 0, set()
    for toks in tokenized:
        grams = list(zip(*(toks[i:] for i in range(n))))
        total += len(grams)
        unique.update(grams)
    return len(unique) / total if total else 0.0


def embedding_distance(embeddings: np.ndarray) -> float:
    """Exact mean pairwise cosine distance of normalized embeddings, without the n x n matrix."""
    e = np.asarray(embeddings, dtype=np.float64)
    n = len(e)
    if n < 2:
        return 0.0
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
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


def _ngram_counts(toks: Sequence[str], n: int) -> dict[tuple, int]:
    counts: dict[tuple, int] = {}
    for gram in zip(*(toks[i:] for i in range(n))):
        counts[gram] = counts.get(gram, 0) + 1
    return counts


def self_bleu(tokenized: Sequence[Sequence[str]], sample_size: int = 200, seed: int = 0) -> float:
    """Mean smoothed BLEU-4 of each of a seeded sample of texts against the rest of the sample.

    Equal to averaging nltk's ``sentence_bleu(others, text, smoothing_function=method1)`` (a test
    checks it), but each text's n-grams are counted once and every n-gram keeps its two largest
    counts with their owners, so "the largest count among the *other* texts" costs O(1):
    O(total n-grams) instead of nltk's O(sample^2 x length).
    """
    idx = np.arange(len(tokenized))
    if len(idx) > sample_size:
        idx = np.sort(np.random.default_rng(seed).choice(idx, size=sample_size, replace=False))
    sample = [list(tokenized[i]) for i in idx if len(tokenized[i])]
    m = len(sample)
    if m < 2:
        return 0.0
    lengths = np.array([len(t) for t in sample])
    counts = [[_ngram_counts(t, n) for t in sample] for n in range(1, 5)]
    top = []  # per n: gram -> (best count, owner, second best count)
    for per_text in counts:
        best: dict[tuple, list] = {}
        for owner, grams in enumerate(per_text):
            for gram, c in grams.items():
                entry = best.get(gram)
                if entry is None:
                    best[gram] = [c, owner, 0]
                elif c > entry[0]:
                    entry[2], entry[0], entry[1] = entry[0], c, owner
                elif c > entry[2]:
                    entry[2] = c
        top.append(best)
    scores = []
    for i in range(m):
        hyp_len = int(lengths[i])
        others = np.delete(lengths, i)
        closest = int(others[np.lexsort((others, np.abs(others - hyp_len)))[0]])
        log_p = 0.0
        for n in range(4):
            grams = counts[n][i]
            denominator = max(1, sum(grams.values()))
            numerator = 0
            for gram, c in grams.items():
                best, owner, second = top[n][gram]
                numerator += min(c, second if owner == i else best)
            if n == 0 and numerator == 0:
                log_p = -math.inf
                break
            p = numerator / denominator if numerator else 0.1 / denominator  # nltk method1, epsilon 0.1
            log_p += 0.25 * math.log(p)
        bp = 1.0 if hyp_len > closest else math.exp(1 - closest / hyp_len)
        scores.append(0.0 if log_p == -math.inf else bp * math.exp(log_p))
    return float(np.mean(scores))


def side_metrics(texts: Sequence[str], token_ids: Sequence[np.ndarray], embeddings: np.ndarray | None,
                 self_bleu_sample: int = 200, seed: int = 0, tokenized: Sequence[Sequence[str]] | None = None
                 ) -> dict[str, float]:
    """All seven metrics of one side of one subset.

    Args:
        texts: the subset's texts of that side.
        token_ids: per text, its model-tokenizer ids.
        embeddings: per text, its normalized embedding (None: embedding_distance is None).
        self_bleu_sample: texts sampled for Self-BLEU.
        seed: seeds the Self-BLEU sample.
        tokenized: word tokens per text, if already computed.
    """
    tokenized = tokenized if tokenized is not None else [words(t) for t in texts]
    lengths = np.fromiter((len(t) for t in token_ids), dtype=np.int64, count=len(token_ids))
    flat = np.concatenate(token_ids) if len(token_ids) else np.zeros(0, dtype=np.int64)
    out = {
        "distinct_1": distinct_n(tokenized, 1),
        "distinct_2": distinct_n(tokenized, 2),
        "embedding_distance": embedding_distance(embeddings) if embeddings is not None else None,
        "mean_length": mean_length(lengths),
        "compression_ratio": compression_ratio(texts),
        "self_bleu": self_bleu(tokenized, self_bleu_sample, seed),
        "token_entropy": token_entropy(flat),
    }
    return {k: (round(float(v), 6) if v is not None else None) for k, v in out.items()}


def bootstrap_ci(texts: Sequence[str], token_ids: Sequence[np.ndarray], embeddings: np.ndarray | None,
                 resamples: int = 200, seed: int = 0, alpha: float = 0.05,
                 tokenized: Sequence[Sequence[str]] | None = None) -> dict[str, list[float]]:
    """Percentile bootstrap intervals (rows resampled) of the metrics that are cheap to recompute.

    Self-BLEU is left out: it is already an estimate on a sample, and costly.
    """
    tokenized = tokenized if tokenized is not None else [words(t) for t in texts]
    rng = np.random.default_rng(seed)
    n = len(texts)
    draws: dict[str, list[float]] = {k: [] for k in METRICS if k != "self_bleu"}
    for _ in range(resamples):
        idx = rng.integers(0, n, size=n)
        toks = [tokenized[i] for i in idx]
        ids = [token_ids[i] for i in idx]
        draws["distinct_1"].append(distinct_n(toks, 1))
        draws["distinct_2"].append(distinct_n(toks, 2))
        draws["mean_length"].append(mean_length(np.array([len(t) for t in ids])))
        draws["compression_ratio"].append(compression_ratio([texts[i] for i in idx]))
        draws["token_entropy"].append(token_entropy(np.concatenate(ids)))
        if embeddings is not None:
            draws["embedding_distance"].append(embedding_distance(embeddings[idx]))
    return {k: [round(float(np.quantile(v, alpha / 2)), 6), round(float(np.quantile(v, 1 - alpha / 2)), 6)]
            for k, v in draws.items() if v}
