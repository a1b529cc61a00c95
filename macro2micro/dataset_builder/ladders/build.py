"""Build a family of subsets: every strategy's ladder (plus ``random``), in memory, as :class:`.Subsets`.

:func:`build_ladders` returns them; :meth:`.Subsets.save` writes the layout of the Hub dataset repo that
``publish`` completes::

    OUT/{config}/train-00000-of-00001.parquet     rows of the corpus: id, source, system, instruction, response,
                                                  messages
    OUT/manifests/{config}.json                   how the subset was chosen, what else varies, a hash of it all
    OUT/build.json                                the build's options, configs, warnings, the random control

Config names are ``{granularity}_{side}_{level}`` (``micro_response_max``), with ``lengthctl`` before
the level for length-controlled ladders, and ``random``. Besides its types, every config records
what else it varies (:mod:`.variation`); a ladder whose levels repeat a pool, or whose length or
sources drift strongly, is warned about in the log and in ``build.json``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from macro2micro.dataset_builder.corpus.ingest import column, corpus_fingerprint, corpus_provenance, turns_per_row
from macro2micro.dataset_builder.defaults import RANDOM_CONFIG, SIDES
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.hub.schemas import manifest_hash
from macro2micro.dataset_builder.ladders.registry import StrategyKnobs, make_strategy, resolve_strategies
from macro2micro.dataset_builder.ladders.subsets import Subsets
from macro2micro.dataset_builder.metrics import variation
from macro2micro.dataset_builder.naming import LENGTH_CONTROLLED, config_name, level_names
from macro2micro.dataset_builder.options import BuildOptions, CorpusOptions
from macro2micro.dataset_builder.parsing import required
from macro2micro.dataset_builder.selection.lengthctl import GOAL, resolve_window, spread
from macro2micro.dataset_builder.selection.strategies import LadderStrategy, Selection
from macro2micro.dataset_builder.utils import package_versions

logger = logging.getLogger(__name__)
MAX_WINDOW_TRIES = 6  # auto windows sampled before the closest one is kept


def _config(corpus, selection: Selection, config: str, manifest: dict) -> dict:
    """The manifest of one config: how it was chosen, what else it varies, its rows' ids, a hash of it all."""
    ids = column(corpus.select(selection.indices.tolist()), "id")
    manifest = {**manifest, "config": config, **selection.stats, "selected_ids": ids}
    manifest["manifest_sha256"] = manifest_hash(manifest)
    return manifest


