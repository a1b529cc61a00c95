"""The corpus stage: read SFT data in any common layout and return one clean single-turn Dataset.

Output columns: ``id``, ``source``, ``instruction``, ``response``, ``messages`` (user, assistant).

Readers: JSONL, JSON, Parquet and CSV files (or a folder of them), a folder written by
``Dataset.save_to_disk``, or a Hub dataset id when online. Formats, recognized from the first
record or named with ``CorpusOptions.format``:

- ``alpaca``: ``instruction``, optional ``input``, ``output``;
- ``sharegpt``: ``conversations`` of ``{"from", "value"}``;
- ``messages``: ``messages`` of ``{"role", "content"}``;
- ``prompt_completion``: ``prompt`` and ``completion`` (strings or message lists);
- ``columns``: an explicit mapping, e.g. ``{"instruction": "question", "response": "answer"}``.

Bad input raises :class:`CorpusError` naming the file, line or row, and field; with
``on_error="skip"`` such rows are skipped and counted under ``invalid`` instead.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from .utils import sha256_text

logger = logging.getLogger(__name__)

FORMATS = ("auto", "alpaca", "sharegpt", "messages", "prompt_completion", "columns")
FILE_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")
USER_ROLES = {"human", "user"}
ASSISTANT_ROLES = {"gpt", "assistant", "chatgpt", "bard", "bing", "model"}
SYSTEM_ROLES = {"system"}


class CorpusError(ValueError):
    """Bad corpus input. The message names the file, the line or row, and the field."""


@dataclass
class CorpusOptions:
    """How to read and clean an SFT corpus.

    Args:
        format: one of ``auto``, ``alpaca``, ``sharegpt``, ``messages``, ``prompt_completion``,
            ``columns``; ``auto`` recognizes the format from each file's first record.
        columns: for ``format="columns"``: a mapping of ``instruction``, ``response`` and
            optionally ``id``, ``source`` and ``input`` to the input's column names.
        multi_turn: ``first`` keeps the first user turn and the assistant reply of a longer
            conversation (as the paper does); ``drop`` drops multi-turn rows.
        on_error: ``raise`` stops at the first bad row with an error naming it; ``skip`` skips
            bad rows and counts them under ``invalid``.
        max_instruction_chars: drop rows whose instruction is longer (after normalization).
        max_response_chars: drop rows whose response is longer.
        dedup: drop exact (instruction, response) duplicates.
        split: split to read from a saved DatasetDict folder or a Hub id.
        source: the ``source`` value of rows that carry none (default: the file's stem).
    """

    format: str = "auto"
    columns: dict[str, str] | None = None
    multi_turn: str = "first"
    on_error: str = "raise"
    max_instruction_chars: int | None = None
    max_response_chars: int | None = None
    dedup: bool = True
    split: str = "train"
    source: str | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format={self.format!r} is not a known format; valid: {', '.join(FORMATS)}")
        if self.multi_turn not in ("first", "drop"):
            raise ValueError(f"multi_turn={self.multi_turn!r}; valid: first, drop")
        if self.on_error not in ("raise", "skip"):
            raise ValueError(f"on_error={self.on_error!r}; valid: raise, skip")
        if self.format == "columns":
            missing = {"instruction", "response"} - set(self.columns or {})
            if missing:
                raise ValueError(f"format='columns' needs columns for {sorted(missing)}, e.g. "
                                 "--columns instruction=question,response=answer")
        elif self.columns:
            raise ValueError("columns= is only used with format='columns'")
        allowed = {"instruction", "response", "input", "id", "source"}
        unknown = set(self.columns or {}) - allowed
        if unknown:
            raise ValueError(f"unknown column role(s) {sorted(unknown)}; valid: {sorted(allowed)}")
        for name in ("max_instruction_chars", "max_response_chars"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name}={value} must be a positive number of characters or None")


@dataclass
class CorpusReport:
    """What ingestion read, kept and dropped (by reason), and the first errors it skipped."""

    inputs: list[str] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)
    rows_read: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------- text cleaning

_TRAILING_WS = re.compile(r"[ \t\u00a0]+\n")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def normalize_whitespace(text: str) -> str:
    """Unify newlines, drop trailing spaces and NULs, squeeze 3+ blank lines, strip the ends.

    Inner spacing is kept on purpose: indentation carries meaning in code responses.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = _TRAILING_WS.sub("\n", text)
    text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()


# ----------------------------------------------------------------------------- readers


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise CorpusError(f"{where}, line {line}: bytes are not valid UTF-8 ({err.reason} at byte "
                          f"{err.start}); re-encode the file as UTF-8") from None


def _iter_jsonl(path: Path, on_error: str, report: CorpusReport) -> Iterator[tuple[str, Any]]:
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            where = f"{path}, line {lineno}"
            try:
                line = raw.decode("utf-8-sig")
            except UnicodeDecodeError as err:
                _fail(CorpusError(f"{where}: bytes are not valid UTF-8 ({err.reason} at byte {err.start})"),
                      on_error, report)
                continue
            if not line.strip():
                continue
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as err:
                _fail(CorpusError(f"{where}: malformed JSON ({err.msg} at column {err.colno})"), on_error, report)


def _iter_json(path: Path) -> Iterator[tuple[str, Any]]:
    text = _decode(path.read_bytes(), str(path))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise CorpusError(f"{path}, line {err.lineno}: malformed JSON ({err.msg} at column {err.colno})") from None
    if isinstance(data, dict):
        lists = [key for key, value in data.items() if isinstance(value, list)]
        if len(lists) != 1:
            raise CorpusError(f"{path}: expected a JSON list of records (or an object holding exactly one "
                              f"list), got an object with keys {sorted(data)[:10]}")
        data = data[lists[0]]
    if not isinstance(data, list):
        raise CorpusError(f"{path}: expected a JSON list of records, got {type(data).__name__}")
    for i, record in enumerate(data):
        yield f"{path}, record {i}", record


def _iter_csv(path: Path) -> Iterator[tuple[str, Any]]:
    text = _decode(path.read_bytes(), str(path))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None:
        return
    for record in reader:
        yield f"{path}, line {reader.line_num}", record


def _iter_parquet(path: Path) -> Iterator[tuple[str, Any]]:
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


def _iter_dataset(ds: Any, label: str) -> Iterator[tuple[str, Any]]:
    for i, record in enumerate(ds):
        yield f"{label}, row {i}", record


def _expand_inputs(inputs: Iterable[str | Path]) -> list[str | Path]:
    out: list[str | Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir() and not _is_saved_dataset(path) and _is_saved_dataset(path / "dataset"):
            out.append(path / "dataset")  # the folder `macro2micro ingest` writes
            continue
        if path.is_dir() and not _is_saved_dataset(path):
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in FILE_SUFFIXES)
            if not files:
                raise CorpusError(f"{path}: folder holds no {', '.join(FILE_SUFFIXES)} files and is not "
                                  "a saved datasets folder")
            out.extend(files)
        else:
            out.append(item)
    return out


def _is_saved_dataset(path: Path) -> bool:
    return (path / "state.json").exists() or (path / "dataset_dict.json").exists()


def _iter_input(item: str | Path, options: CorpusOptions, report: CorpusReport) -> Iterator[tuple[str, Any]]:
    path = Path(item)
    if path.is_dir():
        import datasets

        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            if options.split not in loaded:
                raise CorpusError(f"{path}: no split {options.split!r}; available: {sorted(loaded)} (--split)")
            loaded = loaded[options.split]
        yield from _iter_dataset(loaded, str(path))
        return
    if path.exists():
        if path.stat().st_size == 0:
            raise CorpusError(f"{path}: file is empty")
        suffix = path.suffix.lower()
        if suffix == ".jsonl":
            yield from _iter_jsonl(path, options.on_error, report)
        elif suffix == ".json":
            yield from _iter_json(path)
        elif suffix == ".csv":
            yield from _iter_csv(path)
        elif suffix == ".parquet":
            yield from _iter_parquet(path)
        else:
            raise CorpusError(f"{path}: unsupported file type {suffix!r}; valid: {', '.join(FILE_SUFFIXES)}, "
                              "a saved datasets folder, or a Hub dataset id")
        return
    if re.fullmatch(r"[\w.-]+/[\w.-]+", str(item)):
        import datasets

        try:
            ds = datasets.load_dataset(str(item), split=options.split)
        except Exception as err:
            raise CorpusError(f"{item}: neither a local path nor a loadable Hub dataset ({err})") from err
        yield from _iter_dataset(ds, str(item))
        return
    raise CorpusError(f"{item}: no such file or folder (and not a Hub dataset id of the form org/name)")


# ----------------------------------------------------------------------------- formats


def detect_format(record: Any, where: str) -> str:
    """Recognize a record's format from its keys."""
    if not isinstance(record, dict):
        raise CorpusError(f"{where}: expected a JSON object per record, got {type(record).__name__}")
    keys = set(record)
    if "conversations" in keys:
        return "sharegpt"
    if "messages" in keys:
        return "messages"
    # One key is enough to recognize the format; a missing partner is then reported by name.
    if "instruction" in keys:
        return "alpaca"
    if "prompt" in keys:
        return "prompt_completion"
    raise CorpusError(f"{where}: unknown format: keys {sorted(keys)[:12]} match none of alpaca "
                      "(instruction, output), sharegpt (conversations), messages (messages), "
                      "prompt_completion (prompt, completion); name the columns with --format columns "
                      "--columns instruction=COL,response=COL")


class _MultiTurn(Exception):
    """A conversation with more than one user turn, under multi_turn='drop'."""


class _Unanswered(Exception):
    """A conversation whose first user turn has no assistant reply."""


class _Continuation(Exception):
    """A conversation that opens with an assistant turn: a fragment cut from a longer one."""


def _string_field(record: dict, key: str, where: str, optional: bool = False) -> str:
    if key not in record or record[key] is None:
        if optional:
            return ""
        raise CorpusError(f"{where}, field {key!r}: missing")
    value = record[key]
    if not isinstance(value, str):
        raise CorpusError(f"{where}, field {key!r}: expected a string, got {type(value).__name__}")
    return value


def _turns(record: dict, key: str, role_key: str, text_key: str, where: str) -> list[tuple[str, str]]:
    turns = record.get(key)
    if not isinstance(turns, list):
        raise CorpusError(f"{where}, field {key!r}: expected a list of turns, got {type(turns).__name__}")
    out = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise CorpusError(f"{where}, field {key}[{i}]: expected an object, got {type(turn).__name__}")
        role = _string_field(turn, role_key, f"{where}, {key}[{i}]").lower()
        text = _string_field(turn, text_key, f"{where}, {key}[{i}]")
        out.append((role, text))
    return out


def _single_turn(turns: list[tuple[str, str]], multi_turn: str, where: str, key: str) -> tuple[str, str]:
    turns = [t for t in turns if t[0] not in SYSTEM_ROLES]
    user_idx = [i for i, (role, _) in enumerate(turns) if role in USER_ROLES]
    unknown = [role for role, _ in turns if role not in USER_ROLES | ASSISTANT_ROLES]
    if unknown:
        raise CorpusError(f"{where}, field {key!r}: unknown role {unknown[0]!r}; valid: "
                          f"{sorted(USER_ROLES | ASSISTANT_ROLES | SYSTEM_ROLES)}")
    if not user_idx:
        raise _Unanswered
    if user_idx[0] != 0:
        raise _Continuation
    if len(user_idx) > 1 and multi_turn == "drop":
        raise _MultiTurn
    first = user_idx[0]
    if first + 1 >= len(turns) or turns[first + 1][0] not in ASSISTANT_ROLES:
        raise _Unanswered
    return turns[first][1], turns[first + 1][1]


def _message_text(value: Any, role: str, where: str, key: str) -> str:
    """A prompt/completion value: a string, or a list of messages whose ``role`` turns are joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = []
        for i, message in enumerate(value):
            if not isinstance(message, dict):
                raise CorpusError(f"{where}, field {key}[{i}]: expected a message object")
            if message.get("role") == role:
                texts.append(_string_field(message, "content", f"{where}, {key}[{i}]"))
        return "\n\n".join(texts)
    raise CorpusError(f"{where}, field {key!r}: expected a string or a list of messages, got {type(value).__name__}")


def to_pair(record: Any, fmt: str, options: CorpusOptions, where: str) -> tuple[str, str]:
    """One record -> (instruction, response) in raw text; raises CorpusError on bad fields."""
    if not isinstance(record, dict):
        raise CorpusError(f"{where}: expected an object per record, got {type(record).__name__}")
    if fmt == "alpaca":
        instruction = _string_field(record, "instruction", where)
        extra = _string_field(record, "input", where, optional=True)
        if extra.strip():
            instruction = f"{instruction}\n\n{extra}"
        return instruction, _string_field(record, "output", where)
    if fmt == "sharegpt":
        return _single_turn(_turns(record, "conversations", "from", "value", where), options.multi_turn, where,
                            "conversations")
    if fmt == "messages":
        return _single_turn(_turns(record, "messages", "role", "content", where), options.multi_turn, where,
                            "messages")
    if fmt == "prompt_completion":
        if "prompt" not in record:
            raise CorpusError(f"{where}, field 'prompt': missing")
        if "completion" not in record:
            raise CorpusError(f"{where}, field 'completion': missing")
        return (_message_text(record["prompt"], "user", where, "prompt"),
                _message_text(record["completion"], "assistant", where, "completion"))
    if fmt == "columns":
        cols = options.columns or {}
        instruction = _string_field(record, cols["instruction"], where)
        if cols.get("input"):
            extra = _string_field(record, cols["input"], where, optional=True)
            if extra.strip():
                instruction = f"{instruction}\n\n{extra}"
        return instruction, _string_field(record, cols["response"], where)
    raise ValueError(f"unknown format {fmt!r}")


def _fail(err: CorpusError, on_error: str, report: CorpusReport) -> None:
    if on_error == "raise":
        raise err
    report.dropped["invalid"] = report.dropped.get("invalid", 0) + 1
    if len(report.errors) < 20:
        report.errors.append(str(err))


def make_id(instruction: str, response: str) -> str:
    """Stable content id: the first 16 hex digits of sha256(instruction, response)."""
    return sha256_text(instruction, response)[:16]


# ----------------------------------------------------------------------------- the stage


def load_corpus(inputs: Iterable[str | Path] | str | Path, options: CorpusOptions | None = None):
    """Read, normalize and clean SFT data into a single-turn ``datasets.Dataset``.

    Args:
        inputs: one or more files, folders, saved-dataset folders or Hub dataset ids.
        options: reading and cleaning options (see :class:`CorpusOptions`).

    Returns:
        ``(dataset, report)``: the Dataset with columns ``id, source, instruction, response,
        messages`` and a :class:`CorpusReport` of what was read, kept and dropped.
    """
    import datasets

    options = options or CorpusOptions()
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    items = _expand_inputs(inputs)
    if not items:
        raise CorpusError("no corpus inputs given")
    report = CorpusReport(inputs=[str(i) for i in items])
    dropped: Counter[str] = Counter()
    rows: dict[str, list] = {"id": [], "source": [], "instruction": [], "response": []}
    seen_pairs: set[str] = set()
    seen_ids: dict[str, str] = {}

    for item in items:
        fmt = options.format
        default_source = options.source or (Path(item).stem if Path(item).exists() else str(item))
        n_item = 0
        for where, record in _iter_input(item, options, report):
            n_item += 1
            report.rows_read += 1
            try:
                if fmt == "auto":
                    fmt = detect_format(record, where)
                raw_instruction, raw_response = to_pair(record, fmt, options, where)
                id_key = (options.columns or {}).get("id", "id")
                given_id = record.get(id_key)
                if given_id is not None and not isinstance(given_id, (str, int)):
                    raise CorpusError(f"{where}, field {id_key!r}: expected a string or integer id, "
                                      f"got {type(given_id).__name__}")
                source_key = (options.columns or {}).get("source", "source")
                source = record.get(source_key)
                if source is not None and not isinstance(source, str):
                    raise CorpusError(f"{where}, field {source_key!r}: expected a string, got {type(source).__name__}")
            except CorpusError as err:
                _fail(err, options.on_error, report)
                continue
            except _MultiTurn:
                dropped["multi_turn"] += 1
                continue
            except _Unanswered:
                dropped["no_response"] += 1
                continue
            except _Continuation:
                dropped["starts_with_assistant"] += 1
                continue
            instruction = normalize_whitespace(raw_instruction)
            response = normalize_whitespace(raw_response)
            if not instruction:
                dropped["empty_instruction"] += 1
                continue
            if not response:
                dropped["empty_response"] += 1
                continue
            if options.max_instruction_chars and len(instruction) > options.max_instruction_chars:
                dropped["instruction_too_long"] += 1
                continue
            if options.max_response_chars and len(response) > options.max_response_chars:
                dropped["response_too_long"] += 1
                continue
            content_id = make_id(instruction, response)
            if options.dedup and content_id in seen_pairs:
                dropped["duplicate"] += 1
                continue
            seen_pairs.add(content_id)
            row_id = str(given_id) if given_id is not None else content_id
            if row_id in seen_ids:
                err = CorpusError(f"{where}, field {id_key!r}: id {row_id!r} already used by {seen_ids[row_id]}")
                _fail(err, options.on_error, report)
                continue
            seen_ids[row_id] = where
            rows["id"].append(row_id)
            rows["source"].append(source or default_source)
            rows["instruction"].append(instruction)
            rows["response"].append(response)
        if n_item == 0:
            raise CorpusError(f"{item}: holds no records")
        report.formats[str(item)] = fmt

    report.dropped = {**report.dropped, **dict(sorted(dropped.items()))}
    report.kept = len(rows["id"])
    if report.kept == 0:
        raise CorpusError(f"no usable rows in {', '.join(report.inputs)}: dropped {report.dropped}")
    rows["messages"] = [
        [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        for q, a in zip(rows["instruction"], rows["response"])
    ]
    ds = datasets.Dataset.from_dict(rows, features=corpus_features())
    logger.info("corpus: read %d rows, kept %d, dropped %s", report.rows_read, report.kept, report.dropped)
    return ds, report


def corpus_features():
    import datasets

    message = {"role": datasets.Value("string"), "content": datasets.Value("string")}
    return datasets.Features({
        "id": datasets.Value("string"),
        "source": datasets.Value("string"),
        "instruction": datasets.Value("string"),
        "response": datasets.Value("string"),
        "messages": datasets.List(message),
    })


def corpus_fingerprint(ds) -> str:
    """Content hash of a corpus (ids and both texts, in order): keys every feature cache."""
    import hashlib

    h = hashlib.sha256()
    for column in ("id", "instruction", "response"):
        for value in ds[column]:
            h.update(value.encode("utf-8"))
            h.update(b"\x00")
        h.update(b"\x01")
    return h.hexdigest()[:32]


def summarize(ds, report: CorpusReport | None = None) -> dict[str, Any]:
    """Counts, drops by reason and length statistics (characters and words) per side."""
    out: dict[str, Any] = {"rows": len(ds)}
    if report is not None:
        out.update(rows_read=report.rows_read, dropped=report.dropped, formats=report.formats,
                   errors_skipped=report.errors)
    out["sources"] = dict(Counter(ds["source"]).most_common(20))
    for side in ("instruction", "response"):
        texts = ds[side]
        chars = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        words = np.fromiter((len(t.split()) for t in texts), dtype=np.int64, count=len(texts))
        out[side] = {
            unit: {"mean": round(float(a.mean()), 1), "median": float(np.median(a)),
                   "p90": float(np.percentile(a, 90)), "max": int(a.max())}
            for unit, a in (("chars", chars), ("words", words))
        }
    return out


def save_corpus(ds, report: CorpusReport, out_dir: str | Path) -> Path:
    """Write the corpus (``datasets`` folder) and its summary JSON in one atomic step."""
    from .utils import atomic_dir, stable_json

    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        ds.save_to_disk(str(tmp / "dataset"))
        summary = summarize(ds, report)
        summary["fingerprint"] = corpus_fingerprint(ds)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
        (tmp / "report.json").write_text(stable_json(report.to_dict()))
    return out_dir
