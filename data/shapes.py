"""Shaping a table into the frame contracts: ``frames.PAIRS`` and ``frames.JUDGMENTS``.

``shape_table`` turns a ``Table`` into an ``ImportBatch``. Four shapes are recognised from the
column names (or forced with ``shape=``):

- ``pairs``: ``prompt, response_a, response_b`` (+ ``pair_id, category, model_a, model_b, gold,
  gold_principle, is_gold, prompt_messages``); other columns are kept as JSON in ``metadata``.
- ``trl``: TRL preference sets, ``chosen, rejected`` with or without ``prompt``, as strings or
  as lists of ``{role, content}``. The source's label becomes a vote by a source rater
  (``TRL_SOURCE_RATER`` unless named: never the file's name, so the same content under another
  name, gzip'd or as CSV, adds nothing), and a content hash decides which side is ``a``
  (balanced, and the same on every re-import).
- ``judgments``: ``pair_id, rater_id, choice`` (+ ``round, strength, shown_left, seconds,
  created_at, rationale, principles, flags, is_gold, submission_id``).
- ``denormalised``: pair columns and one rater's vote on every row.

Ids come from content, so shaping the same file twice gives the same ids. Rows that repeat
an earlier one exactly are left out and reported as ``Duplicate``; rows that contradict one
(a ``pair_id`` with other content, a rater's second verdict on a pair and round, a
``submission_id`` used for two votes) refuse the file, naming both lines. Every row keeps the
line it came from. The presets
(``data.presets``) build their frames from the same pieces.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from data import frames
from data.columns import ASSIGNED_COLUMNS, BLANK, INT32_MAX, Columns
from data.conversations import preference_texts, prompt_texts
from data.formats import LINE, InputError, Table, column_list, shown

__all__ = [
    "SHAPES",
    "TRL_SOURCE_RATER",
    "Duplicate",
    "ImportBatch",
    "assemble",
    "judgment_frame",
    "pair_frame",
    "pair_id_for",
    "require_columns",
    "shape_table",
    "trl_frames",
    "verdict",
]

SHAPES: tuple[str, ...] = ("pairs", "trl", "judgments", "denormalised")

#: The rater whose votes are a TRL file's own labels, unless the import names another.
TRL_SOURCE_RATER = "source:trl"

_PAIR_COLUMNS = frozenset(
    {
        "pair_id",
        "prompt",
        "prompt_messages",
        "response_a",
        "response_b",
        "category",
        "model_a",
        "model_b",
        "gold",
        "gold_principle",
        "is_gold",
        "source",
    }
)
_JUDGMENT_COLUMNS = frozenset(frames.JUDGMENTS)
_TRL_COLUMNS = frozenset({"prompt", "chosen", "rejected", "pair_id", "category", "source"})

_REQUIRED: dict[str, tuple[str, ...]] = {
    "pairs": ("prompt", "response_a", "response_b"),
    "trl": ("chosen", "rejected"),
    "judgments": ("pair_id", "rater_id", "choice"),
    "denormalised": ("prompt", "response_a", "response_b", "rater_id", "choice"),
}


@dataclass(frozen=True)
class Duplicate:
    """A row that repeats an earlier one exactly (same ``pair_id`` and content; for votes,
    same pair, rater, round and verdict). It is left out, not an error."""

    line: int
    first_line: int
    pair_id: str
    rater_id: str | None = None


@dataclass(frozen=True)
class ImportBatch:
    """A file's validated content, ready for ``Store.import_frames``.

    ``pairs`` follows ``frames.PAIRS`` (``project_id`` null) and ``judgments``
    ``frames.JUDGMENTS``. ``pair_lines[i]`` and ``judgment_lines[i]`` are the lines rows ``i``
    came from: the 1-based line in JSONL, the line a record starts on in CSV (the header is line
    1), the row number in Parquet. A preset reading several files counts lines within each file.
    """

    path: Path
    format: str
    shape: str
    pairs: pl.DataFrame
    judgments: pl.DataFrame
    source_raters: tuple[str, ...]
    pair_lines: pl.Series
    judgment_lines: pl.Series
    duplicates: list[Duplicate]
    ignored_columns: tuple[str, ...] = ()


def pair_id_for(
    prompt: str, response_a: str, response_b: str, prompt_messages: str | None = None
) -> str:
    """The content id of a pair without one: sha256 of canonical JSON of
    ``[prompt_messages or prompt, response_a, response_b]``, first 16 hex characters.

    >>> pair_id_for("2+2?", "4", "5")
    '541b15c1d8e4527c'
    """
    head: Any = json.loads(prompt_messages) if prompt_messages is not None else prompt
    return _digest([head, response_a, response_b])


def shape_table(
    table: Table, shape: str | None = None, *, source_rater: str | None = None
) -> ImportBatch:
    """Validate ``table`` as one of ``SHAPES`` (detected from its columns when ``shape`` is
    None) and build its frames. ``source_rater`` names the rater standing for a TRL file's own
    label (default ``TRL_SOURCE_RATER``). Raises ``InputError`` for any problem in the file.
    """
    path = table.path
    chosen = shape or _detect_shape(table)
    require_columns(table, _REQUIRED[chosen])
    cols = Columns(table)
    now = datetime.now(UTC)
    if chosen == "trl":
        rater = source_rater or TRL_SOURCE_RATER
        pairs, judgments = trl_frames(cols, rater=rater, source=path.name, now=now)
        return assemble(table, "trl", pairs, judgments, source_raters=(rater,))
    if chosen == "judgments":
        judgments = judgment_frame(cols, source=path.name, now=now)
        return assemble(table, chosen, frames.empty(frames.PAIRS), judgments)
    pairs = pair_frame(cols, source=path.name, judgment_columns=chosen == "denormalised")
    if chosen == "pairs":
        return assemble(table, chosen, pairs, None)
    judgments = judgment_frame(cols, source=path.name, now=now, pair_ids=pairs["pair_id"])
    return assemble(table, chosen, pairs, judgments, report_pair_duplicates=False)


def _detect_shape(table: Table) -> str:
    names = set(table.columns)
    if names & {"chosen", "rejected"}:
        return "trl"
    has_pair = bool(names & {"response_a", "response_b"})
    has_vote = bool(names & {"rater_id", "choice"})
    if has_pair:
        return "denormalised" if has_vote else "pairs"
    if has_vote:
        return "judgments"
    raise InputError(
        table.path,
        f"cannot tell what this file holds from its columns ({column_list(table.columns)}):"
        " expected prompt, response_a, response_b (pairs); chosen, rejected (TRL); pair_id,"
        " rater_id, choice (judgments); or pairs plus votes. Rename columns with a mapping.",
    )


def require_columns(table: Table, required: Sequence[str]) -> None:
    """Raise at the first of ``required`` the table lacks (``prompt_messages`` stands for
    ``prompt``)."""
    for name in required:
        if name == "prompt" and "prompt_messages" in table.columns:
            continue
        if name not in table.columns:
            raise InputError(
                table.path,
                f"required column is missing (the file has {column_list(table.columns)})",
                column=name,
            )


def pair_frame(
    cols: Columns, *, source: str, judgment_columns: bool = False, allow_empty: bool = False
) -> pl.DataFrame:
    """``frames.PAIRS`` columns plus ``LINE`` from a pairs-shaped table.

    Columns that are neither pair columns nor (with ``judgment_columns``) vote columns go to
    ``metadata`` as JSON. ``allow_empty`` accepts empty responses (presets of published data).
    """
    prompt, messages = prompt_texts(cols)
    response_a = cols.text("response_a", required=True, nonempty=not allow_empty)
    response_b = cols.text("response_b", required=True, nonempty=not allow_empty)
    pair_id = _fill_ids(cols.text("pair_id", ids=True), prompt, messages, response_a, response_b)
    gold = cols.choice("gold", frames.GOLD_CHOICES)
    is_gold = cols.boolean("is_gold")
    cols.fail(
        "gold",
        is_gold.fill_null(False) & gold.is_null(),
        lambda _: "a gold item needs a gold answer (a, b or tie)",
    )
    taken = _PAIR_COLUMNS | (_JUDGMENT_COLUMNS if judgment_columns else frozenset())
    return pl.DataFrame(
        [
            pair_id.alias("pair_id"),
            prompt.alias("prompt"),
            messages.alias("prompt_messages"),
            response_a.alias("response_a"),
            response_b.alias("response_b"),
            cols.text("category", ids=True).alias("category"),
            cols.text("model_a", ids=True).alias("model_a"),
            cols.text("model_b", ids=True).alias("model_b"),
            gold.alias("gold"),
            cols.text("gold_principle").alias("gold_principle"),
            is_gold.alias("is_gold"),
            cols.text("source").fill_null(source).alias("source"),
            cols.metadata(exclude=taken).alias("metadata"),
            cols.lines,
        ]
    )


def judgment_frame(
    cols: Columns, *, source: str, now: datetime, pair_ids: pl.Series | None = None
) -> pl.DataFrame:
    """``frames.JUDGMENTS`` columns plus ``LINE`` from a judgments-shaped table.

    ``pair_ids`` replaces the ``pair_id`` column (denormalised rows whose pairs got content ids).
    """
    pair_id = pair_ids if pair_ids is not None else cols.text("pair_id", required=True, ids=True)
    rater_id = cols.rater_ids("rater_id")
    choice = cols.choice("choice", frames.CHOICES, required=True)
    round_ = cols.integer("round", 0, INT32_MAX, f"is not a round (0 to {INT32_MAX})").fill_null(0)
    strength = cols.integer("strength", 1, 3, "is not 1, 2 or 3")
    cols.fail(
        "strength",
        choice.is_in(["tie", "both_bad"]) & strength.is_not_null(),
        lambda value: f"a tie or both_bad vote has no strength (found {value})",
    )
    return pl.DataFrame(
        [
            cols.text("submission_id", ids=True).alias("submission_id"),
            pair_id.alias("pair_id"),
            rater_id.alias("rater_id"),
            round_.cast(pl.Int32).alias("round"),
            choice.alias("choice"),
            strength.cast(pl.Int8).alias("strength"),
            cols.choice("shown_left", frames.SIDES).alias("shown_left"),
            cols.number("seconds", 0.0).alias("seconds"),
            cols.timestamp("created_at").fill_null(now).alias("created_at"),
            cols.text("rationale").alias("rationale"),
            cols.labels("principles").alias("principles"),
            cols.labels("flags").alias("flags"),
            cols.boolean("is_gold").alias("is_gold"),
            cols.text("source").fill_null(source).alias("source"),
            cols.lines,
        ]
    )


def trl_frames(
    cols: Columns, *, rater: str, source: str, now: datetime, allow_empty: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pairs and the source's votes from a TRL preference table (``prompt?, chosen,
    rejected``); each with ``LINE``.

    Which response becomes ``a`` is decided per pair by a hash of its content, so about half
    the pairs have ``chosen`` as ``a`` and a re-import decides the same.
    """
    prompt, messages, chosen, rejected = preference_texts(cols)
    if not allow_empty:
        for name, texts in (("chosen", chosen), ("rejected", rejected)):
            cols.fail(name, texts.str.contains(BLANK), lambda _: "the response is empty")
    # Row by row through a buffered iterator: a list of every row would double the memory.
    keys = pl.DataFrame([messages.fill_null(prompt), chosen, rejected]).iter_rows()
    chosen_is_a = pl.Series(
        [int(_digest(list(key))[-1], 16) % 2 == 0 for key in keys], dtype=pl.Boolean
    )
    response_a = pl.select(pl.when(chosen_is_a).then(chosen).otherwise(rejected)).to_series()
    response_b = pl.select(pl.when(chosen_is_a).then(rejected).otherwise(chosen)).to_series()
    pair_id = _fill_ids(cols.text("pair_id", ids=True), prompt, messages, response_a, response_b)
    pairs = pl.DataFrame(
        [
            pair_id.alias("pair_id"),
            prompt.alias("prompt"),
            messages.alias("prompt_messages"),
            response_a.alias("response_a"),
            response_b.alias("response_b"),
            cols.text("category", ids=True).alias("category"),
            cols.text("source").fill_null(source).alias("source"),
            cols.metadata(exclude=_TRL_COLUMNS).alias("metadata"),
            cols.lines,
        ]
    )
    choice = pl.select(pl.when(chosen_is_a).then(pl.lit("a")).otherwise(pl.lit("b"))).to_series()
    judgments = pl.DataFrame(
        [
            pair_id.alias("pair_id"),
            pl.repeat(rater, pair_id.len(), eager=True).alias("rater_id"),
            pl.repeat(0, pair_id.len(), dtype=pl.Int32, eager=True).alias("round"),
            choice.alias("choice"),
            pl.repeat(now, pair_id.len(), eager=True).alias("created_at"),
            pl.repeat(source, pair_id.len(), eager=True).alias("source"),
            cols.lines,
        ]
    )
    return pairs, judgments


