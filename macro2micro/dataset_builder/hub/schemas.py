"""One declared schema per kind of file a stage writes and a later stage reads back (checked by :mod:`.checks`;
the files of training and evaluation are :mod:`.run_schemas`').

``build.json``, ``manifests/{config}.json``, ``metrics/diversity.json``, ``evaluation/results.json``,
the adapter records of a dataset repo (``adapters/{config}.json``), a run's ``train_results.json``,
PEFT's ``adapter_config.json`` (the one field we read) and the dataset card's front matter are
pydantic models here. Writers validate what they write with them (:func:`.checks.write_json`); readers
(:mod:`.artifacts`) parse through them, so a tampered file fails in one line that names the file and
the field: a wrong type, a non-finite number, a name that could become a path, a duplicate, a count
that disagrees with the rows it counts, a data file outside its config's folder.

The models are strict (no ``"5"`` for 5, no ``true`` for 1) and allow fields they do not declare
(what no later stage reads), but every number anywhere in a file must be finite.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.naming import check_name, check_repo_id
from macro2micro.dataset_builder.utils import stable_json

MAX_ROWS = 10**12  # any count of rows or types: far above any corpus, far below 10**400
MAX_TEXT = 1_000_000  # characters of one free-text field (an answer, a note)


def short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters (a 10 MB name must not become a 10 MB message)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _name(value: str) -> str:
    try:
        return check_name(value, "")
    except OptionsError:
        raise ValueError(
            f"{short(value)} is not a safe name (lower-case letters, digits and inner underscores, at most 96 "
            "characters, e.g. micro_response_max)"
        ) from None


def _repo_id(value: str) -> str:
    try:
        return check_repo_id(value, "")
    except OptionsError:
        raise ValueError(f"{short(value)} is not a Hub repo id (org/name)") from None


def _unique(values: list) -> list:
    seen = set()
    for v in values:
        key = json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v
        if key in seen:
            raise ValueError(f"{short(v)} appears more than once")
        seen.add(key)
    return values


def _span(pair: list) -> list:
    if pair[0] > pair[1]:
        raise ValueError(f"{pair}: the lower end is above the upper end")
    return pair


Name = Annotated[str, AfterValidator(_name)]
RepoId = Annotated[str, AfterValidator(_repo_id)]
Count = Annotated[int, Field(ge=0, le=MAX_ROWS)]
Share = Annotated[float, Field(ge=0, le=1)]
Length = Annotated[float, Field(ge=0)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Line = Annotated[str, Field(max_length=10_000)]
Side = Literal["instruction", "response"]
Span = Annotated[list[float], Field(min_length=2, max_length=2), AfterValidator(_span)]
IntSpan = Annotated[list[Count], Field(min_length=2, max_length=2), AfterValidator(_span)]
Fingerprint = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]


class Record(BaseModel):
    """Strict, finite, and open to fields no later stage reads."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="allow")


class CorpusRef(Record):
    fingerprint: Fingerprint
    rows: Count
    location: Annotated[str, Field(max_length=10_000)] | list[Annotated[str, Field(max_length=10_000)]] | None = None
    read_with: dict[str, Any] | None = None  # how it was read (the corpus options)


class LengthControl(Record):
    window: IntSpan
    mode: Literal["auto", "fixed"]
    quantiles: Span | None = None
    level_means: list[Length]
    spread: Length
    met: bool
    windows_tried: Annotated[int, Field(ge=1, le=1000)] = 1
    k_range: IntSpan | None = None
    whole_range: bool = False
    realised: list[Count] | None = None
    realised_rises: bool | None = None


class RandomControl(Record):
    population: Line
    corpus_rows: Count
    outside_ladder: dict[Name, Share] = {}
    outside_every_ladder: Share | None = None


class BuildRecord(Record):
    budget: Annotated[int, Field(ge=1, le=MAX_ROWS)]
    seed: Annotated[int, Field(ge=0, lt=2**64)]
    levels: Annotated[int, Field(ge=2, le=101)]
    type_quota: Name | Count = "1"
    strategies: Annotated[list[Name], AfterValidator(_unique)]


