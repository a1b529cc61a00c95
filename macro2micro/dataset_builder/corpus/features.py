"""Token ids of one side of a corpus, tokenized once per (corpus, tokenizer, side) and cached on disk as a
flat id array plus offsets: what micro types, lengths and entropy are counted on."""

from __future__ import annotations

import itertools
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from macro2micro.dataset_builder.corpus.ingest import corpus_fingerprint
from macro2micro.dataset_builder.corpus.texts import ArrowTexts
from macro2micro.dataset_builder.defaults import WORD_TOKENIZER
from macro2micro.dataset_builder.models.tokenizers import load_tokenizer, tokenizer_identity
from macro2micro.dataset_builder.utils import atomic_file, cache_dir, no_gc, sha256_text

logger = logging.getLogger(__name__)


@dataclass
class TokenFeatures:
    """Token ids of one side of a corpus: ``ids[offsets[i]:offsets[i+1]]`` are row i's tokens."""

    ids: np.ndarray
    offsets: np.ndarray
    vocab_size: int
    vocab: list[str] | None = None  # id -> token string, when cheap to keep (word tokenizer)
    counts: np.ndarray | None = None  # occurrences per token id, when an engine counted them (the Ray engine)

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def row(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    def narrow(self) -> TokenFeatures:
        """The same ids in the narrowest unsigned type that holds them (2 bytes under a vocabulary of 65,536, as
        most tokenizers' are, against the cache's 4): for a caller that holds a whole side a while, e.g. scoring."""
        if not len(self.ids) or self.ids.min() < 0:
            return self
        dtype = np.min_scalar_type(int(self.ids.max()))
        if dtype.itemsize >= self.ids.itemsize:
            return self
        return TokenFeatures(self.ids.astype(dtype), self.offsets, self.vocab_size, self.vocab, self.counts)


def _encode(texts, tokenizer, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of every text, through the Rust tokenizer's batch call when there is one."""

    backend = getattr(tokenizer, "_tokenizer", None)
    fast = getattr(backend, "encode_batch_fast", None)
    lengths = np.zeros(len(texts), dtype=np.int64)
    chunks: list[np.ndarray] = []
    with no_gc():
        _encode_batches(texts, tokenizer, fast, batch_size, lengths, chunks)
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    ids = np.empty(int(offsets[-1]), dtype=np.int32)  # filled as the batches are let go: no second full copy
    chunks.reverse()
    start = 0
    while chunks:
        part = chunks.pop()  # the first batch left
        ids[start : start + len(part)] = part
        start += len(part)
    return ids, offsets


def _encode_batches(texts, tokenizer, fast, batch_size: int, lengths: np.ndarray, chunks: list) -> None:
    from tqdm.auto import tqdm

    for start in tqdm(
        range(0, len(texts), batch_size), desc="tokenize", unit="batch", leave=False, disable=len(texts) <= batch_size
    ):
        batch = texts[start : start + batch_size]
        if fast is not None:
            ids = [enc.ids for enc in fast(batch, add_special_tokens=False)]
        else:
            ids = tokenizer(batch, add_special_tokens=False, return_attention_mask=False, return_token_type_ids=False)[
                "input_ids"
            ]
        n = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        lengths[start : start + len(batch)] = n
        chunks.append(np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int32, count=int(n.sum())))


def word_features(texts: Sequence[str]) -> TokenFeatures:
    """Whitespace words as tokens (the paper's ablation that erases the micro effect).

    Ids are given in order of first appearance; a dict keeps memory linear in the text (a numpy
    string array would pad every word to the longest one).
    """
    vocab: dict[str, int] = {}
    ids: list[int] = []
    lengths = np.zeros(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        words = text.split()
        lengths[i] = len(words)
        ids.extend(vocab.setdefault(w, len(vocab)) for w in words)
    return TokenFeatures(
        ids=np.asarray(ids, dtype=np.int32),
        offsets=np.concatenate(([0], np.cumsum(lengths))),
        vocab_size=len(vocab),
        vocab=list(vocab),
    )


def token_cache_file(fingerprint: str, tokenizer) -> Path:
    """Where the token ids of a corpus side (its fingerprint) under a tokenizer are cached, by either engine."""
    key = sha256_text(fingerprint, repr(sorted(tokenizer_identity(tokenizer).items())))[:24]
    return cache_dir("features", "tokens") / f"{key}.npz"


def token_features(
    texts: Sequence[str], tokenizer, fingerprint: str | None = None, batch_size: int = 1024, use_cache: bool = True
) -> TokenFeatures:
    """Token ids of ``texts`` (no special tokens), cached by corpus fingerprint and tokenizer.

    Args:
        texts: one side of the corpus.
        tokenizer: a transformers tokenizer, or ``"word"`` for whitespace words.
        fingerprint: the corpus side's content key; without it nothing is cached.
        batch_size: texts per fast-tokenizer call.
        use_cache: read and write the on-disk cache.
    """
    if tokenizer == WORD_TOKENIZER:
        return word_features(texts)
    cache_file = None
    if use_cache and fingerprint:
        cache_file = token_cache_file(fingerprint, tokenizer)
        if cache_file.exists():
            data = np.load(cache_file)
            logger.info("token ids from cache %s", cache_file.name)
            counts = data["counts"] if "counts" in data.files else None
            return TokenFeatures(data["ids"], data["offsets"], int(data["vocab_size"]), counts=counts)
    ids, offsets = _encode(texts, tokenizer, batch_size)
    feats = TokenFeatures(ids=ids, offsets=offsets, vocab_size=len(tokenizer))
    if cache_file is not None:
        with atomic_file(cache_file) as tmp:
            np.savez(tmp, ids=ids, offsets=offsets, vocab_size=feats.vocab_size)
    return feats


# (corpus fingerprint, side, tokenizer spec) -> features: a build reads each side's lengths and types, a publish
# its lengths and metrics; the few most recent stay in memory instead of being loaded from disk each time.
_RECENT: OrderedDict[tuple[str, str, str], TokenFeatures] = OrderedDict()
RECENT_KEPT = 4


def side_features(corpus, side: str, tokenizer_spec: str, remember: bool = True) -> TokenFeatures:
    """Token features of one side of a corpus, with the tokenizer a spec names (cached on disk, and, with
    ``remember``, the :data:`RECENT_KEPT` most recent in memory for the next caller). On a cache hit no text is
    read."""
    fp = corpus_fingerprint(corpus)
    key = (fp, side, str(tokenizer_spec))
    if key in _RECENT:
        _RECENT.move_to_end(key)
        return _RECENT[key]
    tok = load_tokenizer(tokenizer_spec)
    feats = token_features(ArrowTexts.of(corpus, side), tok, fingerprint=f"{fp}:{side}")
    if not remember:
        return feats
    _RECENT[key] = feats
    while len(_RECENT) > RECENT_KEPT:
        _RECENT.popitem(last=False)
    return feats
