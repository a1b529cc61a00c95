"""Readers: corpus inputs -> ``(where, record)`` pairs, ``where`` naming the file and line or row.

Inputs are JSONL, JSON, Parquet and CSV files, folders of them, a folder written by
``macro2micro ingest`` or ``Dataset.save_to_disk``, and Hub dataset ids. JSONL, JSON and CSV files
may be compressed, recognized by their last suffix (``.jsonl.gz``, ``.json.bz2``, ``.csv.zst``);
JSONL and CSV are streamed line by line through the decompressor (a JSON array is read whole, as
uncompressed). zstd needs the ``zstandard`` package (``pip install 'macro2micro[zstd]'``); gzip and
bz2 are in the standard library. A record that cannot be read at all (malformed JSON, bad bytes)
raises :class:`CorpusError` or, under ``on_error="skip"``, is reported through ``on_bad`` and
skipped; a broken or truncated compressed stream stops the read with an error naming the line.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from macro2micro.dataset_builder.errors import CorpusError

FILE_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")
# The compressions read by suffix, around a text format (Parquet compresses inside the file).
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}
TEXT_SUFFIXES = (".jsonl", ".json", ".csv")
DATA_SUFFIXES = FILE_SUFFIXES + tuple(f"{s}{c}" for s in TEXT_SUFFIXES for c in COMPRESSIONS)
DEFAULT_SPLIT = "train"
# The folder `macro2micro ingest` writes holds the rows here.
INGESTED_DATASET = "dataset"
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


Record = tuple[str, Any]
OnBad = Callable[[CorpusError], None]


def _raise(err: CorpusError) -> None:
    raise err


def data_suffix(path: Path) -> tuple[str, str | None]:
    """``("x.jsonl.gz")`` -> ``(".jsonl", "gzip")``; ``("x.csv")`` -> ``(".csv", None)`` (suffixes lower-cased)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSIONS:
        return (suffixes[-2] if len(suffixes) > 1 else ""), COMPRESSIONS[suffixes[-1]]
    return (suffixes[-1] if suffixes else ""), None


class _ZstdReader(io.RawIOBase):
    """zstd frames decompressed as a raw stream; input that stops inside a frame raises EOFError (zstandard's own
    stream reader returns what it has and no error: a truncated file would read as a shorter one)."""

    CHUNK = 1 << 17

    def __init__(self, raw: BinaryIO, zstandard):
        self.raw, self.zstandard = raw, zstandard
        self.obj = zstandard.ZstdDecompressor().decompressobj()
        self.pending = b""
        self.started = False  # inside a frame: some input of it was fed

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending:
            data = self.raw.read(self.CHUNK)
            if not data:
                if self.started:
                    raise EOFError("the zstd stream ends inside a frame")
                return 0
            try:
                while data:
                    self.started = True
                    self.pending += self.obj.decompress(data)
                    data = b""
                    if self.obj.eof:  # a frame ended; the rest of the input starts the next one
                        data, self.started = self.obj.unused_data, False
                        self.obj = self.zstandard.ZstdDecompressor().decompressobj()
            except self.zstandard.ZstdError as err:
                raise ValueError(str(err)) from None
        n = min(len(buffer), len(self.pending))
        buffer[:n], self.pending = self.pending[:n], self.pending[n:]
        return n


class _Stream:
    """A file's bytes, decompressed by suffix, that turns decompression failures into located CorpusErrors."""

    _BROKEN = (OSError, EOFError, zlib.error, ValueError)  # what gzip, bz2 and _ZstdReader raise on bad data

    def __init__(self, path: Path, compression: str | None):
        self.path, self.compression = path, compression

    @contextlib.contextmanager
    def open(self) -> Iterator[io.BufferedIOBase]:
        if self.compression is None:
            with open(self.path, "rb") as f:
                yield f
        elif self.compression == "gzip":
            import gzip

            with gzip.open(self.path, "rb") as f:
                yield f
        elif self.compression == "bz2":
            import bz2

            with bz2.open(self.path, "rb") as f:
                yield f
        else:
            from macro2micro.dataset_builder.utils import require

            zstandard = require("zstandard")
            with open(self.path, "rb") as raw, io.BufferedReader(_ZstdReader(raw, zstandard)) as f:
                yield f

    def broken(self, err: Exception, line: int | None) -> CorpusError:
        at = f", line {line}" if line else ""
        if isinstance(err, EOFError):
            return CorpusError(f"{self.path}{at}: the {self.compression} stream ends early (truncated file?)")
        return CorpusError(f"{self.path}{at}: not a valid {self.compression} stream ({err})")

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """``(line number, raw line)``, streamed; a broken compressed stream raises a CorpusError naming the line."""
        lineno = 0
        with self.open() as f:
            it = iter(f)
            while True:
                try:
                    raw = next(it)
                except StopIteration:
                    return
                except self._BROKEN as err:
                    if self.compression is None:
                        raise
                    raise self.broken(err, lineno + 1) from None
                lineno += 1
                yield lineno, raw

    def read(self) -> bytes:
        try:
            with self.open() as f:
                return f.read()
        except self._BROKEN as err:
            if self.compression is None:
                raise
            raise self.broken(err, None) from None


