"""Tokenizers: the fine-tuned model's own (AutoTokenizer), or ``"word"`` (whitespace words), and their identity."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from macro2micro.dataset_builder.defaults import WORD_TOKENIZER
from macro2micro.dataset_builder.errors import ModelError
from macro2micro.dataset_builder.utils import hash_files


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

    from macro2micro.dataset_builder.models.assets import resolve_tokenizer

    try:
        return AutoTokenizer.from_pretrained(resolve_tokenizer(spec))
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(
            f"tokenizer {spec!r} could not be loaded: not a local folder, not in the Hugging Face cache, "
            f"and the Hub is unreachable or offline (HF_HUB_OFFLINE) ({first[:200]})"
        ) from None
