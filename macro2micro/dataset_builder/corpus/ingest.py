"""The corpus stage: SFT data in any common layout -> one clean ``datasets.Dataset``.

Output columns: ``id``, ``source``, ``system``, ``instruction``, ``response``, ``messages`` (see
:mod:`.table`). Readers are in :mod:`.readers`, formats and row checks in :mod:`.formats`, turns,
roles and system prompts in :mod:`.conversations`. Bad input raises :class:`CorpusError` naming the
file, line or row, and field; with ``on_error="skip"`` such rows are skipped and counted under
``invalid``. ``max_rows`` keeps a seeded uniform sample of the cleaned rows.

A folder written by :func:`save_corpus` (``macro2micro ingest``) holds the rows and the corpus
fingerprint; :func:`open_corpus` reads it back without re-reading or re-hashing anything.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from macro2micro.dataset_builder.corpus.conversations import TURN_SEPARATOR
from macro2micro.dataset_builder.corpus.formats import detect_format, normalize_whitespace, row_id, row_source, to_row
from macro2micro.dataset_builder.corpus.kept import KeptRows
from macro2micro.dataset_builder.corpus.readers import (
    CorpusError,
    describe_input,
    expand_inputs,
    ingested_dataset,
    is_in_memory,
    iter_input,
)
from macro2micro.dataset_builder.corpus.table import (
    CORPUS_COLUMNS,
    column,
    corpus_features,
    corpus_fingerprint,
    make_id,
    remember_fingerprint,
    role_counts,
    turn_shares,
    turns_per_row,
)
from macro2micro.dataset_builder.corpus.texts import arrow_column
from macro2micro.dataset_builder.options import CorpusOptions

logger = logging.getLogger(__name__)

__all__ = [
    "CorpusError",
    "CorpusOptions",
    "CorpusReport",
    "TURN_SEPARATOR",
    "column",
    "load_corpus",
    "open_corpus",
    "save_corpus",
    "corpus_fingerprint",
    "corpus_provenance",
    "summarize",
    "corpus_features",
    "make_id",
    "normalize_whitespace",
    "turns_per_row",
]

MAX_ERRORS_KEPT = 20
# The options that decide what a row of the corpus is (recorded with it, and in every build made from it).
SHAPE_OPTIONS = ("multi_turn", "system", "system_side")


@dataclass
class CorpusReport:
    """What ingestion read, kept, dropped (by reason) and changed, and the first errors it skipped."""

    inputs: list[str] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)
    rows_read: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)  # kept rows altered on the way in, by what
    messages: dict[str, int] = field(default_factory=dict)  # turns kept, by role
    turns_dropped: int = 0  # turns left out of kept rows (multi_turn=first, or after the last reply)
    sample: dict | None = None  # the max_rows sample: {"max_rows", "seed", "from_rows"}
    options: dict[str, Any] = field(default_factory=dict)  # the SHAPE_OPTIONS used
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def skip(self, err: CorpusError) -> None:
        """Count a bad row under ``invalid`` and keep its message (the first few)."""
        self.dropped["invalid"] = self.dropped.get("invalid", 0) + 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(str(err))


def _read_item(item, options: CorpusOptions, report: CorpusReport, rows: KeptRows, dropped: Counter) -> str:
    """Read one input into ``rows``; returns the format it was read as."""
    fmt: str = options.format
    if is_in_memory(item):
        name = item_name(item)
    else:  # the file's name without its suffixes (data.jsonl.gz -> data)
        name = Path(item).stem.split(".")[0] if Path(item).exists() else str(item)
    default_source = options.source or name

    def on_bad(err: CorpusError) -> None:  # a line that could not be read at all was still read
        report.rows_read += 1
        report.skip(err)

    rows.start_input(name)
    n_item = 0
    kwargs = {"on_bad": on_bad} if options.on_error == "skip" else {}
    for where, record in iter_input(item, options.split, **kwargs):
        n_item += 1
        report.rows_read += 1
        try:
            if fmt == "auto":
                fmt = detect_format(record, where)
            row = to_row(record, fmt, options, where)
            if isinstance(row, str):
                dropped[row] += 1
                continue
            given_id, source = row_id(record, options, where), row_source(record, options, where)
            reason = rows.add(given_id, source or default_source, row, options, where)
        except CorpusError as err:
            if options.on_error == "raise":
                raise
            report.skip(err)
            continue
        if reason:
            dropped[reason] += 1
    if n_item == 0:
        raise CorpusError(f"{describe_input(item)}: holds no records")
    return fmt


def sample_indices(n: int, max_rows: int, seed: int) -> np.ndarray | None:
    """The rows a ``max_rows`` sample keeps (sorted), or None when every row is kept."""
    if not max_rows or n <= max_rows:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))


def item_name(item) -> str:
    """The ``source`` of rows from an in-memory dataset that names none: its builder's name, else ``dataset``."""
    info = getattr(item, "info", None) or getattr(next(iter(item.values()), None), "info", None)
    return (
        getattr(info, "dataset_name", None) or getattr(info, "builder_name", None) or "dataset"
    ).strip() or "dataset"


