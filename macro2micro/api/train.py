"""The training stage: one LoRA adapter (TRL SFT) per matching config of a dataset repo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from macro2micro.api.fields import make, split_fields
from macro2micro.dataset_builder.outputs import check_target, claim_folder
from macro2micro.training.options import PushAdaptersOptions, TrainOptions


def train_adapters(
    dataset: str | Path,
    out: str | Path = "runs",
    options: TrainOptions | None = None,
    push: PushAdaptersOptions | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Fine-tune one adapter per config of ``dataset`` that ``options.configs`` matches, as ``macro2micro
    train`` does; finished adapters are skipped; with ``print_commands`` nothing is trained and the
    ``accelerate launch`` line of each config is returned instead.

    Args:
        dataset: a dataset repo folder written by :func:`publish`, or its Hub id.
        out: the folder of adapters, one subfolder per config.
        options: :class:`~macro2micro.training.options.TrainOptions` (configs, recipe, recipe overrides).
        push: :class:`~macro2micro.training.options.PushAdaptersOptions` (push each adapter to the Hub).
        **fields: any field of those, e.g. ``configs=["micro_response_*"], recipe="demo",
            recipe_overrides=["max_steps=4"]``.

    Returns:
        Per config: its training results (steps, loss, rows, the Hub push), ``"skipped"``, or a command.
    """
    from macro2micro.training.sft import recipe_model, resolve_recipe
    from macro2micro.training.sweep import sweep

    train_f, push_f = split_fields(fields, TrainOptions, PushAdaptersOptions, where="train_adapters")
    options, push = make(TrainOptions, options, train_f), make(PushAdaptersOptions, push, push_f)
    dataset = str(dataset)
    inputs = [dataset] if Path(dataset).exists() else []
    if options.print_commands:  # the model is needed where the commands run, not here
        resolve_recipe(options.recipe)
        check_target(Path(out), "train", inputs, overwrite=False)  # where the printed commands will write
        return sweep(
            dataset,
            options.configs,
            options.recipe,
            out,
            options.override_args(),
            True,
            options.accelerate_config,
            retrain=options.retrain,
        )
    recipe_model(options.recipe, options.override_args())  # a wrong recipe or a missing model fails before any work
    hub_org = (push.hub_org or hub_user()) if push.push_to_hub else None
    with claim_folder(out, "train", inputs=inputs):
        return sweep(
            dataset,
            options.configs,
            options.recipe,
            out,
            options.override_args(),
            hub_org=hub_org,
            private=push.hub_private,
            retrain=options.retrain,
        )


def hub_user() -> str:
    """The namespace of the Hub login (``HF_TOKEN`` or ``hf auth login``)."""
    from huggingface_hub import HfApi

    from macro2micro.dataset_builder.hub.client import HubError, _reason

    try:
        return HfApi().whoami()["name"]
    except Exception as err:
        raise HubError(
            f"--push_to_hub without --hub_org needs a Hub login (`hf auth login` or HF_TOKEN): {_reason(err)}"
        ) from None
