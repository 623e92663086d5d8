"""The two engines side by side: one schema, the same answers, and the PostgreSQL specifics.

Every store test already runs on both (the ``store`` fixture); these compare them directly:
the schema both reach through their migrations, the export of the same votes (one
``content_hash``), and what only PostgreSQL has (a server that can be down, a URL with a
password, several processes migrating at once).
"""

from __future__ import annotations

import threading
from pathlib import Path

import polars as pl
import pytest

from data.export import read_snapshot
from data.store import MIGRATIONS, Project, Store, Submission
from data.workspace import StoreWriteError
from labeling.assignment import Assigner
from labeling.preference_set import export_snapshot
from tests import postgres
from tests.conftest import fresh_store, run_intentgap, toy_pairs

#: How each engine names the same column type.
_SAME_TYPE = {
    "character varying": "VARCHAR",
    "text": "VARCHAR",
    "integer": "INTEGER",
    "smallint": "SMALLINT",
    "TINYINT": "SMALLINT",  # DuckDB's strength; PostgreSQL has no 1-byte integer
    "bigint": "BIGINT",
    "UBIGINT": "BIGINT",  # DuckDB's shuffle hash; PostgreSQL's is a signed 63-bit one
    "double precision": "DOUBLE",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "timestamp with time zone": "TIMESTAMPTZ",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ",
    "ARRAY": "VARCHAR[]",
    "VARCHAR[]": "VARCHAR[]",
}


def _columns(store: Store) -> set[tuple[str, str, str, bool]]:
    """(table, column, type, nullable) of every table the store made."""
    with store._read() as cur:
        rows = cur.execute(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns"
            " WHERE table_schema IN ('main', 'public')"
        ).fetchall()
    return {
        (str(t), str(c), _SAME_TYPE.get(str(d), str(d).upper()), n == "YES") for t, c, d, n in rows
    }


def test_both_engines_reach_the_same_schema() -> None:
    with fresh_store("duckdb") as duck, fresh_store("postgresql") as pg:
        assert _columns(pg) == _columns(duck)
        assert duck.schema_version == pg.schema_version == MIGRATIONS[-1][0]


def _vote_everything(store: Store, project: Project) -> None:
    """Three raters vote on every pair of the toy project (fixed choices, fixed ids), so the
    votes do not depend on the order in which each engine hands the pairs out."""
    store.save_project(project)
    store.import_frames(toy_pairs(12), None, project.project_id)
    assigner = Assigner(store)
    for rater in ("r1", "r2", "r3"):
        store.add_rater(rater)
        while (assignment := assigner.next_pair(rater, project)) is not None:
            choice = "a" if (int(assignment.pair_id[1:]) + len(rater)) % 3 else "b"
            submission = Submission(
                f"{rater}-{assignment.pair_id}", rater, assignment.pair_id, choice
            )
            assert store.submit(submission)


def _comparable(votes: pl.DataFrame) -> pl.DataFrame:
    """The votes without what the server's clock decides (when, how long)."""
    return votes.drop("created_at", "seconds").sort("submission_id")


def test_the_same_votes_export_alike_from_either_engine(project: Project, tmp_path: Path) -> None:
    project = Project(**{**project.__dict__, "overlap_k": 3, "gold_rate": 0.0})
    exported = {}
    for engine in ("duckdb", "postgresql"):
        with fresh_store(engine) as store:
            _vote_everything(store, project)
            export_snapshot(store, tmp_path / engine, project_id="toy")
            exported[engine] = read_snapshot(tmp_path / engine)
    (duck_prefs, duck_votes, _), (pg_prefs, pg_votes, _) = exported.values()
    assert duck_votes.height == pg_votes.height == 36
    assert _comparable(duck_votes).equals(_comparable(pg_votes))
    assert duck_prefs.equals(pg_prefs)
    assert duck_votes.schema == pg_votes.schema


def test_the_same_stored_votes_give_one_content_hash(tmp_path: Path) -> None:
    """Votes imported with their times: every field equal, so the snapshots hash alike."""
    votes = pl.DataFrame(
        {
            "submission_id": ["s1", "s2", "s3"],
            "pair_id": ["p000", "p001", "p000"],
            "rater_id": ["r1", "r1", "r2"],
            "choice": ["a", "b", "tie"],
            "strength": [2, 3, None],
            "principles": [["honesty"], [], None],
            "seconds": [4.5, 12.25, None],
        }
    ).with_columns(
        pl.lit("2026-01-02T03:04:05.123456Z").str.to_datetime(time_zone="UTC").alias("created_at")
    )
    hashes = set()
    for engine in ("duckdb", "postgresql"):
        with fresh_store(engine) as store:
            store.save_project(Project("toy", "Toy", overlap_k=3))
            store.import_frames(toy_pairs(3), votes, "toy")
            manifest = export_snapshot(store, tmp_path / engine, project_id="toy")
            hashes.add(manifest.content_hash)
    assert len(hashes) == 1


@pytest.mark.parametrize("engine", ["duckdb", "postgresql"])
def test_text_with_a_nul_character_is_refused_on_both(engine: str) -> None:
    with fresh_store(engine) as store:
        store.save_project(Project("toy", "Toy"))
        pairs = toy_pairs(3).with_columns(pl.lit("before\x00after").alias("response_b"))
        with pytest.raises(ValueError, match=r"pairs row 0: response_b holds a NUL character"):
            store.import_frames(pairs, None, "toy")
        assert store.pairs().is_empty()


def test_a_server_that_cannot_be_reached_is_named_without_the_password() -> None:
    url = "postgresql://ann:s3cret@127.0.0.1:1/votes?connect_timeout=1"
    with pytest.raises(StoreWriteError) as raised:
        Store(url)
    assert "s3cret" not in str(raised.value)
    assert "cannot connect to postgresql://ann:***@127.0.0.1:1/votes" in str(raised.value)


def test_the_cli_says_one_line_when_the_server_is_down(tmp_path: Path) -> None:
    result = run_intentgap(
        "audit", "--workspace", str(tmp_path),
        "--database", "postgresql://127.0.0.1:1/x?connect_timeout=1",
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("intentgap: cannot write the database (cannot connect to")


def test_replicas_starting_together_migrate_once() -> None:
    with postgres.fresh_database() as url:
        applied: list[list[str]] = []

        def start() -> None:
            with Store(url) as store:
                applied.append(store.migrate())  # after its own first migrate: nothing left

        threads = [threading.Thread(target=start) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert applied == [[]] * 4
        with Store(url) as store, store._read() as cur:
            names = [row[0] for row in cur.execute("SELECT name FROM _migrations").fetchall()]
        assert sorted(names) == sorted(name for name, _ in MIGRATIONS)
