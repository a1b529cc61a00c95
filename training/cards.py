"""Adapter model cards, rendered from ``model_cards/templates/model_card.md``."""

from __future__ import annotations

from pathlib import Path

from dataset_builder.metrics import METRICS

TEMPLATE = Path(__file__).resolve().parents[1] / "model_cards" / "templates" / "model_card.md"
RECIPE_KEYS = ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "learning_rate", "lr_scheduler_type",
               "num_train_epochs", "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps",
               "max_length", "packing", "assistant_only_loss", "bf16", "seed")


def render_model_card(results: dict, dataset_repo: str, metrics: dict, training_args, model_args,
                      scores: dict | None = None, repo_id: str | None = None):
    """The adapter's ModelCard: base model as a Hub id, the dataset repo and config, recipe, scores."""
    from huggingface_hub import ModelCard, ModelCardData

    hyper = {}
    for key in RECIPE_KEYS:
        for args in (model_args, training_args):
            if hasattr(args, key):
                hyper[key] = getattr(args, key)
                break
    name = repo_id or f"{results['base_model'].split('/')[-1]}-{results['config']}-lora"
    data = ModelCardData(base_model=results["base_model"], library_name="peft", license=None,
                         datasets=[dataset_repo] if "/" in dataset_repo else None,
                         tags=["lora", "sft", "trl", "macro2micro", f"macro2micro:{results['config']}"],
                         pipeline_tag="text-generation",
                         macro2micro={"dataset_config": results["config"], "recipe": results["recipe"],
                                      "train_loss": results["train_loss"], "scores": scores or {}})
    return ModelCard.from_template(
        data, template_path=str(TEMPLATE), model_name=name, repo_id=repo_id or name,
        base_model=results["base_model"], config=results["config"], dataset_repo=dataset_repo,
        metrics=metrics, metric_names=list(METRICS), recipe=results["recipe"], hyperparameters=hyper,
        rows=results["rows"], steps=results["steps"], train_loss=results["train_loss"],
        train_seconds=results["train_seconds"], scores=scores or {})
