"""``macro2micro train``: one LoRA adapter per matching config (TRL SFT); finished ones are skipped."""

from __future__ import annotations

from dataclasses import dataclass, field

from macro2micro.api.train import train_adapters
from macro2micro.cli import report
from macro2micro.cli.commands.base import Command
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.parsing import required
from macro2micro.training.options import PushAdaptersOptions, TrainOptions


@dataclass
class TrainPaths:
    """What to train on and where the adapters go."""

    dataset: str | None = field(
        default=None,
        metadata={"help": "dataset repo: a folder written by `macro2micro publish` or a Hub id (required)"},
    )
    out: str = field(default="runs", metadata={"help": "folder of adapters, one subfolder per config"})

    def __post_init__(self) -> None:
        if not self.dataset:
            raise OptionsError("dataset: give the dataset repo folder or Hub id (--dataset)")


class TrainCommand(Command):
    name = "train"
    help = "LoRA fine-tune (TRL SFT) one adapter per config; skips finished ones"
    options = (TrainPaths, TrainOptions, PushAdaptersOptions)

    def run(self, paths: TrainPaths, options: TrainOptions, push: PushAdaptersOptions) -> dict:
        return train_adapters(required(paths.dataset, "dataset"), paths.out, options, push)

    def report(self, results: dict, *options) -> None:
        report.train_results(results)
