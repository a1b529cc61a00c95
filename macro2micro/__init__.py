"""macro2micro's application layer: the console script and the demo.

This package is the only code that imports every stage (``dataset_builder``, ``model_cards``,
``training``, ``space_app``) and the only code that prints: stages return values, the commands
here report them.
"""

from importlib import metadata

try:
    __version__ = metadata.version("macro2micro")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
