"""Reading preference files into rows: JSONL, CSV and Parquet, gzip'd or not.

``load_table`` sniffs the format from the bytes (not the file name) and returns a ``Table``:
the file's columns as they are plus ``LINE``, the line each row came from. Values are not
checked here (``data.columns`` converts them, ``data.shapes`` builds the frames); a file that
cannot be read as rows raises ``InputError``, the one error of every import step, which names
the file and, where there is one, the line and column. ``shown``, ``kind_of`` and
``column_list`` word the values in those messages the same way everywhere.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

__all__ = [
    "FORMATS",
    "LINE",
    "InputError",
    "Table",
    "column_list",
    "kind_of",
    "load_table",
    "shown",
]

FORMATS: tuple[str, ...] = ("jsonl", "csv", "parquet")

#: The column holding each row's line number while a file is validated.
LINE = "__line__"


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
                    f" (it has {column_list(self.columns)})",
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
            raise InputError(path, f"expected a JSON object, found {kind_of(row)}", line=number)
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


# -- wording values in error messages ---------------------------------------------------------


def column_list(columns: Sequence[str]) -> str:
    """Column names for a message: ``a, b`` or ``no columns``."""
    return ", ".join(columns) if columns else "no columns"


def kind_of(value: Any) -> str:
    """What a value is, in words: ``text``, ``a number``, ``true/false``, ``a list``..."""
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


def shown(value: Any, limit: int = 40) -> str:
    """A value as the message shows it: text quoted and cut short, others as JSON."""
    if isinstance(value, str):
        text = value if len(value) <= limit else value[: limit - 1] + "…"
        return f"'{text}'"
    if isinstance(value, pl.Series):
        value = value.to_list()
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
