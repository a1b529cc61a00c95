"""Conversations: the turns of a record -> the messages a row keeps, its two sides, and what was changed.

Roles are read case-insensitively and written in one spelling:

- ``user``: human, user; ``assistant``: gpt, assistant, chatgpt, bard, bing, model; ``system``: system;
- ``tool`` (a tool's result): tool, function, observation, ipython;
- ``tool_call`` (an assistant's call of a tool): function_call, tool_call, and the ``tool_calls`` or
  ``function_call`` field of an OpenAI assistant message (its JSON as the content).

Tool turns are kept in ``messages`` and belong to neither side: the instruction side is the user
turns and the response side the assistant turns, each joined in order with :data:`TURN_SEPARATOR`
(with ``system_side="instruction"`` the system prompt comes first on the instruction side). The
training templates mark only assistant turns for the loss, so tool turns are context, not targets.

What ``multi_turn`` keeps of a conversation (system turns before the first user turn stay under
``system="keep"``):

- ``first`` (the paper's setting): the first user turn, the tool turns after it, and the first
  assistant reply; later turns are dropped and counted;
- ``drop``: the row only when it has a single user turn;
- ``all``: every turn; turns after the last assistant reply are dropped (nothing would be trained
  on them), and counted.

Every text is whitespace-normalized turn by turn (:func:`normalize_whitespace`). A turn whose text
is empty drops the row (``empty_instruction``, ``empty_response`` or, with several turns,
``empty_turn``), except an empty system turn, which is left out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from macro2micro.dataset_builder.errors import CorpusError

TURN_SEPARATOR = "\n\n"  # between the turns of one side, and between a system prompt and the user turns
PART_SEPARATOR = "\n"  # between the text parts of one message's content (as vLLM joins them)

USER, ASSISTANT, SYSTEM, TOOL, TOOL_CALL = "user", "assistant", "system", "tool", "tool_call"
ROLES = {
    **dict.fromkeys(("human", "user"), USER),
    **dict.fromkeys(("gpt", "assistant", "chatgpt", "bard", "bing", "model"), ASSISTANT),
    "system": SYSTEM,
    **dict.fromkeys(("tool", "function", "observation", "ipython"), TOOL),
    **dict.fromkeys(("function_call", "tool_call"), TOOL_CALL),
}
TOOL_ROLES = (TOOL, TOOL_CALL)
USER_ROLES = {name for name, role in ROLES.items() if role == USER}
ASSISTANT_ROLES = {name for name, role in ROLES.items() if role == ASSISTANT}
# Content part types that carry text (OpenAI's "text", Anthropic-style "input_text"/"output_text").
TEXT_PARTS = {"text", "input_text", "output_text"}

Turn = tuple[str, str]  # (role, text)


@dataclass
class Row:
    """What one record becomes: its messages, its sides, and the changes made on the way."""

    system: str
    instruction: str
    response: str
    messages: list[Turn]
    notes: list[str] = field(default_factory=list)  # changes made to the row, one name per kind
    turns_dropped: int = 0  # later turns left out by multi_turn="first", or after the last reply


def canonical_role(role: str, where: str) -> str:
    try:
        return ROLES[role.lower()]
    except KeyError:
        raise CorpusError(f"{where}: unknown role {role!r}; valid: {', '.join(sorted(ROLES))}") from None


def content_text(value: Any, where: str, notes: list[str]) -> str:
    """A message's content: a string, or a list of parts of which every one must be text (joined).

    Raises :class:`NonText` for a part that is not text (the row is then dropped, counted by the part's type),
    CorpusError for a malformed part.
    """
    if isinstance(value, str):
        return check_text(value, where)
    if not isinstance(value, list):
        raise CorpusError(f"{where}: expected a string or a list of content parts, got {type(value).__name__}")
    texts = []
    for i, part in enumerate(value):
        if isinstance(part, str):  # a bare string part
            texts.append(check_text(part, f"{where}[{i}]"))
            continue
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise CorpusError(f"{where}[{i}]: expected a content part object with a 'type', got {part!r:.80}")
        if part["type"] not in TEXT_PARTS:
            raise NonText(part["type"])
        if not isinstance(part.get("text"), str):
            raise CorpusError(f"{where}[{i}], field 'text': expected a string, got {type(part.get('text')).__name__}")
        texts.append(check_text(part["text"], f"{where}[{i}].text"))
    if len(value) > 1:
        notes.append("content_parts_joined")
    return PART_SEPARATOR.join(texts)


class NonText(Exception):
    """A content part that is not text (an image, audio, a file): the row is dropped, counted by its type."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.reason = "non_text_" + (re.sub(r"[^a-z0-9]+", "_", kind.lower()).strip("_") or "part")


def check_text(value: str, where: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise CorpusError(
            f"{where}: text holds a lone surrogate ({value[err.start]!r} at character {err.start}), "
            "which is not valid Unicode"
        ) from None
    return value


def message_turns(message: dict, role_key: str, text_key: str, where: str, notes: list[str]) -> list[Turn]:
    """One message of a ``messages`` / ``conversations`` list -> its turns (an assistant's tool calls are a turn)."""
    raw_role = message.get(role_key)
    if not isinstance(raw_role, str):
        what = "missing" if raw_role is None else f"expected a string, got {type(raw_role).__name__}"
        raise CorpusError(f"{where}, field {role_key!r}: {what}")
    role = canonical_role(raw_role, f"{where}, field {role_key!r}")
    calls = {k: message[k] for k in ("tool_calls", "function_call") if message.get(k)}
    value = message.get(text_key)
    if value is None and not calls:
        raise CorpusError(f"{where}, field {text_key!r}: {'null' if text_key in message else 'missing'}")
    text = "" if value is None else content_text(value, f"{where}, field {text_key!r}", notes)
    if not calls:
        return [(role, text)]
    notes.append("tool_calls_as_turns")
    call = json.dumps(calls, ensure_ascii=False)
    return ([(role, text)] if text.strip() else []) + [(TOOL_CALL, call)]


def shape(turns: list[Turn], options, normalize) -> Row | str:
    """A record's turns (canonical roles, raw texts) -> the :class:`Row` kept, or a drop reason.

    Args:
        options: ``multi_turn``, ``system`` and ``system_side`` of :class:`CorpusOptions`.
        normalize: the whitespace normalization applied to every turn.
    """
    notes: list[str] = []
    normalized = [(role, normalize(text)) for role, text in turns]
    if any(n != t for (_, n), (_, t) in zip(normalized, turns, strict=True)):
        notes.append("whitespace_normalized")
    turns = normalized
    if any(role == SYSTEM for role, _ in turns):
        if options.system == "drop":
            turns = [t for t in turns if t[0] != SYSTEM]
            notes.append("system_dropped")
        elif any(role == SYSTEM and not text for role, text in turns):
            turns = [t for t in turns if t[0] != SYSTEM or t[1]]
            notes.append("empty_system_dropped")
    body = [i for i, (role, _) in enumerate(turns) if role != SYSTEM]
    if not any(turns[i][0] == USER for i in body):
        return "no_response"
    if turns[body[0]][0] != USER:
        return "starts_with_assistant"  # a fragment cut from a longer conversation
    n_users = sum(turns[i][0] == USER for i in body)
    if options.multi_turn == "drop" and n_users > 1:
        return "multi_turn"
    n_before = len(turns)
    if options.multi_turn == "first":
        end = next((i for i in body[1:] if turns[i][0] in (USER, ASSISTANT)), None)
        if end is None:
            return "no_response"
        if turns[end][0] != ASSISTANT:  # the reply, if any, answers more than the first user turn
            return "consecutive_user_turns"
        turns = turns[: end + 1]
        if len(turns) < n_before:
            notes.append("later_turns_dropped")
    else:
        last = max((i for i in body if turns[i][0] == ASSISTANT), default=None)
        if last is None:
            return "no_response"
        turns = turns[: last + 1]
        if len(turns) < n_before:
            notes.append("trailing_turns_dropped")
    users = [text for role, text in turns if role == USER]
    replies = [text for role, text in turns if role == ASSISTANT]
    if not all(users) or not all(replies):
        if len(users) + len(replies) > 2:
            return "empty_turn"
        return "empty_instruction" if not all(users) else "empty_response"
    system = TURN_SEPARATOR.join(text for role, text in turns if role == SYSTEM)
    instruction = TURN_SEPARATOR.join(users)
    if system and options.system_side == "instruction":
        instruction = f"{system}{TURN_SEPARATOR}{instruction}" if instruction else system
    return Row(system, instruction, TURN_SEPARATOR.join(replies), turns, notes, n_before - len(turns))