class _Family:
    """The state one build shares across ladders: corpus facts, lengths, sources, warnings."""

    def __init__(self, corpus, options: BuildOptions, knobs: StrategyKnobs):
        from macro2micro.dataset_builder.corpus.features import side_features

        self.corpus, self.options, self.knobs = corpus, options, knobs
        self.levels = level_names(options.levels)
        self.base: dict[str, Any] = {
            "corpus": {"fingerprint": corpus_fingerprint(corpus), "rows": len(corpus)},
            "seed": options.seed,
            "budget": options.budget,
            "versions": package_versions(),
        }
        self.lengths = {side: side_features(corpus, side, knobs.tokenizer.tokenizer).lengths() for side in SIDES}
        self.codes, self.source_names = variation.source_codes(column(corpus, "source"))
        self.turns = turns_per_row(corpus)  # assistant turns per row: along a ladder of dialogues, they can drift
        self.manifests: list[dict] = []
        self.rows: dict[str, np.ndarray] = {}
        self.warnings: dict[str, list[str]] = {}
        self.reachable: dict[str, np.ndarray] = {}
        self.length_control: dict[str, dict] = {}
        self.plain_k: dict[str, list[int]] = {}
        self.single_draw: list[str] = []  # strategies whose rows do not depend on a draw: no replicates

    def _add(self, selection: Selection, config: str, manifest: dict, replicate: int = 0) -> dict:
        if replicate:  # replicate 0's manifest is the one a build without replicates writes, byte for byte
            manifest = {**manifest, "replicate": replicate, "replicate_of": config}
            config = config_name(config, None, replicate)
        self.rows[config] = selection.indices
        return _config(self.corpus, selection, config, manifest)

    def _sample(self, strategy: LadderStrategy, name: str, mask: np.ndarray | None, replicate: int = 0) -> list:
        """Every level's selection, with its sampler length ratio against the pool's mean and the 95 % range of a
        uniform draw's: ``[(level_name, selection, (ratio, range))]``."""
        from tqdm.auto import tqdm

        opts, lengths = self.options, self.lengths[strategy.side]
        out = []
        desc = config_name(name, None, replicate)
        for i, level_name in enumerate(tqdm(self.levels, desc=desc, unit="level", leave=False)):
            level = i / (opts.levels - 1)
            sel = strategy.select(
                self.corpus,
                opts.budget,
                opts.seed,
                level=level,
                quota=opts.type_quota,
                window=mask,
                ladder_name=name,
                replicate=replicate,
            )
            assert sel.pool is not None  # a ladder's selection names its level's pool
            out.append((level_name, sel, variation.sampler_ratio(lengths, sel.indices, sel.pool)))
        return out

    def _replicates(self, strategy: LadderStrategy, name: str, meta: dict, mask=None) -> None:
        """Replicates 1..R-1 of a ladder: the same levels (k and pools), drawn again."""
        for r in range(1, self.options.replicates):
            self._write(strategy, name, meta, self._sample(strategy, name, mask, r), mask, replicate=r)

    def _write(
        self, strategy: LadderStrategy, name: str, meta: dict, levels: list, mask=None, replicate: int = 0
    ) -> list[dict]:
        made, previous = [], None
        side = strategy.side
        for level_name, sel, (ratio, uniform_range) in levels:
            same: bool | None = None if previous is None else previous.stats["k"] == sel.stats["k"]
            varies = variation.describe(
                sel.indices,
                self.lengths,
                self.codes,
                self.source_names,
                ratio,
                None if previous is None else previous.indices,
                same,
                self.turns,
                uniform_range,
            )
            config = config_name(name, level_name)
            made.append(self._add(sel, config, {**meta, "level_name": level_name, "varies": varies}, replicate))
            logger.info(
                "%s: k=%d of %d types (%d present in its rows), pool %d, mean %s length %.1f (x%.2f the pool's "
                "mean; a uniform draw: x%.2f-%.2f), %.2f turns per row",
                made[-1]["config"],
                sel.stats["k"],
                sel.stats["k_max"],
                sel.stats["types_covered"],
                sel.stats["pool_size"],
                side,
                varies["length"][side]["mean"],
                ratio,
                *uniform_range,
                varies["turns"]["mean"],
            )
            previous = sel
        self.manifests += made
        if replicate:  # the warnings and the random control's figures are replicate 0's, as without replicates
            return made
        typed = strategy.ladder_.entry_k > 0
        self.reachable[name] = typed if mask is None else typed & mask
        warnings = variation.ladder_warnings(
            name,
            made,
            self.options.levels,
            controlled_side=side if mask is not None else None,
            length_window=bool(self.options.length_window),
        )
        for text in warnings:
            logger.warning(text)
        if warnings:
            self.warnings[name] = warnings
        return made

    def length_controlled(self, strategy: LadderStrategy, name: str, meta: dict) -> None:
        """The length-controlled twin: each candidate window sampled in turn until one keeps the realised type
        count rising and meets the ±5 % goal; else the closest (a rising count first)."""
        twin, side = f"{name}_{LENGTH_CONTROLLED}", strategy.side
        windows = resolve_window(
            required(self.options.length_window, "length_window"),
            self.lengths[side],
            strategy.ladder_,
            self.options.budget,
            self.options.levels,
            what=twin,
            matrix=strategy.types_,
        )
        best: tuple | None = None
        for tries, window in enumerate(windows[:MAX_WINDOW_TRIES], start=1):
            levels = self._sample(strategy, twin, window.mask(self.lengths[side]))
            means = np.array([self.lengths[side][sel.indices].mean() for _, sel, _ in levels])
            realised = [sel.stats["types_covered"] for _, sel, _ in levels]
            rises = all(b > a for a, b in zip(realised, realised[1:], strict=False))
            key = (not rises, spread(means) > GOAL, spread(means))
            if best is None or key < best[0]:
                best = (key, window, levels, means, realised, tries)
            if key[:2] == (False, False):
                break
        assert best is not None  # resolve_window returns at least one window or raises
        _, window, levels, means, realised, tries = best
        ks = [sel.stats["k"] for _, sel, _ in levels]
        info = {
            "window": [window.lo, window.hi],
            **window.info,
            "level_means": [round(float(x), 2) for x in means],
            "spread": round(spread(means), 4),
            "met": spread(means) <= GOAL,
            "windows_tried": tries,
            "k_range": [ks[0], ks[-1]],
            "realised": realised,
            "realised_rises": all(b > a for a, b in zip(realised, realised[1:], strict=False)),
        }
        self.length_control[twin] = info
        logger.info("%s: length window %d:%d (%s)", twin, window.lo, window.hi, info)
        mask = window.mask(self.lengths[side])
        made = self._write(strategy, twin, {**meta, "length_control": info}, levels, mask)
        self._replicates(strategy, twin, {**meta, "length_control": info}, mask)
        notes = variation.length_control_warnings(twin, side, made, info, self.plain_k.get(name))
        for text in notes:
            logger.warning(text)
        if notes:
            self.warnings.setdefault(twin, []).extend(notes)

    def strategy(self, name: str) -> None:
        strategy = make_strategy(name, self.knobs)
        meta = {**self.base, "options": strategy.get_options()}
        if not isinstance(strategy, LadderStrategy):  # random and the baselines: one config, named as the strategy
            opts = self.options
            for r in range(opts.replicates if strategy.stochastic else 1):
                sel = strategy.select(self.corpus, opts.budget, opts.seed, replicate=r)
                ratio, uniform_range = None, None
                if name != RANDOM_CONFIG:  # a baseline's pool is the corpus: its length against the corpus's
                    everything = np.arange(len(self.corpus))
                    side = strategy.side or "response"
                    ratio, uniform_range = variation.sampler_ratio(self.lengths[side], sel.indices, everything)
                varies = variation.describe(
                    sel.indices,
                    self.lengths,
                    self.codes,
                    self.source_names,
                    ratio,
                    turns=self.turns,
                    uniform_range=uniform_range,
                )
                self.manifests.append(self._add(sel, name, {**meta, "varies": varies}, r))
                if name == RANDOM_CONFIG and r == 0:
                    self.random_rows = sel.indices
            if opts.replicates > 1 and not strategy.stochastic:
                self.single_draw.append(name)
            return
        strategy.fit(self.corpus, self.options.seed)
        meta["type_info"] = strategy.type_info_
        made = self._write(strategy, name, meta, self._sample(strategy, name, None))
        self._replicates(strategy, name, meta)
        self.plain_k[name] = [made[0]["k"], made[-1]["k"]]
        if self.options.length_window and (
            not self.options.length_controlled or name in self.options.length_controlled
        ):
            self.length_controlled(strategy, name, meta)


