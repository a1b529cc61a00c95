"""Record formats -> one (instruction, response) pair, and the row checks that drop a pair.

Formats, recognized from a record's keys or named with ``CorpusOptions.format``:

- ``alpaca``: ``instruction``, optional ``input``, ``output``; or ``context`` and ``response`` in their
  places (Dolly-15k, and the columns of this toolkit's own corpus and subsets);
- ``sharegpt``: ``conversations`` of ``{"from", "value"}``;
- ``messages``: ``messages`` of ``{"role", "content"}``;
- ``prompt_completion``: ``prompt`` and ``completion`` (strings or message lists);
- ``columns``: an explicit mapping, e.g. ``{"instruction": "question", "response": "answer"}``.

A record that is malformed raises :class:`CorpusError`; a well-formed record that cannot give a
usable pair returns a drop reason instead (a string such as ``"no_response"``), as datatrove's
filters do. Drops are counted by reason; errors stop the run or, under ``on_error="skip"``, are
counted as ``invalid``.
"""

from __future__ import annotations

import re
from typing import Any

from macro2micro.dataset_builder.corpus.readers import CorpusError
from macro2micro.dataset_builder.errors import OptionsError
from macro2micro.dataset_builder.options import CorpusOptions

USER_ROLES = {"human", "user"}
ASSISTANT_ROLES = {"gpt", "assistant", "chatgpt", "bard", "bing", "model"}
SYSTEM_ROLES = {"system"}
Pair = tuple[str, str]


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
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise CorpusError(
            f"{where}, field {key!r}: text holds a lone surrogate ({value[err.start]!r} at character "
            f"{err.start}), which is not valid Unicode"
        ) from None
    return value


def _turns(record: dict, key: str, role_key: str, text_key: str, where: str) -> list[tuple[str, str]]:
    turns = record.get(key)
    if turns is None:
        raise CorpusError(f"{where}, field {key!r}: missing")
    if not isinstance(turns, list):
        raise CorpusError(f"{where}, field {key!r}: expected a list of turns, got {type(turns).__name__}")
    out = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise CorpusError(f"{where}, field {key}[{i}]: expected an object, got {type(turn).__name__}")
        role = string_field(turn, role_key, f"{where}, {key}[{i}]").lower()
        out.append((role, string_field(turn, text_key, f"{where}, {key}[{i}]")))
    return out


def _single_turn(
    turns: list[tuple[str, str]], multi_turn: str, where: str, key: str, notes: list[str] | None = None
) -> Pair | str:
    n_all = len(turns)
    turns = [t for t in turns if t[0] not in SYSTEM_ROLES]
    if notes is not None and len(turns) < n_all:
        notes.append("system_turns_dropped")
    unknown = [role for role, _ in turns if role not in USER_ROLES | ASSISTANT_ROLES]
    if unknown:
        raise CorpusError(
            f"{where}, field {key!r}: unknown role {unknown[0]!r}; valid: "
            f"{sorted(USER_ROLES | ASSISTANT_ROLES | SYSTEM_ROLES)}"
        )
    user_idx = [i for i, (role, _) in enumerate(turns) if role in USER_ROLES]
    if not user_idx:
        return "no_response"
    if user_idx[0] != 0:
        return "starts_with_assistant"  # a fragment cut from a longer conversation
    if len(user_idx) > 1 and multi_turn == "drop":
        return "multi_turn"
    if len(turns) < 2 or turns[1][0] not in ASSISTANT_ROLES:
        return "no_response"
    if notes is not None and len(turns) > 2:
        notes.append("later_turns_dropped")  # the first exchange kept (multi_turn="first"), as the paper does
    return turns[0][1], turns[1][1]


def _message_text(value: Any, role: str, where: str, key: str) -> str:
    """A prompt/completion value: a string, or a list of messages whose ``role`` turns are joined."""
    if isinstance(value, str):
        return string_field({key: value}, key, where)
    if isinstance(value, list):
        texts = []
        for i, message in enumerate(value):
            if not isinstance(message, dict):
                raise CorpusError(f"{where}, field {key}[{i}]: expected a message object")
            if message.get("role") == role:
                texts.append(string_field(message, "content", f"{where}, {key}[{i}]"))
        return "\n\n".join(texts)
    raise CorpusError(f"{where}, field {key!r}: expected a string or a list of messages, got {type(value).__name__}")


def _with_input(instruction: str, record: dict, key: str | None, where: str) -> str:
    extra = string_field(record, key, where, optional=True) if key else ""
    return f"{instruction}\n\n{extra}" if extra.strip() else instruction


def to_pair(record: Any, fmt: str, options: CorpusOptions, where: str, notes: list[str] | None = None) -> Pair | str:
    """One record -> (instruction, response) in raw text, or a drop reason; CorpusError on bad fields.

    Args:
        notes: receives what was changed in a kept row (``system_turns_dropped``, ``later_turns_dropped``).
    """
    if not isinstance(record, dict):
        raise CorpusError(f"{where}: expected an object per record, got {type(record).__name__}")
    if fmt == "alpaca":
        extra = "context" if "input" not in record and "context" in record else "input"
        instruction = _with_input(string_field(record, "instruction", where), record, extra, where)
        if "output" not in record and "response" in record:
            return instruction, string_field(record, "response", where)
        if "output" not in record:
            raise CorpusError(f"{where}, field 'output': missing (an instruction record needs 'output' or 'response')")
        return instruction, string_field(record, "output", where)
    if fmt in ("sharegpt", "messages"):
        key, role, text = ("conversations", "from", "value") if fmt == "sharegpt" else ("messages", "role", "content")
        return _single_turn(_turns(record, key, role, text, where), options.multi_turn, where, key, notes)
    if fmt == "prompt_completion":
        for key in ("prompt", "completion"):
            if key not in record:
                raise CorpusError(f"{where}, field {key!r}: missing")
        return (
            _message_text(record["prompt"], "user", where, "prompt"),
            _message_text(record["completion"], "assistant", where, "completion"),
        )
    if fmt == "columns":
        cols = options.column_map
        instruction = _with_input(string_field(record, cols["instruction"], where), record, cols.get("input"), where)
        return instruction, string_field(record, cols["response"], where)
    raise OptionsError(f"unknown format {fmt!r}")


def row_id(record: dict, options: CorpusOptions, where: str) -> str | None:
    """The record's own id (string or integer), if it has one."""
    key = options.column_map.get("id", "id")
    value = record.get(key)
    if value is None:
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
