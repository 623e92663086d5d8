"""Files in, validated frames out: JSONL, CSV and Parquet preference data.

Importers are pure. ``read_file`` turns a file into an ``ImportBatch`` (``frames.PAIRS`` and
``frames.JUDGMENTS`` plus the line each row came from) or raises ``InputError`` naming the
file, line and column of the first problem; nothing is written. ``import_file`` adds the one
write: ``Store.import_frames``, a single transaction that keeps existing rows.

Four shapes are recognised from the column names (or forced with ``shape=``):

- ``pairs``: ``prompt, response_a, response_b`` (+ ``pair_id, category, model_a, model_b, gold,
  gold_principle, is_gold, prompt_messages``); other columns are kept as JSON in ``metadata``.
- ``trl``: TRL preference sets, ``chosen, rejected`` with or without ``prompt``, as strings or
  as lists of ``{role, content}``. The source's label becomes a vote by a source rater, and a
  content hash decides which side is ``a`` (balanced, and the same on every re-import).
- ``judgments``: ``pair_id, rater_id, choice`` (+ ``round, strength, shown_left, seconds,
  created_at, rationale, principles, flags, is_gold, submission_id``).
- ``denormalised``: pair columns and one rater's vote on every row.

Ids come from content, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import polars as pl

from data import frames
from data.store import ImportCounts, MissingPairsError, Store

__all__ = [
    "FORMATS",
    "PRESETS",
    "SHAPES",
    "Duplicate",
    "ImportBatch",
    "ImportReport",
    "InputError",
    "Preset",
    "import_file",
    "pair_id_for",
    "read_file",
]

FORMATS: tuple[str, ...] = ("jsonl", "csv", "parquet")
SHAPES: tuple[str, ...] = ("pairs", "trl", "judgments", "denormalised")

#: The column holding each row's line number while a file is validated.
LINE = "__line__"

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
#: Columns the import itself decides; a file's values for them are dropped.
_ASSIGNED_COLUMNS = frozenset({"project_id", "imported_at"})

_REQUIRED: dict[str, tuple[str, ...]] = {
    "pairs": ("prompt", "response_a", "response_b"),
    "trl": ("chosen", "rejected"),
    "judgments": ("pair_id", "rater_id", "choice"),
    "denormalised": ("prompt", "response_a", "response_b", "rater_id", "choice"),
}


# -- public types -----------------------------------------------------------------------------


class InputError(ValueError):
    """A file that cannot be imported as it is; nothing was written.

    ``str(error)`` reads like ``votes.jsonl, line 12, column 'choice': 'maybe' is not one of
    a, b, tie, both_bad``. ``line`` and ``column`` are None when the problem is the whole file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        message: str,
        *,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.line = line
        self.column = column
        self.message = message
        where = self.path.name
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column '{column}'"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Duplicate:
    """A row that repeats an earlier one (same ``pair_id``; for votes, same pair, rater and
    round). It is left out, not an error."""

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
    pair_lines: list[int]
    judgment_lines: list[int]
    duplicates: list[Duplicate]
    ignored_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportReport:
    """What ``import_file`` read and what the store changed."""

    batch: ImportBatch
    counts: ImportCounts

    def summary(self) -> str:
        """One readable paragraph, e.g. for the CLI and the admin page."""
        b, c = self.batch, self.counts
        text = (
            f"{b.path.name} ({b.format}, {b.shape}): {_count(c.pairs_new, 'new pair')}"
            f" ({c.pairs_existing} already stored), {_count(c.judgments_new, 'new judgment')}"
            f" ({c.judgments_existing} already stored) from {_count(len(c.rater_ids), 'rater')}"
            f" ({c.raters_new} new)."
        )
        if b.duplicates:
            first = b.duplicates[0]
            text += (
                f" {_count(len(b.duplicates), 'duplicate row')} left out"
                f" (e.g. line {first.line} repeats line {first.first_line})."
            )
        if b.ignored_columns:
            names = ", ".join(b.ignored_columns)
            text += f" Columns not imported: {names}."
        return text


@dataclass(frozen=True)
class Preset:
    """A known public dataset: its files are read by ``data.presets``."""

    name: str
    description: str

    def read(self, path: str | os.PathLike[str], source_rater: str | None = None) -> ImportBatch:
        # data.presets builds on this module, so it is imported when a preset is used.
        from data import presets

        return presets.READERS[self.name](Path(path), source_rater)


