"""Agreement coefficients: tiny cases checked by hand, then the reference libraries
(scikit-learn, statsmodels, krippendorff) on the public PandaLM, LLMFAO and MT-bench votes.
"""

from __future__ import annotations

import json
import math
import warnings
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

import krippendorff
import numpy as np
import polars as pl
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss_kappa

from data import frames
from labeling.agreement import (
    Coefficient,
    cohen_kappa,
    counted_votes,
    first_item_votes,
    first_votes,
    fleiss_kappa,
    item_votes,
    krippendorff_alpha,
    pair_agreement,
    percent_agreement,
)


def votes(*rows: tuple[Any, ...], **columns: list[Any]) -> pl.DataFrame:
    """Judgments from (pair_id, rater_id, choice[, strength]) rows."""
    wide = [row + (None,) * (4 - len(row)) for row in rows]
    pair_id, rater_id, choice, strength = (list(column) for column in zip(*wide, strict=True))
    data: dict[str, Any] = {
        "pair_id": pair_id,
        "rater_id": rater_id,
        "choice": choice,
        "strength": pl.Series(strength, dtype=pl.Int8),
    }
    return pl.DataFrame({**data, **columns})


def table_votes(table: list[list[int]], labels: tuple[str, ...] = ("a", "b")) -> pl.DataFrame:
    """Two raters r1, r2 whose cross-table (r1 rows, r2 columns) is ``table``."""
    rows: list[tuple[Any, ...]] = []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            for _ in range(count):
                pair = f"p{len(rows) // 2:03d}"
                rows += [(pair, "r1", labels[i]), (pair, "r2", labels[j])]
    return votes(*rows)


# ----------------------------------------------------------------------------- by hand


def test_a_reversed_pair_is_the_same_item_with_the_vote_flipped() -> None:
    pairs = pl.DataFrame(
        {
            "pair_id": ["p1", "p2", "p3"],
            "prompt": ["q", "q", "q"],
            "model_a": ["x", "y", None],
            "model_b": ["y", "x", None],
        }
    )
    judged = votes(
        ("p1", "r1", "a", 2), ("p2", "r2", "b", 3), ("p2", "r3", "tie"), ("p3", "r1", "a")
    )
    items = item_votes(judged, pairs)
    assert items.select("item_id", "flipped", "item_choice", "item_score").rows() == [
        ("p1", False, "a", -2),
        ("p1", True, "a", -3),  # r2 preferred x (shown as b in p2): a of p1, much better
        ("p1", True, "tie", 0),
        ("p3", False, "a", -1),  # no models: its own item; no strength counts as 1
    ]


def test_the_same_models_answering_differently_are_another_item() -> None:
    pairs = pl.DataFrame(
        {
            "pair_id": ["t1", "t1r", "t2"],
            "prompt": ["q"] * 3,
            "model_a": ["x", "y", "x"],
            "model_b": ["y", "x", "y"],
            "response_a": ["x says 1", "y says 1", "x says 2"],
            "response_b": ["y says 1", "x says 1", "y says 2"],
        }
    )
    judged = votes(("t1", "r1", "a"), ("t1r", "r2", "b"), ("t2", "r3", "a"))
    assert item_votes(judged, pairs)["item_id"].to_list() == ["t1", "t1", "t2"]


def test_mt_bench_rules_two_ties_agree_and_a_rater_is_not_paired_with_themselves() -> None:
    pairs = pl.DataFrame(
        {
            "pair_id": ["ab", "ba"],
            "prompt": ["q", "q"],
            "model_a": ["x", "y"],
            "model_b": ["y", "x"],
        }
    )
    judged = votes(
        ("ab", "r1", "a"),
        ("ba", "r2", "b"),  # the same preference as r1, seen in reverse order
        ("ab", "r3", "tie"),
        ("ba", "r4", "tie"),
        ("ba", "r1", "b"),  # r1 again on the reversed pair: never compared with r1's first vote
    )
    with_ties = percent_agreement(judged, pairs, n_boot=0)
    # 5 votes, C(5, 2) = 10 pairs minus r1's own pair = 9; agreeing: r1/r2 twice and r1/r1
    # excluded -> a-votes r1, r2, r1': pairs (r1,r2), (r2,r1') = 2; ties (r3, r4) = 1.
    assert with_ties.n == 9
    assert with_ties.estimate == pytest.approx(3 / 9)
    without_ties = percent_agreement(judged, pairs, ties=False, n_boot=0)
    assert (without_ties.n, without_ties.estimate) == (2, 1.0)


