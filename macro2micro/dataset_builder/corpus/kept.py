"""The rows ingestion keeps: Arrow batches made as rows arrive (a few thousand rows at a time are Python strings,
never the whole corpus), the duplicate and id checks, and what was changed on the way in."""

from __future__ import annotations

from macro2micro.dataset_builder.corpus.conversations import Row
from macro2micro.dataset_builder.corpus.readers import CorpusError
from macro2micro.dataset_builder.corpus.table import TEXT_COLUMNS, arrow_table, row_key
from macro2micro.dataset_builder.options import CorpusOptions


class KeptRows:
    """The kept rows, turned into Arrow batches as they arrive, with the duplicate and id checks that need what
    was kept before."""

    BATCH_ROWS = 8192  # rows held as Python strings before they become an Arrow batch

    def __init__(self) -> None:
        self.batches: list = []
        self.n = 0
        self.notes: dict[int, list[str]] = {}  # row -> what was changed on the way in (rows with a change only)
        self.turns_dropped: list[int] = []
        self.keys: set[str] = set()
        self.ids: dict[str, tuple[str, int]] = {}  # id -> (where it was given, its input's number)
        self.input = (0, "")  # the input being read: (number, name)
        self._fresh()

    def start_input(self, name: str) -> None:
        """Rows from now on come from the next input, called ``name`` (its file name without suffixes)."""
        self.input = (self.input[0] + 1, name)

    def _fresh(self) -> None:
        self.columns: dict[str, list[str]] = {name: [] for name in TEXT_COLUMNS}
        self.roles: list[str] = []
        self.contents: list[str] = []
        self.counts: list[int] = []

    def add(self, given_id: str | None, source: str, row: Row, options: CorpusOptions, where: str) -> str | None:
        """Keep the row, or return why it is dropped; CorpusError for a reused id."""
        content_id = row_key(row.messages)
        if options.dedup and content_id in self.keys:
            return "duplicate"
        identifier = given_id if given_id is not None else content_id
        notes = row.notes
        if identifier in self.ids and given_id is not None and self.ids[identifier][1] != self.input[0]:
            identifier = f"{self.input[1]}/{given_id}"  # shards of one dataset often number their rows alike
            notes = [*notes, "id_prefixed_with_input"]
        if identifier in self.ids:
            key = options.column_map.get("id", "id")
            hint = "; ids must be unique within an input (--ids content uses each row's content hash instead)"
            raise CorpusError(
                f"{where}, field {key!r}: id {identifier!r} already used by {self.ids[identifier][0]}{hint}"
            )
        self.keys.add(content_id)
        self.ids[identifier] = (where, self.input[0])
        values = (identifier, source, row.system, row.instruction, row.response)
        for name, value in zip(TEXT_COLUMNS, values, strict=True):
            self.columns[name].append(value)
        for role, text in row.messages:
            self.roles.append(role)
            self.contents.append(text)
        self.counts.append(len(row.messages))
        if notes:
            self.notes[self.n] = notes
        self.turns_dropped.append(row.turns_dropped)
        self.n += 1
        if len(self.counts) >= self.BATCH_ROWS:
            self.flush()
        return None

    def flush(self) -> None:
        if self.counts:
            self.batches.append(arrow_table(self.columns, self.roles, self.contents, self.counts))
            self._fresh()

    def table(self):
        """Every kept row, as one Arrow table (of the batches' chunks)."""
        import pyarrow as pa

        self.flush()
        return pa.concat_tables(self.batches)
