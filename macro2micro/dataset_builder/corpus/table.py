"""The corpus as an Arrow table: its columns, row ids, content fingerprint, and turns per row.

Columns: ``id``, ``source``, ``system`` (the system prompt, ``""`` when none), ``instruction`` and
``response`` (the two sides: what types, metrics and lengths read), ``messages`` (every kept turn,
``{"role", "content"}``, ready for TRL).
"""

from __future__ import annotations

import hashlib

import numpy as np

from macro2micro.dataset_builder.corpus.conversations import ASSISTANT, USER
from macro2micro.dataset_builder.corpus.texts import CHUNK_ROWS, arrow_column, string_bytes
from macro2micro.dataset_builder.defaults import CORPUS_COLUMNS
from macro2micro.dataset_builder.utils import sha256_text

TEXT_COLUMNS = list(CORPUS_COLUMNS[:-1])  # all but messages


def column(ds, name: str) -> list:
    """A column of a Dataset as a list, through Arrow (``list(ds[name])`` reads row by row: 50x slower)."""
    return ds[name][:]


def corpus_features():
    import datasets

    message = {"role": datasets.Value("string"), "content": datasets.Value("string")}
    return datasets.Features(
        {**{name: datasets.Value("string") for name in TEXT_COLUMNS}, "messages": datasets.List(message)}
    )


def make_id(instruction: str, response: str) -> str:
    """Stable content id of a single-turn pair: the first 16 hex digits of sha256(instruction, response)."""
    return sha256_text(instruction, response)[:16]


def row_key(messages: list[tuple[str, str]]) -> str:
    """Stable content id of a row: :func:`make_id` for one user and one assistant turn (the ids of single-turn
    corpora stay what they were), else sha256 over every turn's role and text."""
    if len(messages) == 2 and messages[0][0] == USER and messages[1][0] == ASSISTANT:
        return make_id(messages[0][1], messages[1][1])
    return sha256_text(*(f"{role}\x1f{text}" for role, text in messages))[:16]


def arrow_table(columns: dict[str, list[str]], roles: list[str], contents: list[str], counts: list[int]):
    """The corpus as an Arrow table, ``messages`` built column-wise from flat turns (datasets' per-row encoding
    costs 20 s at 117K rows).

    Args:
        columns: the string columns (:data:`TEXT_COLUMNS`).
        roles, contents: every kept turn of every row, in order.
        counts: turns per row.
    """
    import pyarrow as pa

    offsets = np.concatenate(([0], np.cumsum(np.asarray(counts, dtype=np.int64)))).astype(np.int32)
    turns = pa.StructArray.from_arrays(
        [pa.array(roles, type=pa.string()), pa.array(contents, type=pa.string())], names=["role", "content"]
    )
    messages = pa.ListArray.from_arrays(pa.array(offsets), turns)
    return pa.table({**{k: pa.array(columns[k], type=pa.string()) for k in TEXT_COLUMNS}, "messages": messages})


def _messages(ds):
    """The ``messages`` column as Arrow chunks (through the indices of a select()ed Dataset): never combined into
    one array, which would copy every turn's text."""
    import pyarrow as pa

    col = arrow_column(ds, "messages")
    return col.chunks if isinstance(col, pa.ChunkedArray) else [col]


def turns_per_row(ds) -> np.ndarray:
    """Assistant turns per row (each a reply the loss covers; a single-turn pair has 1), without a Python loop."""
    import pyarrow.compute as pc

    out = [np.zeros(0, dtype=np.int64)]
    for chunk in _messages(ds):
        parents = pc.list_parent_indices(chunk).to_numpy()
        replies = pc.equal(pc.list_flatten(chunk).field("role"), ASSISTANT).to_numpy(zero_copy_only=False)
        out.append(np.bincount(parents[replies], minlength=len(chunk)).astype(np.int64))
    return np.concatenate(out)


