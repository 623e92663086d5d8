"""The raters' blind spots tested on the model: a reward that favours length the way one rater
does is flagged beside that rater, and a reward that follows the intended answer is not."""

from __future__ import annotations

import random

import polars as pl
import pytest

from data import frames
from labeling.preference_set import build_preferences
from reward.inherited import inherited, model_votes, side_by_side
from reward.inspection import build_report
from reward.snapshot import pairs_from_preferences

N_PAIRS = 80
HONEST = ("h1", "h2", "h3", "h4")
LENGTH_LOVER = "r_long"
MODEL = "model:test"


def _pairs() -> pl.DataFrame:
    """Pairs where the better side (gold) is the longer one half the time, lengths varied."""
    rng = random.Random(0)
    rows = []
    for i in range(N_PAIRS):
        good, bad = rng.randint(5, 80), rng.randint(5, 80)
        good_text, bad_text = f"correct {i} " + "fine " * good, f"wrong {i} " + "meh " * bad
        good_is_a = i % 2 == 0
        rows.append(
            {
                "pair_id": f"p{i:03d}",
                "prompt": f"question {i}",
                "response_a": good_text if good_is_a else bad_text,
                "response_b": bad_text if good_is_a else good_text,
                "gold": "a" if good_is_a else "b",
                "category": "general",
            }
        )
    return frames.conform(pl.DataFrame(rows), frames.PAIRS)


def _longer(pair: dict[str, str]) -> str:
    return "a" if len(pair["response_a"]) >= len(pair["response_b"]) else "b"


def _other(side: str) -> str:
    return "b" if side == "a" else "a"


def _judgments(pairs: pl.DataFrame) -> pl.DataFrame:
    """Honest raters pick gold (one in ten wrong at random); r_long picks the longer side
    four times in five."""
    rng = random.Random(1)
    votes = []
    for i, pair in enumerate(pairs.iter_rows(named=True)):
        for rater in HONEST:
            choice = pair["gold"] if rng.random() > 0.1 else _other(pair["gold"])
            votes.append((pair["pair_id"], rater, choice))
        longer = _longer(pair)
        votes.append((pair["pair_id"], LENGTH_LOVER, longer if i % 5 else _other(longer)))
    frame = pl.DataFrame(votes, schema=["pair_id", "rater_id", "choice"], orient="row")
    return frames.conform(
        frame.with_columns(submission_id=pl.concat_str("pair_id", "rater_id")),
        frames.JUDGMENTS,
    )


def _scores(pairs: pl.DataFrame, pick: str) -> pl.DataFrame:
    """A reward that picks the longer side four times in five, or always the gold side."""
    rows = []
    for i, pair in enumerate(pairs.iter_rows(named=True)):
        longer = _longer(pair)
        side = (longer if i % 5 else _other(longer)) if pick == "longer" else pair["gold"]
        rows.append((pair["pair_id"], float(side == "a"), float(side == "b")))
    return pl.DataFrame(rows, schema=["pair_id", "reward_a", "reward_b"], orient="row")


def test_the_model_votes_for_the_side_it_rewards_more() -> None:
    scores = pl.DataFrame(
        {"pair_id": ["p1", "p2", "p3"], "reward_a": [1.0, -2.0, 0.5], "reward_b": [0.0, 3.0, 0.5]}
    )
    votes = model_votes(scores, MODEL)
    assert votes.columns == list(frames.JUDGMENTS)
    assert votes["choice"].to_list() == ["a", "b", "tie"]
    assert votes["rater_id"].unique().to_list() == [MODEL]


def test_a_length_loving_reward_is_flagged_beside_the_length_loving_rater() -> None:
    pairs = _pairs()
    findings = side_by_side(pairs, _judgments(pairs), _scores(pairs, "longer"), MODEL)
    flagged = findings.filter("flagged")
    assert set(flagged.filter(pl.col("kind") == "length")["rater_id"]) == {MODEL, LENGTH_LOVER}
    assert not flagged.filter(pl.col("rater_id").is_in(HONEST)).height
    (shared,) = [row for row in inherited(findings, MODEL) if row["kind"] == "length"]
    assert [r["rater_id"] for r in shared["raters"]] == [LENGTH_LOVER]
    assert shared["effect"] > 0
    assert shared["message"].startswith("The model may have inherited the length blind spot")


def test_a_reward_that_follows_gold_inherits_nothing() -> None:
    pairs = _pairs()
    findings = side_by_side(pairs, _judgments(pairs), _scores(pairs, "gold"), MODEL)
    model = findings.filter(pl.col("is_model"))
    assert set(model["kind"]) >= {"length", "style"}, "the model was tested"
    assert not model["flagged"].any()
    assert inherited(findings, MODEL) == []
    assert findings.filter(pl.col("flagged") & (pl.col("kind") == "length"))[
        "rater_id"
    ].to_list() == [LENGTH_LOVER], "the rater's own finding does not depend on the model"


@pytest.mark.parametrize("pick", ["longer", "gold"])
def test_the_report_carries_the_side_by_side(pick: str) -> None:
    pairs = _pairs()
    judgments = _judgments(pairs)
    preferences = build_preferences(pairs, judgments)
    # Scores follow the preferences' own a/b sides, which are the pairs' sides.
    scores = _scores(pairs_from_preferences(preferences), pick)
    report = build_report(preferences, scores, judgments, model_id="test")
    side = report["side_by_side"]
    assert side["model_rater_id"] == MODEL
    assert {row["kind"] for row in side["model"]} >= {"length", "style"}
    assert {row["rater_id"] for row in side["raters"]} == {LENGTH_LOVER}
    assert bool(side["inherited"]) == (pick == "longer")
