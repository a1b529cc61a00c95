"""``python -m macro2micro``: the console script."""

import sys

from macro2micro import run

sys.exit(run())
