"""LLM backends shared by the InsTag tagger and the pairwise judge.

- :class:`OpenAIBackend`: chat completions from any OpenAI-compatible server (vLLM, TGI,
  llama.cpp server), concurrent requests, errors returned (not raised) so callers can count them;
- :class:`TransformersBackend`: greedy generation with a local chat model, left-padded batches.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any


class OpenAIBackend:
    """Chat completions from any OpenAI-compatible server (vLLM, TGI, llama.cpp server).

    Args:
        base_url: e.g. ``http://localhost:8000/v1``.
        model: the served model's name.
        api_key: sent as a bearer token (default: ``$OPENAI_API_KEY``, else none).
        max_tokens: reply cap.
        concurrency: requests in flight at once.
        timeout: seconds per request.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        max_tokens: int = 256,
        concurrency: int = 8,
        timeout: float = 120.0,
        system: str | None = None,
    ):
        self.base_url, self.model = base_url.rstrip("/"), model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.max_tokens, self.concurrency, self.timeout, self.system = max_tokens, concurrency, timeout, system

    def _one(self, prompt: str) -> str:
        import urllib.request

        messages = ([{"role": "system", "content": self.system}] if self.system else []) + [
            {"role": "user", "content": prompt}
        ]
        body = json.dumps(
            {"model": self.model, "messages": messages, "temperature": 0, "max_tokens": self.max_tokens}
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(f"{self.base_url}/chat/completions", data=body, headers=headers)
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            data = json.loads(resp.read())
        return data["choices"][0]["message"]["content"]

    def generate(self, prompts: list[str]) -> list[str | Exception]:
        def call(p):
            try:
                return self._one(p)
            except Exception as err:  # counted as a failure by the tagger, never silently dropped
                return err

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(call, prompts))


def load_chat_model(
    spec: str,
    adapter: str | Path | None = None,
    chat_template: str | None = None,
    truncation_side: str = "right",
    device: str | None = None,
    shared: bool = False,
):
    """``(tokenizer, model, device)`` of a local chat model, ready for left-padded batch generation.

    Args:
        spec: model path, Hub id or ``embedded:*``.
        adapter: a PEFT adapter folder to apply (its tokenizer is used when it has one).
        chat_template: overrides the tokenizer's chat template (also used when it has none).
        truncation_side: which end of long prompts to cut.
        device: ``cpu`` or ``cuda``; default: cuda when available.
        shared: load the base model once per process and hand out that one (an adapter is applied to it in place:
            call the returned model's ``unload()`` when done with it, which gives the base model back unchanged).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from macro2micro.dataset_builder.models.assets import resolve_model
    from macro2micro.dataset_builder.utils import torch_threads

    torch_threads()
    path = resolve_model(spec)
    tok = AutoTokenizer.from_pretrained(
        str(adapter) if adapter else path, padding_side="left", truncation_side=truncation_side
    )
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if chat_template:
        tok.chat_template = chat_template
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model: Any  # (transformers types .to() as a decorator's wrapper)
    if shared:
        key = (path, device)
        if key not in _SHARED:
            _SHARED.clear()  # one base model at a time
            base: Any = AutoModelForCausalLM.from_pretrained(path)
            _SHARED[key] = base.to(device).eval()
        model = _SHARED[key]
        if isinstance(model, _peft_model_class()):
            raise RuntimeError(f"the shared {path} still carries an adapter: unload() it before loading another")
    else:
        model = AutoModelForCausalLM.from_pretrained(path)
    if adapter is not None:
        model = _peft_model_class().from_pretrained(model, str(adapter))
    return tok, model.to(device).eval(), device


# The base models that ``load_chat_model(..., shared=True)`` hands out: evaluation loads its base once for every
# adapter (each adapter is unloaded again after its answers) and for a judge of the same model.
_SHARED: dict[tuple[str, str], object] = {}


def _peft_model_class():
    from macro2micro.dataset_builder.utils import require

    return require("peft").PeftModel


def chat_batches(
    tok, prompts: list[str], batch_size: int, device: str, max_prompt_tokens: int | None = None, suffix: str = ""
) -> Iterator:
    """Left-padded, tokenized batches of single-turn chats (one user message each, generation prompt added)."""
    for i in range(0, len(prompts), batch_size):
        chats = [
            tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
            + suffix
            for p in prompts[i : i + batch_size]
        ]
        truncation = {"truncation": True, "max_length": max_prompt_tokens} if max_prompt_tokens else {}
        yield tok(chats, return_tensors="pt", padding=True, add_special_tokens=False, **truncation).to(device)


def generate_chat(
    tok,
    model,
    device: str,
    prompts: list[str],
    batch_size: int = 8,
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    max_prompt_tokens: int | None = None,
    precision: str = "float32",
    adapter_names: list[str] | None = None,
) -> list[str]:
    """Answers of a loaded chat model to single-turn prompts, in order: the one batched generation loop.

    Args:
        temperature: 0 decodes greedily; above 0 samples.
        max_prompt_tokens: cut longer prompts (at the tokenizer's truncation side).
        precision: float32, bfloat16 (mixed, autocast) or auto (see ``utils.resolve_precision``).
        adapter_names: per prompt, the adapter of a PEFT model that answers it (``"__base__"``: none), so that
            one batch mixes models (PEFT's mixed-adapter batches).
    """
    import torch

    from macro2micro.dataset_builder.utils import autocast

    sampling: dict[str, Any] = (
        {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
    )
    out: list[str] = []
    for start, enc in zip(
        range(0, len(prompts), batch_size),
        chat_batches(tok, prompts, batch_size, device, max_prompt_tokens),
        strict=True,
    ):
        if adapter_names is not None:
            sampling["adapter_names"] = adapter_names[start : start + batch_size]
        with torch.no_grad(), autocast(precision, device):
            gen = model.generate(**enc, max_new_tokens=max_new_tokens, pad_token_id=tok.pad_token_id, **sampling)
        out.extend(a.strip() for a in tok.batch_decode(gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True))
    return out


class TransformersBackend:
    """Greedy generation with a local transformers chat model, in left-padded batches."""

    def __init__(
        self,
        model: str,
        batch_size: int = 8,
        max_new_tokens: int = 256,
        device: str | None = None,
        precision: str = "float32",
    ):
        self.model_spec, self.batch_size, self.max_new_tokens, self.device = model, batch_size, max_new_tokens, device
        self.precision = precision
        self._loaded = None

    @property
    def model(self) -> str:
        return self.model_spec

    def _load(self):
        if self._loaded is None:
            self._loaded = load_chat_model(self.model_spec, device=self.device)
        return self._loaded

    def generate(self, prompts: list[str]) -> Sequence[str | Exception]:
        tok, model, device = self._load()
        return generate_chat(
            tok, model, device, prompts, self.batch_size, self.max_new_tokens, precision=self.precision
        )