def assemble(
    table: Table,
    shape: str,
    pairs: pl.DataFrame,
    judgments: pl.DataFrame | None,
    *,
    source_raters: tuple[str, ...] = (),
    report_pair_duplicates: bool = True,
    path: Path | None = None,
) -> ImportBatch:
    """Refuse rows that contradict each other, drop exact repeats of pairs and votes
    (reporting them), conform to the contracts, keep lines.

    Pairs repeat by ``pair_id`` and must agree on ``frames.PAIR_CONTENT``; votes by (pair,
    rater, round) and must agree on ``frames.VOTE_CONTENT``; a given ``submission_id`` names
    one vote. Repeated pairs are reported unless the shape repeats them by design
    (denormalised rows); a TRL vote repeats only with its pair, so only the pair is reported.
    """
    where = path or table.path
    duplicates: list[Duplicate] = []
    repeats = _repeats(pairs, _PAIR_KEY)
    _refuse_conflicts(where, repeats, _PAIR_KEY, frames.PAIR_CONTENT, _pair_conflict)
    pairs, repeated = _first_rows(pairs, repeats, _PAIR_KEY)
    if report_pair_duplicates:
        duplicates += [Duplicate(line, first, pair_id) for line, first, pair_id in repeated]
    if judgments is None:
        judgments = frames.empty(frames.JUDGMENTS).with_columns(pl.lit(None, pl.Int64).alias(LINE))
    judgments = _with_rounds(judgments)
    repeats = _repeats(judgments, _VOTE_KEY)
    _refuse_conflicts(where, repeats, _VOTE_KEY, frames.VOTE_CONTENT, _vote_conflict)
    judgments, repeated_votes = _first_rows(judgments, repeats, _VOTE_KEY, extra="rater_id")
    _refuse_reused_submission_ids(where, judgments)
    judgments = _with_submission_ids(judgments)
    reported = {d.line for d in duplicates}
    duplicates += [
        Duplicate(line, first, pair_id, rater_id)
        for line, first, pair_id, rater_id in repeated_votes
        if line not in reported
    ]
    duplicates.sort(key=lambda d: d.line)
    known = _PAIR_COLUMNS | _JUDGMENT_COLUMNS | ASSIGNED_COLUMNS
    ignored: tuple[str, ...] = ()
    if shape == "judgments":
        ignored = tuple(name for name in table.columns if name not in known)
    return ImportBatch(
        path=where,
        format=table.format,
        shape=shape,
        pairs=frames.conform(pairs, frames.PAIRS),
        judgments=frames.conform(judgments, frames.JUDGMENTS),
        source_raters=source_raters,
        pair_lines=pairs[LINE].cast(pl.Int64)
        if LINE in pairs.columns
        else pl.Series([], dtype=pl.Int64),
        judgment_lines=judgments[LINE].cast(pl.Int64),
        duplicates=duplicates,
        ignored_columns=ignored,
    )


