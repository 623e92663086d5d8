"""Which pair comes next: each policy's order on hand-made votes, the rules every policy
shares (one row per pair of the coverage, gold pairs left to the store, open claims count
down), and the two scores checked against a direct computation."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import polars as pl
import pytest
from scipy import stats

from data import frames
from labeling.policies import (
    POLICIES,
    POLICY,
    RATER_ACCURACY,
    SPLIT_PRIOR,
    label_doubt,
    model_guided,
    split_entropy,
)
from reward.score import SCORES
from tests.labeling.test_blind_spots import judgments, vote


def coverage(
    *pairs: tuple[str, int], gold: Sequence[str] = (), open_: Sequence[str] = ()
) -> pl.DataFrame:
    """``Store.coverage``'s frame: (pair_id, votes done) per pair; ``gold`` pairs are hidden
    checks, ``open_`` pairs have one claim out."""
    return pl.DataFrame(
        {
            "pair_id": [pair_id for pair_id, _ in pairs],
            "is_gold": [pair_id in gold for pair_id, _ in pairs],
            "n_done": [done for _, done in pairs],
            "n_open": [int(pair_id in open_) for pair_id, _ in pairs],
        }
    )


def votes_on(**choices: str) -> pl.DataFrame:
    """Votes from the choices of each pair: ``p1="a b"`` is one vote a and one b on p1."""
    rows = [
        vote(pair_id, f"r{k}", choice)
        for pair_id, spelled in choices.items()
        for k, choice in enumerate(spelled.split())
    ]
    return judgments(rows) if rows else frames.empty(frames.JUDGMENTS)


def scores_of(**margins: float) -> pl.DataFrame:
    """A checkpoint's scores with ``reward_a - reward_b`` = the margin of each pair."""
    return pl.DataFrame(
        {
            "pair_id": list(margins),
            "reward_a": [m / 2 for m in margins.values()],
            "reward_b": [-m / 2 for m in margins.values()],
        }
    )


def priorities(frame: pl.DataFrame) -> dict[str, float]:
    return dict(frame.iter_rows())


def served_order(frame: pl.DataFrame) -> list[str]:
    return frame.sort("priority", descending=True, maintain_order=True)["pair_id"].to_list()


# -- what every policy promises --------------------------------------------------------------

VOTED = votes_on(w1="a b", w2="a a a", w3="b", g1="a b")
COVERAGE = coverage(("w1", 2), ("w2", 3), ("w3", 1), ("w4", 0), ("g1", 2), gold=["g1"])
SCORES_OF_ALL = scores_of(w1=1.0, w2=-2.0, w3=0.5, w4=0.0, g1=-4.0)


@pytest.mark.parametrize("name", list(POLICIES))
def test_every_policy_gives_one_priority_per_pair_of_the_coverage_in_its_order(
    name: str,
) -> None:
    ranked = POLICIES[name](COVERAGE, VOTED, SCORES_OF_ALL, pairs=None)
    assert ranked.schema == pl.Schema(POLICY)
    assert ranked["pair_id"].to_list() == COVERAGE["pair_id"].to_list()
    assert ranked["priority"].null_count() == 0


@pytest.mark.parametrize("name", list(POLICIES))
def test_no_policy_moves_gold_pairs_the_store_serves_them_least_covered_first(
    name: str,
) -> None:
    # g1 is split 1-1, the model disagrees with its votes and gold contradicts them: every
    # reason a policy has to want votes. Still it keeps the uniform priority, and the
    # answer carries no is_gold: which pairs are gold, and when, stays the store's.
    pairs = frames.conform(pl.DataFrame({"pair_id": ["g1"], "gold": ["b"]}), frames.PAIRS)
    ranked = POLICIES[name](COVERAGE, VOTED, SCORES_OF_ALL, pairs=pairs)
    assert priorities(ranked)["g1"] == -2.0
    assert ranked.columns == list(POLICY)


@pytest.mark.parametrize("name", list(POLICIES))
def test_a_claim_out_on_a_pair_is_a_vote_on_its_way_and_lowers_its_priority(name: str) -> None:
    held = coverage(("w1", 2), ("w2", 3), ("w3", 1), ("w4", 0), open_=["w1"])
    free = coverage(("w1", 2), ("w2", 3), ("w3", 1), ("w4", 0))
    policy = POLICIES[name]
    assert priorities(policy(held, VOTED, SCORES_OF_ALL))["w1"] == (
        priorities(policy(free, VOTED, SCORES_OF_ALL))["w1"] - 1.0
    )


@pytest.mark.parametrize("name", ["disputed", "model"])
def test_disputed_and_model_serve_a_held_pair_after_every_pair_nobody_holds(name: str) -> None:
    held = coverage(("w1", 2), ("w2", 3), ("w3", 1), ("w4", 0), open_=["w1"])
    assert served_order(POLICIES[name](held, VOTED, SCORES_OF_ALL))[-1] == "w1"


@pytest.mark.parametrize("name", list(POLICIES))
def test_before_any_vote_every_work_pair_ties_and_the_store_order_decides(name: str) -> None:
    fresh = coverage(("w1", 0), ("w2", 0), ("w3", 0))
    ranked = POLICIES[name](fresh, votes_on(), None)
    assert ranked["priority"].n_unique() == 1


# -- uniform ---------------------------------------------------------------------------------


def test_uniform_serves_the_least_covered_pair_first() -> None:
    ranked = POLICIES["uniform"](COVERAGE, VOTED)
    assert priorities(ranked) == {"w1": -2.0, "w2": -3.0, "w3": -1.0, "w4": -0.0, "g1": -2.0}


