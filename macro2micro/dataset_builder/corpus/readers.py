"""Readers: corpus inputs -> ``(where, record)`` pairs, ``where`` naming the file and line or row.

Inputs are JSONL, JSON, Parquet and CSV files, folders of them, a folder written by
``macro2micro ingest`` or ``Dataset.save_to_disk``, and Hub dataset ids. A record that cannot be
read at all (malformed JSON, bad bytes) raises :class:`CorpusError` or, under
``on_error="skip"``, is reported through ``on_bad`` and skipped.
"""

from __future__ import annotations

import csv
import io
import json
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from macro2micro.dataset_builder.errors import CorpusError

FILE_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")
DEFAULT_SPLIT = "train"
# The folder `macro2micro ingest` writes holds the rows here.
INGESTED_DATASET = "dataset"
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


Record = tuple[str, Any]
OnBad = Callable[[CorpusError], None]


def _raise(err: CorpusError) -> None:
    raise err


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise CorpusError(
            f"{where}, line {line}: bytes are not valid UTF-8 ({err.reason} at byte "
            f"{err.start}); re-encode the file as UTF-8"
        ) from None


def _loads(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        line = f", line {err.lineno}" if "line" not in where else ""
        msg = err.msg.removesuffix(" at")  # "Unterminated string starting at" + " at column 5": no doubled word
        raise CorpusError(f"{where}{line}: malformed JSON ({msg} at column {err.colno})") from None
    except RecursionError:
        raise CorpusError(f"{where}: JSON nested too deeply to read") from None


def _jsonl_records(path: Path, lines: Iterable[bytes], on_bad: OnBad) -> Iterator[Record]:
    for lineno, raw in enumerate(lines, start=1):
        where = f"{path}, line {lineno}"
        try:
            line = raw.decode("utf-8-sig").rstrip("\r\n")  # a column past the end would point at the newline
            if line.strip():
                yield where, _loads(line, where)
        except UnicodeDecodeError as err:
            on_bad(CorpusError(f"{where}: bytes are not valid UTF-8 ({err.reason} at byte {err.start})"))
        except CorpusError as err:
            on_bad(err)


def _iter_jsonl(path: Path, on_bad: OnBad) -> Iterator[Record]:
    with open(path, "rb") as f:
        yield from _jsonl_records(path, f, on_bad)


def _iter_json(path: Path, raw: bytes | None = None) -> Iterator[Record]:
    data = _loads(_decode(path.read_bytes() if raw is None else raw, str(path)), str(path))
    if isinstance(data, dict):
        lists = [key for key, value in data.items() if isinstance(value, list)]
        if len(lists) != 1:
            raise CorpusError(
                f"{path}: expected a JSON list of records (or an object holding exactly one "
                f"list), got an object with keys {sorted(data)[:10]}"
            )
        data = data[lists[0]]
    if not isinstance(data, list):
        raise CorpusError(f"{path}: expected a JSON list of records, got {type(data).__name__}")
    for i, record in enumerate(data):
        yield f"{path}, record {i}", record


def _iter_csv(path: Path, raw: bytes | None = None) -> Iterator[Record]:
    reader = csv.DictReader(io.StringIO(_decode(path.read_bytes() if raw is None else raw, str(path)), newline=""))
    if reader.fieldnames is None:
        return
    try:
        for record in reader:
            yield f"{path}, line {reader.line_num}", record
    except csv.Error as err:
        raise CorpusError(f"{path}, line {reader.line_num}: malformed CSV ({err})") from None


def _iter_parquet(path: Path) -> Iterator[Record]:
    import pyarrow.parquet as pq

    try:
        pfile = pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises several types for a broken file
        raise CorpusError(f"{path}: not a readable Parquet file ({err})") from None
    row = 0
    for batch in pfile.iter_batches(batch_size=4096):
        for record in batch.to_pylist():
            yield f"{path}, row {row}", record
            row += 1


def _iter_stream(path: Path, on_bad: OnBad) -> Iterator[Record]:
    """A FIFO, ``/dev/stdin`` or another stream: read once to its end, as its suffix says (JSONL, JSON, CSV) or,
    with none, as JSON when the whole parses as a list or an object, else as JSON lines."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        raise CorpusError(
            f"{path}: a stream (not a regular file) cannot be read as Parquet, which needs random access: "
            "save it to a file first"
        )
    if suffix and suffix not in FILE_SUFFIXES:
        raise CorpusError(f"{path}: unsupported file type {suffix!r}; valid: {', '.join(FILE_SUFFIXES)}")
    raw = path.read_bytes()
    if not raw.strip():
        raise CorpusError(f"{path}: the stream (not a regular file) ended without any data")
    if suffix == ".csv":
        yield from _iter_csv(path, raw)
        return
    whole = suffix == ".json"
    if not suffix:
        try:
            whole = isinstance(json.loads(raw.decode("utf-8-sig")), list | dict)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            whole = False  # one record per line, or broken: the JSONL reader names the line
    if whole:
        yield from _iter_json(path, raw)
    else:
        yield from _jsonl_records(path, raw.splitlines(keepends=True), on_bad)


def is_saved_dataset(path: Path) -> bool:
    return (path / "state.json").exists() or (path / "dataset_dict.json").exists()


def ingested_dataset(path: str | Path) -> Path | None:
    """The datasets folder inside a folder written by ``macro2micro ingest``, or None."""
    path = Path(path)
    inner = path / INGESTED_DATASET
    if path.is_dir() and not is_saved_dataset(path) and is_saved_dataset(inner):
        return inner
    return None


def _visible_files(folder: Path) -> list[Path]:
    """Data files under a folder, skipping hidden entries (temporary and lock files of ours among them)."""
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).parts
        if p.is_file() and p.suffix.lower() in FILE_SUFFIXES and not any(part.startswith(".") for part in rel):
            out.append(p)
    return out


def is_in_memory(item: Any) -> bool:
    """A ``datasets.Dataset`` or ``DatasetDict`` given in memory (Python API)."""
    return type(item).__module__.startswith("datasets.") and hasattr(item, "column_names")


def describe_input(item: Any) -> str:
    """How an input is named in messages and reports: its path or id, or what an in-memory dataset is."""
    if not is_in_memory(item):
        return str(item)
    rows = item.num_rows if isinstance(item.num_rows, int) else sum(item.num_rows.values())
    return f"<{type(item).__name__} of {rows} rows>"


def expand_inputs(inputs: Iterable[Any]) -> list[Any]:
    """Folders of data files -> their files; in-memory datasets and everything else as given."""
    out: list[Any] = []
    for item in inputs:
        if is_in_memory(item):
            out.append(item)
            continue
        path = Path(item)
        inner = ingested_dataset(path)
        if inner is not None:
            out.append(inner)
        elif path.is_dir() and not is_saved_dataset(path):
            files = _visible_files(path)
            if not files:
                raise CorpusError(
                    f"{path}: folder holds no {', '.join(FILE_SUFFIXES)} files and is not a saved datasets folder"
                )
            out.extend(files)
        else:
            out.append(item)
    return out


def looks_like_hub_id(item: str) -> bool:
    """``org/name`` that is not a local path (no file suffix, no existing first folder)."""
    text = str(item)
    return (
        bool(_HUB_ID.fullmatch(text))
        and not text.lower().endswith(FILE_SUFFIXES)
        and not Path(text.split("/", 1)[0]).exists()
    )


def _iter_dataset(loaded: Any, name: str, split: str) -> Iterator[Record]:
    """The rows of a Dataset, or of one split of a DatasetDict, each named by its row number."""
    import datasets

    if isinstance(loaded, datasets.DatasetDict):
        if split not in loaded:
            raise CorpusError(f"{name}: no split {split!r}; available: {sorted(loaded)} (split)")
        loaded = loaded[split]
    elif split != DEFAULT_SPLIT:
        raise CorpusError(f"{name}: holds one split, not a DatasetDict; split={split!r} does not apply")
    for i, record in enumerate(loaded):
        yield f"{name}, row {i}", record


def iter_input(item: Any, split: str = DEFAULT_SPLIT, on_bad: OnBad = _raise) -> Iterator[Record]:
    """The records of one input (after :func:`expand_inputs`)."""
    if is_in_memory(item):
        yield from _iter_dataset(item, describe_input(item), split)
        return
    path = Path(item)
    if path.is_dir():
        import datasets

        yield from _iter_dataset(datasets.load_from_disk(str(path)), str(path), split)
        return
    if path.exists():
        if split != DEFAULT_SPLIT:
            raise CorpusError(f"{path}: --split {split} applies to saved DatasetDict folders and Hub ids, not files")
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or /dev/stdin: its size says nothing of its data
            yield from _iter_stream(path, on_bad)
            return
        if path.stat().st_size == 0:
            raise CorpusError(f"{path}: file is empty")
        readers = {
            ".jsonl": lambda: _iter_jsonl(path, on_bad),
            ".json": lambda: _iter_json(path),
            ".csv": lambda: _iter_csv(path),
            ".parquet": lambda: _iter_parquet(path),
        }
        suffix = path.suffix.lower()
        if suffix not in readers:
            raise CorpusError(
                f"{path}: unsupported file type {suffix!r}; valid: {', '.join(FILE_SUFFIXES)}, "
                "a saved datasets folder, or a Hub dataset id"
            )
        yield from readers[suffix]()
        return
    if looks_like_hub_id(str(item)):
        import datasets

        try:
            ds = datasets.load_dataset(str(item), split=split)
        except Exception as err:  # offline, missing, private: one line naming the id
            reason = str(err).splitlines()[0][:300] if str(err) else type(err).__name__
            raise CorpusError(f"{item}: neither a local path nor a loadable Hub dataset ({reason})") from None
        for i, record in enumerate(ds):
            yield f"{item}, row {i}", record
        return
    raise CorpusError(f"{item}: no such file or folder (and not a Hub dataset id of the form org/name)")
