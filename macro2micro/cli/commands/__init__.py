"""The subcommands of ``macro2micro``, in the order of the pipeline."""

from macro2micro.cli.commands.base import Command
from macro2micro.cli.commands.build import BuildCommand
from macro2micro.cli.commands.demo import DemoCommand
from macro2micro.cli.commands.evaluate import EvaluateCommand
from macro2micro.cli.commands.ingest import IngestCommand
from macro2micro.cli.commands.paper import PaperCommand
from macro2micro.cli.commands.publish import PublishCommand
from macro2micro.cli.commands.space import SpaceCommand
from macro2micro.cli.commands.tag_plan import TagPlanCommand
from macro2micro.cli.commands.train import TrainCommand

COMMANDS: list[Command] = [
    IngestCommand(),
    BuildCommand(),
    PublishCommand(),
    TagPlanCommand(),
    TrainCommand(),
    EvaluateCommand(),
    PaperCommand(),
    SpaceCommand(),
    DemoCommand(),
]

__all__ = ["COMMANDS", "Command"]
