"""Micro types: mid-frequency tokens of the fine-tuned model's own tokenizer (SPEC section 3).

Texts are tokenized once per (corpus, tokenizer, side) and cached on disk as a flat id array
plus offsets. Counting each token over the whole side gives bands: high (> ``high``
occurrences: function words, affixes), low (< ``low``: names, typos) and mid (the rest). Only
mid-band tokens are types. ``per_million=True`` reads the bounds as occurrences per million
tokens of that side, for corpora of other sizes than the paper's 117K.
"""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .corpus import column, corpus_fingerprint
from .defaults import DEFAULT_MODEL, WORD_TOKENIZER
from .options import MicroOptions
from .strategies import LadderStrategy, TypeMatrix
from .utils import atomic_file, cache_dir, hash_files, no_gc, sha256_text

logger = logging.getLogger(__name__)


@dataclass
class TokenFeatures:
    """Token ids of one side of a corpus: ``ids[offsets[i]:offsets[i+1]]`` are row i's tokens."""

    ids: np.ndarray
    offsets: np.ndarray
    vocab_size: int
    vocab: list[str] | None = None  # id -> token string, when cheap to keep (word tokenizer)

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def row(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i] : self.offsets[i + 1]]


def tokenizer_identity(tokenizer) -> dict:
    """Name plus revision (Hub) or a hash of the tokenizer files (local folder).

    A local folder is named by the Hub id it stands for (an embedded asset) or its own name, never its path:
    the same tokenizer gives the same manifest on every machine and in every cache folder.
    """
    if tokenizer == WORD_TOKENIZER:
        return {"name": WORD_TOKENIZER}
    name = getattr(tokenizer, "name_or_path", str(tokenizer))
    path = Path(name)
    if path.is_dir():
        asset = path / "macro2micro_asset.json"
        name = json.loads(asset.read_text())["hub_id"] if asset.is_file() else path.name
    ident = {"name": name, "class": type(tokenizer).__name__}
    if path.is_dir():
        files = [
            p
            for p in path.iterdir()
            if p.is_file() and ("token" in p.name or p.suffix in (".model", ".txt")) and "chat_template" not in p.name
        ]
        ident["files_sha256"] = hash_files(files)[:16]
    else:
        revision = getattr(tokenizer, "init_kwargs", {}).get("_commit_hash")
        if revision:
            ident["revision"] = revision
    return ident


@lru_cache(maxsize=4)
def load_tokenizer(spec: str):
    """AutoTokenizer from a local path, a Hub id or the embedded default; ``"word"`` passes through.

    Loaded once per process and spec.
    """
    if spec == WORD_TOKENIZER:
        return WORD_TOKENIZER
    from transformers import AutoTokenizer

    from .assets import resolve_tokenizer

    try:
        return AutoTokenizer.from_pretrained(resolve_tokenizer(spec))
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise OSError(
            f"tokenizer {spec!r} could not be loaded: not a local folder, not in the Hugging Face cache, "
            f"and the Hub is unreachable or offline (HF_HUB_OFFLINE) ({first[:200]})"
        ) from None


def _encode(texts: list[str], tokenizer, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of every text, through the Rust tokenizer's batch call when there is one."""

    backend = getattr(tokenizer, "_tokenizer", None)
    fast = getattr(backend, "encode_batch_fast", None)
    lengths = np.zeros(len(texts), dtype=np.int64)
    chunks = []
    with no_gc():
        _encode_batches(texts, tokenizer, fast, batch_size, lengths, chunks)
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    ids = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int32)
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


def word_features(texts: list[str]) -> TokenFeatures:
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


def token_features(
    texts: list[str], tokenizer, fingerprint: str | None = None, batch_size: int = 1024, use_cache: bool = True
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
        key = sha256_text(fingerprint, repr(sorted(tokenizer_identity(tokenizer).items())))[:24]
        cache_file = cache_dir("features", "tokens") / f"{key}.npz"
        if cache_file.exists():
            data = np.load(cache_file)
            logger.info("token ids from cache %s", cache_file.name)
            return TokenFeatures(ids=data["ids"], offsets=data["offsets"], vocab_size=int(data["vocab_size"]))
    ids, offsets = _encode(texts, tokenizer, batch_size)
    feats = TokenFeatures(ids=ids, offsets=offsets, vocab_size=len(tokenizer))
    if cache_file is not None:
        with atomic_file(cache_file) as tmp:
            np.savez(tmp, ids=ids, offsets=offsets, vocab_size=feats.vocab_size)
    return feats


def side_features(corpus, side: str, tokenizer_spec: str) -> TokenFeatures:
    """Token features of one side of a corpus, with the tokenizer a spec names (cached)."""
    tok = load_tokenizer(tokenizer_spec)
    return token_features(column(corpus, side), tok, fingerprint=f"{corpus_fingerprint(corpus)}:{side}")


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
            raise ValueError(f"token bands need 0 <= low <= high, got low={self.low}, high={self.high}")

    def bounds(self, total_tokens: int) -> tuple[float, float]:
        if not self.per_million:
            return float(self.low), float(self.high)
        scale = total_tokens / 1e6
        return self.low * scale, self.high * scale

    def mid_mask(self, counts: np.ndarray) -> np.ndarray:
        lo, hi = self.bounds(int(counts.sum()))
        return (counts >= lo) & (counts <= hi)


def band_counts(counts: np.ndarray, bands: Bands) -> dict[str, int]:
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
    counts = np.bincount(feats.ids, minlength=feats.vocab_size)
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
        options: the frequency bands (:class:`~dataset_builder.options.MicroOptions`).
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
