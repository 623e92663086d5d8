"""Blind spots: each check on a hand-checkable fixture, against reference statistics, and on a
simulated pool where the planted raters must be found and the honest ones left alone."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from polars.testing import assert_frame_equal
from scipy import stats
from statsmodels.stats.multitest import multipletests

from data import frames
from labeling.blind_spots import (
    ACCURACY_SHARE,
    FINDINGS,
    KINDS,
    MIN_VOTES,
    TIE_RATIO,
    audit_votes,
    benjamini_hochberg,
    check_accuracy,
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
from labeling.simulate import (
    PLANTED_RATER,
    RaterProfile,
    detection_study,
    simulate_pairs,
    simulate_votes,
)
from labeling.susceptibility import POOL

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


def test_a_rater_fast_on_every_vote_is_compared_with_untimed_raters() -> None:
    # Imported raters have no times: the rusher's fast votes are set against their votes.
    pairs = gold_pairs(["x"] * 190)
    rows = [row | {"seconds": 1.6} for row in agreement_votes("rusher", ids(0, 20), 7)]
    rows += [row | {"seconds": None} for row in agreement_votes("imported", ids(0, 190), 170)]
    found = only(check_speed(audit_votes(judgments(rows), pairs)), "rusher")
    reference = stats.fisher_exact([[7, 13], [170, 20]], alternative="less")
    assert found["p_value"] == pytest.approx(reference.pvalue, rel=1e-9)
    assert found["message"].endswith("35% of those vs 89% of normal-speed and untimed votes")


# -- accuracy ----------------------------------------------------------------------------------


def test_accuracy_far_below_the_pool_is_closer_to_chance_than_to_it() -> None:
    pairs = gold_pairs(["x"] * 100)
    rows = [row | {"seconds": 1.6} for row in agreement_votes("rusher", ids(0, 40), 15)]
    rows += agreement_votes("careful", ids(0, 100), 90)
    found = check_accuracy(audit_votes(judgments(rows), pairs))
    rusher = only(found, "rusher")
    # The others agree on 90%: far below means below (0.5 + 0.9) / 2 = 70%.
    floor = 0.5 + ACCURACY_SHARE * (0.9 - 0.5)
    reference = stats.binomtest(15, 40, floor, alternative="less")
    assert rusher["p_value"] == pytest.approx(reference.pvalue, rel=1e-9)
    assert rusher["effect"] == pytest.approx(15 / 40 - 0.9)
    low, high = stats.binomtest(15, 40).proportion_ci(method="exact")
    assert (rusher["ci_low"], rusher["ci_high"]) == pytest.approx((low - 0.9, high - 0.9))
    assert rusher["message"] == (
        "rusher agreed with the reference on 38% of 40 decisive votes vs 90% for the other "
        "raters (a coin flip: 50%); a median 1.6 s per vote vs 30.8 s for all raters"
    )
    assert only(found, "careful")["p_value"] > 0.5


def test_ties_and_pairs_without_a_decisive_reference_do_not_count_for_accuracy() -> None:
    pairs = gold_pairs(["x"] * 40).with_columns(
        pl.when(pl.int_range(pl.len()) < 30).then(pl.col("gold")).alias("gold")
    )
    rows = agreement_votes("r1", ids(0, 25), 20) + [vote(p, "r1", "tie") for p in ids(25, 30)]
    rows += [vote(p, "r1", "a") for p in ids(30, 40)]  # no gold and no other rater
    rows += agreement_votes("r2", ids(0, 30), 27)
    assert only(check_accuracy(audit_votes(judgments(rows), pairs)), "r1")["n"] == 25


# -- category, principle, gold -----------------------------------------------------------------


Counts = tuple[int, int]


def expected_in_slice(
    rater_else: Counts, peers_there: Counts, peers_else: Counts
) -> tuple[float, float]:
    """Reference: the additive logistic model of agreement (rater + slice) fitted by
    statsmodels to the three other cells of the 2 x 2 table, each count plus a half. Returns
    the log-odds it predicts for the rater in the slice and that prediction's variance."""
    agreed = np.array([k for k, _ in (rater_else, peers_there, peers_else)], dtype=float)
    total = np.array([n for _, n in (rater_else, peers_there, peers_else)], dtype=float)
    design = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])  # 1, rater, slice
    with warnings.catch_warnings():  # three cells, three parameters: a perfect fit, as meant
        warnings.simplefilter("ignore")
        fit = sm.GLM(
            (agreed + 0.5) / (total + 1.0),
            design,
            family=sm.families.Binomial(),
            var_weights=total + 1.0,
        ).fit(tol=1e-12)
    cell = np.array([1.0, 1.0, 1.0])
    return float(cell @ fit.params), float(cell @ fit.cov_params() @ cell)


