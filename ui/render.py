"""Between what a rater sees and what the store keeps: safe Markdown, turns, sides, forms.

Pure functions for the pages. Imported text is untrusted data, never markup. It is parsed by
a real Markdown parser (markdown-it, CommonMark with GFM tables and strikethrough) and written
out again as Markdown that can only mean what the parser saw: every character of text is
escaped, code is re-fenced so nothing inside can end it, raw HTML and images come out as their
literal text (no URL is ever fetched) and only http(s) links stay links. Names and labels
(models, categories, raters, principles, files) are shown as literal text, never as Markdown.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl
from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from data import frames
from data.store import Assignment, Project, Submission

__all__ = [
    "CHOICE_KEYS",
    "MAX_CHARS",
    "POSITIONS",
    "STRENGTH_KEYS",
    "Capped",
    "FormIncomplete",
    "Turn",
    "allowed_positions",
    "cap",
    "choice_for",
    "conversation",
    "coverage_histogram",
    "form_key",
    "key_hint",
    "literal",
    "pairs_to_go",
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
#: Each position's button and key on the label page (and in the guidelines).
CHOICE_KEYS: dict[str, tuple[str, str]] = {
    "left": ("Left is better", "1"),
    "right": ("Right is better", "2"),
    "tie": ("Tie", "0"),
    "both_bad": ("Both bad", "9"),
}
#: How much better (``frames.STRENGTH_LABELS``), by key: three keys side by side, weakest
#: first, so one keystroke says it (C and R are Streamlit's own keys).
STRENGTH_KEYS: dict[int, str] = {1: "S", 2: "D", 3: "F"}

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

#: Quotes and lists nested deeper than this are not Markdown anyone writes by hand.
_MAX_NESTING = 20
#: The parser that decides what imported text means: no raw HTML, entities left as written
#: (``&amp;`` shows as typed), nesting capped so hostile input cannot recurse deeply.
_PARSER = (
    MarkdownIt("commonmark", {"html": False, "maxNesting": _MAX_NESTING})
    .enable(["table", "strikethrough"])
    .disable("entity")
)
#: Punctuation that Markdown, GFM or Streamlit (``:red[..]``, ``:smile:``, ``$maths$``) would
#: read anywhere in a line; a backslash makes each one a literal character. ``&`` only where
#: it starts an entity, ``:`` only where it starts a name, ``_`` only where it is not inside
#: a word (``file_name`` cannot start emphasis): so paths and messages mostly read as typed.
_MARKUP = re.compile(
    r"[\\`*\[\]<>!|~$@]|&(?=[#A-Za-z])|:(?=[A-Za-z0-9_+/-])"
    r"|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])"
)
#: What begins a list, heading, rule or underline only at a line's start: "- ", "+ ", "#",
#: "===", "1." or "1)".
_LINE_START = re.compile(r"^([-+#=])|^(\d{1,9})([.)])", re.MULTILINE)
_SAFE_SCHEMES = ("http://", "https://")
_ALIGN = {"text-align:left": ":--", "text-align:center": ":-:", "text-align:right": "--:"}
_INFO = re.compile(r"[A-Za-z0-9_+.#-]{1,30}")


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
    """Markdown that shows ``text`` as the Markdown it is, with nothing that runs or fetches.

    Paragraphs, headings, lists, quotes, tables, emphasis and code keep their shape; raw
    HTML, images and links to anything but http(s) come out as their literal text.

    >>> safe_markdown("<script>x</script> costs $5 & `a<b`")
    '\\\\<script\\\\>x\\\\</script\\\\> costs \\\\$5 & ` a<b `'
    >>> safe_markdown("![pixel](http://tracker/p.png) **bold**")
    '\\\\!\\\\[pixel\\\\](http\\\\://tracker/p.png) **bold**'
    """
    tokens = _PARSER.parse(text)
    if any(token.level >= _MAX_NESTING - 1 for token in tokens):
        return literal(text)  # nested deeper than the parser keeps: show it as typed
    return "\n".join(_blocks(SyntaxTreeNode(tokens).children)).strip("\n")


def literal(text: object) -> str:
    """Markdown that shows ``text`` exactly as written, line breaks kept: for names and labels
    (models, categories, raters, principles, files) and messages that quote them.

    >>> literal("![m](http://x/y) *gpt-4*, v1.2")
    '\\\\!\\\\[m\\\\](http\\\\://x/y) \\\\*gpt-4\\\\*, v1.2'
    """
    lines = [_escaped(line.strip()) for line in str(text).splitlines() or [""]]
    return _line_starts("\\\n".join(lines))


def _escaped(text: str) -> str:
    return _MARKUP.sub(lambda mark: "\\" + mark[0], text)


def _line_starts(text: str) -> str:
    """``text`` with what would open a block at a line's start escaped."""
    return _LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text)


