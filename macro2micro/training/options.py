"""Typed options of the training and evaluation stages (the API takes them; the console script parses them).

A single adapter's training knobs are TRL's own (``SFTConfig``, ``ModelConfig``) read from a recipe
YAML; these dataclasses choose what to train and how to judge it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from macro2micro.dataset_builder.defaults import DEFAULT_MODEL, PRECISIONS, RANDOM_CONFIG
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.options import split_list


@dataclass
class TrainOptions:
    """Which configs to fine-tune, with which recipe (``macro2micro train``)."""

    configs: list[str] = field(
        default_factory=lambda: ["micro_response_*", "random"],
        metadata={
            "help": "glob patterns of the configs to train (space- or comma-separated); a *_lengthctl_* "
            "config matches only a pattern naming lengthctl, and full only its own name, so '*' is the plain "
            "ladders and random"
        },
    )
    recipe: str = field(
        default="demo", metadata={"help": "recipe name (demo, llama-2-7b-lora, llama-3-8b-lora) or a YAML file"}
    )
    recipe_overrides: list[str] = field(
        default_factory=list,
        metadata={
            "aliases": ["--set"],
            "help": "recipe overrides as KEY=VALUE, e.g. --set max_steps=8 learning_rate=1e-4",
        },
    )
    train_precision: str = field(
        default="recipe",
        metadata={
            "help": "recipe (its bf16 setting), float32, bfloat16 (TRL's mixed bf16) or auto (bfloat16 where the GPU "
            "or CPU computes it natively: AVX512-BF16 or AMX), resolved on this machine and recorded with the "
            "overrides in train_results.json"
        },
    )
    print_commands: bool = field(
        default=False,
        metadata={"help": "print one `accelerate launch` command per config instead of training (for a scheduler)"},
    )
    accelerate_config: str | None = field(
        default=None, metadata={"help": "accelerate config file named in the printed commands"}
    )
    retrain: bool = field(
        default=False,
        metadata={
            "help": "retrain an adapter whose train_results.json records another recipe, other overrides or other "
            "rows of its config (default: refuse it), or that records none"
        },
    )

    def __post_init__(self) -> None:
        self.configs = split_list(self.configs)
        if not self.configs:
            raise OptionsError("configs: give at least one config name or glob pattern")
        for pair in self.recipe_overrides:
            key, sep, _ = pair.partition("=")
            if not sep or not key.strip():
                raise OptionsError(f"--set expects KEY=VALUE, got {pair!r}")
        if self.train_precision not in ("recipe", *PRECISIONS):
            raise OptionsError(f"train_precision={self.train_precision!r}; valid: recipe, {', '.join(PRECISIONS)}")

    def override_args(self) -> list[str]:
        """The overrides as ``--key value`` arguments of the training script (``train_precision`` as ``--bf16``)."""
        out = []
        for pair in self.recipe_overrides:
            key, _, value = pair.partition("=")
            out += [f"--{key.strip()}", value]
        if self.train_precision != "recipe":
            import torch

            from macro2micro.dataset_builder.utils import resolve_precision

            device = "cuda" if torch.cuda.is_available() else "cpu"
            out += ["--bf16", str(resolve_precision(self.train_precision, device) == "bfloat16").lower()]
        return out


@dataclass
class EvalOptions:
    """How the adapters are judged (``macro2micro evaluate``)."""

    prompts: str = field(
        default="embedded",
        metadata={
            "help": "embedded (24 bundled prompts), or an AlpacaEval / Arena-Hard JSON(L) file or Hub dataset id"
        },
    )
    prompt_limit: int | None = field(default=None, metadata={"help": "use the first N prompts"})
    baseline: str = field(
        default=RANDOM_CONFIG,
        metadata={
            "help": "what every model is judged against: an adapter's config, 'base' (the base model), or a file of "
            "reference answers (AlpacaEval style: instruction, output, generator) for the paper's fixed reference"
        },
    )
    judge_model: str = field(
        default=DEFAULT_MODEL,
        metadata={
            "help": "judge: a served model name (with --judge_url) or a local model for the constrained-choice judge"
        },
    )
    judge_url: str | None = field(default=None, metadata={"help": "OpenAI-compatible base URL of the judge server"})
    max_new_tokens: int = field(default=96, metadata={"help": "answer length cap"})
    batch_size: int = field(
        default=16,
        metadata={
            "help": "prompts per generate call and judge prompts per forward pass (on a CPU a decoding step costs "
            "nearly the same for 1 or 16 rows)"
        },
    )

    eval_precision: str = field(
        default="float32",
        metadata={
            "help": "what the answering models and the local judge compute at: float32, bfloat16 (mixed, autocast) "
            "or auto (bfloat16 where the GPU or CPU computes it natively: AVX512-BF16 or AMX; 2.5x faster decoding "
            "there); the resolved value is recorded with the answers"
        },
    )

    def __post_init__(self) -> None:
        if self.prompt_limit is not None and self.prompt_limit < 1:
            raise OptionsError(f"prompt_limit={self.prompt_limit} must be at least 1")
        if self.max_new_tokens < 1:
            raise OptionsError(f"max_new_tokens={self.max_new_tokens} must be at least 1")
        if self.batch_size < 1:
            raise OptionsError(f"batch_size={self.batch_size} must be at least 1")
        if self.eval_precision not in PRECISIONS:
            raise OptionsError(f"eval_precision={self.eval_precision!r}; valid: {', '.join(PRECISIONS)}")


@dataclass
class PushAdaptersOptions:
    """Pushing the trained adapters (``macro2micro train``)."""

    push_to_hub: bool = field(
        default=False,
        metadata={
            "help": "push every adapter as {hub_org}/{base}-{config}-lora, and record it in the dataset repo when "
            "--dataset is a Hub id"
        },
    )
    hub_org: str | None = field(
        default=None, metadata={"help": "namespace of the pushed adapters (unset: your own, from the Hub login)"}
    )
    hub_private: bool = field(default=False, metadata={"help": "create the adapter repos private"})

    def __post_init__(self) -> None:
        if self.hub_org is not None:
            from macro2micro.dataset_builder.naming import check_repo_id

            check_repo_id(self.hub_org, "--hub_org")


@dataclass
class PushResultsOptions:
    """Publishing an evaluation (``macro2micro evaluate``)."""

    push_to_hub: bool = field(
        default=False,
        metadata={
            "help": "commit the results, report and plots into the dataset repo (a Hub id) in one commit, re-render "
            "its card with a scores table, and push each adapter's card with its score"
        },
    )
