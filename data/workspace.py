"""Where runtime files live: the DuckDB file, snapshots, checkpoints and scores."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ENV_VAR", "Workspace"]

ENV_VAR = "INTENTGAP_HOME"


@dataclass(frozen=True)
class Workspace:
    """A folder holding one intentgap database and the files made from it.

    Chosen by, in order: an explicit path (``--workspace``), ``$INTENTGAP_HOME``, ``./workspace``.
    """

    root: Path

    @classmethod
    def resolve(cls, explicit: str | os.PathLike[str] | None = None) -> Workspace:
        chosen = explicit or os.environ.get(ENV_VAR) or "workspace"
        return cls(Path(chosen).expanduser().resolve())

    @property
    def database(self) -> Path:
        return self.root / "intentgap.duckdb"

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
        """Sign-in tokens of the demo raters (rater_id -> token), written by ``intentgap demo``."""
        return self.root / "demo-raters.json"

    def create(self) -> Workspace:
        self.root.mkdir(parents=True, exist_ok=True)
        return self
