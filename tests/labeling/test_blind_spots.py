"""Blind spots: each check on a hand-checkable fixture, against reference statistics, and on a
simulated pool where the planted raters must be found and the honest ones left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests

from data import frames
from labeling.blind_spots import (
    FINDINGS,
    KINDS,
    MIN_VOTES,
    TIE_RATIO,
    audit_votes,
    benjamini_hochberg,
    check_category,
    check_drift,
    check_gold,
    check_length,
    check_position,
    check_principle,
    check_speed,
    check_style,
    check_ties,
    find_blind_spots,
)
from labeling.simulate import RaterProfile, simulate_pairs, simulate_votes

START = datetime(2025, 3, 3, tzinfo=UTC)
#: Every fixture pair reads 1,000 characters: prompt 100, each response 450.
PROMPT, RESPONSE = "q" * 100, "r" * 450


def gold_pairs(categories: list[str], gold: str = "a") -> pl.DataFrame:
    """One pair per entry of ``categories``, all with gold ``gold`` so agreement is by hand."""
    n = len(categories)
    return frames.conform(
        pl.DataFrame(
            {
                "pair_id": [f"p{i:03d}" for i in range(n)],
                "prompt": [PROMPT] * n,
                "response_a": [RESPONSE] * n,
                "response_b": [RESPONSE] * n,
                "category": categories,
                "gold": [gold] * n,
            }
        ),
        frames.PAIRS,
    )


def vote(pair_id: str, rater_id: str, choice: str, **extra: Any) -> dict[str, Any]:
    return {"pair_id": pair_id, "rater_id": rater_id, "choice": choice} | extra


def judgments(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Judgments with a minute between votes and 60 s per vote unless a row says otherwise."""
    filled = [
        {"seconds": 60.0, "created_at": START + timedelta(minutes=k), "shown_left": "a"} | row
        for k, row in enumerate(rows)
    ]
    return frames.conform(pl.DataFrame(filled), frames.JUDGMENTS)


def only(findings: pl.DataFrame, rater_id: str, slice_: str | None = None) -> dict[str, Any]:
    rows = findings.filter(pl.col("rater_id") == rater_id)
    if slice_ is not None:
        rows = rows.filter(pl.col("slice") == slice_)
    assert rows.height == 1
    return rows.row(0, named=True)


def agreement_votes(rater: str, pairs: list[str], n_correct: int) -> list[dict[str, Any]]:
    """Votes of ``rater`` on ``pairs`` (gold 'a'): the first ``n_correct`` agree with gold."""
    return [vote(p, rater, "a" if k < n_correct else "b") for k, p in enumerate(pairs)]


def value(frame: pl.DataFrame, expr: pl.Expr) -> Any:
    """One number computed from a frame."""
    return frame.select(expr).item()


def ids(start: int, stop: int) -> list[str]:
    return [f"p{i:03d}" for i in range(start, stop)]


# -- position ----------------------------------------------------------------------------------


def test_a_rater_who_always_picks_left_is_far_beyond_chance() -> None:
    pairs = gold_pairs(["x"] * 30)
    rows = [
        vote(p, "r07", side, shown_left=side)  # picks whichever response is on the left
        for p, side in zip(ids(0, 30), ["a", "b"] * 15, strict=True)
    ]
    found = only(check_position(audit_votes(judgments(rows), pairs)), "r07")
    assert found["p_value"] < 1e-8
    assert found["p_value"] == pytest.approx(stats.binomtest(30, 30).pvalue)
    assert found["effect"] == 0.5 and found["n"] == 30
    assert found["message"].startswith("r07 picked the response shown on the left in 100% of 30")


