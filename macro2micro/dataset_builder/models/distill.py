"""Distilling a static embedder from a sentence-transformer, as model2vec's ``distill`` does (see
:mod:`.static_embedder`).

Distillation follows model2vec's ``distill`` (model2vec 0.10.0, ``distill/distillation.py`` and
``distill/inference.py``) without depending on its ``distill`` extra, which pins an older
transformers:

1. vocabulary: every token of the source tokenizer, in id order, except ``[unused*]`` tokens and
   special tokens other than unk and pad ([CLS], [SEP] and [MASK] go): 29,525 of MiniLM's 30,522;
2. each token alone through the transformer as ``[CLS] token [SEP]`` (the tokenizer's template),
   mean-pooled over those positions, as the sentence model pools;
3. PCA to ``dims`` components (eigendecomposition of the covariance, model2vec's sign convention);
4. SIF weighting by Zipf rank: the token at position r (0-based, id order) has probability
   p_r proportional to 1 / (r + 2) and is scaled by ``a / (a + p_r)`` with a = 1e-4.
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import logging
import re
import time
from pathlib import Path

import numpy as np

from macro2micro.dataset_builder.errors import ModelError, OptionsError
from macro2micro.dataset_builder.utils import atomic_dir, hash_files, require

logger = logging.getLogger(__name__)

METHOD = "model2vec-distill-v1"
EMBEDDINGS_FILE = "embeddings.safetensors"
TENSOR_NAME = "embeddings"
DEFAULT_DIMS = 256
DEFAULT_SIF = 1e-4
DEFAULT_REMOVE_PATTERN = r"\[unused\d+\]"
# model2vec's default: static models have no position limit, but very long texts are cut.
DEFAULT_MAX_SEQ_LENGTH = 512
# Texts are cut to max_seq_length * this many characters before tokenizing, so a long text is not
# tokenized whole to keep its first pieces. model2vec cuts at the vocabulary's median token length
# (6): on the ShareGPT corpus that changed the first 128 pieces of 60 of 19,550 texts; 16 changed none.
CHARS_PER_TOKEN_CAP = 16
_DTYPES = ("float16", "float32")


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("macro2micro", "torch", "transformers", "tokenizers", "numpy", "safetensors"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def source_files_sha256(source_dir: str | Path) -> str:
    """sha256 of a model folder's ``*.safetensors`` and ``*.json`` files (what ``embedder_identity`` hashes)."""
    path = Path(source_dir)
    files = sorted(path.glob("*.safetensors")) + sorted(path.glob("*.json"))
    if not files:
        raise ModelError(
            f"source_dir={str(path)!r} has no *.safetensors or *.json files: "
            "expected a sentence-transformers / transformers model folder"
        )
    return hash_files(files)


def _template_ids(tok_json: dict) -> tuple[list[int], list[int]]:
    """The ids the post-processor puts before and after a single sequence ([CLS] and [SEP] for BERT)."""
    proc = tok_json.get("post_processor") or {}
    if proc.get("type") != "TemplateProcessing":
        return [], []
    special = proc.get("special_tokens", {})
    before: list[int] = []
    after: list[int] = []
    seen_seq = False
    for piece in proc.get("single", []):
        if "Sequence" in piece:
            seen_seq = True
        elif "SpecialToken" in piece:
            (after if seen_seq else before).extend(special[piece["SpecialToken"]["id"]]["ids"])
    return before, after


def _clean_tokenizer_json(tok_json: dict) -> dict:
    """The tokenizer as the static model uses it: no template, padding or truncation (as model2vec)."""
    out = dict(tok_json)
    out["post_processor"] = None
    out["padding"] = None
    out["truncation"] = None
    return out


def _kept_token_ids(tok_json: dict, vocab: dict[str, int], remove_pattern: str | None) -> np.ndarray:
    """Ids of the tokens to distill, ascending (model2vec: prune added tokens, drop ``[unused*]``)."""
    keep_special = set()
    unk = (tok_json.get("model") or {}).get("unk_token")
    if unk in vocab:
        keep_special.add(vocab[unk])
    pad = (tok_json.get("padding") or {}).get("pad_id")
    if pad is not None:
        keep_special.add(int(pad))
    dropped = {t["id"] for t in tok_json.get("added_tokens", []) if t["id"] not in keep_special}
    regex = re.compile(remove_pattern) if remove_pattern else None
    ids = [i for tok, i in vocab.items() if i not in dropped and not (regex and regex.match(tok))]
    return np.array(sorted(ids), dtype=np.int64)


