"""Typed options of the dataset stages: one dataclass per concern, each field with help text.

The public API takes these (or their fields as keywords); the console script parses them with
transformers' ``HfArgumentParser`` plus a YAML ``--config`` (``cli/commands/base.py``: unknown keys
refused, ``--help`` shows every default). Every option is validated in ``__post_init__``, so a bad
value fails when it is parsed, before any corpus is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from macro2micro.dataset_builder.defaults import (
    DEFAULT_CORPUS,
    DEFAULT_EMBEDDER,
    DEFAULT_MODEL,
    LEVELS,
    MID_BAND_HIGH,
    MID_BAND_LOW,
    PRECISIONS,
)
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.parsing import (  # noqa: F401  (re-exported: importers use options)
    AUTO,
    EVEN,
    parse_languages,
    parse_quota,
    parse_window,
    split_list,
)

FORMATS = ("auto", "alpaca", "sharegpt", "messages", "prompt_completion", "columns")
COLUMN_ROLES = ("instruction", "response", "input", "system", "id", "source")
MULTI_TURN = ("first", "drop", "all")


def _help(text: str, **extra) -> dict:
    return {"help": text, **extra}


@dataclass
class CorpusOptions:
    """Where the SFT corpus comes from and how it is read and cleaned (METHOD section 5)."""

    corpus: list[str] = field(
        default_factory=lambda: [DEFAULT_CORPUS],
        metadata=_help(
            "corpus inputs: files (jsonl/json/parquet/csv; jsonl/json/csv also as .gz, .bz2, .zst), folders of them, "
            f"a folder written by `macro2micro ingest`, a saved datasets folder, a Hub dataset id, or {DEFAULT_CORPUS}"
        ),
    )
    format: Literal["auto", "alpaca", "sharegpt", "messages", "prompt_completion", "columns"] = field(
        default="auto", metadata=_help("record format; auto recognizes it from each file's first record")
    )
    columns: str | None = field(
        default=None,
        metadata=_help(
            "with --format columns: ROLE=COLUMN pairs, e.g. "
            "instruction=question,response=answer[,input=ctx,system=sys,id=qid,source=src]"
        ),
    )
    multi_turn: Literal["first", "drop", "all"] = field(
        default="first",
        metadata=_help(
            "conversations of several turns: first keeps the first user turn and its reply (the paper's setting; "
            "a user turn followed by another user turn is dropped as consecutive_user_turns), "
            "drop drops such rows, all keeps every turn (the instruction side is then the user turns and the "
            "response side the assistant turns, each joined in order with a blank line)"
        ),
    )
    system: Literal["keep", "drop"] = field(
        default="keep", metadata=_help("system prompts: keep (first in `messages`, and the `system` column) or drop")
    )
    system_side: Literal["none", "instruction"] = field(
        default="none",
        metadata=_help(
            "the side a kept system prompt belongs to: none (types, metrics and lengths ignore it) or instruction "
            "(it opens the instruction side)"
        ),
    )
    on_error: Literal["raise", "skip"] = field(
        default="raise",
        metadata=_help("stop at the first bad row with an error naming it, or skip bad rows and count them"),
    )
    max_instruction_chars: int | None = field(default=None, metadata=_help("drop rows with longer instructions"))
    max_response_chars: int | None = field(default=None, metadata=_help("drop rows with longer responses"))
    ids: Literal["given", "content"] = field(
        default="given",
        metadata=_help(
            "row ids: given (a record's own id, unique within its input; an id an earlier input used is prefixed "
            "with its input's name) or content (every row's content hash, records' ids ignored)"
        ),
    )
    dedup: bool = field(
        default=True,
        metadata=_help(
            "exact duplicates (the same messages, system prompt included): --dedup drops them (the default), "
            "--no_dedup keeps them"
        ),
    )
    split: str = field(default="train", metadata=_help("split to read from a saved DatasetDict or a Hub dataset"))
    source: str | None = field(
        default=None, metadata=_help("`source` of rows that carry none (unset: the file's name without suffix)")
    )
    max_rows: int = field(default=0, metadata=_help("keep a seeded uniform sample of N cleaned rows (0: every row)"))
    sample_seed: int = field(default=0, metadata=_help("seeds the --max_rows sample"))

    def __post_init__(self) -> None:
        self.corpus = [str(c) for c in self.corpus]
        if not self.corpus:
            raise OptionsError("corpus: give at least one input")
        if self.format not in FORMATS:
            raise OptionsError(f"format={self.format!r} is not a known format; valid: {', '.join(FORMATS)}")
        choices = {"multi_turn": MULTI_TURN, "system": ("keep", "drop"), "system_side": ("none", "instruction")}
        for name, valid in {**choices, "on_error": ("raise", "skip")}.items():
            if getattr(self, name) not in valid:
                raise OptionsError(f"{name}={getattr(self, name)!r}; valid: {', '.join(valid)}")
        if self.system == "drop" and self.system_side != "none":
            raise OptionsError("system_side=instruction needs the system prompts kept (system=keep)")
        if self.max_rows < 0:
            raise OptionsError(f"max_rows={self.max_rows} must be 0 (every row) or a positive number of rows")
        mapping = self.column_map
        if self.format == "columns":
            missing = {"instruction", "response"} - set(mapping)
            if missing:
                raise OptionsError(
                    f"format='columns' needs columns for {sorted(missing)}, e.g. "
                    "--columns instruction=question,response=answer"
                )
        elif mapping:
            raise OptionsError("columns= is only used with format='columns'")
        for name in ("max_instruction_chars", "max_response_chars"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise OptionsError(f"{name}={value} must be a positive number of characters")

    @property
    def column_map(self) -> dict[str, str]:
        """``columns`` as ``{role: column}`` (validated)."""
        if not self.columns:
            return {}
        if isinstance(self.columns, dict):
            pairs = list(self.columns.items())
        else:
            pairs = []
            for part in str(self.columns).split(","):
                role, sep, column = part.partition("=")
                if not sep or not role.strip() or not column.strip():
                    raise OptionsError(f"columns={self.columns!r}: expected ROLE=COLUMN[,ROLE=COLUMN...]")
                pairs.append((role.strip(), column.strip()))
        unknown = sorted({role for role, _ in pairs} - set(COLUMN_ROLES))
        if unknown:
            raise OptionsError(f"columns: unknown role(s) {unknown}; valid: {', '.join(COLUMN_ROLES)}")
        return dict(pairs)


@dataclass
class OutputOptions:
    """The folder a command writes."""

    out: str | None = field(default=None, metadata=_help("output folder (written atomically; required)"))
    overwrite: bool = field(
        default=False,
        metadata=_help(
            "replace an existing folder that macro2micro did not write (its own earlier output is always replaced)"
        ),
    )

    def __post_init__(self) -> None:
        if not self.out:
            raise OptionsError("out: give the output folder (--out)")


@dataclass
class BuildOptions:
    """What to build: which ladders, of how many rows, at how many levels (METHOD section 2)."""

    strategies: list[str] = field(
        default_factory=lambda: ["micro_response", "random"],
        metadata=_help("strategy names (space- or comma-separated), or all (the ladders, random and the baselines)"),
    )
    budget: int = field(default=1000, metadata=_help("N, the rows of every subset"))
    levels: int = field(default=LEVELS, metadata=_help("diversity levels per ladder (>= 2), evenly spaced"))
    seed: int = field(default=0, metadata=_help("seeds pruning ties, sampling and the random control"))
    type_quota: str = field(
        default="1",
        metadata=_help(
            "the sampler: draws per admitted type (least covered first) before a uniform fill; 'even' spreads all N "
            "rows over the types (longer texts: a type-balanced draw is size-biased)"
        ),
    )
    length_window: str | None = field(
        default=None,
        metadata=_help(
            "also build length-controlled ladders ({strategy}_lengthctl_{level}): sample only rows whose length "
            "on the strategy's side lies in LO:HI model tokens, or 'auto' (the widest window around the median "
            "that keeps the levels' mean lengths within 5 %%)"
        ),
    )
    length_controlled: list[str] = field(
        default_factory=list,
        metadata=_help("the ladders that get a length-controlled twin (empty: every ladder built)"),
    )
    replicates: int = field(
        default=1,
        metadata=_help("draws of every level (same type order), of random and of kcenter: {config}, {config}_r1, ..."),
    )

    def __post_init__(self) -> None:
        from macro2micro.dataset_builder.naming import check_replicates, level_names

        self.strategies = split_list(self.strategies)
        if not self.strategies:
            raise OptionsError("strategies: name at least one strategy, or all")
        self.type_quota = str(parse_quota(self.type_quota))
        self.length_controlled = split_list(self.length_controlled)
        if self.length_window is not None:
            parse_window(self.length_window)
        elif self.length_controlled:
            raise OptionsError("length_controlled needs --length_window (auto or LO:HI)")
        if self.budget < 1:
            raise OptionsError(f"budget={self.budget} must be a positive number of rows")
        level_names(self.levels)  # validates
        check_replicates(self.replicates)


@dataclass
class TokenizerOptions:
    """The model whose tokenizer defines micro types and counts lengths and token entropy."""

    tokenizer: str = field(
        default=DEFAULT_MODEL,
        metadata=_help(
            "model (local path or Hub id) whose tokenizer is used; 'word' for whitespace words (the paper's ablation)"
        ),
    )


@dataclass
class MicroOptions:
    """Micro types: mid-frequency tokens (METHOD section 3)."""

    low: float = field(default=MID_BAND_LOW, metadata=_help("fewest occurrences of a mid-band token"))
    high: float = field(default=MID_BAND_HIGH, metadata=_help("most occurrences of a mid-band token"))
    per_million: bool = field(default=False, metadata=_help("read --low and --high per million tokens of the side"))

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high:
            raise OptionsError(f"token bands need 0 <= low <= high, got low={self.low}, high={self.high}")


@dataclass
class EmbedderOptions:
    """Sentence embeddings (macro types, meso tag merging, the embedding_distance metric)."""

    embedder: str = field(
        default=DEFAULT_EMBEDDER,
        metadata=_help(
            "sentence-embedding model (local path or Hub id), 'static' (distilled once from the embedded MiniLM: "
            "fast on CPU), or none"
        ),
    )
    max_seq_length: int = field(default=128, metadata=_help("embedding truncation, in word pieces"))
    embed_precision: Literal["float32", "bfloat16", "auto"] = field(
        default="float32",
        metadata=_help(
            "what the embedding model computes at: float32, bfloat16 (mixed, autocast) or auto (bfloat16 where the "
            "GPU or CPU computes it natively: AVX512-BF16 or AMX; about 3x faster there, cosines within 2.4e-3); "
            "recorded in the embedder's identity when not float32"
        ),
    )

    def __post_init__(self) -> None:
        if self.max_seq_length < 1:
            raise OptionsError(f"max_seq_length={self.max_seq_length} must be positive")
        if self.embed_precision not in PRECISIONS:
            raise OptionsError(f"embed_precision={self.embed_precision!r}; valid: {', '.join(PRECISIONS)}")

    @property
    def model(self) -> str | None:
        """The embedder spec, or None for 'none'."""
        return None if str(self.embedder).lower() == "none" else self.embedder


@dataclass
class MacroOptions:
    """Macro types: semantic clusters (embeddings -> reduction -> HDBSCAN; METHOD section 3)."""

    reducer: Literal["umap", "pca", "none"] = field(
        default="umap",
        metadata=_help(
            "reduction before HDBSCAN: umap (BERTopic's choice), pca (fast; HDBSCAN then finds few clusters) or none"
        ),
    )
    n_components: int = field(default=5, metadata=_help("dimensions after reduction"))
    min_cluster_size: int = field(default=10, metadata=_help("HDBSCAN's smallest cluster"))
    min_samples: int | None = field(
        default=None, metadata=_help("HDBSCAN's density parameter (unset: min_cluster_size)")
    )
    cluster_selection: Literal["eom", "leaf"] = field(
        default="eom", metadata=_help("HDBSCAN's cluster selection: eom, or leaf (more, smaller clusters)")
    )

    def __post_init__(self) -> None:
        if self.reducer not in ("umap", "pca", "none"):
            raise OptionsError(f"reducer={self.reducer!r}; valid: umap, pca, none")
        if self.cluster_selection not in ("eom", "leaf"):
            raise OptionsError(f"cluster_selection={self.cluster_selection!r}; valid: eom, leaf")
        if self.min_cluster_size < 2:
            raise OptionsError(f"min_cluster_size={self.min_cluster_size} must be at least 2")
        if self.n_components < 1:
            raise OptionsError(f"n_components={self.n_components} must be at least 1")


@dataclass
class MesoOptions:
    """Meso types: normalized tags (InsTag-style; METHOD section 3)."""

    tagger: Literal["offline", "openai", "transformers"] = field(
        default="offline",
        metadata=_help(
            "offline (keyphrases, no model), openai (an OpenAI-compatible server such as vLLM) or transformers"
        ),
    )
    tagger_model: str | None = field(
        default=None, metadata=_help("served model name (openai) or model path / Hub id (transformers)")
    )
    tagger_url: str | None = field(
        default=None, metadata=_help("OpenAI-compatible base URL, e.g. http://localhost:8000/v1")
    )
    alpha: int = field(default=2, metadata=_help("drop raw tags seen fewer times"))
    merge_threshold: float | None = field(
        default=0.9, metadata=_help("merge normalized tags at least this cosine-similar (needs an embedder)")
    )
    max_tags: int = field(default=4, metadata=_help("tags per text of the offline tagger"))

    def __post_init__(self) -> None:
        if self.tagger not in ("offline", "openai", "transformers"):
            raise OptionsError(f"tagger={self.tagger!r}; valid: offline, openai, transformers")
        if self.tagger != "offline" and not self.tagger_model:
            raise OptionsError(f"tagger={self.tagger!r} needs tagger_model (--tagger_model)")
        if self.tagger == "openai" and not self.tagger_url:
            raise OptionsError("tagger='openai' needs tagger_url (--tagger_url), e.g. http://localhost:8000/v1")
        if self.alpha < 1:
            raise OptionsError(f"alpha={self.alpha} must be at least 1")
        if self.merge_threshold is not None and not 0 < self.merge_threshold <= 1:
            raise OptionsError(f"merge_threshold={self.merge_threshold} must lie in (0, 1]")
        if self.max_tags < 1:
            raise OptionsError(f"max_tags={self.max_tags} must be at least 1")


@dataclass
class MetricOptions:
    """How the diversity metrics of every config are computed (METHOD section 4)."""

    self_bleu_sample: int = field(default=200, metadata=_help("texts per side sampled for Self-BLEU"))
    bootstrap: int = field(default=0, metadata=_help("bootstrap resamples for 95 %% intervals (0: none)"))
    language: list[str] = field(
        default_factory=list,
        metadata=_help("the corpus's languages for the card (ISO 639, e.g. en zh); empty: detected from the rows"),
    )
    language_sample: int = field(default=1000, metadata=_help("rows sampled to detect the corpus's languages"))
    language_threshold: float = field(
        default=0.05, metadata=_help("the card lists a detected language holding at least this share of the sample")
    )

    def __post_init__(self) -> None:
        if self.self_bleu_sample < 2:
            raise OptionsError(f"self_bleu_sample={self.self_bleu_sample} must be at least 2")
        if self.bootstrap < 0 or 0 < self.bootstrap < 20:
            raise OptionsError(f"bootstrap={self.bootstrap}: 0 (none) or at least 20 resamples")
        self.language = parse_languages(self.language)
        if self.language_sample < 1:
            raise OptionsError(f"language_sample={self.language_sample} must be at least 1")
        if not 0 < self.language_threshold <= 1:
            raise OptionsError(f"language_threshold={self.language_threshold} must lie in (0, 1]")


@dataclass
class PublishOptions:
    """The dataset repo: what its card says and where it goes."""

    repo_id: str | None = field(default=None, metadata=_help("org/name of the dataset repo; uploads when given"))
    private: bool = field(default=False, metadata=_help("create the repo private"))
    dry_run: bool = field(default=False, metadata=_help("write and check the folder, upload nothing"))
    license: str = field(default="other", metadata=_help("licence id of the source corpus, for the card"))
    source_note: str = field(
        default="See the licence of the source corpus.",
        metadata=_help("the card's paragraph on the source data and its licence"),
    )

    def __post_init__(self) -> None:
        from macro2micro.dataset_builder.naming import check_repo_id

        if self.repo_id is not None:
            check_repo_id(self.repo_id, "--repo_id")