@pytest.mark.parametrize("k", [0, 9, 15, 21, 26])
def test_position_p_value_is_the_exact_binomial_test(k: int) -> None:
    pairs = gold_pairs(["x"] * 30)
    rows = [vote(p, "r1", "a", shown_left="a" if i < k else "b") for i, p in enumerate(ids(0, 30))]
    found = only(check_position(audit_votes(judgments(rows), pairs)), "r1")
    reference = stats.binomtest(k, 30, 0.5)
    assert found["p_value"] == pytest.approx(reference.pvalue, rel=1e-9)
    low, high = reference.proportion_ci(method="exact")
    assert (found["ci_low"], found["ci_high"]) == pytest.approx((low - 0.5, high - 0.5))


def test_ties_and_unknown_sides_do_not_count_for_position() -> None:
    pairs = gold_pairs(["x"] * 40)
    rows = [vote(p, "r1", "a") for p in ids(0, 25)]
    rows += [vote(p, "r1", "tie") for p in ids(25, 35)]
    rows += [vote(p, "r1", "a", shown_left=None) for p in ids(35, 40)]
    assert only(check_position(audit_votes(judgments(rows), pairs)), "r1")["n"] == 25
    few = judgments(rows[: MIN_VOTES - 1])
    assert check_position(audit_votes(few, pairs)).height == 0  # too few votes to test


# -- ties --------------------------------------------------------------------------------------


def test_ties_against_twice_the_other_raters_rate() -> None:
    pairs = gold_pairs(["x"] * 60)
    rows = [vote(p, "happy", "tie" if i < 12 else "a") for i, p in enumerate(ids(0, 30))]
    for rater in ("r1", "r2"):
        rows += [vote(p, rater, "tie" if i < 3 else "a") for i, p in enumerate(ids(0, 60))]
    found = check_ties(audit_votes(judgments(rows), pairs))
    happy = only(found, "happy")
    others = 6 / 120
    reference = stats.binomtest(12, 30, TIE_RATIO * others, alternative="greater")
    assert happy["p_value"] == pytest.approx(reference.pvalue, rel=1e-9)
    assert happy["effect"] == pytest.approx(12 / 30 - others)
    assert happy["message"] == "happy called 40% of 30 votes a tie vs 5% for the other raters"
    assert only(found, "r1")["p_value"] > 0.5


# -- length and style --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def biased_pool() -> tuple[pl.DataFrame, pl.DataFrame]:
    pairs = simulate_pairs(900, seed=11)
    raters = [RaterProfile(f"h{k}") for k in range(5)] + [
        RaterProfile("long", length_bias=1.2),
        RaterProfile("fancy", style_bias=1.2),
        RaterProfile("tired", skill=0.95, drift=0.6),
    ]
    return simulate_votes(pairs, raters, votes_per_pair=5, seed=11), pairs


def statsmodels_fit(rows: pl.DataFrame, y: str, columns: list[str]) -> Any:
    design = np.column_stack([np.ones(rows.height), *(rows[c].to_numpy() for c in columns)])
    return sm.Logit(rows[y].to_numpy().astype(float), design).fit(disp=0, tol=1e-12)


@pytest.mark.parametrize(("kind", "check", "rater"), [
    ("length", check_length, "long"), ("style", check_style, "fancy"),
])  # fmt: skip
def test_length_and_style_slopes_are_logistic_regressions(
    biased_pool: tuple[pl.DataFrame, pl.DataFrame], kind: str, check: Any, rater: str
) -> None:
    votes = audit_votes(*biased_pool)
    found = check(votes)
    decisive = votes.filter((pl.col("rater_id") == rater) & pl.col("choice").is_in(["a", "b"]))
    decisive = decisive.with_columns((pl.col("choice") == "a").alias("chose_a"))
    reference = statsmodels_fit(decisive, "chose_a", ["reference_sign", "length", "markdown"])
    column = 2 if kind == "length" else 3
    planted = only(found, rater)
    assert planted["effect"] == pytest.approx(reference.params[column], abs=1e-6)
    half_width = (planted["ci_high"] - planted["ci_low"]) / 2
    assert half_width == pytest.approx(1.959964 * reference.bse[column], abs=1e-5)
    assert planted["p_value"] == pytest.approx(reference.pvalues[column], rel=1e-4)
    assert planted["p_value"] < 1e-4 and planted["effect"] > 0.5
    favoured = "longer response" if kind == "length" else "response with more Markdown (head"
    assert planted["message"].startswith(f"{rater} favours the {favoured}")
    honest = found.filter(pl.col("rater_id").str.starts_with("h"))
    assert value(honest, pl.col("p_value").min()) > 0.001


