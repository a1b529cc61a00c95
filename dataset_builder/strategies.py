"""Selection strategies behind one contract: ``select(corpus, budget, seed, level) -> Selection``.

A strategy's knobs are constructor arguments; what it learns from a corpus lives in attributes
ending in ``_`` (``types_``, ``type_names_``, ``ladder_``), as scikit-learn estimators do. The six
diversity strategies are :class:`LadderStrategy` subclasses that differ only in
:meth:`LadderStrategy.extract_types`; pruning, levels and sampling are :mod:`.ladder`'s.
"""

from __future__ import annotations

import inspect
import logging
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

from .ladder import Ladder, as_binary_csr, balanced_sample, level_k, prune

logger = logging.getLogger(__name__)

SIDES = ("instruction", "response")


@dataclass
class Selection:
    """Selected corpus rows (sorted indices) and the stats that describe how they were chosen."""

    indices: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class TypeMatrix:
    """What an extractor returns: sample x type matrix, a name per type, and extraction info."""

    matrix: sp.csr_matrix
    names: list[str]
    info: dict[str, Any] = field(default_factory=dict)


_FINGERPRINTS: dict[str, str] = {}


def fingerprint(corpus) -> str:
    """Content fingerprint of a corpus Dataset, memoized on datasets' own in-process fingerprint."""
    from .corpus import corpus_fingerprint

    key = getattr(corpus, "_fingerprint", None)
    if key is None:
        return corpus_fingerprint(corpus)
    if key not in _FINGERPRINTS:
        _FINGERPRINTS[key] = corpus_fingerprint(corpus)
    return _FINGERPRINTS[key]


def _rng(seed: int, *parts: str | int) -> np.random.Generator:
    """A generator per (seed, strategy, level): adding a strategy or level never shifts another's."""
    words = [int(seed)] + [zlib.crc32(str(p).encode()) for p in parts]
    return np.random.default_rng(np.random.SeedSequence(words))


class Strategy:
    """Base of every strategy. Subclasses set ``name`` and implement :meth:`select`."""

    name: str = ""
    granularity: str = ""
    side: str | None = None

    def get_options(self) -> dict[str, Any]:
        """The constructor knobs, for the manifest."""
        params = inspect.signature(type(self).__init__).parameters
        return {p: getattr(self, p) for p in params if p not in ("self", "side") and hasattr(self, p)}

    def select(self, corpus, budget: int, seed: int, level: float = 1.0) -> Selection:
        raise NotImplementedError

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.get_options().items())
        return f"{type(self).__name__}({'side=' + repr(self.side) + ', ' if self.side else ''}{opts})"


class RandomStrategy(Strategy):
    """N rows uniformly at random (seeded): the control every strategy is measured against."""

    name = "random"
    granularity = "random"

    def select(self, corpus, budget: int, seed: int, level: float = 1.0) -> Selection:
        n = len(corpus)
        if budget > n:
            from .ladder import PoolTooSmallError

            raise PoolTooSmallError(f"random: budget N={budget} is larger than the corpus ({n} rows)")
        idx = np.sort(_rng(seed, self.name).choice(n, size=budget, replace=False))
        return Selection(idx, {"strategy": self.name, "granularity": "random", "side": None, "level": None,
                               "pool_size": n, "budget": budget})


class LadderStrategy(Strategy):
    """A diversity ladder over one side's types. Subclasses implement :meth:`extract_types`."""

    def __init__(self, side: str):
        if side not in SIDES:
            raise ValueError(f"side={side!r}; valid: {', '.join(SIDES)}")
        self.side = side

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"{self.granularity}_{self.side}"

    def extract_types(self, corpus) -> TypeMatrix:
        raise NotImplementedError

    def fit(self, corpus, seed: int = 0) -> "LadderStrategy":
        """Extract types (once per corpus) and prune them into a ladder (once per seed)."""
        fp = fingerprint(corpus)
        if getattr(self, "corpus_fingerprint_", None) != fp:
            tm = self.extract_types(corpus)
            if tm.matrix.shape[0] != len(corpus):
                raise ValueError(f"{self.name}: type matrix has {tm.matrix.shape[0]} rows for {len(corpus)} samples")
            self.types_ = as_binary_csr(tm.matrix)
            self.type_names_ = list(tm.names)
            self.type_info_ = tm.info
            self.corpus_fingerprint_ = fp
            self.ladder_seed_ = None
        if self.ladder_seed_ != seed:
            self.ladder_: Ladder = prune(self.types_, _rng(seed, self.name, "prune").integers(2**63))
            self.ladder_seed_ = seed
        return self

    def select(self, corpus, budget: int, seed: int, level: float = 1.0) -> Selection:
        self.fit(corpus, seed)
        ladder = self.ladder_
        k, k_min, k_max = level_k(ladder, budget, level, what=f"{self.name} ({self.side} side)")
        pool = ladder.pool(k)
        idx, sample_stats = balanced_sample(self.types_, pool, budget, _rng(seed, self.name, f"{level:.6f}"))
        stats = {
            "strategy": self.name, "granularity": self.granularity, "side": self.side, "level": level,
            "k": k, "k_min": k_min, "k_max": k_max, "pool_size": len(pool), "budget": budget,
            "n_types": ladder.n_types, "samples_with_types": int(ladder.pool_sizes[-1]),
            **sample_stats,
            "first_admitted": [self.type_names_[t] for t in ladder.order[:10]],
            "last_admitted": [self.type_names_[t] for t in ladder.order[max(k - 10, 0):k]],
        }
        return Selection(idx, stats)