def test_perfect_agreement_is_one_for_every_coefficient() -> None:
    judged = votes(
        *[
            (pair, rater, choice)
            for pair, choice in [("p1", "a"), ("p2", "b"), ("p3", "tie")]
            for rater in ("r1", "r2", "r3")
        ]
    )
    assert percent_agreement(judged, n_boot=0).estimate == 1.0
    assert fleiss_kappa(judged, n_boot=0).estimate == 1.0
    assert krippendorff_alpha(judged, n_boot=0).estimate == 1.0
    assert krippendorff_alpha(judged, level_of_measurement="ordinal", n_boot=0).estimate == 1.0
    assert cohen_kappa(judged, min_overlap=3, n_boot=0)["estimate"].to_list() == [1.0] * 3


def test_all_ties_agree_fully_but_chance_corrected_coefficients_are_undefined() -> None:
    judged = votes(*[(f"p{i}", rater, "tie") for i in range(4) for rater in ("r1", "r2")])
    assert percent_agreement(judged, n_boot=0).estimate == 1.0
    without_ties = percent_agreement(judged, ties=False, n_boot=0)
    assert (without_ties.n, math.isnan(without_ties.estimate)) == (0, True)
    assert math.isnan(fleiss_kappa(judged, n_boot=0).estimate)
    assert math.isnan(krippendorff_alpha(judged, n_boot=0).estimate)
    assert cohen_kappa(judged, min_overlap=1, n_boot=10)["estimate"].to_list() == [None]


def test_one_rater_gives_nothing_to_compare() -> None:
    judged = votes(("p1", "r1", "a"), ("p2", "r1", "b"))
    coefficient = percent_agreement(judged)
    assert (coefficient.n, coefficient.n_items, math.isnan(coefficient.estimate)) == (0, 0, True)
    assert krippendorff_alpha(judged).n_items == 0
    assert cohen_kappa(judged, min_overlap=1).height == 0


# ----------------------------------------------------------------------------- which votes count


def test_a_retest_is_not_another_vote() -> None:
    # r1 answered p1 with a; served p1 again later (round 1, sides swapped), r1 flipped a
    # coin and said b. A retest measures r1's consistency: every coefficient reads r1's
    # first answer, as if the retest had never been served.
    first = votes(
        ("p1", "r1", "a"), ("p1", "r2", "b"), ("p1", "r3", "a"),
        ("p2", "r1", "a"), ("p2", "r2", "a"), ("p2", "r3", "a"),
        ("p3", "r1", "b"), ("p3", "r2", "b"), ("p3", "r3", "a"),
        round=[0] * 9,
    )  # fmt: skip
    retested = pl.concat([first, votes(("p1", "r1", "b"), ("p3", "r2", "a"), round=[1, 1])])
    for coefficient in (percent_agreement, fleiss_kappa, krippendorff_alpha):
        assert coefficient(retested, n_boot=50) == coefficient(first, n_boot=50)
    assert cohen_kappa(retested, min_overlap=1, n_boot=50).equals(
        cohen_kappa(first, min_overlap=1, n_boot=50)
    )
    assert pair_agreement(retested).equals(pair_agreement(first))
    kept = first_item_votes(retested).sort("pair_id", "rater_id")
    assert kept.select("pair_id", "rater_id", "choice").equals(
        first.select("pair_id", "rater_id", "choice")
    )


