"""Probe susceptibility and retest self-agreement: hand-counted fixtures, the statistics
against scipy, statsmodels and scikit-learn, and the findings inside the one correction.

The detection study (planted raters found, honest ones left alone, over seeds) is with the
other checks' in ``test_blind_spots.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy import stats
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from data import frames
from labeling.blind_spots import FINDINGS, audit_votes, find_blind_spots
from labeling.rater_probes import make_probe_pairs
from labeling.simulate import RaterProfile, simulate_pairs, simulate_votes
from labeling.susceptibility import (
    POOL,
    RETEST_SHARE,
    SELF_AGREEMENT,
    SUSCEPTIBILITY,
    probe_findings,
    probe_susceptibility,
    retest_findings,
    self_agreement,
    susceptibility,
)

# -- probes: the per-vote frame by hand ----------------------------------------------------------


def probe_votes(
    rater: str = "r",
    kind: str = "flattery",
    *,
    moved: int = 0,
    moved_back: int = 0,
    stayed_right: int = 0,
    stayed_wrong: int = 0,
    edited: int = 0,
    resisted: int = 0,
    errors: int = 0,
    right: int = 0,
) -> list[dict[str, Any]]:
    """``blind_spots.audit_votes`` rows of one rater, counted by hand.

    Paired probes (the rater voted on the base pair, which has gold ``a``): ``moved`` right on
    the base and edited on the probe, ``moved_back`` the reverse, ``stayed_right`` /
    ``stayed_wrong`` the same on both. Unpaired probes: ``edited`` for the edited side,
    ``resisted`` not. Ordinary pairs with a consensus reference: ``errors`` and ``right``
    (the base votes are ordinary votes too).
    """
    rows: list[dict[str, Any]] = []

    def ordinary(pair_id: str, is_right: bool, gold: str | None) -> None:
        rows.append(
            {
                "rater_id": rater,
                "pair_id": pair_id,
                "choice": "a" if is_right else "b",
                "gold": gold,
                "reference": "a",
                "correct": is_right,
                "probe_kind": None,
                "probe_of": None,
            }
        )

    def probe(pair_id: str, base: str, is_edited: bool) -> None:
        rows.append(
            {
                "rater_id": rater,
                "pair_id": pair_id,
                "choice": "b" if is_edited else "a",
                "gold": "a",
                "reference": "a",
                "correct": not is_edited,
                "probe_kind": kind,
                "probe_of": base,
            }
        )

    paired = (
        [(True, True)] * moved
        + [(False, False)] * moved_back
        + [(True, False)] * stayed_right
        + [(False, True)] * stayed_wrong
    )
    for i, (base_right, probe_edited) in enumerate(paired):
        ordinary(f"{rater}-{kind}-base{i}", base_right, gold="a")
        probe(f"{rater}-{kind}-probe{i}", f"{rater}-{kind}-base{i}", probe_edited)
    for i, probe_edited in enumerate([True] * edited + [False] * resisted):
        probe(f"{rater}-{kind}-lone{i}", f"{rater}-{kind}-unvoted{i}", probe_edited)
    for i, is_right in enumerate([False] * errors + [True] * right):
        ordinary(f"{rater}-{kind}-pair{i}", is_right, gold=None)
    return rows


def frame_of(rows: list[dict[str, Any]]) -> pl.DataFrame:
    text = {name: pl.String() for name in ("gold", "probe_kind", "probe_of")}
    return pl.DataFrame(rows, schema_overrides=text, infer_schema_length=None)


def table_of(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return probe_susceptibility(frame_of(rows))


def only(frame: pl.DataFrame, rater: str = "r") -> dict[str, Any]:
    rows = frame.filter(pl.col("rater_id") == rater).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def test_probe_votes_are_counted_against_the_base_vote_or_the_error_rate() -> None:
    rows = probe_votes(moved=1, moved_back=1, edited=1, resisted=1, errors=2, right=8)
    a_probe = next(row for row in rows if row["probe_kind"])
    rows.append(a_probe | {"pair_id": "tied", "choice": "tie"})  # neither side: not counted
    row = only(table_of(rows))
    assert (row["n"], row["picked_edited"], row["n_paired"]) == (4, 2, 2)
    assert (row["moved"], row["moved_back"]) == (1, 1)
    assert row["rate"] == 0.5
    # Errors on ordinary pairs: 2 + the base the rater got wrong, of 12 with a reference.
    error_rate = 3.5 / 13.0
    assert row["base_rate"] == pytest.approx((1 + 2 * error_rate) / 4)
    # T = moved + unpaired edited = 2, over Binomial(2, 1/2) + BetaBinomial(2, 3.5, 9.5).
    coins = stats.binom.pmf([0, 1, 2], 2, 0.5)
    rest = stats.betabinom.sf(np.array([1, 0, -1]), 2, 3.5, 9.5)
    assert row["p_value"] == pytest.approx(float(coins @ rest))


def test_paired_probes_alone_are_the_exact_mcnemar_test() -> None:
    row = only(table_of(probe_votes(moved=7, moved_back=2, stayed_right=20, stayed_wrong=3)))
    one_sided = stats.binomtest(7, 9, 0.5, alternative="greater").pvalue
    assert row["p_value"] == pytest.approx(one_sided, rel=1e-12)
    # statsmodels' exact McNemar test is two-sided: twice the smaller tail.
    table = [[20, 7], [2, 3]]  # base right/wrong x probe right/edited
    assert mcnemar(table, exact=True).pvalue == pytest.approx(2 * one_sided, rel=1e-12)
    assert row["base_rate"] == pytest.approx(5 / 32)  # the base votes the rater got wrong


def test_unpaired_probes_follow_the_raters_error_rate_with_its_uncertainty() -> None:
    row = only(table_of(probe_votes(edited=9, resisted=21, errors=20, right=180)))
    assert row["p_value"] == pytest.approx(stats.betabinom.sf(8, 30, 20.5, 180.5), rel=1e-12)
    # With many ordinary votes the baseline is all but known: the exact binomial test.
    sure = only(table_of(probe_votes(edited=9, resisted=21, errors=2000, right=18000)))
    binomial = stats.binomtest(9, 30, 2000.5 / 20001, alternative="greater").pvalue
    assert sure["p_value"] == pytest.approx(binomial, rel=0.02)
    assert row["p_value"] > sure["p_value"], "an uncertain baseline is more cautious"


def test_mixed_probes_convolve_the_two_nulls() -> None:
    row = only(
        table_of(
            probe_votes(moved=4, moved_back=1, stayed_right=6, edited=6, resisted=14, errors=30)
            + probe_votes(right=170, kind="other")
        )
    )
    # Binomial(5, 1/2) + BetaBinomial(20, errors, right) by explicit convolution of pmfs.
    # The base votes are ordinary votes too: 10 right, 1 wrong.
    errors, right = 30 + 1 + 0.5, 170 + 10 + 0.5
    null = np.convolve(
        stats.binom.pmf(np.arange(6), 5, 0.5),
        stats.betabinom.pmf(np.arange(21), 20, errors, right),
    )
    assert row["p_value"] == pytest.approx(null[4 + 6 :].sum(), rel=1e-9)


def test_the_rate_has_a_clopper_pearson_interval() -> None:
    row = only(table_of(probe_votes(edited=7, resisted=18, errors=10, right=90)))
    low, high = proportion_confint(7, 25, alpha=0.05, method="beta")
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), rel=1e-9)


def test_the_pool_row_pools_every_raters_probes_and_errors() -> None:
    rows = probe_votes("r1", edited=5, resisted=5, errors=10, right=90) + probe_votes(
        "r2", edited=1, resisted=9, moved=2, stayed_right=3, right=100
    )
    table = table_of(rows)
    assert table.schema == pl.Schema(SUSCEPTIBILITY)
    assert table["rater_id"].to_list() == ["r1", "r2", POOL]
    pool = only(table, POOL)
    assert (pool["n"], pool["picked_edited"], pool["n_paired"], pool["moved"]) == (25, 8, 5, 2)
    expected = stats.binom.pmf(np.arange(3), 2, 0.5) @ stats.betabinom.sf(
        2 + 6 - np.arange(3) - 1, 20, 10.5, 195.5
    )
    assert pool["p_value"] == pytest.approx(expected, rel=1e-9)


def test_no_probe_pairs_no_rows() -> None:
    table = table_of(probe_votes(errors=3, right=30))
    assert table.is_empty() and table.schema == pl.Schema(SUSCEPTIBILITY)
    assert probe_findings(frame_of(probe_votes(right=5))).schema == pl.Schema(FINDINGS)


def test_findings_need_ten_votes_and_read_as_a_sentence() -> None:
    rows = probe_votes(moved=6, stayed_right=2, edited=4, resisted=2, errors=5, right=45)
    rows += probe_votes(kind="length", edited=1, resisted=5, right=5)  # 6 votes: not tested
    found = probe_findings(frame_of(rows))
    assert found.schema == pl.Schema(FINDINGS)
    assert found.select("rater_id", "kind", "slice").rows() == [
        ("r", "probe", "flattery"),
        (POOL, "probe", "flattery"),
    ]
    finding = found.row(0, named=True)
    assert finding["n"] == 14
    # Ordinary votes: 5 wrong, 45 + 8 base votes + 5 beside the length probes right.
    assert finding["effect"] == pytest.approx(10 / 14 - (6 * 5.5 / 64) / 14)
    assert finding["ci_low"] <= finding["effect"] <= finding["ci_high"]
    assert finding["message"] == (
        "r picked the response with the flattery edit in 71% of 14 decisive votes on flattery "
        "probes vs 4% expected without the edit (8 paired with their own vote on the base "
        "pair, which has gold: 6 moved toward the edit, 0 away; the rest set against their "
        "errors on ordinary pairs)"
    )


# -- probes: from the builder, through the audit -------------------------------------------------


@pytest.fixture(scope="module")
def probed() -> tuple[pl.DataFrame, pl.DataFrame]:
    """300 pairs with gold, probe pairs of two edits, six honest raters and one who picks the
    flattered response of most flattery probes."""
    pairs = simulate_pairs(300, seed=11, gold_share=1.0)
    raters = [RaterProfile(f"h{k}", skill=0.85) for k in range(6)]
    raters.append(RaterProfile("flattered", skill=0.85, probe_bias={"flattery": 0.8}))
    votes = simulate_votes(pairs, raters, votes_per_pair=3, seed=11)
    probes = make_probe_pairs(pairs, votes, ["flattery", "length"], seed=11).pairs
    probe_votes = simulate_votes(probes, raters, votes_per_pair=3, seed=12)
    return pl.concat([pairs, probes]), pl.concat([votes, probe_votes])


def test_a_flattery_prone_rater_is_found_through_the_builders_probes(
    probed: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    pairs, votes = probed
    table = susceptibility(votes, pairs)
    flattered = table.filter(pl.col("rater_id") == "flattered").sort("probe_kind")
    assert flattered["probe_kind"].to_list() == ["flattery", "length"]
    assert flattered["rate"][0] > 0.6 > 0.3 > flattered["rate"][1]
    assert flattered["n_paired"].sum() > 0, "some probes sit beside the rater's own base vote"
    found = find_blind_spots(votes, pairs).filter(pl.col("kind") == "probe")
    flagged = set(found.filter("flagged").select("rater_id", "slice").iter_rows())
    assert ("flattered", "flattery") in flagged
    assert not {rater for rater, _ in flagged} - {"flattered", POOL}


def test_probe_findings_share_the_one_correction(
    probed: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    pairs, votes = probed
    found = find_blind_spots(votes, pairs)
    assert {"probe", "position", "length"} <= set(found["kind"])
    tested = found.filter(pl.col("p_value").is_not_nan())
    q = multipletests(tested["p_value"].to_numpy(), method="fdr_bh")[1]
    np.testing.assert_allclose(tested["q_value"].to_numpy(), q, rtol=1e-10)
    assert (
        found.filter(pl.col("kind") == "probe").height
        == probe_findings(audit_votes(votes, pairs)).height
    )


# -- retests -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def retested() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Five honest raters who change their mind on 0-20% of retests, one on every one."""
    pairs = simulate_pairs(400, seed=5)
    raters = [RaterProfile(f"h{k}", inconsistency=0.05 * k) for k in range(5)]
    raters.append(RaterProfile("noisy", inconsistency=1.0))
    return pairs, simulate_votes(pairs, raters, votes_per_pair=3, seed=5, retest_share=0.4)


