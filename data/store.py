"""The only module that speaks SQL: one DuckDB file per workspace.

One process owns the file. Inside it, one connection is shared and every operation takes its
own ``cursor()`` (sharing a cursor across threads mixes results up); every write goes through
one process-wide lock, because concurrent updates of one row abort in DuckDB instead of waiting.
Judgments are append-only and idempotent: a client-made ``submission_id`` plus
``UNIQUE(rater_id, pair_id, round)``. Votes and imports avoid ``INSERT ... ON CONFLICT``,
which costs ~40 ms a row against a million-row unique index: a vote checks its assignment
under the write lock, an import anti-joins its batch against the tables, and both then insert
plainly. The unique constraints stay as the safety net.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from data import frames

__all__ = [
    "Assignment",
    "ImportCounts",
    "MissingPairsError",
    "Project",
    "Store",
    "Submission",
    "SubmissionRefused",
    "WorkspaceLocked",
    "hash_token",
]


class WorkspaceLocked(RuntimeError):
    """The database file is held by another process (usually the running app)."""

    def __init__(self, path: Path, holder: str) -> None:
        self.path = path
        super().__init__(
            f"The database {path} is in use by another process ({holder}), most likely the "
            "running intentgap app. Stop the app (Ctrl+C in its terminal) or do this from the "
            "app's admin pages, then try again."
        )


class MissingPairsError(ValueError):
    """Judgments refer to pair ids that neither the store nor the same import contains."""

    def __init__(self, pair_ids: Sequence[str]) -> None:
        self.pair_ids = [str(p) for p in pair_ids]
        shown = ", ".join(self.pair_ids[:5]) + (" ..." if len(self.pair_ids) > 5 else "")
        super().__init__(f"{len(self.pair_ids)} judgment(s) refer to unknown pair_id: {shown}")


class SubmissionRefused(ValueError):
    """A submission that the store will not record (bad value, or a pair not assigned)."""


@dataclass(frozen=True)
class Project:
    """A batch of pairs with its labeling rules (the ``projects`` table)."""

    project_id: str
    name: str
    guidelines: str = ""
    principles: tuple[str, ...] = ()
    overlap_k: int = 3
    gold_rate: float = 0.1
    strength_enabled: bool = True
    tie_allowed: bool = True
    both_bad_allowed: bool = False
    rationale_required: bool = False
    flags: tuple[str, ...] = ("fabrication", "unsafe", "refuses needlessly")
    reclaim_minutes: int = 30
    is_demo: bool = False


_PROJECT_FIELDS = tuple(f.name for f in fields(Project))


@dataclass(frozen=True)
class Assignment:
    """A pair handed to a rater: what to show and on which side."""

    rater_id: str
    pair_id: str
    project_id: str
    shown_left: str
    is_gold: bool
    assigned_at: datetime
    round: int = 0


@dataclass(frozen=True)
class Submission:
    """One vote as the browser sends it. ``submission_id`` makes a resend harmless."""

    submission_id: str
    rater_id: str
    pair_id: str
    choice: str
    strength: int | None = None
    rationale: str | None = None
    principles: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    round: int = 0


@dataclass(frozen=True)
class ImportCounts:
    """What an import changed; re-importing the same file gives all ``*_new == 0``."""

    pairs_new: int = 0
    pairs_existing: int = 0
    judgments_new: int = 0
    judgments_existing: int = 0
    raters_new: int = 0
    rater_ids: tuple[str, ...] = field(default=())


def hash_token(token: str) -> str:
    """Tokens are stored hashed, so a copy of the database signs nobody in."""
    return hashlib.sha256(token.encode()).hexdigest()


def _schema_sql() -> str:
    return resources.files("data").joinpath("schema.sql").read_text(encoding="utf-8")


#: Ordered, named migrations; each runs in one transaction with its record row.
def _initial(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(_schema_sql())


MIGRATIONS: list[tuple[str, Callable[[duckdb.DuckDBPyConnection], None]]] = [
    ("0001_initial", _initial),
]

_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.*?)(?:\. See|$)")


class Store:
    """The workspace database. Thread-safe; one instance per process and file."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        try:
            self._con = duckdb.connect(str(path))
        except duckdb.IOException as error:
            match = _LOCK_HOLDER.search(str(error))
            if match is None or self.path is None:
                raise
            raise WorkspaceLocked(self.path, match.group(1)) from None
        self._write_lock = threading.Lock()
        self._seen: dict[str, set[str]] | None = None  # loaded on first use
        self.migrate()

    # -- plumbing ----------------------------------------------------------------------------

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self._con.cursor()
        try:
            yield cur
        finally:
            cur.close()

    @contextmanager
    def _write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction under the process-wide write lock; rolled back on any error."""
        with self._write_lock:
            cur = self._con.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()

    def migrate(self) -> list[str]:
        """Apply pending migrations in order; returns the names applied now."""
        with self._write_lock:
            cur = self._con.cursor()
            cur.execute(
                "CREATE TABLE IF NOT EXISTS _migrations"
                " (name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ DEFAULT now())"
            )
            done = {row[0] for row in cur.execute("SELECT name FROM _migrations").fetchall()}
            applied = []
            for name, step in MIGRATIONS:
                if name in done:
                    continue
                cur.execute("BEGIN TRANSACTION")
                try:
                    step(cur)
                    cur.execute("INSERT INTO _migrations (name) VALUES (?)", [name])
                    cur.execute("COMMIT")
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
                applied.append(name)
            cur.close()
        return applied

    @property
    def schema_version(self) -> str:
        return MIGRATIONS[-1][0]

    # -- projects ----------------------------------------------------------------------------

    def save_project(self, project: Project) -> None:
        """Create the project or replace its settings."""
        values = [_sql_value(getattr(project, name)) for name in _PROJECT_FIELDS]
        columns = ", ".join(_PROJECT_FIELDS)
        updates = ", ".join(f"{name} = excluded.{name}" for name in _PROJECT_FIELDS[1:])
        marks = ", ".join("?" for _ in _PROJECT_FIELDS)
        with self._write() as cur:
            cur.execute(
                f"INSERT INTO projects ({columns}) VALUES ({marks})"
                f" ON CONFLICT (project_id) DO UPDATE SET {updates}",
                values,
            )

    def project(self, project_id: str) -> Project | None:
        with self._read() as cur:
            row = cur.execute(
                f"SELECT {', '.join(_PROJECT_FIELDS)} FROM projects WHERE project_id = ?",
                [project_id],
            ).fetchone()
        if row is None:
            return None
        data = dict(zip(_PROJECT_FIELDS, row, strict=True))
        data["principles"] = tuple(data["principles"])
        data["flags"] = tuple(data["flags"])
        return Project(**data)

    def projects(self) -> list[Project]:
        with self._read() as cur:
            ids = [
                r[0]
                for r in cur.execute(
                    "SELECT project_id FROM projects ORDER BY created_at"
                ).fetchall()
            ]
        return [p for p in (self.project(i) for i in ids) if p is not None]

    # -- raters ------------------------------------------------------------------------------

    def add_rater(self, rater_id: str, name: str | None = None) -> str:
        """Create a human rater and return their secret sign-in token (shown once)."""
        token = secrets.token_urlsafe(24)
        with self._write() as cur:
            exists = cur.execute("SELECT 1 FROM raters WHERE rater_id = ?", [rater_id]).fetchone()
            if exists:
                raise ValueError(f"rater {rater_id!r} already exists")
            cur.execute(
                "INSERT INTO raters (rater_id, name, kind, token_hash) VALUES (?, ?, 'human', ?)",
                [rater_id, name or rater_id, hash_token(token)],
            )
        return token

    def reset_token(self, rater_id: str) -> str:
        """Invalidate a rater's link and return a new token."""
        token = secrets.token_urlsafe(24)
        with self._write() as cur:
            updated = cur.execute(
                "UPDATE raters SET token_hash = ?, kind = 'human' WHERE rater_id = ? RETURNING 1",
                [hash_token(token), rater_id],
            ).fetchall()
            if not updated:
                raise ValueError(f"no rater {rater_id!r}")
        return token

    def set_rater_active(self, rater_id: str, active: bool) -> None:
        with self._write() as cur:
            cur.execute("UPDATE raters SET active = ? WHERE rater_id = ?", [active, rater_id])

    def rater_for_token(self, token: str) -> str | None:
        """The active human rater this token signs in, or None."""
        if not token:
            return None
        with self._read() as cur:
            row = cur.execute(
                "SELECT rater_id FROM raters WHERE token_hash = ? AND active AND kind = 'human'",
                [hash_token(token.strip())],
            ).fetchone()
        return None if row is None else str(row[0])

    def raters(self) -> pl.DataFrame:
        """All raters with their vote counts (never their tokens)."""
        with self._read() as cur:
            frame = _frame(
                cur,
                "SELECT r.rater_id, r.name, r.kind, r.active, r.created_at,"
                " count(j.submission_id)::INTEGER AS n_judgments"
                " FROM raters r LEFT JOIN judgments j USING (rater_id)"
                " GROUP BY ALL ORDER BY r.created_at, r.rater_id",
            )
        return frame

    # -- pairs and imported judgments --------------------------------------------------------

    def import_frames(
        self,
        pairs: pl.DataFrame,
        judgments: pl.DataFrame | None,
        project_id: str,
        source_raters: Sequence[str] = (),
    ) -> ImportCounts:
        """Write validated frames in one transaction; existing rows are kept, never doubled.

        ``pairs`` follows ``frames.PAIRS`` and ``judgments`` ``frames.JUDGMENTS``. Raters named
        in the judgments are created as needed: those in ``source_raters`` as kind ``source``
        (a dataset's own label), the rest as ``human`` raters without a sign-in token.
        Raises ``MissingPairsError`` (and writes nothing) when a judgment names an unknown pair.
        """
        pairs = frames.conform(pairs, frames.PAIRS).with_columns(
            pl.lit(project_id).alias("project_id"),
            pl.col("is_gold").fill_null(False),
        )
        judgments = frames.conform(
            judgments if judgments is not None else frames.empty(frames.JUDGMENTS),
            frames.JUDGMENTS,
        ).with_columns(pl.col("is_gold").fill_null(False), pl.col("round").fill_null(0))
        with self._write() as cur:
            if self.project(project_id) is None:
                raise ValueError(f"no project {project_id!r}; create it first")
            cur.register("incoming_pairs", pairs.to_arrow())
            cur.register("incoming_judgments", judgments.to_arrow())
            # Existing rows are filtered out with anti-joins and the rest inserted plainly:
            # ON CONFLICT against million-row unique indexes costs twice as long.
            pairs_new = _inserted(
                cur,
                "INSERT INTO pairs SELECT i.*, now() FROM incoming_pairs i"
                " ANTI JOIN pairs p USING (pair_id)",
            )
            cur.execute(
                "INSERT INTO coverage (pair_id, project_id, is_gold, shuffle)"
                " SELECT i.pair_id, i.project_id, i.is_gold, hash(i.pair_id)"
                " FROM incoming_pairs i ANTI JOIN coverage c USING (pair_id)"
            )
            missing = [
                r[0]
                for r in cur.execute(
                    "SELECT DISTINCT j.pair_id FROM incoming_judgments j"
                    " ANTI JOIN pairs p USING (pair_id) ORDER BY 1"
                ).fetchall()
            ]
            if missing:
                raise MissingPairsError(missing)
            rater_ids = judgments["rater_id"].drop_nulls().unique().sort().to_list()
            cur.register(
                "incoming_raters",
                pl.DataFrame({"rater_id": rater_ids}, schema={"rater_id": pl.String()})
                .with_columns(
                    kind=pl.when(pl.col("rater_id").is_in(list(source_raters)))
                    .then(pl.lit("source"))
                    .otherwise(pl.lit("human"))
                )
                .to_arrow(),
            )
            raters_new = _inserted(
                cur,
                "INSERT INTO raters (rater_id, name, kind)"
                " SELECT i.rater_id, i.rater_id, i.kind FROM incoming_raters i"
                " ANTI JOIN raters r USING (rater_id)",
            )
            cur.unregister("incoming_raters")
            self._seen = None  # reloaded on next use, with the imported votes
            judgments_new = _inserted(
                cur,
                "INSERT INTO judgments SELECT i.* FROM incoming_judgments i"
                " ANTI JOIN judgments j USING (submission_id)"
                " ANTI JOIN judgments k"
                " ON i.rater_id = k.rater_id AND i.pair_id = k.pair_id AND i.round = k.round",
            )
            if judgments_new:
                cur.execute(
                    "UPDATE coverage SET n_done = counted.n FROM ("
                    "  SELECT j.pair_id, count(*)::INTEGER AS n FROM judgments j"
                    "  SEMI JOIN (SELECT DISTINCT pair_id FROM incoming_judgments) i"
                    "   USING (pair_id)"
                    "  WHERE j.rater_id IN (SELECT rater_id FROM raters WHERE kind = 'human')"
                    "  GROUP BY j.pair_id) counted"
                    " WHERE coverage.pair_id = counted.pair_id"
                )
            cur.unregister("incoming_pairs")
            cur.unregister("incoming_judgments")
        return ImportCounts(
            pairs_new=pairs_new,
            pairs_existing=pairs.height - pairs_new,
            judgments_new=judgments_new,
            judgments_existing=judgments.height - judgments_new,
            raters_new=raters_new,
            rater_ids=tuple(rater_ids),
        )

    def pairs(self, project_id: str | None = None) -> pl.DataFrame:
        """Pairs (``frames.PAIRS``), of one project or all."""
        where, params = _project_filter(project_id)
        columns = ", ".join(frames.PAIRS)
        with self._read() as cur:
            frame = _frame(
                cur,
                f"SELECT {columns} FROM pairs {where} ORDER BY imported_at, pair_id",
                params,
            )
        return frames.conform(frame, frames.PAIRS)

    def pair(self, pair_id: str) -> dict[str, Any] | None:
        with self._read() as cur:
            frame = _frame(
                cur,
                f"SELECT {', '.join(frames.PAIRS)} FROM pairs WHERE pair_id = ?",
                [pair_id],
            )
        return None if frame.is_empty() else frame.row(0, named=True)

    def judgments(self, project_id: str | None = None, rater_id: str | None = None) -> pl.DataFrame:
        """Votes (``frames.JUDGMENTS``), optionally of one project and/or one rater."""
        clauses, params = [], []
        if project_id is not None:
            clauses.append("pair_id IN (SELECT pair_id FROM pairs WHERE project_id = ?)")
            params.append(project_id)
        if rater_id is not None:
            clauses.append("rater_id = ?")
            params.append(rater_id)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        with self._read() as cur:
            frame = _frame(
                cur,
                f"SELECT {', '.join(frames.JUDGMENTS)} FROM judgments {where}"
                " ORDER BY created_at, submission_id",
                params,
            )
        return frames.conform(frame, frames.JUDGMENTS)

    def counts(self, project_id: str | None = None) -> dict[str, int]:
        """Headline numbers for an overview page."""
        where, params = _project_filter(project_id)
        with self._read() as cur:
            row = cur.execute(
                "SELECT count(*), count(*) FILTER (is_gold),"
                " coalesce(sum(n_done), 0), count(*) FILTER (n_done > 0)"
                f" FROM coverage {where}",
                params,
            ).fetchone()
            raters = cur.execute("SELECT count(*) FROM raters WHERE kind = 'human'").fetchone()
        assert row is not None and raters is not None
        return {
            "pairs": int(row[0]),
            "gold_pairs": int(row[1]),
            "human_judgments": int(row[2]),
            "pairs_judged": int(row[3]),
            "raters": int(raters[0]),
        }

    def coverage(self, project_id: str) -> pl.DataFrame:
        """Votes done and out per pair: ``pair_id, is_gold, n_done, n_open``."""
        with self._read() as cur:
            return _frame(
                cur,
                "SELECT pair_id, is_gold, n_done, n_open FROM coverage"
                " WHERE project_id = ? ORDER BY pair_id",
                [project_id],
            )

    def recent_judgments(self, project_id: str | None, limit: int = 20) -> pl.DataFrame:
        """The latest votes (``frames.JUDGMENTS``), newest first, without reading them all."""
        where = (
            "WHERE pair_id IN (SELECT pair_id FROM pairs WHERE project_id = ?)"
            if project_id is not None
            else ""
        )
        params: list[Any] = [project_id] if project_id is not None else []
        with self._read() as cur:
            frame = _frame(
                cur,
                f"SELECT {', '.join(frames.JUDGMENTS)} FROM judgments {where}"
                f" ORDER BY created_at DESC, submission_id LIMIT {int(limit)}",
                params,
            )
        return frames.conform(frame, frames.JUDGMENTS)

    def rater_is_active(self, rater_id: str) -> bool:
        """Whether a signed-in rater may still work (deactivation ends their session)."""
        with self._read() as cur:
            row = cur.execute("SELECT active FROM raters WHERE rater_id = ?", [rater_id]).fetchall()
        return bool(row and row[0][0])

    # -- assignment --------------------------------------------------------------------------

    def open_assignment(self, rater_id: str, project_id: str) -> Assignment | None:
        """The pair this rater was given and has not answered yet, if any."""
        with self._read() as cur:
            row = cur.execute(
                "SELECT rater_id, pair_id, project_id, shown_left, is_gold, assigned_at, round"
                " FROM assignments WHERE rater_id = ? AND project_id = ? AND status = 'open'"
                " ORDER BY assigned_at DESC LIMIT 1",
                [rater_id, project_id],
            ).fetchone()
        return None if row is None else Assignment(*row)

    def claim_next(
        self,
        rater_id: str,
        project: Project,
        *,
        gold: bool,
        choose_side: Callable[[str, str], str],
    ) -> Assignment | None:
        """Give the rater one pair they have never seen and record it as an open assignment.

        Work pairs (``gold=False``) must still need votes (done + open < overlap k); the least
        covered comes first, ties broken by a per-rater permutation so raters spread over
        pairs. Gold pairs are hidden checks, served only while the rater still has work.
        """
        with self._write() as cur:
            seen = self._seen_by(cur, rater_id)
            pair_id = self._first_unseen(cur, project, seen, rater_id, gold=False)
            if pair_id is not None and gold:
                pair_id = self._first_unseen(cur, project, seen, rater_id, gold=True)
            if pair_id is None:
                return None
            shown_left = choose_side(rater_id, pair_id)
            assigned = cur.execute(
                "INSERT INTO assignments"
                " (rater_id, pair_id, project_id, shown_left, is_gold, assigned_at)"
                " VALUES (?, ?, ?, ?, ?, now()) RETURNING assigned_at",
                [rater_id, pair_id, project.project_id, shown_left, gold],
            ).fetchone()
            cur.execute("UPDATE coverage SET n_open = n_open + 1 WHERE pair_id = ?", [pair_id])
            seen.add(pair_id)
        assert assigned is not None
        return Assignment(rater_id, pair_id, project.project_id, shown_left, gold, assigned[0])

    def _seen_by(self, cur: duckdb.DuckDBPyConnection, rater_id: str) -> set[str]:
        """Pairs this rater was ever given or voted on; call under the write lock.

        Scanning a million judgments for one rater costs ~10 ms, so the first call loads
        every rater's set in one pass and later calls are dictionary lookups. This process
        owns the file, so every write that could change a set passes through this object.
        """
        if self._seen is None:
            rows = cur.execute(
                "SELECT rater_id, list(pair_id) FROM (SELECT rater_id, pair_id FROM judgments"
                " UNION SELECT rater_id, pair_id FROM assignments) GROUP BY rater_id"
            ).fetchall()
            shared: dict[str, str] = {}  # one string object per pair id across all raters
            self._seen = {
                str(rater): {shared.setdefault(p, p) for p in pair_ids} for rater, pair_ids in rows
            }
        return self._seen.setdefault(rater_id, set())

    @staticmethod
    def _first_unseen(
        cur: duckdb.DuckDBPyConnection,
        project: Project,
        seen: set[str],
        rater_id: str,
        *,
        gold: bool,
    ) -> str | None:
        """The first pair in the rater's order that they have not seen, reading ever more
        candidates (64, 512, ...) in the rare case that all the first ones were seen."""
        needs_votes = "" if gold else " AND c.n_done + c.n_open < $k"
        salt = int.from_bytes(hashlib.blake2b(rater_id.encode(), digest_size=8).digest())
        params = {"project": project.project_id, "gold": gold, "salt": salt}
        if not gold:
            params["k"] = project.overlap_k
        limit = 64
        while True:
            rows = cur.execute(
                "SELECT c.pair_id FROM coverage c"
                f" WHERE c.project_id = $project AND c.is_gold = $gold{needs_votes}"
                f" ORDER BY c.n_done + c.n_open, xor(c.shuffle, $salt::UBIGINT) LIMIT {limit}",
                params,
            ).fetchall()
            for (pair_id,) in rows:
                if pair_id not in seen:
                    return str(pair_id)
            if len(rows) < limit:
                return None
            limit *= 8

    def reclaim_abandoned(self, project: Project, now: datetime | None = None) -> int:
        """Expire open assignments older than the project's limit so others get the pair.

        A late answer to an expired assignment is still accepted. ``now`` defaults to the
        database clock (tests pass a later time instead of waiting).
        """
        with self._write() as cur:
            expired = cur.execute(
                "UPDATE assignments SET status = 'expired'"
                " WHERE project_id = ? AND status = 'open'"
                " AND assigned_at < coalesce(?::TIMESTAMPTZ, now()) - to_minutes(?)"
                " RETURNING pair_id",
                [project.project_id, now, project.reclaim_minutes],
            ).fetchall()
            for (pair_id,) in expired:
                cur.execute("UPDATE coverage SET n_open = n_open - 1 WHERE pair_id = ?", [pair_id])
        return len(expired)

    def skip(self, rater_id: str, pair_id: str, round: int = 0) -> None:
        """The rater passes on an open assignment; they will not be given this pair again."""
        with self._write() as cur:
            skipped = cur.execute(
                "UPDATE assignments SET status = 'skipped'"
                " WHERE rater_id = ? AND pair_id = ? AND round = ? AND status = 'open'"
                " RETURNING 1",
                [rater_id, pair_id, round],
            ).fetchall()
            if skipped:
                cur.execute(
                    "UPDATE coverage SET n_open = n_open - 1 WHERE pair_id = ?",
                    [pair_id],
                )

    def submit(self, submission: Submission) -> bool:
        """Record a vote on a pair assigned to this rater. True if saved now, False if it
        was already saved (a double click or a resend). Time is measured here, server-side,
        from the assignment to this call.
        """
        _check_submission(submission)
        s = submission
        key = [s.rater_id, s.pair_id, s.round]
        with self._write() as cur:
            assignment = cur.execute(
                "SELECT status FROM assignments WHERE rater_id = ? AND pair_id = ? AND round = ?",
                key,
            ).fetchone()
            if assignment is None:
                raise SubmissionRefused(
                    f"pair {s.pair_id!r} was not assigned to rater {s.rater_id!r}"
                )
            (status,) = assignment
            if status == "done":
                return False
            # A plain INSERT: the status check above, under the write lock, replaces
            # ON CONFLICT, which costs ~40 ms against a million-row unique index. The
            # primary key still refuses an id reused for another pair.
            try:
                cur.execute(
                    "INSERT INTO judgments SELECT ?, a.pair_id, a.rater_id, a.round, ?, ?,"
                    " a.shown_left, epoch(now() - a.assigned_at), now(), ?, ?, ?, a.is_gold,"
                    " 'ui' FROM assignments a"
                    " WHERE a.rater_id = ? AND a.pair_id = ? AND a.round = ?",
                    [
                        s.submission_id,
                        s.choice,
                        s.strength,
                        s.rationale or None,
                        list(s.principles),
                        list(s.flags),
                        *key,
                    ],
                )
            except duckdb.ConstraintException:
                raise SubmissionRefused(
                    f"submission id {s.submission_id!r} was already used for another vote"
                ) from None
            cur.execute(
                "UPDATE assignments SET status = 'done'"
                " WHERE rater_id = ? AND pair_id = ? AND round = ?",
                key,
            )
            cur.execute(
                "UPDATE coverage SET n_done = n_done + 1, n_open = n_open - ? WHERE pair_id = ?",
                [1 if status == "open" else 0, s.pair_id],
            )
        return True

    def progress(self, rater_id: str, project_id: str) -> dict[str, int]:
        """A rater's own counts in a project: judged, skipped, and work pairs still open to
        them (pairs needing votes that they have not seen)."""
        with self._write_lock:
            cur = self._con.cursor()
            seen = pa.table(
                {"pair_id": pa.array(sorted(self._seen_by(cur, rater_id)), pa.string())}
            )
            cur.close()
        with self._read() as cur:
            cur.register("seen_pairs", seen)
            row = cur.execute(
                "SELECT"
                " (SELECT count(*) FROM assignments"
                "   WHERE rater_id = $rater AND project_id = $project AND status = 'done'),"
                " (SELECT count(*) FROM assignments"
                "   WHERE rater_id = $rater AND project_id = $project AND status = 'skipped'),"
                " (SELECT count(*) FROM coverage c JOIN projects pr USING (project_id)"
                "   WHERE c.project_id = $project AND NOT c.is_gold"
                "   AND c.n_done + c.n_open < pr.overlap_k"
                "   AND c.pair_id NOT IN (SELECT pair_id FROM seen_pairs))",
                {"rater": rater_id, "project": project_id},
            ).fetchall()[0]
            cur.unregister("seen_pairs")
        assert row is not None
        return {"judged": int(row[0]), "skipped": int(row[1]), "available": int(row[2])}

    # -- export ------------------------------------------------------------------------------

    def copy_judgments_to_parquet(self, out: Path, project_id: str | None = None) -> int:
        """Stream every stored vote field to Parquet without passing through Python rows."""
        where = ""
        if project_id is not None:
            where = (
                "WHERE j.pair_id IN (SELECT pair_id FROM pairs"
                f" WHERE project_id = '{_sql_literal(project_id)}')"
            )
        columns = ", ".join("j." + c for c in frames.JUDGMENTS)
        with self._read() as cur:
            # COPY takes no bound parameters, hence the escaped literals.
            row = cur.execute(
                f"COPY (SELECT {columns} FROM judgments j {where}"
                " ORDER BY j.created_at, j.submission_id)"
                f" TO '{_sql_literal(str(out))}' (FORMAT parquet)"
            ).fetchone()
        assert row is not None
        return int(row[0])


