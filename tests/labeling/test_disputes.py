"""Disputed pairs: the reasons to doubt a pair's label, checked by hand, and the one ranking
that the audit report and the Disputed pairs page share."""

from __future__ import annotations

import polars as pl

from labeling.audit import TOP_N, audit_report
from labeling.blind_spots import find_blind_spots
from labeling.disputes import disputed_pairs, pair_reasons
from labeling.simulate import rater_pool, simulate_pairs, simulate_votes
from tests.labeling.test_blind_spots import gold_pairs, judgments, vote


def test_pair_reasons_sort_the_most_doubtful_pairs_first() -> None:
    pairs = gold_pairs(["x"] * 4).with_columns(
        pl.Series("gold", [None, None, None, "b"], dtype=pl.String)
    )
    rows = [vote("p000", r, "a") for r in ("r1", "r2", "r3")]  # unanimous
    rows += [vote("p001", "r1", "a"), vote("p001", "r2", "b", seconds=1.0)]  # split, one fast
    rows += [vote("p002", r, c) for r, c in [("r1", "a"), ("r2", "a"), ("r3", "a"), ("bad", "b")]]
    rows += [vote("p003", r, "a") for r in ("r1", "r2")]  # against gold b
    flagged = pl.DataFrame({"rater_id": ["bad"], "flagged": [True]})
    reasons = pair_reasons(judgments(rows), pairs, findings=flagged)
    table = {row["pair_id"]: row for row in reasons.iter_rows(named=True)}
    assert table["p001"]["predicate_low_agreement"] == table["p001"]["predicate_high_entropy"] == 1
    assert table["p001"]["predicate_fast_vote"] == 1 and table["p001"]["n_reasons"] == 3
    assert table["p002"]["predicate_lone_dissent"] == table["p002"]["predicate_flagged_rater"] == 1
    assert table["p003"]["predicate_against_gold"] == 1 and table["p003"]["n_reasons"] == 1
    assert table["p000"]["n_reasons"] == 0
    assert reasons.get_column("pair_id").to_list() == ["p001", "p002", "p003", "p000"]


def test_the_audit_report_lists_the_same_disputed_pairs_as_the_page() -> None:
    pairs = simulate_pairs(300, seed=4)
    votes = simulate_votes(pairs, rater_pool(8, seed=4), votes_per_pair=3, seed=4)
    report = audit_report(pairs, votes, n_boot=0)
    listed = report["disputed_pairs"]
    assert isinstance(listed, list) and len(listed) == TOP_N
    expected = disputed_pairs(votes, pairs, find_blind_spots(votes, pairs), TOP_N)
    assert [row["pair_id"] for row in listed] == expected["pair_id"].to_list()
    assert [row["n_reasons"] for row in listed] == expected["n_reasons"].to_list()


def test_a_retest_does_not_dispute_a_pair_and_a_probe_pair_is_never_listed() -> None:
    pairs = gold_pairs(["x"] * 2).with_columns(
        pl.Series("gold", [None, "a"], dtype=pl.String),
        pl.Series("probe_kind", [None, "flattery"], dtype=pl.String),
        pl.Series("probe_of", [None, "p000"], dtype=pl.String),
    )
    # p000: three raters agree; r1's retest (round 1) flipped. p001, a probe pair, split.
    rows = [vote("p000", r, "a") for r in ("r1", "r2", "r3")]
    rows += [vote("p000", "r1", "b", round=1)]
    rows += [vote("p001", r, c) for r, c in [("r1", "a"), ("r2", "b"), ("r3", "b")]]
    reasons = pair_reasons(judgments(rows), pairs)
    assert reasons.select("pair_id", "label", "agreement", "n", "n_reasons").rows() == [
        ("p000", "a", 1.0, 3, 0)
    ]
    assert disputed_pairs(judgments(rows), pairs)["pair_id"].to_list() == ["p000"]
