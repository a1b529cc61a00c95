"""macro2micro's application layer: the console script and the demo.

This package is the only code that imports every stage (``dataset_builder``, ``model_cards``,
``training``, ``space_app``) and the only code that prints: stages return values, the commands
here report them.
"""

import sys
from importlib import metadata

try:
    __version__ = metadata.version("macro2micro")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"


def run() -> int:
    """The console script: :func:`macro2micro.cli.main`, with a Ctrl+C during its imports (a second or two of
    torch, datasets and scipy) reported in one line like any other interruption."""
    try:
        from .cli import main
    except KeyboardInterrupt:
        command = "".join(f" {a}" for a in sys.argv[1:2])
        print(f"macro2micro{command}: error: interrupted", file=sys.stderr)
        return 130
    return main()