def _token_outputs(model, token_ids: np.ndarray, before: list[int], after: list[int], batch_size: int):
    """Mean-pooled last hidden states of ``before + [id] + after`` for each id, float32 (n, hidden)."""
    import torch
    from tqdm.auto import tqdm

    prefix = torch.tensor(before, dtype=torch.long)
    suffix = torch.tensor(after, dtype=torch.long)
    out = np.empty((len(token_ids), model.config.hidden_size), dtype=np.float32)
    starts = range(0, len(token_ids), batch_size)
    with torch.inference_mode():
        for start in tqdm(starts, desc="distilling tokens", unit="batch", disable=None):
            ids = torch.from_numpy(token_ids[start : start + batch_size])
            n = len(ids)
            # Every sequence has the same length, so there is no padding and the mean is over all positions.
            input_ids = torch.cat([prefix.expand(n, -1), ids[:, None], suffix.expand(n, -1)], dim=1)
            hidden = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).last_hidden_state
            out[start : start + n] = hidden.float().mean(dim=1).numpy()
    return np.nan_to_num(out)


def _pca(x: np.ndarray, dims: int) -> tuple[np.ndarray, float]:
    """model2vec's PCA: eigenvectors of the covariance, signs so each component's largest score is positive.

    Computed in float64 (model2vec uses the input's float32), so results do not hinge on summation order.
    """
    x = x.astype(np.float64)
    xc = x - x.mean(axis=0)
    eigvals, eigvecs = np.linalg.eigh(xc.T @ xc / (len(x) - 1))
    eigvals, eigvecs = np.clip(eigvals[::-1], 0, None), eigvecs[:, ::-1]
    scores = xc @ eigvecs[:, :dims]
    signs = np.sign(scores[np.argmax(np.abs(scores), axis=0), np.arange(scores.shape[1])])
    signs[signs == 0] = 1
    return scores * signs, float(eigvals[:dims].sum() / eigvals.sum())


def zipf_sif_weights(n: int, sif_coefficient: float = DEFAULT_SIF) -> np.ndarray:
    """model2vec's ``compute_weights``: token of rank r gets a / (a + p_r), p_r proportional to 1 / (r + 2)."""
    inv_rank = 1.0 / np.arange(2, n + 2)
    proba = inv_rank / inv_rank.sum()
    return sif_coefficient / (sif_coefficient + proba)