def test_the_first_vote_is_the_lowest_round_and_the_retest_stands_beside_it() -> None:
    judged = votes(
        ("p1", "r1", "b"), ("p1", "r1", "a"), ("p1", "r2", "a"), ("p2", "r1", "tie"),
        round=[1, 0, 0, 2],  # r1's only vote on p2 came in a later round: it is r1's first
    )  # fmt: skip
    assert first_votes(judged).select("pair_id", "rater_id", "choice", "retest_choice").rows() == [
        ("p1", "r1", "a", "b"),
        ("p1", "r2", "a", None),
        ("p2", "r1", "tie", None),
    ]
    assert counted_votes(judged)["choice"].to_list() == ["a", "a", "tie"]
    # Without rounds nothing is a retest (the frame itself comes back), and with the pairs
    # nothing else is left out when none of them is a probe.
    plain = judged.drop("round")
    assert counted_votes(plain) is plain
    assert counted_votes(plain, pl.DataFrame({"pair_id": ["p1", "p2"]})) is plain


def test_probe_pairs_are_left_out_of_every_coefficient() -> None:
    # t1 is a probe pair made from p1 (a flattering opener on the intended loser); the raters
    # split on it, as probes are made to make them. It tests them, it is not an item.
    pairs = pl.DataFrame(
        {
            "pair_id": ["p1", "p2", "p3", "t1"],
            "prompt": ["q1", "q2", "q3", "q1"],
            "probe_kind": [None, None, None, "flattery"],
            "probe_of": [None, None, None, "p1"],
        }
    )
    ordinary = votes(
        *[(p, r, "a") for p in ("p1", "p2") for r in ("r1", "r2", "r3")],
        ("p3", "r1", "b"), ("p3", "r2", "b"), ("p3", "r3", "a"),
    )  # fmt: skip
    probed = pl.concat([ordinary, votes(("t1", "r1", "a"), ("t1", "r2", "b"), ("t1", "r3", "b"))])
    for coefficient in (percent_agreement, fleiss_kappa, krippendorff_alpha):
        assert coefficient(probed, pairs, n_boot=50) == coefficient(ordinary, pairs, n_boot=50)
    assert pair_agreement(probed, pairs)["item_id"].to_list() == ["p1", "p2", "p3"]
    # Without the pairs nothing says t1 is a probe: it counts like any pair.
    assert percent_agreement(probed, n_boot=0).n == percent_agreement(ordinary, n_boot=0).n + 3


def test_a_probe_pair_is_an_item_of_its_own_even_with_its_bases_content() -> None:
    # An edit that changed nothing visible would make the probe the reversed base pair; it is
    # still a test, never merged with the item it was made from.
    pairs = pl.DataFrame(
        {
            "pair_id": ["p1", "t1"], "prompt": ["q", "q"], "model_a": ["x", "y"],
            "model_b": ["y", "x"], "response_a": ["X", "Y"], "response_b": ["Y", "X"],
            "probe_kind": [None, "unchanged"],
        }
    )  # fmt: skip
    judged = votes(("p1", "r1", "a"), ("t1", "r2", "a"))
    items = item_votes(judged, pairs)
    assert items.select("item_id", "flipped", "item_choice").rows() == [
        ("p1", False, "a"),
        ("t1", False, "a"),
    ]


