"""Accuracy, ceiling, calibration and divergences on four pairs worked out by hand, and the
reliability table against scikit-learn's."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from sklearn.calibration import calibration_curve

from data import frames
from labeling.preference_set import ExportOptions, build_preferences
from reward import metrics

VOTES = {
    "p1": [("r1", "a"), ("r2", "a"), ("r3", "a")],  # unanimous for a
    "p2": [("r1", "b"), ("r2", "b"), ("r3", "a")],  # b, r3 dissents
    "p3": [("r1", "a"), ("r2", "b")],  # a tie
    "p4": [("r1", "a"), ("r2", "a"), ("r3", "b")],  # a, but gold says b
}
#: reward_a, reward_b per pair.
SCORES = {"p1": (0.0, 2.0), "p2": (1.0, 0.0), "p3": (3.0, 0.0), "p4": (1.0, 0.0)}


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@pytest.fixture
def judgments() -> pl.DataFrame:
    when = datetime(2025, 1, 1, tzinfo=UTC)
    rows = [
        {"submission_id": f"{pair}-{rater}", "pair_id": pair, "rater_id": rater, "choice": choice,
         "created_at": when, "rationale": f"{rater} on {pair}"}
        for pair, votes in VOTES.items()
        for rater, choice in votes
    ]  # fmt: skip
    return frames.conform(pl.DataFrame(rows), frames.JUDGMENTS)


@pytest.fixture
def evaluated(judgments: pl.DataFrame) -> pl.DataFrame:
    pairs = pl.DataFrame(
        {
            "pair_id": list(VOTES),
            "prompt": ["q1", "q2", "q3", "q4"],
            "response_a": ["a1", "a2", "a3", "a4"],
            "response_b": ["b1", "b2", "b3", "b4"],
            "category": ["x", "x", "y", "y"],
            "gold": [None, None, None, "b"],
        }
    )
    preferences = build_preferences(pairs, judgments, ExportOptions(ties="soft"))
    scores = pl.DataFrame(
        {"pair_id": list(SCORES), "reward_a": [s[0] for s in SCORES.values()],
         "reward_b": [s[1] for s in SCORES.values()]}
    )  # fmt: skip
    return metrics.evaluate_scores(preferences, scores)


def test_evaluated_rows(evaluated: pl.DataFrame) -> None:
    assert evaluated["p_a"].to_list() == pytest.approx(
        [sigmoid(-2), sigmoid(1), sigmoid(3), sigmoid(1)]
    )
    assert evaluated["model_side"].to_list() == ["b", "a", "a", "a"]
    assert evaluated["correct"].to_list() == [False, False, None, True]
    assert evaluated["vote_share_a"].to_list() == pytest.approx([1, 1 / 3, 1 / 2, 2 / 3])
    assert evaluated["vote_agreement"].to_list() == pytest.approx([0, 1 / 3, 1 / 2, 2 / 3])
    assert evaluated["agreement_bin"].to_list() == ["1 (unanimous)", "0.6-0.8", "<0.6", "0.6-0.8"]
    assert set(evaluated["model_pair"]) == {"? vs ?"}


def test_accuracy_overall_and_by_category_against_the_ceiling(evaluated: pl.DataFrame) -> None:
    overall = metrics.accuracy(evaluated).row(0, named=True)
    assert overall["n"] == 4 and overall["n_decided"] == 3
    assert overall["accuracy"] == pytest.approx(1 / 3)
    assert overall["vote_agreement"] == pytest.approx((0 + 1 / 3 + 1 / 2 + 2 / 3) / 4)
    assert overall["ceiling"] == pytest.approx((1 + 2 / 3 + 1 / 2 + 2 / 3) / 4)
    by_category = metrics.accuracy(evaluated, by="category")
    assert by_category.select("category", "n", "n_decided", "accuracy").rows() == [
        ("x", 2, 2, 0.0),
        ("y", 2, 1, 1.0),
    ]


def test_accuracy_by_the_principles_the_votes_cited(
    evaluated: pl.DataFrame, judgments: pl.DataFrame
) -> None:
    cited = {
        ("p1", "r1"): ["honesty"],
        ("p1", "r2"): ["honesty", "harmlessness"],
        ("p2", "r3"): ["honesty"],
        ("p4", "r1"): ["harmlessness"],
        ("p4", "r2"): ["harmlessness", "harmlessness"],
    }
    judgments = judgments.with_columns(
        pl.Series(
            "principles",
            [
                cited.get((row["pair_id"], row["rater_id"]))
                for row in judgments.iter_rows(named=True)
            ],
            dtype=pl.List(pl.String()),
        )
    )
    table = metrics.accuracy_by_principle(evaluated, judgments)
    # p1 (wrong) and p2 (wrong) cite honesty; p1 and p4 (right) cite harmlessness, p4 once.
    assert table.select("principle", "n", "n_decided", "accuracy").rows() == [
        ("harmlessness", 2, 2, 0.5),
        ("honesty", 2, 2, 0.0),
    ]


def test_gold_accuracy_is_reported_beside_the_votes(evaluated: pl.DataFrame) -> None:
    assert metrics.gold_accuracy(evaluated) == {"n": 1, "model": 0.0, "votes": 0.0}


def test_gold_accuracy_by_the_principle_the_intended_answer_rests_on(
    evaluated: pl.DataFrame,
) -> None:
    # p2 and p3 get gold too: on p2 (gold b) the model says a, the votes b; p3 is a tie the
    # model gives to a (gold a). p4 (gold b) has no principle and is left out.
    with_gold = evaluated.with_columns(
        gold=pl.Series([None, "b", "a", "b"]),
        gold_principle=pl.Series([None, "honesty", "honesty", None]),
    )
    table = metrics.gold_accuracy_by_principle(with_gold)
    assert table.rows() == [("honesty", 2, 0.5, 0.5)]


def test_divergences_name_each_kind_with_votes_and_rationales(
    evaluated: pl.DataFrame, judgments: pl.DataFrame
) -> None:
    found = metrics.divergences(evaluated, judgments, confident=0.8, flagged_raters=["r3"])
    assert sorted(zip(found["kind"], found["pair_id"], strict=True)) == [
        ("agrees with the votes, against gold", "p4"),
        ("confident on a contested pair", "p3"),
        ("confidently wrong on a unanimous pair", "p1"),
        ("sides with a flagged rater", "p2"),
    ]
    p2 = found.filter(pl.col("pair_id") == "p2").row(0, named=True)
    assert (p2["response_a"], p2["response_b"], p2["chosen_side"]) == ("a2", "b2", "b")
    assert [vote["rationale"] for vote in p2["votes"]] == ["r1 on p2", "r2 on p2", "r3 on p2"]


def test_calibration_matches_scikit_learn_on_single_votes() -> None:
    rng = np.random.default_rng(0)
    p_a = rng.uniform(0.01, 0.99, 400)
    votes_a = (rng.uniform(size=400) < p_a).astype(int)
    evaluated = pl.DataFrame({"p_a": p_a, "vote_share_a": votes_a.astype(float)})
    table = metrics.calibration(evaluated, bins=10)
    observed, predicted = calibration_curve(votes_a, p_a, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(table["observed"].to_numpy(), observed)
    np.testing.assert_allclose(table["predicted"].to_numpy(), predicted)
    assert table["n"].sum() == 400
    assert 0 < metrics.expected_calibration_error(table) < 0.1  # calibrated by construction