PRESETS: Mapping[str, Preset] = MappingProxyType(
    {
        preset.name: preset
        for preset in (
            Preset(
                "hh-rlhf",
                "Anthropic HH-RLHF: a *.jsonl.gz of chosen/rejected dialogues, or a folder of"
                " them; category = the split folder; source rater 'hh-rlhf'.",
            ),
            Preset(
                "mt-bench",
                "MT-Bench human judgments folder: one pair per (question, turn, model_a,"
                " model_b), one judgment per vote, rater = judge.",
            ),
            Preset(
                "pandalm",
                "PandaLM test set folder: 999 pairs from testset-v1.jsonl, 3 annotators"
                " (0 = tie, 1 = response1, 2 = response2).",
            ),
            Preset(
                "llmfao",
                "LLMFAO folder: pairs-crowd.jsonl and crowd-comparisons.csv; left is always"
                " model_x (shown_left = a).",
            ),
        )
    }
)


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


# -- entry points -----------------------------------------------------------------------------


def read_file(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    shape: str | None = None,
    preset: str | None = None,
    mapping: Mapping[str, str] | None = None,
    source_rater: str | None = None,
) -> ImportBatch:
    """Read and validate one file (or, for a preset, a file or folder); write nothing.

    ``format`` (jsonl, csv, parquet) and ``shape`` (pairs, trl, judgments, denormalised) are
    detected from the content when not given. ``mapping`` renames source columns to ours before
    the shape is detected. ``source_rater`` names the rater standing for a TRL file's own label
    (default ``source:<file stem>``). Raises ``InputError`` for any problem in the file.
    """
    path = Path(path)
    if preset is not None:
        if format is not None or shape is not None or mapping:
            raise ValueError("a preset fixes the format, shape and columns; drop those options")
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        return PRESETS[preset].read(path, source_rater)
    shape = "denormalised" if shape == "denormalized" else shape  # either spelling
    _check_option("format", format, FORMATS)
    _check_option("shape", shape, SHAPES)
    table = load_table(path, format).renamed(mapping or {})
    chosen = shape or _detect_shape(table)
    require_columns(table, _REQUIRED[chosen])
    cols = Columns(table)
    now = datetime.now(UTC)
    if chosen == "trl":
        rater = source_rater or f"source:{_stem(path)}"
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


def import_file(
    store: Store,
    path: str | os.PathLike[str],
    project_id: str,
    *,
    format: str | None = None,
    shape: str | None = None,
    preset: str | None = None,
    mapping: Mapping[str, str] | None = None,
    source_rater: str | None = None,
) -> ImportReport:
    """``read_file`` then one ``Store.import_frames`` transaction into ``project_id``.

    A judgment naming a pair that is neither in the file nor in the store becomes an
    ``InputError`` at its line; nothing is written then.
    """
    batch = read_file(
        path,
        format=format,
        shape=shape,
        preset=preset,
        mapping=mapping,
        source_rater=source_rater,
    )
    try:
        counts = store.import_frames(
            batch.pairs, batch.judgments, project_id, source_raters=batch.source_raters
        )
    except MissingPairsError as error:
        missing = batch.judgments["pair_id"].is_in(error.pair_ids)
        index = int(missing.arg_true()[0])
        pair_id = batch.judgments["pair_id"][index]
        others = len(error.pair_ids) - 1
        raise InputError(
            batch.path,
            f"pair_id {_show(pair_id)} is neither in this file nor in the store"
            + (f" ({others} more unknown pair ids)" if others else ""),
            line=batch.judgment_lines[index],
            column="pair_id",
        ) from None
    return ImportReport(batch, counts)


