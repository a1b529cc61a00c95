"""``python -m macro2micro``: the console script."""

import sys

from macro2micro.cli import run

sys.exit(run())
