"""The toolkit's expected failures: one base class, one subclass per kind of thing that was wrong.

Every error here is a failure a user can act on (a bad option, a malformed corpus row, a tampered
artifact, a model that cannot be found, an unusable output folder, a Hub error); its message names
the file, row, field, option or service and says what would be valid. The console script prints such
an error as one line (exit status 2); anything else is a bug and keeps its traceback. Each subclass
also derives from the built-in exception callers would have caught before (``ValueError``,
``OSError``, ``ImportError``), so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class Macro2MicroError(Exception):
    """Base class of every expected failure of macro2micro."""


class OptionsError(Macro2MicroError, ValueError):
    """An option (a dataclass field, a flag, a YAML key) has a value that is not valid."""


class InputError(Macro2MicroError, ValueError):
    """An input file (a prompt set, reference answers) cannot be read: the message names the file and record."""


class CorpusError(InputError):
    """A corpus input cannot be read: the message names the file and line or row, and the field."""


class ArtifactError(Macro2MicroError, ValueError):
    """A file written by an earlier stage (build.json, a manifest, metrics, results, a card) is not valid."""


class SelectionError(Macro2MicroError, ValueError):
    """A selection cannot be made as asked: a pool smaller than the budget, too few types, too few rows."""


class ModelError(Macro2MicroError, OSError):
    """A model, tokenizer, embedder or recipe cannot be found or loaded."""


class AssetError(Macro2MicroError):
    """An embedded asset (a packaged corpus or model) is missing or damaged."""


class OutputError(Macro2MicroError):
    """An output folder cannot be used or written; the message names it and says what to do."""


class HubError(Macro2MicroError):
    """The Hugging Face Hub (or a stand-in for it) refused or failed a request."""


class ServiceError(Macro2MicroError):
    """An external service (an OpenAI-compatible server for tagging or judging) failed."""


class MissingDependencyError(Macro2MicroError, ImportError):
    """An optional dependency is not installed; the message gives the exact ``pip install`` line."""
