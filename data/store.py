"""The only module that speaks SQL: one DuckDB file per workspace.

One process owns the file. Inside it, one connection is shared and every operation takes its
own ``cursor()`` (sharing a cursor across threads mixes results up); every write goes through
one process-wide lock, because concurrent updates of one row abort in DuckDB instead of waiting.
An import writes its rows beside the others and takes the lock only to commit; one that clashed
with a write meanwhile is redone under the lock (``import_frames``).
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
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import polars as pl

from data import frames
from data.engines import (
    ConstraintViolated,
    Cursor,
    DuckDBEngine,
    PostgresEngine,
    WriteClash,
    commit,
    open_engine,
    roll_back,
)

__all__ = [
    "AlreadyJudged",
    "Assignment",
    "ImportConflict",
    "ImportCounts",
    "MissingPairsError",
    "Project",
    "Session",
    "SignIn",
    "Store",
    "Submission",
    "SubmissionRefused",
    "WorkspaceLocked",
    "hash_token",
]


class WorkspaceLocked(RuntimeError):
    """The database file is held by another process: the running app, or a command.

    ``holder`` is who, in words (with the PID); ``command`` is ``"app"`` for the intentgap
    app, the command's name (``"import"``) for an ``intentgap`` command, else None. The
    message says what helps: stopping the app, or waiting for the command to finish.
    """

    def __init__(self, path: Path, holder: str, command: str | None = None) -> None:
        self.path = path
        self.holder = holder
        self.command = command
        if command == "app":
            message = (
                f"The database {path} is in use by the running intentgap app ({holder}). Stop"
                " the app (Ctrl+C in its terminal) or do this from the app's admin pages, then"
                " try again."
            )
        elif command is not None:
            message = (
                f"The database {path} is in use by `intentgap {command}` ({holder}), which"
                " holds it until it finishes. Try again (reload the page) when it is done."
            )
        else:
            message = (
                f"The database {path} is in use by another process ({holder}), such as the"
                " intentgap app or an intentgap command. Stop it or let it finish, then try"
                " again."
            )
        super().__init__(message)

    @classmethod
    def held_by(cls, path: Path, duckdb_holder: str) -> WorkspaceLocked:
        """From DuckDB's "Conflicting lock is held in PROGRAM (PID n)": the holder's own
        command line (where ``/proc`` shows it) tells the app from a command."""
        pid = re.search(r"\(PID (\d+)\)", duckdb_holder)
        if pid is None:
            return cls(path, duckdb_holder)
        command = _intentgap_command(_command_line(int(pid.group(1))))
        program = Path(duckdb_holder[: pid.start()].strip()).name
        holder = f"PID {pid.group(1)}" if command else f"{program}, PID {pid.group(1)}"
        return cls(path, holder, command)


class MissingPairsError(ValueError):
    """Judgments refer to pair ids that neither the store nor the same import contains."""

    def __init__(self, pair_ids: Sequence[str]) -> None:
        self.pair_ids = [str(p) for p in pair_ids]
        shown = ", ".join(self.pair_ids[:5]) + (" ..." if len(self.pair_ids) > 5 else "")
        super().__init__(f"{len(self.pair_ids)} judgment(s) refer to unknown pair_id: {shown}")


class ImportConflict(ValueError):
    """An imported row contradicts a stored one; nothing was written.

    ``frame`` is ``"pairs"`` (a ``pair_id`` stored with other ``frames.PAIR_CONTENT``) or
    ``"judgments"`` (``what`` is ``"vote"``: the rater's stored vote on that pair and round
    says otherwise, ``frames.VOTE_CONTENT``; or ``"submission"``: the submission id names
    another stored vote). ``row`` is the first such row's index in the frame given to
    ``import_frames``, ``column`` the first field that differs, ``stored`` the stored row's
    fields (with ``since``, when it was stored, and its ``source``); ``count`` how many rows
    conflict.
    """

    def __init__(
        self, frame: str, what: str, row: int, column: str, stored: dict[str, Any], count: int
    ) -> None:
        self.frame = frame
        self.what = what
        self.row = row
        self.column = column
        self.stored = stored
        self.count = count
        super().__init__(
            f"{count} imported {frame} row(s) contradict stored ones: the first is row {row}"
            f" ({what}, {column} differs)"
        )


class SubmissionRefused(ValueError):
    """A submission that the store will not record (bad value, or a pair not assigned)."""


class AlreadyJudged(SubmissionRefused):
    """The rater has a vote on this pair already, one that was imported (from ``source``)
    while the pair was open to them. That vote stands, this one is not saved, and the pair
    is closed for them, so they are given the next one."""

    def __init__(self, rater_id: str, pair_id: str, source: str | None) -> None:
        self.rater_id = rater_id
        self.pair_id = pair_id
        self.source = source
        super().__init__(
            f"rater {rater_id!r} already has a vote on pair {pair_id!r}, imported from"
            f" {source or 'a file'}; that vote stands and this one was not saved"
        )


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
    #: A left/right vote needs a strength (only where ``strength_enabled``).
    strength_required: bool = False
    #: Share of a rater's pairs that are hidden checks of them: probe pairs
    #: (``frames.PAIRS``: ``probe_kind``) and retests.
    probe_rate: float = 0.0
    #: How work pairs are ranked (``labeling.policies.POLICIES``): ``uniform``, ``disputed``,
    #: ``model`` (by the scores loaded with ``replace_scores``).
    policy: str = "uniform"

    @property
    def choices(self) -> tuple[str, ...]:
        """The choices a vote may make here: ``frames.CHOICES`` as the project's rules allow."""
        allowed = {"tie": self.tie_allowed, "both_bad": self.both_bad_allowed}
        return tuple(choice for choice in frames.CHOICES if allowed.get(choice, True))


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


#: What a claim can give a rater (``Store.claim_next``): a work pair, or a hidden check.
CLAIM_KINDS: tuple[str, ...] = ("work", "gold", "probe", "retest")
#: A retest comes back at least this many assignments after the rater's first vote on it.
RETEST_GAP = 20

#: A session ends after this long without a page run (each run slides it on); never later
#: than ``SESSION_MAX_AGE`` after sign-in. Raters keep a week: their link signs in only once.
RATER_SESSION_IDLE = timedelta(days=7)
ADMIN_SESSION_IDLE = timedelta(hours=8)
SESSION_MAX_AGE = timedelta(days=30)
#: How long the one-time code that turns a session into the browser's cookie stays good.
HANDOFF_TTL = timedelta(minutes=2)
#: A session's expiry is written again only once it has moved on by this much.
_SLIDE_STEP = timedelta(minutes=5)


@dataclass(frozen=True)
class Session:
    """A signed-in browser, as the store knows it: ``role`` is ``"rater"`` or ``"admin"``."""

    session_id: str
    role: str
    rater_id: str | None


@dataclass(frozen=True)
class SignIn:
    """A session just opened. ``secret`` names it from now on (held in the server's session
    state, or, after ``redeem_handoff``, in the browser's cookie); ``handoff`` is a one-time
    code, good for ``HANDOFF_TTL``, that the browser trades for that cookie. Only their
    hashes are stored."""

    session: Session
    secret: str
    handoff: str


#: The first schema, in each engine's words: ``schema.sql`` (DuckDB), ``schema_postgres.sql``.
SCHEMA_FILES = {"duckdb": "schema.sql", "postgresql": "schema_postgres.sql"}


def _schema_sql(engine: str) -> str:
    return resources.files("data").joinpath(SCHEMA_FILES[engine]).read_text(encoding="utf-8")


#: Ordered, named migrations; each runs in one transaction with its record row. Each is
#: given the engine's kind; SQL both engines read alike is written once.
def _initial(cur: Cursor, engine: str) -> None:
    cur.execute(_schema_sql(engine))


