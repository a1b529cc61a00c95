"""macro2micro: diversity-controlled SFT datasets, LoRA fine-tuning on each, and what diversity does to a model."""

from importlib import metadata

try:
    __version__ = metadata.version("macro2micro")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
