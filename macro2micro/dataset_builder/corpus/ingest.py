"""The corpus stage: SFT data in any common layout -> one clean single-turn ``datasets.Dataset``.

Output columns: ``id``, ``source``, ``instruction``, ``response``, ``messages`` (user, assistant).
Readers are in :mod:`.readers`, formats and row checks in :mod:`.formats`. Bad input raises
:class:`CorpusError` naming the file, line or row, and field; with ``on_error="skip"`` such
rows are skipped and counted under ``invalid``.

A folder written by :func:`save_corpus` (``macro2micro ingest``) holds the rows and the corpus
fingerprint; :func:`open_corpus` reads it back without re-reading or re-hashing anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from macro2micro.dataset_builder.corpus.formats import (
    detect_format,
    drop_reason,
    normalize_whitespace,
    row_id,
    row_source,
    to_pair,
)
from macro2micro.dataset_builder.corpus.readers import (
    CorpusError,
    describe_input,
    expand_inputs,
    ingested_dataset,
    is_in_memory,
    iter_input,
)
from macro2micro.dataset_builder.options import CorpusOptions
from macro2micro.dataset_builder.utils import sha256_text

logger = logging.getLogger(__name__)

__all__ = [
    "CorpusError",
    "CorpusOptions",
    "CorpusReport",
    "column",
    "load_corpus",
    "open_corpus",
    "save_corpus",
    "corpus_fingerprint",
    "summarize",
    "corpus_features",
    "make_id",
    "normalize_whitespace",
]

MAX_ERRORS_KEPT = 20


@dataclass
class CorpusReport:
    """What ingestion read, kept and dropped (by reason), and the first errors it skipped."""

    inputs: list[str] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)
    rows_read: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)  # kept rows altered on the way in, by what
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def skip(self, err: CorpusError) -> None:
        """Count a bad row under ``invalid`` and keep its message (the first few)."""
        self.dropped["invalid"] = self.dropped.get("invalid", 0) + 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(str(err))


def column(ds, name: str) -> list:
    """A column of a Dataset as a list, through Arrow (``list(ds[name])`` reads row by row: 50x slower)."""
    return ds[name][:]


def make_id(instruction: str, response: str) -> str:
    """Stable content id: the first 16 hex digits of sha256(instruction, response)."""
    return sha256_text(instruction, response)[:16]


class _Rows:
    """The kept rows, with the duplicate and id checks that need what was kept before."""

    def __init__(self) -> None:
        self.columns: dict[str, list[str]] = {"id": [], "source": [], "instruction": [], "response": []}
        self.pairs: set[str] = set()
        self.ids: dict[str, str] = {}

    def add(
        self, given_id: str | None, source: str, instruction: str, response: str, options: CorpusOptions, where: str
    ) -> str | None:
        """Keep the row, or return why it is dropped; CorpusError for a reused id."""
        content_id = make_id(instruction, response)
        if options.dedup and content_id in self.pairs:
            return "duplicate"
        identifier = given_id if given_id is not None else content_id
        if identifier in self.ids:
            key = options.column_map.get("id", "id")
            raise CorpusError(f"{where}, field {key!r}: id {identifier!r} already used by {self.ids[identifier]}")
        self.pairs.add(content_id)
        self.ids[identifier] = where
        for column, value in zip(self.columns, (identifier, source, instruction, response), strict=True):
            self.columns[column].append(value)
        return None


def _read_item(item, options: CorpusOptions, report: CorpusReport, rows: _Rows, dropped: Counter) -> str:
    """Read one input into ``rows``; returns the format it was read as."""
    fmt = options.format
    if is_in_memory(item):
        default_source = options.source or item_name(item)
    else:
        default_source = options.source or (Path(item).stem if Path(item).exists() else str(item))

    def on_bad(err: CorpusError) -> None:  # a line that could not be read at all was still read
        report.rows_read += 1
        report.skip(err)

    n_item = 0
    kwargs = {"on_bad": on_bad} if options.on_error == "skip" else {}
    for where, record in iter_input(item, options.split, **kwargs):
        n_item += 1
        report.rows_read += 1
        try:
            if fmt == "auto":
                fmt = detect_format(record, where)
            notes: list[str] = []
            pair = to_pair(record, fmt, options, where, notes)
            if isinstance(pair, str):
                dropped[pair] += 1
                continue
            given_id, source = row_id(record, options, where), row_source(record, options, where)
            instruction, response = (normalize_whitespace(t) for t in pair)
            reason = drop_reason(instruction, response, options) or rows.add(
                given_id, source or default_source, instruction, response, options, where
            )
        except CorpusError as err:
            if options.on_error == "raise":
                raise
            report.skip(err)
            continue
        if reason:
            dropped[reason] += 1
        else:
            for note in notes:
                report.changed[note] = report.changed.get(note, 0) + 1
    if n_item == 0:
        raise CorpusError(f"{describe_input(item)}: holds no records")
    return fmt


def item_name(item) -> str:
    """The ``source`` of rows from an in-memory dataset that names none: its builder's name, else ``dataset``."""
    info = getattr(item, "info", None) or getattr(next(iter(item.values()), None), "info", None)
    return (
        getattr(info, "dataset_name", None) or getattr(info, "builder_name", None) or "dataset"
    ).strip() or "dataset"


