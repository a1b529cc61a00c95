"""An ingested folder's rows were shaped when it was ingested (whole dialogues or first exchanges, system
prompts kept or not): the options that shaped them come from its record, and another value asked for now is
refused in one line instead of being ignored."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from macro2micro.dataset_builder.corpus.ingest import SHAPE_OPTIONS  # what ingest records in summary.json
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.options import CorpusOptions

logger = logging.getLogger(__name__)


def recorded_shape(folder: str | Path) -> dict[str, str]:
    """The shaping options an ingest folder records (empty when it records none)."""
    try:
        recorded = json.loads((Path(folder) / "summary.json").read_text()).get("options")
    except (OSError, ValueError, RecursionError, AttributeError):
        return {}
    if not isinstance(recorded, dict):
        return {}
    return {k: v for k, v in recorded.items() if k in SHAPE_OPTIONS and isinstance(v, str)}


def reconcile(options: CorpusOptions, folder: str | Path) -> CorpusOptions:
    """``options`` with the shaping fields the ingest folder ``folder`` was made with.

    A value that differs from the folder's and from the default was asked for: OptionsError (an ingested folder
    is opened as it is, never reshaped). One left at its default is replaced by the folder's, with a warning.
    """
    recorded = recorded_shape(folder)
    defaults = CorpusOptions()
    differ = {n: (getattr(options, n), v) for n, v in recorded.items() if getattr(options, n) != v}
    asked = {n: pair for n, pair in differ.items() if pair[0] != getattr(defaults, n)}
    if asked:
        made = ", ".join(f"--{n} {r}" for n, (_, r) in asked.items())
        wanted = ", ".join(f"--{n} {g}" for n, (g, _) in asked.items())
        raise OptionsError(
            f"{folder} was ingested with {made}; {wanted} cannot reshape its rows: ingest the raw files again "
            "with it, or leave it out"
        )
    if differ:
        logger.warning(
            "%s was ingested with %s: its rows are used as they are (the default %s does not reshape them)",
            folder,
            ", ".join(f"--{n} {r}" for n, (_, r) in differ.items()),
            ", ".join(f"--{n} {g}" for n, (g, _) in differ.items()),
        )
    changes: dict[str, Any] = {n: r for n, (_, r) in differ.items()}
    return dataclasses.replace(options, **changes)
