"""Live generation in the Space: the base model loaded once, each adapter loaded once onto it.

Adapters of one family share a base model; PEFT keeps them side by side (``load_adapter``) and
``set_adapter`` switches between them. Switching mutates the shared model, so generation is
serialized by one lock: concurrent requests queue instead of corrupting each other (two loads at
once used to fail with "Cannot copy out of meta tensor").
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from macro2micro.dataset_builder.errors import ArtifactError

logger = logging.getLogger(__name__)


class LiveGenerator:
    """Answers from any adapter of a family, one request at a time.

    Args:
        adapters: ``{name: {"path": folder}}`` or ``{name: {"repo_id": ..., "revision": ...}}`` (downloaded on
            first use).
    """

    def __init__(self, adapters: dict[str, dict]):
        self.refs = dict(adapters)
        self.adapters: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._model = None
        self._names: dict[str, str] = {}  # adapter -> its PEFT adapter name on the shared model

    def path(self, name: str) -> Path:
        if name not in self.adapters:
            ref = self.refs[name]
            if "path" in ref:
                self.adapters[name] = Path(ref["path"])
            else:
                from macro2micro.dataset_builder.hub.client import download_repo

                self.adapters[name] = download_repo(ref["repo_id"], "model", ref.get("revision"))[0]
        return self.adapters[name]

    def base_model(self, name: str) -> str:
        from macro2micro.dataset_builder.hub.artifacts import adapter_base_model

        return adapter_base_model(self.path(name))

    def _ensure(self, name: str):
        from macro2micro.dataset_builder.models.llm import load_chat_model

        if self._model is None:
            self._model = load_chat_model(self.base_model(name), self.path(name))
            self._names = {name: "default"}  # the first adapter is PEFT's "default"
            return self._model
        tok, model, device = self._model
        if name not in self._names:
            if self.base_model(name) != self.base_model(next(iter(self._names))):
                raise ArtifactError(f"adapter {name!r} was trained on another base model")
            model.load_adapter(str(self.path(name)), adapter_name=name)
            self._names[name] = name
        return self._model

    def generate(self, name: str, prompt: str, max_new_tokens: int) -> str:
        from macro2micro.dataset_builder.models.llm import generate_chat

        with self._lock:
            tok, model, device = self._ensure(name)
            model.set_adapter(self._names[name])
            return generate_chat(tok, model, device, [prompt], batch_size=1, max_new_tokens=max_new_tokens)[0]