_PAIR_KEY = ("pair_id",)
_VOTE_KEY = ("pair_id", "rater_id", "round")


def _with_rounds(votes: pl.DataFrame) -> pl.DataFrame:
    """Round 0 where a vote gives none: the key of a vote is (pair, rater, round)."""
    if "round" in votes.columns:
        return votes.with_columns(pl.col("round").fill_null(0))
    return votes.with_columns(pl.lit(0, pl.Int32).alias("round"))


#: The column numbering a frame's rows while repeats are looked for.
_INDEX = "__index__"


def _repeats(frame: pl.DataFrame, key: Sequence[str]) -> pl.DataFrame:
    """The rows whose ``key`` another row has too, numbered (``_INDEX``), in file order.

    Found by a 64-bit hash of the key, which is cheap at millions of rows; rows that merely
    share a hash come along and are told apart by the exact comparisons on this small frame.
    """
    indexed = frame.with_row_index(_INDEX)
    if frame.height < 2:
        return indexed.clear()
    hashed = frame.select(key).hash_rows()
    # Sorted neighbours, not is_duplicated(): its hash table costs ~50 bytes a row.
    ordered = hashed.sort()
    twice = ordered.filter(ordered == ordered.shift(1)).unique()
    if twice.is_empty():
        return indexed.clear()
    return indexed.filter(hashed.is_in(twice.implode()))