def rounds(votes: pl.DataFrame) -> pl.DataFrame:
    """Round-0 and round-1 choices side by side, one row per rater and retested pair."""
    first = votes.filter(pl.col("round") == 0).select("rater_id", "pair_id", "choice")
    again = votes.filter(pl.col("round") == 1).select("rater_id", "pair_id", "choice")
    return first.join(again, on=["rater_id", "pair_id"], suffix="_again")


def test_self_kappa_is_cohens_kappa_of_the_two_rounds(
    retested: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    _, votes = retested
    table = self_agreement(votes, n_boot=200)
    assert table.schema == pl.Schema(SELF_AGREEMENT)
    assert table["rater_id"].to_list() == [*(f"h{k}" for k in range(5)), "noisy", POOL]
    both = rounds(votes)
    for row in table.iter_rows(named=True):
        mine = both if row["rater_id"] == POOL else both.filter(rater_id=row["rater_id"])
        assert row["n"] == mine.height
        assert row["agreement"] == pytest.approx((mine["choice"] == mine["choice_again"]).mean())
        reference = cohen_kappa_score(mine["choice"], mine["choice_again"])
        assert row["kappa"] == pytest.approx(reference, rel=1e-10)
        assert row["ci_low"] <= row["kappa"] <= row["ci_high"]
    assert only(table, "noisy")["kappa"] < 0.3 < 0.6 < only(table, "h4")["kappa"]


def test_no_retests_no_rows_and_an_interval_only_when_asked() -> None:
    votes = simulate_votes(simulate_pairs(30, seed=1), [RaterProfile("a"), RaterProfile("b")], 2)
    empty = self_agreement(votes)
    assert empty.is_empty() and empty.schema == pl.Schema(SELF_AGREEMENT)
    again = votes.with_columns(pl.lit(1).alias("round"))
    table = self_agreement(pl.concat([votes, again]), n_boot=0)
    assert table["kappa"].to_list() == [1.0, 1.0, 1.0]
    assert table["ci_low"].null_count() == 3


def test_retest_p_value_is_the_binomial_test_against_half_the_others_kappa(
    retested: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    pairs, votes = retested
    found = retest_findings(audit_votes(votes, pairs))
    assert found.schema == pl.Schema(FINDINGS)
    assert found.height == 6 and set(found["kind"]) == {"retest"}
    both = rounds(votes)
    for row in found.iter_rows(named=True):
        mine = both.filter(rater_id=row["rater_id"])
        others = both.filter(pl.col("rater_id") != row["rater_id"])
        own = cohen_kappa_score(mine["choice"], mine["choice_again"])
        peers = cohen_kappa_score(others["choice"], others["choice_again"])
        chance = sum(
            (mine["choice"] == c).mean() * (mine["choice_again"] == c).mean()
            for c in frames.CHOICES
        )
        expected = chance + RETEST_SHARE * peers * (1 - chance)
        agreed = int((mine["choice"] == mine["choice_again"]).sum())
        assert row["p_value"] == pytest.approx(stats.binom.cdf(agreed, mine.height, expected))
        assert row["effect"] == pytest.approx(own - peers)
        assert row["ci_low"] <= row["effect"] <= row["ci_high"]
    flagged = find_blind_spots(votes, pairs).filter("flagged")
    assert flagged.filter(pl.col("kind") == "retest")["rater_id"].to_list() == ["noisy"]


def test_a_rater_with_one_answer_on_every_retest_is_not_tested() -> None:
    ids = [f"p{i}" for i in range(12)]
    answers = {"stuck": ["a"] * 12, "mixed": ["a", "b"] * 6, "other": ["a", "b", "b"] * 4}
    votes = frames.conform(
        pl.DataFrame(
            [
                {"pair_id": pair, "rater_id": rater, "round": r, "choice": choices[i]}
                for rater, choices in answers.items()
                for i, pair in enumerate(ids)
                for r in (0, 1)
            ]
        ),
        frames.JUDGMENTS,
    )
    pairs = frames.conform(
        pl.DataFrame({"pair_id": ids, "prompt": "q", "response_a": "x", "response_b": "y"}),
        frames.PAIRS,
    )
    found = retest_findings(audit_votes(votes, pairs))
    stuck = only(found, "stuck")
    assert np.isnan(stuck["p_value"])
    assert stuck["message"] == (
        "retest not tested for stuck: the same answer on every retest (12 retested pairs)"
    )
    assert np.isfinite(only(found, "mixed")["p_value"])