def _rater_sessions(cur: Cursor, engine: str) -> None:
    """Sign-in links become single-use: the first use opens a session, and the session (not
    the link) is what a browser holds afterwards, so a link in a history or on a shared screen
    signs nobody in. Reset, deactivation and sign-out end sessions (``ended_at``). A rater may
    be kept to one project (``only_project``: the demo's raters to the demo)."""
    cur.execute("ALTER TABLE raters ADD COLUMN only_project VARCHAR")
    cur.execute(
        "CREATE TABLE sessions ("
        " session_id    VARCHAR PRIMARY KEY,"
        " secret_hash   VARCHAR NOT NULL,"  # sha256 of the secret the browser's session holds
        " role          VARCHAR NOT NULL CHECK (role IN ('rater', 'admin')),"
        " rater_id      VARCHAR,"
        " handoff_hash  VARCHAR,"  # one-time code that becomes the cookie; NULL once used
        " handoff_until TIMESTAMPTZ,"
        " created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),"
        " expires_at    TIMESTAMPTZ NOT NULL,"
        " ended_at      TIMESTAMPTZ,"
        " ended_why     VARCHAR,"
        " CHECK ((role = 'rater') = (rater_id IS NOT NULL)))"
    )


def _strength_required(cur: Cursor, engine: str) -> None:
    """A project may require the strength of every left/right vote (``Project``)."""
    cur.execute("ALTER TABLE projects ADD COLUMN strength_required BOOLEAN NOT NULL DEFAULT FALSE")


def _probes(cur: Cursor, engine: str) -> None:
    """Probe pairs (``frames.PAIRS``: ``probe_kind``, ``probe_of``) are served hidden, at a
    project's ``probe_rate``, like gold."""
    cur.execute("ALTER TABLE pairs ADD COLUMN probe_kind VARCHAR")
    cur.execute("ALTER TABLE pairs ADD COLUMN probe_of VARCHAR")
    cur.execute("ALTER TABLE projects ADD COLUMN probe_rate DOUBLE PRECISION NOT NULL DEFAULT 0")
    cur.execute("ALTER TABLE coverage ADD COLUMN is_probe BOOLEAN NOT NULL DEFAULT FALSE")
    if engine == "postgresql":  # the claim's index range leaves probes out
        cur.execute("DROP INDEX coverage_next")
        cur.execute(
            "CREATE INDEX coverage_next"
            " ON coverage (project_id, is_gold, is_probe, (n_done + n_open), shuffle)"
        )


def _policies(cur: Cursor, engine: str) -> None:
    """A project ranks its work pairs by a policy (``Project.policy``): the ranking is kept
    in ``coverage.priority`` (higher first, then the least covered), and a checkpoint's
    scores of the pairs, which the ``model`` policy reads, in ``scores``."""
    cur.execute("ALTER TABLE projects ADD COLUMN policy VARCHAR NOT NULL DEFAULT 'uniform'")
    cur.execute("ALTER TABLE coverage ADD COLUMN priority DOUBLE PRECISION NOT NULL DEFAULT 0")
    cur.execute(
        "CREATE TABLE scores ("
        " pair_id VARCHAR NOT NULL, model_id VARCHAR NOT NULL,"
        " reward_a DOUBLE PRECISION NOT NULL, reward_b DOUBLE PRECISION NOT NULL,"
        " loaded_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (pair_id, model_id))"
    )
    if engine == "postgresql":
        cur.execute("DROP INDEX coverage_next")
        cur.execute(
            "CREATE INDEX coverage_next ON coverage"
            " (project_id, is_gold, is_probe, priority DESC, (n_done + n_open), shuffle)"
        )


MIGRATIONS: list[tuple[str, Callable[[Cursor, str], None]]] = [
    ("0001_initial", _initial),
    ("0002_rater_sessions", _rater_sessions),
    ("0003_strength_required", _strength_required),
    ("0004_probes", _probes),
    ("0005_policies", _policies),
]