class _Bytes(_Stream):
    """Bytes already read (``/dev/stdin`` can be read only once), served like a file's."""

    def __init__(self, path: Path, data: bytes):
        super().__init__(path, None)
        self.data = data

    @contextlib.contextmanager
    def open(self) -> Iterator[io.BufferedIOBase]:
        yield io.BytesIO(self.data)


def _sniffed(path: Path) -> tuple[str, _Stream]:
    """A stream with no file type (``/dev/stdin``), read once: a JSON array, else JSON lines."""
    data = path.read_bytes()
    if not data.strip():
        raise CorpusError(f"{path}: the stream (not a regular file) ended without any data")
    return (".json" if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[") else ".jsonl"), _Bytes(path, data)


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


def _iter_jsonl(path: Path, stream: _Stream, on_bad: OnBad) -> Iterator[Record]:
    for lineno, raw in stream.lines():
        where = f"{path}, line {lineno}"
        try:
            # utf-8-sig on line 1 only: a BOM is a file's first bytes; a column past the end would point at the newline
            line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8").rstrip("\r\n")
            if line.strip():
                yield where, _loads(line, where)
        except UnicodeDecodeError as err:
            on_bad(CorpusError(f"{where}: bytes are not valid UTF-8 ({err.reason} at byte {err.start})"))
        except CorpusError as err:
            on_bad(err)


def _iter_json(path: Path, stream: _Stream) -> Iterator[Record]:
    data = _loads(_decode(stream.read(), str(path)), str(path))
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


def _text_lines(path: Path, stream: _Stream) -> Iterator[str]:
    """Decoded lines, streamed (a newline byte never occurs inside a UTF-8 character, so lines split safely)."""
    for lineno, raw in stream.lines():
        try:
            yield raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as err:
            raise CorpusError(
                f"{path}, line {lineno}: bytes are not valid UTF-8 ({err.reason} at byte {err.start}); "
                "re-encode the file as UTF-8"
            ) from None


def _iter_csv(path: Path, stream: _Stream) -> Iterator[Record]:
    reader = csv.DictReader(_text_lines(path, stream))
    try:
        if reader.fieldnames is None:
            return
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
        if p.is_file() and p.name.lower().endswith(DATA_SUFFIXES) and not any(part.startswith(".") for part in rel):
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
                    f"{path}: folder holds no {', '.join(FILE_SUFFIXES)} files (nor .gz, .bz2, .zst ones) and is "
                    "not a saved datasets folder"
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
        and not text.lower().endswith(DATA_SUFFIXES)
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
        regular = stat.S_ISREG(path.stat().st_mode)  # a FIFO or /dev/stdin: its size says nothing of its data
        if regular and path.stat().st_size == 0:
            raise CorpusError(f"{path}: file is empty")
        suffix, compression = data_suffix(path)
        stream = _Stream(path, compression)
        if not regular and suffix == ".parquet":
            raise CorpusError(f"{path}: a stream (not a regular file) cannot be read as Parquet: save it to a file")
        if not regular and not suffix and not compression:
            suffix, stream = _sniffed(path)
        readers = {
            ".jsonl": lambda: _iter_jsonl(path, stream, on_bad),
            ".json": lambda: _iter_json(path, stream),
            ".csv": lambda: _iter_csv(path, stream),
            ".parquet": lambda: _iter_parquet(path),
        }
        if suffix not in readers or (compression and suffix not in TEXT_SUFFIXES):
            name = "".join(path.suffixes[-2:]) if compression else suffix
            raise CorpusError(
                f"{path}: unsupported file type {name!r}; valid: {', '.join(FILE_SUFFIXES)}, and "
                f"{', '.join(TEXT_SUFFIXES)} compressed as {', '.join(COMPRESSIONS)}; a saved datasets folder, "
                "or a Hub dataset id"
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