def load_corpus(inputs, options: CorpusOptions | None = None):
    """Read, normalize and clean SFT data into a ``datasets.Dataset`` (a seeded sample of it with ``max_rows``).

    Args:
        inputs: one or more files, folders, saved-dataset folders, Hub dataset ids, or in-memory
            ``datasets.Dataset`` / ``DatasetDict`` objects (any supported record format).
        options: reading and cleaning options (see :class:`CorpusOptions`).

    Returns:
        ``(dataset, report)``: the Dataset with columns ``id, source, system, instruction, response,
        messages`` and a :class:`CorpusReport` of what was read, kept, dropped and changed.
    """

    options = options or CorpusOptions()
    if isinstance(inputs, (str, Path)) or is_in_memory(inputs):
        inputs = [inputs]
    items = expand_inputs(inputs)
    if not items:
        raise CorpusError("no corpus inputs given")
    report = CorpusReport(
        inputs=[describe_input(i) for i in items], options={k: getattr(options, k) for k in SHAPE_OPTIONS}
    )
    dropped: Counter[str] = Counter()
    rows = KeptRows()
    for item in items:
        report.formats[describe_input(item)] = _read_item(item, options, report, rows, dropped)
    return finish_corpus(rows, dropped, report, options)


def finish_corpus(rows: KeptRows, dropped: Counter, report: CorpusReport, options: CorpusOptions):
    """The kept rows as the corpus ``Dataset`` (the ``max_rows`` sample taken, its fingerprint given), and the
    report completed: the end of reading a corpus on either engine."""
    import datasets

    cleaned = rows.n
    if cleaned == 0:
        raise CorpusError(f"no usable rows in {', '.join(report.inputs)}: dropped {dict(dropped) or report.dropped}")
    table = rows.table()
    rows.ids, rows.keys = {}, set()
    keep = sample_indices(cleaned, options.max_rows, options.sample_seed)
    if keep is not None:
        table = table.take(keep)
        dropped["over_max_rows"] = cleaned - len(keep)
        report.sample = {"max_rows": options.max_rows, "seed": options.sample_seed, "from_rows": cleaned}
    kept = range(cleaned) if keep is None else keep.tolist()
    report.dropped = {**report.dropped, **dict(sorted(dropped.items()))}
    report.kept = len(kept)
    report.changed = dict(sorted(Counter(note for i in kept for note in rows.notes.get(i, ())).items()))
    report.turns_dropped = int(sum(rows.turns_dropped[i] for i in kept))
    fp = corpus_fingerprint(table)  # given to datasets, which would otherwise pickle the whole table to hash it
    ds = datasets.Dataset(table, info=datasets.DatasetInfo(features=corpus_features()), fingerprint=fp)
    remember_fingerprint(ds, fp)
    report.messages = role_counts(ds)
    logger.info(_log_line(report))
    record_provenance(ds, report.options, report.sample)
    return ds, report


def _log_line(report: CorpusReport) -> str:
    turns = ", ".join(f"{n} {role}" for role, n in report.messages.items())
    line = (
        f"corpus: read {report.rows_read} rows, kept {report.kept} ({turns} turns), dropped {report.dropped}, "
        f"changed {report.changed}"
    )
    later = report.changed.get("later_turns_dropped")
    if later:
        line += (
            f"; multi_turn=first left out {report.turns_dropped} later turns of {later} conversations "
            "(multi_turn=all keeps them)"
        )
    elif report.turns_dropped:
        line += f"; {report.turns_dropped} turns after the last assistant reply left out"
    if report.sample:
        line += f"; a seeded sample of {report.kept} of {report.sample['from_rows']} cleaned rows"
    return line


# The content fingerprint of a corpus -> how the corpus stage made it (what a build records about its corpus).
_PROVENANCE: dict[str, dict] = {}


def record_provenance(ds, options: dict, sample: dict | None) -> None:
    _PROVENANCE[corpus_fingerprint(ds)] = {"shape": dict(options), "sample": sample}


def corpus_provenance(ds) -> dict:
    """How the corpus stage made ``ds``: ``{"shape": {multi_turn, system, system_side}, "sample": {max_rows, seed,
    from_rows} or None}``, when this process read it through :func:`load_corpus` or :func:`open_corpus` (a
    content fingerprint keys it); ``{}`` for a Dataset made elsewhere."""
    return _PROVENANCE.get(corpus_fingerprint(ds), {})


