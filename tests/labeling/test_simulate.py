"""The rater simulator: reproducible pairs and votes whose planted behaviour is really there."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from data import frames
from labeling.aggregation import response_features
from labeling.edits import EDITS
from labeling.rater_probes import make_probe_pairs
from labeling.simulate import (
    DETECTION_SCENARIOS,
    PLANTED_RATER,
    STUDY_RETEST_SHARE,
    ModelProfile,
    RaterProfile,
    detection_study,
    latent_truth,
    rater_pool,
    simulate_pairs,
    simulate_votes,
)


@pytest.fixture(scope="module")
def pairs() -> pl.DataFrame:
    return simulate_pairs(2000, seed=7)


def value(frame: pl.DataFrame, expr: pl.Expr) -> Any:
    """One number computed from a frame."""
    return frame.select(expr).item()


def with_truth(votes: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    return votes.join(latent_truth(pairs), on="pair_id").join(
        pairs.select("pair_id", "category"), on="pair_id"
    )


def test_pairs_follow_the_contract_and_the_seed(pairs: pl.DataFrame) -> None:
    assert pairs.schema == pl.Schema(frames.PAIRS)
    assert pairs.get_column("pair_id").is_unique().all()
    assert (pairs.get_column("model_a") != pairs.get_column("model_b")).all()
    assert_frame_equal(simulate_pairs(50, seed=7), simulate_pairs(50, seed=7))
    assert not simulate_pairs(50, seed=7).equals(simulate_pairs(50, seed=8))


def test_gold_is_the_latent_truth_on_a_share_of_pairs(pairs: pl.DataFrame) -> None:
    truth = pairs.join(latent_truth(pairs), on="pair_id")
    gold = truth.filter(pl.col("gold").is_not_null())
    assert 0.08 < gold.height / pairs.height < 0.12  # gold_share=0.1
    assert (gold.get_column("gold") == gold.get_column("truth")).all()
    assert gold.get_column("gold_principle").is_not_null().all()
    hidden = pairs.filter("is_gold")
    assert 0.03 < hidden.height / pairs.height < 0.07  # hidden_gold_share=0.05
    assert hidden.get_column("gold").is_not_null().all()
    # The stronger model's response is truly better more often than not.
    atlas_a = truth.filter(pl.col("model_a") == "atlas-70b")
    assert value(atlas_a, (pl.col("truth") == "a").mean()) > 0.6


def test_models_can_be_named_only() -> None:
    pairs = simulate_pairs(3000, models=["strong", "middle", "weak"], seed=2)
    truth = pairs.join(latent_truth(pairs), on="pair_id")
    strong_vs_weak = truth.filter((pl.col("model_a") == "strong") & (pl.col("model_b") == "weak"))
    assert value(strong_vs_weak, (pl.col("truth") == "a").mean()) > 0.6  # 0.8 apart in strength


def test_lengths_and_markdown_vary_by_model_habit(pairs: pl.DataFrame) -> None:
    features = response_features(pairs).join(pairs.select("pair_id", "model_a"), on="pair_id")
    by_model = features.group_by("model_a").agg(
        pl.col("chars_a").median().alias("chars"),
        pl.col("chars_a").std().alias("spread"),
    )
    chars = dict(by_model.select("model_a", "chars").iter_rows())
    assert chars["birch-13b"] > 1.8 * chars["dune-mini"]  # verbosity 1.8 vs 0.7
    assert value(by_model, pl.col("spread").min()) > 100  # lengths vary within a model too
    markdown = pairs.select(
        "model_a", pl.col("response_a").str.count_matches(r"(?m)^- ").alias("list_items")
    )
    items = dict(markdown.group_by("model_a").agg(pl.col("list_items").mean()).iter_rows())
    assert items["birch-13b"] > 3 * items["dune-mini"]


def test_votes_follow_the_contract_and_the_seed(pairs: pl.DataFrame) -> None:
    raters = [RaterProfile(f"r{k}") for k in range(5)]
    votes = simulate_votes(pairs.head(100), raters, votes_per_pair=3, seed=1)
    assert votes.schema == pl.Schema(frames.JUDGMENTS)
    assert votes.height == 300
    assert votes.get_column("submission_id").is_unique().all()
    per_pair = votes.group_by("pair_id").agg(pl.col("rater_id").n_unique())
    assert (per_pair.get_column("rater_id") == 3).all()  # three different raters per pair
    assert_frame_equal(votes, simulate_votes(pairs.head(100), raters, 3, seed=1))


def test_an_honest_rater_agrees_with_the_truth_at_their_skill(pairs: pl.DataFrame) -> None:
    raters = [RaterProfile("careful", skill=0.9, tie_rate=0.0), RaterProfile("sloppy", skill=0.6)]
    votes = with_truth(simulate_votes(pairs, raters, votes_per_pair=2, seed=3), pairs)
    decisive = votes.filter(pl.col("choice") != "tie")
    accuracy = dict(
        decisive.group_by("rater_id").agg((pl.col("choice") == pl.col("truth")).mean()).iter_rows()
    )
    assert accuracy["careful"] == pytest.approx(0.9, abs=0.02)  # n=2000, sd 0.007
    assert accuracy["sloppy"] == pytest.approx(0.6, abs=0.03)
    ties = votes.filter(pl.col("rater_id") == "sloppy").get_column("choice") == "tie"
    assert ties.mean() == pytest.approx(0.05, abs=0.015)  # the default tie rate


def test_planted_biases_show_in_the_votes(pairs: pl.DataFrame) -> None:
    raters = [
        RaterProfile("left", position_bias=1.0),
        RaterProfile("long", length_bias=1.5),
        RaterProfile("coder", weak_category="coding", weak_skill=0.3),
        RaterProfile("spam", spam=True),
        RaterProfile("tired", skill=0.95, drift=0.5),
    ]
    votes = with_truth(simulate_votes(pairs, raters, votes_per_pair=5, seed=4), pairs)
    votes = votes.join(response_features(pairs).select("pair_id", "length", "chars"), "pair_id")
    decisive = votes.filter(pl.col("choice") != "tie")

    def share(rater: str, expr: pl.Expr, frame: pl.DataFrame = decisive) -> float:
        return float(frame.filter(pl.col("rater_id") == rater).select(expr.mean()).item())

    left = pl.col("choice") == pl.col("shown_left")
    assert share("left", left) > 0.6
    assert share("long", left) == pytest.approx(0.5, abs=0.04)
    longer = pl.col("choice") == pl.when(pl.col("length") > 0).then(pl.lit("a")).otherwise(
        pl.lit("b")
    )
    assert share("long", longer) > share("left", longer) + 0.1
    coding = decisive.filter(pl.col("category") == "coding")
    correct = pl.col("choice") == pl.col("truth")
    assert share("coder", correct, coding) < 0.4
    assert share("coder", correct) > 0.7  # only coding is weak
    assert share("spam", correct) == pytest.approx(0.5, abs=0.05)
    assert share("spam", pl.col("seconds") / pl.col("chars") * 1000 < 5.0) > 0.9
    assert share("left", pl.col("seconds") / pl.col("chars") * 1000 > 10.0) > 0.95
    tired = decisive.filter(pl.col("rater_id") == "tired").sort("created_at")
    first, last = tired.head(tired.height // 4), tired.tail(tired.height // 4)
    assert share("tired", correct, first) > share("tired", correct, last) + 0.25


def test_votes_spread_over_days_with_balanced_sides(pairs: pl.DataFrame) -> None:
    votes = simulate_votes(pairs, [RaterProfile("r1"), RaterProfile("r2")], 2, seed=5, days=10)
    span = value(votes, pl.col("created_at").max() - pl.col("created_at").min())
    assert timedelta(days=9.9) < span <= timedelta(days=10)
    assert votes.get_column("created_at").is_sorted()
    assert value(votes, (pl.col("shown_left") == "a").mean()) == pytest.approx(0.5, abs=0.02)
    decisive = votes.filter(pl.col("choice") != "tie")
    assert decisive.get_column("strength").is_in([1, 2, 3]).all()
    assert votes.filter(pl.col("choice") == "tie").get_column("strength").is_null().all()
    cited = votes.get_column("principles").list.len()
    assert cited.is_in([0, 1]).all() and cited.mean() == pytest.approx(0.6, abs=0.03)


def test_a_pool_plants_one_blind_spot_in_a_share_of_raters() -> None:
    pool = rater_pool(70, seed=2, planted_share=0.2)
    assert len({r.rater_id for r in pool}) == 70
    planted = [
        r
        for r in pool
        if (r.position_bias, r.length_bias, r.style_bias, r.spam, r.drift, r.weak_category)
        != (0.0, 0.0, 0.0, False, 0.0, None)
        or r.tie_rate > 0.2
    ]
    assert len(planted) == 14
    assert all(0.75 <= r.skill <= 0.92 for r in pool if r not in planted)


def test_a_rater_who_clicks_without_reading_takes_the_same_time_on_every_pair(
    pairs: pl.DataFrame,
) -> None:
    raters = [RaterProfile("reader"), RaterProfile("clicker", skill=0.4, click_seconds=1.6)]
    votes = with_truth(simulate_votes(pairs, raters, 2, seed=4), pairs)
    clicker = votes.filter(pl.col("rater_id") == "clicker")
    assert value(clicker, pl.col("seconds").median()) == pytest.approx(1.6, abs=0.1)
    decisive = clicker.filter(pl.col("choice") != "tie")
    assert value(decisive, (pl.col("choice") == pl.col("truth")).mean()) == pytest.approx(
        0.4, abs=0.03
    )
    reader = votes.filter(pl.col("rater_id") == "reader")
    assert value(reader, pl.col("seconds").median()) > 20
    # Pools without such a rater vote exactly as before the option existed.
    plain = simulate_votes(pairs, [RaterProfile("r1"), RaterProfile("r2")], 2, seed=4)
    assert_frame_equal(
        plain,
        simulate_votes(
            pairs, [RaterProfile("r1"), RaterProfile("r2", click_seconds=None)], 2, seed=4
        ),
    )


@pytest.mark.parametrize("scenario", list(DETECTION_SCENARIOS))
def test_detection_study_pools_plant_one_blind_spot(scenario: str) -> None:
    pairs, all_votes = detection_study(scenario, seed=1)
    bases = pairs.filter(pl.col("probe_kind").is_null())
    votes = all_votes.filter(
        (pl.col("round") == 0) & pl.col("pair_id").is_in(bases["pair_id"].implode())
    )
    assert bases.height == 1200 and votes.height == 3600  # 16 raters x 225 votes
    assert votes["rater_id"].n_unique() == 16
    truth = with_truth(votes, pairs).with_columns(
        (pl.col("choice") == pl.col("truth")).alias("right"),
        (pl.col("rater_id") == PLANTED_RATER).alias("planted"),
    )
    weak_slice, _ = DETECTION_SCENARIOS[scenario]
    if scenario in ("category", "gold"):
        weak = truth.filter(pl.col("planted") & (pl.col("category") == weak_slice))
        assert value(weak, pl.col("right").mean()) == pytest.approx(0.47, abs=0.1)
    if scenario == "principle":
        weak = truth.filter(pl.col("planted") & (pl.col("principle") == weak_slice))
        assert value(weak, pl.col("right").mean()) == pytest.approx(0.47, abs=0.1)
    gold_share = value(bases, pl.col("gold").is_not_null().mean())
    assert gold_share == pytest.approx(0.5 if scenario == "gold" else 0.1, abs=0.03)
    timed = truth.filter(pl.col("seconds").is_not_null())
    if scenario == "fast, others untimed":
        assert timed["rater_id"].unique().to_list() == [PLANTED_RATER]
    else:
        assert timed.height == votes.height
    if scenario.startswith("fast"):
        planted = truth.filter("planted")
        assert value(planted, pl.col("seconds").median()) == pytest.approx(1.6, abs=0.1)
    probes = pairs.filter(pl.col("probe_kind").is_not_null())
    retests = all_votes.filter(pl.col("round") == 1)
    if scenario == "flattery":
        # Every edit, made from a sixth of the pairs that had an intended answer.
        assert set(probes["probe_kind"]) == set(EDITS)
        assert probes["probe_of"].is_in(bases["pair_id"].implode()).all()
        edited = edited_picks(all_votes, pairs)
        assert edited[(PLANTED_RATER, "flattery")] == pytest.approx(0.55, abs=0.2)
        honest = [share for (rater, _), share in edited.items() if rater != PLANTED_RATER]
        assert sum(honest) / len(honest) == pytest.approx(0.15, abs=0.05)
    else:
        assert probes.is_empty()
    if scenario == "inconsistent":
        assert retests.height / votes.height == pytest.approx(STUDY_RETEST_SHARE, abs=0.03)
        again = retest_agreement(all_votes)
        assert again[PLANTED_RATER] == pytest.approx(0.55, abs=0.12)
        assert min(share for rater, share in again.items() if rater != PLANTED_RATER) > 0.75
    else:
        assert retests.is_empty()
    with pytest.raises(ValueError, match="unknown scenario"):
        detection_study("sloppy")


def edited_picks(votes: pl.DataFrame, pairs: pl.DataFrame) -> dict[tuple[str, str], float]:
    """Per rater and probe kind, the share of decisive probe votes for the edited side."""
    on_probes = votes.join(pairs.select("pair_id", "probe_kind", "gold"), on="pair_id").filter(
        pl.col("probe_kind").is_not_null() & pl.col("choice").is_in(["a", "b"])
    )
    shares = on_probes.group_by("rater_id", "probe_kind").agg(
        (pl.col("choice") != pl.col("gold")).mean().alias("edited")
    )
    return {(rater, kind): edited for rater, kind, edited in shares.iter_rows()}


def retest_agreement(votes: pl.DataFrame) -> dict[str, float]:
    """Per rater, the share of retests (round 1) answered as in round 0."""
    first = votes.filter(pl.col("round") == 0).select("pair_id", "rater_id", "choice")
    again = votes.filter(pl.col("round") == 1).join(
        first, on=["pair_id", "rater_id"], suffix="_first"
    )
    shares = again.group_by("rater_id").agg((pl.col("choice") == pl.col("choice_first")).mean())
    return dict(shares.iter_rows())


def probe_pairs(pairs: pl.DataFrame, votes: pl.DataFrame, kinds: list[str]) -> pl.DataFrame:
    """Probe pairs of ``kinds`` made from ``pairs`` (``rater_probes``, the builder itself)."""
    return make_probe_pairs(pairs, votes, kinds, seed=1).pairs


def test_probe_pairs_are_voted_against_their_intended_side(pairs: pl.DataFrame) -> None:
    bases = pairs.head(600).with_columns(
        pl.col("gold").fill_null(pl.col("metadata").str.json_path_match("$.truth"))
    )
    probes = probe_pairs(bases, frames.empty(frames.JUDGMENTS), ["flattery", "length"])
    assert probes.height == 1200
    raters = [
        RaterProfile("honest", skill=0.9, tie_rate=0.0),
        RaterProfile("flattered", skill=0.9, tie_rate=0.0, probe_bias={"flattery": 0.6}),
    ]
    votes = simulate_votes(probes, raters, votes_per_pair=2, seed=2)
    edited = edited_picks(votes, probes)
    assert edited[("honest", "flattery")] == pytest.approx(0.1, abs=0.03)
    assert edited[("honest", "length")] == pytest.approx(0.1, abs=0.03)
    # Swayed on 60% of the flattery probes, 10% wrong on the rest: 64% for the edited side.
    assert edited[("flattered", "flattery")] == pytest.approx(0.64, abs=0.05)
    assert edited[("flattered", "length")] == pytest.approx(0.1, abs=0.03)
    assert votes.filter(pl.col("principles").list.len() > 0).is_empty(), "probes cite nothing"


def test_retests_are_served_later_with_the_sides_swapped(pairs: pl.DataFrame) -> None:
    raters = [
        RaterProfile("steady", inconsistency=0.0),
        RaterProfile("fickle", inconsistency=1.0, tie_rate=0.0),
    ]
    votes = simulate_votes(pairs, raters, votes_per_pair=2, seed=6, retest_share=0.25)
    assert votes.schema == pl.Schema(frames.JUDGMENTS)
    assert votes.get_column("submission_id").is_unique().all()
    assert votes.get_column("created_at").is_sorted()
    first = votes.filter(pl.col("round") == 0)
    again = votes.filter(pl.col("round") == 1).join(
        first, on=["pair_id", "rater_id"], suffix="_first"
    )
    assert first.height == 4000
    assert again.height == votes.height - 4000
    assert again.height / first.height == pytest.approx(0.25, abs=0.02)
    assert (again["shown_left"] != again["shown_left_first"]).all()
    assert (again["created_at"] >= again["created_at_first"]).all()
    agreement = retest_agreement(votes)
    assert agreement["steady"] == 1.0
    assert agreement["fickle"] == pytest.approx(0.5, abs=0.06)  # a coin flip every time


def test_pools_without_probes_or_retests_vote_as_before(pairs: pl.DataFrame) -> None:
    plain = simulate_votes(pairs, [RaterProfile("r1"), RaterProfile("r2")], 2, seed=4)
    prone = [RaterProfile("r1", probe_bias={"flattery": 0.9}), RaterProfile("r2")]
    assert_frame_equal(plain, simulate_votes(pairs, prone, 2, seed=4))
    assert_frame_equal(plain, simulate_votes(pairs, prone, 2, seed=4, retest_share=0.0))


def test_too_few_raters_or_models_is_refused() -> None:
    with pytest.raises(ValueError, match="at least two models"):
        simulate_pairs(5, models=[ModelProfile("solo")])
    with pytest.raises(ValueError, match="votes_per_pair=3"):
        simulate_votes(simulate_pairs(5), [RaterProfile("a"), RaterProfile("b")], 3)


@pytest.mark.slow
def test_a_million_votes() -> None:
    pairs = simulate_pairs(200_000, seed=0)
    votes = simulate_votes(pairs, rater_pool(1000), votes_per_pair=5, seed=0)
    assert votes.height == 1_000_000
    assert votes.get_column("rater_id").n_unique() == 1000
    assert value(votes, (pl.col("choice") == "tie").mean()) == pytest.approx(0.06, abs=0.03)
