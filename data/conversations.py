"""Conversations in preference data: ``{role, content}`` message lists and hh-rlhf
``Human: ... Assistant: ...`` dialogues, as TRL's conversational and implicit-prompt sets hold
them, turned into a prompt text, ``prompt_messages`` JSON (kept only for a real conversation)
and response texts.

Roles are normalised (human -> user, gpt/bot/model/ai -> assistant); a prompt that is one user
turn is plain text. A row without a prompt takes the turns (or, for plain strings, the
characters) that chosen and rejected share as its prompt, as TRL's ``extract_prompt`` does.
Problems raise ``InputError`` at the row's line and column.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from data.columns import Columns
from data.formats import kind_of, shown

__all__ = ["preference_texts", "prompt_texts"]


def prompt_texts(cols: Columns) -> tuple[pl.Series, pl.Series]:
    """Prompt text and ``prompt_messages`` JSON (null unless a real conversation) of a
    pairs-shaped table, whose prompt is text or messages in ``prompt`` or ``prompt_messages``."""
    prompt_type = cols.frame["prompt"].dtype if cols.has("prompt") else pl.Null()
    conversational = (
        cols.has("prompt_messages")
        or isinstance(prompt_type, pl.List)
        or "prompt" in cols.table.mixed
    )
    if not conversational:
        return cols.text("prompt", required=True), cols.nulls("prompt_messages", pl.String())
    texts: list[str | None] = []
    stored: list[str | None] = []
    given = cols.values("prompt_messages")
    for index, (prompt, messages) in enumerate(zip(cols.values("prompt"), given, strict=True)):
        if messages is not None:
            column = "prompt_messages"
            if isinstance(messages, str):
                try:
                    messages = json.loads(messages)
                except json.JSONDecodeError as error:
                    raise cols.error_at(index, column, f"not valid JSON ({error.msg})") from None
        elif isinstance(prompt, list):
            column, messages = "prompt", prompt
        else:
            if not isinstance(prompt, str):
                message = (
                    "the value is missing"
                    if prompt is None
                    else f"{shown(prompt)} is {kind_of(prompt)}, expected text or messages"
                )
                raise cols.error_at(index, "prompt", message)
            texts.append(prompt)
            stored.append(None)
            continue
        turns = _turns(cols, index, column, messages)
        text, as_json = _prompt_fields(turns)
        texts.append(prompt if isinstance(prompt, str) else text)
        stored.append(as_json)
    return pl.Series("prompt", texts, pl.String), pl.Series("prompt_messages", stored, pl.String)


def preference_texts(cols: Columns) -> tuple[pl.Series, pl.Series, pl.Series, pl.Series]:
    """(prompt, prompt_messages, chosen, rejected) texts from TRL columns.

    Standard explicit rows (three strings) stay vectorised; conversational rows and
    implicit prompts (shared leading turns of chosen and rejected) are split per row.
    """
    kinds = {name: _trl_kind(cols, name) for name in ("prompt", "chosen", "rejected")}
    if kinds == {"prompt": "text", "chosen": "text", "rejected": "text"}:
        prompt = cols.text("prompt", required=True)
        return (
            prompt,
            cols.nulls("prompt_messages", pl.String()),
            cols.text("chosen", required=True),
            cols.text("rejected", required=True),
        )
    rows = zip(cols.values("prompt"), cols.values("chosen"), cols.values("rejected"), strict=True)
    out: list[tuple[str, str | None, str, str]] = []
    for index, (prompt, chosen, rejected) in enumerate(rows):
        for name, value in (("chosen", chosen), ("rejected", rejected)):
            if value is None:
                raise cols.error_at(index, name, "the value is missing")
        out.append(_preference_row(cols, index, prompt, chosen, rejected))
    columns = list(zip(*out, strict=True)) if out else [(), (), (), ()]
    return (
        pl.Series("prompt", columns[0], pl.String),
        pl.Series("prompt_messages", columns[1], pl.String),
        pl.Series("chosen", columns[2], pl.String),
        pl.Series("rejected", columns[3], pl.String),
    )


def _trl_kind(cols: Columns, name: str) -> str:
    if not cols.has(name):
        return "absent"
    dtype = cols.frame[name].dtype
    if name in cols.table.mixed:
        return "mixed"
    if isinstance(dtype, pl.List):
        return "messages"
    if dtype in (pl.String, pl.Null):
        return "text"
    cols.fail(
        name,
        cols.frame[name].is_not_null(),
        lambda v: f"{shown(v)} is {kind_of(v)}, expected text or messages",
    )
    return "text"


def _preference_row(
    cols: Columns, index: int, prompt: Any, chosen: Any, rejected: Any
) -> tuple[str, str | None, str, str]:
    if prompt is not None:
        if isinstance(prompt, list):
            text, as_json = _prompt_fields(_turns(cols, index, "prompt", prompt))
        elif isinstance(prompt, str):
            text, as_json = prompt, None
        else:
            raise cols.error_at(
                index,
                "prompt",
                f"{shown(prompt)} is {kind_of(prompt)}, expected text or messages",
            )
        return (
            text,
            as_json,
            _response(cols, index, "chosen", chosen),
            _response(cols, index, "rejected", rejected),
        )
    if isinstance(chosen, str) and isinstance(rejected, str):
        chosen_turns, rejected_turns = _dialogue(chosen), _dialogue(rejected)
        if chosen_turns is None or rejected_turns is None:
            # Plain strings: like TRL's extract_prompt, the shared leading text is the prompt.
            # (commonprefix compares characters, which is what is wanted here.)
            shared = len(os.path.commonprefix([chosen, rejected]))  # noqa: RUF071
            if shared and chosen[shared - 1] == " ":
                shared -= 1  # as TRL does: the space stays with the responses
            return chosen[:shared], None, chosen[shared:], rejected[shared:]
    elif isinstance(chosen, list) and isinstance(rejected, list):
        chosen_turns = _turns(cols, index, "chosen", chosen)
        rejected_turns = _turns(cols, index, "rejected", rejected)
    else:
        raise cols.error_at(index, "rejected", "chosen and rejected mix text and message lists")
    shared = 0
    limit = min(len(chosen_turns), len(rejected_turns)) - 1
    while shared < limit and chosen_turns[shared] == rejected_turns[shared]:
        shared += 1
    text, as_json = _prompt_fields(chosen_turns[:shared])
    return (
        text,
        as_json,
        _response_text(chosen_turns[shared:]),
        _response_text(rejected_turns[shared:]),
    )


def _response(cols: Columns, index: int, column: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return _response_text(_turns(cols, index, column, value))
    raise cols.error_at(
        index, column, f"{shown(value)} is {kind_of(value)}, expected text or messages"
    )


def _turns(cols: Columns, index: int, column: str, value: Any) -> list[dict[str, str]]:
    """Messages checked and normalised: roles user/assistant/system, content text."""
    if not isinstance(value, list) or not value:
        raise cols.error_at(index, column, "expected a non-empty list of {role, content} messages")
    turns = []
    for number, message in enumerate(value, start=1):
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        normal = _ROLES.get(role.strip().lower()) if isinstance(role, str) else None
        if normal is None:
            raise cols.error_at(
                index,
                column,
                f"message {number}: role {shown(role)} is not user, assistant or system",
            )
        if not isinstance(content, str):
            raise cols.error_at(
                index, column, f"message {number}: content {shown(content)} is not text"
            )
        turns.append({"role": normal, "content": content})
    return turns


_ROLES = {
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "gpt": "assistant",
    "bot": "assistant",
    "model": "assistant",
    "ai": "assistant",
    "system": "system",
}
_SPEAKER = {"user": "User", "assistant": "Assistant", "system": "System"}
#: hh-rlhf dialogues: "\n\nHuman: ...\n\nAssistant: ..." (the first turn may lack the breaks).
_DIALOGUE_TURN = re.compile(r"(?:^|\n\n)(Human|Assistant): ?")


def _dialogue(text: str) -> list[dict[str, str]] | None:
    """Turns of a "Human: ... Assistant: ..." string; None when it is not such a dialogue."""
    parts = _DIALOGUE_TURN.split(text)
    if len(parts) < 3 or parts[0].strip():
        return None
    return [
        {"role": "user" if speaker == "Human" else "assistant", "content": content}
        for speaker, content in zip(parts[1::2], parts[2::2], strict=True)
    ]


def _readable(turns: Sequence[Mapping[str, str]]) -> str:
    return "\n\n".join(f"{_SPEAKER[t['role']]}: {t['content']}" for t in turns)


def _prompt_fields(turns: Sequence[Mapping[str, str]]) -> tuple[str, str | None]:
    """Prompt text and JSON; a lone user turn is plain text, not a conversation."""
    if not turns:
        return "", None
    if len(turns) == 1 and turns[0]["role"] == "user":
        return turns[0]["content"], None
    return _readable(turns), json.dumps(list(turns), ensure_ascii=False)


def _response_text(turns: Sequence[Mapping[str, str]]) -> str:
    if len(turns) == 1 and turns[0]["role"] == "assistant":
        return turns[0]["content"]
    return _readable(turns)