def _blocks(nodes: Iterable[SyntaxTreeNode], tight: bool = False) -> list[str]:
    """Lines of Markdown for a run of block nodes, a blank line between blocks (none
    between the paragraphs of a tight list)."""
    lines: list[str] = []
    for node in nodes:
        if lines and not (tight and node.type in ("paragraph", "bullet_list", "ordered_list")):
            lines.append("")
        lines.extend(_block(node))
    return lines


def _block(node: SyntaxTreeNode) -> list[str]:
    kind = node.type
    if kind == "paragraph":
        return _inline_lines(node.children)
    if kind == "heading":
        return ["#" * int(node.tag[1:]) + " " + " ".join(_inline_lines(node.children))]
    if kind in ("fence", "code_block"):
        return _fenced(node.content, node.info.strip() if kind == "fence" else "")
    if kind == "blockquote":
        return [f"> {line}".rstrip() for line in _blocks(node.children)]
    if kind in ("bullet_list", "ordered_list"):
        return _list(node)
    if kind == "hr":
        return ["***"]  # unlike "---", never read as a heading underline
    if kind == "table":
        return _table(node)
    # Anything else (html_block cannot occur with html off): its text, literally.
    return _escaped(node.content).split("\n") if node.content else []


def _fenced(code: str, info: str) -> list[str]:
    """A fence longer than any backtick run inside, so no line of the code can close it."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    language = info.split()[0] if info else ""
    return [fence + (language if _INFO.fullmatch(language) else ""), *code.splitlines(), fence]


def _list(node: SyntaxTreeNode) -> list[str]:
    items = [child for child in node.children if child.type == "list_item"]
    tight = all(p.hidden for item in items for p in item.children if p.type == "paragraph")
    start = int(node.attrs.get("start", 1) or 1)
    lines: list[str] = []
    for number, item in enumerate(items, start=start):
        marker = f"{number}. " if node.type == "ordered_list" else "- "
        body = _blocks(item.children, tight=tight) or [""]
        if lines and not tight:
            lines.append("")
        lines.append((marker + body[0]).rstrip())
        lines.extend((" " * len(marker) + line) if line else "" for line in body[1:])
    return lines


def _table(node: SyntaxTreeNode) -> list[str]:
    rows = [row for section in node.children for row in section.children]
    lines = []
    for index, row in enumerate(rows):
        cells = [" ".join(_inline_lines(cell.children, in_table=True)) for cell in row.children]
        lines.append("| " + " | ".join(cells) + " |")
        if index == 0:
            aligns = [_ALIGN.get(str(cell.attrs.get("style", "")), "---") for cell in row.children]
            lines.append("| " + " | ".join(aligns) + " |")
    return lines


def _inline_lines(nodes: Iterable[SyntaxTreeNode], in_table: bool = False) -> list[str]:
    text = "".join(_inline(node, in_table) for child in nodes for node in _leaves(child))
    return _line_starts(text).split("\n")


def _leaves(node: SyntaxTreeNode) -> list[SyntaxTreeNode]:
    # A paragraph's or cell's one child is the "inline" node that holds the spans.
    return node.children if node.type == "inline" else [node]


def _inline(node: SyntaxTreeNode, in_table: bool) -> str:
    kind = node.type
    inner = "".join(_inline(child, in_table) for child in node.children)
    if kind == "text":
        return _escaped(node.content)
    if kind == "softbreak":
        return " " if in_table else "\n"
    if kind == "hardbreak":
        return " " if in_table else "\\\n"
    if kind == "code_inline":
        return _escaped(node.content) if in_table else _code_span(node.content)
    if kind in ("em", "strong", "s"):
        mark = {"em": "*", "strong": "**", "s": "~~"}[kind]
        return f"{mark}{inner}{mark}"
    if kind == "link":
        href = str(node.attrs.get("href", ""))
        if href.lower().startswith(_SAFE_SCHEMES) and not re.search(r"[\s<>\\]", href):
            return f"[{inner or _escaped(href)}](<{href}>)"
        return _escaped(f"[{node.content or _plain(node)}]({href})")
    if kind == "image":
        # Shown as the Markdown it was: an image would make every reader's browser fetch it.
        return _escaped(f"![{node.content}]({node.attrs.get('src', '')})")
    return _escaped(node.content) + inner


def _plain(node: SyntaxTreeNode) -> str:
    """The text inside a node, without its markup."""
    return "".join(child.content or _plain(child) for child in node.children)


def _code_span(code: str) -> str:
    """A code span whose backtick fence is longer than any run inside it; the padding
    spaces are stripped again by the parser."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {code} {fence}"


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
    made, or a rationale or strength is required and missing. Strength is kept only for a
    left/right choice in a project that asks for it.
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
    if keeps_strength and project.strength_required and strength is None:
        raise FormIncomplete("This project asks how much better: slightly, clearly or much.")
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


