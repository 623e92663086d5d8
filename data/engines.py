"""The two databases under the store: an embedded DuckDB file, or a PostgreSQL server.

``data/store.py`` holds the logic and writes its SQL once; an engine gives it cursors in
read or write transactions, stages polars frames as tables, reads results as polars frames
through Arrow, and names what went wrong. ``open_engine`` picks one from a location: a
``postgresql://`` URL, else a DuckDB file path (or ``:memory:``).

The SQL the store writes uses ``?`` or ``$name`` parameters (DuckDB's own); the PostgreSQL
cursor turns them into psycopg's. Two failures are named the same on both, because the
store acts on them: ``ConstraintViolated`` (a unique or check constraint refused a row) and
``WriteClash`` (another transaction wrote the same rows first; doing it again may succeed).

DuckDB: one process owns the file; one connection, a cursor per operation, writes under one
process-wide lock (DuckDB aborts concurrent updates of a row instead of waiting).
PostgreSQL: a pool of psycopg connections, one transaction per write and no process lock:
several app processes share the server, so row locks, not this process, keep the counts
right; frames come out as Arrow through the ADBC driver (binary COPY, no Python loop).
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

import duckdb
import polars as pl
import pyarrow as pa

from data.workspace import StoreWriteError, is_postgres_url, write_failure_cause

__all__ = [
    "ConstraintViolated",
    "Cursor",
    "DuckDBEngine",
    "PostgresEngine",
    "WriteClash",
    "open_engine",
]


class ConstraintViolated(Exception):
    """A unique, primary-key or check constraint refused a row; the transaction is undone."""


class WriteClash(Exception):
    """Another transaction wrote the same rows first (DuckDB's conflict, PostgreSQL's
    serialization failure or deadlock); the transaction is undone and may be done again."""


class Cursor(Protocol):
    """What the store's SQL runs on, inside a read or a write transaction."""

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Cursor: ...
    def fetchone(self) -> tuple[Any, ...] | None: ...
    def fetchall(self) -> list[tuple[Any, ...]]: ...
    def count(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> int:
        """Rows an INSERT, UPDATE or DELETE changed."""
        ...

    def frame(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> pl.DataFrame: ...

    def stage(self, name: str, frame: pl.DataFrame) -> None:
        """Make ``frame`` readable as table ``name`` in this transaction (``unstage`` drops it)."""
        ...

    def unstage(self, name: str) -> None: ...


def open_engine(location: str | Path) -> DuckDBEngine | PostgresEngine:
    """A PostgreSQL engine for a ``postgresql://`` URL, else DuckDB on the file (or memory)."""
    if is_postgres_url(location):
        return PostgresEngine(str(location))
    return DuckDBEngine(location)


# -- DuckDB ------------------------------------------------------------------------------------

_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.*?)(?:\. See|$)")


class _DuckCursor:
    def __init__(self, cur: duckdb.DuckDBPyConnection) -> None:
        self._cur = cur

    @property
    def raw(self) -> duckdb.DuckDBPyConnection:
        """DuckDB's own cursor, for a transaction the caller runs (``BEGIN``, ``COMMIT``)."""
        return self._cur

    def execute(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> _DuckCursor:
        try:
            self._cur.execute(sql, params)
        except duckdb.ConstraintException as error:
            raise ConstraintViolated(str(error)) from error
        except duckdb.TransactionException as error:
            if not _is_conflict(error):
                raise
            raise WriteClash(str(error)) from error
        return self

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._cur.fetchone()

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._cur.fetchall()

    def count(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> int:
        rows = self.execute(sql, params).fetchall()  # DuckDB answers with the row count
        return int(rows[0][0]) if rows else 0

    def frame(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        bound = params if isinstance(params, dict) else list(params or ()) or None
        frame: pl.DataFrame = self._cur.sql(sql, params=bound).pl()
        return frame

    def stage(self, name: str, frame: pl.DataFrame) -> None:
        # Arrow string views share polars' buffers: the default large strings copy them all.
        self._cur.register(name, frame.to_arrow(compat_level=pl.CompatLevel.newest()))

    def unstage(self, name: str) -> None:
        with suppress(duckdb.Error):
            self._cur.unregister(name)
        with suppress(duckdb.Error):
            self._cur.execute(f"DROP TABLE IF EXISTS {name}")


class DuckDBEngine:
    """One DuckDB file owned by this process (or a database in memory)."""

    kind = "duckdb"
    shared = False
    #: What locks a row read for an update (none needed: writes take the process lock).
    lock_row = ""
    #: The driver's errors, which ``named`` turns into the store's.
    errors = duckdb.Error

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        self.location = str(path)
        self.write_lock = threading.Lock()
        self.broken = False  # a fatal error invalidated the connection: reopen before use
        #: Called (under the write lock) when a connection is reopened or a write is undone:
        #: what the store keeps in memory about the database may be stale then.
        self.on_reset: Callable[[], None] = lambda: None
        self._con = self._connect()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(":memory:" if self.path is None else str(self.path))
        except duckdb.Error as error:
            raise self.named(error) from None

    def close(self) -> None:
        self._con.close()

    def named(self, error: BaseException) -> BaseException:
        """What callers see of a database error: ``WorkspaceLocked`` for a file held by
        another process, ``StoreWriteError`` with its cause for a write (or an open) that the
        disk refused, else the error itself (a constraint, a bug)."""
        from data.store import WorkspaceLocked  # the store's error; it imports this module

        held = _LOCK_HOLDER.search(str(error))
        if held is not None and self.path is not None:
            return WorkspaceLocked.held_by(self.path, held.group(1))
        cause = write_failure_cause(error)
        if cause is None and not isinstance(error, duckdb.IOException | duckdb.FatalException):
            return error
        return StoreWriteError(self.path, cause or str(error), str(error))

    @staticmethod
    def is_fatal(error: BaseException) -> bool:
        """An error after which DuckDB refuses every statement until reopened."""
        return isinstance(error, duckdb.FatalException)

    def reopen_if_broken(self) -> None:
        """Open the database again after a fatal error (call under the write lock).

        DuckDB refuses every statement after one, e.g. a checkpoint that hit a full disk,
        until the database is opened again; what was committed is in its write-ahead log.
        """
        if not self.broken:
            return
        with suppress(duckdb.Error):
            self._con.close()
        self._con = self._connect()
        self.broken = False
        self.on_reset()

    def raw_cursor(self) -> _DuckCursor:
        """A cursor outside any transaction (the caller manages it; call under the lock)."""
        self.reopen_if_broken()
        return _DuckCursor(self._con.cursor())

    @contextmanager
    def read(self) -> Iterator[_DuckCursor]:
        if self.broken:
            with self.write_lock:
                self.reopen_if_broken()
        cur = self._con.cursor()
        try:
            yield _DuckCursor(cur)
        except duckdb.FatalException as error:
            self.broken = True
            raise self.named(error) from None
        finally:
            cur.close()

    @contextmanager
    def write(self) -> Iterator[_DuckCursor]:
        """One transaction under the process-wide write lock; rolled back on any error.

        A write the disk refuses raises ``StoreWriteError`` with the real cause. A
        transaction that did not commit calls ``on_reset`` (the store drops what it keeps
        in memory, which may hold a claim that never reached the file).
        """
        with self.write_lock:
            self.reopen_if_broken()
            cur = self._con.cursor()
            try:
                cur.execute("BEGIN TRANSACTION")
                try:
                    yield _DuckCursor(cur)
                except BaseException:
                    roll_back(cur)
                    raise
                commit(cur)
            except BaseException as error:
                self.on_reset()
                if not isinstance(error, duckdb.Error):
                    raise
                self.broken = isinstance(error, duckdb.FatalException)
                raise self.named(error) from None
            finally:
                cur.close()

    def shuffle_of(self, column: str) -> str:
        return f"hash({column})"


def commit(cur: duckdb.DuckDBPyConnection) -> None:
    """COMMIT; a constraint or a clash found only now is named like one found earlier (and
    DuckDB has rolled back already)."""
    try:
        cur.execute("COMMIT")
    except duckdb.ConstraintException as error:
        raise ConstraintViolated(str(error)) from error
    except duckdb.TransactionException as error:
        if not _is_conflict(error):
            raise  # e.g. the disk refused the write-ahead log: named by the engine
        raise WriteClash(str(error)) from error


def _is_conflict(error: duckdb.Error) -> bool:
    """DuckDB's transaction errors are conflicts, or a commit the disk refused."""
    return "onflict" in str(error) and write_failure_cause(error) is None


def roll_back(cur: duckdb.DuckDBPyConnection) -> None:
    """Undo the open transaction, if there still is one: after a failed COMMIT, DuckDB has
    already rolled back, and a second ROLLBACK would only hide the real error."""
    with suppress(duckdb.Error):
        cur.execute("ROLLBACK")


# -- PostgreSQL --------------------------------------------------------------------------------

#: ``$name`` and ``?`` parameters outside quotes, and a lone ``%`` (psycopg's own marker).
_PARAMETER = re.compile(r"'(?:[^']|'')*'|\$([A-Za-z_]\w*)|\?|%")


def to_psycopg(sql: str) -> str:
    """The store's SQL with psycopg's placeholders.

    >>> to_psycopg("SELECT $a::TIMESTAMPTZ, '?' FROM t WHERE x = ? AND y LIKE 'a%'")
    "SELECT %(a)s::TIMESTAMPTZ, '?' FROM t WHERE x = %s AND y LIKE 'a%%'"
    """

    def replace(match: re.Match[str]) -> str:
        text = match.group(0)
        if text.startswith("'"):
            return text.replace("%", "%%")
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        return f"%({match.group(1)})s"

    return _PARAMETER.sub(replace, sql)


def _psycopg() -> Any:
    """psycopg, imported on first use: a DuckDB workspace never loads it."""
    import psycopg

    return psycopg


_PG_TYPES: dict[type[pl.DataType], str] = {
    pl.String: "TEXT",
    pl.Boolean: "BOOLEAN",
    pl.Int8: "SMALLINT",
    pl.Int16: "SMALLINT",
    pl.Int32: "INTEGER",
    pl.Int64: "BIGINT",
    pl.UInt32: "BIGINT",
    pl.Float64: "DOUBLE PRECISION",
    pl.Float32: "DOUBLE PRECISION",
    pl.Datetime: "TIMESTAMPTZ",
}


def _pg_type(dtype: Any) -> str:
    """PostgreSQL's type for a polars dtype (an instance, or a class such as ``pl.String``)."""
    if isinstance(dtype, pl.List):
        return f"{_pg_type(dtype.inner)}[]"
    try:
        return _PG_TYPES[dtype if isinstance(dtype, type) else type(dtype)]
    except KeyError:
        raise TypeError(f"cannot stage a {dtype} column in PostgreSQL") from None


def _array_literal(column: str) -> pl.Expr:
    """A list of strings as PostgreSQL's array text: ``{"a","b \\"c\\""}``."""
    quoted = pl.concat_str(
        pl.lit('"'),
        pl.element()
        .str.replace_all("\\", "\\\\", literal=True)
        .str.replace_all('"', '\\"', literal=True),
        pl.lit('"'),
    )
    joined = pl.col(column).list.eval(quoted).list.join(",")
    return pl.concat_str(pl.lit("{"), joined, pl.lit("}")).alias(column)


class _PgCursor:
    def __init__(self, engine: PostgresEngine, cur: Any) -> None:
        self._engine = engine
        self._cur = cur

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> _PgCursor:
        psycopg = _psycopg()
        try:
            self._cur.execute(to_psycopg(sql), _pg_params(params))
        except psycopg.errors.IntegrityError as error:
            raise ConstraintViolated(str(error)) from error
        except (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected) as error:
            raise WriteClash(str(error)) from error
        except psycopg.errors.LockNotAvailable as error:
            raise WriteClash(str(error)) from error
        return self

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self._cur.fetchone()
        return None if row is None else tuple(row)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._cur.fetchall()]

    def count(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> int:
        self.execute(sql, params)
        return int(self._cur.rowcount)

    def frame(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Small results inside a transaction (the temp tables are only visible here)."""
        self.execute(sql, params)
        names = [column.name for column in self._cur.description or ()]
        rows = self._cur.fetchall()
        return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)

    def stage(self, name: str, frame: pl.DataFrame) -> None:
        """A temporary table filled by ``COPY ... FROM STDIN`` with CSV that polars writes."""
        columns = ", ".join(f"{c} {_pg_type(t)}" for c, t in frame.schema.items())
        self._cur.execute(f"CREATE TEMPORARY TABLE {name} ({columns}) ON COMMIT DROP")
        lists = [c for c, t in frame.schema.items() if isinstance(t, pl.List)]
        text = frame.with_columns(_array_literal(c) for c in lists).write_csv(
            include_header=False,
            quote_style="non_numeric",
            datetime_format="%Y-%m-%dT%H:%M:%S%.f%z",
        )
        with self._cur.copy(f"COPY {name} FROM STDIN (FORMAT csv)") as copy:
            buffer = io.BytesIO(text.encode("utf-8"))
            while chunk := buffer.read(1 << 20):
                copy.write(chunk)
        self._cur.execute(f"ANALYZE {name}")

    def unstage(self, name: str) -> None:
        self._cur.execute(f"DROP TABLE IF EXISTS {name}")


def _pg_params(params: Sequence[Any] | dict[str, Any] | None) -> Any:
    if params is None:
        return None
    if isinstance(params, dict):
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}
    return [list(v) if isinstance(v, tuple) else v for v in params]


class PostgresEngine:
    """A PostgreSQL database shared with other processes (app replicas, commands)."""

    kind = "postgresql"
    shared = True
    lock_row = " FOR UPDATE"
    path: Path | None = None

    def __init__(self, url: str, max_connections: int = 16) -> None:
        psycopg = _psycopg()
        from psycopg_pool import ConnectionPool

        self.url = url
        self.location = _without_password(url)
        try:  # once directly: a server that is down is named at once, not after retries
            psycopg.connect(url, connect_timeout=10).close()
        except psycopg.Error as error:
            raise StoreWriteError(
                None, f"cannot connect to {self.location}: {_first_line(error)}"
            ) from None
        try:
            self._pool = ConnectionPool(
                url,
                min_size=1,
                max_size=max_connections,
                kwargs={"autocommit": True},
                open=False,
                name="intentgap",
            )
            self._pool.open(wait=True, timeout=10)
        except (psycopg.Error, Exception) as error:
            raise StoreWriteError(
                None, f"cannot connect to {self.location}: {_first_line(error)}"
            ) from None
        self._arrow_lock = threading.Lock()
        self._arrow: list[Any] = []  # idle ADBC connections, for frames as Arrow
        # ADBC carries its own libpq, whose default socket folder may not be the server's:
        # it is given the host and port that psycopg's connection found.
        from psycopg.conninfo import make_conninfo

        with self._connection() as conn:
            self._arrow_conninfo = make_conninfo(url, host=conn.info.host, port=conn.info.port)

    def close(self) -> None:
        self._pool.close()
        with self._arrow_lock:
            for con in self._arrow:
                with suppress(Exception):
                    con.close()
            self._arrow.clear()

    @contextmanager
    def read(self) -> Iterator[_PgReadCursor]:
        with self._connection() as conn, conn.cursor() as cur:
            yield _PgReadCursor(self, cur)

    @contextmanager
    def write(self) -> Iterator[_PgCursor]:
        """One transaction on a connection of the pool; rolled back on any error."""
        with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield _PgCursor(self, cur)

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        psycopg = _psycopg()
        try:
            with self._pool.connection(timeout=30) as conn:
                yield conn
        except psycopg.OperationalError as error:
            raise StoreWriteError(None, f"database {self.location}: {_first_line(error)}") from None

    def vacuum(self) -> None:
        """Refresh the planner's statistics and the visibility map after a large import
        (autovacuum would, a minute later; until then "next pair" is ~2x slower). Outside a
        transaction; raters' votes go on beside it."""
        with self._connection() as conn:
            conn.execute("VACUUM (ANALYZE) judgments, assignments, coverage, pairs")

    def shuffle_of(self, column: str) -> str:
        # hashtextextended is 64-bit signed; the store orders by it, any stable hash serves.
        return f"(hashtextextended({column}, 0) & 9223372036854775807)"

    def arrow(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pa.Table:
        """A query's result as Arrow through ADBC (PostgreSQL's binary COPY, no Python loop).
        Parameters are bound by psycopg on the client, so the text ADBC runs is literal."""
        text = self._bound(sql, params)
        con = self._arrow_connection()
        try:
            with con.cursor() as cur:
                cur.execute(text)
                table: pa.Table = cur.fetch_arrow_table()
        except BaseException:
            with suppress(Exception):
                con.close()
            raise
        with self._arrow_lock:
            self._arrow.append(con)
        return table

    def _bound(self, sql: str, params: Sequence[Any] | dict[str, Any] | None) -> str:
        psycopg = _psycopg()
        with self._connection() as conn:
            client = psycopg.ClientCursor(conn)
            try:
                return str(client.mogrify(to_psycopg(sql), _pg_params(params)))
            finally:
                client.close()

    def _arrow_connection(self) -> Any:
        with self._arrow_lock:
            if self._arrow:
                return self._arrow.pop()
        import adbc_driver_postgresql.dbapi as adbc

        return adbc.connect(self._arrow_conninfo, autocommit=True)


class _PgReadCursor(_PgCursor):
    """Reads outside a write transaction: frames come through ADBC as Arrow."""

    def frame(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        result = pl.from_arrow(self._engine.arrow(sql, params))
        assert isinstance(result, pl.DataFrame)
        return result.rechunk()  # ADBC hands the rows over in pieces


def _without_password(url: str) -> str:
    """A URL fit for a message or a manifest: the password replaced by ``***``.

    >>> _without_password("postgresql://ann:s3cret@db:5432/votes")
    'postgresql://ann:***@db:5432/votes'
    """
    return re.sub(r"(//[^:/@]+):[^@]*@", r"\1:***@", url)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
