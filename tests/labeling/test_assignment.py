"""Assignment: who sees which pair next, on which side; what survives concurrency and crashes."""

from __future__ import annotations

import itertools
import random
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from data import frames
from data.store import RETEST_GAP, Project, Store, Submission
from labeling.assignment import Assigner, choose_side
from labeling.rater_probes import make_probe_pairs
from tests.conftest import toy_pairs

REPO = Path(__file__).resolve().parents[2]


def label_all(
    store: Store, rater: str, project: Project, choice: str = "a", seed: int = 0
) -> list[str]:
    """Let a rater label until nothing is left; returns the pair ids in the order served."""
    assigner = Assigner(store, random.Random(seed))
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


# -- hidden checks of the raters: probe pairs and retests --------------------------------------


def probe_project(store: Store, probe_rate: float) -> Project:
    """60 work pairs wanted once each and 20 gold pairs, each gold pair with a flattery and
    a padding probe (40 probe pairs), served at ``probe_rate``."""
    project = Project("probed", "Probed", overlap_k=1, gold_rate=0.0, probe_rate=probe_rate)
    store.save_project(project)
    pairs = toy_pairs(80, n_gold=20)
    store.import_frames(pairs, None, project.project_id)
    probes = make_probe_pairs(pairs, frames.empty(frames.JUDGMENTS), ("flattery", "length"))
    store.import_frames(probes.pairs, None, project.project_id)
    store.add_rater("r1")
    return project


def label_with_kinds(store: Store, project: Project) -> list[tuple[str, int, str]]:
    """r1 labels until nothing is left: (pair_id, round, shown_left) in the order served."""
    assigner = Assigner(store, random.Random(1))
    served = []
    while (assignment := assigner.next_pair("r1", project)) is not None:
        served.append((assignment.pair_id, assignment.round, assignment.shown_left))
        vote = Submission(uuid.uuid4().hex, "r1", assignment.pair_id, "a", round=assignment.round)
        assert store.submit(vote)
    return served


def test_probe_pairs_are_served_hidden_at_the_probe_rate(store: Store) -> None:
    project = probe_project(store, probe_rate=0.25)
    served = label_with_kinds(store, project)
    pairs = store.pairs(project.project_id)
    probe_of = dict(zip(pairs["pair_id"], pairs["probe_of"], strict=True))
    kinds = ["probe" if probe_of[p] else "retest" if r else "work" for p, r, _ in served]
    counts = Counter(kinds)
    assert counts["work"] == 60, "every work pair still gets its vote"
    # A quarter of the claims are checks (half probes, half retests), served while work
    # is left; 60 work votes leave room for about 20.
    assert 8 <= counts["probe"] + counts["retest"] <= 35 and counts["probe"] >= 4
    for (before, *_), (after, *_) in itertools.pairwise(served):
        assert probe_of[after] != before and probe_of[before] != after, "base and probe adjoin"
    assert all(p[0] for p in served)
    votes = store.judgments(project.project_id)
    assert not votes["is_gold"].any(), "a probe is no gold item"
    progress = store.progress("r1", project.project_id)
    assert progress["judged"] == len(served), "checks count in the rater's progress"
    coverage = store.coverage(project.project_id).join(pairs, on="pair_id")
    work = coverage.filter(pl.col("probe_of").is_null() & ~pl.col("is_gold"))
    assert (work["n_done"] == 1).all(), "retests and probes never add to a pair's overlap"


def test_a_retest_comes_back_later_with_its_sides_swapped(store: Store) -> None:
    project = probe_project(store, probe_rate=0.3)
    served = label_with_kinds(store, project)
    first = {p: (at, side) for at, (p, r, side) in enumerate(served) if r == 0}
    retests = [(at, p, side) for at, (p, r, side) in enumerate(served) if r == 1]
    assert retests, "no retest was served"
    for at, pair_id, side in retests:
        was_at, was_side = first[pair_id]
        assert at - was_at > RETEST_GAP - 1, "a retest comes only after RETEST_GAP others"
        assert side != was_side, "the other response on the left"
    assert len({p for _, p, _ in retests}) == len(retests), "a pair is retested once"
    votes = store.judgments(project.project_id).filter(pl.col("round") == 1)
    assert votes.height == len(retests)


def test_no_check_is_served_once_the_work_is_done(store: Store) -> None:
    project = probe_project(store, probe_rate=1.0)
    served = label_with_kinds(store, project)
    pairs = store.pairs(project.project_id)
    is_probe = dict(zip(pairs["pair_id"], pairs["probe_kind"].is_not_null(), strict=True))
    last_work = max(at for at, (p, r, _) in enumerate(served) if r == 0 and not is_probe[p])
    assert last_work == len(served) - 1, "hidden checks stop when the work does"


