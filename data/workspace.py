"""Where runtime files live: the DuckDB file (or the PostgreSQL database that replaces it),
snapshots, checkpoints and scores.

Also what goes wrong there: ``StoreWriteError`` names why the workspace cannot be written
(disk full, read-only, a file where the folder should be), for the store, the export and the
folder itself alike, so the page and the CLI can each put that cause in their one line.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DATABASE_ENV_VAR",
    "ENV_VAR",
    "StoreWriteError",
    "Workspace",
    "is_postgres_url",
    "write_failure_cause",
]

ENV_VAR = "INTENTGAP_HOME"
#: A ``postgresql://`` URL: the votes live there instead of in the workspace's DuckDB file.
DATABASE_ENV_VAR = "INTENTGAP_DATABASE_URL"

#: The short cause of a failed write, by the errno the system reported.
_CAUSES: dict[int, str] = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk full",  # over quota: full for this user
    errno.EROFS: "read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "read-only",  # what writing to an immutable (chattr +i) file gives
    errno.ENOENT: "folder missing",
    errno.ENOTDIR: "a folder on the path is a file",
}


def is_postgres_url(location: str | os.PathLike[str]) -> bool:
    """Whether a database location is a PostgreSQL server's URL (else a DuckDB file)."""
    return str(location).startswith(("postgresql://", "postgres://"))


class StoreWriteError(RuntimeError):
    """The workspace (its database, a snapshot, the folder) cannot be written.

    ``cause`` is short and plain ("disk full", "read-only", "workspace is a file", ...) so the
    labeling page can say "the server cannot write (disk full)" and the CLI "cannot write
    PATH (disk full)"; ``detail`` keeps the system's own words for a log.
    """

    def __init__(self, path: Path | None, cause: str, detail: str = "") -> None:
        self.path = path
        self.cause = cause
        self.detail = detail
        super().__init__(f"cannot write {path if path is not None else 'the database'} ({cause})")

    @classmethod
    def from_os_error(cls, error: OSError, path: Path | None = None) -> StoreWriteError:
        """The same failure, named: ``path`` defaults to the file the error names."""
        where = path if path is not None else _filename(error)
        cause = write_failure_cause(error) or error.strerror or str(error)
        return cls(where, cause, str(error))


def write_failure_cause(error: BaseException) -> str | None:
    """The short cause of a failed write, or None when ``error`` is no such failure.

    Reads the errno of an ``OSError``; other errors (DuckDB's) only carry the system's
    message for it, so their text is searched for that message.

    >>> write_failure_cause(OSError(errno.ENOSPC, "No space left on device"))
    'disk full'
    >>> write_failure_cause(RuntimeError('Could not write "x.wal": Read-only file system'))
    'read-only'
    """
    if isinstance(error, OSError) and error.errno in _CAUSES:
        return _CAUSES[error.errno]
    text = str(error)
    return next((cause for code, cause in _CAUSES.items() if os.strerror(code) in text), None)


def _filename(error: OSError) -> Path | None:
    return None if error.filename is None else Path(os.fsdecode(error.filename))


@dataclass(frozen=True)
class Workspace:
    """A folder holding one intentgap database and the files made from it.

    Chosen by, in order: an explicit path (``--workspace``), ``$INTENTGAP_HOME``, ``./workspace``.
    The database is the folder's DuckDB file, unless a PostgreSQL URL is given
    (``--database``, else ``$INTENTGAP_DATABASE_URL``): then several app processes and
    commands share it, and the folder keeps only snapshots, checkpoints and secrets.
    """

    root: Path
    database_url: str | None = None

    @classmethod
    def resolve(
        cls, explicit: str | os.PathLike[str] | None = None, database: str | None = None
    ) -> Workspace:
        chosen = explicit or os.environ.get(ENV_VAR) or "workspace"
        url = database or os.environ.get(DATABASE_ENV_VAR) or None
        if url is not None and not is_postgres_url(url):
            raise ValueError(
                f"--database must be a postgresql:// URL, not {url!r} (without it, the"
                " workspace's DuckDB file is the database)"
            )
        return cls(Path(chosen).expanduser().resolve(), url)

    @property
    def database(self) -> Path | str:
        """What ``Store`` opens: the PostgreSQL URL, else the workspace's DuckDB file."""
        return self.database_url or self.root / "intentgap.duckdb"

    @property
    def snapshots(self) -> Path:
        return self.root / "snapshots"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def admin_password_file(self) -> Path:
        """Written only by ``intentgap demo`` when no admin password is configured."""
        return self.root / "admin-password.txt"

    @property
    def demo_raters_file(self) -> Path:
        """Where older versions of ``intentgap demo`` wrote the demo raters' tokens; it now
        removes the file (the sign-in page offers the demo raters without tokens)."""
        return self.root / "demo-raters.json"

    @staticmethod
    def write_secret(path: Path, text: str) -> None:
        """Write a secret (the admin password) readable by its owner only: mode 0600, set
        when the file is made, so no other user can read it even for a moment, and set again
        on a file an older version left readable."""
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)

    @staticmethod
    def keep_secret(path: Path) -> None:
        """Make an existing secret file readable by its owner only (mode 0600)."""
        path.chmod(0o600)

    def create(self) -> Workspace:
        """Make the folder (and its parents); ``StoreWriteError`` says why it cannot be."""
        self._refuse_a_file()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            blocker = next((p for p in self.root.parents if p.exists() and not p.is_dir()), None)
            if blocker is not None:
                raise StoreWriteError(self.root, f"{blocker} is a file", str(error)) from None
            if error.errno == errno.ENOENT:  # a parent that the system will not create
                raise StoreWriteError(self.root, "folder cannot be created", str(error)) from None
            raise StoreWriteError.from_os_error(error, self.root) from None
        return self

    def existing(self) -> Workspace:
        """This workspace, which must exist already (for commands that only read it)."""
        self._refuse_a_file()
        if not self.root.exists() and self.database_url is None:
            raise FileNotFoundError(
                f"no workspace at {self.root}: make one with `intentgap demo` or"
                " `intentgap import`, or point --workspace at one"
            )
        return self

    def _refuse_a_file(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise StoreWriteError(self.root, "workspace is a file")