def _refuse_conflicts(
    path: Path,
    frame: pl.DataFrame,
    key: Sequence[str],
    content: Sequence[str],
    describe: Callable[[dict[str, Any], dict[str, Any], str], str],
) -> None:
    """Raise at the first row of ``frame`` (``_repeats``) whose ``key`` an earlier row has
    with other ``content``; ``describe(first, row, column)`` words it (``column``: the first
    that differs)."""
    if frame.height < 2:
        return
    present = [name for name in content if name in frame.columns]
    # Null and false are one answer for is_gold (a file without the column says "not gold").
    values = [
        pl.col(n).fill_null(False) if frame.schema[n] == pl.Boolean else pl.col(n) for n in present
    ]
    fingerprint = pl.struct(values).hash()
    differs = frame.select(
        (fingerprint != fingerprint.first().over(list(key))).alias("differs")
    ).to_series()
    if not differs.any():
        return
    row = frame.row(int(differs.arg_true()[0]), named=True)
    same_key = pl.all_horizontal(pl.col(k) == row[k] for k in key)
    first = frame.filter(same_key).row(0, named=True)
    column = next(n for n in present if _value(first, n) != _value(row, n))
    raise InputError(path, describe(first, row, column), line=row[LINE], column=column)


def _value(row: dict[str, Any], name: str) -> Any:
    return bool(row[name]) if name == "is_gold" else row[name]