# -- helpers ---------------------------------------------------------------------------------


def _frame(cur: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> pl.DataFrame:
    frame: pl.DataFrame = cur.sql(sql, params=list(params) or None).pl()
    return frame


def _inserted(cur: duckdb.DuckDBPyConnection, sql: str) -> int:
    """Rows written by an INSERT (DuckDB answers a plain INSERT with its row count)."""
    row = cur.execute(sql).fetchall()
    return int(row[0][0]) if row else 0


def _sql_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _sql_literal(text: str) -> str:
    return text.replace("'", "''")


def _project_filter(project_id: str | None) -> tuple[str, list[Any]]:
    if project_id is None:
        return "", []
    return "WHERE project_id = ?", [project_id]


def _check_submission(s: Submission) -> None:
    if s.choice not in frames.CHOICES:
        raise SubmissionRefused(f"choice must be one of {frames.CHOICES}, not {s.choice!r}")
    if s.strength is not None and s.strength not in frames.STRENGTH_LABELS:
        raise SubmissionRefused(f"strength must be 1, 2 or 3, not {s.strength!r}")
    if s.choice in ("tie", "both_bad") and s.strength is not None:
        raise SubmissionRefused("a tie or 'both bad' has no strength")
    if not s.submission_id:
        raise SubmissionRefused("submission_id is required (the idempotency key)")
