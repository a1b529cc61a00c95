"""The one registry of strategy names: ``random``, the six ladders (granularity x side) and the baselines.

It is filled here, where the package's strategy modules are assembled, so no strategy module
imports another to register itself. Knobs are typed (:class:`StrategyKnobs`); each strategy takes
the option objects it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from macro2micro.dataset_builder.baselines.deita import DeitaStrategy
from macro2micro.dataset_builder.baselines.instag import InsTagStrategy
from macro2micro.dataset_builder.baselines.kcenter import KCenterStrategy
from macro2micro.dataset_builder.baselines.longest import LongestStrategy
from macro2micro.dataset_builder.baselines.options import BaselineOptions
from macro2micro.dataset_builder.defaults import RANDOM_CONFIG
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.options import (
    EmbedderOptions,
    MacroOptions,
    MesoOptions,
    MicroOptions,
    TokenizerOptions,
)
from macro2micro.dataset_builder.selection.strategies import RandomStrategy, Strategy
from macro2micro.dataset_builder.types.macro import MacroStrategy
from macro2micro.dataset_builder.types.meso import MesoStrategy
from macro2micro.dataset_builder.types.micro import MicroStrategy


@dataclass
class StrategyKnobs:
    """Every strategy's options, typed; a strategy reads the ones it needs."""

    tokenizer: TokenizerOptions = field(default_factory=TokenizerOptions)
    micro: MicroOptions = field(default_factory=MicroOptions)
    macro: MacroOptions = field(default_factory=MacroOptions)
    meso: MesoOptions = field(default_factory=MesoOptions)
    embedder: EmbedderOptions = field(default_factory=EmbedderOptions)
    baselines: BaselineOptions = field(default_factory=BaselineOptions)


def _micro(side: str) -> Callable[[StrategyKnobs], Strategy]:
    return lambda k: MicroStrategy(side, k.tokenizer.tokenizer, k.micro)


def _macro(side: str) -> Callable[[StrategyKnobs], Strategy]:
    return lambda k: MacroStrategy(side, k.macro, k.embedder)


def _meso(side: str) -> Callable[[StrategyKnobs], Strategy]:
    return lambda k: MesoStrategy(side, k.meso, k.embedder)


REGISTRY: dict[str, Callable[[StrategyKnobs], Strategy]] = {
    RANDOM_CONFIG: lambda k: RandomStrategy(),
    "micro_instruction": _micro("instruction"),
    "micro_response": _micro("response"),
    "macro_instruction": _macro("instruction"),
    "macro_response": _macro("response"),
    "meso_instruction": _meso("instruction"),
    "meso_response": _meso("response"),
    # baselines at the same N (SPEC section 8)
    "longest": lambda k: LongestStrategy(k.tokenizer.tokenizer),
    "kcenter": lambda k: KCenterStrategy(k.embedder, k.baselines),
    "deita": lambda k: DeitaStrategy(k.tokenizer.tokenizer, k.meso, k.embedder, k.baselines),
    "instag": lambda k: InsTagStrategy(k.meso, k.embedder),
}


def available_strategies() -> list[str]:
    return list(REGISTRY)


def resolve_strategies(names: list[str]) -> list[str]:
    """``["all"]`` -> every registered name; otherwise checked names, in the given order."""
    if names == ["all"]:
        return available_strategies()
    valid = available_strategies()
    for name in names:
        if name not in valid:
            raise OptionsError(f"unknown strategy {name!r}; valid: {', '.join(valid)}, or all")
    if len(set(names)) != len(names):
        raise OptionsError(f"strategies={names} names one twice")
    return list(names)


def make_strategy(name: str, knobs: StrategyKnobs | None = None) -> Strategy:
    """A registered strategy built with its options."""
    if name not in REGISTRY:
        raise OptionsError(f"unknown strategy {name!r}; valid: {', '.join(available_strategies())}")
    return REGISTRY[name](knobs or StrategyKnobs())
