"""Shared fixtures: a fresh real store on each engine (DuckDB, PostgreSQL), a small project,
and the public datasets."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest

from data.store import Project, Store
from tests import postgres

REPO = Path(__file__).resolve().parent.parent
#: The `intentgap` command as a process of its own (the venv's, wherever it is installed).
INTENTGAP = (sys.executable, "-c", "import cli, sys; sys.exit(cli.main(sys.argv[1:]))")


def run_intentgap(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `intentgap ARGS` in a process of its own; its exit code and output come back."""
    return subprocess.run(
        [*INTENTGAP, *args],
        cwd=cwd,
        env=None if env is None else {**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _datasets_folder() -> Path | None:
    candidates = [
        os.environ.get("INTENTGAP_DATASETS"),
        REPO.parent / "shared" / "datasets",
        "/work/shared/datasets",
    ]
    for candidate in candidates:
        if candidate and Path(candidate, "README.md").is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def datasets() -> Path:
    """The public preference data (``../shared/datasets``). Skips when absent, except in CI."""
    folder = _datasets_folder()
    if folder is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but the shared datasets folder was not found")
        pytest.skip("public datasets not found (set INTENTGAP_DATASETS to the folder)")
    return folder


#: The engines every store test runs on: DuckDB in memory, PostgreSQL in a fresh database.
ENGINES = ("duckdb", "postgresql")


@contextmanager
def fresh_store(engine: str) -> Iterator[Store]:
    """A fresh store with migrations applied: in memory (DuckDB) or in a database created
    for it and dropped afterwards (PostgreSQL; skips without a server, fails under CI)."""
    if engine == "duckdb":
        with Store() as fresh:
            yield fresh
        return
    with postgres.fresh_database() as url, Store(url) as fresh:
        yield fresh


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A fresh store on each engine: every test that takes it runs on both."""
    with fresh_store(request.param) as fresh:
        yield fresh


@pytest.fixture
def duckdb_store() -> Iterator[Store]:
    """A fresh in-memory DuckDB store, for what only DuckDB has (its in-process lock)."""
    with fresh_store("duckdb") as fresh:
        yield fresh


@pytest.fixture
def file_store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store backed by a real file in a temporary folder."""
    with Store(tmp_path / "intentgap.duckdb") as fresh:
        yield fresh


@pytest.fixture
def project() -> Project:
    return Project(
        "toy",
        "Toy project",
        guidelines="Prefer the honest answer.",
        principles=("honesty", "harmlessness", "instruction fidelity"),
        overlap_k=2,
        gold_rate=0.0,
    )


def toy_pairs(n: int, n_gold: int = 0) -> pl.DataFrame:
    """``n`` small pairs ``p000...``; the last ``n_gold`` are hidden gold items answering 'a'."""
    return pl.DataFrame(
        {
            "pair_id": [f"p{i:03d}" for i in range(n)],
            "prompt": [f"Question {i}?" for i in range(n)],
            "response_a": [f"Answer A to {i}." for i in range(n)],
            "response_b": [f"Answer B to {i}." for i in range(n)],
            "category": ["coding" if i % 2 else "honesty" for i in range(n)],
            "gold": [("a" if i >= n - n_gold else None) for i in range(n)],
            "is_gold": [i >= n - n_gold for i in range(n)],
        }
    )


@pytest.fixture
def toy_store(store: Store, project: Project) -> Store:
    """The toy project with 20 pairs, 4 of them gold, and raters r1..r3 (tokens discarded)."""
    store.save_project(project)
    store.import_frames(toy_pairs(20, n_gold=4), None, project.project_id)
    for rater in ("r1", "r2", "r3"):
        store.add_rater(rater)
    return store
