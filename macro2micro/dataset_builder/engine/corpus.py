"""Ingest on Ray Data: records read and cleaned in parallel blocks, the checks that need every row on the driver.

A block is a range of lines of an (uncompressed) JSONL file, or one whole file of another kind. A worker reads
its records with the local reader (:func:`~macro2micro.dataset_builder.corpus.readers._iter_jsonl` over its
lines, :func:`~macro2micro.dataset_builder.corpus.readers.iter_input` for a whole file) and cleans each with the
local cleaning (:func:`~macro2micro.dataset_builder.corpus.formats.to_row`, ids, sources): multi-turn rows, the
system column and turn counts are those of the local engine. What needs the rows kept before (duplicates, reused
ids) runs on the driver, over the blocks in input order, through the local engine's own ``KeptRows``. A bad row
comes back as data, not as a Ray traceback, and is raised (or skipped) at its place in that order: the same
error, with the same one-line message naming file, line or row and field, as the local engine's.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from macro2micro.dataset_builder.corpus.conversations import Row
from macro2micro.dataset_builder.corpus.formats import detect_format, row_id, row_source, to_row
from macro2micro.dataset_builder.corpus.ingest import (
    SHAPE_OPTIONS,
    CorpusReport,
    finish_corpus,
)
from macro2micro.dataset_builder.corpus.kept import KeptRows
from macro2micro.dataset_builder.corpus.readers import (
    CorpusError,
    _iter_jsonl,
    _Stream,
    data_suffix,
    describe_input,
    expand_inputs,
    is_in_memory,
    iter_input,
)
from macro2micro.dataset_builder.engine.cluster import ray_session
from macro2micro.dataset_builder.engine.options import EngineOptions
from macro2micro.dataset_builder.options import CorpusOptions

logger = logging.getLogger(__name__)


class _Lines(_Stream):
    """Lines ``first..`` of a plain file, from byte ``start`` to ``end`` (both at line starts)."""

    def __init__(self, path: Path, start: int, end: int, first: int):
        super().__init__(path, None)
        self.start, self.end, self.first = start, end, first

    def lines(self):
        with open(self.path, "rb") as f:
            f.seek(self.start)
            data = f.read(self.end - self.start)
        parts = data.split(b"\n")
        for i, raw in enumerate(parts[:-1] if data.endswith(b"\n") else parts):
            yield self.first + i, raw + b"\n"


def _line_blocks(path: Path, rows: int) -> list[tuple[int, int, int]]:
    """``(start byte, end byte, first line)`` of blocks of ``rows`` lines, scanned in 64 MB pieces."""
    starts, base = [0], 0
    with open(path, "rb") as f:
        while piece := f.read(1 << 26):
            starts.extend((np.flatnonzero(np.frombuffer(piece, np.uint8) == 10) + base + 1).tolist())
            base += len(piece)
    if starts[-1] == base:
        starts.pop()  # the file ends with a newline: no line starts there
    cuts = starts[::rows] + [base]
    return [(cuts[i], cuts[i + 1], 1 + i * rows) for i in range(len(cuts) - 1)]


def plan(items: list, options: CorpusOptions, rows: int) -> list[dict[str, Any]]:
    """The blocks of every input, in input order, each with its input's format (detected as the local engine
    does: from the input's first record; an error before it raises here, as it would there)."""
    blocks = []
    for n, item in enumerate(items):
        path = Path(item)
        fmt: str = options.format
        kwargs = {"on_bad": lambda err: None} if options.on_error == "skip" else {}
        for where, record in iter_input(item, options.split, **kwargs) if fmt == "auto" else ():
            try:
                fmt = detect_format(record, where)
                break
            except CorpusError:
                if options.on_error == "raise":
                    raise
        base = {"item": n, "path": str(path), "fmt": fmt}
        ranges = _line_blocks(path, rows) if data_suffix(path) == (".jsonl", None) and path.is_file() else []
        if ranges:
            blocks += [{**base, "start": s, "end": e, "first": f} for s, e, f in ranges]
        else:  # another kind of file (or an empty one: the local reader says what is wrong with it)
            blocks.append({**base, "start": -1, "end": -1, "first": -1})
    for i, block in enumerate(blocks):
        block["block"] = i
    return blocks


