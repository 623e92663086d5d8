"""Several app processes on one PostgreSQL database: claims, votes and commands across them.

Real processes (``tests/data/replica.py``), each with its own ``Store`` and threads, as app
replicas behind a load balancer; every rater has a tab on both. What must hold is what a
single process guarantees: every acknowledged vote stored once, no pair past its overlap, no
rater given a pair twice, coverage counts equal to the votes; also after one replica is killed
with SIGKILL in the middle, and while `intentgap` commands run beside them.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from data.store import Project, Store
from data.workspace import DATABASE_ENV_VAR, ENV_VAR
from tests import postgres
from tests.conftest import REPO, run_intentgap, toy_pairs

RATERS = [f"r{i:02d}" for i in range(50)]
OVERLAP_K = 3


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh database with a project of 2,000 pairs (10% gold), room for 5,400 work votes."""
    with postgres.fresh_database() as url:
        with Store(url) as store:
            store.save_project(Project("p", "P", overlap_k=OVERLAP_K, gold_rate=0.1))
            store.import_frames(toy_pairs(2000, n_gold=200), None, "p")
            for rater in RATERS:
                store.add_rater(rater)
        yield url


class Replica:
    """A replica process; ``acks`` fills with the submission ids it was told were saved."""

    def __init__(self, url: str, votes: int) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.data.replica",
                url,
                "p",
                ",".join(RATERS),
                "--votes",
                str(votes),
                "--threads",
                "8",
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.acks: list[str] = []
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.strip())
            if line.startswith("ack "):
                self.acks.append(line.split()[1])

    def finish(self, timeout: float = 240) -> None:
        self.process.wait(timeout)
        self._reader.join(10)
        assert self.process.stderr is not None
        errors = self.process.stderr.read()
        assert self.process.returncode == 0, errors
        assert "done" in self.lines

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)
        self._reader.join(10)


def stored(url: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    with Store(url) as store:
        return store.judgments("p"), store.coverage("p")


def assert_consistent(votes: pl.DataFrame, coverage: pl.DataFrame) -> None:
    """No rater voted twice on a pair, no work pair past k, coverage equals the votes."""
    assert votes.select("rater_id", "pair_id").is_unique().all(), "a rater judged a pair twice"
    counted = votes.group_by("pair_id").len("votes")
    joined = coverage.join(counted, on="pair_id", how="left").with_columns(
        pl.col("votes").fill_null(0)
    )
    assert (joined["n_done"] == joined["votes"]).all(), "coverage differs from the votes"
    work = joined.filter(~pl.col("is_gold"))
    assert work["n_done"].max() <= OVERLAP_K, "a pair got more votes than its overlap"
    assert (joined["n_open"] >= 0).all()


@pytest.mark.timeout(600)
def test_fifty_raters_on_two_replicas_store_exactly_their_votes(database: str) -> None:
    replicas = [Replica(database, votes=50) for _ in range(2)]  # each rater: 50 + 50
    for replica in replicas:
        replica.finish()
    votes, coverage = stored(database)
    acks = [sid for replica in replicas for sid in replica.acks]
    assert len(acks) == len(set(acks)) == 5_000
    assert votes.height == 5_000
    assert set(votes["submission_id"]) == set(acks)
    assert (votes.group_by("rater_id").len()["len"] == 100).all()
    assert_consistent(votes, coverage)


@pytest.mark.timeout(600)
def test_a_replica_killed_mid_labeling_loses_no_acknowledged_vote(database: str) -> None:
    doomed, survivor = Replica(database, votes=30), Replica(database, votes=30)
    deadline = time.monotonic() + 120
    while len(doomed.acks) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    doomed.kill()  # SIGKILL: no cleanup, transactions cut off
    survivor.finish()
    votes, coverage = stored(database)
    saved = set(votes["submission_id"])
    assert set(doomed.acks) <= saved, "a vote the killed replica acknowledged is gone"
    assert set(survivor.acks) <= saved
    # Only votes in flight when it died may be stored without an acknowledgement (one per
    # thread at most): committed, but the process was killed before it could print.
    assert votes.height - len(doomed.acks) - len(survivor.acks) <= 8
    assert_consistent(votes, coverage)


@pytest.mark.timeout(600)
def test_commands_run_while_two_replicas_serve(database: str, tmp_path: Path) -> None:
    extra = tmp_path / "more.jsonl"
    extra.write_text(
        "\n".join(
            json.dumps({"prompt": f"New {i}?", "response_a": "yes", "response_b": "no"})
            for i in range(200)
        )
        + "\n",
        encoding="utf-8",
    )
    env = {DATABASE_ENV_VAR: database, ENV_VAR: str(tmp_path / "ws")}
    replicas = [Replica(database, votes=20) for _ in range(2)]
    while sum(len(r.acks) for r in replicas) < 200:
        time.sleep(0.05)
    imported = run_intentgap("import", str(extra), "--project", "p", env=env)
    assert imported.returncode == 0, imported.stderr
    audit = run_intentgap("audit", "--project", "p", "--n-boot", "50", env=env)
    assert audit.returncode == 0, audit.stderr
    export = run_intentgap("export", "--project", "p", str(tmp_path / "snap"), env=env)
    assert export.returncode == 0, export.stderr
    assert (tmp_path / "snap" / "manifest.json").is_file()
    for replica in replicas:
        replica.finish()
    votes, coverage = stored(database)
    assert votes.height == 2_000 and coverage.height == 2_200
    assert_consistent(votes, coverage)
