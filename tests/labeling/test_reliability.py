"""Rater reliability: Dawid-Skene against crowd-kit on public votes, and the per-rater table,
leave-one-out consensus and drift on small cases checked by hand.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from crowdkit.aggregation import DawidSkene as CrowdKitDawidSkene
from statsmodels.stats.proportion import proportion_confint

from data import frames
from labeling.reliability import DawidSkene, consensus_drift, loo_consensus, rater_reliability

# crowd-kit 1.4 calls pandas with arguments that pandas 3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:crowdkit.*")


def votes(*rows: tuple[Any, ...], **columns: list[Any]) -> pl.DataFrame:
    """Judgments from (pair_id, rater_id, choice) rows."""
    pair_id, rater_id, choice = (list(column) for column in zip(*rows, strict=True))
    return pl.DataFrame({"pair_id": pair_id, "rater_id": rater_id, "choice": choice, **columns})


# ----------------------------------------------------------------------------- Dawid-Skene


def pandalm_votes(datasets: Path) -> pl.DataFrame:
    """PandaLM's 3 annotators on 999 items (1 = response1, 2 = response2, 0 = tie)."""
    raw = pl.read_csv(datasets / "pandalm-testset" / "judgments_long.csv")
    return raw.select(
        pair_id=pl.col("idx").cast(pl.String),
        rater_id="rater_id",
        choice=pl.col("label").replace_strict({1: "a", 2: "b", 0: "tie"}, return_dtype=pl.String),
    )


def llmfao_votes(datasets: Path) -> pl.DataFrame:
    """LLMFAO's 124 crowd workers; left is always ``model_x`` (response a)."""
    raw = pl.read_csv(datasets / "llmfao" / "crowd-comparisons.csv")
    return raw.select(
        pair_id=pl.col("id").cast(pl.String),
        rater_id=pl.col("worker").cast(pl.String),
        choice=pl.col("winner").replace_strict(
            {"left": "a", "right": "b", "tie": "tie"}, return_dtype=pl.String
        ),
    )


def mt_bench_votes(datasets: Path) -> pl.DataFrame:
    """MT-bench turn-1 votes of all 65 judges; a pair is (question, model_a, model_b)."""
    path = datasets / "mt-bench-human-judgments" / "human_judgments.jsonl"
    raw = pl.DataFrame([json.loads(line) for line in path.open()]).filter(pl.col("turn") == 1)
    return raw.select(
        pair_id=pl.format("q{}:{}:{}", "question_id", "model_a", "model_b"),
        rater_id="judge",
        choice=pl.col("winner").replace_strict({"model_a": "a", "model_b": "b", "tie": "tie"}),
    )


@pytest.mark.parametrize(
    ("loader", "n_iter"),
    [(pandalm_votes, 100), (llmfao_votes, 100), (mt_bench_votes, 100), (mt_bench_votes, 7)],
)
def test_dawid_skene_matches_crowd_kit(datasets: Path, loader: Any, n_iter: int) -> None:
    judged = loader(datasets)
    reference = CrowdKitDawidSkene(n_iter=n_iter, tol=1e-5).fit(
        judged.rename({"pair_id": "task", "rater_id": "worker", "choice": "label"}).to_pandas()
    )
    ours = DawidSkene(n_iter=n_iter, tol=1e-5).fit(judged)

    assert reference.probas_ is not None and reference.priors_ is not None
    assert reference.errors_ is not None
    # Same stopping point, same evidence lower bound at every step.
    assert ours.n_iter_ == len(reference.loss_history_)
    assert ours.loss_history_ == pytest.approx(reference.loss_history_, abs=1e-12)
    expected = reference.probas_.sort_index()
    assert ours.probas_["pair_id"].to_list() == list(expected.index)
    for label in expected.columns:
        # crowd-kit floors its returned posteriors at 1e-10 in place; ours stay normalised.
        assert np.abs(ours.probas_[label].to_numpy() - expected[label].to_numpy()).max() < 1e-9
    priors = dict(ours.priors_.iter_rows())
    assert priors == pytest.approx(reference.priors_.to_dict(), abs=1e-9)
    errors = ours.errors_.filter(pl.col("probability") > 0)
    reference_errors = reference.errors_.stack().rename("probability").reset_index()
    assert errors.height == len(reference_errors)
    merged = errors.join(
        pl.from_pandas(reference_errors).rename(
            {"worker": "rater_id", "label": "choice", "level_2": "true_choice"}, strict=False
        ),
        on=["rater_id", "choice", "true_choice"],
        suffix="_reference",
    )
    assert merged.height == errors.height
    difference = merged["probability"] - merged["probability_reference"]
    assert np.abs(difference.to_numpy()).max() < 1e-9


