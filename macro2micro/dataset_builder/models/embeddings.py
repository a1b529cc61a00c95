"""Sentence embeddings of one corpus side, normalized, batched, GPU when present, cached on disk.

Shared by the macro strategy (clusters of embeddings) and the ``embedding_distance`` metric.
The cache key is the corpus side's fingerprint plus the model's identity (path hash or Hub
revision) and ``max_seq_length``; vectors are stored as float16 by default (half the disk, and
cosine similarities change by about 1e-3).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from macro2micro.dataset_builder.defaults import STATIC_EMBEDDER
from macro2micro.dataset_builder.errors import ModelError, OptionsError
from macro2micro.dataset_builder.utils import (
    atomic_file,
    autocast,
    cache_dir,
    hash_files,
    require,
    resolve_precision,
    sha256_text,
    torch_threads,
)

logger = logging.getLogger(__name__)

_MODELS: dict[tuple, object] = {}


def load_embedder(spec: str, device: str | None = None, max_seq_length: int | None = None, precision: str = "float32"):
    """A SentenceTransformer from a local path, Hub id or the embedded default, or the static embedder
    distilled from it (``"static"``); memoized. ``precision`` (float32, bfloat16, auto: see
    :func:`~macro2micro.dataset_builder.utils.resolve_precision`) is what :func:`embed_texts` computes at; a
    transformer's is kept as its ``m2m_precision`` and named in its identity when not float32."""
    from macro2micro.dataset_builder.models.assets import resolve_embedder

    torch_threads()
    requested = device
    if spec != STATIC_EMBEDDER and device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    resolved = "float32" if spec == STATIC_EMBEDDER else resolve_precision(precision, device or "cpu")
    key = (spec, requested, max_seq_length, resolved)  # as asked: a model registered under it is used as is
    if key not in _MODELS and spec == STATIC_EMBEDDER:
        from macro2micro.dataset_builder.models.static_embedder import load_static_embedder

        model = load_static_embedder()  # distilled once into the cache (a minute or two on a CPU)
        if max_seq_length:
            model.max_seq_length = max_seq_length
        _MODELS[key] = model
    if key not in _MODELS:
        st = require("sentence_transformers")
        try:
            model = st.SentenceTransformer(resolve_embedder(spec), device=device)
        except (OSError, ValueError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ModelError(
                f"embedding model {spec!r} could not be loaded: not a local folder, not in the Hugging "
                f"Face cache, and the Hub is unreachable or offline ({first[:200]})"
            ) from None
        if max_seq_length:
            model.max_seq_length = max_seq_length
        model.m2m_precision = resolved
        _MODELS[key] = model
    return _MODELS[key]


def embedder_identity(spec: str, model) -> dict:
    """Name, where it was loaded from, and a revision or a hash of its weights files."""
    from macro2micro.dataset_builder.models.assets import hub_id, resolve_embedder

    if hasattr(model, "identity"):  # the static embedder knows its own (method, source, files)
        return model.identity()
    path = Path(resolve_embedder(spec))
    ident = {
        "name": hub_id(spec),
        "max_seq_length": int(model.max_seq_length),
        "dimension": int(
            model.get_embedding_dimension()
            if hasattr(model, "get_embedding_dimension")
            else model.get_sentence_embedding_dimension()
        ),
    }
    if getattr(model, "m2m_precision", "float32") != "float32":
        ident["precision"] = model.m2m_precision
    if path.is_dir():
        ident["files_sha256"] = hash_files([p for p in path.glob("*.safetensors")] + [p for p in path.glob("*.json")])[
            :16
        ]
    else:
        revision = getattr(model, "model_card_data", None)
        ident["revision"] = getattr(revision, "base_model_revision", None) or "unknown"
    return ident


def embedding_cache_file(fingerprint: str, ident: dict, dtype: str = "float16") -> Path:
    """Where the embeddings of a corpus side (its fingerprint) under a model are cached, by either engine."""
    return _cache_file(fingerprint, ident, dtype)


def _cache_file(fingerprint: str, ident: dict, dtype: str) -> Path:
    return (
        cache_dir("features", "embeddings")
        / f"{sha256_text(fingerprint, repr(sorted(ident.items())), dtype)[:24]}.npy"
    )


def embed_rows(
    texts: Sequence[str],
    rows: np.ndarray,
    spec: str,
    fingerprint: str,
    max_seq_length: int | None,
    why: str = "",
    precision: str = "float32",
) -> tuple[np.ndarray, dict]:
    """Embeddings of the given rows only, in a ``len(texts) x d`` array (other rows zero).

    The whole side's cached embeddings (which the macro strategies write) are reused when they exist;
    otherwise only ``rows`` are embedded, and cached under their own key.
    """
    model = load_embedder(spec, None, max_seq_length, precision)
    ident = embedder_identity(spec, model)
    whole = _cache_file(fingerprint, ident, "float16")
    if whole.exists():
        logger.info("embeddings of all %d texts from cache (%s)", len(texts), whole.name)
        return np.load(whole), ident
    rows = np.unique(np.asarray(rows, dtype=np.int64))
    logger.info("embedding %d of %d texts with %s%s", len(rows), len(texts), ident["name"], f": {why}" if why else "")
    key = f"{fingerprint}:rows:{sha256_text(rows.tobytes().hex())[:24]}"
    part, _ = embed_texts(
        [texts[i] for i in rows], spec, fingerprint=key, max_seq_length=max_seq_length, precision=precision
    )
    out = np.zeros((len(texts), part.shape[1] if len(part) else ident["dimension"]), dtype=part.dtype)
    out[rows] = part
    return out, ident


def embed_texts(
    texts: list[str],
    spec: str,
    fingerprint: str | None = None,
    batch_size: int = 64,
    max_seq_length: int | None = 256,
    dtype: str = "float16",
    device: str | None = None,
    use_cache: bool = True,
    precision: str = "float32",
) -> tuple[np.ndarray, dict]:
    """Normalized embeddings of ``texts`` (rows in order) and the model's identity.

    Args:
        texts: one side of the corpus.
        spec: embedding model (local path, Hub id or ``embedded:all-minilm-l6-v2``).
        fingerprint: content key of ``texts``; without it nothing is cached.
        batch_size: texts per forward pass.
        max_seq_length: truncate longer texts to this many word pieces (None: the model's own).
        dtype: ``float16`` or ``float32`` for the cache and the returned array.
        device: ``cpu``, ``cuda``; default: cuda when available.
        precision: float32, bfloat16 or auto (bfloat16 where the device computes it natively).

    Texts are encoded longest first across the whole side (sentence-transformers sorts only within one call), so
    that a batch pads its texts to a length close to their own.
    """
    if dtype not in ("float16", "float32"):
        raise OptionsError(f"dtype={dtype!r}; valid: float16, float32")
    model = load_embedder(spec, device, max_seq_length, precision)
    ident = embedder_identity(spec, model)
    cache_file = _cache_file(fingerprint, ident, dtype) if use_cache and fingerprint else None
    if cache_file is not None and cache_file.exists():
        logger.info("embeddings from cache %s", cache_file.name)
        return np.load(cache_file), ident
    from tqdm.auto import tqdm

    chunk = max(batch_size * 4, 1)  # a bar that moves every few seconds on a CPU
    order = np.argsort([-len(t) for t in texts], kind="stable")
    vectors = np.zeros((len(texts), ident.get("dimension", 0)), dtype=dtype)  # sized by the first batch
    label = f"embed {len(texts)} texts ({ident['name']})"
    bar = tqdm(range(0, len(texts), chunk), desc=label, unit="chunk", leave=False, disable=len(texts) <= chunk)
    with autocast(getattr(model, "m2m_precision", "float32"), str(getattr(model, "device", "cpu"))):
        for start in bar:
            rows = order[start : start + chunk]
            batch = model.encode(
                [texts[i] for i in rows],
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            if batch.shape[1] != vectors.shape[1]:
                vectors = np.zeros((len(texts), batch.shape[1]), dtype=dtype)
            vectors[rows] = batch.astype(dtype)
    if cache_file is not None:
        with atomic_file(cache_file) as tmp:
            np.save(tmp, vectors)
    return vectors, ident