def predictive_p(k: int, n: int, log_odds: float, variance: float) -> float:
    """Mid-p lower tail of the beta-binomial whose beta has the prediction's mean and its
    delta-method variance (scipy's beta-binomial)."""
    mean = 1.0 / (1.0 + np.exp(-log_odds))
    concentration = 1.0 / (mean * (1.0 - mean) * variance) - 1.0
    a, b = mean * concentration, (1.0 - mean) * concentration
    return float(stats.betabinom.cdf(k, n, a, b) - 0.5 * stats.betabinom.pmf(k, n, a, b))


def test_category_deficit_is_measured_beyond_what_the_category_costs_the_others() -> None:
    pairs = gold_pairs(["coding"] * 40 + ["writing"] * 30)
    rows = agreement_votes("r07", ids(0, 12), 4)  # coding: 4 of 12
    rows += agreement_votes("r07", ids(40, 70), 27)  # elsewhere: 27 of 30
    rows += agreement_votes("peer", ids(0, 40), 36)  # others on coding: 36 of 40
    rows += agreement_votes("peer", ids(40, 70), 25)  # others elsewhere: 25 of 30
    found = only(check_category(audit_votes(judgments(rows), pairs)), "r07", "coding")
    log_odds, variance = expected_in_slice((27, 30), (36, 40), (25, 30))
    expected = 1.0 / (1.0 + np.exp(-log_odds))
    assert expected == pytest.approx(0.93, abs=0.005)  # coding is easier for the others
    assert found["p_value"] == pytest.approx(predictive_p(4, 12, log_odds, variance), rel=1e-6)
    assert found["p_value"] < 1e-4
    assert found["effect"] == pytest.approx(4 / 12 - expected, rel=1e-6)
    assert found["ci_low"] < found["effect"] < found["ci_high"] < 0
    assert found["message"] == (
        "r07 agrees with the reference on coding 33% vs 90% elsewhere "
        "(other raters: 90% there, 83% elsewhere; 93% expected; n=12)"
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
        row | {"principles": ["honesty", "honesty"] if i < 30 else []}  # cited twice: once
        for i, row in enumerate(agreement_votes("peer", ids(0, 60), 54))
    ]
    found = check_principle(audit_votes(judgments(rows), pairs))
    honesty = only(found, "r1", "honesty")
    # r1 elsewhere: 27 of 30; peers citing honesty: 30 of 30; peers otherwise: 24 of 30.
    log_odds, variance = expected_in_slice((27, 30), (30, 30), (24, 30))
    assert honesty["p_value"] == pytest.approx(predictive_p(5, 15, log_odds, variance), rel=1e-6)
    assert honesty["message"].startswith("r1 agrees with the reference when citing honesty 33%")


