"""The schemas of what training and evaluation write and later stages read back (see :mod:`.schemas`).

A run's ``train_results.json``, PEFT's ``adapter_config.json`` (the one field read), an adapter
card's ``macro2micro`` metadata, the adapter records of a dataset repo (``adapters/{config}.json``)
and the evaluation's ``results.json``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from macro2micro.dataset_builder.hub.schemas import (
    MAX_ROWS,
    CardMetrics,
    Count,
    Line,
    Name,
    Record,
    RepoId,
    Share,
    Side,
    Span,
    Text,
    _unique,
    short,
)


class AdapterRecord(Record):
    """``adapters/{config}.json`` of a dataset repo: the adapter pushed for a config."""

    repo_id: RepoId
    revision: Annotated[str, Field(pattern=r"^[0-9A-Za-z._/-]{1,200}$")] | None = None
    base_model: Annotated[str, Field(min_length=1, max_length=1000)] | None = None


class HubRef(Record):
    repo_id: RepoId
    revision: Annotated[str, Field(pattern=r"^[0-9A-Za-z._/-]{1,200}$")] | None = None


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class TrainedFrom(Record):
    """What an adapter was trained from: a rerun of ``macro2micro train`` skips it only when all of it matches."""

    recipe: Annotated[str, Field(min_length=1, max_length=1000)]
    recipe_sha256: Sha256
    overrides: dict[Annotated[str, Field(min_length=1, max_length=200)], Any] = {}  # resolved values, by key
    dataset: Annotated[str, Field(min_length=1, max_length=10_000)]
    config: Name
    manifest_sha256: Sha256 | None = None  # None: the config has no manifest (``full``, a foreign repo)
    data_sha256: Sha256


class TrainResults(Record):
    """A run's ``train_results.json`` (written by :func:`macro2micro.training.sft.main`); ``trained_from`` is
    recorded by ``macro2micro train`` (absent in older records and in runs of the script itself)."""

    config: Name
    base_model: Annotated[str, Field(min_length=1, max_length=1000)]
    rows: Annotated[int, Field(ge=1, le=MAX_ROWS)]
    steps: Count
    train_loss: float | None = None  # None: not finite (the training diverged)
    hub: HubRef | None = None
    trained_from: TrainedFrom | None = None


class CardScore(Record):
    win_rate: Annotated[float, Field(ge=0, le=100)]
    ci95: Annotated[list[Annotated[float, Field(ge=0, le=100)]], Field(min_length=2, max_length=2)]
    prompts_scored: Count


class AdapterCard(Record):
    """An adapter card's ``macro2micro`` metadata: everything its body shows, re-rendered when scores arrive."""

    config: Name
    base_model: Annotated[str, Field(min_length=1, max_length=1000)]
    dataset_repo: RepoId | None = None
    repo_id: RepoId | None = None
    rows: Count
    steps: Count
    epochs: Annotated[float, Field(ge=0)]
    train_loss: float | None = None  # None: not finite (the training diverged)
    train_seconds: Annotated[float, Field(ge=0)]
    metrics: CardMetrics | None = None
    hyperparameters: dict[Name, Any] = {}
    scores: dict[Name, CardScore] = {}


class AdapterConfig(Record):
    """PEFT's ``adapter_config.json``: the one field macro2micro reads."""

    base_model_name_or_path: Annotated[str, Field(min_length=1, max_length=1000)]


class Score(Record):
    win_rate: Annotated[float, Field(ge=0, le=100)]
    ci95: Annotated[list[Annotated[float, Field(ge=0, le=100)]], Field(min_length=2, max_length=2)]
    prompts_scored: Count
    prompts_total: Count
    unparseable: Count = 0


Verdict = Literal["A", "B", "tie"] | None


class Verdicts(Record):
    model_first: list[Verdict]
    baseline_first: list[Verdict]
    per_prompt: list[Annotated[float, Field(ge=0, le=1)] | None]


class Fit(Record):
    n: Annotated[int, Field(ge=2)]
    slope: float
    intercept: float
    r: Annotated[float, Field(ge=-1, le=1)] | None = None
    slope_ci95: Span
    p: Share | None = None
    slope_ci95_bootstrap: Span | None = None  # resampling ``noise_sources`` (training/noise.py)
    noise_sources: list[Literal["prompts", "replicates", "residuals"]] = []
    within_noise: bool | None = None
    replicates_per_level: list[Count] = []


class LevelSpread(Record):
    """A ladder level's scores across its replicates."""

    level: Share
    n: Annotated[int, Field(ge=1)]
    mean: float
    sd: Annotated[float, Field(ge=0)] | None = None
    min: float
    max: float


class AnalysisGaps(Record):
    """Why a fit or a Pearson r is missing, in words."""

    fits: dict[Name, Line] = {}
    correlations: dict[Side, dict[Name, Line]] = {}


class PromptRow(Record):
    id: Annotated[str, Field(min_length=1, max_length=200)]
    instruction: Text


class Results(Record):
    """``results.json`` of ``macro2micro evaluate``: scores, answers and verdicts per prompt, fits."""

    dataset: Annotated[str, Field(max_length=10_000)] = ""
    baseline: Name
    prompt_rows: Annotated[list[PromptRow], Field(min_length=1)]
    scores: dict[Name, Score] = {}
    answers: dict[Name, list[Text]]
    verdicts: dict[Name, Verdicts] = {}
    fits: dict[Name, Fit] = {}
    correlations: dict[Side, dict[Name, Annotated[float, Field(ge=-1, le=1)] | None]] = {}
    analysis_notes: list[Line] = []
    analysis_gaps: AnalysisGaps | None = None
    level_spreads: dict[Name, list[LevelSpread]] = {}
    note: Text = ""
    adapters: dict[Name, HubRef | dict[str, None]] = {}

    @model_validator(mode="after")
    def _shapes(self):
        _unique([r.id for r in self.prompt_rows])
        n = len(self.prompt_rows)
        if self.baseline not in self.answers:
            raise ValueError(f"the baseline {self.baseline!r} has no answers")
        for model, answers in self.answers.items():
            if len(answers) != n:
                raise ValueError(f"answers of {model!r}: {len(answers)} for {n} prompt_rows")
        for model, v in self.verdicts.items():
            if not len(v.model_first) == len(v.baseline_first) == len(v.per_prompt) == n:
                raise ValueError(f"verdicts of {model!r}: not one per prompt ({n})")
        unknown = [m for m in {*self.scores, *self.verdicts} if m not in self.answers]
        if unknown:
            raise ValueError(f"{short(sorted(unknown))} are scored but have no answers")
        return self