def build_ladders(
    corpus, options: BuildOptions, knobs: StrategyKnobs, read_with: CorpusOptions | None = None
) -> Subsets:
    """Build every configured ladder and the random control, in memory.

    Args:
        corpus: the cleaned corpus (:func:`~macro2micro.dataset_builder.corpus.ingest.load_corpus`).
        options: strategies, budget, levels, seed, sampler, length control.
        knobs: the strategies' own settings (tokenizer, bands, embedder, tagger).
        read_with: how the corpus was read (its ``corpus`` field: the paths or Hub id), recorded in
            ``build.json`` so that later stages find and read it the same way; None for an in-memory corpus.

    Returns:
        The :class:`.Subsets`: one Dataset per config (rows of ``corpus``), manifests and the build's record.
    """
    strategies = resolve_strategies(options.strategies)
    unknown = sorted(set(options.length_controlled) - set(strategies) - {RANDOM_CONFIG})
    if unknown or RANDOM_CONFIG in options.length_controlled:
        raise OptionsError(
            f"length_controlled names {unknown or [RANDOM_CONFIG]}, not a ladder being built "
            f"({', '.join(s for s in strategies if s != RANDOM_CONFIG)})"
        )
    family = _Family(corpus, options, knobs)
    timings: dict[str, float] = {}
    for name in strategies:
        start = time.perf_counter()
        family.strategy(name)
        timings[name] = round(time.perf_counter() - start, 3)
    info = {
        "options": {**asdict(options), "strategies": strategies},
        "knobs": asdict(knobs),
        "corpus": {
            **family.base["corpus"],
            "location": None if read_with is None else read_with.corpus,
            "read_with": None if read_with is None else asdict(read_with),
            # how the corpus stage made its rows (the ingest's options and max_rows sample), when it is known
            **corpus_provenance(corpus),
        },
        "configs": [m["config"] for m in family.manifests],
        "level_names": family.levels,
        "seconds": timings,
        "warnings": family.warnings,
        "length_control": family.length_control,
    }
    if options.replicates > 1:
        info["replicates"] = {
            "draws": options.replicates,
            "not_replicated": family.single_draw,  # a seed only breaks their ties: one draw, not R equal ones
        }
    if hasattr(family, "random_rows"):
        info["random_control"] = variation.random_control(family.random_rows, len(corpus), family.reachable)
    configs = {m["config"]: corpus.select(family.rows[m["config"]].tolist()) for m in family.manifests}
    return Subsets(configs, {m["config"]: m for m in family.manifests}, info, corpus)


def write_family(
    corpus, options: BuildOptions, knobs: StrategyKnobs, folder: str | Path, read_with: CorpusOptions | None = None
) -> list[dict]:
    """:func:`build_ladders`, saved into the (empty) ``folder``. Returns the manifests, in build order."""
    subsets = build_ladders(corpus, options, knobs, read_with)
    subsets.write(folder)
    return list(subsets.manifests.values())


def build_family(
    corpus, options: BuildOptions, knobs: StrategyKnobs, out_dir: str | Path, overwrite: bool = False
) -> list[dict]:
    """:func:`write_family` into ``out_dir`` under the output contract (:class:`.outputs.OutputFolder`):
    written atomically, a failing build leaves an earlier one untouched."""
    from macro2micro.dataset_builder.outputs import OutputFolder

    with OutputFolder(out_dir, "build", overwrite=overwrite) as tmp:
        return write_family(corpus, options, knobs, tmp)