def test_chance_corrected_coefficients_keep_each_raters_first_vote_per_item() -> None:
    # r1 voted on both orders of one comparison (two pairs of one item, both first votes) and
    # changed their mind: percent agreement compares both with r2 (MT-bench's way); the
    # coefficients that need one value per rater and item take r1's earlier one.
    pairs = pl.DataFrame(
        {"pair_id": ["xy", "yx", "p2"], "prompt": ["q", "q", "q2"], "model_a": ["x", "y", "x"],
         "model_b": ["y", "x", "y"]}
    )  # fmt: skip
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    judged = votes(
        ("yx", "r1", "a"), ("xy", "r1", "a"), ("xy", "r2", "a"),
        ("p2", "r1", "b"), ("p2", "r2", "b"),
        created_at=[t0 + timedelta(minutes=m) for m in (5, 1, 2, 3, 4)],
    )  # fmt: skip
    kept = first_item_votes(judged, pairs).sort("item_id", "rater_id")
    assert kept.select("pair_id", "rater_id", "item_choice").rows() == [
        ("p2", "r1", "b"),
        ("p2", "r2", "b"),
        ("xy", "r1", "a"),  # at minute 1; the vote on yx (x, shown as b, lost) came later
        ("xy", "r2", "a"),
    ]
    assert krippendorff_alpha(judged, pairs, n_boot=0).estimate == 1.0
    # Percent agreement keeps both of r1's votes, each compared with r2 only: 2 of 3 pairs.
    assert percent_agreement(judged, pairs, n_boot=0).estimate == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "coefficient",
    [percent_agreement, fleiss_kappa, krippendorff_alpha],
    ids=["percent", "fleiss", "alpha"],
)
def test_no_votes_give_an_undefined_coefficient(coefficient: Any) -> None:
    nothing = frames.empty(frames.JUDGMENTS)
    result = coefficient(nothing, frames.empty(frames.PAIRS))
    assert (math.isnan(result.estimate), result.n, result.n_raters) == (True, 0, 0)
    assert coefficient(nothing, frames.empty(frames.PAIRS), by="category").height == 0
    assert cohen_kappa(nothing).height == pair_agreement(nothing).height == 0


def test_cohen_kappa_textbook_example() -> None:
    # Wikipedia, "Cohen's kappa": 50 proposals, yes/yes 20, yes/no 5, no/yes 10, no/no 15:
    # p_o = 0.7, p_e = 0.5, kappa = 0.4.
    kappa = cohen_kappa(table_votes([[20, 5], [10, 15]]), n_boot=0)
    assert kappa.select("rater_a", "rater_b", "n").row(0) == ("r1", "r2", 50)
    assert kappa["agreement"][0] == pytest.approx(0.7)
    assert kappa["estimate"][0] == pytest.approx(0.4)


def test_cohen_kappa_keeps_rater_pairs_with_enough_shared_items() -> None:
    judged = votes(
        *[(f"p{i}", "r1", "a") for i in range(5)],
        *[(f"p{i}", "r2", "a") for i in range(5)],
        *[(f"p{i}", "r3", "b") for i in range(2)],
    )
    assert cohen_kappa(judged, min_overlap=3, n_boot=0).select(
        "rater_a", "rater_b", "n"
    ).rows() == [("r1", "r2", 5)]
    assert cohen_kappa(judged, min_overlap=2, n_boot=0).height == 3


def test_cohen_kappa_per_slice() -> None:
    pairs = pl.DataFrame(
        {"pair_id": [f"p{i}" for i in range(8)], "category": ["math"] * 4 + ["poetry"] * 4}
    )
    r1 = ["a", "b", "a", "b", "a", "a", "b", "b"]
    r2 = ["a", "b", "a", "b", "b", "a", "a", "b"]
    judged = votes(
        *[(f"p{i}", "r1", c) for i, c in enumerate(r1)],
        *[(f"p{i}", "r2", c) for i, c in enumerate(r2)],
    )
    kappa = cohen_kappa(judged, pairs, by="category", min_overlap=4, n_boot=0)
    assert kappa.select("category", "rater_a", "rater_b", "n", "agreement").rows() == [
        ("math", "r1", "r2", 4, 1.0),
        ("poetry", "r1", "r2", 4, 0.5),
    ]
    assert kappa["estimate"].to_list() == [1.0, 0.0]


def test_krippendorff_textbook_example_with_missing_votes() -> None:
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", nominal example:
    # 3 coders, 15 units, values 1..4 (here a, b, tie, both_bad); alpha = 0.691358.
    data = [
        [None, None, None, None, None, 3, 4, 1, 2, 1, 1, 3, 3, None, 3],
        [1, None, 2, 1, 3, 3, 4, 3, None, None, None, None, None, None, None],
        [None, None, 2, 1, 3, 4, 4, None, 2, 1, 1, 3, 3, None, 4],
    ]
    names = {1: "a", 2: "b", 3: "tie", 4: "both_bad"}
    judged = votes(
        *[
            (f"u{unit:02d}", f"c{coder}", names[value])
            for coder, row in enumerate(data)
            for unit, value in enumerate(row)
            if value is not None
        ]
    )
    alpha = krippendorff_alpha(judged, n_boot=0)
    assert alpha.estimate == pytest.approx(0.691358, abs=1e-6)
    assert (alpha.n_items, alpha.n_raters) == (12, 3)  # units with at least two values