def test_dawid_skene_on_a_tiny_case() -> None:
    # r3 contradicts the two others on every pair: its confusion matrix learns that.
    judged = votes(
        *[(pair, rater, choice) for pair, choice in [("p1", "a"), ("p2", "b"), ("p3", "a")]
          for rater in ("r1", "r2")],
        ("p1", "r3", "b"), ("p2", "r3", "a"), ("p3", "r3", "b"),
    )  # fmt: skip
    model = DawidSkene(n_iter=50).fit(judged)
    assert model.labels_.rows() == [("p1", "a"), ("p2", "b"), ("p3", "a")]
    assert model.probas_.columns == ["pair_id", "a", "b"]
    assert model.priors_["prior"].to_list() == pytest.approx([2 / 3, 1 / 3], abs=1e-6)
    r3 = model.errors_.filter(pl.col("rater_id") == "r3", pl.col("choice") == pl.col("true_choice"))
    assert r3["probability"].to_numpy().max() < 1e-6
    columns = model.errors_.group_by("rater_id", "true_choice").agg(pl.col("probability").sum())
    assert columns["probability"].to_list() == pytest.approx([1.0] * 6)


def test_dawid_skene_without_votes_learns_empty_frames() -> None:
    model = DawidSkene().fit(frames.empty(frames.JUDGMENTS))
    assert (model.probas_.height, model.labels_.height, model.errors_.height) == (0, 0, 0)
    assert model.n_iter_ == 0
    empty_table = rater_reliability(frames.empty(frames.JUDGMENTS), frames.empty(frames.PAIRS))
    assert empty_table.height == 0


# ----------------------------------------------------------------------------- per rater

PAIRS = pl.DataFrame(
    {
        "pair_id": ["p1", "p2", "p3", "p4"],
        "gold": [None, None, "b", "a"],
        "is_gold": [False, False, False, True],  # p3 is a work pair that happens to carry gold
    }
)
JUDGED = votes(
    ("p1", "r1", "a"), ("p1", "r2", "a"), ("p1", "r3", "b"),
    ("p2", "r1", "b"), ("p2", "r2", "b"), ("p2", "r3", "b"),
    ("p3", "r1", "b"), ("p3", "r2", "tie"), ("p3", "r3", "a"),
    ("p4", "r1", "a"), ("p4", "r2", "b"),
    seconds=[10.0, 5.0, None, 20.0, 5.0, None, 30.0, 5.0, None, 40.0, 100.0],
)  # fmt: skip
POSTERIORS = pl.DataFrame(
    {
        "pair_id": ["p1", "p2", "p3", "p4"],
        "a": [0.75, 0.0, 0.25, 0.9],
        "b": [0.25, 1.0, 0.5, 0.1],
        "tie": [0.0, 0.0, 0.25, 0.0],
    }
)


def test_leave_one_out_consensus_is_the_majority_of_the_others() -> None:
    consensus = loo_consensus(JUDGED, PAIRS).select("pair_id", "rater_id", "consensus", "agrees")
    assert consensus.rows() == [
        ("p1", "r1", None, None),  # others split a / b
        ("p1", "r2", None, None),
        ("p1", "r3", "a", False),
        ("p2", "r1", "b", True),
        ("p2", "r2", "b", True),
        ("p2", "r3", "b", True),
        ("p3", "r1", None, None),  # tie vs a
        ("p3", "r2", None, None),
        ("p3", "r3", None, None),
        ("p4", "r1", "b", False),  # one other rater is a majority of one
        ("p4", "r2", "a", False),
    ]


def test_leave_one_out_consensus_reads_reversed_pairs_from_the_item_sides() -> None:
    pairs = pl.DataFrame(
        {
            "pair_id": ["xy", "yx"],
            "prompt": ["q", "q"],
            "model_a": ["x", "y"],
            "model_b": ["y", "x"],
        }
    )
    judged = votes(("xy", "r1", "a"), ("yx", "r2", "b"), ("yx", "r3", "a"))
    consensus = loo_consensus(judged, pairs).select("rater_id", "item_choice", "consensus")
    assert consensus.rows() == [("r1", "a", None), ("r2", "a", None), ("r3", "b", "a")]


def test_rater_reliability_table_checked_by_hand() -> None:
    table = rater_reliability(JUDGED, PAIRS, POSTERIORS)
    assert table.select("rater_id", "n", "tie_rate", "median_seconds").rows() == [
        ("r1", 4, 0.0, 25.0),
        ("r2", 4, 0.25, 5.0),
        ("r3", 3, 0.0, None),
    ]
    assert table["share"].to_list() == pytest.approx([4 / 11, 4 / 11, 3 / 11])
    # Gold: p3 (b, not a hidden gold item) and p4 (a, hidden gold) both count.
    assert table.select("gold_n", "gold_accuracy").rows() == [(2, 1.0), (2, 0.0), (1, 0.0)]
    assert table.select("consensus_n", "consensus_accuracy").rows() == [
        (2, 0.5),
        (2, 0.5),
        (2, 0.5),
    ]
    # Mean posterior of the choices made: r1 chose a, b, b, a -> (0.75 + 1 + 0.5 + 0.9) / 4.
    assert table["ds_accuracy"].to_list() == pytest.approx(
        [(0.75 + 1 + 0.5 + 0.9) / 4, (0.75 + 1 + 0.25 + 0.1) / 4, (0.25 + 1 + 0.25) / 3]
    )