# -- speed -------------------------------------------------------------------------------------


def test_fast_votes_that_agree_less_are_a_speed_finding() -> None:
    pairs = gold_pairs(["x"] * 200)
    # "rusher": 20 votes in 2 s on 1,000 characters, 8 agree with gold; 10 normal votes.
    rows = agreement_votes("rusher", ids(0, 20), 8)
    rows = [row | {"seconds": 2.0} for row in rows] + agreement_votes("rusher", ids(20, 30), 9)
    # Everyone else reads at a normal pace: 170 of 190 agree.
    rows += agreement_votes("careful", ids(0, 190), 170)
    found = only(check_speed(audit_votes(judgments(rows), pairs)), "rusher")
    # Fast: 8 of 20; normal (everyone's): 170 + 9 of 200.
    reference = stats.fisher_exact([[8, 12], [179, 21]], alternative="less")
    assert found["p_value"] == pytest.approx(reference.pvalue, rel=1e-9)
    assert found["effect"] == pytest.approx(8 / 20 - 179 / 200)
    assert found["n"] == 20 and found["slice"] == "< 5 s per 1k chars"
    assert found["message"] == (
        "rusher judged 20 of 30 pairs faster than 5 s per 1,000 characters and agreed with "
        "the reference on 40% of those vs 90% of normal-speed votes"
    )


def test_fast_but_accurate_is_not_a_speed_problem() -> None:
    pairs = gold_pairs(["x"] * 100)
    rows = [row | {"seconds": 2.0} for row in agreement_votes("skimmer", ids(0, 40), 36)]
    rows += agreement_votes("careful", ids(0, 100), 88)
    assert only(check_speed(audit_votes(judgments(rows), pairs)), "skimmer")["p_value"] > 0.5


# -- category, principle, gold -----------------------------------------------------------------


def test_category_must_fall_below_both_the_rater_elsewhere_and_the_peers() -> None:
    pairs = gold_pairs(["coding"] * 40 + ["writing"] * 30)
    rows = agreement_votes("r07", ids(0, 12), 4)  # coding: 4 of 12
    rows += agreement_votes("r07", ids(40, 70), 27)  # elsewhere: 27 of 30
    rows += agreement_votes("peer", ids(0, 40), 36)  # others on coding: 36 of 40
    rows += agreement_votes("peer", ids(40, 70), 25)
    found = only(check_category(audit_votes(judgments(rows), pairs)), "r07", "coding")
    own = stats.fisher_exact([[4, 8], [27, 3]], alternative="less").pvalue
    peers = stats.fisher_exact([[4, 8], [36, 4]], alternative="less").pvalue
    assert found["p_value"] == pytest.approx(max(own, peers), rel=1e-9)
    assert found["effect"] == pytest.approx(4 / 12 - 27 / 30)
    assert found["message"] == (
        "r07 agrees with the reference on coding 33% vs 90% elsewhere (other raters: 90%; n=12)"
    )


def test_a_weak_slice_where_everyone_is_weak_is_not_flagged() -> None:
    pairs = gold_pairs(["hard"] * 40 + ["easy"] * 30)
    rows = agreement_votes("r1", ids(0, 12), 4) + agreement_votes("r1", ids(40, 70), 27)
    rows += agreement_votes("peer", ids(0, 40), 14) + agreement_votes("peer", ids(40, 70), 27)
    found = only(check_category(audit_votes(judgments(rows), pairs)), "r1", "hard")
    assert found["p_value"] > 0.3  # below the rater's own level, but not below the peers'


