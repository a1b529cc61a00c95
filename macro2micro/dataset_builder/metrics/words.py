"""Word tokens for distinct-n and Self-BLEU, as nltk's ``NLTKWordTokenizer`` gives them, fast; and word ids.

The tokenizer (:mod:`.treebank`) is exactly nltk's on lower-cased text, memoized per distinct chunk of
non-space characters, so a corpus side costs about a tenth of running nltk on every text.
:func:`word_ids` turns texts into a flat array of word ids plus offsets (like ``micro.TokenFeatures``),
cached next to the model-token ids and fed to the id-based metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np


@dataclass
class WordIds:
    """Word ids of a list of texts: ``ids[offsets[i]:offsets[i + 1]]`` are text i's words.

    Indexing gives one text's ids as a list of ints, so Self-BLEU can take a ``WordIds`` where it
    takes lists of words; ``take`` gives the ``WordIds`` of a subset of rows.
    """

    ids: np.ndarray
    offsets: np.ndarray
    vocab: list[str]

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> list[int]:
        return self.ids[self.offsets[i] : self.offsets[i + 1]].tolist()

    def words(self, i: int) -> list[str]:
        return [self.vocab[j] for j in self[i]]

    def take(self, rows: Sequence[int] | np.ndarray) -> WordIds:
        """The rows ``rows`` (in that order, repeats allowed), sharing the vocabulary."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, lengths = self.offsets[rows], self.lengths()[rows]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # position k of the result reads ids[starts[row of k] + (k - offsets[row of k])]
        src = np.arange(offsets[-1], dtype=np.int64) + np.repeat(starts - offsets[:-1], lengths)
        return WordIds(ids=self.ids[src], offsets=offsets, vocab=self.vocab)

    @classmethod
    def from_words(cls, tokenized: Iterable[Sequence]) -> WordIds:
        """Per text a list of words (any hashable tokens) as ids, numbered in order of first appearance."""
        vocab: dict = {}
        rows = [[vocab.setdefault(w, len(vocab)) for w in toks] for toks in tokenized]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=offsets[1:])
        ids = np.fromiter(chain.from_iterable(rows), dtype=np.int32, count=int(offsets[-1]))
        return cls(ids=ids, offsets=offsets, vocab=list(vocab))

    def save(self, path: str | Path) -> None:
        """One ``.npz`` file; the vocabulary is stored newline-joined (tokens hold no whitespace)."""
        vocab = np.frombuffer("\n".join(self.vocab).encode("utf-8"), dtype=np.uint8)
        np.savez(path, ids=self.ids, offsets=self.offsets, vocab=vocab)

    @classmethod
    def load(cls, path: str | Path) -> WordIds:
        data = np.load(path)
        text = data["vocab"].tobytes().decode("utf-8")
        return cls(ids=data["ids"], offsets=data["offsets"], vocab=text.split("\n") if text else [])


from macro2micro.dataset_builder.metrics.treebank import WordTokenizer  # noqa: E402  (after WordIds, which it builds)

_DEFAULT: WordTokenizer | None = None


def default_tokenizer() -> WordTokenizer:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = WordTokenizer()
    return _DEFAULT


def release_memo() -> None:
    """Drop the shared tokenizer and its memo (up to a million distinct chunks): the next call starts a new one.
    For a caller done with word ids for a while, e.g. scoring, which holds every side's ids already."""
    global _DEFAULT
    _DEFAULT = None


def words(text: str) -> list[str]:
    """Lower-cased word tokens, exactly as nltk's Treebank-style ``NLTKWordTokenizer`` (no downloaded data)."""
    return default_tokenizer().tokenize(text)


def words_many(texts: Iterable[str]) -> list[list[str]]:
    """``[words(t) for t in texts]``, with the memo filled in batches."""
    return default_tokenizer().tokenize_many(texts)


def word_ids(texts: Iterable[str]) -> WordIds:
    """Word ids plus offsets of ``texts`` (ids in order of first appearance), for the id-based metrics."""
    return default_tokenizer().word_ids(texts)


def side_word_ids(texts: Sequence[str], fingerprint: str | None = None) -> WordIds:
    """:func:`word_ids` of one corpus side, cached on disk by the side's content fingerprint."""
    from importlib import metadata

    from macro2micro.dataset_builder.utils import atomic_file, cache_dir, sha256_text

    if not fingerprint:
        return word_ids(texts)
    key = sha256_text(fingerprint, "nltk-treebank", metadata.version("nltk"))  # (nltk itself is not imported)
    cache_file = cache_dir("features", "words") / f"{key[:24]}.npz"
    if cache_file.exists():
        return WordIds.load(cache_file)
    wids = word_ids(texts)
    with atomic_file(cache_file) as tmp:
        wids.save(tmp)
    return wids