MAX_TURN_BUCKET = 5  # turns per row are shown as shares of 1, 2, 3, 4 and 5 or more


def turn_shares(turns: np.ndarray) -> dict[str, float]:
    """Share of rows with 1, 2, 3, 4, and 5 or more assistant turns (keys ``"1"`` .. ``"5+"``)."""
    counts = np.bincount(np.minimum(turns, MAX_TURN_BUCKET), minlength=MAX_TURN_BUCKET + 1)[1:] / max(len(turns), 1)
    names = [str(i) for i in range(1, MAX_TURN_BUCKET)] + [f"{MAX_TURN_BUCKET}+"]
    return {name: round(float(c), 4) for name, c in zip(names, counts, strict=True)}


def role_counts(ds) -> dict[str, int]:
    """Messages kept, by role."""
    import pyarrow as pa
    import pyarrow.compute as pc

    counts = pc.value_counts(
        pa.chunked_array([pc.list_flatten(c).field("role") for c in _messages(ds)], type=pa.string())
    ).to_pylist()
    return {c["values"]: int(c["counts"]) for c in sorted(counts, key=lambda c: (-c["counts"], c["values"]))}


def is_single_turn(ds) -> bool:
    """Every row is one user and one assistant turn, with no system prompt: ``messages`` holds nothing the two
    sides do not."""
    import pyarrow.compute as pc

    if any(len(c) and pc.any(pc.not_equal(pc.list_value_length(c), 2)).as_py() for c in _messages(ds)):
        return False
    if "system" in ds.column_names:
        system = arrow_column(ds, "system")
        return not (len(system) and pc.any(pc.greater(pc.utf8_length(system), 0)).as_py())
    return True


# datasets' in-process fingerprint of a Dataset -> our content fingerprint (hashing costs seconds at 117K rows).
_FINGERPRINTS: dict[str, str] = {}


def _hash_strings(h, col) -> None:
    """Feed ``h`` every value of a string array followed by a NUL byte, slice by slice (the same bytes as
    one concatenation, without holding a copy of the column)."""
    for start in range(0, len(col), CHUNK_ROWS):
        h.update(string_bytes(col.slice(start, min(CHUNK_ROWS, len(col) - start))))


def corpus_fingerprint(ds) -> str:
    """Content hash of a corpus (ids and both sides, in order): keys every feature cache.

    sha256 over each value followed by a NUL, a ``\\x01`` after each column. A corpus of conversations (a system
    prompt, or a row that is not one user and one assistant turn) also hashes its ``system`` column, every turn's
    role and content, and the turns per row (so two corpora that differ only there differ); memoized per Dataset.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    key = getattr(ds, "_fingerprint", None)
    if key in _FINGERPRINTS:
        return _FINGERPRINTS[key]
    h = hashlib.sha256()
    for name in ("id", "instruction", "response"):
        _hash_strings(h, arrow_column(ds, name))
        h.update(b"\x01")
    if not is_single_turn(ds):
        turns = [pc.list_flatten(c) for c in _messages(ds)]
        system = [arrow_column(ds, "system")] if "system" in ds.column_names else []
        roles = pa.chunked_array([t.field("role") for t in turns], type=pa.string())
        contents = pa.chunked_array([t.field("content") for t in turns], type=pa.string())
        for part in (*system, roles, contents):
            _hash_strings(h, part)
            h.update(b"\x01")
        for c in _messages(ds):
            h.update(pc.list_value_length(c).to_numpy().astype("<i4").tobytes())
    fp = h.hexdigest()[:32]
    if key is not None:
        _FINGERPRINTS[key] = fp
    return fp


def remember_fingerprint(ds, fp: str) -> None:
    """Take ``fp`` as ``ds``'s fingerprint (read back from the folder that recorded it) without hashing again."""
    if getattr(ds, "_fingerprint", None):
        _FINGERPRINTS[ds._fingerprint] = fp