def _pair_conflict(first: dict[str, Any], row: dict[str, Any], column: str) -> str:
    return (
        f"pair_id {shown(row['pair_id'])} is on line {first[LINE]} too, with another"
        f" {column} ({shown(first[column], 30)} there, {shown(row[column], 30)} here):"
        " one pair_id names one pair"
    )


def _vote_conflict(first: dict[str, Any], row: dict[str, Any], column: str) -> str:
    return (
        f"rater {shown(row['rater_id'])} voted {verdict(first)} on pair {shown(row['pair_id'])}"
        f" (round {row['round']}) on line {first[LINE]}, and {verdict(row)} here: one vote per"
        " rater, pair and round (give a later vote its own round)"
    )


def verdict(vote: dict[str, Any]) -> str:
    """A vote's ``frames.VOTE_CONTENT`` in words: ``'a'`` or ``'a' (strength 2)``.

    >>> verdict({"choice": "b", "strength": 3})
    "'b' (strength 3)"
    """
    strength = vote.get("strength")
    return f"{shown(vote['choice'])}" + ("" if strength is None else f" (strength {strength})")


def _refuse_reused_submission_ids(path: Path, votes: pl.DataFrame) -> None:
    """A given submission id names one vote: two different votes may not share it."""
    if "submission_id" not in votes.columns or votes["submission_id"].null_count() == votes.height:
        return
    reused = votes["submission_id"].is_not_null() & votes["submission_id"].is_duplicated()
    if not reused.any():
        return
    row = votes.row(int(reused.arg_true()[1]), named=True)
    first = votes.filter(pl.col("submission_id") == row["submission_id"]).row(0, named=True)
    raise InputError(
        path,
        f"submission_id {shown(row['submission_id'])} is on line {first[LINE]} too, for another"
        " vote: a submission id names one vote",
        line=row[LINE],
        column="submission_id",
    )


