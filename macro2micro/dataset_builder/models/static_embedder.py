"""A static embedder distilled once, locally, from the packaged all-MiniLM-L6-v2 (model2vec's method).

Sentence-transformer embeddings cost a transformer pass per text: on a 2-core CPU that is
15-80 ShareGPT-length texts per second, so a 117K-row macro build takes hours. A static embedder
looks each word piece's vector up in a table and averages them: thousands of texts per second.

Distillation (:mod:`.distill`) follows model2vec's ``distill`` without its ``distill`` extra.

Encoding: the fast tokenizer without special tokens, unknown tokens dropped, the first
``max_seq_length`` word pieces kept, mean of the token vectors (a sparse bag-of-tokens matrix
times the table), L2 normalization. The object answers the parts of the SentenceTransformer API
that :func:`macro2micro.dataset_builder.models.embeddings.embed_texts` uses.

Checked against model2vec 0.10.0's own ``distill`` on the same MiniLM folder (in a separate venv):
the same 29,525 tokens, every table row at cosine >= 0.9999996 (ours is stored as float16, PCA
in float64), and the same sentence vectors on 4,000 ShareGPT texts except where model2vec's
character pre-cut drops word pieces (see ``CHARS_PER_TOKEN_CAP``).
"""

from __future__ import annotations

import json
import logging
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from macro2micro.dataset_builder.errors import ModelError, OptionsError
from macro2micro.dataset_builder.models.distill import (
    CHARS_PER_TOKEN_CAP,
    DEFAULT_DIMS,
    DEFAULT_MAX_SEQ_LENGTH,
    EMBEDDINGS_FILE,
    METHOD,
    TENSOR_NAME,
    distill,
    source_files_sha256,
)
from macro2micro.dataset_builder.utils import cache_dir, hash_files, require

logger = logging.getLogger(__name__)