def test_gold_finds_missed_gold_items_of_one_kind() -> None:
    pairs = gold_pairs(["fabrication"] * 30 + ["coding"] * 30)
    pairs = pairs.with_columns(pl.lit(True).alias("is_gold"))
    rows = agreement_votes("r07", ids(0, 10), 3) + agreement_votes("r07", ids(30, 50), 18)
    rows += agreement_votes("peer", ids(0, 30), 27) + agreement_votes("peer", ids(30, 60), 27)
    found = only(check_gold(audit_votes(judgments(rows), pairs)), "r07", "fabrication")
    log_odds, variance = expected_in_slice((18, 20), (27, 30), (27, 30))
    assert found["p_value"] == pytest.approx(predictive_p(3, 10, log_odds, variance), rel=1e-6)
    assert found["p_value"] < 0.01  # only 20 other gold votes of r07 say what r07 is worth
    assert found["message"] == (
        "r07 agrees with gold on fabrication 30% vs 90% on other gold items "
        "(other raters: 90% there, 90% elsewhere; 88% expected; n=10)"
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


# -- a rater a regression cannot be fitted for -------------------------------------------------


def pool_with(stuck: pl.DataFrame, pairs: pl.DataFrame, seed: int = 3) -> pl.DataFrame:
    """Four honest raters on ``pairs`` plus the votes ``stuck``, as ``audit_votes``."""
    honest = simulate_votes(pairs, [RaterProfile(f"h{k}") for k in range(4)], 2, seed=seed)
    return audit_votes(
        frames.conform(pl.concat([honest, stuck], how="diagonal"), frames.JUDGMENTS), pairs
    )


def test_a_rater_who_always_picks_one_side_is_skipped_for_length_and_style_only() -> None:
    # An LLM judge or a stuck button: "a" on every vote. Its regressions have no slope to
    # estimate; before, their Newton step met a singular matrix and the audit failed.
    pairs = simulate_pairs(200, seed=3)
    stuck = judgments([vote(p, "stuck", "a") for p in pairs["pair_id"].head(60)])
    votes = pool_with(stuck, pairs)
    for check, kind in ((check_length, "length"), (check_style, "style")):
        found = check(votes)
        skipped = only(found, "stuck")
        assert np.isnan(skipped["p_value"]) and np.isnan(skipped["effect"])
        assert skipped["message"] == (
            f"{kind} not tested for stuck: chose the same side on every vote (60 decisive votes)"
        )
        others = found.filter(pl.col("rater_id") != "stuck")["p_value"].to_numpy()
        assert np.isfinite(others).all()


def test_plain_text_votes_are_tested_for_length_but_not_for_style() -> None:
    pairs = simulate_pairs(300, seed=4).with_columns(
        pl.col("response_a").str.replace_all(r"[#*\-]", ""),
        pl.col("response_b").str.replace_all(r"[#*\-]", ""),
    )
    votes = pool_with(frames.empty(frames.JUDGMENTS), pairs, seed=4)
    style, length = check_style(votes), check_length(votes)
    assert style["p_value"].is_nan().all()
    assert style["message"].str.contains("no Markdown difference in their votes").all()
    assert length["p_value"].is_not_nan().all()


def test_a_rater_who_always_agrees_is_not_tested_for_drift() -> None:
    pairs = gold_pairs(["x"] * 30)
    rows = agreement_votes("perfect", ids(0, 30), 30)
    rows += [vote(p, "r2", "b" if i % 3 == 0 else "a") for i, p in enumerate(ids(0, 30))]
    found = check_drift(audit_votes(judgments(rows), pairs))
    assert only(found, "perfect")["message"] == (
        "drift not tested for perfect: the same agreement with the reference on every vote "
        "(30 votes)"
    )
    assert np.isfinite(only(found, "r2")["p_value"])


# -- the detection study: planted raters found, honest ones left alone, over seeds -------------

#: Where each scenario of ``detection_study`` must be found: flagged kinds (and the slice).
FOUND_AS = {
    "category": ({"category"}, "coding"),
    "principle": ({"principle"}, "honesty"),
    "gold": ({"gold"}, "coding"),
    "fast": ({"accuracy", "speed"}, None),
    "fast, others untimed": ({"accuracy", "speed"}, None),
    "flattery": ({"probe"}, "flattery"),
    "inconsistent": ({"retest"}, None),
}


def study(scenario: str, seeds: range, votes_per_rater: int) -> tuple[int, int, int]:
    """(pools where the planted rater is found, honest raters flagged, honest raters)."""
    found = wrongly = honest = 0
    for seed in seeds:
        pairs, votes = detection_study(scenario, seed, votes_per_rater=votes_per_rater)
        flagged = find_blind_spots(votes, pairs).filter("flagged")
        planted = flagged.filter(pl.col("rater_id") == PLANTED_RATER)
        if scenario in FOUND_AS:
            kinds, weak_slice = FOUND_AS[scenario]
            planted = planted.filter(pl.col("kind").is_in(kinds))
            if weak_slice is not None:
                planted = planted.filter(pl.col("slice") == weak_slice)
            found += planted.height > 0
        else:  # nothing planted: every rater is honest
            wrongly += planted.height > 0
            honest += 1
        # The raters together (a probe finding's POOL row) are nobody to flag wrongly.
        others = flagged.filter(~pl.col("rater_id").is_in([PLANTED_RATER, POOL]))
        wrongly += others["rater_id"].n_unique()
        honest += votes.filter(pl.col("rater_id") != PLANTED_RATER)["rater_id"].n_unique()
    return found, wrongly, honest


def test_a_rater_at_chance_on_one_slice_is_found_without_flagging_honest_ones() -> None:
    # 16 raters x 450 votes: the planted rater answers at random on one category, on one
    # principle, or on the gold items of one category (bench/RESULTS.md has 225 to 900 votes
    # and 20 seeds). The conjunction of two Fisher tests found 19 of these 30.
    outcomes = [study(scenario, range(10), 450) for scenario in ("category", "principle", "gold")]
    found = sum(hit for hit, _, _ in outcomes)
    wrongly = sum(false for _, false, _ in outcomes)
    honest = sum(n for _, _, n in outcomes)
    assert found >= 23, f"found in {found} of 30 pools"
    assert wrongly <= 0.01 * honest, f"{wrongly} of {honest} honest raters flagged"


@pytest.mark.parametrize("scenario", ["fast", "fast, others untimed"])
def test_a_fast_rater_below_chance_is_found_whoever_else_was_timed(scenario: str) -> None:
    # 1.6 s a pair and 40% right, among raters who read (or whose times were not recorded).
    found, wrongly, honest = study(scenario, range(5), 225)
    assert found == 5
    assert wrongly <= 1, f"{wrongly} of {honest} honest raters flagged"


@pytest.mark.parametrize("scenario", ["flattery", "inconsistent"])
def test_a_swayed_or_inconsistent_rater_is_found_without_flagging_honest_ones(
    scenario: str,
) -> None:
    # 16 raters x 450 votes. flattery: probe pairs of all six edits on a sixth of the pairs
    # (about 40 votes per rater and edit), the planted rater picks the flattered response on
    # half the flattery probes. inconsistent: 30% of votes served again (about 135 per
    # rater), the planted rater answers 90% of them with a coin flip, honest ones 2-20%.
    # Measured over seeds 0-19: flattery found in 18 of 20 pools (14 of 20 at 225 votes),
    # inconsistent in 19 of 20 (3 of 20 at 225: a self-kappa far below the others' needs
    # retests). Honest raters flagged: 1 and 2 of 300, each by an older check (a category,
    # principle, gold slice or drift), none by a probe or retest finding, and no pool row
    # flagged. Seeds 0-7 here: found in 8 and 7 pools, no honest rater flagged.
    found, wrongly, honest = study(scenario, range(8), 450)
    assert found >= 7, f"found in {found} of 8 pools"
    assert wrongly <= 1, f"{wrongly} of {honest} honest raters flagged"


def test_a_retest_is_not_a_second_vote() -> None:
    # The same pair again (round 1) is one judgment seen twice: the checks count it once,
    # and the retest check reads it beside the first answer.
    pairs = simulate_pairs(300, seed=6)
    raters = [RaterProfile(f"r{k}") for k in range(4)]
    once = simulate_votes(pairs, raters, votes_per_pair=2, seed=6)
    twice = simulate_votes(pairs, raters, votes_per_pair=2, seed=6, retest_share=0.5)
    first = audit_votes(twice, pairs)
    assert first.height == once.height == twice.filter(pl.col("round") == 0).height
    assert first["retest_choice"].is_not_null().sum() == twice.height - once.height
    assert_frame_equal(
        check_position(first), check_position(audit_votes(once, pairs)), check_exact=False
    )


def test_honest_pools_are_left_alone() -> None:
    _, wrongly, honest = study("none", range(6), 225)
    assert wrongly <= 1, f"{wrongly} of {honest} honest raters flagged"


def test_slice_p_values_of_honest_raters_are_calibrated() -> None:
    # Under no blind spot the slice tests reject at about their level, not more.
    p_values = []
    for seed in range(6):
        pairs, votes = detection_study("none", seed, votes_per_rater=450)
        audited = audit_votes(votes, pairs)
        for check in (check_category, check_principle):
            p_values += check(audited)["p_value"].to_list()
    p = np.array(p_values)
    assert len(p) > 500
    assert (p < 0.05).mean() <= 0.06 and (p < 0.01).mean() <= 0.015