def test_principle_slices_are_the_principles_a_rater_cites() -> None:
    pairs = gold_pairs(["x"] * 60)
    rows = [
        row | {"principles": ["honesty"] if i < 15 else ["helpfulness"]}
        for i, row in enumerate(
            agreement_votes("r1", ids(0, 15), 5) + agreement_votes("r1", ids(15, 45), 27)
        )
    ]
    rows += [
        row | {"principles": ["honesty", "honesty"]}  # cited twice, counted once
        for row in agreement_votes("peer", ids(0, 60), 54)
    ]
    found = check_principle(audit_votes(judgments(rows), pairs))
    honesty = only(found, "r1", "honesty")
    own = stats.fisher_exact([[5, 10], [27, 3]], alternative="less").pvalue
    peers = stats.fisher_exact([[5, 10], [54, 6]], alternative="less").pvalue
    assert honesty["p_value"] == pytest.approx(max(own, peers), rel=1e-9)
    assert honesty["message"].startswith("r1 agrees with the reference when citing honesty 33%")


def test_gold_finds_missed_gold_items_of_one_kind() -> None:
    pairs = gold_pairs(["fabrication"] * 30 + ["coding"] * 30)
    pairs = pairs.with_columns(pl.lit(True).alias("is_gold"))
    rows = agreement_votes("r07", ids(0, 10), 3) + agreement_votes("r07", ids(30, 50), 18)
    rows += agreement_votes("peer", ids(0, 30), 27) + agreement_votes("peer", ids(30, 60), 27)
    found = only(check_gold(audit_votes(judgments(rows), pairs)), "r07", "fabrication")
    own = stats.fisher_exact([[3, 7], [18, 2]], alternative="less").pvalue
    peers = stats.fisher_exact([[3, 7], [27, 3]], alternative="less").pvalue
    assert found["p_value"] == pytest.approx(max(own, peers), rel=1e-9)
    assert found["message"] == (
        "r07 agrees with gold on fabrication 30% vs 90% on other gold items "
        "(other raters: 90%; n=10)"
    )


# -- drift -------------------------------------------------------------------------------------


def test_drift_is_a_logistic_regression_on_time(
    biased_pool: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    votes = audit_votes(*biased_pool)
    found = check_drift(votes)
    tired = votes.filter((pl.col("rater_id") == "tired") & pl.col("correct").is_not_null())
    seconds = pl.col("created_at").dt.epoch("us").cast(pl.Float64)
    tired = tired.with_columns(
        ((seconds - seconds.min()) / (seconds.max() - seconds.min())).alias("t")
    )
    reference = statsmodels_fit(tired, "correct", ["t"])
    planted = only(found, "tired")
    assert planted["effect"] == pytest.approx(reference.params[1], abs=1e-6)
    assert planted["p_value"] == pytest.approx(reference.pvalues[1] / 2, rel=1e-4)  # one-sided
    assert planted["p_value"] < 1e-4
    honest = found.filter(pl.col("rater_id").str.starts_with("h"))
    assert value(honest, pl.col("p_value").min()) > 0.001


def test_votes_stamped_at_once_are_not_tested_for_drift() -> None:
    pairs = gold_pairs(["x"] * 30)
    rows = [row | {"created_at": START} for row in agreement_votes("r1", ids(0, 30), 20)]
    assert check_drift(audit_votes(judgments(rows), pairs)).height == 0


# -- the one place that corrects for multiple testing ------------------------------------------


def test_benjamini_hochberg_matches_statsmodels() -> None:
    p = np.random.default_rng(0).uniform(0, 0.2, 200) ** 2
    np.testing.assert_allclose(
        benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1], rtol=1e-12
    )
    with_missing = benjamini_hochberg([0.01, np.nan, 0.02])
    assert np.isnan(with_missing[1])
    np.testing.assert_allclose(with_missing[[0, 2]], [0.02, 0.02])


