"""Reading preference files into rows: JSONL, CSV and Parquet, gzip'd or not.

``load_table`` sniffs the format from the bytes (not the file name) and returns a ``Table``:
the file's columns as they are plus ``LINE``, the line each row came from. Values are not
checked here (``data.columns`` converts them, ``data.shapes`` builds the frames); a file that
cannot be read as rows raises ``InputError``, the one error of every import step, which names
the file and, where there is one, the line and column. ``shown``, ``kind_of`` and
``column_list`` word the values in those messages the same way everywhere.

What cannot be read is named, never a traceback: a missing file, a folder, a file the system
will not read, one larger than ``MAX_BYTES`` (a gzip file is refused as soon as it expands
past it), UTF-16 or Latin-1 text (UTF-16 and UTF-32 with a byte-order mark are decoded),
invalid UTF-8 at its line, a stray CSV quote at its line, JSON nested too deeply.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl
import pyarrow.parquet as pq

__all__ = [
    "FORMATS",
    "LINE",
    "MAX_BYTES",
    "InputError",
    "Table",
    "column_list",
    "import_limit",
    "kind_of",
    "load_table",
    "read_bytes",
    "shown",
]

FORMATS: tuple[str, ...] = ("jsonl", "csv", "parquet")

#: The column holding each row's line number while a file is validated.
LINE = "__line__"

#: The most bytes an import reads (after decompression; ``--max-bytes``). It is what bounds
#: an import's memory: at this size the peak stays under about 1.5 GB whatever the file
#: holds. Tiny rows cost the most (a 50-byte vote costs ~10x its bytes at the peak, a
#: 1.6 KB TRL row ~5x); ``bench/bench_import_memory.py`` measures it.
MAX_BYTES = 128 * 2**20


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


def load_table(path: Path, format: str | None = None, *, max_bytes: int = MAX_BYTES) -> Table:
    """Read a JSONL, CSV or Parquet file (gzip'd or not), sniffing the format from its bytes.

    A file (or what a gzip file expands to) larger than ``max_bytes`` is refused before it is
    read whole: that limit is what bounds an import's memory.
    """
    data = _as_utf8(path, read_bytes(path, max_bytes))
    if not data or data.isspace():
        raise InputError(path, "the file is empty")
    detected = _sniff(path, data)
    chosen = format or ("csv" if detected == "binary" else detected)
    if chosen == "parquet" and detected != "parquet":
        raise InputError(path, "not a Parquet file (Parquet files start with the bytes PAR1)")
    if chosen != "parquet" and detected == "parquet":
        raise InputError(path, f"a Parquet file, not {chosen.upper()}")
    if detected == "binary":
        raise InputError(path, "binary content: not a JSONL, CSV or Parquet file")
    if chosen == "parquet":
        table = _read_parquet(path, data, max_bytes)
    elif chosen == "jsonl":
        table = _read_jsonl(path, data)
    else:
        table = _read_csv(path, data)
    if table.frame.height == 0:
        raise InputError(path, "the file has no rows")
    return table


def read_bytes(path: Path, max_bytes: int = MAX_BYTES) -> bytes:
    """The file's bytes, gunzipped when it is gzip'd; refused past ``max_bytes`` (after
    decompression), without reading more than that, so a small gzip bomb costs no memory."""
    if path.is_dir():
        raise InputError(path, "a folder, not a file (only presets read folders)")
    try:
        with path.open("rb") as file:
            if file.read(2) == _GZIP_MAGIC:
                file.seek(0)
                return _gunzip(path, file, max_bytes)
            file.seek(0)
            data = file.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except OSError as error:
        raise InputError(path, f"cannot be read ({error.strerror or error})") from None
    if len(data) > max_bytes:
        raise InputError(path, f"larger than {import_limit(max_bytes)}")
    return data


_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


def _gunzip(path: Path, file: BinaryIO, max_bytes: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    try:
        with gzip.GzipFile(fileobj=file) as unzipped:
            while chunk := unzipped.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    limit = import_limit(max_bytes)
                    raise InputError(path, f"when decompressed, expands past {limit}")
                parts.append(chunk)
    except (OSError, EOFError, zlib.error) as error:
        raise InputError(path, f"a damaged gzip file ({error})") from None
    return b"".join(parts)


def import_limit(max_bytes: int) -> str:
    """The import limit in a message, with how to raise it.

    >>> import_limit(1000)
    'the import limit of 1,000 bytes (raise it with --max-bytes)'
    """
    return f"the import limit of {max_bytes:,} bytes (raise it with --max-bytes)"


#: Byte-order marks: a file that starts with one says its encoding, so it is decoded.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "UTF-32"),  # before UTF-16 LE, whose mark begins the same way
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def _as_utf8(path: Path, data: bytes) -> bytes:
    """UTF-16 and UTF-32 text that says so (a byte-order mark) as UTF-8; the rest as it is."""
    for mark, encoding in _BOMS:
        if data.startswith(mark):
            try:
                return data.decode(encoding).encode("utf-8")
            except UnicodeDecodeError as error:
                line = data[: error.start].decode(encoding, "replace").count("\n") + 1
                message = f"damaged {encoding} text ({error.reason})"
                raise InputError(path, message, line=line) from None
    return data


def _sniff(path: Path, data: bytes) -> str:
    if data[:4] == b"PAR1":
        return "parquet"
    sample = data[:65536]
    if b"\x00" in sample:
        utf16 = _utf16_without_mark(sample)
        if utf16 is None:
            return "binary"
        raise InputError(
            path,
            f"{utf16} text without a byte-order mark, not UTF-8: convert it, e.g."
            f" iconv -f {utf16} -t UTF-8 {path.name} > {_utf8_name(path)}",
        )
    start = sample.removeprefix(codecs.BOM_UTF8).lstrip()[:1]
    return "jsonl" if start in (b"{", b"[") else "csv"


def _utf16_without_mark(sample: bytes) -> str | None:
    """UTF-16LE or UTF-16BE when the zero bytes fall on one side of mostly-ASCII text."""
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd > len(sample) // 4 and even == 0:
        return "UTF-16LE"
    if even > len(sample) // 4 and odd == 0:
        return "UTF-16BE"
    return None


def _utf8_name(path: Path) -> str:
    name = path.name.removesuffix(".gz")
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}-utf8.{suffix}" if dot else f"{name}-utf8"


def _not_utf8(path: Path, error: UnicodeDecodeError, line: int) -> InputError:
    """Invalid UTF-8 at ``line``: a lone byte of 0x80 or more is what Latin-1 and
    Windows-1252 text gives, so the message names them and how to convert."""
    bad = error.object[error.start]
    message = f"not UTF-8 text (byte 0x{bad:02X}"
    if error.end - error.start == 1:
        message += (
            "); it looks like Latin-1 or Windows-1252: convert it, e.g."
            f" iconv -f WINDOWS-1252 -t UTF-8 {path.name} > {_utf8_name(path)}"
        )
    else:
        message += f", {error.reason})"
    return InputError(path, message, line=line)


def _check_utf8(path: Path, data: bytes) -> None:
    """Refuse invalid UTF-8 anywhere in ``data``, naming its line; decodes a megabyte at a
    time, so a large file costs no more memory."""
    view = memoryview(data)
    start = 0
    while start < len(data):
        end = min(start + _CHUNK, len(data))
        while end < len(data) and end > start + _CHUNK - 4 and 0x80 <= data[end] < 0xC0:
            end -= 1  # never cut a character in two
        try:
            codecs.decode(view[start:end], "utf-8")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, start + error.start) + 1
            raise _not_utf8(path, error, line) from None
        start = end


def _read_jsonl(path: Path, data: bytes) -> Table:
    columns = _JsonlColumns()
    # Bytes split on "\n" only: JSON strings may hold U+2028 and other characters that
    # str.splitlines() splits on. One line at a time: the file is never decoded whole.
    for number, raw in enumerate(io.BytesIO(data), start=1):
        if raw.isspace():
            continue
        row = _json_line(path, raw.removeprefix(codecs.BOM_UTF8) if number == 1 else raw, number)
        if not isinstance(row, dict):
            if not columns.rows and isinstance(row, list) and raw.strip() == b"[":
                raise InputError(
                    path, "a JSON array, not JSON Lines: write one object per line", line=number
                )
            raise InputError(path, f"expected a JSON object, found {kind_of(row)}", line=number)
        columns.add(row, number)
    frame, mixed = columns.finish()
    return Table(path, "jsonl", frame, mixed)


def _json_line(path: Path, raw: bytes, number: int) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _not_utf8(path, error, number) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        if text.strip() == "[":
            return []  # the caller names a JSON array
        message = f"not valid JSON ({error.msg} at character {error.colno})"
        raise InputError(path, message, line=number) from None
    except RecursionError:
        raise InputError(path, "JSON nested too deeply to read", line=number) from None


class _JsonlColumns:
    """JSON objects into polars columns, a chunk of rows at a time: parsed Python values live
    for one chunk only, so reading costs about the file's size again, not several times it.

    A column's type is decided over the whole file as ``_jsonl_column`` decides it; a column
    that mixes JSON types keeps its parsed values (``Table.mixed``).
    """

    CHUNK_ROWS = 20_000

    def __init__(self) -> None:
        self.rows = 0
        self.chunk: dict[str, list[Any]] = {}
        self.chunk_lines: list[int] = []
        self.parts: dict[str, list[pl.Series | list[Any]]] = {}
        self.kinds: dict[str, set[type]] = {}
        self.lines: list[pl.Series] = []

    def add(self, row: dict[str, Any], line: int) -> None:
        for name in row:
            if name not in self.chunk:
                self.chunk[name] = [None] * len(self.chunk_lines)
                self.parts[name] = [[None] * (self.rows - len(self.chunk_lines))]
                self.kinds[name] = set()
        for name, values in self.chunk.items():
            values.append(row.get(name))
        self.chunk_lines.append(line)
        self.rows += 1
        if len(self.chunk_lines) >= self.CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        for name, values in self.chunk.items():
            kinds = set(map(type, values)) - {type(None)}
            self.kinds[name] |= kinds
            series = _typed_series(name, values, kinds)
            self.parts[name].append(values if series is None else series)
            self.chunk[name] = []
        self.lines.append(pl.Series(LINE, self.chunk_lines, pl.Int64))
        self.chunk_lines = []

    def finish(self) -> tuple[pl.DataFrame, dict[str, list[Any]]]:
        self._flush()
        columns: list[pl.Series] = []
        mixed: dict[str, list[Any]] = {}
        for name, parts in self.parts.items():
            series = _joined(name, [p for p in parts if len(p)], self.kinds[name])
            if series is None:
                values = [
                    v for p in parts for v in (p.to_list() if isinstance(p, pl.Series) else p)
                ]
                series, parsed = _jsonl_column(name, values)
                if parsed is not None:
                    mixed[name] = parsed
            columns.append(series)
        lines = pl.concat(self.lines) if self.lines else pl.Series(LINE, [], pl.Int64)
        return pl.DataFrame([*columns, lines]), mixed


def _joined(name: str, parts: list[pl.Series | list[Any]], kinds: set[type]) -> pl.Series | None:
    """A column's chunks as one series of the type the whole column calls for, or None when
    that needs the parsed values (mixed types, or chunks that do not fit together)."""
    target = _TARGETS.get(frozenset(kinds))
    if target is None and kinds and kinds != {list}:
        return None
    series: list[pl.Series] = []
    for part in parts:
        if isinstance(part, pl.Series):
            series.append(part)
        elif all(v is None for v in part):
            series.append(pl.Series(name, part, target or pl.Null()))
        else:
            return None
    if not series:
        return pl.Series(name, [], target or pl.Null())
    try:
        joined = pl.concat(
            [s.to_frame(name) for s in series], how="vertical_relaxed", rechunk=False
        )
    except pl.exceptions.PolarsError:
        return None
    column = joined.to_series()
    return column.cast(target) if target is not None else column


_TARGETS: dict[frozenset[type], pl.DataType] = {
    frozenset(): pl.String(),
    frozenset({str}): pl.String(),
    frozenset({bool}): pl.Boolean(),
    frozenset({int}): pl.Int64(),
    frozenset({float}): pl.Float64(),
    frozenset({int, float}): pl.Float64(),
}


def _typed_series(name: str, values: list[Any], kinds: set[type]) -> pl.Series | None:
    """Values of one JSON type (ints and floats count as one) as a series, else None."""
    try:
        if kinds <= {str}:
            return pl.Series(name, values, pl.String)
        if kinds == {bool}:
            return pl.Series(name, values, pl.Boolean)
        if kinds == {int}:
            return pl.Series(name, values, pl.Int64)
        if kinds <= {int, float}:
            return pl.Series(name, values, pl.Float64, strict=False)
        if kinds == {list}:
            return pl.Series(name, values, strict=True)
    except (TypeError, OverflowError, pl.exceptions.PolarsError):
        pass
    return None


def _jsonl_column(name: str, values: list[Any]) -> tuple[pl.Series, list[Any] | None]:
    """A column from parsed JSON values; mixed types come back as JSON text plus the values."""
    kinds = set(map(type, values)) - {type(None)}
    series = _typed_series(name, values, kinds)
    if series is not None:
        return series, None
    text = [v if v is None or isinstance(v, str) else _json_text(v) for v in values]
    return pl.Series(name, text, pl.String), values


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (RecursionError, ValueError):
        return repr(value)  # a value this deep is refused by every check that reads it


def _read_csv(path: Path, data: bytes) -> Table:
    _check_utf8(path, data)
    try:
        frame = pl.read_csv(io.BytesIO(data), infer_schema=False)
    except pl.exceptions.PolarsError as error:
        line, problem = _csv_problem(data)
        reason = problem or str(error).split("\n")[0]
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


def _csv_problem(data: bytes) -> tuple[int | None, str | None]:
    """The line of what makes ``data`` unreadable as CSV, and what it is, where known: a
    stray quote first (it makes every later field count wrong), then a record whose field
    count differs from the header's."""
    stray = _stray_quote(data)
    if stray is not None:
        return stray
    return _ragged_line(data), None


#: A quoted field: quotes inside it are doubled.
_QUOTED = re.compile(rb'"[^"]*(?:""[^"]*)*"')


def _stray_quote(data: bytes) -> tuple[int, str] | None:
    """Where a quote breaks the CSV rules: inside an unquoted field, never closed, or
    followed by more text after it closes. Jumps from quote to quote (fast in C)."""
    at = data.find(b'"')
    while at != -1:
        line = data.count(b"\n", 0, at) + 1
        if at > 0 and data[at - 1 : at] not in (b",", b"\n"):
            return (
                line,
                "a quote inside a field that does not start with one: quote the field and"
                ' double its quotes ("")',
            )
        quoted = _QUOTED.match(data, at)
        if quoted is None:
            return line, "a quote opens a field that never closes"
        end = quoted.end()
        if data[end : end + 1] not in (b"", b",", b"\n", b"\r"):
            line = data.count(b"\n", 0, end) + 1
            return line, "text after a closing quote: quote the whole field and double its quotes"
        at = data.find(b'"', end)
    return None


def _ragged_line(data: bytes) -> int | None:
    """The line of the first record whose field count differs from the header's."""
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline=""))
    try:
        width = len(next(reader))
        for record in reader:
            if record and len(record) != width:
                return reader.line_num
    except (csv.Error, StopIteration):
        return reader.line_num
    return None


def _read_parquet(path: Path, data: bytes, max_bytes: int) -> Table:
    try:
        size = _parquet_size(data)
        if size > max_bytes:
            limit = import_limit(max_bytes)
            raise InputError(path, f"holds {size:,} bytes uncompressed, past {limit}")
        frame = pl.read_parquet(io.BytesIO(data))
    except InputError:
        raise
    except Exception as error:  # pyarrow and polars raise many kinds for a damaged file
        reason = str(error).split("\n")[0]
        raise InputError(path, f"not a readable Parquet file ({reason})") from None
    return Table(
        path,
        "parquet",
        frame.with_row_index(LINE, offset=1).with_columns(pl.col(LINE).cast(pl.Int64)),
    )


def _parquet_size(data: bytes) -> int:
    """The uncompressed size of a Parquet file's row groups, from its footer."""
    metadata = pq.ParquetFile(io.BytesIO(data)).metadata
    return sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))


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
