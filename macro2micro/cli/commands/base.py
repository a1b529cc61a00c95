"""What every subcommand is: typed option dataclasses, a parser over them, ``run`` and ``report``.

Options are parsed by :class:`ConfigParser` (transformers' ``HfArgumentParser``: one flag per
dataclass field, ``--help`` with every default) plus a YAML ``--config`` file whose keys become the
defaults that flags then override, as TRL's ``TrlParser`` does; unknown keys and flags are refused.
"""

from __future__ import annotations

from argparse import ArgumentDefaultsHelpFormatter, Namespace
from dataclasses import dataclass, field
from typing import Any

from transformers import HfArgumentParser

from macro2micro.dataset_builder.errors import OptionsError


class HelpFormatter(ArgumentDefaultsHelpFormatter):
    """Every default shown, except where the help already says what an unset or empty value means."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("(unset:" in text and action.default is None) or ("(empty:" in text and not action.default):
            return text
        return super()._get_help_string(action)


@dataclass
class CommonOptions:
    """Options of every command."""

    verbose: bool = field(
        default=False, metadata={"aliases": ["-v"], "help": "debug logging, and the traceback of a failure"}
    )


class UsageError(OptionsError):
    """A bad command line or config file (no traceback is of any use)."""


class ConfigParser(HfArgumentParser):
    """``HfArgumentParser`` plus ``--config FILE.yaml`` (keys = field names; unknown keys refused)."""

    def __init__(self, dataclass_types, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(dataclass_types, **kwargs)
        self.add_argument(
            "--config",
            metavar="FILE.yaml",
            default=None,
            help="YAML file of options (keys as the flags without dashes); flags override it",
        )

    def error(self, message: str):
        """argparse's errors as one line (main prints it), not a usage block."""
        raise UsageError(f"{message} (see --help)")

    def _convert(self, path: str, key: str, value):
        """A YAML value through the flag's own type and choices, as if it had been typed on the command line."""
        action = next(a for a in self._actions if a.dest == key)
        if value is None:
            return None
        if action.nargs in ("+", "*"):
            return [self._convert_one(path, key, action, v) for v in (value if isinstance(value, list) else [value])]
        if isinstance(value, (list, dict)):
            raise UsageError(f"--config {path}: {key}: expected one value, got {type(value).__name__}")
        return self._convert_one(path, key, action, value)

    @staticmethod
    def _convert_one(path: str, key: str, action, value):
        text = str(value).lower() if isinstance(value, bool) else str(value)
        try:
            converted = action.type(text) if callable(action.type) else text
        except (TypeError, ValueError):
            kind = getattr(action.type, "__name__", "value")
            raise UsageError(f"--config {path}: {key}: {value!r} is not a valid {kind}") from None
        if action.choices is not None and converted not in action.choices:
            raise UsageError(f"--config {path}: {key}: {value!r} is not one of {', '.join(map(str, action.choices))}")
        return converted

    def parse(self, argv: list[str]) -> tuple:
        """The dataclass instances, from ``--config`` (if given) and the flags."""
        import difflib

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
                raise UsageError(f"--config {path}: {err.strerror}") from None
            except yaml.YAMLError as err:
                raise UsageError(f"--config {path}: not valid YAML ({str(err).splitlines()[0]})") from None
            if not isinstance(config, dict):
                raise UsageError(f"--config {path}: expected a mapping of option names to values")
            known = {a.dest for a in self._actions} - {"help", "config"}
            unknown = sorted(set(config) - known)
            if unknown:
                close = {k: difflib.get_close_matches(k, known, n=1) for k in unknown}
                hints = "; ".join(f"{k}: did you mean {m[0]}?" for k, m in close.items() if m)
                raise UsageError(f"--config {path}: unknown option(s) {unknown}{'; ' + hints if hints else ''}")
            self.set_defaults(**{k: self._convert(path, k, v) for k, v in config.items()})
        namespace, rest = self.parse_known_args(args=argv)
        if rest:
            flags = [a for a in rest if a.startswith("-")]
            options = [o for a in self._actions for o in a.option_strings]
            near = difflib.get_close_matches(flags[0].split("=")[0], options, n=1) if flags else []
            raise UsageError(
                f"unrecognized argument(s): {' '.join(rest)}"
                + (f"; did you mean {near[0]}?" if near else "")
                + " (see --help)"
            )
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