# -- reading files into tables ----------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A file's rows before validation: its columns plus ``LINE``.

    ``mixed`` keeps the parsed values of JSONL columns whose values mix JSON types (the frame
    holds them as JSON text), so checks can name the first value of the wrong type.
    """

    path: Path
    format: str
    frame: pl.DataFrame
    mixed: Mapping[str, list[Any]] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return [name for name in self.frame.columns if name != LINE]

    def renamed(self, mapping: Mapping[str, str]) -> Table:
        for source, target in mapping.items():
            if source not in self.columns:
                raise InputError(
                    self.path,
                    f"the mapping renames '{source}', which is not a column of this file"
                    f" (it has {_names(self.columns)})",
                    column=source,
                )
            if target in self.columns and target not in mapping:
                raise InputError(
                    self.path,
                    f"the mapping renames '{source}' to '{target}', which the file already has",
                    column=target,
                )
        if not mapping:
            return self
        mixed = {mapping.get(name, name): values for name, values in self.mixed.items()}
        return Table(self.path, self.format, self.frame.rename(dict(mapping)), mixed)


def load_table(path: Path, format: str | None = None) -> Table:
    """Read a JSONL, CSV or Parquet file (gzip'd or not), sniffing the format from its bytes."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise InputError(path, f"a damaged gzip file ({error})") from None
    if not data.strip():
        raise InputError(path, "the file is empty")
    detected = _sniff(data)
    chosen = format or ("csv" if detected == "binary" else detected)
    if chosen == "parquet" and detected != "parquet":
        raise InputError(path, "not a Parquet file (Parquet files start with the bytes PAR1)")
    if chosen != "parquet" and detected == "parquet":
        raise InputError(path, f"a Parquet file, not {chosen.upper()}")
    if detected == "binary":
        raise InputError(path, "binary content: not a JSONL, CSV or Parquet file")
    if chosen == "parquet":
        table = _read_parquet(path, data)
    else:
        text = data.decode("utf-8-sig")
        table = _read_jsonl(path, text) if chosen == "jsonl" else _read_csv(path, text)
    if table.frame.height == 0:
        raise InputError(path, "the file has no rows")
    return table


def _sniff(data: bytes) -> str:
    if data[:4] == b"PAR1":
        return "parquet"
    try:
        text = data[:65536].decode("utf-8-sig")
    except UnicodeDecodeError as error:
        # A cut in the middle of a character at the sample's end is still text.
        if error.start < 65536 - 4:
            return "binary"
        text = data[: error.start].decode("utf-8-sig")
    if "\x00" in text:
        return "binary"
    return "jsonl" if text.lstrip()[:1] in ("{", "[") else "csv"


def _read_jsonl(path: Path, text: str) -> Table:
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    names: dict[str, None] = {}
    # "\n" only: JSON strings may hold U+2028 and other characters str.splitlines() splits on.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            message = f"not valid JSON ({error.msg} at character {error.colno})"
            if not rows and line.strip() == "[":
                message = "a JSON array, not JSON Lines: write one object per line"
            raise InputError(path, message, line=number) from None
        except UnicodeDecodeError:
            raise InputError(path, "not valid UTF-8 text", line=number) from None
        if not isinstance(row, dict):
            raise InputError(path, f"expected a JSON object, found {_kind(row)}", line=number)
        rows.append(row)
        lines.append(number)
        names.update(dict.fromkeys(row))
    columns: list[pl.Series] = []
    mixed: dict[str, list[Any]] = {}
    for name in names:
        values = [row.get(name) for row in rows]
        series, parsed = _jsonl_column(name, values)
        columns.append(series)
        if parsed is not None:
            mixed[name] = parsed
    frame = pl.DataFrame([*columns, pl.Series(LINE, lines, pl.Int64)])
    return Table(path, "jsonl", frame, mixed)


def _jsonl_column(name: str, values: list[Any]) -> tuple[pl.Series, list[Any] | None]:
    """A column from parsed JSON values; mixed types come back as JSON text plus the values."""
    kinds = set(map(type, values)) - {type(None)}
    try:
        if kinds <= {str}:
            return pl.Series(name, values, pl.String), None
        if kinds == {bool}:
            return pl.Series(name, values, pl.Boolean), None
        if kinds == {int}:
            return pl.Series(name, values, pl.Int64), None
        if kinds <= {int, float}:
            return pl.Series(name, values, pl.Float64, strict=False), None
        if kinds == {list}:
            return pl.Series(name, values, strict=True), None
    except (TypeError, OverflowError, pl.exceptions.PolarsError):
        pass
    text = [
        v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in values
    ]
    return pl.Series(name, text, pl.String), values


def _read_csv(path: Path, text: str) -> Table:
    try:
        frame = pl.read_csv(io.BytesIO(text.encode()), infer_schema=False)
    except pl.exceptions.PolarsError as error:
        line = _ragged_line(text)
        reason = str(error).split("\n")[0]
        raise InputError(path, f"not a readable CSV file ({reason})", line=line) from None
    frame = frame.rename({name: name.strip() for name in frame.columns})
    # A record starts on line 2 plus the records and line breaks inside quoted fields before it.
    breaks = pl.sum_horizontal(
        [pl.col(name).str.count_matches("\n").fill_null(0) for name in frame.columns] or [pl.lit(0)]
    )
    frame = frame.with_columns(
        (pl.int_range(pl.len()) + 2 + breaks.cum_sum() - breaks).cast(pl.Int64).alias(LINE)
    )
    # Blank lines come back as rows of nulls: drop them after numbering.
    if frame.width > 1:
        frame = frame.filter(~pl.all_horizontal(pl.exclude(LINE).is_null()))
    return Table(path, "csv", frame)


def _ragged_line(text: str) -> int | None:
    """The line of the first record whose field count differs from the header's."""
    reader = csv.reader(io.StringIO(text))
    try:
        width = len(next(reader))
        for record in reader:
            if record and len(record) != width:
                return reader.line_num
    except csv.Error:
        return reader.line_num
    return None


def _read_parquet(path: Path, data: bytes) -> Table:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as error:  # pyarrow and polars raise many kinds for a damaged file
        reason = str(error).split("\n")[0]
        raise InputError(path, f"not a readable Parquet file ({reason})") from None
    return Table(
        path,
        "parquet",
        frame.with_row_index(LINE, offset=1).with_columns(pl.col(LINE).cast(pl.Int64)),
    )


# -- shapes -----------------------------------------------------------------------------------


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
        f"cannot tell what this file holds from its columns ({_names(table.columns)}): expected"
        " prompt, response_a, response_b (pairs); chosen, rejected (TRL); pair_id, rater_id,"
        " choice (judgments); or pairs plus votes. Rename columns with a mapping.",
    )


