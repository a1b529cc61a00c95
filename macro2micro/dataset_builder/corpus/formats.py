"""Record formats -> the turns of one conversation, and the row checks that drop a row.

Formats, recognized from a record's keys or named with ``CorpusOptions.format``:

- ``alpaca``: ``instruction``, optional ``input``, ``output``; or ``context`` and ``response`` in their
  places (Dolly-15k, and the columns of this toolkit's own corpus and subsets); an optional ``system``;
- ``sharegpt``: ``conversations`` of ``{"from", "value"}`` (and an optional top-level ``system``);
- ``messages``: ``messages`` of ``{"role", "content"}``; ``content`` a string or a list of content
  parts (``[{"type": "text", "text": ...}]``); an assistant message's ``tool_calls`` become a turn;
- ``prompt_completion``: ``prompt`` and ``completion`` (strings or message lists, one conversation);
- ``columns``: an explicit mapping, e.g. ``{"instruction": "question", "response": "answer"}``.

Every format gives a list of turns that :func:`.conversations.shape` turns into the row kept (see
there for roles, system prompts, tool turns and ``multi_turn``). A record that is malformed raises
:class:`CorpusError`; a well-formed record that cannot give a usable row returns a drop reason
instead (a string such as ``"no_response"``), as datatrove's filters do. Drops are counted by
reason; errors stop the run or, under ``on_error="skip"``, are counted as ``invalid``.
"""

from __future__ import annotations

import re
from typing import Any

from macro2micro.dataset_builder.corpus.conversations import (
    ASSISTANT,
    SYSTEM,
    TURN_SEPARATOR,
    USER,
    NonText,
    Row,
    Turn,
    check_text,
    message_turns,
    shape,
)
from macro2micro.dataset_builder.corpus.readers import CorpusError
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.options import CorpusOptions


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
    raise CorpusError(
        f"{where}: unknown format: keys {sorted(map(str, keys))[:12]} match none of alpaca "
        "(instruction, output or response), sharegpt (conversations), messages (messages), "
        "prompt_completion (prompt, completion); name the columns with --format columns "
        "--columns instruction=COL,response=COL"
    )


def string_field(record: dict, key: str, where: str, optional: bool = False) -> str:
    """``record[key]`` as a string that encodes to UTF-8; CorpusError naming the field otherwise."""
    if key not in record or record[key] is None:
        if optional:
            return ""
        raise CorpusError(f"{where}, field {key!r}: missing")
    value = record[key]
    if not isinstance(value, str):
        raise CorpusError(f"{where}, field {key!r}: expected a string, got {type(value).__name__}")
    return check_text(value, f"{where}, field {key!r}")


def _message_list(record: dict, key: str, role_key: str, text_key: str, where: str, notes: list[str]) -> list[Turn]:
    turns = record.get(key)
    if turns is None:
        raise CorpusError(f"{where}, field {key!r}: missing")
    if not isinstance(turns, list):
        raise CorpusError(f"{where}, field {key!r}: expected a list of turns, got {type(turns).__name__}")
    out: list[Turn] = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise CorpusError(f"{where}, field {key}[{i}]: expected an object, got {type(turn).__name__}")
        out += message_turns(turn, role_key, text_key, f"{where}, {key}[{i}]", notes)
    return out


def _with_system(turns: list[Turn], record: dict, key: str | None, where: str) -> list[Turn]:
    """A record-level system prompt (``system``, or the column ``key``) as the first turn, unless one is there."""
    text = string_field(record, key, where, optional=True) if key else ""
    if text and not any(role == SYSTEM for role, _ in turns):
        return [(SYSTEM, text), *turns]
    return turns


def _side(value: Any, role: str, key: str, where: str, notes: list[str]) -> list[Turn]:
    """A prompt or completion: a string (one turn of ``role``) or a list of messages."""
    if isinstance(value, str):
        return [(role, check_text(value, f"{where}, field {key!r}"))]
    if isinstance(value, list):
        return _message_list({key: value}, key, "role", "content", where, notes)
    raise CorpusError(f"{where}, field {key!r}: expected a string or a list of messages, got {type(value).__name__}")


def _with_input(instruction: str, record: dict, key: str | None, where: str, notes: list[str]) -> str:
    extra = string_field(record, key, where, optional=True) if key else ""
    if not extra.strip():
        return instruction
    notes.append("input_appended")
    return f"{instruction}{TURN_SEPARATOR}{extra}"