def _first_rows(
    frame: pl.DataFrame, repeats: pl.DataFrame, key: Sequence[str], extra: str | None = None
) -> tuple[pl.DataFrame, list[tuple[Any, ...]]]:
    """The frame without rows repeating an earlier key (``repeats``: ``_repeats``), and
    (line, first line, pair_id[, extra]) of those."""
    if repeats.height == 0:
        return frame, []
    marked = repeats.with_columns(
        pl.struct(list(key)).is_first_distinct().alias("first"),
        pl.col(LINE).first().over(list(key)).alias("first_line"),
    ).filter(~pl.col("first"))
    if marked.height == 0:
        return frame, []
    columns = [LINE, "first_line", "pair_id"] + ([extra] if extra else [])
    dropped = marked[_INDEX]
    kept = frame.filter(~pl.int_range(pl.len(), dtype=pl.UInt32).is_in(dropped.implode()))
    return kept, marked.select(columns).rows()


# -- ids --------------------------------------------------------------------------------------


def _digest(value: Any) -> str:
    canonical = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _with_submission_ids(votes: pl.DataFrame) -> pl.DataFrame:
    """Fill missing submission ids with a hash of (pair_id, rater_id, round), so re-importing
    a vote adds nothing."""
    given = votes["submission_id"] if "submission_id" in votes.columns else None
    if given is not None and given.null_count() == 0:
        return votes
    rounds = pl.col("round").fill_null(0) if "round" in votes.columns else pl.lit(0)
    key = pl.concat_str(
        [pl.col("pair_id"), pl.col("rater_id"), rounds.cast(pl.String)], separator="\x1f"
    )
    # A slice at a time: a Python string per vote for millions of votes costs gigabytes.
    hashed = pl.concat(
        [
            pl.Series(
                "submission_id",
                [
                    hashlib.sha256(text.encode()).hexdigest()[:16]
                    for text in votes.slice(at, _SLICE).select(key).to_series()
                ],
                pl.String,
            )
            for at in range(0, max(votes.height, 1), _SLICE)
        ],
        rechunk=False,
    )
    return votes.with_columns(hashed if given is None else given.fill_null(hashed))


_SLICE = 100_000


def _fill_ids(
    given: pl.Series,
    prompt: pl.Series,
    messages: pl.Series,
    response_a: pl.Series,
    response_b: pl.Series,
) -> pl.Series:
    """Given pair ids, or content hashes (``pair_id_for``) where none is given."""
    if given.null_count() == 0:
        return given
    rows = pl.DataFrame([prompt, messages, response_a, response_b]).iter_rows()
    hashed = [pair_id_for(p, a, b, m) for p, m, a, b in rows]
    return given.fill_null(pl.Series(hashed, dtype=pl.String))
