"""What every subcommand is: typed option dataclasses, a parser over them, ``run`` and ``report``.

Options are parsed by :class:`ConfigParser` (transformers' ``HfArgumentParser``: one flag per
dataclass field, ``--help`` with every default) plus a YAML ``--config`` file whose keys become the
defaults that flags then override, as TRL's ``TrlParser`` does; unknown keys and flags are refused.
"""

from __future__ import annotations

from argparse import Namespace
from dataclasses import dataclass, field
from typing import Any

from transformers import HfArgumentParser


@dataclass
class CommonOptions:
    """Options of every command."""

    verbose: bool = field(
        default=False, metadata={"aliases": ["-v"], "help": "debug logging, and the traceback of a failure"}
    )


class ConfigParser(HfArgumentParser):
    """``HfArgumentParser`` plus ``--config FILE.yaml`` (keys = field names; unknown keys refused)."""

    def __init__(self, dataclass_types, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(dataclass_types, **kwargs)
        self.add_argument(
            "--config",
            metavar="FILE.yaml",
            default=None,
            help="YAML file of options (keys as the flags without dashes); flags override it",
        )

    def parse(self, argv: list[str]) -> tuple:
        """The dataclass instances, from ``--config`` (if given) and the flags."""
        import yaml

        argv = list(argv)
        if "--config" in argv:
            i = argv.index("--config")
            if i + 1 >= len(argv):
                self.error("--config needs a YAML file")
            path = argv[i + 1]
            del argv[i : i + 2]
            try:
                with open(path, encoding="utf-8") as f:
                    config = yaml.safe_load(f) or {}
            except OSError as err:
                raise ValueError(f"--config {path}: {err.strerror}") from None
            except yaml.YAMLError as err:
                raise ValueError(f"--config {path}: not valid YAML ({str(err).splitlines()[0]})") from None
            if not isinstance(config, dict):
                raise ValueError(f"--config {path}: expected a mapping of option names to values")
            known = {a.dest for a in self._actions} - {"help", "config"}
            unknown = sorted(set(config) - known)
            if unknown:
                raise ValueError(f"--config {path}: unknown option(s) {unknown}; valid: {', '.join(sorted(known))}")
            self.set_defaults(**config)
        outputs = self.parse_args_into_dataclasses(args=argv)
        return tuple(o for o in outputs if not isinstance(o, Namespace))


class Command:
    """A subcommand: ``name``, ``help``, its option dataclasses, ``run`` (returns a result) and ``report``."""

    name: str = ""
    help: str = ""
    options: tuple[type, ...] = ()

    def make_parser(self) -> ConfigParser:
        return ConfigParser((*self.options, CommonOptions), prog=f"macro2micro {self.name}", description=self.help)

    def run(self, *options) -> Any:
        raise NotImplementedError

    def report(self, result: Any, *options) -> None:
        """Print what ``run`` returned (the only place output is printed)."""