def test_accuracy_intervals_are_wilson_intervals() -> None:
    table = rater_reliability(JUDGED, PAIRS, POSTERIORS, confidence=0.9)
    for row in table.iter_rows(named=True):
        hits = round(row["gold_accuracy"] * row["gold_n"])
        low, high = proportion_confint(hits, row["gold_n"], alpha=0.1, method="wilson")
        assert (row["gold_ci_low"], row["gold_ci_high"]) == pytest.approx((low, high))


def test_rater_reliability_fits_dawid_skene_when_no_posteriors_are_given() -> None:
    table = rater_reliability(JUDGED, PAIRS)
    fitted = rater_reliability(JUDGED, PAIRS, DawidSkene().fit(JUDGED).probas_)
    assert table["ds_accuracy"].to_list() == fitted["ds_accuracy"].to_list()
    assert all(0 <= value <= 1 for value in table["ds_accuracy"])


def test_consensus_accuracy_matches_a_plain_loop_on_mt_bench(datasets: Path) -> None:
    judged = mt_bench_votes(datasets)
    table = rater_reliability(
        judged, pl.DataFrame(schema={"pair_id": pl.String, "gold": pl.String})
    )
    # The plain loop: every pair is its own item here (no models in `pairs`); one vote each.
    by_pair: dict[str, dict[str, str]] = {}
    for pair, rater, choice in judged.iter_rows():
        by_pair.setdefault(pair, {})[rater] = choice
    hits: Counter[str] = Counter()
    trials: Counter[str] = Counter()
    for raters in by_pair.values():
        for rater, choice in raters.items():
            others = Counter(c for r, c in raters.items() if r != rater).most_common()
            if others and (len(others) == 1 or others[0][1] > others[1][1]):
                trials[rater] += 1
                hits[rater] += choice == others[0][0]
    expected = {rater: (trials[rater], hits[rater]) for rater in trials}
    found = {
        row["rater_id"]: (row["consensus_n"], round(row["consensus_accuracy"] * row["consensus_n"]))
        for row in table.iter_rows(named=True)
        if row["consensus_n"] > 0
    }
    assert found == expected
    assert len(found) == 64  # one judge never met a clear majority of others
    assert table["gold_accuracy"].is_null().all()


def test_drift_by_window() -> None:
    week_1, week_2 = datetime(2024, 1, 1, 9, tzinfo=UTC), datetime(2024, 1, 8, 9, tzinfo=UTC)
    judged = votes(
        ("p1", "r1", "a"), ("p1", "r2", "a"), ("p1", "r3", "a"),
        ("p2", "r1", "b"), ("p2", "r2", "b"), ("p2", "r3", "b"),
        ("p3", "r1", "a"), ("p3", "r2", "b"), ("p3", "r3", "b"),
        ("p4", "r1", "a"), ("p4", "r2", "a"), ("p4", "r3", "a"),
        created_at=[week_1] * 6 + [week_2] * 6,
    )  # fmt: skip
    drift = consensus_drift(judged, every="1w").filter(pl.col("rater_id") == "r1")
    assert drift.select("window", "n", "accuracy").rows() == [
        (week_1.replace(hour=0), 2, 1.0),
        (week_2.replace(hour=0), 2, 0.5),
    ]
    assert (drift["ci_low"] < drift["accuracy"]).all()


# ----------------------------------------------------------------------------- what counts


def test_retests_and_probe_pairs_do_not_move_reliability() -> None:
    # r3 retests p2 (round 1) with the other answer, and every rater votes on a probe pair t1
    # (gold b, the intended side), r1 against it. Neither is evidence of who to trust: the
    # table, Dawid-Skene and the consensus read the same votes as without them.
    pairs = pl.concat(
        [
            PAIRS.with_columns(probe_kind=pl.lit(None, pl.String)),
            pl.DataFrame(
                {"pair_id": ["t1"], "gold": ["b"], "is_gold": [False], "probe_kind": ["flattery"]}
            ),
        ]
    )
    judged = JUDGED.with_columns(round=pl.lit(0, pl.Int32))
    tests = votes(
        ("p2", "r3", "a"), ("t1", "r1", "a"), ("t1", "r2", "b"), ("t1", "r3", "b"),
        seconds=[1.0, 2.0, 3.0, 4.0], round=[1, 0, 0, 0],
    )  # fmt: skip
    tested = pl.concat([judged, tests.with_columns(pl.col("round").cast(pl.Int32))])
    assert rater_reliability(tested, pairs, POSTERIORS).equals(
        rater_reliability(JUDGED, PAIRS, POSTERIORS)
    )
    assert rater_reliability(tested, pairs).equals(rater_reliability(JUDGED, PAIRS))
    assert DawidSkene().fit(tested, pairs).probas_.equals(DawidSkene().fit(JUDGED).probas_)
    assert loo_consensus(tested, pairs).equals(loo_consensus(judged, PAIRS))
    # Without the pairs only the retest can be told: the probe votes then count as votes.
    assert DawidSkene().fit(tested).probas_["pair_id"].to_list() == ["p1", "p2", "p3", "p4", "t1"]