def distill(
    source_dir: str | Path,
    out_dir: str | Path,
    dims: int = DEFAULT_DIMS,
    sif_coefficient: float | None = DEFAULT_SIF,
    remove_pattern: str | None = DEFAULT_REMOVE_PATTERN,
    vocab_limit: int | None = None,
    batch_size: int = 1024,
    dtype: str = "float16",
    source_name: str | None = None,
) -> Path:
    """Distill a static embedder from a transformer encoder folder and write it to ``out_dir``.

    Deterministic for a given source, options, library versions and torch thread count. Writes
    ``embeddings.safetensors`` (vocab_size x dims; tokens not distilled have zero rows),
    ``tokenizer.json`` (the source's, without template, padding or truncation) and ``config.json``.

    Args:
        source_dir: folder with ``config.json``, weights and ``tokenizer.json`` (e.g. the packaged MiniLM).
        out_dir: the folder to write (replaced atomically if it exists).
        dims: PCA components kept (model2vec's default 256); None keeps the hidden size, unrotated.
        sif_coefficient: SIF ``a`` for the Zipf-rank weights; None: no weighting.
        remove_pattern: regex of tokens never distilled (model2vec drops BERT's ``[unused*]``).
        vocab_limit: distill only the first this-many kept tokens (the most frequent by Zipf rank);
            the rest get zero vectors and are ignored when encoding. For quick tests.
        batch_size: tokens per forward pass.
        dtype: ``float16`` (model2vec's default, half the size) or ``float32`` for the stored table.
        source_name: the source's name for the config (default: the folder's name).
    """
    if dtype not in _DTYPES:
        raise OptionsError(f"dtype={dtype!r}; valid: {', '.join(_DTYPES)}")
    if sif_coefficient is not None and not 0 < sif_coefficient < 1:
        raise OptionsError(f"sif_coefficient={sif_coefficient} must be in (0, 1) or None")
    if vocab_limit is not None and vocab_limit < 2:
        raise OptionsError(f"vocab_limit={vocab_limit} must be at least 2 (or None for the whole vocabulary)")
    source_dir = Path(source_dir)
    tok_path = source_dir / "tokenizer.json"
    if not tok_path.exists():
        raise ModelError(f"source_dir={str(source_dir)!r} has no tokenizer.json: a fast tokenizer is needed")
    transformers = require("transformers")
    safetensors_numpy = require("safetensors.numpy")
    from tokenizers import Tokenizer

    start = time.perf_counter()
    tok_json = json.loads(tok_path.read_text(encoding="utf-8"))
    tokenizer = Tokenizer.from_str(json.dumps(tok_json))
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
    kept = _kept_token_ids(tok_json, vocab, remove_pattern)
    if vocab_limit is not None:
        kept = kept[:vocab_limit]
    if len(kept) == 0:
        raise OptionsError(f"remove_pattern={remove_pattern!r} removes every token of {tok_path}")
    before, after = _template_ids(tok_json)
    model = transformers.AutoModel.from_pretrained(str(source_dir)).eval()
    hidden = int(model.config.hidden_size)
    if dims is not None and not 1 <= dims <= min(hidden, len(kept) - 1):
        raise OptionsError(
            f"dims={dims} must be between 1 and min(hidden size {hidden}, tokens - 1 = {len(kept) - 1})"
        )
    logger.info("distilling %d of %d tokens of %s through the transformer", len(kept), vocab_size, source_dir.name)
    vectors = _token_outputs(model, kept, before, after, batch_size)
    del model
    explained = 1.0
    if dims is not None:
        vectors, explained = _pca(vectors, dims)
    if sif_coefficient is not None:
        vectors = vectors * zipf_sif_weights(len(kept), sif_coefficient)[:, None]
    table = np.zeros((vocab_size, vectors.shape[1]), dtype=dtype)
    table[kept] = vectors.astype(dtype)
    config = {
        "format": "macro2micro-static-embedder",
        "method": {
            "name": METHOD,
            "follows": "model2vec 0.10.0 distill (no vocabulary, no quantized vocabulary)",
            "token_input": "template tokens + token (e.g. [CLS] token [SEP])",
            "pooling": "mean",
            "pca_dims": dims,
            "sif_coefficient": sif_coefficient,
            "zipf_rank": "position among kept ids",
            "remove_pattern": remove_pattern,
            "vocab_limit": vocab_limit,
            "batch_size": batch_size,
        },
        "source": {"name": source_name or source_dir.name, "files_sha256": source_files_sha256(source_dir)},
        "dims": int(table.shape[1]),
        "vocab_size": int(vocab_size),
        "tokens_distilled": len(kept),
        "dtype": dtype,
        "pca_explained_variance": round(explained, 6),
        "normalize": True,
        "max_seq_length": DEFAULT_MAX_SEQ_LENGTH,
        "versions": _versions(),
    }
    with atomic_dir(out_dir) as tmp:
        safetensors_numpy.save_file({TENSOR_NAME: table}, str(tmp / EMBEDDINGS_FILE))
        (tmp / "tokenizer.json").write_text(
            json.dumps(_clean_tokenizer_json(tok_json), ensure_ascii=False), encoding="utf-8"
        )
        (tmp / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    logger.info(
        "static embedder (%d x %d, %s) written to %s in %.1f s",
        vocab_size,
        table.shape[1],
        dtype,
        out_dir,
        time.perf_counter() - start,
    )
    return Path(out_dir)
