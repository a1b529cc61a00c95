"""Live generation in the Space: the base model loaded once, each adapter loaded once onto it.

Adapters of one family share a base model; PEFT keeps them side by side (``load_adapter``) and
``set_adapter`` switches between them. Switching mutates the shared model, so generation is
serialized by one lock: concurrent requests queue instead of corrupting each other (two loads at
once used to fail with "Cannot copy out of meta tensor").
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

logger = logging.getLogger(__name__)


class LiveGenerator:
    """Answers from any adapter of a family, one request at a time.

    Args:
        adapters: ``{name: adapter folder}`` (each with ``adapter_config.json``).
    """

    def __init__(self, adapters: dict[str, Path]):
        self.adapters = dict(adapters)
        self._lock = threading.Lock()
        self._model = None
        self._names: dict[str, str] = {}  # adapter -> its PEFT adapter name on the shared model

    def base_model(self, name: str) -> str:
        return json.loads((self.adapters[name] / "adapter_config.json").read_text())["base_model_name_or_path"]

    def _ensure(self, name: str):
        from dataset_builder.llm import load_chat_model

        if self._model is None:
            self._model = load_chat_model(self.base_model(name), self.adapters[name])
            self._names = {name: "default"}  # the first adapter is PEFT's "default"
            return self._model
        tok, model, device = self._model
        if name not in self._names:
            if self.base_model(name) != self.base_model(next(iter(self._names))):
                raise ValueError(f"adapter {name!r} was trained on another base model")
            model.load_adapter(str(self.adapters[name]), adapter_name=name)
            self._names[name] = name
        return self._model

    def generate(self, name: str, prompt: str, max_new_tokens: int) -> str:
        from dataset_builder.llm import generate_chat

        with self._lock:
            tok, model, device = self._ensure(name)
            model.set_adapter(self._names[name])
            return generate_chat(tok, model, device, [prompt], batch_size=1, max_new_tokens=max_new_tokens)[0]
