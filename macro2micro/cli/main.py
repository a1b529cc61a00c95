"""The ``macro2micro`` console script: one command, one subcommand per stage.

    macro2micro ingest --corpus data.jsonl --out corpus/
    macro2micro build --corpus corpus/ --strategies micro_response random --budget 1000 --out subsets/
    macro2micro publish --corpus corpus/ --subsets subsets/ --out repo/ [--repo_id org/name]
    macro2micro train --dataset repo/ --configs 'micro_response_*' random --recipe demo --out runs/
    macro2micro evaluate --runs runs/ --dataset repo/ --out eval/
    macro2micro space --repo repo/ --results eval/results.json --runs runs/
    macro2micro demo --out demo_out/

Every subcommand takes ``--config FILE.yaml`` plus flag overrides, and ``--help`` lists every option
with its default. An expected failure (bad input, a missing file or model, an unusable output
folder, a Hub error) prints one line naming what was wrong and exits with status 2; ``-v`` adds
the traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback

from macro2micro import __version__
from macro2micro.cli import Terminated, catch_sigterm, report
from macro2micro.cli.commands import COMMANDS
from macro2micro.cli.commands.base import UsageError

logger = logging.getLogger("macro2micro")


def _expected(err: BaseException) -> bool:
    """A failure to report in one line: one of the toolkit's own errors, or the OS error of a file the command
    names (a permission, a missing file). Anything else is a bug and keeps its traceback."""
    from macro2micro.dataset_builder.errors import Macro2MicroError

    return isinstance(err, Macro2MicroError) or (isinstance(err, OSError) and err.filename is not None)


def one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 1000 else text[:997] + "..."


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("httpx", "httpx2", "urllib3", "filelock", "huggingface_hub", "datasets", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    if not verbose:
        import datasets
        import transformers

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()  # "Loading weights" bars between our own labelled ones


def top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="macro2micro",
        allow_abbrev=False,
        description="Diversity-controlled SFT datasets (macro / meso / micro x instruction / response), LoRA "
        "fine-tuning on each, and what diversity does to a model. `macro2micro COMMAND --help` lists a "
        "command's options with their defaults.",
    )
    parser.add_argument("--version", action="version", version=f"macro2micro {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        sub.add_parser(command.name, help=command.help, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = top_parser()
    commands = {c.name: c for c in COMMANDS}
    if not argv or argv[0] not in commands:
        if not argv:
            parser.print_help()
            return 0
        parser.parse_args(argv[:1])  # --help, --version, or an error naming the valid commands (exit 2)
        return 2
    command, rest = commands[argv[0]], argv[1:]
    verbose = "-v" in rest or "--verbose" in rest
    try:  # a Ctrl+C or SIGTERM while the heavy imports load is an interruption like any other
        catch_sigterm()
        setup_logging(verbose)
        from tqdm.contrib.logging import logging_redirect_tqdm

        options = command.make_parser().parse(rest)
        with logging_redirect_tqdm():  # log lines print above the progress bars, not through them
            result = command.run(*options[:-1])
        command.report(result, *options[:-1])
    except KeyboardInterrupt as err:
        report.error(command.name, "terminated" if isinstance(err, Terminated) else "interrupted")
        return 143 if isinstance(err, Terminated) else 130
    except Exception as err:
        if not _expected(err):
            raise
        if verbose:
            traceback.print_exc()
        quiet = verbose or isinstance(err, UsageError)
        report.error(command.name, one_line(err) + ("" if quiet else " (-v shows the traceback)"))
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