class Store:
    """The workspace database: a DuckDB file, or a PostgreSQL server (``postgresql://`` URL).
    Thread-safe; with DuckDB one instance per process and file, with PostgreSQL any number of
    processes (app replicas, commands) at once."""

    def __init__(self, location: str | Path = ":memory:") -> None:
        """Open (or create) the database and apply pending migrations.

        Raises ``WorkspaceLocked`` when another process holds the DuckDB file and
        ``StoreWriteError`` (with its cause) when it cannot be opened for writing or the
        server cannot be reached.
        """
        self._db = open_engine(location)
        self.path = self._db.path
        #: What this store was opened with, to open the same again (a URL may hold a
        #: password: never show it; ``location`` is for showing).
        self.opened_with = str(location)
        #: Where the votes live, for messages and manifests (a URL without its password).
        self.location = self._db.location
        #: Each rater's seen pairs, in memory, where this process is the only writer (DuckDB).
        self._seen: dict[str, set[str]] | None = None  # loaded on first use
        if isinstance(self._db, DuckDBEngine):
            self._db.on_reset = self._forget_seen
        self._import_lock = threading.Lock()  # imports run one at a time, beside the writes
        #: Tests only: called inside an import's open transaction, its rows written, just
        #: before it takes the write lock to commit (a test pauses the import here).
        self._before_import_commit: Callable[[], None] | None = None
        try:
            self.migrate()
        except BaseException:
            self._db.close()  # let go of the file: nobody else can open it while we hold it
            raise

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def engine(self) -> str:
        """``"duckdb"`` or ``"postgresql"``."""
        return self._db.kind

    def close(self) -> None:
        self._db.close()

    def _forget_seen(self) -> None:
        self._seen = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self) -> ContextManager[Cursor]:
        result: ContextManager[Cursor] = self._db.read()
        return result

    def _write(self) -> ContextManager[Cursor]:
        """One transaction; rolled back on any error (``StoreWriteError`` with the cause
        for a write the disk refuses)."""
        result: ContextManager[Cursor] = self._db.write()
        return result

    def migrate(self) -> list[str]:
        """Apply pending migrations in order; returns the names applied now.

        On PostgreSQL, replicas starting at once take turns (an advisory lock held by each
        migration's transaction), and a migration another one applied meanwhile is skipped.
        """
        with self._write() as cur:
            _take_turns(cur, self._db.kind)
            cur.execute(
                "CREATE TABLE IF NOT EXISTS _migrations"
                " (name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ DEFAULT now())"
            )
        applied = []
        for name, step in MIGRATIONS:
            with self._write() as cur:  # the migration and its record row, or neither
                _take_turns(cur, self._db.kind)
                done = cur.execute("SELECT 1 FROM _migrations WHERE name = ?", [name]).fetchone()
                if done is None:
                    step(cur, self._db.kind)
                    cur.execute("INSERT INTO _migrations (name) VALUES (?)", [name])
                    applied.append(name)
        return applied

    @property
    def schema_version(self) -> str:
        return MIGRATIONS[-1][0]

    # -- projects ----------------------------------------------------------------------------

    def save_project(self, project: Project) -> None:
        """Create the project or replace its settings."""
        with self._write() as cur:
            _save_project(cur, project)

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

    def add_rater(
        self, rater_id: str, name: str | None = None, *, only_project: str | None = None
    ) -> str:
        """Create a human rater and return their secret sign-in token (shown once). The link
        signs in once (``sign_in_with_token``); ``only_project`` is the one project they may
        label (None: any project)."""
        token = secrets.token_urlsafe(24)
        exists = ValueError(f"rater {rater_id!r} already exists")
        try:
            with self._write() as cur:
                if cur.execute("SELECT 1 FROM raters WHERE rater_id = ?", [rater_id]).fetchone():
                    raise exists
                cur.execute(
                    "INSERT INTO raters (rater_id, name, kind, token_hash, only_project)"
                    " VALUES (?, ?, 'human', ?, ?)",
                    [rater_id, name or rater_id, hash_token(token), only_project],
                )
        except ConstraintViolated:  # added by another process meanwhile
            raise exists from None
        return token

    def reset_token(self, rater_id: str) -> str:
        """A new single-use link for the rater. Their old link, and every session opened with
        any link of theirs, end now: a browser still signed in is signed out at its next step."""
        token = secrets.token_urlsafe(24)
        with self._write() as cur:
            updated = cur.execute(
                "UPDATE raters SET token_hash = ?, kind = 'human' WHERE rater_id = ? RETURNING 1",
                [hash_token(token), rater_id],
            ).fetchall()
            if not updated:
                raise ValueError(f"no rater {rater_id!r}")
            _end_sessions_of(cur, rater_id, "link reset")
        return token

    def set_rater_active(self, rater_id: str, active: bool) -> None:
        """Deactivating also ends the rater's open sessions, at once."""
        with self._write() as cur:
            cur.execute("UPDATE raters SET active = ? WHERE rater_id = ?", [active, rater_id])
            if not active:
                _end_sessions_of(cur, rater_id, "deactivated")

    def limit_rater_to(self, rater_id: str, project_id: str | None) -> None:
        """Keep a rater to one project (None: any project); ``claim_next`` gives them no pair
        of another."""
        with self._write() as cur:
            cur.execute(
                "UPDATE raters SET only_project = ? WHERE rater_id = ?", [project_id, rater_id]
            )

    def rater_may_label(self, rater_id: str, project_id: str) -> bool:
        """Whether this rater may be given pairs of this project (``limit_rater_to``)."""
        with self._read() as cur:
            return _may_label(cur, rater_id, project_id)

    def demo_raters(self) -> list[str]:
        """Active human raters kept to a demo project: the ones ``sign_in_demo_rater`` lets
        in without a link."""
        with self._read() as cur:
            rows = cur.execute(
                "SELECT r.rater_id FROM raters r JOIN projects p ON p.project_id = r.only_project"
                " WHERE r.active AND r.kind = 'human' AND p.is_demo ORDER BY r.rater_id"
            ).fetchall()
        return [str(row[0]) for row in rows]

    def rater_for_token(self, token: str) -> str | None:
        """The active human rater this token would sign in, or None; does not use it up."""
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
            frame = cur.frame(
                "SELECT r.rater_id, r.name, r.kind, r.active, r.created_at,"
                " count(j.submission_id)::INTEGER AS n_judgments, r.only_project"
                " FROM raters r LEFT JOIN judgments j USING (rater_id)"
                " GROUP BY r.rater_id, r.name, r.kind, r.active, r.created_at, r.only_project"
                " ORDER BY r.created_at, r.rater_id",
            )
        return frame

    # -- sign-in sessions --------------------------------------------------------------------

    def sign_in_with_token(self, token: str) -> SignIn | None:
        """Use up a rater's link and open a rater session; None when the token signs nobody
        in (unknown, used already, reset, or the rater deactivated). A link works once."""
        if not token.strip():
            return None
        with self._write() as cur:
            row = cur.execute(
                "UPDATE raters SET token_hash = NULL"
                " WHERE token_hash = ? AND active AND kind = 'human' RETURNING rater_id",
                [hash_token(token.strip())],
            ).fetchone()
            return None if row is None else _open_session(cur, "rater", str(row[0]))

    def sign_in_admin(self) -> SignIn:
        """Open an admin session; call only after checking the admin password."""
        with self._write() as cur:
            return _open_session(cur, "admin", None)

    def sign_in_demo_rater(self, rater_id: str) -> SignIn | None:
        """Open a session for a demo rater without a link (the demo's sign-in page offers
        them to anyone): only for an active rater kept to a demo project, else None."""
        with self._write() as cur:
            demo = cur.execute(
                "SELECT 1 FROM raters r JOIN projects p ON p.project_id = r.only_project"
                " WHERE r.rater_id = ? AND r.active AND r.kind = 'human' AND p.is_demo",
                [rater_id],
            ).fetchone()
            return None if demo is None else _open_session(cur, "rater", rater_id)

    def session(self, secret: str, now: datetime | None = None) -> Session | None:
        """The live session this secret names, or None: unknown, ended (sign-out, reset,
        deactivation), expired, or its rater deactivated. A cheap read on every page run; it
        slides the expiry on (a write at most every few minutes). ``now`` defaults to the
        database clock (tests pass a later time instead of waiting)."""
        if not secret:
            return None
        with self._read() as cur:
            row = cur.execute(
                "SELECT s.session_id, s.role, s.rater_id, s.created_at, s.expires_at,"
                " coalesce($now::TIMESTAMPTZ, now())"
                " FROM sessions s LEFT JOIN raters r ON r.rater_id = s.rater_id"
                " WHERE s.secret_hash = $hash AND s.ended_at IS NULL"
                " AND s.expires_at > coalesce($now::TIMESTAMPTZ, now())"
                " AND (s.role = 'admin' OR (r.active AND r.kind = 'human'))",
                {"hash": hash_token(secret), "now": now},
            ).fetchone()
        if row is None:
            return None
        session_id, role, rater_id, created_at, expires_at, clock = row
        slid = min(clock + _session_idle(role), created_at + SESSION_MAX_AGE)
        if slid - expires_at >= _SLIDE_STEP:
            with self._write() as cur:
                cur.execute(
                    "UPDATE sessions SET expires_at = ? WHERE session_id = ? AND ended_at IS NULL",
                    [slid, session_id],
                )
        return Session(str(session_id), str(role), None if rater_id is None else str(rater_id))

    def redeem_handoff(self, code: str, now: datetime | None = None) -> str | None:
        """Trade a session's one-time handoff code for a new secret, which the browser keeps
        in its cookie (the secret the session had before stops working). None when the code is
        unknown, used, older than ``HANDOFF_TTL``, or its session has ended."""
        if not code:
            return None
        secret = secrets.token_urlsafe(32)
        with self._write() as cur:
            redeemed = cur.execute(
                "UPDATE sessions SET secret_hash = $secret, handoff_hash = NULL,"
                " handoff_until = NULL WHERE handoff_hash = $code AND ended_at IS NULL"
                " AND handoff_until > coalesce($now::TIMESTAMPTZ, now())"
                " AND expires_at > coalesce($now::TIMESTAMPTZ, now()) RETURNING 1",
                {"secret": hash_token(secret), "code": hash_token(code), "now": now},
            ).fetchall()
        return secret if redeemed else None

    def end_session(self, secret: str, why: str = "signed out") -> None:
        """Sign a browser out: the session's secret (and its cookie) sign nobody in again."""
        with self._write() as cur:
            cur.execute(
                "UPDATE sessions SET ended_at = now(), ended_why = ?"
                " WHERE secret_hash = ? AND ended_at IS NULL",
                [why, hash_token(secret)],
            )

    # -- pairs and imported judgments --------------------------------------------------------

    def import_frames(
        self,
        pairs: pl.DataFrame,
        judgments: pl.DataFrame | None,
        project_id: str,
        source_raters: Sequence[str] = (),
        *,
        create_project: bool = False,
    ) -> ImportCounts:
        """Write validated frames in one transaction; existing rows are kept, never doubled.

        ``pairs`` follows ``frames.PAIRS`` and ``judgments`` ``frames.JUDGMENTS``. Raters named
        in the judgments are created as needed: those in ``source_raters`` as kind ``source``
        (a dataset's own label), the rest as ``human`` raters without a sign-in token.
        ``create_project`` creates a missing project (default settings) in the same
        transaction. Raises, and writes nothing at all: ``MissingPairsError`` when a judgment
        names an unknown pair, ``ImportConflict`` when a row contradicts a stored one (a
        stored row that is the same is kept: re-importing changes nothing).
        """
        pairs = (
            frames.conform(pairs, frames.PAIRS)
            .with_columns(
                pl.lit(project_id).alias("project_id"), pl.col("is_gold").fill_null(False)
            )
            .with_row_index(_ROW)
        )
        judgments = (
            frames.conform(
                judgments if judgments is not None else frames.empty(frames.JUDGMENTS),
                frames.JUDGMENTS,
            )
            .with_columns(pl.col("is_gold").fill_null(False), pl.col("round").fill_null(0))
            .with_row_index(_ROW)
        )
        _refuse_nul(pairs, "pairs")
        _refuse_nul(judgments, "judgments")
        with self._import_lock:  # one import at a time: two would only clash with each other
            if self._db.shared:
                return self._import_in_one_transaction(
                    pairs, judgments, project_id, source_raters, create_project
                )
            counts = self._import_beside_raters(
                pairs, judgments, project_id, source_raters, create_project
            )
            if counts is not None:
                return counts
            # It clashed with a write that committed meanwhile (a vote, a claim, a rater): do
            # it again under the write lock, which gives the result and the messages that a
            # run without company would.
            with self._write() as cur:
                counts = self._import_rows(
                    cur, pairs, judgments, project_id, source_raters, create_project
                )
                _add_vote_counts(cur)
                self._seen = None  # reloaded on next use, with the imported votes
            return counts

    def _import_in_one_transaction(
        self,
        pairs: pl.DataFrame,
        judgments: pl.DataFrame,
        project_id: str,
        source_raters: Sequence[str],
        create_project: bool,
    ) -> ImportCounts:
        """PostgreSQL: the import is one transaction beside raters' votes (row locks keep the
        coverage counts right: they are added, never set). Imports from any process take
        turns. One that clashed with a vote committed meanwhile (on a pair and rater it also
        votes for) is done again, which sees that vote and keeps it, or refuses the import."""
        for attempt in range(3):
            try:
                with self._write() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(?)", [_IMPORT_TURN])
                    counts = self._import_rows(
                        cur, pairs, judgments, project_id, source_raters, create_project
                    )
                    _add_vote_counts(cur)
                    if self._before_import_commit is not None:
                        self._before_import_commit()
                if counts.pairs_new + counts.judgments_new >= _VACUUM_AFTER:
                    db = self._db
                    assert isinstance(db, PostgresEngine)
                    db.vacuum()
                return counts
            except (WriteClash, ConstraintViolated):
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _import_beside_raters(
        self,
        pairs: pl.DataFrame,
        judgments: pl.DataFrame,
        project_id: str,
        source_raters: Sequence[str],
        create_project: bool,
    ) -> ImportCounts | None:
        """DuckDB: the import in a transaction of its own cursor, without the write lock, so
        that raters' votes and claims go on meanwhile (DuckDB's appends from two transactions
        do not block each other). Only the coverage counts and the COMMIT take the lock: a
        concurrent update of a coverage row would abort a rater's vote, and the seen sets
        must take the imported votes in before any claim can see them.

        Returns None, with nothing written, when a concurrent write clashed with this one:
        DuckDB refuses the second of two transactions that write the same key (at INSERT or
        at COMMIT) or update a row that the other changed.
        """
        db = self._db
        assert isinstance(db, DuckDBEngine)
        with db.write_lock:
            cur = db.raw_cursor()
        raw = cur.raw
        try:
            raw.execute("BEGIN TRANSACTION")
            try:
                counts = self._import_rows(
                    cur, pairs, judgments, project_id, source_raters, create_project
                )
                # Gathered here, so that loaded seen sets take the votes in without a reload
                # (~1 s at a million votes) and without holding the lock for long.
                loaded = counts.judgments_new and self._seen is not None
                seen = _seen_in(judgments) if loaded else None
                if self._before_import_commit is not None:
                    self._before_import_commit()
                with db.write_lock:
                    # A vote committed since this transaction began also updated its pair's
                    # coverage row, so this UPDATE (or the COMMIT) fails: a clash.
                    _add_vote_counts(cur)
                    commit(raw)  # if this fails, DuckDB has rolled back already
                    if seen is not None and self._seen is not None:
                        for rater_id, pair_ids in seen.items():
                            self._seen.setdefault(rater_id, set()).update(pair_ids)
                    elif counts.judgments_new:  # loaded meanwhile, if at all: again on use
                        self._seen = None
                return counts
            except BaseException:
                roll_back(raw)
                raise
        except (WriteClash, ConstraintViolated):
            return None
        except Exception as error:
            named = db.named(error)
            if named is error and not isinstance(error, db.errors):
                raise
            with db.write_lock:
                self._seen = None
                db.broken = db.broken or db.is_fatal(error)
            raise named from None
        finally:
            raw.close()

    def _import_rows(
        self,
        cur: Cursor,
        pairs: pl.DataFrame,
        judgments: pl.DataFrame,
        project_id: str,
        source_raters: Sequence[str],
        create_project: bool,
    ) -> ImportCounts:
        """Check and insert an import's rows in ``cur``'s open transaction; the coverage
        counts of its new votes are staged as ``imported_vote_counts`` for the caller to add
        (``_add_vote_counts``)."""
        if self.project(project_id) is None:
            if not create_project:
                raise ValueError(f"no project {project_id!r}; create it first")
            _save_project(cur, Project(project_id, project_id))
        cur.stage("incoming_pairs", pairs)
        cur.stage("incoming_judgments", judgments)
        _refuse_import_conflicts(cur)
        # Existing rows are filtered out with anti-joins and the rest inserted plainly:
        # ON CONFLICT against million-row unique indexes costs twice as long in DuckDB.
        pair_columns = ", ".join(frames.PAIRS)
        pairs_new = cur.count(
            f"INSERT INTO pairs ({pair_columns}, imported_at)"
            f" SELECT {_prefixed('i', frames.PAIRS)}, now() FROM incoming_pairs i"
            " WHERE NOT EXISTS (SELECT 1 FROM pairs p WHERE p.pair_id = i.pair_id)"
        )
        cur.execute(
            "INSERT INTO coverage (pair_id, project_id, is_gold, is_probe, shuffle)"
            " SELECT i.pair_id, i.project_id, i.is_gold, i.probe_kind IS NOT NULL,"
            f" {self._db.shuffle_of('i.pair_id')} FROM incoming_pairs i"
            " WHERE NOT EXISTS (SELECT 1 FROM coverage c WHERE c.pair_id = i.pair_id)"
        )
        missing = [
            r[0]
            for r in cur.execute(
                "SELECT DISTINCT j.pair_id FROM incoming_judgments j"
                " WHERE NOT EXISTS (SELECT 1 FROM pairs p WHERE p.pair_id = j.pair_id)"
                " ORDER BY 1"
            ).fetchall()
        ]
        if missing:
            raise MissingPairsError(missing)
        rater_ids = judgments["rater_id"].drop_nulls().unique().sort().to_list()
        cur.stage(
            "incoming_raters",
            pl.DataFrame({"rater_id": rater_ids}, schema={"rater_id": pl.String()}).with_columns(
                kind=pl.when(pl.col("rater_id").is_in(list(source_raters)))
                .then(pl.lit("source"))
                .otherwise(pl.lit("human"))
            ),
        )
        raters_new = cur.count(
            "INSERT INTO raters (rater_id, name, kind)"
            " SELECT i.rater_id, i.rater_id, i.kind FROM incoming_raters i"
            " WHERE NOT EXISTS (SELECT 1 FROM raters r WHERE r.rater_id = i.rater_id)"
        )
        cur.unstage("incoming_raters")
        new_vote = (
            " WHERE NOT EXISTS (SELECT 1 FROM judgments j WHERE j.submission_id = i.submission_id)"
            " AND NOT EXISTS (SELECT 1 FROM judgments k WHERE k.rater_id = i.rater_id"
            " AND k.pair_id = i.pair_id AND k.round = i.round)"
        )
        # Only human first votes (round 0) count toward a pair's overlap (later rounds are
        # the same raters again); counted before they are inserted.
        cur.execute(
            "CREATE TEMPORARY TABLE imported_vote_counts AS"
            " SELECT i.pair_id, count(*) AS n FROM incoming_judgments i"
            f"{new_vote} AND i.round = 0"
            " AND i.rater_id IN (SELECT rater_id FROM raters WHERE kind = 'human')"
            " GROUP BY i.pair_id"
        )
        judgments_new = cur.count(
            f"INSERT INTO judgments ({', '.join(frames.JUDGMENTS)})"
            f" SELECT {_prefixed('i', frames.JUDGMENTS)} FROM incoming_judgments i{new_vote}"
        )
        cur.unstage("incoming_pairs")
        cur.unstage("incoming_judgments")
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
            frame = cur.frame(
                f"SELECT {columns} FROM pairs {where} ORDER BY imported_at, pair_id",
                params,
            )
        return frames.conform(frame, frames.PAIRS)

    def pair(self, pair_id: str) -> dict[str, Any] | None:
        with self._read() as cur:
            frame = cur.frame(
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
            frame = cur.frame(
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
                "SELECT count(*), count(*) FILTER (WHERE is_gold),"
                " coalesce(sum(n_done), 0), count(*) FILTER (WHERE n_done > 0)"
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
            return cur.frame(
                "SELECT pair_id, is_gold, n_done, n_open FROM coverage"
                " WHERE project_id = ? ORDER BY pair_id",
                [project_id],
            )

    def set_priorities(self, project_id: str, ranked: pl.DataFrame) -> int:
        """Rank the project's pairs for the next claims: ``ranked`` is ``pair_id, priority``
        (a policy's answer, ``labeling.policies``); pairs it leaves out keep theirs. Returns
        the pairs whose priority changed. Counts are not touched, so claims and votes go on
        beside it (on PostgreSQL rows are locked in pair order, as a sweep locks them)."""
        frame = ranked.select(
            pl.col("pair_id").cast(pl.String), pl.col("priority").cast(pl.Float64)
        ).sort("pair_id")
        with self._write() as cur:
            cur.stage("ranked", frame)
            changed = cur.count(
                "UPDATE coverage SET priority = r.priority FROM ranked r"
                " WHERE coverage.pair_id = r.pair_id AND coverage.project_id = ?"
                " AND coverage.priority IS DISTINCT FROM r.priority",
                [project_id],
            )
            cur.unstage("ranked")
        return changed

    def replace_scores(self, project_id: str, scores: pl.DataFrame) -> int:
        """Keep one checkpoint's scores of the project's pairs (``pair_id, model_id,
        reward_a, reward_b``: ``reward.score.SCORES``) for the ``model`` policy, in place of
        the scores loaded before. Scores of pairs not in the project are refused."""
        frame = scores.select(
            pl.col("pair_id").cast(pl.String),
            pl.col("model_id").cast(pl.String),
            pl.col("reward_a").cast(pl.Float64),
            pl.col("reward_b").cast(pl.Float64),
        )
        if frame.select(pl.col("model_id").n_unique()).item() > 1:
            raise ValueError("scores of more than one checkpoint (model_id): load one")
        with self._write() as cur:
            cur.stage("incoming_scores", frame)
            foreign = cur.execute(
                "SELECT i.pair_id FROM incoming_scores i WHERE NOT EXISTS (SELECT 1 FROM pairs p"
                " WHERE p.pair_id = i.pair_id AND p.project_id = ?) ORDER BY 1 LIMIT 1",
                [project_id],
            ).fetchone()
            if foreign is not None:
                raise ValueError(f"scores of pair {foreign[0]!r}, which is not in {project_id!r}")
            cur.execute(
                "DELETE FROM scores WHERE pair_id IN (SELECT pair_id FROM pairs"
                " WHERE project_id = ?)",
                [project_id],
            )
            loaded = cur.count(
                "INSERT INTO scores (pair_id, model_id, reward_a, reward_b)"
                " SELECT pair_id, model_id, reward_a, reward_b FROM incoming_scores"
            )
            cur.unstage("incoming_scores")
        return loaded

    def scores(self, project_id: str) -> pl.DataFrame:
        """The scores loaded for the project (``replace_scores``): ``pair_id, model_id,
        reward_a, reward_b``."""
        with self._read() as cur:
            return cur.frame(
                "SELECT s.pair_id, s.model_id, s.reward_a, s.reward_b FROM scores s"
                " JOIN pairs p USING (pair_id) WHERE p.project_id = ? ORDER BY s.pair_id",
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
            frame = cur.frame(
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
        kind: str = "work",
        choose_side: Callable[[str, str], str],
    ) -> Assignment | None:
        """Give the rater a pair of the ``kind`` asked (``CLAIM_KINDS``) and record it as an
        open assignment; None when there is none for them.

        ``work``: a pair they have never seen that still needs votes (done + open < overlap
        k); the least covered first, ties broken by a per-rater order so raters spread over
        pairs. ``gold``, ``probe``, ``retest``: hidden checks, served only while the rater
        still has work. A gold item or a probe pair is one they have never seen (probes of
        pairs they judged first); a retest is a pair they judged at least ``RETEST_GAP``
        assignments ago, again in round 1 with its sides swapped. A probe pair and its base
        are never given back to back. A rater kept to another project (``limit_rater_to``)
        is given nothing here.

        On PostgreSQL the claim holds across processes: a pair's coverage row is counted up
        only while it still needs votes (checked on the row, under its lock), and a rater's
        second tab on another replica cannot be given the same pair (the assignment's key).
        """
        if kind not in CLAIM_KINDS:
            raise ValueError(f"kind must be one of {CLAIM_KINDS}, not {kind!r}")
        for attempt in range(3):
            try:
                return self._claim(rater_id, project, kind, choose_side)
            except ConstraintViolated:
                # The rater's tab on another replica claimed the same pair at the same
                # moment (the assignment's key refused the second): claim again.
                if attempt == 2 or not self._db.shared:
                    raise
        raise AssertionError("unreachable")

    def _claim(
        self, rater_id: str, project: Project, kind: str, choose_side: Callable[[str, str], str]
    ) -> Assignment | None:
        with self._write() as cur:
            if not _may_label(cur, rater_id, project.project_id):
                return None
            # The base of the probe pair just given (or a probe's base just given): not next.
            avoid = _just_given(cur, rater_id, project.project_id) if project.probe_rate else None
            if self._db.shared:
                # Hidden items are served only while work is left (looked up, not claimed).
                side = choose_side if kind == "work" else None
                work = _claim_shared(cur, rater_id, project, gold=False, side=side, avoid=avoid)
                if work is None or kind == "work":
                    return work
                if kind == "gold":
                    return _claim_shared(
                        cur, rater_id, project, gold=True, side=choose_side, avoid=avoid
                    )
            else:
                seen = self._seen_by(cur, rater_id)
                pair_id = self._first_unseen(cur, project, seen, rater_id, gold=False, avoid=avoid)
                if pair_id is not None and kind == "gold":
                    pair_id = self._first_unseen(
                        cur, project, seen, rater_id, gold=True, avoid=avoid
                    )
                if pair_id is None:
                    return None
                if kind in ("work", "gold"):
                    seen.add(pair_id)
                    return _assign(
                        cur, rater_id, project, pair_id, choose_side(rater_id, pair_id),
                        is_gold=kind == "gold", count=True, shared=False,
                    )  # fmt: skip
            if kind == "probe":
                probe = _first_probe(cur, rater_id, project, avoid)
                if probe is None:
                    return None
                if self._seen is not None:
                    self._seen.setdefault(rater_id, set()).add(probe)
                return _assign(
                    cur, rater_id, project, probe, choose_side(rater_id, probe),
                    is_gold=False, count=True, shared=self._db.shared,
                )  # fmt: skip
            return _claim_retest(cur, rater_id, project, shared=self._db.shared)

    def _seen_by(self, cur: Cursor, rater_id: str) -> set[str]:
        """Pairs this rater was ever given or voted on; call under the write lock (DuckDB).

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
        cur: Cursor,
        project: Project,
        seen: set[str],
        rater_id: str,
        *,
        gold: bool,
        avoid: str | None = None,
    ) -> str | None:
        """The first pair in the rater's order that they have not seen (nor ``avoid``),
        reading ever more candidates (64, 512, ...) in the rare case that all the first ones
        were seen."""
        needs_votes = "" if gold else " AND c.n_done + c.n_open < $k"
        params = {"project": project.project_id, "gold": gold, "salt": _salt(rater_id)}
        if not gold:
            params["k"] = project.overlap_k
        limit = 64
        while True:
            rows = cur.execute(
                "SELECT c.pair_id FROM coverage c"
                f" WHERE c.project_id = $project AND c.is_gold = $gold AND NOT c.is_probe"
                f"{needs_votes} ORDER BY c.priority DESC, c.n_done + c.n_open,"
                " xor(c.shuffle, $salt::UBIGINT)"
                f" LIMIT {limit}",
                params,
            ).fetchall()
            for (pair_id,) in rows:
                if pair_id not in seen and pair_id != avoid:
                    return str(pair_id)
            if len(rows) < limit:
                return None
            limit *= 8

    def reclaim_abandoned(self, project: Project, now: datetime | None = None) -> int:
        """Expire open assignments older than the project's limit so others get the pair.

        A late answer to an expired assignment is still accepted. ``now`` defaults to the
        database clock (tests pass a later time instead of waiting).

        On PostgreSQL another replica may be sweeping at the same moment: of two sweeps that
        lock the same rows, one gives way (returns 0) and the next sweep finds what is left.
        """
        try:
            with self._write() as cur:
                expired = cur.execute(
                    "UPDATE assignments SET status = 'expired'"
                    " WHERE project_id = ? AND status = 'open'"
                    " AND assigned_at < coalesce(?::TIMESTAMPTZ, now()) - ? * INTERVAL '1 minute'"
                    " RETURNING pair_id, round",
                    [project.project_id, now, project.reclaim_minutes],
                ).fetchall()
                # Retests were never counted; one order of rows: fewer deadlocks.
                for pair_id in sorted(p for p, round_ in expired if round_ == 0):
                    cur.execute(
                        "UPDATE coverage SET n_open = n_open - 1 WHERE pair_id = ?", [pair_id]
                    )
        except WriteClash:
            if not self._db.shared:
                raise
            return 0
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
            if skipped and round == 0:  # retests were never counted
                cur.execute(
                    "UPDATE coverage SET n_open = n_open - 1 WHERE pair_id = ?",
                    [pair_id],
                )

    def submit(self, submission: Submission) -> bool:
        """Record a vote on a pair assigned to this rater. True if saved now, False if it
        was already saved (a double click or a resend). Time is measured here, server-side,
        from the assignment to this call.

        Raises ``SubmissionRefused`` for a vote the store will not keep: ``AlreadyJudged``
        when the rater's vote on this pair came by import meanwhile (the pair is then closed
        for them). Raises ``StoreWriteError`` when the disk refuses the write; nothing is
        saved then, and the same submission can be sent again.
        """
        _check_submission(submission)
        try:
            return self._record_vote(submission)
        except ConstraintViolated:
            pass  # rolled back; what was in the way is looked up in a transaction of its own
        self._refuse_conflicting(submission)

    def _record_vote(self, s: Submission) -> bool:
        key = [s.rater_id, s.pair_id, s.round]
        with self._write() as cur:
            assignment = cur.execute(
                # Locked (PostgreSQL): the rater's tab on another replica, voting on the
                # same pair, waits here and then finds it done (DuckDB: the write lock).
                "SELECT status FROM assignments WHERE rater_id = ? AND pair_id = ? AND round = ?"
                + self._db.lock_row,
                key,
            ).fetchone()
            if assignment is None:
                raise SubmissionRefused(
                    f"pair {s.pair_id!r} was not assigned to rater {s.rater_id!r}"
                )
            (status,) = assignment
            if status == "done":
                _refuse_an_imported_vote(cur, s)
                return False
            # A plain INSERT: the status check above, under the write lock, replaces
            # ON CONFLICT, which costs ~40 ms against a million-row unique index. The
            # unique constraints still refuse an id reused for another pair, or a vote of
            # this rater's on this pair that an import added (see _refuse_conflicting).
            cur.execute(
                f"INSERT INTO judgments ({', '.join(frames.JUDGMENTS)})"
                " SELECT ?, a.pair_id, a.rater_id, a.round, ?, ?, a.shown_left,"
                " date_part('epoch', now() - a.assigned_at), now(), ?, ?, ?, a.is_gold,"
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
            cur.execute(
                "UPDATE assignments SET status = 'done'"
                " WHERE rater_id = ? AND pair_id = ? AND round = ?",
                key,
            )
            if s.round == 0:  # a retest (round 1) is not a vote the pair needs
                cur.execute(
                    "UPDATE coverage SET n_done = n_done + 1, n_open = n_open - ?"
                    " WHERE pair_id = ?",
                    [1 if status == "open" else 0, s.pair_id],
                )
        return True

    def _refuse_conflicting(self, s: Submission) -> NoReturn:
        """Name the vote that a submission collided with (it was not saved).

        A vote of this rater's on this pair and round that an import added while the pair
        was open to them: that vote stands, and the assignment is closed (done) so they are
        given the next pair instead of this one forever. Otherwise the submission id was
        used for another vote.
        """
        key = [s.rater_id, s.pair_id, s.round]
        with self._write() as cur:
            existing = cur.execute(
                "SELECT source FROM judgments WHERE rater_id = ? AND pair_id = ? AND round = ?",
                key,
            ).fetchone()
            if existing is not None:
                closed = cur.execute(
                    "UPDATE assignments SET status = 'done' WHERE rater_id = ? AND pair_id = ?"
                    " AND round = ? AND status = 'open' RETURNING 1",
                    key,
                ).fetchall()
                if closed:
                    cur.execute(
                        "UPDATE coverage SET n_open = n_open - 1 WHERE pair_id = ?", [s.pair_id]
                    )
        if existing is not None:
            raise AlreadyJudged(s.rater_id, s.pair_id, existing[0])
        raise SubmissionRefused(
            f"submission id {s.submission_id!r} was already used for another vote"
        )

    def progress(self, rater_id: str, project_id: str) -> dict[str, int]:
        """A rater's own counts in a project: judged, skipped, work pairs still open to them
        (pairs needing votes that they have not seen) and gold pairs they have not seen."""
        if self._db.shared:
            seen_pairs = _SEEN_BY_RATER
            staged = None
        else:
            with self._write() as cur:
                seen = self._seen_by(cur, rater_id)
                staged = pl.DataFrame({"pair_id": sorted(seen)}, schema={"pair_id": pl.String()})
            seen_pairs = "SELECT pair_id FROM seen_pairs"
        with self._read() as cur:
            if staged is not None:
                cur.stage("seen_pairs", staged)
            row = cur.execute(
                "SELECT"
                " (SELECT count(*) FROM assignments"
                "   WHERE rater_id = $rater AND project_id = $project AND status = 'done'),"
                " (SELECT count(*) FROM assignments"
                "   WHERE rater_id = $rater AND project_id = $project AND status = 'skipped'),"
                " (SELECT count(*) FROM coverage c JOIN projects pr USING (project_id)"
                "   WHERE c.project_id = $project AND NOT c.is_gold AND NOT c.is_probe"
                "   AND c.n_done + c.n_open < pr.overlap_k"
                f"   AND c.pair_id NOT IN ({seen_pairs})),"
                " (SELECT count(*) FROM coverage c WHERE c.project_id = $project AND c.is_gold"
                f"   AND c.pair_id NOT IN ({seen_pairs}))",
                {"rater": rater_id, "project": project_id},
            ).fetchone()
            if staged is not None:
                cur.unstage("seen_pairs")
        assert row is not None
        return {
            "judged": int(row[0]),
            "skipped": int(row[1]),
            "available": int(row[2]),
            "gold_available": int(row[3]),
        }

    # -- export ------------------------------------------------------------------------------

    def copy_judgments_to_parquet(self, out: Path, project_id: str | None = None) -> int:
        """Write every stored vote field to Parquet, through Arrow (no Python loop over
        rows), in ``frames.JUDGMENTS`` dtypes whichever the engine."""
        where, params = "", []
        if project_id is not None:
            where = "WHERE j.pair_id IN (SELECT pair_id FROM pairs WHERE project_id = ?)"
            params = [project_id]
        columns = ", ".join("j." + c for c in frames.JUDGMENTS)
        with self._read() as cur:
            votes = cur.frame(
                f"SELECT {columns} FROM judgments j {where} ORDER BY j.created_at, j.submission_id",
                params,
            )
        frames.conform(votes, frames.JUDGMENTS).write_parquet(out)
        return votes.height


# -- helpers ---------------------------------------------------------------------------------


#: The column numbering incoming rows while an import is written, to name a conflicting one.
_ROW = "incoming_row"


def _prefixed(alias: str, columns: Iterable[str]) -> str:
    return ", ".join(f"{alias}.{name}" for name in columns)


def _save_project(cur: Cursor, project: Project) -> None:
    """Create the project or replace its settings, inside the caller's transaction."""
    values = [_sql_value(getattr(project, name)) for name in _PROJECT_FIELDS]
    columns = ", ".join(_PROJECT_FIELDS)
    updates = ", ".join(f"{name} = excluded.{name}" for name in _PROJECT_FIELDS[1:])
    marks = ", ".join("?" for _ in _PROJECT_FIELDS)
    cur.execute(
        f"INSERT INTO projects ({columns}) VALUES ({marks})"
        f" ON CONFLICT (project_id) DO UPDATE SET {updates}",
        values,
    )
    if project.policy == "uniform":  # no ranking: the least covered first, as ever
        cur.execute(
            "UPDATE coverage SET priority = 0 WHERE project_id = ? AND priority <> 0",
            [project.project_id],
        )


def _refuse_import_conflicts(cur: Cursor) -> None:
    """Raise ``ImportConflict`` for the first incoming row that contradicts a stored one:
    a pair with other content, a rater's other verdict on a pair and round, a submission id
    of another vote. Reads ``incoming_pairs`` and ``incoming_judgments``."""
    same_vote = "i.rater_id = k.rater_id AND i.pair_id = k.pair_id AND i.round = k.round"
    checks = (
        ("pairs", "pair", "pairs k USING (pair_id)", frames.PAIR_CONTENT, "imported_at"),
        ("judgments", "vote", f"judgments k ON {same_vote}", frames.VOTE_CONTENT, "created_at"),
        (
            "judgments",
            "submission",
            "judgments k USING (submission_id)",
            ("rater_id", "pair_id", "round"),
            "created_at",
        ),
    )
    for frame, what, join, compared, since in checks:
        differs = " OR ".join(
            f"coalesce(i.{c}, false) IS DISTINCT FROM coalesce(k.{c}, false)"
            if c == "is_gold"
            else f"i.{c} IS DISTINCT FROM k.{c}"
            for c in compared
        )
        rows = cur.execute(
            f"SELECT i.{_ROW}, count(*) OVER (), {_prefixed('i', compared)},"
            f" {_prefixed('k', compared)}, k.{since}, k.source"
            f" FROM incoming_{frame} i JOIN {join} WHERE {differs} ORDER BY i.{_ROW} LIMIT 1"
        ).fetchall()
        if not rows:
            continue
        row, count, *values = rows[0]
        incoming = dict(zip(compared, values[: len(compared)], strict=True))
        stored = dict(zip(compared, values[len(compared) : 2 * len(compared)], strict=True))
        column = next(c for c in compared if incoming[c] != stored[c])
        stored.update(since=values[-2], source=values[-1])
        raise ImportConflict(frame, what, int(row), column, stored, int(count))


def _seen_in(judgments: pl.DataFrame) -> dict[str, set[str]]:
    """Each rater's pairs in a judgments frame, to add to the store's seen sets."""
    grouped = judgments.group_by("rater_id").agg(pl.col("pair_id").unique())
    return {str(rater): set(pair_ids) for rater, pair_ids in grouped.iter_rows()}


def _refuse_nul(frame: pl.DataFrame, name: str) -> None:
    """PostgreSQL cannot store U+0000 in text, and it is never meaningful in a preference
    set: refused on every engine alike (the importers say where in the file)."""
    for column, dtype in frame.schema.items():
        if dtype == pl.String:
            holds = frame[column].str.contains("\x00", literal=True).fill_null(False)
            if holds.any():
                row = int(holds.arg_true()[0])
                raise ValueError(
                    f"{name} row {row}: {column} holds a NUL character (U+0000), which no"
                    " database stores"
                )


def _salt(rater_id: str) -> int:
    """The rater's place in the shared orders of pairs: 63 bits of a hash of their id."""
    return int.from_bytes(hashlib.blake2b(rater_id.encode(), digest_size=8).digest()) >> 1


#: Pairs a rater was ever given or voted on, as SQL (``$rater``), where nothing is cached.
_SEEN_BY_RATER = (
    "SELECT pair_id FROM assignments WHERE rater_id = $rater"
    " UNION SELECT pair_id FROM judgments WHERE rater_id = $rater"
)
#: The same test for one coverage row ``c``: two key lookups, not the rater's whole history.
_UNSEEN_BY_RATER = (
    "NOT EXISTS (SELECT 1 FROM assignments s WHERE s.rater_id = $rater"
    " AND s.pair_id = c.pair_id)"
    " AND NOT EXISTS (SELECT 1 FROM judgments s WHERE s.rater_id = $rater"
    " AND s.pair_id = c.pair_id)"
)


def _claim_shared(
    cur: Cursor,
    rater_id: str,
    project: Project,
    *,
    gold: bool,
    side: Callable[[str, str], str] | None,
    avoid: str | None = None,
) -> Assignment | None:
    """PostgreSQL: assign the rater the first pair in their order that they have not seen and
    that still needs votes (work) or is gold; None when there is none. ``side`` chooses the
    left response; without it, nothing is written and the pair found is returned as a
    placeholder assignment (to learn whether any is left).

    The order is the policy's priority, then the least covered (each such level in turn),
    then the pairs' ``shuffle`` rotated to start at the rater's salt: index range scans
    (``coverage_next``), so it costs the same at a million votes. The assignment row is
    written first: a second tab of the same rater on another replica, claiming the same
    pair, waits for it and is refused (then claims again) before it locks anything else, so
    the locks are always taken assignment, then coverage, as a vote takes them. The coverage
    row is then counted up only if it still needs votes (checked on the row under its lock):
    a pair another process filled meanwhile is given back and passed over, never overfilled.
    """
    params: dict[str, Any] = {
        "project": project.project_id,
        "gold": gold,
        "rater": rater_id,
        "start": _salt(rater_id),
        "k": None if gold else project.overlap_k,
        "first": True,
        "priority": 0.0,
        "level": 0,
        "avoid": avoid,
    }
    below_k = "" if gold else " AND n_done + n_open < $k"
    restarts = 0
    while True:
        row = cur.execute(
            "SELECT priority, n_done + n_open FROM coverage WHERE project_id = $project"
            f" AND is_gold = $gold AND NOT is_probe{below_k} AND ($first OR priority < $priority"
            " OR (priority = $priority AND n_done + n_open > $level))"
            " ORDER BY priority DESC, n_done + n_open LIMIT 1",
            params,
        ).fetchone()
        if row is None:
            # Past the last level. A ranking or other raters may have moved a pair to a
            # level already passed: say "none left" only when none is, else walk again.
            left = cur.execute(
                "SELECT 1 FROM coverage c WHERE c.project_id = $project AND c.is_gold = $gold"
                f" AND NOT c.is_probe{below_k}"
                f" AND c.pair_id IS DISTINCT FROM $avoid AND {_UNSEEN_BY_RATER} LIMIT 1",
                params,
            ).fetchone()
            if left is None or restarts == 3:
                return None
            restarts += 1
            params["first"] = True
            continue
        params.update(first=False, priority=float(row[0]), level=int(row[1]))
        for rotation in ("c.shuffle >= $start", "c.shuffle < $start"):
            candidates = cur.execute(
                "SELECT c.pair_id FROM coverage c WHERE c.project_id = $project"
                " AND c.is_gold = $gold AND NOT c.is_probe AND c.priority = $priority"
                f" AND c.n_done + c.n_open = $level AND {rotation}"
                " AND c.pair_id IS DISTINCT FROM $avoid"
                f" AND {_UNSEEN_BY_RATER} ORDER BY c.shuffle LIMIT 16",
                params,
            ).fetchall()
            for (pair_id,) in candidates:
                if side is None:
                    placeholder = datetime.now(UTC)
                    return Assignment(
                        rater_id, str(pair_id), project.project_id, "a", gold, placeholder
                    )
                assignment = _assign(
                    cur, rater_id, project, str(pair_id), side(rater_id, str(pair_id)),
                    is_gold=gold, count=False, shared=True,
                )  # fmt: skip
                if assignment is None:
                    continue  # the rater's other tab took it meanwhile
                counted = cur.execute(
                    "UPDATE coverage SET n_open = n_open + 1 WHERE pair_id = $pair"
                    " AND ($gold OR n_done + n_open < $k) RETURNING pair_id",
                    {**params, "pair": pair_id},
                ).fetchone()
                if counted is not None:
                    return assignment
                cur.execute(
                    "DELETE FROM assignments WHERE rater_id = ? AND pair_id = ? AND round = 0",
                    [rater_id, pair_id],
                )


def _assign(
    cur: Cursor,
    rater_id: str,
    project: Project,
    pair_id: str,
    shown_left: str,
    *,
    is_gold: bool,
    count: bool,
    shared: bool,
    round: int = 0,
) -> Assignment | None:
    """Record an open assignment and (``count``) count it as a vote out on the pair.

    ``shared`` (PostgreSQL): None when the rater holds one on this pair and round already
    (their tab on another replica took it meanwhile); the assignment is written before the
    coverage row is locked. DuckDB checks under its write lock instead (ON CONFLICT costs
    ~40 ms against a million-row key there).
    """
    skip_taken = " ON CONFLICT DO NOTHING" if shared else ""
    assigned = cur.execute(
        "INSERT INTO assignments"
        " (rater_id, pair_id, round, project_id, shown_left, is_gold, assigned_at)"
        f" VALUES (?, ?, ?, ?, ?, ?, now()){skip_taken} RETURNING assigned_at",
        [rater_id, pair_id, round, project.project_id, shown_left, is_gold],
    ).fetchone()
    if assigned is None:
        return None
    if count:
        cur.execute("UPDATE coverage SET n_open = n_open + 1 WHERE pair_id = ?", [pair_id])
    return Assignment(
        rater_id, pair_id, project.project_id, shown_left, is_gold, assigned[0], round
    )


def _just_given(cur: Cursor, rater_id: str, project_id: str) -> str | None:
    """The pair not to give this rater next: the base of the probe pair they were given
    last, or, when that was an ordinary pair, itself (so none of its probes follows)."""
    row = cur.execute(
        "SELECT coalesce(p.probe_of, a.pair_id) FROM assignments a JOIN pairs p USING (pair_id)"
        " WHERE a.rater_id = ? AND a.project_id = ? ORDER BY a.assigned_at DESC LIMIT 1",
        [rater_id, project_id],
    ).fetchone()
    return None if row is None else str(row[0])


def _first_probe(cur: Cursor, rater_id: str, project: Project, avoid: str | None) -> str | None:
    """A probe pair this rater has not seen, whose base is not ``avoid``: first the probes
    of pairs they judged themselves (their own vote is then the baseline), least served
    first, in the rater's order."""
    row = cur.execute(
        "SELECT c.pair_id FROM coverage c JOIN pairs p USING (pair_id)"
        " WHERE c.project_id = $project AND c.is_probe"
        " AND p.probe_of IS DISTINCT FROM $avoid"
        f" AND {_UNSEEN_BY_RATER}"
        " ORDER BY p.probe_of IN (SELECT pair_id FROM judgments WHERE rater_id = $rater) DESC,"
        " c.n_done + c.n_open, md5(c.pair_id || $rater) LIMIT 1",
        {"project": project.project_id, "avoid": avoid, "rater": rater_id},
    ).fetchone()
    return None if row is None else str(row[0])


def _claim_retest(
    cur: Cursor, rater_id: str, project: Project, *, shared: bool
) -> Assignment | None:
    """A pair this rater judged at least ``RETEST_GAP`` assignments ago (not a probe, not
    retested yet), given again as round 1 with the other response on the left. A retest is
    not a vote the pair needs, so coverage does not count it."""
    cutoff = cur.execute(
        "SELECT assigned_at FROM assignments WHERE rater_id = ? AND project_id = ?"
        " ORDER BY assigned_at DESC LIMIT 1 OFFSET ?",
        [rater_id, project.project_id, RETEST_GAP - 1],
    ).fetchone()
    if cutoff is None:
        return None
    row = cur.execute(
        "SELECT a.pair_id, a.shown_left, a.is_gold FROM assignments a"
        " JOIN coverage c USING (pair_id)"
        " WHERE a.rater_id = $rater AND a.project_id = $project AND a.round = 0"
        " AND a.status = 'done' AND NOT c.is_probe AND a.assigned_at < $cutoff"
        " AND NOT EXISTS (SELECT 1 FROM assignments b WHERE b.rater_id = a.rater_id"
        " AND b.pair_id = a.pair_id AND b.round > 0)"
        " ORDER BY a.assigned_at LIMIT 1",
        {"rater": rater_id, "project": project.project_id, "cutoff": cutoff[0]},
    ).fetchone()
    if row is None:
        return None
    pair_id, shown_left, is_gold = row
    swapped = "b" if shown_left == "a" else "a"
    return _assign(
        cur, rater_id, project, str(pair_id), swapped,
        is_gold=bool(is_gold), count=False, shared=shared, round=1,
    )  # fmt: skip


def _add_vote_counts(cur: Cursor) -> None:
    """Add ``imported_vote_counts`` (``_import_rows``) to the pairs' ``coverage.n_done``:
    added, not set, so a vote committed beside the import is never overwritten."""
    cur.execute(
        "UPDATE coverage SET n_done = coverage.n_done + counted.n"
        " FROM imported_vote_counts counted WHERE coverage.pair_id = counted.pair_id"
    )
    cur.unstage("imported_vote_counts")


#: Rows an import adds on PostgreSQL past which the tables are vacuumed and analyzed at once.
_VACUUM_AFTER = 10_000
#: The advisory lock that PostgreSQL imports take in turn (any constant; ours).
_IMPORT_TURN = 0x1A7E_6A90
#: The one migrations take.
_MIGRATION_TURN = 0x1A7E_6A91


def _take_turns(cur: Cursor, engine: str) -> None:
    """On PostgreSQL, wait for any other process's migration (DuckDB has one process)."""
    if engine == "postgresql":
        cur.execute("SELECT pg_advisory_xact_lock(?)", [_MIGRATION_TURN])


def _sql_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _project_filter(project_id: str | None) -> tuple[str, list[Any]]:
    if project_id is None:
        return "", []
    return "WHERE project_id = ?", [project_id]


def _session_idle(role: str) -> timedelta:
    return ADMIN_SESSION_IDLE if role == "admin" else RATER_SESSION_IDLE


def _open_session(cur: Cursor, role: str, rater_id: str | None) -> SignIn:
    """Record a new session (hashes only) inside the caller's write transaction."""
    session_id, secret, handoff = (secrets.token_urlsafe(n) for n in (12, 32, 32))
    cur.execute(
        "INSERT INTO sessions (session_id, secret_hash, role, rater_id, handoff_hash,"
        " handoff_until, expires_at) VALUES (?, ?, ?, ?, ?, now() + ?, now() + ?)",
        [
            session_id,
            hash_token(secret),
            role,
            rater_id,
            hash_token(handoff),
            HANDOFF_TTL,
            _session_idle(role),
        ],
    )
    return SignIn(Session(session_id, role, rater_id), secret, handoff)


def _end_sessions_of(cur: Cursor, rater_id: str, why: str) -> None:
    cur.execute(
        "UPDATE sessions SET ended_at = now(), ended_why = ?"
        " WHERE rater_id = ? AND ended_at IS NULL",
        [why, rater_id],
    )


def _may_label(cur: Cursor, rater_id: str, project_id: str) -> bool:
    row = cur.execute(
        "SELECT only_project IS NULL OR only_project = ? FROM raters WHERE rater_id = ?",
        [project_id, rater_id],
    ).fetchone()
    return row is None or bool(row[0])


def _command_line(pid: int) -> list[str]:
    """A process's arguments, where the system shows them (``/proc`` on Linux), else []."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [arg for arg in raw.decode(errors="replace").split("\0") if arg]


def _intentgap_command(argv: Sequence[str]) -> str | None:
    """``"app"`` for the intentgap app (streamlit, or ``intentgap serve``), the command's
    name for another ``intentgap`` command (also ``python cli.py`` or ``-m cli``), else None.

    >>> _intentgap_command(["/venv/bin/python", "/venv/bin/intentgap", "import", "x.jsonl"])
    'import'
    >>> _intentgap_command(["python", "-m", "streamlit", "run", "app.py"])
    'app'
    >>> _intentgap_command(["python", "-c", "pass"]) is None
    True
    """
    names = [Path(arg).name for arg in argv]
    if "streamlit" in names:
        return "app"
    for at, name in enumerate(names):
        if name in ("intentgap", "cli.py") or (name == "cli" and names[at - 1 : at] == ["-m"]):
            words = [arg for arg in argv[at + 1 :] if not arg.startswith("-")]
            command = words[0] if words else "?"
            return "app" if command == "serve" else command
    return None


def _refuse_an_imported_vote(cur: Cursor, s: Submission) -> None:
    """On a pair this rater is done with: raise ``AlreadyJudged`` if the vote there came by
    import rather than from this rater's page (a resend of theirs is merely no news)."""
    stored = cur.execute(
        "SELECT submission_id, source FROM judgments"
        " WHERE rater_id = ? AND pair_id = ? AND round = ?",
        [s.rater_id, s.pair_id, s.round],
    ).fetchone()
    if stored is not None and stored[0] != s.submission_id and stored[1] != "ui":
        raise AlreadyJudged(s.rater_id, s.pair_id, stored[1])


def _check_submission(s: Submission) -> None:
    if s.choice not in frames.CHOICES:
        raise SubmissionRefused(f"choice must be one of {frames.CHOICES}, not {s.choice!r}")
    if s.strength is not None and s.strength not in frames.STRENGTH_LABELS:
        raise SubmissionRefused(f"strength must be 1, 2 or 3, not {s.strength!r}")
    if s.choice in ("tie", "both_bad") and s.strength is not None:
        raise SubmissionRefused("a tie or 'both bad' has no strength")
    if not s.submission_id:
        raise SubmissionRefused("submission_id is required (the idempotency key)")