def test_by_category_gives_one_row_per_slice() -> None:
    pairs = pl.DataFrame(
        {"pair_id": ["p1", "p2", "p3"], "category": ["coding", "coding", "honesty"]}
    )
    judged = votes(
        ("p1", "r1", "a"), ("p1", "r2", "a"),
        ("p2", "r1", "a"), ("p2", "r2", "b"),
        ("p3", "r1", "b"), ("p3", "r2", "b"), ("p3", "r3", "tie"),
    )  # fmt: skip
    by_category = percent_agreement(judged, pairs, by="category", n_boot=0)
    assert by_category.select("category", "estimate", "n", "n_items", "n_raters").rows() == [
        ("coding", 0.5, 2, 2, 2),
        ("honesty", pytest.approx(1 / 3), 3, 1, 3),
    ]


def test_by_principle_puts_an_item_in_every_slice_its_votes_cite() -> None:
    judged = votes(
        ("p1", "r1", "a"), ("p1", "r2", "a"),
        ("p2", "r1", "a"), ("p2", "r2", "b"),
        principles=[["honesty"], ["honesty", "harm"], ["harm"], []],
    )  # fmt: skip
    by_principle = percent_agreement(judged, by="principle", n_boot=0)
    assert by_principle.select("principle", "estimate", "n_items").rows() == [
        ("harm", 0.5, 2),
        ("honesty", 1.0, 1),
    ]


def test_by_model_pair_joins_both_orders() -> None:
    pairs = pl.DataFrame(
        {
            "pair_id": ["p1", "p2", "p3"],
            "prompt": ["q1", "q1", "q2"],
            "model_a": ["x", "y", "x"],
            "model_b": ["y", "x", "z"],
        }
    )
    judged = votes(("p1", "r1", "a"), ("p2", "r2", "b"), ("p3", "r1", "a"), ("p3", "r2", "b"))
    by_models = percent_agreement(judged, pairs, by="model_pair", n_boot=0)
    assert by_models.select("model_pair", "estimate", "n").rows() == [
        ("x vs y", 1.0, 1),
        ("x vs z", 0.0, 1),
    ]


def test_bootstrap_is_seeded_and_brackets_the_estimate(datasets: Path) -> None:
    judged = pandalm_votes(datasets)
    first = krippendorff_alpha(judged, n_boot=300, seed=7)
    again = krippendorff_alpha(judged, n_boot=300, seed=7)
    other = krippendorff_alpha(judged, n_boot=300, seed=8)
    assert first == again != other
    assert first.ci_low < first.estimate < first.ci_high
    point = krippendorff_alpha(judged, n_boot=0)
    assert point.estimate == first.estimate and math.isnan(point.ci_low)


def test_bootstrap_matches_plain_item_resampling(datasets: Path) -> None:
    """Drawing counts of distinct item rows is the same as resampling items."""
    judged = llmfao_votes(datasets)
    ours = krippendorff_alpha(judged, n_boot=400, seed=1)
    counts = _value_counts(judged)
    rng = np.random.default_rng(2)
    resampled = [
        krippendorff.alpha(
            value_counts=counts[rng.integers(0, len(counts), len(counts))],
            level_of_measurement="nominal",
        )
        for _ in range(400)
    ]
    low, high = np.quantile(resampled, [0.025, 0.975])
    assert ours.ci_low == pytest.approx(low, abs=0.01)
    assert ours.ci_high == pytest.approx(high, abs=0.01)