def require_columns(table: Table, required: Sequence[str]) -> None:
    for name in required:
        if name == "prompt" and "prompt_messages" in table.columns:
            continue
        if name not in table.columns:
            raise InputError(
                table.path,
                f"required column is missing (the file has {_names(table.columns)})",
                column=name,
            )


def pair_frame(
    cols: Columns, *, source: str, judgment_columns: bool = False, allow_empty: bool = False
) -> pl.DataFrame:
    """``frames.PAIRS`` columns plus ``LINE`` from a pairs-shaped table.

    Columns that are neither pair columns nor (with ``judgment_columns``) vote columns go to
    ``metadata`` as JSON. ``allow_empty`` accepts empty responses (presets of published data).
    """
    prompt, messages = cols.prompt()
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
    rater_id = cols.text("rater_id", required=True, nonempty=True, ids=True)
    choice = cols.choice("choice", frames.CHOICES, required=True)
    round_ = cols.integer("round", 0, None, "is negative").fill_null(0)
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
    prompt, messages, chosen, rejected = cols.preference_texts()
    if not allow_empty:
        for name, texts in (("chosen", chosen), ("rejected", rejected)):
            cols.fail(name, texts.str.strip_chars() == "", lambda _: "the response is empty")
    keys = pl.DataFrame([messages.fill_null(prompt), chosen, rejected]).rows()
    chosen_is_a = pl.Series([int(_digest(list(key))[-1], 16) % 2 == 0 for key in keys])
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
    """Drop repeated pairs and votes (reporting them), conform to the contracts, keep lines.

    Pairs repeat by ``pair_id``; votes by (pair, rater, round). Repeated pairs are reported
    unless the shape repeats them by design (denormalised rows); a TRL vote repeats only with
    its pair, so only the pair is reported.
    """
    duplicates: list[Duplicate] = []
    pairs, repeated = _first_rows(pairs, ["pair_id"])
    if report_pair_duplicates:
        duplicates += [Duplicate(line, first, pair_id) for line, first, pair_id in repeated]
    if judgments is None:
        judgments = frames.empty(frames.JUDGMENTS).with_columns(pl.lit(None, pl.Int64).alias(LINE))
    judgments, repeated_votes = _first_rows(
        judgments, ["pair_id", "rater_id", "round"], extra="rater_id"
    )
    judgments = _with_submission_ids(judgments)
    reported = {d.line for d in duplicates}
    duplicates += [
        Duplicate(line, first, pair_id, rater_id)
        for line, first, pair_id, rater_id in repeated_votes
        if line not in reported
    ]
    duplicates.sort(key=lambda d: d.line)
    known = _PAIR_COLUMNS | _JUDGMENT_COLUMNS | _ASSIGNED_COLUMNS
    ignored: tuple[str, ...] = ()
    if shape == "judgments":
        ignored = tuple(name for name in table.columns if name not in known)
    return ImportBatch(
        path=path or table.path,
        format=table.format,
        shape=shape,
        pairs=frames.conform(pairs, frames.PAIRS),
        judgments=frames.conform(judgments, frames.JUDGMENTS),
        source_raters=source_raters,
        pair_lines=pairs[LINE].to_list() if pairs.height else [],
        judgment_lines=judgments[LINE].to_list(),
        duplicates=duplicates,
        ignored_columns=ignored,
    )


def _first_rows(
    frame: pl.DataFrame, key: list[str], extra: str | None = None
) -> tuple[pl.DataFrame, list[tuple[Any, ...]]]:
    """The frame without rows repeating an earlier key, and (line, first line, key...) of those."""
    if frame.height == 0:
        return frame, []
    if "round" in key and "round" in frame.columns:
        frame = frame.with_columns(pl.col("round").fill_null(0))
    elif "round" in key:
        frame = frame.with_columns(pl.lit(0, pl.Int32).alias("round"))
    first = pl.struct(key).is_first_distinct()
    repeated = frame.filter(~first)
    if repeated.height == 0:
        return frame, []
    first_line = pl.col(LINE).first().over(key)
    columns = [LINE, "first_line", "pair_id"] + ([extra] if extra else [])
    rows = frame.with_columns(first_line.alias("first_line")).filter(~first).select(columns).rows()
    return frame.filter(first), rows


