"""Between what a rater sees and what the store keeps: safe Markdown, turns, sides, forms.

Pure functions for the pages. Model output is untrusted: it is shown as Markdown with every
``<``, ``>`` and ``&`` escaped outside code (so ``<script>`` reads as text and code stays
readable), ``$`` escaped so prices are not typeset as maths, images shown as their Markdown
text (no URL is fetched), and a length cap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from data import frames
from data.store import Assignment, Project, Submission

__all__ = [
    "MAX_CHARS",
    "POSITIONS",
    "Capped",
    "FormIncomplete",
    "Turn",
    "cap",
    "choice_for",
    "conversation",
    "coverage_histogram",
    "parse_lines",
    "parse_mapping",
    "recent_activity",
    "safe_markdown",
    "sides",
    "submission_from_form",
    "valid_id",
]

#: Longest text shown per field; raters judge what fits on a few screens.
MAX_CHARS = 20_000
#: What a rater can pick, in the terms the screen uses.
POSITIONS: tuple[str, ...] = ("left", "right", "tie", "both_bad")

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "$": r"\$"})
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


# -- text ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Capped:
    text: str
    hidden_chars: int

    @property
    def truncated(self) -> bool:
        return self.hidden_chars > 0


def cap(text: str | None, limit: int = MAX_CHARS) -> Capped:
    """At most ``limit`` characters of ``text``, and how many were left out.

    >>> cap("abcdef", 4)
    Capped(text='abcd', hidden_chars=2)
    """
    text = text or ""
    return Capped(text[:limit], max(len(text) - limit, 0))


def safe_markdown(text: str) -> str:
    """Markdown that renders ``text`` without any HTML: ``&``, ``<``, ``>`` and ``$`` are
    escaped outside code; fenced blocks and inline code spans are kept as they are, since
    Markdown shows code literally.

    >>> safe_markdown("<script>x</script> costs $5 & `a<b`")
    '&lt;script&gt;x&lt;/script&gt; costs \\\\$5 &amp; `a<b`'
    """
    out: list[str] = []
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        opener = _FENCE.match(line)
        if fence is None and opener:
            fence = opener.group(1)
            out.append(line)
        elif fence is not None:
            if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence):
                fence = None
            out.append(line)
        else:
            out.append(_escape_outside_code_spans(line))
    return "".join(out)


def _escape_outside_code_spans(line: str) -> str:
    pieces, start = [], 0
    for span in _CODE_SPAN.finditer(line):
        pieces.append(_escape_text(line[start : span.start()]))
        pieces.append(span.group(0))
        start = span.end()
    pieces.append(_escape_text(line[start:]))
    return "".join(pieces)


def _escape_text(text: str) -> str:
    # An image would make every rater's browser fetch a URL the model chose: show it as text.
    return text.translate(_ESCAPES).replace("![", "!\\[")


@dataclass(frozen=True)
class Turn:
    role: str
    content: str


def conversation(prompt: str, prompt_messages: str | None) -> list[Turn]:
    """The prompt as conversation turns.

    ``prompt_messages`` (``frames.PAIRS``: JSON list of ``{role, content}``, or null) is the
    conversation before the responses and ``prompt`` its plain text; a pair without readable
    turns shows ``prompt`` as one user turn.

    >>> conversation("Hi?", None)
    [Turn(role='user', content='Hi?')]
    >>> [t.role for t in conversation("User: Hi ...", '[{"role": "user", "content": "Hi"},'
    ...     ' {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "And?"}]')]
    ['user', 'assistant', 'user']
    """
    return _turns(prompt_messages) or [Turn("user", prompt)]


def _turns(prompt_messages: str | None) -> list[Turn]:
    if not prompt_messages:
        return []
    try:
        loaded = json.loads(prompt_messages)
    except ValueError:
        return []
    if not isinstance(loaded, list):
        return []
    turns = []
    for message in loaded:
        if not isinstance(message, dict):
            return []
        role = str(message.get("role") or "user").lower()
        turns.append(Turn("user" if role == "human" else role, _text(message.get("content"))))
    return turns


def _text(content: object) -> str:
    # OpenAI-style content may be a list of parts; keep the text parts.
    if isinstance(content, list):
        return "\n\n".join(
            str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content
        )
    return "" if content is None else str(content)


# -- sides and choices -----------------------------------------------------------------------


def sides(shown_left: str) -> tuple[str, str]:
    """Which response (``a``/``b``) is on the left and on the right.

    >>> sides("b")
    ('b', 'a')
    """
    return ("a", "b") if shown_left == "a" else ("b", "a")


def choice_for(position: str, shown_left: str) -> str:
    """The stored choice (``frames.CHOICES``) for what the rater picked on screen.

    >>> choice_for("left", "b"), choice_for("right", "b"), choice_for("tie", "b")
    ('b', 'a', 'tie')
    """
    left, right = sides(shown_left)
    mapped = {"left": left, "right": right, "tie": "tie", "both_bad": "both_bad"}
    if position not in mapped:
        raise ValueError(f"position must be one of {POSITIONS}, not {position!r}")
    return mapped[position]


class FormIncomplete(ValueError):
    """The rater's answer misses something the project requires (the message says what)."""


