"""Aggregation: majority labels, the leave-one-out reference, and the model leaderboard."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm

from data.presets import PRESETS
from labeling.aggregation import (
    ELO_SCALE,
    LEADERBOARD,
    BradleyTerry,
    MajorityVote,
    leaderboard,
    leave_one_out_consensus,
    response_features,
)
from labeling.simulate import ModelProfile, RaterProfile, simulate_pairs, simulate_votes


def votes(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    """Judgments from (pair_id, rater_id, choice) rows."""
    return pl.DataFrame(rows, schema=["pair_id", "rater_id", "choice"], orient="row")


def games(results: dict[tuple[str, str], str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pairs and votes from {(model_a, model_b): "aab t..."}: one vote per letter (t = tie)."""
    pair_rows, vote_rows = [], []
    for k, ((model_a, model_b), outcomes) in enumerate(results.items()):
        pair_rows.append((f"p{k}", model_a, model_b))
        choice = {"a": "a", "b": "b", "t": "tie", "x": "both_bad"}
        vote_rows += [(f"p{k}", f"r{n}", choice[o]) for n, o in enumerate(outcomes)]
    pairs = pl.DataFrame(pair_rows, schema=["pair_id", "model_a", "model_b"], orient="row")
    return votes(vote_rows), pairs


# -- response features -------------------------------------------------------------------------


def test_response_features_count_length_and_markdown() -> None:
    pairs = pl.DataFrame(
        {
            "pair_id": ["p"],
            "prompt": ["Why?"],
            "response_a": ["# Title\n## Sub\n1. one\n2. two\n* three\nSome **bold** and __more__."],
            "response_b": ["Plain text, no #hashtag header, no - dash list."],
        }
    )
    row = response_features(pairs).row(0, named=True)
    assert row["chars_a"] == 64 and row["chars_b"] == 47
    assert row["chars"] == 4 + 64 + 47
    assert row["length"] == pytest.approx(math.log(65 / 48))
    assert row["headers"] == pytest.approx(math.log(3))  # 2 headers vs 0
    assert row["lists"] == pytest.approx(math.log(4))  # 3 items vs 0
    assert row["bold"] == pytest.approx(math.log(3))  # 2 bold vs 0
    assert row["markdown"] == pytest.approx(math.log(8))  # 7 elements vs 0


# -- majority vote and the leave-one-out reference ---------------------------------------------


def test_majority_vote_labels_and_shares() -> None:
    judged = votes(
        [
            ("p1", "r1", "a"), ("p1", "r2", "a"), ("p1", "r3", "b"),
            ("p2", "r1", "tie"), ("p2", "r2", "tie"),
            ("p3", "r1", "a"), ("p3", "r2", "b"),
        ]
    )  # fmt: skip
    model = MajorityVote().fit(judged)
    assert model.labels_.rows() == [
        ("p1", "a", 2 / 3, 3),
        ("p2", "tie", 1.0, 2),
        ("p3", None, 0.5, 2),
    ]
    assert model.probas_.row(0) == ("p1", 2 / 3, 1 / 3, 0.0, 0.0)


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # inside crowd-kit, on pandas 3
def test_majority_vote_matches_crowd_kit() -> None:
    crowdkit = pytest.importorskip("crowdkit.aggregation")
    pairs = simulate_pairs(300, seed=1)
    judged = simulate_votes(pairs, [RaterProfile(f"r{k}", skill=0.7) for k in range(7)], 5)
    ours = MajorityVote().fit(judged).labels_.drop_nulls("label")
    frame = judged.select(
        pl.col("pair_id").alias("task"), pl.col("rater_id").alias("worker"),
        pl.col("choice").alias("label"),
    ).to_pandas()  # fmt: skip
    theirs = crowdkit.MajorityVote().fit_predict(frame)
    assert ours.height > 250
    for pair_id, label in ours.select("pair_id", "label").iter_rows():
        assert theirs[pair_id] == label