def test_pair_agreement_and_entropy_per_item() -> None:
    judged = votes(
        ("p1", "r1", "a"), ("p1", "r2", "a"), ("p1", "r3", "a"),
        ("p2", "r1", "a"), ("p2", "r2", "b"), ("p2", "r3", "tie"),
        ("p3", "r1", "a"), ("p3", "r2", "b"),
        ("p4", "r1", "b"),
    )  # fmt: skip
    table = pair_agreement(judged)
    assert table.select("item_id", "n_votes", "votes_a", "votes_b", "votes_tie").rows() == [
        ("p1", 3, 3, 0, 0),
        ("p2", 3, 1, 1, 1),
        ("p3", 2, 1, 1, 0),
        ("p4", 1, 0, 1, 0),
    ]
    assert table["majority"].to_list() == ["a", None, None, "b"]
    assert table["agreement"].to_list() == [1.0, 0.0, 0.0, None]
    assert table["entropy"].to_list() == pytest.approx([0.0, math.log2(3), 1.0, 0.0])


# ----------------------------------------------------------------------------- real data


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


def mt_bench_turn1(datasets: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Turn-1 votes as (judgments, pairs) in the file's model order, plus the raw rows."""
    path = datasets / "mt-bench-human-judgments" / "human_judgments.jsonl"
    raw = pl.DataFrame([json.loads(line) for line in path.open()]).filter(pl.col("turn") == 1)
    pair_id = pl.format("q{}:{}:{}", "question_id", "model_a", "model_b")
    pairs = raw.select(
        pair_id=pair_id, prompt=pl.col("question_id").cast(pl.String), model_a="model_a",
        model_b="model_b",
    ).unique("pair_id")  # fmt: skip
    judged = raw.select(
        pair_id=pair_id,
        rater_id="judge",
        choice=pl.col("winner").replace_strict({"model_a": "a", "model_b": "b", "tie": "tie"}),
    )
    return judged, pairs, raw


def _reliability_matrix(judged: pl.DataFrame, scores: dict[str, float]) -> np.ndarray:
    """Raters x items, NaN where missing: the reference libraries' input."""
    wide = judged.with_columns(
        value=pl.col("choice").replace_strict(scores, return_dtype=pl.Float64)
    )
    matrix = wide.pivot(on="pair_id", index="rater_id", values="value", aggregate_function="last")
    return matrix.drop("rater_id").to_numpy().astype(np.float64)


def _value_counts(judged: pl.DataFrame) -> np.ndarray:
    counts = judged.pivot(on="choice", index="pair_id", values="rater_id", aggregate_function="len")
    return counts.drop("pair_id").fill_null(0).to_numpy()


NOMINAL = {"a": 0.0, "b": 1.0, "tie": 2.0}
ORDINAL = {"a": -1.0, "tie": 0.0, "b": 1.0}


@pytest.mark.parametrize("loader", [pandalm_votes, llmfao_votes])
def test_krippendorff_alpha_equals_the_krippendorff_package(datasets: Path, loader: Any) -> None:
    judged = loader(datasets)
    levels: list[tuple[Literal["nominal", "ordinal"], dict[str, float]]] = [
        ("nominal", NOMINAL),
        ("ordinal", ORDINAL),
    ]
    for level, scores in levels:
        reference = krippendorff.alpha(
            reliability_data=_reliability_matrix(judged, scores), level_of_measurement=level
        )
        ours = krippendorff_alpha(judged, level_of_measurement=level, n_boot=0)
        assert ours.estimate == pytest.approx(reference, abs=1e-9), level


def test_ordinal_alpha_on_the_full_strength_scale() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for item in range(60):
        truth = rng.integers(-3, 4)
        for rater in rng.choice(8, size=rng.integers(1, 6), replace=False):
            score = int(np.clip(truth + rng.integers(-1, 2), -3, 3))
            choice = "tie" if score == 0 else ("a" if score < 0 else "b")
            rows.append((f"p{item:02d}", f"r{rater}", choice, abs(score) or None))
    judged = votes(*rows)
    matrix = judged.with_columns(
        score=pl.when(pl.col("choice") == "a").then(-pl.col("strength"))
        .when(pl.col("choice") == "b").then(pl.col("strength")).otherwise(0).cast(pl.Float64)
    ).pivot(on="pair_id", index="rater_id", values="score")  # fmt: skip
    reference = krippendorff.alpha(
        reliability_data=matrix.drop("rater_id").to_numpy(), level_of_measurement="ordinal"
    )
    ours = krippendorff_alpha(judged, level_of_measurement="ordinal", n_boot=0)
    assert ours.estimate == pytest.approx(reference, abs=1e-9)


def test_krippendorff_alpha_on_mt_bench_items_joins_reversed_votes(datasets: Path) -> None:
    judged, pairs, raw = mt_bench_turn1(datasets)
    # Reference: FastChat's item key (question, sorted models), reversed winners flipped.
    swap = pl.col("model_a") > pl.col("model_b")
    flipped = raw.select(
        pair_id=pl.format(
            "{}:{}:{}",
            "question_id",
            pl.min_horizontal("model_a", "model_b"),
            pl.max_horizontal("model_a", "model_b"),
        ),
        rater_id="judge",
        choice=pl.when(swap)
        .then(pl.col("winner").replace({"model_a": "b", "model_b": "a"}))
        .otherwise(pl.col("winner").replace({"model_a": "a", "model_b": "b"})),
    )
    reference = krippendorff.alpha(
        reliability_data=_reliability_matrix(flipped, NOMINAL), level_of_measurement="nominal"
    )
    ours = krippendorff_alpha(judged, pairs, n_boot=0)
    assert ours.estimate == pytest.approx(reference, abs=1e-9)


def test_cohen_kappa_equals_scikit_learn_for_every_rater_pair(datasets: Path) -> None:
    judged = llmfao_votes(datasets)
    ours = cohen_kappa(judged, min_overlap=10, n_boot=0)
    by_rater = {
        rater: dict(zip(part["pair_id"], part["choice"], strict=True))
        for (rater,), part in judged.group_by("rater_id")
    }
    expected = []
    for first, second in combinations(sorted(by_rater), 2):
        shared = sorted(by_rater[first].keys() & by_rater[second].keys())
        if len(shared) >= 10:
            labels_1 = [by_rater[first][pair] for pair in shared]
            labels_2 = [by_rater[second][pair] for pair in shared]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # one label throughout: sklearn warns, gives NaN
                kappa = cohen_kappa_score(labels_1, labels_2)
            expected.append((first, second, len(shared), None if math.isnan(kappa) else kappa))
    assert len(expected) > 100
    assert ours.select("rater_a", "rater_b", "n").rows() == [row[:3] for row in expected]
    assert ours["estimate"].to_list() == pytest.approx([row[3] for row in expected], abs=1e-12)


def test_cohen_kappa_on_pandalm_with_intervals(datasets: Path) -> None:
    judged = pandalm_votes(datasets)
    wide = judged.pivot(on="rater_id", index="pair_id", values="choice")
    ours = cohen_kappa(judged, n_boot=200)
    assert ours.height == 3
    for row in ours.iter_rows(named=True):
        reference = cohen_kappa_score(wide[row["rater_a"]], wide[row["rater_b"]])
        assert row["estimate"] == pytest.approx(reference, abs=1e-12)
        assert row["ci_low"] < row["estimate"] < row["ci_high"]
        assert row["n"] == 999


@pytest.mark.parametrize("loader", [pandalm_votes, llmfao_votes])
def test_fleiss_kappa_equals_statsmodels(datasets: Path, loader: Any) -> None:
    judged = loader(datasets)
    counts = _value_counts(judged)
    sizes = counts.sum(axis=1)
    most_common = np.bincount(sizes).argmax()  # 3 raters on PandaLM, 5 on LLMFAO
    reference = statsmodels_fleiss_kappa(counts[sizes == most_common], method="fleiss")
    ours = fleiss_kappa(judged, n_boot=0)
    assert ours.estimate == pytest.approx(reference, abs=1e-12)
    assert ours.n == (sizes == most_common).sum()


def test_coefficient_fields_for_the_audit(datasets: Path) -> None:
    coefficient = percent_agreement(pandalm_votes(datasets), n_boot=50)
    assert isinstance(coefficient, Coefficient)
    assert (coefficient.name, coefficient.n, coefficient.n_items, coefficient.n_raters) == (
        "percent_agreement",
        2997,
        999,
        3,
    )
