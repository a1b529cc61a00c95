"""The subcommands of ``macro2micro``, in the order of the pipeline."""

from .base import Command
from .build import BuildCommand
from .demo import DemoCommand
from .evaluate import EvaluateCommand
from .ingest import IngestCommand
from .paper import PaperCommand
from .publish import PublishCommand
from .space import SpaceCommand
from .tag_plan import TagPlanCommand
from .train import TrainCommand

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