# -- policies: which work pair comes first ------------------------------------------------------


def voted_project(store: Store, policy: str) -> Project:
    """20 pairs (4 gold, each with a flattery probe) wanted 3 times; experts have split p003
    (1-1) and agree on p001 (2-0); r1..r3 label."""
    project = Project("ranked", "Ranked", overlap_k=3, gold_rate=0.2, probe_rate=0.2, policy=policy)
    store.save_project(project)
    votes = pl.DataFrame(
        {
            "submission_id": ["e1", "e2", "e3", "e4"],
            "pair_id": ["p003", "p003", "p001", "p001"],
            "rater_id": ["x1", "x2", "x1", "x2"],
            "choice": ["a", "b", "a", "a"],
        }
    ).with_columns(pl.lit("2026-01-01").str.to_datetime(time_zone="UTC").alias("created_at"))
    pairs = toy_pairs(20, n_gold=4)
    store.import_frames(pairs, votes, project.project_id)
    probes = make_probe_pairs(pairs, frames.empty(frames.JUDGMENTS), ("flattery",))
    store.import_frames(probes.pairs, None, project.project_id)
    for rater in ("r1", "r2", "r3"):
        store.add_rater(rater)
    return project


def test_the_disputed_policy_serves_split_pairs_first(store: Store) -> None:
    project = voted_project(store, "disputed")
    assigner = Assigner(store, random.Random(0))
    assert assigner.rank(project) > 0
    first = store.claim_next("r1", project, kind="work", choose_side=choose_side)
    assert first is not None and first.pair_id == "p003"
    coverage = store.coverage(project.project_id)
    assert coverage.filter(pl.col("pair_id") == "p003")["n_open"].item() == 1


def test_the_model_policy_serves_where_the_model_doubts_the_votes_first(store: Store) -> None:
    project = voted_project(store, "model")
    # The checkpoint is sure p001's b is better, against both experts' a.
    pair_ids = [f"p{i:03d}" for i in range(20)]
    scores = pl.DataFrame(
        {
            "pair_id": pair_ids,
            "model_id": "ckpt",
            "reward_a": [0.0] * 20,
            "reward_b": [5.0 if p == "p001" else 0.0 for p in pair_ids],
        }
    )
    assert store.replace_scores(project.project_id, scores) == 20
    Assigner(store, random.Random(0)).rank(project)
    first = store.claim_next("r1", project, kind="work", choose_side=choose_side)
    assert first is not None and first.pair_id == "p001"


@pytest.mark.parametrize("policy", ["uniform", "disputed", "model"])
def test_every_policy_keeps_overlap_gold_and_probe_rates(store: Store, policy: str) -> None:
    project = voted_project(store, policy)
    served = {rater: label_all(store, rater, project, seed=1) for rater in ("r1", "r2", "r3")}
    votes = store.judgments(project.project_id).join(
        store.pairs(project.project_id).select("pair_id", "probe_kind"), on="pair_id"
    )
    work = votes.filter(~pl.col("is_gold") & pl.col("probe_kind").is_null())
    assert work.group_by("pair_id").len()["len"].max() <= 3, "a pair past its overlap"
    ours = votes.filter(pl.col("rater_id").is_in(["r1", "r2", "r3"]))
    assert ours["is_gold"].any() and ours["probe_kind"].is_not_null().any()
    for pairs in served.values():
        assert len(pairs) == len(set(pairs))
    coverage = store.coverage(project.project_id)
    done = coverage.join(work.select("pair_id").unique(), on="pair_id")
    assert (done["n_done"] == 3).all() and done.height == 16, "every work pair is done"


def test_going_back_to_uniform_forgets_the_ranking(store: Store) -> None:
    project = voted_project(store, "disputed")
    Assigner(store, random.Random(0)).rank(project)
    store.save_project(Project(**{**project.__dict__, "policy": "uniform"}))
    first = store.claim_next("r1", project, kind="work", choose_side=choose_side)
    assert first is not None and first.pair_id not in ("p001", "p003"), "least covered first"


def test_scores_of_another_projects_pairs_are_refused(store: Store) -> None:
    project = voted_project(store, "model")
    stray = pl.DataFrame(
        {"pair_id": ["elsewhere"], "model_id": "m", "reward_a": 0.0, "reward_b": 1.0}
    )
    with pytest.raises(ValueError, match="'elsewhere', which is not in 'ranked'"):
        store.replace_scores(project.project_id, stray)