def load_corpus(inputs, options: CorpusOptions | None = None):
    """Read, normalize and clean SFT data into a single-turn ``datasets.Dataset``.

    Args:
        inputs: one or more files, folders, saved-dataset folders, Hub dataset ids, or in-memory
            ``datasets.Dataset`` / ``DatasetDict`` objects (any supported record format).
        options: reading and cleaning options (see :class:`CorpusOptions`).

    Returns:
        ``(dataset, report)``: the Dataset with columns ``id, source, instruction, response,
        messages`` and a :class:`CorpusReport` of what was read, kept and dropped.
    """
    import datasets

    options = options or CorpusOptions()
    if isinstance(inputs, (str, Path)) or is_in_memory(inputs):
        inputs = [inputs]
    items = expand_inputs(inputs)
    if not items:
        raise CorpusError("no corpus inputs given")
    report = CorpusReport(inputs=[describe_input(i) for i in items])
    dropped: Counter[str] = Counter()
    rows = _Rows()
    for item in items:
        report.formats[describe_input(item)] = _read_item(item, options, report, rows, dropped)
    report.dropped = {**report.dropped, **dict(sorted(dropped.items()))}
    report.kept = len(rows.columns["id"])
    if report.kept == 0:
        raise CorpusError(f"no usable rows in {', '.join(report.inputs)}: dropped {report.dropped}")
    ds = datasets.Dataset(_arrow_table(rows.columns), info=datasets.DatasetInfo(features=corpus_features()))
    logger.info("corpus: read %d rows, kept %d, dropped %s", report.rows_read, report.kept, report.dropped)
    return ds, report


def _arrow_table(columns: dict[str, list[str]]):
    """The corpus as an Arrow table, ``messages`` built column-wise (datasets' per-row encoding costs 20 s at 117K)."""
    import pyarrow as pa

    n = len(columns["id"])
    contents = [None] * (2 * n)
    contents[0::2], contents[1::2] = columns["instruction"], columns["response"]
    roles = pa.array(["user", "assistant"] * n, type=pa.string())
    turns = pa.StructArray.from_arrays([roles, pa.array(contents, type=pa.string())], names=["role", "content"])
    messages = pa.ListArray.from_arrays(pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32)), turns)
    return pa.table({**{k: pa.array(v, type=pa.string()) for k, v in columns.items()}, "messages": messages})


def corpus_features():
    import datasets

    message = {"role": datasets.Value("string"), "content": datasets.Value("string")}
    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "source": datasets.Value("string"),
            "instruction": datasets.Value("string"),
            "response": datasets.Value("string"),
            "messages": datasets.List(message),
        }
    )