def summarize(ds, report: CorpusReport | None = None) -> dict[str, Any]:
    """Counts, drops by reason, changes, turns per row and length statistics (characters and words) per side."""
    out: dict[str, Any] = {"rows": len(ds)}
    if report is not None:
        out.update(
            rows_read=report.rows_read,
            dropped=report.dropped,
            changed=report.changed,
            formats=report.formats,
            options=report.options,
            sample=report.sample,
            errors_skipped=report.errors,
        )
    sources: Counter[str] = Counter()
    for chunk in _slices(ds, "source"):
        sources.update(chunk)
    out["sources"] = dict(sources.most_common(20))
    turns = turns_per_row(ds)
    has_system = "system" in ds.column_names
    out["turns"] = {
        "per_row": {"mean": round(float(turns.mean()), 3), "max": int(turns.max()), "shares": turn_shares(turns)},
        "messages": report.messages if report is not None else role_counts(ds),
        "dropped": report.turns_dropped if report is not None else None,
        "rows_with_system": sum(sum(1 for s in c if s) for c in _slices(ds, "system")) if has_system else 0,
    }
    for side in ("instruction", "response"):
        chars = np.zeros(len(ds), dtype=np.int64)
        words = np.zeros(len(ds), dtype=np.int64)
        start = 0
        for texts in _slices(ds, side):
            chars[start : start + len(texts)] = [len(t) for t in texts]
            words[start : start + len(texts)] = [len(t.split()) for t in texts]
            start += len(texts)
        out[side] = {
            unit: {
                "mean": round(float(a.mean()), 1),
                "median": float(np.median(a)),
                "p90": float(np.percentile(a, 90)),
                "max": int(a.max()),
            }
            for unit, a in (("chars", chars), ("words", words))
        }
    return out


def _slices(ds, name: str):
    """Column ``name`` as lists of strings, a slice of rows at a time (never the whole column at once)."""
    col = arrow_column(ds, name)
    for start in range(0, len(col), 16_384):
        yield col.slice(start, 16_384).to_pylist()


def save_corpus(ds, report: CorpusReport, folder: str | Path) -> dict[str, Any]:
    """Write the corpus (``dataset/``), ``summary.json`` (with the fingerprint) and ``report.json`` into ``folder``.

    Returns the summary.
    """
    from macro2micro.dataset_builder.utils import stable_json

    folder = Path(folder)
    ds.save_to_disk(str(folder / "dataset"))
    summary = summarize(ds, report)
    summary["fingerprint"] = corpus_fingerprint(ds)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    (folder / "report.json").write_text(stable_json(report.to_dict()))
    return summary


def _ingested(inner: Path, given: str):
    """The Dataset of an ingest folder, and its summary; a folder written before the ``system`` column gets an
    empty one."""
    import datasets

    ds = datasets.load_from_disk(str(inner))
    if isinstance(ds, datasets.DatasetDict):
        raise CorpusError(f"{inner}: expected one split, found {sorted(ds)}")
    missing = {"id", "source", "instruction", "response", "messages"} - set(ds.column_names)
    if missing:
        raise CorpusError(
            f"{given}: not a corpus folder written by `macro2micro ingest` (no columns {sorted(missing)})"
        )
    try:
        summary = json.loads((inner.parent / "summary.json").read_text())
    except (OSError, ValueError, RecursionError):  # not there, not JSON, nested too deeply: recomputed
        summary = {}
    if "system" not in ds.column_names:
        ds = ds.add_column("system", [""] * len(ds)).select_columns(list(CORPUS_COLUMNS))
    return ds, summary if isinstance(summary, dict) else {}


def open_corpus(options: CorpusOptions):
    """The corpus a stage works on: ``(dataset, fingerprint)``.

    A folder written by ``macro2micro ingest`` is opened as it is (memory-mapped Arrow, its recorded
    fingerprint; a ``max_rows`` sample of it when asked); anything else is read and cleaned by
    :func:`load_corpus` with ``options``.
    """
    from macro2micro.dataset_builder.models.assets import resolve_corpus

    inputs = [resolve_corpus(c) for c in options.corpus]
    inner = ingested_dataset(inputs[0]) if len(inputs) == 1 else None
    if inner is None:
        ds, _ = load_corpus(inputs, options)
        return ds, corpus_fingerprint(ds)
    ds, summary = _ingested(inner, inputs[0])
    fp = summary.get("fingerprint")
    if isinstance(fp, str) and re.fullmatch(r"[0-9a-f]{32}", fp):  # missing or edited: recomputed below
        remember_fingerprint(ds, fp)
    sample = summary.get("sample")
    keep = sample_indices(len(ds), options.max_rows, options.sample_seed)
    if keep is not None:
        sample = {"max_rows": options.max_rows, "seed": options.sample_seed, "from_rows": len(ds), "of_sample": sample}
        ds = ds.select(keep.tolist())
    fp = corpus_fingerprint(ds)
    options_read = summary.get("options")
    record_provenance(ds, options_read if isinstance(options_read, dict) else {}, sample)
    logger.info("corpus: %d rows from %s (fingerprint %s)", len(ds), inputs[0], fp)
    return ds, fp