def submission_from_form(
    project: Project,
    assignment: Assignment,
    submission_id: str,
    *,
    position: str | None,
    strength: int | None = None,
    rationale: str = "",
    principles: Iterable[str] = (),
    flags: Iterable[str] = (),
) -> Submission:
    """The vote to store for the label form, following the project's rules.

    Raises FormIncomplete when no choice was made, a choice the project does not allow was
    made, or a rationale is required and missing. Strength is kept only for a left/right
    choice in a project that asks for it.
    """
    if position is None:
        raise FormIncomplete("Choose Left, Right or Tie first.")
    if position == "tie" and not project.tie_allowed:
        raise FormIncomplete("This project does not allow ties.")
    if position == "both_bad" and not project.both_bad_allowed:
        raise FormIncomplete("This project does not allow 'both bad'.")
    if project.rationale_required and not rationale.strip():
        raise FormIncomplete("This project asks for a short rationale with every vote.")
    keeps_strength = project.strength_enabled and position in ("left", "right")
    return Submission(
        submission_id=submission_id,
        rater_id=assignment.rater_id,
        pair_id=assignment.pair_id,
        choice=choice_for(position, assignment.shown_left),
        strength=strength if keeps_strength else None,
        rationale=rationale.strip() or None,
        principles=tuple(p for p in project.principles if p in set(principles)),
        flags=tuple(f for f in project.flags if f in set(flags)),
        round=assignment.round,
    )


# -- admin forms and tables ------------------------------------------------------------------


def parse_lines(text: str) -> tuple[str, ...]:
    """One entry per non-blank line, trimmed, duplicates dropped (for principles and flags).

    >>> parse_lines(" honesty\\n\\nharm \\nhonesty")
    ('honesty', 'harm')
    """
    return tuple(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))


def parse_mapping(text: str) -> dict[str, str]:
    """Column renames typed one per line as ``theirs=ours`` (blank lines ignored).

    >>> parse_mapping("question = prompt\\n\\nanswer_1=response_a")
    {'question': 'prompt', 'answer_1': 'response_a'}
    """
    mapping = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        theirs, sep, ours = (part.strip() for part in line.partition("="))
        if not sep or not theirs or not ours:
            raise ValueError(f"line {number}: write their_column=our_column, not {line!r}")
        mapping[theirs] = ours
    return mapping


def valid_id(text: str) -> bool:
    """Whether ``text`` is usable as a project or rater id (letters, digits, ``_.-``).

    >>> valid_id("team-a_2"), valid_id(""), valid_id("a b")
    (True, False, False)
    """
    return _ID.fullmatch(text) is not None


def coverage_histogram(
    pairs: pl.DataFrame, judgments: pl.DataFrame, overlap_k: int
) -> pl.DataFrame:
    """How many work pairs have 0, 1, ... ``overlap_k`` votes (the last bucket: k or more).

    Consumes ``pairs`` (``frames.PAIRS``: ``pair_id, is_gold``) and ``judgments``
    (``frames.JUDGMENTS``: ``pair_id``). Returns ``votes`` (String, ``"0"``..``"k+"``) and
    ``pairs`` (Int64), one row per bucket, empty buckets included; gold pairs are left out.

    >>> pairs = pl.DataFrame({"pair_id": ["p1", "p2", "p3"], "is_gold": [False] * 3})
    >>> votes = pl.DataFrame({"pair_id": ["p1", "p1", "p1", "p2"]})
    >>> coverage_histogram(pairs, votes, 2)["pairs"].to_list()
    [1, 1, 1]
    """
    work = pairs.filter(~pl.col("is_gold").fill_null(False)).select("pair_id")
    per_pair = judgments.group_by("pair_id").agg(pl.len().alias("n"))
    counted = work.join(per_pair, on="pair_id", how="left").select(
        pl.col("n").fill_null(0).clip(upper_bound=overlap_k).alias("bucket")
    )
    buckets = pl.DataFrame({"bucket": list(range(overlap_k + 1))}, schema={"bucket": pl.UInt32})
    tally = counted.group_by("bucket").agg(pl.len().alias("pairs"))
    return (
        buckets.join(tally.cast({"bucket": pl.UInt32}), on="bucket", how="left")
        .sort("bucket")
        .select(
            pl.when(pl.col("bucket") == overlap_k)
            .then(pl.format("{}+", pl.col("bucket")))
            .otherwise(pl.col("bucket").cast(pl.String))
            .alias("votes"),
            pl.col("pairs").fill_null(0).cast(pl.Int64),
        )
    )


def recent_activity(judgments: pl.DataFrame, n: int = 20) -> pl.DataFrame:
    """The ``n`` latest votes, newest first, with the columns an admin scans.

    Consumes ``judgments`` (``frames.JUDGMENTS``).
    """
    columns = ["created_at", "rater_id", "pair_id", "choice", "strength", "seconds", "source"]
    return (
        frames.conform(judgments, frames.JUDGMENTS)
        .sort("created_at", descending=True)
        .head(n)
        .select(columns)
    )
