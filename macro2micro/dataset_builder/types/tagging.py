"""Taggers for the meso strategy and InsTag's tag normalization (METHOD section 3).

- :class:`OfflineTagger`: needs no model and no downloaded data: RAKE-style keyphrases (runs of
  content words between stop words and punctuation, scored by word degree / frequency) plus a
  verb-object unit from the first clause (``"write poem"``), each with its head word.
- :class:`LLMTagger`: InsTag's prompt (a JSON list of ``{"tag", "explanation"}``) through any
  OpenAI-compatible server (vLLM, TGI, llama.cpp server) or a local transformers model; batched;
  replies parsed leniently; failures counted, never silently dropped; cached by
  (model, prompt hash, text hash); :meth:`LLMTagger.plan` is the dry run.
- :func:`normalize_tags`: drop tags seen fewer than ``alpha`` times; lower-case, strip
  punctuation, Porter-stem; merge tags whose embeddings are more similar than a threshold.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.utils import cache_dir

logger = logging.getLogger(__name__)

# A small built-in English stop-word list (no nltk data needed).
STOPWORDS = frozenset(
    """
a about above after again against all also am an and any are as at be because been before being below between
both but by can could did do does doing down during each else etc even ever every few for from further get gets
got had has have having he her here hers herself him himself his how however i if in into is it its itself
just let like may me might more most much must my myself need no nor not now of off often on once one only or
other ought our ours ourselves out over own please rather really same shall she should so some such than that
the their theirs them themselves then there these they this those through thus to too under until up upon us
use used using very via want was way we well were what when where whether which while who whom whose why will
with within without would yes yet you your yours yourself yourselves i'm it's don't can't you're let's i've
give make tell show help new know thing things also able many well
""".split()
)

INSTAG_PROMPTS = {
    "instruction": (
        "You are a helpful assistant. Please identify tags of user intentions in the following user "
        "query and provide an explanation for each tag. Please respond in the JSON format "
        '[{{"tag": str, "explanation": str}}].\nUser query: {text}'
    ),
    "response": (
        "You are a helpful assistant. Please identify tags of the topics, skills and content types in "
        "the following assistant response and provide an explanation for each tag. Please respond in "
        'the JSON format [{{"tag": str, "explanation": str}}].\nResponse: {text}'
    ),
}

_WORD = re.compile(r"[a-z][a-z0-9+#'-]*")
_SPLIT = re.compile(r"[.!?;:\n]+")


class OfflineTagger:
    """Keyphrase and verb-object tags with no model and no data files.

    Args:
        max_tags: tags per text (InsTag averages about 4).
        max_words: longest keyphrase kept.
        max_chars: only the first this-many characters of a text are read.
    """

    name = "offline-rake"

    def __init__(self, max_tags: int = 4, max_words: int = 3, max_chars: int = 4000):
        self.max_tags, self.max_words, self.max_chars = max_tags, max_words, max_chars

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "max_tags": self.max_tags, "max_words": self.max_words, "max_chars": self.max_chars}

    def _phrases(self, text: str) -> tuple[list[list[str]], int]:
        """Runs of content words, and how many of them the first non-empty clause holds."""
        phrases: list[list[str]] = []
        first_clause = 0
        for clause in _SPLIT.split(text.lower()[: self.max_chars]):
            start = len(phrases)
            run: list[str] = []
            for token in re.split(r"(\s+|[,()\[\]{}\"`*/<>=|])", clause):
                if not token or token.isspace():
                    continue  # spaces join words into phrases; punctuation and stop words split them
                if not _WORD.fullmatch(token) or token in STOPWORDS or len(token) < 3:
                    if run:
                        phrases.append(run)
                    run = []
                else:
                    run.append(token.strip("'-"))
            if run:
                phrases.append(run)
            if start == 0 and phrases:
                first_clause = len(phrases)
        return phrases, first_clause

    def tag_one(self, text: str) -> list[str]:
        phrases, first_clause = self._phrases(text)
        if not phrases:
            return []
        freq: Counter[str] = Counter()
        degree: Counter[str] = Counter()
        for p in phrases:
            for w in p:
                freq[w] += 1
                degree[w] += len(p)
        candidates: dict[str, float] = {}
        for p in phrases:
            if len(p) > self.max_words:
                continue
            key = " ".join(p)
            candidates.setdefault(key, sum(degree[w] / freq[w] for w in p))
        ranked = sorted(candidates, key=lambda k: -candidates[k])  # stable: first appearance breaks ties
        # The verb-object unit of the opening clause leads: its first word and the head of what
        # follows ("Write a short poem ..." -> "write poem"; "Bake bread at home" -> "bake bread").
        clause = phrases[:first_clause]
        unit = []
        if len(clause[0]) >= 2:
            unit = [f"{clause[0][0]} {clause[0][1]}"]
        elif len(clause) >= 2:
            unit = [f"{clause[0][0]} {clause[1][-1]}"]
        top = unit + ranked
        tags: list[str] = []
        for key in list(dict.fromkeys(top))[: self.max_tags]:
            if key not in tags:
                tags.append(key)
            # A phrase's head word recurs across texts where the whole phrase rarely does, so it
            # survives the frequency filter and links texts on the same topic.
            head = key.rsplit(" ", 1)[-1]
            if head != key and head not in tags:
                tags.append(head)
        return tags

    def tag(self, texts: Sequence[str]) -> list[list[str]]:
        return [self.tag_one(t) for t in texts]


# ----------------------------------------------------------------------------- LLM tagger


def parse_tags(reply: str) -> list[str] | None:
    """Tags from an LLM reply, leniently: code fences, prose around the JSON, a truncated list,
    a list of strings, or a single object. ``None`` when nothing usable is found."""
    text = re.sub(r"```(?:json)?", "", reply or "").strip()
    start = min([i for i in (text.find("["), text.find("{")) if i >= 0], default=-1)
    if start < 0:
        return None
    body = text[start:]
    candidates = [body, body[: body.rfind("]") + 1] if "]" in body else body]
    last_obj = body.rfind("}")
    if last_obj >= 0:
        candidates.append(body[: last_obj + 1] + ("]" if body.startswith("[") else ""))
    data = None
    for cand in candidates:
        try:
            data = json.loads(cand)
            break
        except json.JSONDecodeError:
            continue
    if data is None:
        found = re.findall(r'"tag"\s*:\s*"((?:[^"\\]|\\.)*)"', body)
        return [f for f in found if f.strip()] or None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        return None
    tags = []
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("tag"), str):
            tags.append(item["tag"])
        elif isinstance(item, str):
            tags.append(item)
    tags = [t.strip() for t in tags if t.strip()]
    return tags or None


class LLMTagger:
    """InsTag-style tagging by an LLM, cached and with failures counted.

    Args:
        backend: an :class:`OpenAIBackend` or :class:`TransformersBackend`.
        side: which prompt to use (``instruction`` or ``response``).
        prompt: a custom prompt with a ``{text}`` field (overrides the side's InsTag prompt).
        max_chars: texts are cut to this many characters before prompting.
        use_cache: read and write the on-disk cache.
    """

    def __init__(
        self,
        backend,
        side: str = "instruction",
        prompt: str | None = None,
        max_chars: int = 4000,
        use_cache: bool = True,
    ):
        self.backend, self.side, self.max_chars, self.use_cache = backend, side, max_chars, use_cache
        self.prompt = prompt or INSTAG_PROMPTS[side]
        if "{text}" not in self.prompt:
            raise OptionsError("prompt must contain a {text} field")
        self.prompt_sha = hashlib.sha256(self.prompt.encode()).hexdigest()[:16]
        self.stats: Counter[str] = Counter()
        self.failures: list[str] = []

    @property
    def name(self) -> str:
        return f"llm:{self.backend.model}"

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "prompt_sha256": self.prompt_sha, "max_chars": self.max_chars}

    def _cache_file(self) -> Path:
        key = hashlib.sha256(f"{self.backend.model}\0{self.prompt_sha}".encode()).hexdigest()[:20]
        return cache_dir("tags") / f"{key}.jsonl"

    def _load_cache(self) -> dict[str, list[str]]:
        path = self._cache_file()
        cache: dict[str, list[str]] = {}
        if self.use_cache and path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                    cache[rec["h"]] = rec["tags"]
                except (json.JSONDecodeError, KeyError):
                    continue  # a line cut by a crash: that text is simply tagged again
        return cache

    @staticmethod
    def _hash(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]

    def plan(self, texts: Sequence[str]) -> dict[str, int]:
        """The dry run: calls and (approximate, 4 characters a token) prompt tokens it would spend."""
        cache = self._load_cache()
        todo = {self._hash(t[: self.max_chars]): t[: self.max_chars] for t in texts}
        todo = {h: t for h, t in todo.items() if h not in cache}
        chars = sum(len(self.prompt) + len(t) for t in todo.values())
        return {
            "texts": len(texts),
            "cached": len(texts) - len(todo),
            "calls": len(todo),
            "approx_prompt_tokens": chars // 4,
            "approx_max_reply_tokens": len(todo)
            * getattr(self.backend, "max_tokens", getattr(self.backend, "max_new_tokens", 256)),
        }

    def tag(self, texts: Sequence[str]) -> list[list[str]]:
        cache = self._load_cache()
        cut = [t[: self.max_chars] for t in texts]
        hashes = [self._hash(t) for t in cut]
        todo = {h: t for h, t in zip(hashes, cut, strict=True) if h not in cache}
        self.stats["cache_hits"] += len(texts) - sum(1 for h in hashes if h in todo)
        if todo:
            keys = list(todo)
            replies = self.backend.generate([self.prompt.format(text=todo[h]) for h in keys])
            path = self._cache_file()
            with open(path, "a", encoding="utf-8") as f:
                for h, reply in zip(keys, replies, strict=True):
                    self.stats["calls"] += 1
                    if isinstance(reply, Exception):
                        self.stats["request_errors"] += 1
                        self.failures.append(f"request failed: {reply}")
                        continue
                    tags = parse_tags(reply)
                    if tags is None:
                        self.stats["unparseable"] += 1
                        self.failures.append(f"unparseable reply: {reply[:200]!r}")
                        continue
                    cache[h] = tags
                    if self.use_cache:
                        f.write(json.dumps({"h": h, "tags": tags}, ensure_ascii=False) + "\n")
        if self.stats["request_errors"] or self.stats["unparseable"]:
            logger.warning(
                "%s: %d request errors, %d unparseable replies (first: %s)",
                self.name,
                self.stats["request_errors"],
                self.stats["unparseable"],
                self.failures[:1],
            )
        return [cache.get(h, []) for h in hashes]


# ----------------------------------------------------------------------------- normalization


def canonical_tag(tag: str, stemmer=None) -> str:
    """Lower-case, punctuation stripped, each word Porter-stemmed."""
    if stemmer is None:
        from nltk.stem import PorterStemmer

        stemmer = PorterStemmer()
    words = re.sub(r"[^\w\s]|_", " ", tag.lower()).split()
    return " ".join(stemmer.stem(w) for w in words)


def normalize_tags(
    tag_lists: Sequence[Sequence[str]],
    alpha: int = 2,
    merge_threshold: float | None = 0.9,
    embedder: str | None = None,
) -> tuple[list[list[str]], dict[str, Any]]:
    """InsTag's normalization: frequency filter, rule aggregation, semantic merge.

    Args:
        tag_lists: raw tags per text.
        alpha: drop raw tags seen fewer than ``alpha`` times over the corpus.
        merge_threshold: merge normalized tags whose embeddings' cosine similarity is at least
            this (single linkage); None or no ``embedder`` skips the merge.
        embedder: sentence-embedding model spec for the merge.

    Returns:
        Normalized tags per text (sorted, unique) and statistics of each step.
    """
    from nltk.stem import PorterStemmer

    raw_counts = Counter(t for tags in tag_lists for t in set(tags))
    kept = {t for t, c in raw_counts.items() if c >= alpha}
    stemmer = PorterStemmer()
    canon = {t: canonical_tag(t, stemmer) for t in kept}
    canon = {t: c for t, c in canon.items() if c}
    canon_counts = Counter(canon[t] for tags in tag_lists for t in set(tags) if t in canon)
    merged_to = {c: c for c in canon_counts}
    if embedder and merge_threshold is not None and len(canon_counts) > 1:
        import scipy.sparse as sp
        from scipy.sparse.csgraph import connected_components

        from macro2micro.dataset_builder.models.embeddings import embed_texts

        names = sorted(canon_counts)
        surface: dict[str, str] = {}
        # the most frequent raw form, then a-z: never the order of a set, which changes with PYTHONHASHSEED
        for raw, c in sorted(canon.items(), key=lambda kv: (-raw_counts[kv[0]], kv[0])):
            surface.setdefault(c, raw)
        emb, _ = embed_texts([surface[n] for n in names], embedder, use_cache=False, dtype="float32")
        rows, cols = [], []
        for start in range(0, len(names), 2048):
            sims = emb[start : start + 2048] @ emb.T
            hit_rows, hit_cols = np.nonzero(sims >= merge_threshold)
            rows.append(hit_rows + start)
            cols.append(hit_cols)
        graph = sp.csr_matrix(
            (np.ones(sum(len(r) for r in rows)), (np.concatenate(rows), np.concatenate(cols))),
            shape=(len(names), len(names)),
        )
        _, comp = connected_components(graph, directed=False)
        best: dict[int, str] = {}
        for n, k in zip(names, comp, strict=True):
            if k not in best or (-canon_counts[n], n) < (-canon_counts[best[k]], best[k]):  # most frequent, then a-z
                best[k] = n
        merged_to = {n: best[k] for n, k in zip(names, comp, strict=True)}
    out = [sorted({merged_to[canon[t]] for t in tags if t in canon}) for tags in tag_lists]
    info = {
        "raw_tags": len(raw_counts),
        "after_alpha": len(kept),
        "after_rules": len(canon_counts),
        "after_merge": len(set(merged_to.values())),
        "alpha": alpha,
        "merge_threshold": merge_threshold,
        "mean_tags_per_text": round(float(np.mean([len(t) for t in out])) if out else 0.0, 3),
    }
    return out, info
