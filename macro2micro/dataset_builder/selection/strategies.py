"""Selection strategies behind one contract: ``select(corpus, budget, seed, level, replicate) -> Selection``.

A strategy's knobs are typed option objects given to its constructor; what it learns from a
corpus lives in attributes ending in ``_`` (``types_``, ``type_names_``, ``ladder_``), as
scikit-learn estimators do. The six diversity strategies are :class:`LadderStrategy` subclasses
(in :mod:`.micro`, :mod:`.macro`, :mod:`.meso`) that differ only in
:meth:`LadderStrategy.extract_types`; pruning, levels and sampling are :mod:`.ladder`'s. The
registry of names is :mod:`.registry`.

``replicate`` numbers independent draws of the same strategy, level and seed: replicate 0 is the draw a build
without replicates makes (same rows, same bytes); replicate r > 0 draws with a generator of its own, while the
fitted state (a ladder's type order, a corpus's embeddings) stays that of the seed. A strategy whose rows do
not depend on a draw (the seed only breaks ties) says so with ``stochastic = False``: a build draws no
replicates of it.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from macro2micro.dataset_builder.corpus.ingest import corpus_fingerprint
from macro2micro.dataset_builder.defaults import CORPUS_COLUMNS, SIDES
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.selection.ladder import Ladder, PoolTooSmallError, as_binary_csr, level_k, prune


@dataclass
class Selection:
    """Selected corpus rows (sorted indices), the stats that describe how they were chosen, and the pool."""

    indices: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)
    pool: np.ndarray | None = None


@dataclass
class TypeMatrix:
    """What an extractor returns: sample x type matrix, a name per type, and extraction info."""

    matrix: sp.csr_matrix
    names: list[str]
    info: dict[str, Any] = field(default_factory=dict)


def strategy_rng(seed: int, *parts: str | int) -> np.random.Generator:
    """A generator per (seed, strategy, level): adding a strategy or level never shifts another's."""
    words = [int(seed)] + [zlib.crc32(str(p).encode()) for p in parts]
    return np.random.default_rng(np.random.SeedSequence(words))


def replicate_parts(replicate: int) -> tuple[str, ...]:
    """The generator key parts of a replicate: none for replicate 0 (the draw of a build without replicates)."""
    if isinstance(replicate, bool) or not isinstance(replicate, (int, np.integer)) or replicate < 0:
        raise OptionsError(f"replicate={replicate!r} must be a non-negative int (0: the first draw)")
    return (f"r{replicate}",) if replicate else ()


def check_selection_args(corpus, budget: int, seed: int, level: float = 1.0) -> None:
    """The arguments of every ``select``, checked where they enter (a float seed would silently change the draw)."""
    missing = [c for c in CORPUS_COLUMNS if c not in getattr(corpus, "column_names", ())]
    if missing:
        raise OptionsError(
            f"corpus lacks the columns {missing}: pass raw data through load_corpus (or macro2micro.build_ladders, "
            "which does) to get id, source, system, instruction, response and messages"
        )
    for name, value in (("budget", budget), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (name == "budget"):
            raise OptionsError(f"{name}={value!r} must be a {'positive' if name == 'budget' else 'non-negative'} int")
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0.0 <= level <= 1.0:
        raise OptionsError(f"level={level!r} must be a number in [0, 1]")


class Strategy:
    """Base of every strategy. Subclasses set ``name`` and implement :meth:`select`."""

    name: str = ""
    granularity: str = ""
    side: str | None = None
    stochastic: bool = True  # its rows depend on a seeded draw (a build draws replicates of it)

    def get_options(self) -> dict[str, Any]:
        """The knobs that decide the selection, for the manifest."""
        return {}

    def select(self, corpus, budget: int, seed: int, level: float = 1.0, replicate: int = 0) -> Selection:
        raise NotImplementedError

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.get_options().items())
        return f"{type(self).__name__}({'side=' + repr(self.side) + ', ' if self.side else ''}{opts})"


