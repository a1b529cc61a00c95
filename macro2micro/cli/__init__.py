"""The application layer: the ``macro2micro`` console script and its subcommands, the only code that prints.

Every command is a thin caller of the public API (:mod:`macro2micro`): it parses typed options, calls
one function, and reports what it returned.
"""

import sys


def run() -> int:
    """The console script: :func:`macro2micro.cli.main.main`, with a Ctrl+C during its imports (a second or two
    of torch, datasets and scipy) reported in one line like any other interruption."""
    try:
        from macro2micro.cli.main import main
    except KeyboardInterrupt:
        command = "".join(f" {a}" for a in sys.argv[1:2])
        print(f"macro2micro{command}: error: interrupted", file=sys.stderr)
        return 130
    return main()
