"""The application layer: the ``macro2micro`` console script and its subcommands, the only code that prints.

Every command is a thin caller of the public API (:mod:`macro2micro`): it parses typed options, calls
one function, and reports what it returned.
"""

import signal
import sys
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl+C so that every output folder cleans up after itself."""


def on_sigterm(signum, frame):
    raise Terminated


def catch_sigterm() -> None:
    """SIGTERM raises :class:`Terminated` (only the main thread may set a handler)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_sigterm)


def run() -> int:
    """The console script: :func:`macro2micro.cli.main.main`, with a Ctrl+C or a SIGTERM during its imports (a
    second or two of torch, datasets and scipy) reported in one line like any other interruption."""
    catch_sigterm()
    try:
        from macro2micro.cli.main import main
    except KeyboardInterrupt as err:
        command = "".join(f" {a}" for a in sys.argv[1:2])
        what = "terminated" if isinstance(err, Terminated) else "interrupted"
        print(f"macro2micro{command}: error: {what}", file=sys.stderr)
        return 143 if isinstance(err, Terminated) else 130
    return main()