def clean_block(batch, options: CorpusOptions) -> dict[str, list]:
    """Read and clean the records of the blocks of ``batch``: one output row per record (or unreadable line)."""
    out: dict[str, list] = {k: [] for k in ("block", "kind", "text", "id", "source", "row")}

    def emit(block: int, kind: str, text: str = "", given=None, source=None, row=None) -> None:
        for key, value in zip(out, (block, kind, text, given, source, row), strict=True):
            out[key].append(value)

    for b in range(len(batch["block"])):
        block, path, fmt = int(batch["block"][b]), Path(str(batch["path"][b])), str(batch["fmt"][b])
        start, end, first = (int(batch[k][b]) for k in ("start", "end", "first"))
        skip = options.on_error == "skip"
        kwargs = {"on_bad": lambda err, block=block: emit(block, "bad", str(err))} if skip else {}
        try:
            if start >= 0:
                records = _iter_jsonl(path, _Lines(path, start, end, first), kwargs.get("on_bad", _raise))
            else:
                records = iter_input(str(path), options.split, **kwargs)
            for where, record in records:
                try:
                    if fmt == "auto":
                        fmt = detect_format(record, where)
                    row = to_row(record, fmt, options, where)
                    if isinstance(row, str):
                        emit(block, "drop", row)
                        continue
                    given, source = row_id(record, options, where), row_source(record, options, where)
                except CorpusError as err:
                    if not skip:
                        raise
                    emit(block, "invalid", str(err))
                    continue
                cells = [row.system, row.instruction, row.response, row.messages, row.notes, row.turns_dropped]
                emit(block, "row", where, given, source, cells)
        except CorpusError as err:  # the block stops here, as the local reader would
            emit(block, "error", str(err))
    return {**out, "row": [None if r is None else json.dumps(r) for r in out["row"]]}


def _raise(err: CorpusError) -> None:
    raise err


def _fold(
    results, options: CorpusOptions, report: CorpusReport, rows: KeptRows, dropped: Counter, default: str
) -> int:
    """One input's records, in order, into the kept rows and the report: what ``_read_item`` does after reading.
    Returns how many records the input held (lines that could not be read at all are not records)."""
    records = 0
    for r in results:
        kind = r["kind"]
        if kind == "error":
            raise CorpusError(r["text"])
        report.rows_read += 1
        records += kind != "bad"
        if kind in ("bad", "invalid"):
            report.skip(CorpusError(r["text"]))
        elif kind == "drop":
            dropped[r["text"]] += 1
        else:
            system, instruction, response, messages, notes, turns_dropped = json.loads(r["row"])
            row = Row(system, instruction, response, [tuple(t) for t in messages], notes, turns_dropped)
            try:
                reason = rows.add(r["id"], r["source"] or default, row, options, r["text"])
            except CorpusError as err:
                if options.on_error == "raise":
                    raise
                report.skip(err)
                continue
            if reason:
                dropped[reason] += 1
    return records


def load_corpus_ray(inputs, options: CorpusOptions, engine: EngineOptions):
    """:func:`~macro2micro.dataset_builder.corpus.ingest.load_corpus` on Ray Data: the same Dataset and report.

    Inputs that are not local files (in-memory datasets, saved-dataset folders, Hub ids) are read by the local
    engine, in this process.
    """

    from macro2micro.dataset_builder.corpus.ingest import load_corpus

    items = expand_inputs([inputs] if isinstance(inputs, (str, Path)) or is_in_memory(inputs) else inputs)
    if not items or any(is_in_memory(i) or not Path(i).is_file() for i in items):
        logger.info("ray engine: not every input is a local file; reading them in this process")
        return load_corpus(inputs, options)
    blocks = plan(items, options, engine.ray_block_rows)
    report = CorpusReport(
        inputs=[describe_input(i) for i in items], options={k: getattr(options, k) for k in SHAPE_OPTIONS}
    )
    dropped: Counter[str] = Counter()
    rows = KeptRows()
    item_of = {b["block"]: b["item"] for b in blocks}
    fmt_of = {b["item"]: b["fmt"] for b in blocks}
    with ray_session(engine) as ray:
        context = ray.data.DataContext.get_current()
        ordered, context.execution_options.preserve_order = context.execution_options.preserve_order, True
        try:  # the blocks' records stream back in input order: the driver holds one batch of them, not all
            parts = ray.data.from_items(blocks, override_num_blocks=len(blocks)).map_batches(
                clean_block, batch_size=1, batch_format="pandas", fn_kwargs={"options": options}
            )
            groups = itertools.groupby(parts.iter_rows(), key=lambda r: item_of[r["block"]])
            pending = next(groups, None)
            for n, item in enumerate(items):
                report.formats[describe_input(item)] = fmt_of[n]
                records = 0
                rows.start_input(Path(item).stem.split(".")[0])
                if pending is not None and pending[0] == n:
                    default = options.source or Path(item).stem.split(".")[0]
                    records = _fold(pending[1], options, report, rows, dropped, default)
                    pending = next(groups, None)
                if not records:
                    raise CorpusError(f"{describe_input(item)}: holds no records")
        finally:
            context.execution_options.preserve_order = ordered
    return finish_corpus(rows, dropped, report, options)