class MicroStrategy(LadderStrategy):
    """Micro diversity: types are mid-band tokens of the fine-tuned model's tokenizer.

    Args:
        side: ``instruction`` or ``response``.
        tokenizer: model spec whose tokenizer is used (local path, Hub id, the embedded default),
            or ``"word"`` for whitespace words (the paper's ablation).
        low: fewest occurrences of a mid-band token (inclusive).
        high: most occurrences of a mid-band token (inclusive).
        per_million: read ``low``/``high`` as occurrences per million tokens of the side.
    """

    granularity = "micro"

    def __init__(self, side: str, tokenizer: str = "embedded:smollm2-135m-instruct", low: float = 10,
                 high: float = 500, per_million: bool = False):
        super().__init__(side)
        from .micro import Bands

        self.tokenizer = tokenizer
        self.low, self.high, self.per_million = low, high, per_million
        self.bands = Bands(low, high, per_million)  # validates the bounds here, at the boundary

    def get_options(self) -> dict[str, Any]:
        return {"tokenizer": self.tokenizer, "low": self.low, "high": self.high, "per_million": self.per_million}

    def extract_types(self, corpus) -> TypeMatrix:
        from .micro import WORD_TOKENIZER, load_tokenizer, mid_band_matrix, token_features, tokenizer_identity

        texts = list(corpus[self.side])
        if self.tokenizer == WORD_TOKENIZER:
            feats = token_features(texts, WORD_TOKENIZER)
            ident = {"name": WORD_TOKENIZER}
        else:
            tok = load_tokenizer(self.tokenizer)
            ident = tokenizer_identity(tok)
            feats = token_features(texts, tok, fingerprint=f"{fingerprint(corpus)}:{self.side}")
        matrix, token_ids, bands = mid_band_matrix(feats, self.bands)
        if feats.vocab is not None:
            names = [feats.vocab[i] for i in token_ids]
        else:
            names = tok.convert_ids_to_tokens(token_ids.tolist())
        logger.info("%s: %d mid-band tokens of %d distinct (%s)", self.name, bands["mid"], bands["distinct"], bands)
        info = {"tokenizer": ident, "bands": bands, "mean_tokens": float(feats.lengths().mean())}
        return TypeMatrix(matrix, names, info)


REGISTRY: dict[str, Callable[..., Strategy]] = {
    "random": RandomStrategy,
    "micro_instruction": lambda **kw: MicroStrategy(side="instruction", **kw),
    "micro_response": lambda **kw: MicroStrategy(side="response", **kw),
}
_CLASSES: dict[str, type] = {"random": RandomStrategy, "micro_instruction": MicroStrategy,
                             "micro_response": MicroStrategy}


def available_strategies() -> list[str]:
    return list(REGISTRY)


def get_strategy(name: str, **knobs: Any) -> Strategy:
    """Build a registered strategy, passing it the knobs its constructor takes.

    Knobs meant for other strategies (e.g. ``tokenizer`` when building ``random``) are ignored;
    a knob no registered strategy takes is an error.
    """
    if name not in REGISTRY:
        raise ValueError(f"unknown strategy {name!r}; valid: {', '.join(available_strategies())}")
    known = set()
    for cls in _CLASSES.values():
        known |= set(inspect.signature(cls.__init__).parameters) - {"self", "side"}
    unknown = set(knobs) - known
    if unknown:
        raise ValueError(f"unknown strategy option(s) {sorted(unknown)}; valid: {sorted(known)}")
    accepted = set(inspect.signature(_CLASSES[name].__init__).parameters)
    return REGISTRY[name](**{k: v for k, v in knobs.items() if k in accepted})


def register(name: str, cls: type, **fixed: Any) -> None:
    """Add a strategy to the registry (used by the macro and meso modules)."""
    REGISTRY[name] = lambda **kw: cls(**fixed, **kw)
    _CLASSES[name] = cls


# The macro and meso modules register their strategies on import (they import this module).
from . import macro as _macro  # noqa: E402,F401
from . import meso as _meso  # noqa: E402,F401