def test_leave_one_out_consensus_excludes_the_rater_own_votes() -> None:
    judged = votes(
        [
            ("p1", "r1", "a"), ("p1", "r2", "b"), ("p1", "r3", "b"),
            ("p2", "r1", "a"),
            ("p3", "r1", "tie"), ("p3", "r2", "tie"), ("p3", "r3", "a"), ("p3", "r4", "a"),
        ]
    )  # fmt: skip
    loo = leave_one_out_consensus(judged)
    assert loo.get_column("consensus").to_list() == [
        "b", None, None,  # r1 sees b,b; r2 and r3 see a 1-1 split
        None,  # nobody else voted
        "a", "a", "tie", "tie",
    ]  # fmt: skip
    assert loo.get_column("n_others").to_list() == [2, 2, 2, 0, 3, 3, 3, 3]


def test_leave_one_out_consensus_leaves_out_every_round_of_the_rater() -> None:
    # r1 voted twice (two rounds); neither of r1's votes may count for r1.
    judged = votes([("p1", "r1", "a"), ("p1", "r1", "a"), ("p1", "r2", "b")])
    loo = leave_one_out_consensus(judged)
    assert loo.get_column("consensus").to_list() == ["b", "b", "a"]
    assert loo.get_column("n_others").to_list() == [1, 1, 2]


def test_leave_one_out_consensus_counts_votes_on_the_reversed_pair() -> None:
    # Three votes on one comparison, one of them on the reversed pair (sides swapped): r1
    # and r2 both prefer x. Counted per pair, r2 would be measured against r3 alone and r1
    # against nobody; counted on the comparison, each rater meets the other two.
    pairs = pl.DataFrame(
        {"pair_id": ["xy", "yx"], "prompt": ["q", "q"], "model_a": ["x", "y"],
         "model_b": ["y", "x"], "response_a": ["X", "Y"], "response_b": ["Y", "X"]}
    )  # fmt: skip
    judged = votes([("xy", "r1", "a"), ("yx", "r2", "b"), ("yx", "r3", "a")])
    loo = leave_one_out_consensus(judged, pairs)
    # r1: r2 says x, r3 says y: split. r2: r1 and r3 split too. r3: r1 and r2 both say x,
    # which on r3's own sides (y shown as a) is b.
    assert loo.get_column("consensus").to_list() == [None, None, "b"]
    assert loo.get_column("item_consensus").to_list() == [None, None, "a"]
    assert loo.get_column("n_others").to_list() == [2, 2, 2]


# -- Bradley-Terry -----------------------------------------------------------------------------


def logit_reference(
    judged: pl.DataFrame, pairs: pl.DataFrame, covariates: tuple[str, ...] = ()
) -> tuple[list[str], np.ndarray]:
    """statsmodels Logit on the ±1 design (model_a +1, model_b -1, first model dropped)."""
    joined = judged.join(pairs, on="pair_id")
    if covariates:
        joined = joined.join(response_features(pairs), on="pair_id")
    models = sorted(set(joined["model_a"]) | set(joined["model_b"]))
    design = np.zeros((joined.height, len(models)))
    rows = np.arange(joined.height)
    design[rows, [models.index(m) for m in joined["model_a"]]] += 1.0
    design[rows, [models.index(m) for m in joined["model_b"]]] -= 1.0
    design = np.column_stack([design[:, 1:], *(joined[name].to_numpy() for name in covariates)])
    y = (joined["choice"] == "a").to_numpy().astype(float)
    return models, sm.Logit(y, design).fit(disp=0, tol=1e-12).params


@pytest.fixture(scope="module")
def no_tie_votes() -> tuple[pl.DataFrame, pl.DataFrame]:
    models = [
        ModelProfile("m1", 0.5), ModelProfile("m2", 0.0, verbosity=1.8),
        ModelProfile("m3", -0.4), ModelProfile("m4", 1.0),
    ]  # fmt: skip
    pairs = simulate_pairs(600, models=models, seed=3)
    raters = [RaterProfile(f"r{k}", tie_rate=0.0, length_bias=0.5) for k in range(4)]
    return simulate_votes(pairs, raters, votes_per_pair=3, seed=3), pairs


