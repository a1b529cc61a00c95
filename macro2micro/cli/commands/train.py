"""``macro2micro train``: one LoRA adapter per matching config (TRL SFT); finished ones are skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from macro2micro.cli import report
from macro2micro.cli.commands.base import Command
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.outputs import check_target, claim_folder
from macro2micro.training.options import PushAdaptersOptions, TrainOptions


@dataclass
class TrainPaths:
    """What to train on and where the adapters go."""

    dataset: str = field(
        default=None,
        metadata={"help": "dataset repo: a folder written by `macro2micro publish` or a Hub id (required)"},
    )
    out: str = field(default="runs", metadata={"help": "folder of adapters, one subfolder per config"})

    def __post_init__(self) -> None:
        if not self.dataset:
            raise OptionsError("dataset: give the dataset repo folder or Hub id (--dataset)")


def train(paths: TrainPaths, options: TrainOptions, push: PushAdaptersOptions | None = None) -> dict:
    """Train (or print the launch command of) every matching config; returns per config its results."""
    from macro2micro.training.sft import recipe_model, resolve_recipe
    from macro2micro.training.sweep import sweep

    inputs = [paths.dataset] if Path(paths.dataset).exists() else []
    if options.print_commands:  # the model is needed where the commands run, not here
        resolve_recipe(options.recipe)
        check_target(Path(paths.out), "train", inputs, overwrite=False)  # where the printed commands will write
        return sweep(
            paths.dataset,
            options.configs,
            options.recipe,
            paths.out,
            options.override_args(),
            True,
            options.accelerate_config,
        )
    recipe_model(options.recipe, options.override_args())  # a wrong recipe or a missing model fails before any work
    push = push or PushAdaptersOptions()
    hub_org = None
    if push.push_to_hub:
        hub_org = push.hub_org or hub_user()
    with claim_folder(paths.out, "train", inputs=inputs):
        return sweep(
            paths.dataset,
            options.configs,
            options.recipe,
            paths.out,
            options.override_args(),
            hub_org=hub_org,
            private=push.hub_private,
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


class TrainCommand(Command):
    name = "train"
    help = "LoRA fine-tune (TRL SFT) one adapter per config; skips finished ones"
    options = (TrainPaths, TrainOptions, PushAdaptersOptions)

    def run(self, paths: TrainPaths, options: TrainOptions, push: PushAdaptersOptions) -> dict:
        return train(paths, options, push)

    def report(self, results: dict, *options) -> None:
        report.train_results(results)