def honest_and_planted(seed: int) -> list[RaterProfile]:
    rng = np.random.default_rng(seed)
    honest = [
        RaterProfile(
            f"h{k:02d}",
            skill=float(rng.uniform(0.75, 0.92)),
            tie_rate=float(rng.uniform(0.03, 0.08)),
            speed=float(rng.lognormal(0.0, 0.25)),
        )
        for k in range(15)
    ]
    return [
        *honest,
        RaterProfile("position", skill=0.8, position_bias=1.0),  # picks left 65% of the time
        RaterProfile("length", length_bias=1.2),  # odds x2.3 per doubling of relative length
        RaterProfile("category", weak_category="coding", weak_skill=0.4),
        RaterProfile("speed", spam=True),  # random clicks in about 3 s
        RaterProfile("ties", tie_rate=0.3),
        RaterProfile("style", style_bias=1.2),
        RaterProfile("drift", skill=0.9, drift=0.5),  # from 90% to 40% over two weeks
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_planted_rater_is_found_and_no_honest_one(seed: int) -> None:
    pairs = simulate_pairs(1000, seed=seed)
    votes = simulate_votes(pairs, honest_and_planted(seed), votes_per_pair=8, seed=seed)
    found = find_blind_spots(votes, pairs)
    flagged = found.filter("flagged")
    flagged_kinds = set(zip(flagged["rater_id"], flagged["kind"], strict=True))
    for kind in ("position", "length", "category", "speed", "ties", "style", "drift"):
        assert (kind, kind) in flagged_kinds, f"the {kind} rater was not flagged"
    assert only(flagged.filter(pl.col("kind") == "category"), "category")["slice"] == "coding"
    assert flagged.filter(pl.col("rater_id").str.starts_with("h")).height == 0


def test_findings_follow_their_contract() -> None:
    pairs = simulate_pairs(300, seed=4)
    raters = [RaterProfile(f"r{k}") for k in range(6)] + [RaterProfile("t", tie_rate=0.4)]
    found = find_blind_spots(simulate_votes(pairs, raters, 4, seed=4), pairs, alpha=0.01)
    assert found.schema == pl.Schema(FINDINGS)
    assert set(found.get_column("kind")) <= set(KINDS)
    assert (found["q_value"] >= found["p_value"]).all()
    assert found.get_column("q_value").is_sorted()
    assert found.get_column("flagged").to_list() == (found["q_value"] < 0.01).to_list()
    assert ((found["ci_low"] <= found["effect"]) & (found["effect"] <= found["ci_high"])).all()
    assert found.filter("flagged").select("rater_id", "kind").rows() == [("t", "ties")]


def test_checks_can_be_chosen() -> None:
    pairs = simulate_pairs(100, seed=1)
    votes = simulate_votes(pairs, [RaterProfile(f"r{k}") for k in range(3)], 3, seed=1)
    found = find_blind_spots(votes, pairs, checks=(check_position, check_ties))
    assert set(found.get_column("kind")) == {"position", "ties"}


def test_mt_bench_votes_can_be_audited(datasets: Path) -> None:
    importers = pytest.importorskip("data.importers")
    batch = importers.read_file(datasets / "mt-bench-human-judgments", preset="mt-bench")
    found = find_blind_spots(batch.judgments, batch.pairs)
    # Imported votes have no time per vote and one timestamp: no speed or drift tests.
    assert {"ties", "length", "style", "category"} <= set(found.get_column("kind"))
    assert not {"speed", "drift"} & set(found.get_column("kind"))
    assert value(found, pl.col("n").min()) >= 10


def test_a_rater_who_always_agrees_still_gets_a_length_estimate() -> None:
    # Complete separation on the reference: the reference slope runs off, the length slope
    # stays estimable from the votes without a reference, and nothing is flagged.
    pairs = simulate_pairs(400, seed=9)
    raters = [RaterProfile(f"r{k}", skill=0.995, tie_rate=0.0) for k in range(3)]
    votes = audit_votes(simulate_votes(pairs, raters, votes_per_pair=3, seed=9), pairs)
    found = check_length(votes)
    assert found.height == 3
    assert np.isfinite(found.get_column("effect").to_numpy()).all()
    assert value(found, pl.col("p_value").min()) > 0.01
