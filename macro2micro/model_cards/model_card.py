"""An adapter's model card, rendered from ``model_card.md``; re-rendered (never patched) when scores arrive.

Everything the card shows is kept in its metadata under ``macro2micro``, so a later stage (the
evaluation) re-renders the whole card from the template with scores added.
"""

from __future__ import annotations

import enum
from pathlib import Path

from macro2micro.dataset_builder.errors import ArtifactError
from macro2micro.dataset_builder.metrics.diversity import METRICS
from macro2micro.model_cards.templates import template_path

RECIPE_KEYS = (
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "lora_target_modules",
    "learning_rate",
    "lr_scheduler_type",
    "warmup_steps",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "max_length",
    "packing",
    "assistant_only_loss",
    "bf16",
    "seed",
)


def readable(value):
    """A hyper-parameter as a person writes it: enums by value, sets and tuples as lists."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    return value


def hyperparameters(training_args, model_args) -> dict:
    """The recipe's settings that decide the adapter, readable."""
    out = {}
    for key in RECIPE_KEYS:
        for args in (model_args, training_args):
            if hasattr(args, key):
                out[key] = readable(getattr(args, key))
                break
    return out


def adapter_repo_name(base_model: str, config: str) -> str:
    """The predictable adapter repo name, ``{base}-{config}-lora``: ``SmolLM2-135M-Instruct-random-lora``."""
    return f"{base_model.rstrip('/').split('/')[-1]}-{config}-lora"


def render_model_card(info: dict):
    """The adapter's ModelCard.

    Args:
        info: ``base_model`` (a Hub id), ``config``, ``dataset_repo`` (Hub id or None), ``recipe``,
            ``hyperparameters``, ``rows``, ``steps``, ``epochs``, ``train_loss``, ``train_seconds``,
            ``metrics`` (the config's diversity metrics), optional ``repo_id`` (the adapter's Hub id)
            and ``scores`` (``{baseline: {win_rate, ci95, prompts_scored}}``), ``local_path`` (the adapter's folder,
            for the snippet while it is not pushed).
    """
    from huggingface_hub import ModelCard, ModelCardData

    info = {"scores": {}, "metrics": {}, "repo_id": None, "local_path": None, **info}
    dataset_repo = info.get("dataset_repo")
    data = ModelCardData(
        base_model=info["base_model"],
        library_name="peft",
        license=None,
        datasets=[dataset_repo] if dataset_repo else None,
        tags=["lora", "sft", "trl", "macro2micro", f"macro2micro:{info['config']}"],
        pipeline_tag="text-generation",
        macro2micro=info,
    )
    name = info["repo_id"] or adapter_repo_name(info["base_model"], info["config"])
    return ModelCard.from_template(
        data, template_path=str(template_path("model_card.md")), model_name=name, metric_names=list(METRICS), **info
    )


def rerender_model_card(card_file: str | Path, repo_id: str | None = None, scores: dict | None = None) -> None:
    """Re-render an adapter's card from its metadata, with its Hub repo id and/or scores
    (``{baseline: {win_rate, ci95, prompts_scored}}``) merged in."""
    from macro2micro.dataset_builder.hub.artifacts import front_matter
    from macro2micro.dataset_builder.hub.checks import validate
    from macro2micro.dataset_builder.hub.run_schemas import AdapterCard

    card_file = Path(card_file)
    info = dict(front_matter(card_file).get("macro2micro") or {})
    if "config" not in info or "base_model" not in info:
        raise ArtifactError(f"{card_file}: not an adapter card written by macro2micro (no macro2micro metadata)")
    validate(AdapterCard, info, f"{card_file}: macro2micro")
    if repo_id is not None:
        info["repo_id"] = repo_id
    if scores:
        info["scores"] = {**(info.get("scores") or {}), **scores}
    render_model_card(info).save(str(card_file))
