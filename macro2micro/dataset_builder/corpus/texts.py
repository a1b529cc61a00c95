"""One text column of a corpus read in slices from its Arrow table (memory-mapped when the corpus was
opened from an ingest folder), never as one Python list of every row.

:class:`ArrowTexts` is a read-only sequence of ``str``: ``len``, ``texts[i]``, ``texts[a:b]`` (a list),
iteration in chunks, :meth:`ArrowTexts.take` of given rows, and :meth:`ArrowTexts.byte_chunks`, the
UTF-8 bytes of given rows joined with a separator, chunk by chunk (what gzip and hashing read). Given rows are
taken within each chunk of the column (:func:`take_rows`): Arrow's take on a ChunkedArray concatenates its chunks
first, a copy of the whole column for every slice taken.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from macro2micro.dataset_builder.utils import stream_batches, whole_files

CHUNK_ROWS = 16_384  # rows per slice: a few MB of text at most, whatever the corpus size


def arrow_column(ds, name: str):
    """Column ``name`` of a Dataset (through its indices mapping) or of a ``pyarrow.Table``, as Arrow."""
    import pyarrow as pa

    if isinstance(ds, pa.Table):
        return ds.column(name)
    if getattr(ds, "_indices", None) is None and hasattr(ds, "data"):
        return ds.data.column(name)  # the table itself: zero-copy, memory-mapped from disk when it was saved
    return ds.with_format("arrow")[name]


def string_bytes(col, sep: bytes = b"\x00", between: bool = False) -> bytes:
    """The UTF-8 bytes of a string array's values, each followed by ``sep`` (``between``: only between two
    values), through Arrow's buffers (no Python loop)."""
    import pyarrow as pa

    if len(sep) != 1:
        raise ValueError(f"sep={sep!r}: one byte")
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if col.null_count:
        raise ValueError("string column has nulls")
    col = col.cast(pa.large_string())
    if not len(col):
        return b""
    offsets = np.frombuffer(col.buffers()[1], dtype=np.int64)[col.offset : col.offset + len(col) + 1]
    data = np.frombuffer(col.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    where = offsets[1:-1] if between else offsets[1:]
    return np.insert(data, where - offsets[0], np.frombuffer(sep, dtype=np.uint8)[0]).tobytes()


def take_rows(column, rows: np.ndarray):
    """``column.take(rows)`` (rows in any order, repeats allowed) as one Array, taken within each chunk of a
    ChunkedArray: Arrow's own take on a ChunkedArray first concatenates every chunk (a copy of the column)."""
    import pyarrow as pa

    rows = np.asarray(rows, dtype=np.int64)
    if not isinstance(column, pa.ChunkedArray):
        return column.take(rows)
    if len(rows) and (rows.min() < 0 or rows.max() >= len(column)):
        bad = rows[(rows < 0) | (rows >= len(column))][0]
        raise IndexError(f"row {bad} of {len(column)}")
    if column.num_chunks == 1:
        return column.chunk(0).take(rows)
    starts = np.cumsum([0] + [len(c) for c in column.chunks], dtype=np.int64)
    which = np.searchsorted(starts, rows, side="right") - 1  # the last chunk starting at or before a row: not empty
    order = np.argsort(which, kind="stable")
    taken, bounds = [], np.searchsorted(which[order], np.arange(column.num_chunks + 1))
    for c in range(column.num_chunks):
        if bounds[c] < bounds[c + 1]:
            taken.append(column.chunk(c).take(rows[order[bounds[c] : bounds[c + 1]]] - starts[c]))
    if not taken:
        return pa.array([], type=column.type)
    grouped = pa.concat_arrays(taken) if len(taken) > 1 else taken[0]
    if np.all(order[1:] > order[:-1]):  # the rows were already grouped by chunk
        return grouped
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    return grouped.take(back)


class ArrowTexts(Sequence):
    """The strings of one column, read from Arrow on demand.

    Args:
        column: a ``pyarrow`` string Array or ChunkedArray (e.g. :func:`arrow_column`).
        chunk_rows: rows per slice when iterating.
    """

    def __init__(self, column, chunk_rows: int = CHUNK_ROWS, files: list[str] | None = None, name: str = ""):
        self.column = column
        self.chunk_rows = chunk_rows
        self.files, self.name = files or [], name

    @classmethod
    def of(cls, ds, name: str, chunk_rows: int = CHUNK_ROWS) -> ArrowTexts:
        """Column ``name`` of a Dataset or table. A Dataset that is exactly its Arrow files (as ``load_from_disk``
        opens it) is read whole from those files in batches, not through its memory map: the pages a full pass
        touches would otherwise stay in the process's resident set."""
        return cls(arrow_column(ds, name), chunk_rows, whole_files(ds, [name]), name)

    def __len__(self) -> int:
        return len(self.column)

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if step != 1:
                return self.take(np.arange(start, stop, step))
            return self.column.slice(start, max(stop - start, 0)).to_pylist()
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"row {i} of {n}")
        return self.column[int(i) % n].as_py()

    def __iter__(self) -> Iterator[str]:
        for chunk in self.chunks():
            yield from chunk.to_pylist()

    def chunks(self, rows: np.ndarray | None = None) -> Iterator:
        """The column (or the given rows, in their order) as Arrow arrays of at most ``chunk_rows`` rows. Every row
        in order (``rows`` None or ``0 .. len - 1``) is read whole, from the files when there are any."""
        if rows is not None and self._every_row(rows):
            rows = None
        if rows is None and self.files:
            yield from self._whole()
            return
        if rows is None:
            for start in range(0, len(self), self.chunk_rows):
                yield self.column.slice(start, min(self.chunk_rows, len(self) - start))
            return
        rows = np.asarray(rows, dtype=np.int64)
        for start in range(0, len(rows), self.chunk_rows):
            yield take_rows(self.column, rows[start : start + self.chunk_rows])

    def _every_row(self, rows) -> bool:
        rows = np.asarray(rows)
        n = len(self)
        return len(rows) == n and (not n or (rows[0] == 0 and bool(np.all(np.diff(rows) == 1))))

    def _whole(self) -> Iterator:
        """The whole column, read from its files batch by batch, in slices of at most ``chunk_rows``."""
        for batch in stream_batches(self.files):
            col = batch.column(self.name)
            for start in range(0, len(col), self.chunk_rows):
                yield col.slice(start, self.chunk_rows)

    def only(self, rows) -> ArrowTexts:
        """These texts with just ``rows`` held, in memory: reads of those rows (by their row numbers here) are served
        from the copy. For a caller that reads the same scattered rows again and again: one row in ten read through
        the memory map brings most pages of the column into the resident set (a page holds a dozen rows), and a
        whole pass through the files costs one read of each.

        The copy is taken in one pass through the files when there are any, else row by row from the column.
        """
        import pyarrow as pa

        held = np.unique(np.asarray(rows, dtype=np.int64))
        if len(held) and (held[0] < 0 or held[-1] >= len(self)):
            raise IndexError(f"rows {held[0]} .. {held[-1]} of {len(self)}")
        if self.files:
            pieces, start = [], 0
            for chunk in self._whole():
                lo, hi = np.searchsorted(held, [start, start + len(chunk)])
                if hi > lo:
                    pieces.append(chunk.take(held[lo:hi] - start))
                start += len(chunk)
        else:
            pieces = list(self.chunks(held))
        return _Held(pa.chunked_array(pieces, type=self.column.type), held, len(self), self.chunk_rows)

    def take(self, rows) -> list[str]:
        """The strings of ``rows``, in that order."""
        return [s for chunk in self.chunks(np.asarray(rows, dtype=np.int64)) for s in chunk.to_pylist()]

    def byte_chunks(self, rows: np.ndarray | None = None, sep: bytes = b"\n") -> Iterator[bytes]:
        """``sep.join(texts of rows).encode()``, in pieces: their concatenation is exactly that string's bytes."""
        first = True
        for chunk in self.chunks(rows):
            if not len(chunk):
                continue
            if not first:
                yield sep
            first = False
            yield string_bytes(chunk, sep, between=True)


class _Held(ArrowTexts):
    """The rows ``held`` (sorted, distinct) of a column of ``length`` rows, addressed by their row numbers in it
    (:meth:`ArrowTexts.only`); reading any other row is an error."""

    def __init__(self, column, held: np.ndarray, length: int, chunk_rows: int = CHUNK_ROWS):
        super().__init__(column, chunk_rows)
        self.held, self.length = held, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.take(np.arange(*i.indices(len(self))))
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"row {i} of {n}")
        return self.column[int(self._positions(np.array([int(i) % n]))[0])].as_py()

    def chunks(self, rows: np.ndarray | None = None) -> Iterator:
        if rows is None:
            raise ValueError(f"{len(self.held)} of {len(self)} rows are held: name the rows to read")
        rows = np.asarray(rows, dtype=np.int64)
        for start in range(0, len(rows), self.chunk_rows):
            yield take_rows(self.column, self._positions(rows[start : start + self.chunk_rows]))

    def _positions(self, rows: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self.held, rows)
        missing = pos >= len(self.held)
        missing[~missing] = self.held[pos[~missing]] != rows[~missing]
        if missing.any():
            raise IndexError(f"row {rows[missing][0]} is not among the {len(self.held)} rows held")
        return pos