#: Keeps form keys unguessable (a new one each server process): keys reach the browser.
_FORM_KEY_SALT = secrets.token_bytes(16)


def form_key(name: str, assignment: Assignment) -> str:
    """The key of a label-form widget, new for every assignment (so every pair starts with an
    empty form) and opaque: widget keys reach the browser, and a pair id or a round in them
    would tell a probe pair (its id), a retest (round 1) or a gold item from work.

    >>> a = Assignment("r1", "p1", "demo", "a", False, None)  # type: ignore[arg-type]
    >>> form_key("strength", a) == form_key("strength", a) != form_key("rationale", a)
    True
    >>> "p1" in form_key("strength", a)
    False
    """
    digest = hashlib.blake2b(
        f"{assignment.rater_id}\0{assignment.pair_id}\0{assignment.round}".encode(),
        key=_FORM_KEY_SALT,
        digest_size=8,
    ).hexdigest()
    return f"label_{name}_{digest}"


def allowed_positions(project: Project) -> tuple[str, ...]:
    """The positions this project lets a rater pick, in the order of ``POSITIONS``.

    >>> allowed_positions(Project("p", "P", tie_allowed=False, both_bad_allowed=True))
    ('left', 'right', 'both_bad')
    """
    allowed = {"tie": project.tie_allowed, "both_bad": project.both_bad_allowed}
    return tuple(p for p in POSITIONS if allowed.get(p, True))


def key_hint(project: Project) -> str:
    """Every key that works on the label page for this project, in one line.

    >>> key_hint(Project("p", "P", both_bad_allowed=True))  # doctest: +NORMALIZE_WHITESPACE
    'Keys: 1 left · 2 right · then S slightly, D clearly, F much better · 0 tie · 9 both bad
    · Enter submits (not while typing in a text box).'
    """
    short = {"left": "left", "right": "right", "tie": "tie", "both_bad": "both bad"}
    keys = [f"{CHOICE_KEYS[p][1]} {short[p]}" for p in allowed_positions(project)]
    if project.strength_enabled:
        much = ", ".join(
            f"{key} {frames.STRENGTH_LABELS[level].split()[0]}"
            for level, key in STRENGTH_KEYS.items()
        )
        keys.insert(2, f"then {much} better")
    return "Keys: " + " · ".join([*keys, "Enter submits (not while typing in a text box)."])


def pairs_to_go(progress: dict[str, int], gold_rate: float, current: bool) -> int:
    """How many more pairs a rater will judge: the one shown (``current``), the work pairs
    open to them, and the hidden gold items expected among those.

    ``progress`` is ``Store.progress``. Gold comes before a work pair with probability
    ``gold_rate`` and only while work is left, so ``n`` work pairs bring ``n * r / (1 - r)``
    gold items on average, never more than the unseen ones.

    >>> pairs_to_go({"available": 69, "gold_available": 30}, 0.15, current=True)
    82
    >>> pairs_to_go({"available": 3, "gold_available": 0}, 0.15, current=False)
    3
    """
    work, gold = progress["available"], progress.get("gold_available", 0)
    expected = gold if gold_rate >= 1 else round(work * gold_rate / (1 - gold_rate))
    return int(current) + work + min(gold, expected)


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
