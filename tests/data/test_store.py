"""The store: migrations, projects, raters and tokens, imports, idempotent submissions."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import polars as pl
import pytest

from data import frames
from data.engines import ConstraintViolated
from data.store import (
    MIGRATIONS,
    AlreadyJudged,
    ImportConflict,
    ImportCounts,
    MissingPairsError,
    Project,
    Store,
    Submission,
    SubmissionRefused,
    WorkspaceLocked,
)
from data.workspace import StoreWriteError, Workspace
from tests.conftest import toy_pairs
from tests.trouble import holding, read_only_files, small_disk


def test_migrations_are_recorded_and_run_once(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with Store(path) as first:
        assert first.schema_version == MIGRATIONS[-1][0]
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
    claimed = store.claim_next(rater, project, kind="work", choose_side=lambda r, p: "b")
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
    with pytest.raises(ConstraintViolated), toy_store._write() as cur:  # poking the schema
        cur.execute(
            "INSERT INTO judgments (submission_id, pair_id, rater_id, choice, created_at)"
            " VALUES ('s', ?, 'r1', 'b', now())",
            [pair_id],
        )
    assert toy_store.judgments()["choice"].to_list() == ["a"]


# -- writes that fail: the real cause, and nothing stuck ---------------------------------------


def _toy_database(folder: Path, project: Project, claim_for: str | None = None) -> Path:
    """A toy workspace database in ``folder``, closed again (with a pair claimed by
    ``claim_for``). Closing empties DuckDB's write-ahead log, so on a full disk the next
    write needs space it cannot get (a half-used page of the log could still take it)."""
    database = folder / "intentgap.duckdb"
    with Store(database) as store:
        store.save_project(project)
        store.import_frames(toy_pairs(3), None, project.project_id)
        if claim_for is not None:
            _claim(store, claim_for)
    return database


def _open_pair(store: Store, rater: str) -> str:
    assignment = store.open_assignment(rater, "toy")
    assert assignment is not None
    return assignment.pair_id


def test_a_full_disk_is_named_and_the_vote_saves_once_when_space_is_back(
    tmp_path: Path, project: Project
) -> None:
    with (
        small_disk(tmp_path / "disk") as disk,
        Store(_toy_database(disk.root, project, claim_for="r1")) as store,
    ):
        pair_id = _open_pair(store, "r1")
        vote = Submission("sub-1", "r1", pair_id, "a", strength=2)
        disk.fill()
        with pytest.raises(StoreWriteError) as failure:
            store.submit(vote)
        assert failure.value.cause == "disk full"
        assert "rollback" not in str(failure.value) and "disk full" in str(failure.value)
        with pytest.raises(StoreWriteError, match="disk full"):
            store.submit(vote)  # still full: the same plain answer, nothing stuck
        disk.free()
        assert store.submit(vote) is True
        assert store.submit(vote) is False
        assert store.judgments()["submission_id"].to_list() == ["sub-1"]
        coverage = store.coverage("toy").filter(pl.col("pair_id") == pair_id)
        assert coverage.select("n_done", "n_open").row(0) == (1, 0)


def test_a_claim_that_could_not_be_written_does_not_hide_the_pair(
    tmp_path: Path, project: Project
) -> None:
    with small_disk(tmp_path / "disk") as disk, Store(_toy_database(disk.root, project)) as store:
        disk.fill()
        with pytest.raises(StoreWriteError, match="disk full"):
            _claim(store, "r1")
        disk.free()
        claimed = set()
        for _ in range(3):
            claimed.add(_claim(store, "r1"))
            store.skip("r1", _open_pair(store, "r1"))
        assert claimed == {"p000", "p001", "p002"}, "every pair is still the rater's"


def test_a_database_that_fails_fatally_is_opened_again_once_space_is_back(
    tmp_path: Path, project: Project
) -> None:
    with (
        small_disk(tmp_path / "disk") as disk,
        Store(_toy_database(disk.root, project, claim_for="r1")) as store,
    ):
        pair_id = _open_pair(store, "r1")
        store.add_rater("r9")  # something in the log for a checkpoint to write
        disk.fill()
        # DuckDB checkpoints by itself once its log is large; on a full disk that fails
        # fatally, and DuckDB refuses every statement until the database is reopened.
        assert store.path is not None
        with pytest.raises(duckdb.FatalException):  # a second connection: the same database
            duckdb.connect(str(store.path)).execute("CHECKPOINT")
        with pytest.raises(StoreWriteError, match="disk full"):
            store.submit(Submission("sub-1", "r1", pair_id, "a"))
        disk.free()
        assert store.submit(Submission("sub-1", "r1", pair_id, "a")) is True
        assert store.judgments()["submission_id"].to_list() == ["sub-1"]


def test_a_workspace_that_turned_read_only_is_named(tmp_path: Path, project: Project) -> None:
    folder = tmp_path / "workspace"
    folder.mkdir()
    with Store(_toy_database(folder, project, claim_for="r1")) as store:
        pair_id = _open_pair(store, "r1")
        with read_only_files(folder):
            with pytest.raises(StoreWriteError) as failure:
                store.submit(Submission("sub-1", "r1", pair_id, "b"))
            assert failure.value.cause == "read-only"
        assert store.submit(Submission("sub-1", "r1", pair_id, "b")) is True


def test_a_read_only_workspace_cannot_be_opened_and_says_why(
    tmp_path: Path, project: Project
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        database = _toy_database(disk.root, project)
        disk.read_only()
        with pytest.raises(StoreWriteError) as failure:
            Store(database)
        assert failure.value.cause == "read-only"
        with pytest.raises(StoreWriteError, match="read-only"):
            Workspace(disk.root / "new").create()


def test_a_workspace_that_is_a_file_or_under_a_file_is_named(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    with pytest.raises(StoreWriteError) as failure:
        Workspace(a_file).create()
    assert failure.value.cause == "workspace is a file"
    with pytest.raises(StoreWriteError) as failure:
        Workspace(a_file / "workspace").create()
    assert failure.value.cause == f"{a_file} is a file"
    with pytest.raises(StoreWriteError) as failure:
        Store(tmp_path / "missing" / "intentgap.duckdb")
    assert failure.value.cause == "folder missing"


def test_a_vote_imported_on_the_open_pair_is_named_and_the_rater_moves_on(
    toy_store: Store,
) -> None:
    pair_id = _claim(toy_store, "r1")
    imported = pl.DataFrame(
        {"submission_id": ["imp-1"], "pair_id": [pair_id], "rater_id": ["r1"], "choice": ["b"]}
    ).with_columns(
        pl.lit("2024-05-01").str.to_datetime().alias("created_at"),
        pl.lit("votes.jsonl").alias("source"),
    )
    toy_store.import_frames(toy_store.pairs("toy"), imported, "toy")

    with pytest.raises(AlreadyJudged) as refused:
        toy_store.submit(Submission("sub-1", "r1", pair_id, "a"))
    assert refused.value.source == "votes.jsonl"
    assert "already used" not in str(refused.value)
    assert toy_store.open_assignment("r1", "toy") is None, "the pair is no longer open"
    assert _claim(toy_store, "r1") != pair_id
    with pytest.raises(AlreadyJudged):
        toy_store.submit(Submission("sub-1", "r1", pair_id, "a"))  # a resend: the same answer
    assert toy_store.judgments(rater_id="r1")["submission_id"].to_list() == ["imp-1"]
    coverage = toy_store.coverage("toy").filter(pl.col("pair_id") == pair_id)
    assert coverage.select("n_done", "n_open").row(0) == (1, 0)


@pytest.mark.parametrize(
    ("argv", "says", "never"),
    [
        (["intentgap", "import"], "`intentgap import`", "Stop the app"),
        (["streamlit", "run", "app.py"], "the running intentgap app", "until it finishes"),
    ],
)
def test_the_lock_message_names_who_holds_the_database(
    tmp_path: Path, argv: list[str], says: str, never: str
) -> None:
    database = tmp_path / "intentgap.duckdb"
    Store(database).close()
    with holding(database, argv) as holder, pytest.raises(WorkspaceLocked) as locked:
        Store(database)
    assert says in str(locked.value) and never not in str(locked.value)
    assert f"PID {holder.pid}" in str(locked.value)


def _imported_votes(pair_ids: list[str], rater: str, choice: str = "b") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "submission_id": [f"imp-{rater}-{p}" for p in pair_ids],
            "pair_id": pair_ids,
            "rater_id": [rater] * len(pair_ids),
            "choice": [choice] * len(pair_ids),
        }
    ).with_columns(
        pl.lit("2024-05-01").str.to_datetime(time_zone="UTC").alias("created_at"),
        pl.lit("votes.jsonl").alias("source"),
    )


def _vote_during_import(
    store: Store,
    pairs: pl.DataFrame,
    votes: pl.DataFrame,
    vote: Submission,
    *,
    concurrent: bool,
) -> ImportCounts | ImportConflict:
    """r1's vote, then the import; or (``concurrent``) the vote saved while the import is
    paused inside its open transaction, its rows written but not committed."""
    outcome: dict[str, ImportCounts | ImportConflict] = {}

    def run_import() -> None:
        try:
            outcome["import"] = store.import_frames(pairs, votes, "toy")
        except ImportConflict as conflict:
            outcome["import"] = conflict

    if not concurrent:
        assert store.submit(vote)
        run_import()
        return outcome["import"]
    inside, go = threading.Event(), threading.Event()

    def pause() -> None:
        inside.set()
        go.wait(60)  # only a safety net against a hang: the test sets it

    store._before_import_commit = pause
    importing = threading.Thread(target=run_import)
    importing.start()
    try:
        assert inside.wait(60), "the import never reached its commit"
        assert store.submit(vote), "the vote is saved while the import is open"
        assert "import" not in outcome and not go.is_set(), "the import is still open"
        assert vote.submission_id in store.judgments()["submission_id"].to_list()
        assert not any(store.judgments()["submission_id"].str.starts_with("imp-"))
    finally:
        go.set()
        importing.join(60)
        store._before_import_commit = None
    return outcome["import"]


def _stored(store: Store) -> tuple[list[tuple[str, str, str, str]], list[tuple[str, int, int]]]:
    votes = store.judgments().sort("submission_id")
    coverage = store.coverage("toy").sort("pair_id")
    return (
        list(votes.select("submission_id", "rater_id", "pair_id", "choice").iter_rows()),
        list(coverage.select("pair_id", "n_done", "n_open").iter_rows()),
    )


def test_a_rater_votes_while_an_import_is_open_and_both_are_stored_once(
    toy_store: Store,
) -> None:
    pair_id = _claim(toy_store, "r1")
    new_pairs = toy_pairs(40).with_columns(pl.format("new-{}", "pair_id").alias("pair_id"))
    votes = _imported_votes(new_pairs["pair_id"].to_list(), "expert")
    counts = _vote_during_import(
        toy_store, new_pairs, votes, Submission("sub-1", "r1", pair_id, "a"), concurrent=True
    )
    assert isinstance(counts, ImportCounts)
    assert (counts.pairs_new, counts.judgments_new, counts.raters_new) == (40, 40, 1)
    stored = toy_store.judgments()
    assert stored.height == 41 and stored["submission_id"].n_unique() == 41
    assert stored.filter(pl.col("rater_id") == "r1")["submission_id"].to_list() == ["sub-1"]
    coverage = toy_store.coverage("toy")
    assert coverage.filter(pl.col("pair_id") == pair_id)["n_done"].to_list() == [1]
    assert coverage.filter(pl.col("pair_id").str.starts_with("new-"))["n_done"].sum() == 40
    # The pairs seen by each rater (kept in memory) took the imported votes in: the expert
    # has voted on every new pair, so only the 16 work pairs of the toy project are left.
    assert toy_store.progress("expert", "toy")["available"] == 16
    again = toy_store.import_frames(new_pairs, votes, "toy")
    assert (again.pairs_new, again.judgments_new) == (0, 0)
    assert toy_store.judgments().height == 41


def _clash(
    project: Project, voter: str, choice: str, monkeypatch: pytest.MonkeyPatch, concurrent: bool
) -> tuple[object, ...]:
    """r1 votes on a pair that an import (new pairs, and ``voter``'s vote on that pair)
    also writes; what came of it, and what is stored."""
    with Store() as fresh:
        fresh.save_project(project)
        fresh.import_frames(toy_pairs(20, n_gold=4), None, "toy")
        fresh.add_rater("r1")
        pair_id = _claim(fresh, "r1")
        pairs = pl.concat([toy_pairs(20, n_gold=4), toy_pairs(25).tail(5)])
        votes = _imported_votes([pair_id], voter, choice)
        runs: list[bool] = []
        real_rows = fresh._import_rows
        monkeypatch.setattr(
            fresh, "_import_rows", lambda *args, **kw: runs.append(True) or real_rows(*args, **kw)
        )
        outcome = _vote_during_import(
            fresh, pairs, votes, Submission("sub-1", "r1", pair_id, "a"), concurrent=concurrent
        )
        assert len(runs) == (2 if concurrent else 1), "a clash redoes the import under the lock"
        if isinstance(outcome, ImportConflict):
            shown = (outcome.frame, outcome.what, outcome.row, outcome.column, outcome.count)
            return pair_id, str(outcome), shown, outcome.stored["choice"], _stored(fresh)
        return pair_id, outcome, _stored(fresh)


@pytest.mark.parametrize(
    ("voter", "choice"),
    [
        ("r1", "b"),  # r1's own vote on that pair says otherwise: the import is refused
        ("expert", "b"),  # another rater's vote on the pair r1 voted on: both count
    ],
)
def test_an_import_that_clashes_with_a_vote_meanwhile_ends_as_it_would_after_it(
    project: Project, voter: str, choice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    after = _clash(project, voter, choice, monkeypatch, concurrent=False)
    meanwhile = _clash(project, voter, choice, monkeypatch, concurrent=True)
    assert meanwhile == after
    if voter == "r1":
        _, _, shown, stored_choice, (votes_stored, coverage) = after
        assert shown == ("judgments", "vote", 0, "choice", 1)
        assert stored_choice == "a"
        assert [v[0] for v in votes_stored] == ["sub-1"], "the refused import wrote nothing"
        assert len(coverage) == 20, "not even its new pairs"
    else:
        pair_id, counts, (votes_stored, coverage) = after
        assert isinstance(counts, ImportCounts)
        assert (counts.pairs_new, counts.judgments_new) == (5, 1)
        assert len(votes_stored) == 2
        assert {p: n for p, n, _ in coverage}[pair_id] == 2
