"""The store: migrations, projects, raters and tokens, imports, idempotent submissions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from data import frames
from data.store import (
    MissingPairsError,
    Project,
    Store,
    Submission,
    SubmissionRefused,
    WorkspaceLocked,
)
from tests.conftest import toy_pairs


def test_migrations_are_recorded_and_run_once(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with Store(path) as first:
        assert first.schema_version == "0001_initial"
    with Store(path) as again:
        assert again.migrate() == []


def test_project_settings_round_trip(store: Store, project: Project) -> None:
    store.save_project(project)
    assert store.project("toy") == project
    changed = Project("toy", "Renamed", principles=("honesty",), overlap_k=5, tie_allowed=False)
    store.save_project(changed)
    assert store.project("toy") == changed
    assert [p.project_id for p in store.projects()] == ["toy"]
    assert store.project("missing") is None


def test_rater_tokens_sign_in_only_their_rater(store: Store) -> None:
    token = store.add_rater("r1", "Ada")
    other = store.add_rater("r2")
    assert store.rater_for_token(token) == "r1"
    assert store.rater_for_token(other) == "r2"
    assert store.rater_for_token("not-a-token") is None
    assert store.rater_for_token("") is None
    with pytest.raises(ValueError, match="already exists"):
        store.add_rater("r1")


def test_reset_token_invalidates_the_old_link(store: Store) -> None:
    old = store.add_rater("r1")
    new = store.reset_token("r1")
    assert store.rater_for_token(old) is None
    assert store.rater_for_token(new) == "r1"


def test_deactivated_rater_cannot_sign_in(store: Store) -> None:
    token = store.add_rater("r1")
    store.set_rater_active("r1", False)
    assert store.rater_for_token(token) is None


def test_tokens_are_stored_hashed(file_store: Store) -> None:
    token = file_store.add_rater("r1")
    assert file_store.path is not None
    raw = file_store.path.read_bytes()
    assert token.encode() not in raw


def test_import_is_idempotent_and_counts_what_changed(store: Store, project: Project) -> None:
    store.save_project(project)
    pairs = toy_pairs(5)
    votes = pl.DataFrame(
        {
            "submission_id": ["s1", "s2"],
            "pair_id": ["p000", "p001"],
            "rater_id": ["expert", "expert"],
            "choice": ["a", "tie"],
            "created_at": [None, None],
        }
    ).with_columns(pl.lit("2024-05-01T00:00:00").str.to_datetime().alias("created_at"))
    first = store.import_frames(pairs, votes, "toy")
    assert (first.pairs_new, first.judgments_new, first.raters_new) == (5, 2, 1)
    again = store.import_frames(pairs, votes, "toy")
    assert (again.pairs_new, again.judgments_new, again.raters_new) == (0, 0, 0)
    assert (again.pairs_existing, again.judgments_existing) == (5, 2)
    assert store.pairs("toy").height == 5
    assert store.judgments().height == 2
    # Imported human votes count toward coverage.
    assert store.counts("toy")["human_judgments"] == 2


def test_import_with_unknown_pair_writes_nothing(store: Store, project: Project) -> None:
    store.save_project(project)
    votes = pl.DataFrame(
        {"submission_id": ["s1"], "pair_id": ["nope"], "rater_id": ["x"], "choice": ["a"]}
    ).with_columns(pl.lit("2024-05-01").str.to_datetime().alias("created_at"))
    with pytest.raises(MissingPairsError, match="nope"):
        store.import_frames(toy_pairs(3), votes, "toy")
    assert store.pairs().is_empty()
    assert store.raters().is_empty()


def test_import_needs_an_existing_project(store: Store) -> None:
    with pytest.raises(ValueError, match="no project"):
        store.import_frames(toy_pairs(1), None, "ghost")


def test_source_labels_do_not_count_as_human_coverage(store: Store, project: Project) -> None:
    store.save_project(project)
    votes = pl.DataFrame(
        {"submission_id": ["s1"], "pair_id": ["p000"], "rater_id": ["hh-rlhf"], "choice": ["a"]}
    ).with_columns(pl.lit("2024-05-01").str.to_datetime().alias("created_at"))
    store.import_frames(toy_pairs(2), votes, "toy", source_raters=["hh-rlhf"])
    assert store.counts("toy")["human_judgments"] == 0
    kinds = dict(store.raters().select("rater_id", "kind").iter_rows())
    assert kinds == {"hh-rlhf": "source"}


def test_frames_follow_their_contracts(toy_store: Store) -> None:
    assert toy_store.pairs().schema == pl.Schema(frames.PAIRS)
    assert toy_store.judgments().schema == pl.Schema(frames.JUDGMENTS)


def _claim(store: Store, rater: str) -> str:
    project = store.project("toy")
    assert project is not None
    claimed = store.claim_next(rater, project, gold=False, choose_side=lambda r, p: "b")
    assert claimed is not None
    return claimed.pair_id


def test_submit_records_server_side_fields(toy_store: Store) -> None:
    pair_id = _claim(toy_store, "r1")
    saved = toy_store.submit(
        Submission(
            "sub-1",
            "r1",
            pair_id,
            "b",
            strength=2,
            rationale="clearer",
            principles=("honesty",),
            flags=("fabrication",),
        )
    )
    assert saved
    vote = toy_store.judgments(rater_id="r1").row(0, named=True)
    assert vote["choice"] == "b"
    assert vote["shown_left"] == "b"
    assert vote["strength"] == 2
    assert vote["principles"] == ["honesty"]
    assert vote["flags"] == ["fabrication"]
    assert vote["source"] == "ui"
    assert vote["seconds"] is not None and vote["seconds"] >= 0


def test_double_submit_saves_once(toy_store: Store) -> None:
    pair_id = _claim(toy_store, "r1")
    vote = Submission("sub-1", "r1", pair_id, "a", strength=1)
    assert toy_store.submit(vote) is True
    assert toy_store.submit(vote) is False
    # A resend with a fresh id for the same (rater, pair, round) is also a no-op.
    assert toy_store.submit(Submission("sub-2", "r1", pair_id, "b")) is False
    assert toy_store.judgments().height == 1
    assert toy_store.counts("toy")["human_judgments"] == 1


def test_a_submission_id_reused_for_another_pair_is_refused(toy_store: Store) -> None:
    first = _claim(toy_store, "r1")
    assert toy_store.submit(Submission("same-id", "r1", first, "a"))
    second = _claim(toy_store, "r1")
    with pytest.raises(SubmissionRefused, match="already used"):
        toy_store.submit(Submission("same-id", "r1", second, "b"))
    assert toy_store.judgments().height == 1
    assert toy_store.submit(Submission("fresh-id", "r1", second, "b"))


def test_cannot_submit_for_a_pair_not_assigned(toy_store: Store) -> None:
    pair_id = _claim(toy_store, "r1")
    with pytest.raises(SubmissionRefused, match="not assigned"):
        toy_store.submit(Submission("sub-x", "r2", pair_id, "a"))


@pytest.mark.parametrize(
    ("choice", "strength", "message"),
    [("maybe", None, "choice"), ("a", 7, "strength"), ("tie", 2, "no strength")],
)
def test_bad_submissions_are_refused(
    toy_store: Store, choice: str, strength: int | None, message: str
) -> None:
    pair_id = _claim(toy_store, "r1")
    with pytest.raises(SubmissionRefused, match=message):
        toy_store.submit(Submission("s", "r1", pair_id, choice, strength=strength))
    assert toy_store.judgments().is_empty()


def test_copy_judgments_to_parquet_keeps_every_field(toy_store: Store, tmp_path: Path) -> None:
    pair_id = _claim(toy_store, "r1")
    toy_store.submit(Submission("s", "r1", pair_id, "a", strength=3, principles=("honesty",)))
    out = tmp_path / "judgments.parquet"
    assert toy_store.copy_judgments_to_parquet(out, "toy") == 1
    back = pl.read_parquet(out)
    assert back.columns == list(frames.JUDGMENTS)
    assert back["principles"].to_list() == [["honesty"]]


def test_a_second_process_gets_a_plain_lock_message(file_store: Store) -> None:
    assert file_store.path is not None
    code = (
        "import sys; from data.store import Store, WorkspaceLocked\n"
        "try:\n    Store(sys.argv[1])\n"
        "except WorkspaceLocked as e:\n    print(e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(file_store.path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    assert "in use by another process" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_lock_error_type_names_the_file(tmp_path: Path) -> None:
    error = WorkspaceLocked(tmp_path / "x.duckdb", "python (PID 1)")
    assert "x.duckdb" in str(error) and "PID 1" in str(error)


def test_judgments_are_append_only_at_the_schema_level(toy_store: Store) -> None:
    pair_id = _claim(toy_store, "r1")
    toy_store.submit(Submission("s", "r1", pair_id, "a"))
    with pytest.raises(duckdb.ConstraintException):
        toy_store._con.execute(  # poking the schema on purpose
            "INSERT INTO judgments (submission_id, pair_id, rater_id, choice, created_at)"
            " VALUES ('s', ?, 'r1', 'b', now())",
            [pair_id],
        )