def test_bradley_terry_without_ties_is_logistic_regression(
    no_tie_votes: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    judged, pairs = no_tie_votes
    model = BradleyTerry(n_boot=0).fit(judged, pairs)
    models, reference = logit_reference(judged, pairs)
    assert model.models_ == models
    assert model.tie_parameter_ is None
    np.testing.assert_allclose(model.theta_[1:] - model.theta_[0], reference, atol=1e-6)
    scores = dict(model.scores_.select("model", "score").iter_rows())
    assert scores["m4"] - scores["m3"] == pytest.approx(ELO_SCALE * (reference[2] - reference[1]))
    assert model.scores_.get_column("score").mean() == pytest.approx(1000.0)


def test_style_control_is_logistic_regression_with_covariates(
    no_tie_votes: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    judged, pairs = no_tie_votes
    covariates = ("length", "lists")
    model = BradleyTerry(style_covariates=covariates, n_boot=0).fit(judged, pairs)
    _, reference = logit_reference(judged, pairs, covariates)
    np.testing.assert_allclose(model.theta_[1:] - model.theta_[0], reference[:3], atol=1e-6)
    np.testing.assert_allclose(model.coef_.get_column("coef").to_numpy(), reference[3:], atol=1e-6)
    assert model.coef_.get_column("covariate").to_list() == ["length", "lists"]


def test_davidson_ties_by_hand() -> None:
    # Two models, saturated: P(a) : P(b) : P(tie) = 4 : 1 : 2 exactly, so e^Δθ = 4/1 and
    # ν = ties / sqrt(wins · losses) = 2 / sqrt(4) = 1.
    judged, pairs = games({("A", "B"): "aaaabtt"})
    model = BradleyTerry(ties="davidson", n_boot=0).fit(judged, pairs)
    assert model.theta_[0] - model.theta_[1] == pytest.approx(math.log(4), abs=1e-5)
    assert model.tie_parameter_ == pytest.approx(1.0, abs=1e-5)
    scores = model.scores_.get_column("score").to_list()
    assert scores[0] - scores[1] == pytest.approx(400 * math.log10(4), abs=1e-3)  # 240.8


def test_rao_kupper_ties_by_hand() -> None:
    # Saturated again: σ(Δθ - η) = 4/7 and σ(-Δθ - η) = 1/7.
    judged, pairs = games({("A", "B"): "aaaabtt"})
    model = BradleyTerry(ties="rao-kupper", n_boot=0).fit(judged, pairs)

    def logit(p: float) -> float:
        return math.log(p / (1 - p))

    delta = (logit(4 / 7) - logit(1 / 7)) / 2
    eta = -(logit(4 / 7) + logit(1 / 7)) / 2
    assert model.theta_[0] - model.theta_[1] == pytest.approx(delta, abs=1e-5)
    assert model.tie_parameter_ == pytest.approx(math.exp(eta), abs=1e-5)


def test_both_bad_counts_as_a_tie() -> None:
    with_both_bad = BradleyTerry(n_boot=0).fit(*games({("A", "B"): "aaaabxx"}))
    with_ties = BradleyTerry(n_boot=0).fit(*games({("A", "B"): "aaaabtt"}))
    np.testing.assert_allclose(with_both_bad.theta_, with_ties.theta_)


def test_an_unbeaten_model_stays_finite_and_first() -> None:
    judged, pairs = games({("A", "B"): "aaa", ("B", "C"): "ab", ("C", "A"): "bb"})
    model = BradleyTerry(n_boot=20).fit(judged, pairs)
    assert np.isfinite(model.theta_).all()
    assert model.scores_.get_column("model").to_list()[0] == "A"


def test_bootstrap_intervals_match_the_standard_errors(
    no_tie_votes: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    judged, pairs = no_tie_votes
    for covariates in [(), ("length",)]:
        model = BradleyTerry(style_covariates=covariates, n_boot=400, seed=1).fit(judged, pairs)
        scores = model.scores_
        assert (scores["ci_low"] < scores["score"]).all()
        assert (scores["score"] < scores["ci_high"]).all()
        # The interval of θ_m4 - θ_m1 from the replicates against statsmodels' standard error.
        diff = model.boot_theta_[:, 3] - model.boot_theta_[:, 0]
        assert np.std(diff) == pytest.approx(reference_se(judged, pairs, covariates), rel=0.2)
    low, high = model.coef_.select("ci_low", "ci_high").row(0)
    assert low < model.coef_.get_column("coef")[0] < high


def reference_se(judged: pl.DataFrame, pairs: pl.DataFrame, covariates: tuple[str, ...]) -> float:
    """statsmodels' standard error of θ_m4 - θ_m1 (m1 is the dropped reference column)."""
    joined = judged.join(pairs, on="pair_id").join(response_features(pairs), on="pair_id")
    models = ["m1", "m2", "m3", "m4"]
    design = np.zeros((joined.height, 4))
    rows = np.arange(joined.height)
    design[rows, [models.index(m) for m in joined["model_a"]]] += 1.0
    design[rows, [models.index(m) for m in joined["model_b"]]] -= 1.0
    design = np.column_stack([design[:, 1:], *(joined[name].to_numpy() for name in covariates)])
    y = (joined["choice"] == "a").to_numpy().astype(float)
    return float(sm.Logit(y, design).fit(disp=0).bse[2])


def test_style_control_removes_a_length_advantage() -> None:
    # Two equally good models, one twice as verbose; every rater likes length.
    models = [ModelProfile("terse", 0.0, verbosity=0.8), ModelProfile("verbose", 0.0, 2.0)]
    pairs = simulate_pairs(1500, models=models, seed=5)
    raters = [RaterProfile(f"r{k}", skill=0.75, length_bias=1.0) for k in range(5)]
    judged = simulate_votes(pairs, raters, votes_per_pair=3, seed=5)
    board = leaderboard(judged, pairs, style_covariates=("length",), n_boot=50)
    verbose = board.filter(pl.col("model") == "verbose").row(0, named=True)
    terse = board.filter(pl.col("model") == "terse").row(0, named=True)
    assert verbose["rank"] == 1 and verbose["score"] - terse["score"] > 60
    assert verbose["style_shift"] < -30  # most of the lead was length
    assert abs(verbose["style_score"] - terse["style_score"]) < 25
    assert verbose["win_rate"] > 0.55


def test_mt_bench_humans_rank_gpt4_first_and_llama_last(datasets: Path) -> None:
    importers = pytest.importorskip("data.importers")
    batch = importers.read_file(datasets / "mt-bench-human-judgments", preset="mt-bench")
    for ties in ("davidson", "rao-kupper"):
        board = BradleyTerry(ties=ties, n_boot=50).fit(batch.judgments, batch.pairs).scores_
        order = board.get_column("model").to_list()
        assert order[0] == "gpt-4" and order[-1] == "llama-13b"
        assert board.get_column("n_votes").sum() == 2 * 2558  # every vote, two models each
    styled = leaderboard(batch.judgments, batch.pairs, n_boot=50)
    assert styled.sort("style_rank").get_column("model").to_list()[0] == "gpt-4"


def test_plain_text_pandalm_keeps_both_leaderboards(datasets: Path) -> None:
    # No PandaLM response has bold: the style fit was singular and took the whole
    # leaderboard with it. Now bold is left out (and said), and five models are ranked.
    batch = PRESETS["pandalm"].read(datasets / "pandalm-testset")
    notes: list[str] = []
    board = leaderboard(batch.judgments, batch.pairs, n_boot=50, notes=notes)
    assert notes == ["style control leaves out bold: the same in every voted pair"]
    assert board.height == 5 and board["rank"].to_list() == [1, 2, 3, 4, 5]
    assert board["style_rank"].sort().to_list() == [1, 2, 3, 4, 5]
    assert ((board["ci_low"] < board["score"]) & (board["score"] < board["ci_high"])).all()
    assert (
        (board["style_ci_low"] < board["style_score"])
        & (board["style_score"] < board["style_ci_high"])
    ).all()
    assert board["n_votes"].sum() == 2 * batch.judgments.height
    styled = BradleyTerry(style_covariates=("length", "headers", "lists", "bold"), n_boot=0)
    assert styled.fit(batch.judgments, batch.pairs).dropped_covariates_ == ["bold"]
    assert styled.coef_["covariate"].to_list() == ["length", "headers", "lists"]


def test_covariates_that_never_vary_are_left_out_and_said() -> None:
    judged, named = games({("A", "B"): "aaab", ("B", "C"): "abbb", ("A", "C"): "aatb"})
    texts = pl.DataFrame({"pair_id": ["p0", "p1", "p2"], "prompt": ["?"] * 3})
    same_length = named.join(texts, on="pair_id").with_columns(
        response_a=pl.lit("one answer"), response_b=pl.lit("two answer")
    )
    notes: list[str] = []
    board = leaderboard(judged, same_length, n_boot=20, notes=notes)
    assert notes == [
        "no style control: length, headers, lists, bold are the same in every voted pair"
    ]
    assert board["model"].to_list() == ["A", "C", "B"]
    assert board["style_score"].is_null().all() and board["score"].is_not_null().all()
    plain = BradleyTerry(n_boot=20).fit(judged, same_length).scores_
    assert board["score"].to_list() == plain["score"].to_list()


def test_no_named_models_gives_an_empty_leaderboard_and_a_note() -> None:
    judged, named = games({("A", "B"): "ab"})
    notes: list[str] = []
    board = leaderboard(judged, named.with_columns(model_b=pl.lit(None, pl.String)), notes=notes)
    assert board.is_empty() and board.schema == pl.Schema(LEADERBOARD)
    assert notes == ["no vote compares two named models: nothing to rank"]


def test_bad_settings_and_empty_input_are_refused() -> None:
    judged, pairs = games({("A", "B"): "ab"})
    with pytest.raises(ValueError, match="ties must be"):
        BradleyTerry(ties="elo").fit(judged, pairs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown style covariates"):
        BradleyTerry(style_covariates=("emoji",)).fit(judged, pairs)
    same_model = pairs.with_columns(pl.lit("A").alias("model_b"))
    with pytest.raises(ValueError, match="no votes between two different named models"):
        BradleyTerry().fit(judged, same_model)


# -- what counts: retests and probe pairs test the raters, they are not votes --------------------


def test_a_retest_is_neither_a_second_vote_nor_counted_twice_for_the_others() -> None:
    # r1 answered p1 with a and, served p1 again as a retest (round 1), flipped to b.
    first = votes([("p1", "r1", "a"), ("p1", "r2", "b"), ("p1", "r3", "a")])
    retested = pl.concat([first, votes([("p1", "r1", "b")])]).with_columns(
        round=pl.Series([0, 0, 0, 1], dtype=pl.Int32)
    )
    # The label is the first answers' majority: a; counted twice, r1 would tie it 2-2.
    assert MajorityVote().fit(retested).labels_.rows() == [("p1", "a", 2 / 3, 3)]
    # r2 and r3 each meet r1 once (one vote of r1, not two that split); r1 meets r2 and r3;
    # r1's retest row gets the others' majority too (split 1-1 here: none).
    loo = leave_one_out_consensus(retested)
    assert loo.get_column("n_others").to_list() == [2, 2, 2, 2]
    assert loo.get_column("consensus").to_list() == [None, "a", None, None]
    assert loo.head(3).equals(leave_one_out_consensus(first.with_columns(round=pl.lit(0))))


def test_probe_pairs_are_left_out_of_labels_consensus_and_the_leaderboard() -> None:
    judged, pairs = games({("x", "y"): "aaab", ("y", "z"): "aab", ("x", "z"): "abaa"})
    # A probe of p0 (x vs y) where a flattering edit made every rater pick y.
    probe = pl.DataFrame(
        {"pair_id": ["t0"], "model_a": ["x"], "model_b": ["y"], "probe_kind": ["flattery"]}
    )
    probed_pairs = pl.concat([pairs, probe], how="diagonal")
    probed = pl.concat([judged, votes([("t0", f"r{n}", "b") for n in range(4)])])
    assert (
        MajorityVote().fit(probed, probed_pairs).labels_.equals(MajorityVote().fit(judged).labels_)
    )
    plain = BradleyTerry(n_boot=20).fit(judged, pairs).scores_
    assert BradleyTerry(n_boot=20).fit(probed, probed_pairs).scores_.equals(plain)
    assert leaderboard(probed, probed_pairs, style_covariates=(), n_boot=10).equals(
        leaderboard(judged, pairs, style_covariates=(), n_boot=10)
    )
    loo = leave_one_out_consensus(probed, probed_pairs)
    assert loo.head(judged.height).equals(leave_one_out_consensus(judged, pairs))
    on_probe = loo.filter(pl.col("pair_id") == "t0")
    assert on_probe["consensus"].is_null().all() and (on_probe["n_others"] == 0).all()
