"""Typed access to a table's columns: each getter converts one column to our dtype or raises
``InputError`` at the first bad row, naming its line, column and value.

This is where a file's values are checked (text, a label from a fixed set, numbers, true/false,
date-times, lists of names, rater ids; the remaining columns become ``metadata`` JSON);
``data.shapes`` decides which columns a shape needs and builds the frames from them.

Numbers must be finite and fit their column (no NaN, no ``1e400``, no round past int32);
text made only of spaces and invisible characters counts as empty (``BLANK``); rater ids are
normalised (``rater_id_problem``) so that look-alikes are one rater or an error.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from data.formats import LINE, InputError, Table, kind_of, shown

__all__ = [
    "ASSIGNED_COLUMNS",
    "BLANK",
    "INT32_MAX",
    "Columns",
    "normal_rater_id",
    "rater_id_problem",
]

#: Columns the import itself decides; a file's values for them are dropped.
ASSIGNED_COLUMNS = frozenset({"project_id", "imported_at"})

#: Text that shows nothing: white space, zero-width and other default-ignorable characters
#: (U+200B, U+2060, U+FEFF, the Hangul fillers...), controls and format characters, and the
#: blank braille pattern. A response made only of these is empty.
BLANK = r"^[\p{White_Space}\p{Default_Ignorable_Code_Point}\p{Cc}\p{Cf}\x{2800}]*$"

#: The largest value an INTEGER column (``round``) holds.
INT32_MAX = 2**31 - 1
_INT64_LIMIT = 2.0**63


class Columns:
    """Typed access to a table's columns: each getter converts a column to our dtype or raises
    ``InputError`` at the first bad row (vectorised: masks and ``arg_true``, no row loops,
    except over JSONL columns that mix JSON types; ``data.conversations`` walks its rows)."""

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
        raise self.error_at(index, column, message)

    def error_at(self, index: int, column: str, message: str) -> InputError:
        """The error for row ``index`` (for checks that walk rows, e.g. conversations)."""
        return InputError(
            self.table.path, message, line=int(self.frame[LINE][index]), column=column
        )

    def nulls(self, name: str, dtype: pl.DataType) -> pl.Series:
        """An all-null column, standing for one the file does not have."""
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
        self.fail(
            name, pl.Series(bad), lambda v: f"{shown(v)} is {kind_of(v)}, expected {expected}"
        )
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
            return self.nulls(name, pl.String())
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
                    lambda v: f"{shown(v)} is {kind_of(v)}, expected text",
                )
                series = series.cast(pl.String)
        if nonempty:
            self.fail(
                name,
                series.is_null() | series.str.contains(BLANK),
                lambda _: (
                    "the response is empty" if name.startswith("response") else "the value is empty"
                ),
            )
        elif required:
            self.fail(name, series.is_null(), lambda _: "the value is missing")
        self.fail(
            name,
            series.str.contains("\x00", literal=True),
            lambda _: "the text holds a NUL character (U+0000), which no database stores",
        )
        return series

    def choice(self, name: str, allowed: Sequence[str], *, required: bool = False) -> pl.Series:
        """A label column: stripped, lower-cased and one of ``allowed``."""
        series = self.text(name, required=required).str.strip_chars().str.to_lowercase()
        self.fail(
            name,
            series.is_not_null() & ~series.is_in(list(allowed)),
            lambda v: f"{shown(v)} is not one of {', '.join(allowed)}",
        )
        return series

    def integer(self, name: str, low: int, high: int | None, out_of_range: str) -> pl.Series:
        """A whole-number column within ``low..high`` (``high`` None: as far as 64 bits go)."""
        if not self.has(name):
            return self.nulls(name, pl.Int64())
        series = self._finite(name, self._number_like(name, "a whole number"))
        whole = series.is_null() | (series == series.floor())
        self.fail(name, ~whole, lambda v: f"{shown(v)} is not a whole number")
        # Compared as floats first: a value past 64 bits cannot be cast to compare it.
        upper = _INT64_LIMIT if high is None else high
        self.fail(
            name,
            (series < low) | (series >= upper if high is None else series > upper),
            lambda v: f"{int(v) if abs(v) < _INT64_LIMIT else format(v, 'g')} {out_of_range}",
            shown=series,
        )
        return series.cast(pl.Int64)

    def number(self, name: str, low: float) -> pl.Series:
        """A finite number of at least ``low``."""
        if not self.has(name):
            return self.nulls(name, pl.Float64())
        series = self._finite(name, self._number_like(name, "a number"))
        self.fail(name, series < low, lambda v: f"{shown(v)} is below {low:g}", shown=series)
        return series

    def _finite(self, name: str, series: pl.Series) -> pl.Series:
        """Refuse NaN and infinities (``1e400`` reads as infinite): no statistic survives them."""
        self.fail(name, ~series.is_finite(), lambda v: f"{shown(v)} is not a finite number")
        return series

    def rater_ids(self, name: str) -> pl.Series:
        """Rater ids, NFKC-normalised and stripped (a full-width ``ｒ１`` is ``r1``); an id
        with an invisible or direction-changing character, or mixing Latin with Cyrillic or
        Greek letters, is refused: each would be a look-alike of another rater."""
        series = self.text(name, required=True, nonempty=True, ids=True)
        # Per distinct id (a file has few raters and many votes); a column is only rewritten
        # where an id changes, which plain ids never do.
        normal = {value: normal_rater_id(value) for value in series.unique().drop_nulls()}
        problems = {v: p for v, n in normal.items() if (p := rater_id_problem(n)) is not None}
        if problems:
            bad = series.is_in(list(problems))
            self.fail(name, bad, str, shown=series.replace_strict(problems, default=None))
        changed = {value: spelled for value, spelled in normal.items() if value != spelled}
        return series.replace(changed) if changed else series

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
                lambda v: f"{shown(v)} is not {expected}",
            )
            return parsed
        if series.dtype == pl.Null or series.dtype.is_numeric():
            return series.cast(pl.Float64)
        self.fail(
            name, series.is_not_null(), lambda v: f"{shown(v)} is {kind_of(v)}, expected {expected}"
        )
        return series.cast(pl.Float64)

    def boolean(self, name: str) -> pl.Series:
        """true/false; text columns accept true/false, yes/no, 1/0 (any case)."""
        if not self.has(name):
            return self.nulls(name, pl.Boolean())
        values = self._mixed(name, (bool, int, str), "true or false")
        series = (
            pl.Series(name, [None if v is None else str(v) for v in values], pl.String)
            if values is not None
            else self.frame[name]
        )
        if series.dtype == pl.Boolean:
            return series
        if series.dtype.is_integer():
            self.fail(name, ~series.is_in([0, 1]), lambda v: f"{shown(v)} is not true or false")
            return series.cast(pl.Boolean)
        if series.dtype in (pl.String, pl.Null):
            words = series.cast(pl.String).str.strip_chars().str.to_lowercase()
            truth = words.replace_strict(_TRUTH, default=None, return_dtype=pl.Boolean)
            self.fail(
                name,
                (words != "") & truth.is_null(),
                lambda v: f"{shown(v)} is not true or false",
            )
            return truth
        self.fail(
            name,
            series.is_not_null(),
            lambda v: f"{shown(v)} is {kind_of(v)}, expected true or false",
        )
        return series.cast(pl.Boolean)

    def labels(self, name: str) -> pl.Series:
        """A list of names: a list, or text separated by ';'."""
        if not self.has(name):
            return self.nulls(name, pl.List(pl.String()))
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
                lambda v: f"{shown(v)} is {kind_of(v)}, expected a list of names",
            )
        return series.list.eval(
            pl.element().str.strip_chars().filter(pl.element().str.strip_chars() != "")
        )

    def timestamp(self, name: str) -> pl.Series:
        """A date-time in UTC; text in ISO 8601 (a time without offset is read as UTC)."""
        if not self.has(name):
            return self.nulls(name, pl.Datetime("us", "UTC"))
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
                    f"{shown(v)} is not a date and time (use ISO 8601, e.g. 2024-05-01T12:00:00Z)"
                ),
            )
            return parsed
        self.fail(
            name,
            series.is_not_null(),
            lambda v: f"{shown(v)} is {kind_of(v)}, expected a date and time",
        )
        return self.nulls(name, pl.Datetime("us", "UTC"))

    def values(self, name: str) -> list[Any]:
        """The column as Python values (for conversations, which need per-row work)."""
        if not self.has(name):
            return [None] * self.height
        if name in self.table.mixed:
            return list(self.table.mixed[name])
        return self.frame[name].to_list()

    def metadata(self, exclude: frozenset[str]) -> pl.Series:
        """Extra columns as one JSON object per row; a lone ``metadata`` column is kept as is."""
        extras = [n for n in self.table.columns if n not in exclude and n not in ASSIGNED_COLUMNS]
        if not extras:
            return self.nulls("metadata", pl.String())
        for name in extras:  # NaN and infinities are not JSON
            if self.frame[name].dtype.is_float():
                self._finite(name, self.frame[name])
        if extras == ["metadata"] and self.frame["metadata"].dtype == pl.String:
            return self.frame["metadata"]
        if not any(name in self.table.mixed for name in extras):
            return self.frame.select(pl.struct(extras).struct.json_encode()).to_series()
        # JSON objects or mixed types in a JSONL column: encode the parsed values, once.
        values = {name: self.values(name) for name in extras}
        encoded = [
            self._json_row({name: values[name][i] for name in extras}, i)
            for i in range(self.height)
        ]
        return pl.Series("metadata", encoded, pl.String)

    def _json_row(self, row: dict[str, Any], index: int) -> str:
        try:
            return json.dumps(
                row, ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False
            )
        except (ValueError, RecursionError):
            raise self.error_at(
                index,
                next(iter(row)),
                "a value that is not JSON (NaN, infinite, or nested too deeply)",
            ) from None


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


def normal_rater_id(rater_id: str) -> str:
    """A rater id in its one spelling: Unicode NFKC, stripped (a full-width ``ｒ１`` is ``r1``).

    >>> normal_rater_id(" ｒ１ ")
    'r1'
    """
    return unicodedata.normalize("NFKC", rater_id).strip()


def rater_id_problem(rater_id: str) -> str | None:
    r"""Why ``rater_id`` (already NFKC-normalised) cannot name a rater, or None.

    >>> rater_id_problem("ada")
    >>> rater_id_problem("ada\u200b")
    "'ada\u200b' has an invisible or direction-changing character (U+200B)"
    >>> rater_id_problem("аdа")  # Cyrillic a, Latin d
    "'аdа' mixes Cyrillic and Latin letters: a look-alike of another id?"
    """
    for char in rater_id:
        if unicodedata.category(char) in _HIDDEN_CATEGORIES or char in _HIDDEN:
            return (
                f"{shown(rater_id)} has an invisible or direction-changing character"
                f" (U+{ord(char):04X})"
            )
    scripts = sorted({_script(char) for char in rater_id if char.isalpha()} & _CONFUSABLE)
    if len(scripts) > 1 and "Latin" in scripts:
        return (
            f"{shown(rater_id)} mixes {' and '.join(scripts)} letters: a look-alike of another id?"
        )
    return None


#: Control, format (zero-width, bidi controls, BOM, soft hyphen), separators and unassigned.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Zl", "Zp", "Cs"})
_HIDDEN = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f")  # fillers, CGJ: look blank
_CONFUSABLE = frozenset({"Latin", "Cyrillic", "Greek"})


def _script(char: str) -> str:
    return unicodedata.name(char, "?").split(" ")[0].title()


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
