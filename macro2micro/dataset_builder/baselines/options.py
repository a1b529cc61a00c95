"""Knobs of the baselines (``longest``, ``kcenter``, ``deita``, ``instag``), one field each with help text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from macro2micro.dataset_builder.errors import OptionsError

EMBED_SIDES = ("instruction", "response", "both")
DEITA_SCORERS = ("tags_x_length", "openai", "transformers")


@dataclass
class BaselineOptions:
    """How the baselines embed and score rows (the tokenizer, embedder and meso tagger are the ladders' own)."""

    baseline_embedding: Literal["instruction", "response", "both"] = field(
        default="both",
        metadata={
            "help": "what kcenter and deita embed: one side, or both (the normalized sum of the two sides' "
            "embeddings, from the macro strategies' cache)"
        },
    )
    deita_scorer: Literal["tags_x_length", "openai", "transformers"] = field(
        default="tags_x_length",
        metadata={
            "help": "deita's score: tags_x_length (offline stand-in: (1 + the instruction's normalized tags) x "
            "response tokens), or DEITA's complexity x quality prompts through an OpenAI-compatible server "
            "(openai) or a local model (transformers)"
        },
    )
    deita_scorer_model: str | None = field(
        default=None, metadata={"help": "deita's scorer: served model name (openai) or model path / Hub id"}
    )
    deita_scorer_url: str | None = field(
        default=None, metadata={"help": "deita's scorer: OpenAI-compatible base URL, e.g. http://localhost:8000/v1"}
    )

    def __post_init__(self) -> None:
        if self.baseline_embedding not in EMBED_SIDES:
            raise OptionsError(f"baseline_embedding={self.baseline_embedding!r}; valid: {', '.join(EMBED_SIDES)}")
        if self.deita_scorer not in DEITA_SCORERS:
            raise OptionsError(f"deita_scorer={self.deita_scorer!r}; valid: {', '.join(DEITA_SCORERS)}")
        if self.deita_scorer != "tags_x_length" and not self.deita_scorer_model:
            raise OptionsError(f"deita_scorer={self.deita_scorer!r} needs deita_scorer_model (--deita_scorer_model)")
        if self.deita_scorer == "openai" and not self.deita_scorer_url:
            raise OptionsError("deita_scorer='openai' needs deita_scorer_url, e.g. http://localhost:8000/v1")