# -- disputed --------------------------------------------------------------------------------


def test_disputed_serves_split_votes_first_then_unvoted_pairs_and_unanimous_ones_last() -> None:
    votes = votes_on(split="a b", tie_split="a tie", two_one="a a b", one="a", settled="a a a")
    cover = coverage(
        ("split", 2), ("tie_split", 2), ("two_one", 3), ("unvoted", 0), ("one", 1), ("settled", 3)
    )
    ranked = priorities(POLICIES["disputed"](cover, votes))
    assert ranked["split"] == ranked["tie_split"] > ranked["two_one"] > ranked["unvoted"]
    # One vote says no more about a split than none: the store's order (least covered) then
    # serves the unvoted pair first.
    assert ranked["unvoted"] == ranked["one"] > ranked["settled"]


def test_disputed_counts_a_both_bad_vote_as_a_tie_neither_side() -> None:
    cover = coverage(("p1", 2), ("p2", 2))
    ranked = priorities(POLICIES["disputed"](cover, votes_on(p1="a both_bad", p2="a tie")))
    assert ranked["p1"] == ranked["p2"]


def test_split_entropy_is_the_mean_entropy_of_dirichlet_draws() -> None:
    # Reference: draw vote shares from the posterior and average their entropy.
    rng = np.random.default_rng(0)
    for counts in [(0, 0, 0), (1, 1, 0), (3, 0, 0), (2, 1, 1)]:
        draws = rng.dirichlet(np.array(counts) + SPLIT_PRIOR, size=200_000)
        reference = stats.entropy(draws, axis=1).mean() / math.log(3)
        ours = split_entropy([counts[0]], [counts[1]], [counts[2]])[0]
        assert ours == pytest.approx(reference, abs=2e-3)


# -- model -----------------------------------------------------------------------------------


def test_model_serves_disagreement_first_then_the_boundary_then_agreement() -> None:
    # One vote for a on each pair; the model prefers b strongly, is unsure, prefers a.
    votes = votes_on(disagrees="a", unsure="a", agrees="a")
    cover = coverage(("disagrees", 1), ("unsure", 1), ("agrees", 1), ("unvoted", 0))
    scores = scores_of(disagrees=-3.0, unsure=0.0, agrees=3.0, unvoted=5.0)
    ranked = POLICIES["model"](cover, votes, scores)
    # An unvoted pair's label is a coin flip (1/2) whatever the model thinks; a vote the
    # model disagrees with strongly is more likely wrong than that.
    assert served_order(ranked) == ["disagrees", "unvoted", "unsure", "agrees"]


def test_model_spends_votes_where_the_majority_contradicts_gold_not_where_it_matches() -> None:
    votes = votes_on(against="a a", matches="b b", unknown="a a")
    cover = coverage(("against", 2), ("matches", 2), ("unknown", 2))
    pairs = frames.conform(
        pl.DataFrame({"pair_id": ["against", "matches"], "gold": ["b", "b"]}), frames.PAIRS
    )
    ranked = priorities(POLICIES["model"](cover, votes, scores_of(against=2.0), pairs=pairs))
    assert ranked["against"] == 1.0 and ranked["matches"] == 0.0
    assert 0.0 < ranked["unknown"] < 1.0


def test_model_without_scores_ranks_by_the_votes_alone() -> None:
    votes = votes_on(split="a b", one="a", two="b b")
    cover = coverage(("split", 2), ("one", 1), ("two", 2), ("unvoted", 0))
    ranked = priorities(POLICIES["model"](cover, votes, None))
    assert ranked["split"] == ranked["unvoted"] == 0.5
    assert ranked["one"] == pytest.approx(1 - RATER_ACCURACY)
    assert ranked["two"] < ranked["one"]
    # A pair the checkpoint did not score counts as a margin of 0: the same.
    assert (
        priorities(POLICIES["model"](cover, votes, scores_of(split=1.0)))["one"] == (ranked["one"])
    )


def test_model_reads_the_house_scores_frame_of_one_checkpoint() -> None:
    assert {"pair_id", "reward_a", "reward_b"} <= set(SCORES)
    one = frames.conform(scores_of(p1=1.0), SCORES).with_columns(pl.lit("ckpt").alias("model_id"))
    cover = coverage(("p1", 0))
    assert model_guided(cover, votes_on(), one).height == 1
    with pytest.raises(ValueError, match="several rows for a pair"):
        model_guided(cover, votes_on(), pl.concat([one, one.with_columns(model_id=pl.lit("b"))]))


def test_label_doubt_is_the_posterior_chance_that_the_majority_is_wrong() -> None:
    # Reference: Bayes by hand. Prior P(a) = σ(margin); a vote names the better side with
    # RATER_ACCURACY; the label is a (more a votes), so it is wrong when b is better.
    s = RATER_ACCURACY
    for margin, n_a, n_b in [(0.0, 2, 1), (-1.5, 3, 1), (2.0, 1, 0), (-4.0, 2, 0)]:
        prior_a = 1 / (1 + math.exp(-margin))
        like_a = s**n_a * (1 - s) ** n_b
        like_b = (1 - s) ** n_a * s**n_b
        wrong = (1 - prior_a) * like_b / (prior_a * like_a + (1 - prior_a) * like_b)
        ours = label_doubt([margin], [n_a], [n_b], pl.Series(["a"]))[0]
        assert ours == pytest.approx(wrong)
