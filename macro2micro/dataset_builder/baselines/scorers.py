"""deita's scores: an offline stand-in named for what it is, or an LLM asked DEITA's two questions.

DEITA ranks rows by complexity x quality, each a 1-6 score from its own fine-tuned LLaMA scorers (the expected
value over the six digits' probabilities). Here:

- :class:`TagsTimesLength` (``tags_x_length``, no model): ``(1 + the instruction's normalized tag count) x the
  response's length in model tokens``. Tag count is InsTag's measure of an instruction's complexity; length is
  what automatic quality scores reward most. A stand-in, and the manifest and card name it so.
- :class:`LLMScorer`: a general chat model, through the OpenAI-compatible or transformers backend, asked for a
  1-6 complexity of the instruction and a 1-6 quality of the response; score = complexity x quality. Replies
  are parsed for the first number; a reply without one in 1..6 counts as a failure and scores 3 (DEITA's own
  fallback); failures are counted in the manifest. Ratings are cached by (model, prompt, text).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from typing import Any

import numpy as np

from macro2micro.dataset_builder.utils import cache_dir

logger = logging.getLogger(__name__)

COMPLEXITY_PROMPT = (
    "Rate the complexity of the following user query on a scale from 1 to 6 (1: trivial; 6: needs expert "
    "knowledge or several steps of reasoning). Reply with the number only.\nQuery: {instruction}"
)
QUALITY_PROMPT = (
    "Rate the quality of the response to the question below on a scale from 1 to 6 (1: wrong or unhelpful; 6: "
    "correct, complete and clearly written). Reply with the number only.\nQuestion: {instruction}\n"
    "Response: {response}"
)
FALLBACK = 3.0
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def parse_rating(reply: str | None) -> float | None:
    """The first number of a reply when it lies in 1..6, else None."""
    match = _NUMBER.search(reply or "")
    if not match:
        return None
    value = float(match.group())
    return value if 1 <= value <= 6 else None


class TagsTimesLength:
    """``(1 + normalized instruction tags) x response tokens``: the offline stand-in for DEITA's scorers."""

    name = "tags_x_length"

    def identity(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "formula": "(1 + normalized instruction tags) x response length (model tokens)",
            "stand_in_for": "DEITA's complexity x quality scorers",
        }

    def score(self, tag_counts: np.ndarray, response_lengths: np.ndarray) -> np.ndarray:
        return (1.0 + np.asarray(tag_counts, dtype=np.float64)) * np.asarray(response_lengths, dtype=np.float64)


class LLMScorer:
    """Complexity x quality, each a 1-6 rating by an LLM backend.

    Args:
        backend: an :class:`~..models.llm.OpenAIBackend` or :class:`~..models.llm.TransformersBackend`.
        max_chars: texts are cut to this many characters before prompting.
        use_cache: read and write the on-disk cache.
    """

    def __init__(self, backend, max_chars: int = 4000, use_cache: bool = True):
        self.backend, self.max_chars, self.use_cache = backend, max_chars, use_cache
        self.prompts_sha = hashlib.sha256(f"{COMPLEXITY_PROMPT}\0{QUALITY_PROMPT}".encode()).hexdigest()[:16]
        self.stats: Counter[str] = Counter()

    @property
    def name(self) -> str:
        return f"llm:{self.backend.model}"

    def identity(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "prompts_sha256": self.prompts_sha,
            "formula": "complexity (1-6) x quality (1-6)",
            "fallback": FALLBACK,
            "max_chars": self.max_chars,
        }

    def _cache_file(self):
        key = hashlib.sha256(f"{self.backend.model}\0{self.prompts_sha}".encode()).hexdigest()[:20]
        return cache_dir("scores") / f"{key}.jsonl"

    def _rate(self, prompts: list[str]) -> np.ndarray:
        """A rating per prompt (NaN where the reply had none), from the cache or the backend."""
        path = self._cache_file()
        cache: dict[str, float | None] = {}
        if self.use_cache and path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                    cache[rec["h"]] = rec["s"]
                except (json.JSONDecodeError, KeyError):
                    continue  # a line cut by a crash: that prompt is asked again
        hashes = [hashlib.sha256(p.encode("utf-8")).hexdigest()[:24] for p in prompts]
        todo = {h: p for h, p in zip(hashes, prompts, strict=True) if h not in cache}
        self.stats["cache_hits"] += len(prompts) - sum(1 for h in hashes if h in todo)
        if todo:
            keys = list(todo)
            replies = self.backend.generate([todo[h] for h in keys])
            with open(path, "a", encoding="utf-8") as f:
                for h, reply in zip(keys, replies, strict=True):
                    self.stats["calls"] += 1
                    if isinstance(reply, Exception):
                        self.stats["request_errors"] += 1
                        continue  # not cached: asked again next time
                    cache[h] = parse_rating(reply)
                    if self.use_cache:
                        f.write(json.dumps({"h": h, "s": cache[h]}) + "\n")
        return np.array([np.nan if cache.get(h) is None else cache[h] for h in hashes], dtype=np.float64)

    def score(self, instructions: list[str], responses: list[str]) -> np.ndarray:
        cut = self.max_chars
        complexity = self._rate([COMPLEXITY_PROMPT.format(instruction=q[:cut]) for q in instructions])
        quality = self._rate(
            [
                QUALITY_PROMPT.format(instruction=q[:cut], response=a[:cut])
                for q, a in zip(instructions, responses, strict=True)
            ]
        )
        failed = int(np.isnan(complexity).sum() + np.isnan(quality).sum())
        self.stats["failed_ratings"] += failed
        if failed:
            logger.warning(
                "%s: %d of %d ratings failed (no number in 1..6, or a request error); they score %g",
                self.name,
                failed,
                2 * len(instructions),
                FALLBACK,
            )
        return np.nan_to_num(complexity, nan=FALLBACK) * np.nan_to_num(quality, nan=FALLBACK)
