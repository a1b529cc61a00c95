"""``python -m macro2micro``: the console script."""

import sys

from macro2micro.cli import main

sys.exit(main())