# datasets' in-process fingerprint of a Dataset -> our content fingerprint (hashing costs seconds at 117K rows).
_FINGERPRINTS: dict[str, str] = {}


def _column_bytes(ds, column: str) -> bytes:
    """Every value of a string column followed by a NUL byte, concatenated (through Arrow, no Python loop)."""
    import pyarrow as pa

    col = ds.with_format("arrow")[column].combine_chunks()  # through the indices of a select()ed Dataset
    if col.null_count:
        raise ValueError(f"column {column!r} has nulls")
    col = col.cast(pa.large_string())
    offsets = np.frombuffer(col.buffers()[1], dtype=np.int64)[col.offset : col.offset + len(col) + 1]
    data = np.frombuffer(col.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return np.insert(data, offsets[1:] - offsets[0], 0).tobytes()


def corpus_fingerprint(ds) -> str:
    """Content hash of a corpus (ids and both texts, in order): keys every feature cache.

    sha256 over each value followed by a NUL, a ``\\x01`` after each column; memoized per Dataset.
    """
    key = getattr(ds, "_fingerprint", None)
    if key in _FINGERPRINTS:
        return _FINGERPRINTS[key]
    h = hashlib.sha256()
    for column in ("id", "instruction", "response"):
        h.update(_column_bytes(ds, column))
        h.update(b"\x01")
    fp = h.hexdigest()[:32]
    if key is not None:
        _FINGERPRINTS[key] = fp
    return fp


def summarize(ds, report: CorpusReport | None = None) -> dict[str, Any]:
    """Counts, drops by reason and length statistics (characters and words) per side."""
    out: dict[str, Any] = {"rows": len(ds)}
    if report is not None:
        out.update(
            rows_read=report.rows_read,
            dropped=report.dropped,
            changed=report.changed,
            formats=report.formats,
            errors_skipped=report.errors,
        )
    out["sources"] = dict(Counter(column(ds, "source")).most_common(20))
    for side in ("instruction", "response"):
        texts = column(ds, side)
        chars = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        words = np.fromiter((len(t.split()) for t in texts), dtype=np.int64, count=len(texts))
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


def open_corpus(options: CorpusOptions):
    """The corpus a stage works on: ``(dataset, fingerprint)``.

    A folder written by ``macro2micro ingest`` is opened as it is (memory-mapped Arrow, its
    recorded fingerprint); anything else is read and cleaned by :func:`load_corpus` with ``options``.
    """
    import datasets

    from macro2micro.dataset_builder.models.assets import resolve_corpus

    inputs = [resolve_corpus(c) for c in options.corpus]
    inner = ingested_dataset(inputs[0]) if len(inputs) == 1 else None
    if inner is None:
        ds, _ = load_corpus(inputs, options)
        return ds, corpus_fingerprint(ds)
    ds = datasets.load_from_disk(str(inner))
    if isinstance(ds, datasets.DatasetDict):
        raise CorpusError(f"{inner}: expected one split, found {sorted(ds)}")
    missing = {"id", "source", "instruction", "response", "messages"} - set(ds.column_names)
    if missing:
        raise CorpusError(
            f"{inputs[0]}: not a corpus folder written by `macro2micro ingest` (no columns {sorted(missing)})"
        )
    summary_file = inner.parent / "summary.json"
    try:
        fp = json.loads(summary_file.read_text())["fingerprint"]
    except (OSError, KeyError, TypeError, ValueError, RecursionError):
        fp = None
    if not (isinstance(fp, str) and re.fullmatch(r"[0-9a-f]{32}", fp)):  # missing or edited: recomputed
        fp = None
    if fp is None:
        fp = corpus_fingerprint(ds)
    elif getattr(ds, "_fingerprint", None):
        _FINGERPRINTS[ds._fingerprint] = fp
    logger.info("corpus: %d rows from %s (fingerprint %s)", len(ds), inputs[0], fp)
    return ds, fp