class ReplicatesInfo(Record):
    """``build.json``'s ``replicates``: the draws per level, and the strategies drawn once (their seed only breaks
    ties)."""

    draws: Annotated[int, Field(ge=2, le=100)]
    not_replicated: list[Name] = []


class BuildInfo(Record):
    """``build.json``: the build's options, configs in build order, warnings, length windows, the random control."""

    options: BuildRecord
    knobs: dict[str, Any] = {}
    corpus: CorpusRef
    configs: Annotated[list[Name], Field(min_length=1), AfterValidator(_unique)]
    level_names: Annotated[list[Name], Field(min_length=2), AfterValidator(_unique)]
    seconds: dict[Name, Annotated[float, Field(ge=0)]] = {}
    warnings: dict[Name, list[Line]] = {}
    length_control: dict[Name, LengthControl] = {}
    random_control: RandomControl | None = None
    replicates: ReplicatesInfo | None = None

    @model_validator(mode="after")
    def _levels(self):
        if len(self.level_names) != self.options.levels:
            raise ValueError(f"{len(self.level_names)} level_names for options.levels={self.options.levels}")
        return self


class SideLength(Record):
    mean: Length
    median: Length


class Varies(Record):
    length: dict[Side, SideLength]
    sources: dict[Annotated[str, Field(max_length=1000)], Share]
    length_ratio_vs_uniform: Annotated[float, Field(gt=0)] | None = None
    uniform_ratio_range95: Span | None = None
    overlap_with_previous: Share | None = None
    same_pool_as_previous: bool | None = None


class Manifest(Record):
    """``manifests/{config}.json``: how one subset was chosen, and its rows."""

    config: Name
    strategy: Name
    granularity: Name
    side: Side | None = None
    level: Share | None = None
    level_name: Name | None = None
    budget: Annotated[int, Field(ge=1, le=MAX_ROWS)]
    pool_size: Count
    k: Count | None = None
    k_min: Count | None = None
    k_max: Count | None = None
    n_types: Count | None = None
    types_covered: Count | None = None
    type_coverage: Share | None = None
    n_balanced: Count | None = None
    n_filled: Count | None = None
    corpus: CorpusRef
    seed: Annotated[int, Field(ge=0, lt=2**64)]
    options: dict[str, Any] = {}
    varies: Varies
    length_control: LengthControl | None = None
    replicate: Annotated[int, Field(ge=1, le=99)] | None = None  # a further draw of ``replicate_of``
    replicate_of: Name | None = None
    summary: Line | None = None  # a baseline's rule, its paper, and how this implementation departs from it
    reference: Line | None = None
    differs_from_original: Line | None = None
    selected_ids: Annotated[list[Annotated[str, Field(max_length=10_000)]], AfterValidator(_unique)]
    manifest_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]

    @model_validator(mode="after")
    def _counts(self):
        if len(self.selected_ids) != self.budget:
            raise ValueError(f"{len(self.selected_ids)} selected_ids for budget N={self.budget}")
        if self.pool_size < self.budget:
            raise ValueError(f"pool_size {self.pool_size} is below budget N={self.budget}")
        drawn = None if self.n_balanced is None or self.n_filled is None else self.n_balanced + self.n_filled
        if drawn is not None and drawn != self.budget:
            raise ValueError(f"n_balanced + n_filled = {drawn}, not budget N={self.budget}")
        if self.k is not None and self.types_covered is not None and self.types_covered > self.k:
            raise ValueError(f"types_covered {self.types_covered} exceeds k={self.k}")
        return self


def manifest_hash(manifest: dict) -> str:
    """sha256 of a manifest's content (everything but the hash itself): the identity of a subset."""
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(stable_json(body).encode()).hexdigest()


Metric = Annotated[float, Field(ge=0)] | None


LangCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]


class Languages(Record):
    """``full``'s languages: given by the publisher, or detected over a seeded sample of rows."""

    languages: list[LangCode]
    given: list[LangCode] | None = None
    detector: Annotated[str, Field(max_length=200)] | None = None
    sample: Count | None = None
    threshold: Share | None = None
    shares: dict[LangCode, Share] = {}


class Spread(Record):
    """One metric over a config's replicates."""

    n: Count
    mean: float | None = None
    sd: Annotated[float, Field(ge=0)] | None = None
    min: float | None = None
    max: float | None = None


class ReplicateSpread(Record):
    """Replicate 0's ``replicates``: its draws, and each metric's spread across them per side."""

    configs: Annotated[list[Name], Field(min_length=2), AfterValidator(_unique)]
    instruction: dict[Name, Spread]
    response: dict[Name, Spread]


class EmbedderRef(Record):
    """The model the embedding distances were computed with: its identity as a manifest records it."""

    spec: Annotated[str, Field(min_length=1, max_length=1000)]
    name: Annotated[str, Field(min_length=1, max_length=1000)]
    revision: Annotated[str, Field(max_length=200)] | None = None
    files_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{8,64}$")] | None = None
    max_seq_length: Count | None = None
    dimension: Count | None = None


class ConfigMetrics(Record):
    instruction: dict[Name, Metric]
    response: dict[Name, Metric]
    rows: Annotated[int, Field(ge=1, le=MAX_ROWS)]
    k: Count | None = None
    types_covered: Count | None = None
    pool_size: Count | None = None
    type_coverage: Share | None = None
    strategy: Name | None = None
    level: Share | None = None
    varies: Varies | None = None
    embedding_distance_sample: Count | None = None
    embedder: EmbedderRef | None = None  # None: no embedding distance (embedder none), or an older file
    languages: Languages | None = None
    replicates: ReplicateSpread | None = None


# ``metrics/diversity.json``: ``{config: metrics}``, ``full`` first.
MetricsFile = TypeAdapter(dict[Name, ConfigMetrics])


class CardMetrics(Record):
    """A config's entry under the card's ``diversity_metrics`` (a subset of :class:`ConfigMetrics`)."""

    instruction: dict[Name, Metric] = {}
    response: dict[Name, Metric] = {}
    k: Count | None = None
    types_covered: Count | None = None
    pool_size: Count | None = None
    type_coverage: Share | None = None


def _relative_inside(path: str) -> str:
    parts = PurePosixPath(path).parts
    if not path or path.startswith(("/", "~", "\\")) or "://" in path or ":" in parts[0] or ".." in parts:
        raise ValueError(f"{short(path)} is not a path inside the repo folder")
    return path


class DataFile(Record):
    split: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    path: Annotated[str, Field(max_length=1000), AfterValidator(_relative_inside)]


class CardConfig(Record):
    config_name: Name
    data_files: Annotated[str, Field(max_length=1000), AfterValidator(_relative_inside)] | list[DataFile]
    default: bool = False

    @model_validator(mode="after")
    def _inside_own_folder(self):
        paths = [self.data_files] if isinstance(self.data_files, str) else [f.path for f in self.data_files]
        for path in paths:
            if PurePosixPath(path).parts[0] != self.config_name:
                raise ValueError(f"data file {short(path)} lies outside the config's folder {self.config_name}/")
        return self


def _unique_configs(configs: list) -> list:
    _unique([c.config_name for c in configs])
    return configs


class CardData(Record):
    """The dataset card's front matter, as far as macro2micro reads it."""

    configs: Annotated[list[CardConfig], AfterValidator(_unique_configs)] = []
    diversity_metrics: dict[Name, CardMetrics] = {}
    macro2micro_repo_id: RepoId | None = None
    license: Annotated[str, Field(max_length=200)] | list[Annotated[str, Field(max_length=200)]] | None = None
    macro2micro_source_note: Text | None = None