def record_turns(record: Any, fmt: str, options: CorpusOptions, where: str, notes: list[str]) -> list[Turn]:
    """One record -> its turns (canonical roles, raw texts); CorpusError on bad fields, NonText on non-text parts."""
    if not isinstance(record, dict):
        raise CorpusError(f"{where}: expected an object per record, got {type(record).__name__}")
    if fmt == "alpaca":
        extra = "context" if "input" not in record and "context" in record else "input"
        instruction = _with_input(string_field(record, "instruction", where), record, extra, where, notes)
        if "output" not in record and "response" in record:
            response = string_field(record, "response", where)
        elif "output" not in record:
            raise CorpusError(f"{where}, field 'output': missing (an instruction record needs 'output' or 'response')")
        else:
            response = string_field(record, "output", where)
        return _with_system([(USER, instruction), (ASSISTANT, response)], record, "system", where)
    if fmt in ("sharegpt", "messages"):
        key, role, text = ("conversations", "from", "value") if fmt == "sharegpt" else ("messages", "role", "content")
        return _with_system(_message_list(record, key, role, text, where, notes), record, "system", where)
    if fmt == "prompt_completion":
        for key in ("prompt", "completion"):
            if key not in record:
                raise CorpusError(f"{where}, field {key!r}: missing")
        return _side(record["prompt"], USER, "prompt", where, notes) + _side(
            record["completion"], ASSISTANT, "completion", where, notes
        )
    if fmt == "columns":
        cols = options.column_map
        instruction = _with_input(
            string_field(record, cols["instruction"], where), record, cols.get("input"), where, notes
        )
        turns = [(USER, instruction), (ASSISTANT, string_field(record, cols["response"], where))]
        return _with_system(turns, record, cols.get("system"), where)
    raise OptionsError(f"unknown format {fmt!r}")


def to_row(record: Any, fmt: str, options: CorpusOptions, where: str) -> Row | str:
    """One record -> the :class:`Row` kept (whitespace-normalized, checked), or a drop reason; CorpusError on bad
    fields."""
    notes: list[str] = []
    try:
        turns = record_turns(record, fmt, options, where, notes)
    except NonText as err:
        return err.reason
    row = shape(turns, options, normalize_whitespace)
    if isinstance(row, str):
        return row
    reason = drop_reason(row.instruction, row.response, options)
    if reason:
        return reason
    row.notes = sorted({*notes, *row.notes})
    return row


def row_id(record: dict, options: CorpusOptions, where: str) -> str | None:
    """The record's own id (string or integer), if it has one."""
    key = options.column_map.get("id", "id")
    value = record.get(key)
    if value is None or options.ids == "content":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise CorpusError(f"{where}, field {key!r}: expected a string or integer id, got {type(value).__name__}")
    return string_field({key: str(value)}, key, where)


def row_source(record: dict, options: CorpusOptions, where: str) -> str | None:
    key = options.column_map.get("source", "source")
    return string_field(record, key, where) if record.get(key) is not None else None


# ----------------------------------------------------------------------------- row checks

_TRAILING_WS = re.compile(r"[ \t\u00a0]+\n")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def normalize_whitespace(text: str) -> str:
    """Unify newlines, drop trailing spaces and NULs, squeeze 3+ blank lines, strip the ends.

    Inner spacing is kept on purpose: indentation carries meaning in code responses.
    """
    # Each step only when its trigger is present: `in` is a C scan, a regex pass costs ~10x more.
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        text = text.replace("\x00", "")
    if " \n" in text or "\t\n" in text or "\xa0\n" in text:
        text = _TRAILING_WS.sub("\n", text)
    if "\n\n\n" in text:
        text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()


def empty_instruction(instruction: str, response: str, options: CorpusOptions) -> str | None:
    return None if instruction else "empty_instruction"


def empty_response(instruction: str, response: str, options: CorpusOptions) -> str | None:
    return None if response else "empty_response"


def instruction_too_long(instruction: str, response: str, options: CorpusOptions) -> str | None:
    cap = options.max_instruction_chars
    return "instruction_too_long" if cap and len(instruction) > cap else None


def response_too_long(instruction: str, response: str, options: CorpusOptions) -> str | None:
    cap = options.max_response_chars
    return "response_too_long" if cap and len(response) > cap else None


# Applied in order to every normalized pair; the first reason found drops it.
ROW_CHECKS = (empty_instruction, empty_response, instruction_too_long, response_too_long)


def drop_reason(instruction: str, response: str, options: CorpusOptions) -> str | None:
    """The first row check that drops this pair, or None to keep it."""
    for check in ROW_CHECKS:
        reason = check(instruction, response, options)
        if reason:
            return reason
    return None