# -- typed columns ----------------------------------------------------------------------------


class Columns:
    """Typed access to a table's columns: each getter converts a column to our dtype or raises
    ``InputError`` at the first bad row (vectorised: masks and ``arg_true``, no row loops,
    except over JSONL columns that mix JSON types and over conversations)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.frame = table.frame
        self.height = table.frame.height

    @property
    def lines(self) -> pl.Series:
        return self.frame[LINE]

    def has(self, name: str) -> bool:
        return name in self.table.columns

    def fail(
        self,
        column: str,
        bad: pl.Series,
        describe: Callable[[Any], str],
        shown: pl.Series | None = None,
    ) -> None:
        """Raise at the first row where ``bad`` is true, showing that row's source value
        (or its value in ``shown``, e.g. once converted to a number)."""
        bad = bad.fill_null(False)
        if not bad.any():
            return
        index = int(bad.arg_true()[0])
        count = int(bad.sum())
        if shown is not None:
            value = shown[index]
        elif column in self.table.mixed:
            value = self.table.mixed[column][index]
        else:
            value = self.frame[column][index] if self.has(column) else None
        message = describe(value)
        if count > 1:
            message += f" ({count - 1} more {'row' if count == 2 else 'rows'} like this)"
        line = int(self.frame[LINE][index])
        raise InputError(self.table.path, message, line=line, column=column)

    def _nulls(self, name: str, dtype: pl.DataType) -> pl.Series:
        return pl.repeat(None, self.height, dtype=dtype, eager=True).alias(name)

    def _mixed(self, name: str, allowed: tuple[type, ...], expected: str) -> list[Any] | None:
        """For a JSONL column of mixed types: fail at the first value not of ``allowed``
        (true/false only counts as allowed when ``bool`` is listed, though it is an int)."""
        values = self.table.mixed.get(name)
        if values is None:
            return None
        strict_bool = bool not in allowed
        bad = [
            v is not None and ((strict_bool and isinstance(v, bool)) or not isinstance(v, allowed))
            for v in values
        ]
        self.fail(name, pl.Series(bad), lambda v: f"{_show(v)} is {_kind(v)}, expected {expected}")
        return values

    def text(
        self,
        name: str,
        *,
        required: bool = False,
        nonempty: bool = False,
        ids: bool = False,
        scalars: bool = False,
    ) -> pl.Series:
        """A text column. ``ids`` also accepts whole numbers (e.g. numeric rater ids);
        ``scalars`` accepts any number or true/false as its JSON text (published data whose
        conversion typed some answers, e.g. a model that answered "True")."""
        if not self.has(name):
            return self._nulls(name, pl.String())
        allowed: tuple[type, ...] = (
            (str, int, float, bool) if scalars else (str, int) if ids else (str,)
        )
        values = self._mixed(name, allowed, "text")
        if values is not None:
            series = pl.Series(name, [_as_text(v) for v in values], pl.String)
        else:
            series = self.frame[name]
            dtype = series.dtype
            if (
                dtype == pl.Null
                or (ids and dtype.is_integer())
                or (scalars and (dtype.is_numeric() or dtype == pl.Boolean))
            ):
                series = series.cast(pl.String)
            elif dtype != pl.String:
                self.fail(
                    name,
                    series.is_not_null(),
                    lambda v: f"{_show(v)} is {_kind(v)}, expected text",
                )
                series = series.cast(pl.String)
        if nonempty:
            self.fail(
                name,
                series.is_null() | (series.str.strip_chars() == ""),
                lambda _: (
                    "the response is empty" if name.startswith("response") else "the value is empty"
                ),
            )
        elif required:
            self.fail(name, series.is_null(), lambda _: "the value is missing")
        return series

    def choice(self, name: str, allowed: Sequence[str], *, required: bool = False) -> pl.Series:
        """A label column: stripped, lower-cased and one of ``allowed``."""
        series = self.text(name, required=required).str.strip_chars().str.to_lowercase()
        self.fail(
            name,
            series.is_not_null() & ~series.is_in(list(allowed)),
            lambda v: f"{_show(v)} is not one of {', '.join(allowed)}",
        )
        return series

    def integer(self, name: str, low: int, high: int | None, out_of_range: str) -> pl.Series:
        """A whole-number column within ``low..high`` (``high`` None: no upper bound)."""
        if not self.has(name):
            return self._nulls(name, pl.Int64())
        series = self._number_like(name, "a whole number")
        whole = series.is_null() | (series == series.floor())
        self.fail(name, ~whole, lambda v: f"{_show(v)} is not a whole number")
        result = series.cast(pl.Int64)
        bad = (result < low) if high is None else ((result < low) | (result > high))
        self.fail(name, bad, lambda v: f"{_show(v)} {out_of_range}", shown=result)
        return result

    def number(self, name: str, low: float) -> pl.Series:
        if not self.has(name):
            return self._nulls(name, pl.Float64())
        series = self._number_like(name, "a number")
        self.fail(name, series < low, lambda v: f"{_show(v)} is below {low:g}", shown=series)
        return series

    def _number_like(self, name: str, expected: str) -> pl.Series:
        values = self._mixed(name, (int, float, str), expected)
        series = (
            pl.Series(name, [None if v is None else str(v) for v in values], pl.String)
            if values is not None
            else self.frame[name]
        )
        if series.dtype == pl.String:
            stripped = series.str.strip_chars()
            parsed = stripped.cast(pl.Float64, strict=False)
            self.fail(
                name,
                (stripped != "") & parsed.is_null(),
                lambda v: f"{_show(v)} is not {expected}",
            )
            return parsed
        if series.dtype == pl.Null or series.dtype.is_numeric():
            return series.cast(pl.Float64)
        self.fail(
            name, series.is_not_null(), lambda v: f"{_show(v)} is {_kind(v)}, expected {expected}"
        )
        return series.cast(pl.Float64)

    def boolean(self, name: str) -> pl.Series:
        """true/false; text columns accept true/false, yes/no, 1/0 (any case)."""
        if not self.has(name):
            return self._nulls(name, pl.Boolean())
        values = self._mixed(name, (bool, int, str), "true or false")
        series = (
            pl.Series(name, [None if v is None else str(v) for v in values], pl.String)
            if values is not None
            else self.frame[name]
        )
        if series.dtype == pl.Boolean:
            return series
        if series.dtype.is_integer():
            self.fail(name, ~series.is_in([0, 1]), lambda v: f"{_show(v)} is not true or false")
            return series.cast(pl.Boolean)
        if series.dtype in (pl.String, pl.Null):
            words = series.cast(pl.String).str.strip_chars().str.to_lowercase()
            truth = words.replace_strict(_TRUTH, default=None, return_dtype=pl.Boolean)
            self.fail(
                name,
                (words != "") & truth.is_null(),
                lambda v: f"{_show(v)} is not true or false",
            )
            return truth
        self.fail(
            name,
            series.is_not_null(),
            lambda v: f"{_show(v)} is {_kind(v)}, expected true or false",
        )
        return series.cast(pl.Boolean)

    def labels(self, name: str) -> pl.Series:
        """A list of names: a list, or text separated by ';'."""
        if not self.has(name):
            return self._nulls(name, pl.List(pl.String()))
        values = self.table.mixed.get(name)
        if values is not None:
            self._mixed(name, (list, str), "a list or ';'-separated text")
            split = [v.split(";") if isinstance(v, str) else v for v in values]
            series = pl.Series(name, split, pl.List(pl.String), strict=False)
        else:
            series = self.frame[name]
        if series.dtype == pl.String or series.dtype == pl.Null:
            series = series.cast(pl.String).str.split(";")
        elif series.dtype == pl.List(pl.Null()):
            series = series.cast(pl.List(pl.String()))
        if series.dtype != pl.List(pl.String):
            self.fail(
                name,
                series.is_not_null(),
                lambda v: f"{_show(v)} is {_kind(v)}, expected a list of names",
            )
        return series.list.eval(
            pl.element().str.strip_chars().filter(pl.element().str.strip_chars() != "")
        )

    def timestamp(self, name: str) -> pl.Series:
        """A date-time in UTC; text in ISO 8601 (a time without offset is read as UTC)."""
        if not self.has(name):
            return self._nulls(name, pl.Datetime("us", "UTC"))
        self._mixed(name, (str,), "a date and time")
        series = self.frame[name]
        if isinstance(series.dtype, pl.Datetime):
            if series.dtype.time_zone is None:
                return series.dt.cast_time_unit("us").dt.replace_time_zone("UTC")
            return series.dt.cast_time_unit("us").dt.convert_time_zone("UTC")
        if series.dtype == pl.Date:
            return series.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        if series.dtype in (pl.String, pl.Null):
            text = series.cast(pl.String).str.strip_chars()
            parsed = pl.select(
                pl.coalesce(
                    [
                        text.str.to_datetime(f, time_unit="us", time_zone="UTC", strict=False)
                        for f in _TIME_FORMATS
                    ]
                )
            ).to_series()
            self.fail(
                name,
                (text != "") & parsed.is_null(),
                lambda v: (
                    f"{_show(v)} is not a date and time (use ISO 8601, e.g. 2024-05-01T12:00:00Z)"
                ),
            )
            return parsed
        self.fail(
            name,
            series.is_not_null(),
            lambda v: f"{_show(v)} is {_kind(v)}, expected a date and time",
        )
        return self._nulls(name, pl.Datetime("us", "UTC"))

    def values(self, name: str) -> list[Any]:
        """The column as Python values (for conversations, which need per-row work)."""
        if not self.has(name):
            return [None] * self.height
        if name in self.table.mixed:
            return list(self.table.mixed[name])
        return self.frame[name].to_list()

    def metadata(self, exclude: frozenset[str]) -> pl.Series:
        """Extra columns as one JSON object per row; a lone ``metadata`` column is kept as is."""
        extras = [n for n in self.table.columns if n not in exclude and n not in _ASSIGNED_COLUMNS]
        if not extras:
            return self._nulls("metadata", pl.String())
        if extras == ["metadata"] and self.frame["metadata"].dtype == pl.String:
            return self.frame["metadata"]
        if not any(name in self.table.mixed for name in extras):
            return self.frame.select(pl.struct(extras).struct.json_encode()).to_series()
        # JSON objects or mixed types in a JSONL column: encode the parsed values, once.
        values = {name: self.values(name) for name in extras}
        encoded = [
            json.dumps(
                {name: values[name][i] for name in extras},
                ensure_ascii=False,
                separators=(",", ":"),
                default=str,
            )
            for i in range(self.height)
        ]
        return pl.Series("metadata", encoded, pl.String)

    # -- conversations ------------------------------------------------------------------------

    def _error(self, index: int, column: str, message: str) -> InputError:
        return InputError(
            self.table.path, message, line=int(self.frame[LINE][index]), column=column
        )

    def prompt(self) -> tuple[pl.Series, pl.Series]:
        """Prompt text and ``prompt_messages`` JSON (null unless a real conversation)."""
        prompt_type = self.frame["prompt"].dtype if self.has("prompt") else pl.Null()
        conversational = (
            self.has("prompt_messages")
            or isinstance(prompt_type, pl.List)
            or "prompt" in self.table.mixed
        )
        if not conversational:
            return self.text("prompt", required=True), self._nulls("prompt_messages", pl.String())
        texts: list[str | None] = []
        stored: list[str | None] = []
        given = self.values("prompt_messages")
        for index, (prompt, messages) in enumerate(zip(self.values("prompt"), given, strict=True)):
            if messages is not None:
                column = "prompt_messages"
                if isinstance(messages, str):
                    try:
                        messages = json.loads(messages)
                    except json.JSONDecodeError as error:
                        raise self._error(index, column, f"not valid JSON ({error.msg})") from None
            elif isinstance(prompt, list):
                column, messages = "prompt", prompt
            else:
                if not isinstance(prompt, str):
                    message = (
                        "the value is missing"
                        if prompt is None
                        else f"{_show(prompt)} is {_kind(prompt)}, expected text or messages"
                    )
                    raise self._error(index, "prompt", message)
                texts.append(prompt)
                stored.append(None)
                continue
            turns = self._turns(index, column, messages)
            text, as_json = _prompt_fields(turns)
            texts.append(prompt if isinstance(prompt, str) else text)
            stored.append(as_json)
        return pl.Series("prompt", texts, pl.String), pl.Series(
            "prompt_messages", stored, pl.String
        )

    def preference_texts(self) -> tuple[pl.Series, pl.Series, pl.Series, pl.Series]:
        """(prompt, prompt_messages, chosen, rejected) texts from TRL columns.

        Standard explicit rows (three strings) stay vectorised; conversational rows and
        implicit prompts (shared leading turns of chosen and rejected) are split per row.
        """
        kinds = {name: self._trl_kind(name) for name in ("prompt", "chosen", "rejected")}
        if kinds == {"prompt": "text", "chosen": "text", "rejected": "text"}:
            prompt = self.text("prompt", required=True)
            return (
                prompt,
                self._nulls("prompt_messages", pl.String()),
                self.text("chosen", required=True),
                self.text("rejected", required=True),
            )
        rows = zip(
            self.values("prompt"), self.values("chosen"), self.values("rejected"), strict=True
        )
        out: list[tuple[str, str | None, str, str]] = []
        for index, (prompt, chosen, rejected) in enumerate(rows):
            for name, value in (("chosen", chosen), ("rejected", rejected)):
                if value is None:
                    raise self._error(index, name, "the value is missing")
            out.append(self._preference_row(index, prompt, chosen, rejected))
        columns = list(zip(*out, strict=True)) if out else [(), (), (), ()]
        return (
            pl.Series("prompt", columns[0], pl.String),
            pl.Series("prompt_messages", columns[1], pl.String),
            pl.Series("chosen", columns[2], pl.String),
            pl.Series("rejected", columns[3], pl.String),
        )

    def _trl_kind(self, name: str) -> str:
        if not self.has(name):
            return "absent"
        dtype = self.frame[name].dtype
        if name in self.table.mixed:
            return "mixed"
        if isinstance(dtype, pl.List):
            return "messages"
        if dtype in (pl.String, pl.Null):
            return "text"
        self.fail(
            name,
            self.frame[name].is_not_null(),
            lambda v: f"{_show(v)} is {_kind(v)}, expected text or messages",
        )
        return "text"

    def _preference_row(
        self, index: int, prompt: Any, chosen: Any, rejected: Any
    ) -> tuple[str, str | None, str, str]:
        if prompt is not None:
            if isinstance(prompt, list):
                text, as_json = _prompt_fields(self._turns(index, "prompt", prompt))
            elif isinstance(prompt, str):
                text, as_json = prompt, None
            else:
                raise self._error(
                    index,
                    "prompt",
                    f"{_show(prompt)} is {_kind(prompt)}, expected text or messages",
                )
            return (
                text,
                as_json,
                self._response(index, "chosen", chosen),
                self._response(index, "rejected", rejected),
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
            chosen_turns = self._turns(index, "chosen", chosen)
            rejected_turns = self._turns(index, "rejected", rejected)
        else:
            raise self._error(index, "rejected", "chosen and rejected mix text and message lists")
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

    def _response(self, index: int, column: str, value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return _response_text(self._turns(index, column, value))
        raise self._error(
            index, column, f"{_show(value)} is {_kind(value)}, expected text or messages"
        )

    def _turns(self, index: int, column: str, value: Any) -> list[dict[str, str]]:
        """Messages checked and normalised: roles user/assistant/system, content text."""
        if not isinstance(value, list) or not value:
            raise self._error(
                index, column, "expected a non-empty list of {role, content} messages"
            )
        turns = []
        for number, message in enumerate(value, start=1):
            role = message.get("role") if isinstance(message, dict) else None
            content = message.get("content") if isinstance(message, dict) else None
            normal = _ROLES.get(role.strip().lower()) if isinstance(role, str) else None
            if normal is None:
                raise self._error(
                    index,
                    column,
                    f"message {number}: role {_show(role)} is not user, assistant or system",
                )
            if not isinstance(content, str):
                raise self._error(
                    index, column, f"message {number}: content {_show(content)} is not text"
                )
            turns.append({"role": normal, "content": content})
        return turns


_TRUTH = {
    "true": True,
    "t": True,
    "yes": True,
    "y": True,
    "1": True,
    "false": False,
    "f": False,
    "no": False,
    "n": False,
    "0": False,
}
_TIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d",
)
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


# -- ids and small helpers --------------------------------------------------------------------


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
    keys = votes.select(
        pl.concat_str(
            [pl.col("pair_id"), pl.col("rater_id"), rounds.cast(pl.String)], separator="\x1f"
        )
    ).to_series()
    hashed = pl.Series(
        "submission_id",
        [hashlib.sha256(key.encode()).hexdigest()[:16] for key in keys],
        pl.String,
    )
    return votes.with_columns(hashed if given is None else given.fill_null(hashed))


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
    rows = pl.DataFrame([prompt, messages, response_a, response_b]).rows()
    hashed = [pair_id_for(p, a, b, m) for p, m, a, b in rows]
    return given.fill_null(pl.Series(hashed, dtype=pl.String))


def _check_option(name: str, value: str | None, allowed: Sequence[str]) -> None:
    if value is not None and value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".jsonl", ".ndjson", ".json", ".csv", ".parquet"):
        name = name.removesuffix(suffix)
    return name


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _names(columns: Sequence[str]) -> str:
    return ", ".join(columns) if columns else "no columns"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | pl.Series):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def _show(value: Any, limit: int = 40) -> str:
    """A value as the message shows it: text quoted and cut short, others as JSON."""
    if isinstance(value, str):
        shown = value if len(value) <= limit else value[: limit - 1] + "…"
        return f"'{shown}'"
    if isinstance(value, pl.Series):
        value = value.to_list()
    try:
        shown = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
