"""A static embedder distilled once, locally, from the packaged all-MiniLM-L6-v2 (model2vec's method).

Sentence-transformer embeddings cost a transformer pass per text: on a 2-core CPU that is
15-80 ShareGPT-length texts per second, so a 117K-row macro build takes hours. A static embedder
looks each word piece's vector up in a table and averages them: thousands of texts per second.

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

Encoding: the fast tokenizer without special tokens, unknown tokens dropped, the first
``max_seq_length`` word pieces kept, mean of the token vectors (a sparse bag-of-tokens matrix
times the table), L2 normalization. The object answers the parts of the SentenceTransformer API
that :func:`dataset_builder.embeddings.embed_texts` uses.

Checked against model2vec 0.10.0's own ``distill`` on the same MiniLM folder (in a separate venv):
the same 29,525 tokens, every table row at cosine >= 0.9999996 (ours is stored as float16, PCA
in float64), and the same sentence vectors on 4,000 ShareGPT texts except where model2vec's
character pre-cut drops word pieces (see ``CHARS_PER_TOKEN_CAP``).
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import logging
import re
import time
from itertools import chain
from pathlib import Path

import numpy as np

from .utils import atomic_dir, cache_dir, hash_files, require

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
        raise FileNotFoundError(f"source_dir={str(path)!r} has no *.safetensors or *.json files: "
                                "expected a sentence-transformers / transformers model folder")
    return hash_files(files)


def _template_ids(tok_json: dict) -> tuple[list[int], list[int]]:
    """The ids the post-processor puts before and after a single sequence ([CLS] and [SEP] for BERT)."""
    proc = tok_json.get("post_processor") or {}
    if proc.get("type") != "TemplateProcessing":
        return [], []
    special = proc.get("special_tokens", {})
    before, after, seen_seq = [], [], False
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
            ids = torch.from_numpy(token_ids[start:start + batch_size])
            n = len(ids)
            # Every sequence has the same length, so there is no padding and the mean is over all positions.
            input_ids = torch.cat([prefix.expand(n, -1), ids[:, None], suffix.expand(n, -1)], dim=1)
            hidden = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).last_hidden_state
            out[start:start + n] = hidden.float().mean(dim=1).numpy()
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


def distill(source_dir: str | Path, out_dir: str | Path, dims: int = DEFAULT_DIMS,
            sif_coefficient: float | None = DEFAULT_SIF, remove_pattern: str | None = DEFAULT_REMOVE_PATTERN,
            vocab_limit: int | None = None, batch_size: int = 1024, dtype: str = "float16",
            source_name: str | None = None) -> Path:
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
        raise ValueError(f"dtype={dtype!r}; valid: {', '.join(_DTYPES)}")
    if sif_coefficient is not None and not 0 < sif_coefficient < 1:
        raise ValueError(f"sif_coefficient={sif_coefficient} must be in (0, 1) or None")
    if vocab_limit is not None and vocab_limit < 2:
        raise ValueError(f"vocab_limit={vocab_limit} must be at least 2 (or None for the whole vocabulary)")
    source_dir = Path(source_dir)
    tok_path = source_dir / "tokenizer.json"
    if not tok_path.exists():
        raise FileNotFoundError(f"source_dir={str(source_dir)!r} has no tokenizer.json: a fast tokenizer is needed")
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
        raise ValueError(f"remove_pattern={remove_pattern!r} removes every token of {tok_path}")
    before, after = _template_ids(tok_json)
    model = transformers.AutoModel.from_pretrained(str(source_dir)).eval()
    hidden = int(model.config.hidden_size)
    if dims is not None and not 1 <= dims <= min(hidden, len(kept) - 1):
        raise ValueError(f"dims={dims} must be between 1 and min(hidden size {hidden}, tokens - 1 = {len(kept) - 1})")
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
        "method": {"name": METHOD, "follows": "model2vec 0.10.0 distill (no vocabulary, no quantized vocabulary)",
                   "token_input": "template tokens + token (e.g. [CLS] token [SEP])", "pooling": "mean",
                   "pca_dims": dims, "sif_coefficient": sif_coefficient, "zipf_rank": "position among kept ids",
                   "remove_pattern": remove_pattern, "vocab_limit": vocab_limit, "batch_size": batch_size},
        "source": {"name": source_name or source_dir.name, "files_sha256": source_files_sha256(source_dir)},
        "dims": int(table.shape[1]), "vocab_size": int(vocab_size), "tokens_distilled": len(kept),
        "dtype": dtype, "pca_explained_variance": round(explained, 6), "normalize": True,
        "max_seq_length": DEFAULT_MAX_SEQ_LENGTH, "versions": _versions(),
    }
    with atomic_dir(out_dir) as tmp:
        safetensors_numpy.save_file({TENSOR_NAME: table}, str(tmp / EMBEDDINGS_FILE))
        (tmp / "tokenizer.json").write_text(json.dumps(_clean_tokenizer_json(tok_json), ensure_ascii=False),
                                            encoding="utf-8")
        (tmp / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    logger.info("static embedder (%d x %d, %s) written to %s in %.1f s", vocab_size, table.shape[1], dtype,
                out_dir, time.perf_counter() - start)
    return Path(out_dir)


class StaticEmbedder:
    """Token-vector lookup and mean; the SentenceTransformer subset that ``embed_texts`` calls.

    Load with :meth:`load`. ``max_seq_length`` (word pieces kept per text) can be set like a
    SentenceTransformer's; None keeps whole texts.
    """

    def __init__(self, embeddings: np.ndarray, tokenizer, config: dict, path: Path | None = None,
                 max_seq_length: int | None = DEFAULT_MAX_SEQ_LENGTH):
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
            raise FileNotFoundError(f"{path} is not a static embedder folder: missing {', '.join(missing)} "
                                    "(write one with dataset_builder.static_embedder.distill)")
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        table = require("safetensors.numpy").load_file(str(path / EMBEDDINGS_FILE))[TENSOR_NAME]
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        if tokenizer.get_vocab_size(with_added_tokens=True) != len(table):
            raise ValueError(f"{path}: tokenizer has {tokenizer.get_vocab_size(with_added_tokens=True)} tokens "
                             f"but {EMBEDDINGS_FILE} has {len(table)} rows")
        return cls(table, tokenizer, config, path, max_seq_length)

    @property
    def max_seq_length(self) -> int | None:
        return self._max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int | None) -> None:
        if value is not None and value < 1:
            raise ValueError(f"max_seq_length={value} must be at least 1 (or None: no truncation)")
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

    def encode(self, sentences: str | list[str], batch_size: int = 1024, show_progress_bar: bool | None = None,
               normalize_embeddings: bool = True, convert_to_numpy: bool = True, convert_to_tensor: bool = False,
               **kwargs) -> np.ndarray:
        """Mean of the token vectors of each text, L2-normalized by default; float32 (n, dims).

        Args:
            sentences: texts (a single string gives one vector, as SentenceTransformer does).
            batch_size: texts tokenized at a time (results do not depend on it).
            show_progress_bar: tqdm over batches (None: only for more than 10 batches on a terminal).
            normalize_embeddings: L2-normalize each vector (texts with no known token stay zero).
            convert_to_numpy: accepted for SentenceTransformer compatibility; the result is numpy.
            convert_to_tensor: return a torch tensor instead.
            **kwargs: other SentenceTransformer arguments (``device``, ``precision`` ...) are ignored.
        """
        from tqdm.auto import tqdm

        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be at least 1")
        out = np.zeros((len(texts), self.embeddings.shape[1]), dtype=np.float32)
        starts = range(0, len(texts), batch_size)
        disable = (None if len(starts) > 10 else True) if show_progress_bar is None else not show_progress_bar
        for start in tqdm(starts, desc="static embeddings", unit="batch", disable=disable):
            bag = self.bag_of_tokens(texts[start:start + batch_size])
            vectors = np.asarray(bag @ self.embeddings, dtype=np.float32)
            counts = np.asarray(bag.sum(axis=1), dtype=np.float32)
            vectors /= np.maximum(counts, 1)
            if normalize_embeddings:
                vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            out[start:start + len(vectors)] = vectors
        result = out[0] if single else out
        if convert_to_tensor:
            import torch

            return torch.from_numpy(result)
        return result

    def identity(self) -> dict:
        """Like :func:`dataset_builder.embeddings.embedder_identity`: what a manifest records."""
        ident = {"name": f"static:{self.config['source']['name']}", "method": self.config["method"]["name"],
                 "source_files_sha256": self.config["source"]["files_sha256"][:16],
                 "max_seq_length": self.max_seq_length, "dimension": self.get_embedding_dimension()}
        if self.path is not None:
            ident["files_sha256"] = hash_files(sorted(self.path.glob("*.safetensors")) +
                                               sorted(self.path.glob("*.json")))[:16]
        return ident


def static_embedder_dir(source: str = "embedded:all-minilm-l6-v2", dims: int = DEFAULT_DIMS) -> Path:
    """The static embedder distilled from ``source``, distilled once into the toolkit's asset cache.

    The folder name carries the source files' hash, the dims and the method, so a new source or
    method never reuses a stale table. Takes about half a minute on 2 CPU cores the first time.
    """
    from .assets import hub_id, resolve_embedder

    src = Path(resolve_embedder(source))
    if not src.is_dir():
        raise FileNotFoundError(f"source={source!r} resolves to {str(src)!r}, not a local folder: static "
                                "distillation needs the model's files on disk")
    digest = source_files_sha256(src)[:12]
    target = cache_dir("assets") / f"static-{hub_id(source).split('/')[-1]}-{dims}d-{METHOD}-{digest}"
    if not (target / "config.json").exists():
        logger.info("distilling a static embedder from %s into %s (once)", source, target)
        distill(src, target, dims=dims, source_name=hub_id(source))
    return target


def load_static_embedder(source: str = "embedded:all-minilm-l6-v2", dims: int = DEFAULT_DIMS,
                         max_seq_length: int | None = DEFAULT_MAX_SEQ_LENGTH) -> StaticEmbedder:
    """:func:`static_embedder_dir` then :meth:`StaticEmbedder.load`."""
    return StaticEmbedder.load(static_embedder_dir(source, dims), max_seq_length)