class RandomStrategy(Strategy):
    """N rows uniformly at random (seeded): the control every strategy is measured against."""

    name = "random"
    granularity = "random"

    def select(self, corpus, budget: int, seed: int, level: float = 1.0, replicate: int = 0) -> Selection:
        check_selection_args(corpus, budget, seed, level)
        n = len(corpus)
        if budget > n:
            raise PoolTooSmallError(f"random: budget N={budget} is larger than the corpus ({n} rows)")
        rng = strategy_rng(seed, self.name, *replicate_parts(replicate))
        idx = np.sort(rng.choice(n, size=budget, replace=False))
        return Selection(
            idx,
            {
                "strategy": self.name,
                "granularity": "random",
                "side": None,
                "level": None,
                "pool_size": n,
                "budget": budget,
            },
        )


class LadderStrategy(Strategy):
    """A diversity ladder over one side's types. Subclasses implement :meth:`extract_types`."""

    side: str

    def __init__(self, side: str):
        if side not in SIDES:
            raise OptionsError(f"side={side!r}; valid: {', '.join(SIDES)}")
        self.side = side

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"{self.granularity}_{self.side}"

    def extract_types(self, corpus) -> TypeMatrix:
        raise NotImplementedError

    def fit(self, corpus, seed: int = 0) -> LadderStrategy:
        """Extract types (once per corpus) and prune them into a ladder (once per seed)."""
        fp = corpus_fingerprint(corpus)
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
            self.ladder_: Ladder = prune(self.types_, int(strategy_rng(seed, self.name, "prune").integers(2**63)))
            self.ladder_seed_ = seed
        return self

    def select(
        self,
        corpus,
        budget: int,
        seed: int,
        level: float = 1.0,
        replicate: int = 0,
        quota: int | str = 1,
        window: np.ndarray | None = None,
        ladder_name: str | None = None,
    ) -> Selection:
        """N rows of the level's pool.

        Args:
            replicate: which independent draw of the level (the type order stays the seed's).
            quota: the sampler's draws per admitted type before the uniform fill, or ``"even"``.
            window: a mask of the rows a length-controlled ladder may sample (None: all).
            ladder_name: seeds the sampler (a length-controlled twin draws apart from the plain ladder).
        """
        from macro2micro.dataset_builder.selection.lengthctl import twin_level_k, windowed
        from macro2micro.dataset_builder.selection.sampling import type_sample

        check_selection_args(corpus, budget, seed, level)
        self.fit(corpus, seed)
        name = ladder_name or self.name
        what = f"{name} ({self.side} side)"
        if window is None:
            ladder = self.ladder_
            k, k_min, k_max = level_k(ladder, budget, level, what=what)
            admitted, n_types = k, ladder.n_types
        else:  # k counts the admitted types that still have carriers inside the window
            ladder = windowed(self.ladder_, window)
            carried = self.carried_(window)
            admitted, k, k_min, k_max = twin_level_k(ladder, carried, budget, level, what=what)
            n_types = int(carried[-1])
        pool = ladder.pool(admitted)
        rng = strategy_rng(seed, name, f"{level:.6f}", *replicate_parts(replicate))
        idx, sample_stats = type_sample(self.types_, pool, budget, rng, quota)
        sample_stats["type_coverage"] = round(sample_stats["types_covered"] / k, 6) if k else 0.0  # realised / k
        stats = {
            "strategy": name,
            "granularity": self.granularity,
            "side": self.side,
            "level": level,
            "k": k,
            "k_min": k_min,
            "k_max": k_max,
            **({} if window is None else {"k_admitted": admitted}),
            "pool_size": len(pool),
            "budget": budget,
            "n_types": n_types,
            "samples_with_types": int(ladder.pool_sizes[-1]),
            **sample_stats,
            "first_admitted": [self.type_names_[t] for t in ladder.order[:10]],
            "last_admitted": [self.type_names_[t] for t in ladder.order[max(admitted - 10, 0) : admitted]],
        }
        return Selection(idx, stats, pool)

    def carried_(self, window: np.ndarray) -> np.ndarray:
        """:func:`.lengthctl.carried_counts` of the fitted ladder under ``window`` (cached per window)."""
        from macro2micro.dataset_builder.selection.lengthctl import carried_counts

        key = hashlib.sha1(np.packbits(window).tobytes()).hexdigest()
        cache = self.__dict__.setdefault("_carried", {})
        if cache.get("ladder") is not self.ladder_:
            cache.clear()
            cache["ladder"] = self.ladder_
        if key not in cache:
            cache[key] = carried_counts(self.ladder_, self.types_, window)
        return cache[key]
