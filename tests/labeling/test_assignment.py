"""Assignment: who sees which pair next, on which side; what survives concurrency and crashes."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from data.store import Project, Store, Submission
from labeling.assignment import Assigner, choose_side
from tests.conftest import toy_pairs

REPO = Path(__file__).resolve().parents[2]


def label_all(store: Store, rater: str, project: Project, choice: str = "a") -> list[str]:
    """Let a rater label until nothing is left; returns the pair ids in the order served."""
    assigner = Assigner(store, random.Random(0))
    served = []
    while (assignment := assigner.next_pair(rater, project)) is not None:
        served.append(assignment.pair_id)
        store.submit(Submission(uuid.uuid4().hex, rater, assignment.pair_id, choice))
    return served


def test_each_pair_gets_exactly_k_votes_and_no_rater_repeats(
    toy_store: Store, project: Project
) -> None:
    served = {rater: label_all(toy_store, rater, project) for rater in ("r1", "r2", "r3")}
    for pairs in served.values():
        assert len(pairs) == len(set(pairs)), "a rater saw a pair twice"
    votes = toy_store.judgments()
    per_pair = Counter(votes["pair_id"].to_list())
    work = [f"p{i:03d}" for i in range(16)]  # the last 4 toy pairs are gold
    assert {p: per_pair[p] for p in work} == dict.fromkeys(work, project.overlap_k)
    assert toy_store.progress("r3", "toy")["available"] == 0


def test_least_covered_pairs_come_first(toy_store: Store, project: Project) -> None:
    first = label_all(toy_store, "r1", project)
    # r2 starts after r1 covered everything once: every pair r2 gets has 1 vote, none has 2
    # before all have 1, so r2's first pair cannot be one that another rater already doubled.
    assigner = Assigner(toy_store, random.Random(0))
    assignment = assigner.next_pair("r2", project)
    assert assignment is not None and assignment.pair_id in first


def test_gold_items_are_mixed_in_at_the_configured_rate(store: Store) -> None:
    project = Project("g", "Gold mix", overlap_k=1, gold_rate=0.25)
    store.save_project(project)
    store.import_frames(toy_pairs(400, n_gold=200), None, "g")
    store.add_rater("r1")
    assigner = Assigner(store, random.Random(7))
    gold_flags = []
    for _ in range(200):
        assignment = assigner.next_pair("r1", project)
        assert assignment is not None
        gold_flags.append(assignment.is_gold)
        store.submit(Submission(uuid.uuid4().hex, "r1", assignment.pair_id, "a"))
    share = sum(gold_flags) / len(gold_flags)
    assert 0.17 < share < 0.33  # binomial(200, 0.25): 4 standard deviations either side
    votes = store.judgments()
    assert votes.filter(votes["is_gold"]).height == sum(gold_flags)


def test_no_gold_is_served_once_the_work_is_done(store: Store) -> None:
    project = Project("g", "Gold only left", overlap_k=1, gold_rate=0.5)
    store.save_project(project)
    store.import_frames(toy_pairs(22, n_gold=20), None, "g")  # 2 work pairs, 20 gold
    store.add_rater("r1")
    served = label_all(store, "r1", project)
    assert served[-1] in {"p000", "p001"}
    assert {"p000", "p001"} <= set(served)
    assert len(served) < 22


def test_left_side_is_randomised_per_rater_and_pair_and_stored(
    toy_store: Store, project: Project
) -> None:
    sides = Counter(choose_side(f"r{r}", f"p{p}") for r in range(40) for p in range(250))
    assert abs(sides["a"] - 5_000) < 4 * 50  # 10,000 fair coin flips: sd 50
    label_all(toy_store, "r1", project)
    for vote in toy_store.judgments(rater_id="r1").iter_rows(named=True):
        assert vote["shown_left"] == choose_side("r1", vote["pair_id"])


def test_an_open_assignment_is_resumed_not_replaced(toy_store: Store, project: Project) -> None:
    assigner = Assigner(toy_store)
    first = assigner.next_pair("r1", project)
    again = assigner.next_pair("r1", project)
    assert first == again


def test_skipped_pairs_are_not_served_again(toy_store: Store, project: Project) -> None:
    assigner = Assigner(toy_store)
    first = assigner.next_pair("r1", project)
    assert first is not None
    toy_store.skip("r1", first.pair_id)
    second = assigner.next_pair("r1", project)
    assert second is not None and second.pair_id != first.pair_id
    assert toy_store.progress("r1", "toy")["skipped"] == 1


def test_abandoned_assignments_go_to_someone_else(store: Store) -> None:
    project = Project("one", "One pair", overlap_k=1, gold_rate=0.0, reclaim_minutes=30)
    store.save_project(project)
    store.import_frames(toy_pairs(1), None, "one")
    assigner = Assigner(store)
    taken = assigner.next_pair("r1", project)
    assert taken is not None
    assert assigner.next_pair("r2", project) is None  # the only pair is out with r1
    later = datetime.now(UTC) + timedelta(minutes=31)
    assert store.reclaim_abandoned(project, now=later) == 1
    handed_on = assigner.next_pair("r2", project)
    assert handed_on is not None and handed_on.pair_id == taken.pair_id
    # r1 answers late: still accepted, nothing lost.
    assert store.submit(Submission("late", "r1", taken.pair_id, "a"))
    assert store.submit(Submission("on-time", "r2", taken.pair_id, "b"))
    assert store.judgments().height == 2


def test_fifty_threads_submitting_a_hundred_each_give_exactly_5000_rows(
    file_store: Store,
) -> None:
    project = Project("load", "Load", overlap_k=50, gold_rate=0.0)
    file_store.save_project(project)
    file_store.import_frames(toy_pairs(100), None, "load")
    errors: list[BaseException] = []

    def rater_thread(index: int) -> None:
        rater = f"r{index:02d}"
        assigner = Assigner(file_store, random.Random(index))
        try:
            for _ in range(100):
                assignment = assigner.next_pair(rater, project)
                assert assignment is not None
                vote = Submission(uuid.uuid4().hex, rater, assignment.pair_id, "a")
                assert file_store.submit(vote)
                assert not file_store.submit(vote)  # the double click
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=rater_thread, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert file_store.judgments().height == 5_000
    assert file_store.counts("load")["human_judgments"] == 5_000


WRITER = """
import sys, uuid
from data.store import Project, Store, Submission
from labeling.assignment import Assigner
from tests.conftest import toy_pairs
store = Store(sys.argv[1])
project = Project("crash", "Crash", overlap_k=1, gold_rate=0.0)
store.save_project(project)
store.import_frames(toy_pairs(5000), None, "crash")
assigner = Assigner(store)
print("ready", flush=True)
while (a := assigner.next_pair("r1", project)) is not None:
    sid = uuid.uuid4().hex
    store.submit(Submission(sid, "r1", a.pair_id, "b"))
    print(sid, flush=True)
"""


@pytest.mark.slow
def test_sigkill_mid_stream_loses_no_acknowledged_judgment(tmp_path: Path) -> None:
    database = tmp_path / "crash.duckdb"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(database)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "ready"
    acknowledged = [writer.stdout.readline().strip() for _ in range(300)]
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    with Store(database) as reopened:
        stored = set(reopened.judgments()["submission_id"].to_list())
    assert set(acknowledged) <= stored
    assert len(stored) >= 300