class StaticEmbedder:
    """Token-vector lookup and mean; the SentenceTransformer subset that ``embed_texts`` calls.

    Load with :meth:`load`. ``max_seq_length`` (word pieces kept per text) can be set like a
    SentenceTransformer's; None keeps whole texts.
    """

    def __init__(
        self,
        embeddings: np.ndarray,
        tokenizer,
        config: dict,
        path: Path | None = None,
        max_seq_length: int | None = DEFAULT_MAX_SEQ_LENGTH,
    ):
        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        self.tokenizer = tokenizer
        self.config = config
        self.path = path
        # Tokens without a vector (unknown, [unused*], beyond vocab_limit) are dropped, as model2vec drops [UNK].
        self.active = np.abs(self.embeddings).sum(axis=1) > 0
        self.max_seq_length = max_seq_length
        self.device = "cpu"

    @classmethod
    def load(cls, path: str | Path, max_seq_length: int | None = DEFAULT_MAX_SEQ_LENGTH) -> StaticEmbedder:
        """Read a folder written by :func:`distill`."""
        from tokenizers import Tokenizer

        path = Path(path)
        missing = [f for f in ("config.json", "tokenizer.json", EMBEDDINGS_FILE) if not (path / f).exists()]
        if missing:
            raise ModelError(
                f"{path} is not a static embedder folder: missing {', '.join(missing)} "
                "(write one with macro2micro.dataset_builder.models.static_embedder.distill)"
            )
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        table = require("safetensors.numpy").load_file(str(path / EMBEDDINGS_FILE))[TENSOR_NAME]
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        if tokenizer.get_vocab_size(with_added_tokens=True) != len(table):
            raise ModelError(
                f"{path}: tokenizer has {tokenizer.get_vocab_size(with_added_tokens=True)} tokens "
                f"but {EMBEDDINGS_FILE} has {len(table)} rows"
            )
        return cls(table, tokenizer, config, path, max_seq_length)

    @property
    def max_seq_length(self) -> int | None:
        return self._max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int | None) -> None:
        if value is not None and value < 1:
            raise OptionsError(f"max_seq_length={value} must be at least 1 (or None: no truncation)")
        self._max_seq_length = value
        if value is None:
            self.tokenizer.no_truncation()
        else:
            self.tokenizer.enable_truncation(value)

    def get_embedding_dimension(self) -> int:
        return int(self.embeddings.shape[1])

    get_sentence_embedding_dimension = get_embedding_dimension

    def bag_of_tokens(self, sentences: list[str]):
        """CSR (texts x vocabulary) of token counts over the first ``max_seq_length`` word pieces."""
        import scipy.sparse as sp

        if self._max_seq_length is not None:
            cap = self._max_seq_length * CHARS_PER_TOKEN_CAP
            sentences = [s[:cap] for s in sentences]
        encodings = self.tokenizer.encode_batch_fast(sentences, add_special_tokens=False)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        ids = np.fromiter(chain.from_iterable(e.ids for e in encodings), dtype=np.int64, count=int(lengths.sum()))
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        data = self.active[ids].astype(np.float32)
        bag = sp.csr_matrix((data, ids, indptr), shape=(len(sentences), len(self.embeddings)))
        bag.sum_duplicates()
        return bag

    def encode(
        self,
        sentences: str | list[str],
        batch_size: int = 1024,
        show_progress_bar: bool | None = None,
        normalize_embeddings: bool = True,
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        **kwargs,
    ) -> Any:
        """Mean of the token vectors of each text, L2-normalized by default; float32 (n, dims).

        Args:
            sentences: texts (a single string gives one vector, as SentenceTransformer does).
            batch_size: texts tokenized at a time (results do not depend on it).
            show_progress_bar: tqdm over batches (None: only for more than 10 batches on a terminal).
            normalize_embeddings: L2-normalize each vector (texts with no known token stay zero).
            convert_to_numpy: accepted for SentenceTransformer compatibility; the result is numpy.
            convert_to_tensor: return a torch tensor instead (else a numpy array).
            **kwargs: other SentenceTransformer arguments (``device``, ``precision`` ...) are ignored.
        """
        from tqdm.auto import tqdm

        single = isinstance(sentences, str)
        texts: list[str] = [sentences] if isinstance(sentences, str) else list(sentences)
        if batch_size < 1:
            raise OptionsError(f"batch_size={batch_size} must be at least 1")
        out = np.zeros((len(texts), self.embeddings.shape[1]), dtype=np.float32)
        starts = range(0, len(texts), batch_size)
        disable = (None if len(starts) > 10 else True) if show_progress_bar is None else not show_progress_bar
        for start in tqdm(starts, desc="static embeddings", unit="batch", disable=disable):
            bag = self.bag_of_tokens(texts[start : start + batch_size])
            vectors = np.asarray(bag @ self.embeddings, dtype=np.float32)
            counts = np.asarray(bag.sum(axis=1), dtype=np.float32)
            vectors /= np.maximum(counts, 1)
            if normalize_embeddings:
                vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            out[start : start + len(vectors)] = vectors
        result = out[0] if single else out
        if convert_to_tensor:
            import torch

            return torch.from_numpy(result)
        return result

    def identity(self) -> dict:
        """Like :func:`macro2micro.dataset_builder.models.embeddings.embedder_identity`: what a manifest records."""
        ident = {
            "name": f"static:{self.config['source']['name']}",
            "method": self.config["method"]["name"],
            "source_files_sha256": self.config["source"]["files_sha256"][:16],
            "max_seq_length": self.max_seq_length,
            "dimension": self.get_embedding_dimension(),
        }
        if self.path is not None:
            ident["files_sha256"] = hash_files(
                sorted(self.path.glob("*.safetensors")) + sorted(self.path.glob("*.json"))
            )[:16]
        return ident


def static_embedder_dir(source: str = "embedded:all-minilm-l6-v2", dims: int = DEFAULT_DIMS) -> Path:
    """The static embedder distilled from ``source``, distilled once into the toolkit's asset cache.

    The folder name carries the source files' hash, the dims and the method, so a new source or
    method never reuses a stale table. Takes about half a minute on 2 CPU cores the first time.
    """
    from macro2micro.dataset_builder.models.assets import hub_id, resolve_embedder

    src = Path(resolve_embedder(source))
    if not src.is_dir():
        raise ModelError(
            f"source={source!r} resolves to {str(src)!r}, not a local folder: static "
            "distillation needs the model's files on disk"
        )
    digest = source_files_sha256(src)[:12]
    target = cache_dir("assets") / f"static-{hub_id(source).split('/')[-1]}-{dims}d-{METHOD}-{digest}"
    if not (target / "config.json").exists():
        logger.info("distilling a static embedder from %s into %s (once)", source, target)
        distill(src, target, dims=dims, source_name=hub_id(source))
    return target


def load_static_embedder(
    source: str = "embedded:all-minilm-l6-v2",
    dims: int = DEFAULT_DIMS,
    max_seq_length: int | None = DEFAULT_MAX_SEQ_LENGTH,
) -> StaticEmbedder:
    """:func:`static_embedder_dir` then :meth:`StaticEmbedder.load`."""
    return StaticEmbedder.load(static_embedder_dir(source, dims), max_seq_length)
