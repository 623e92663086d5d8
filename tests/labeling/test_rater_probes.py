"""Probe pairs for the raters: what is made from which pair, what is skipped and why, and that
making them again adds nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest

from data import frames
from data.shapes import pair_id_for
from data.store import Store
from labeling.edits import EDITS, REFUSAL, WRONG_CLAIM, Edited
from labeling.rater_probes import (
    PROBE_KINDS,
    RETEST,
    intended_answers,
    make_probe_pairs,
)

WINNER = "Paris is the capital of France. It lies on the Seine."
LOSER = "Lyon is the capital of France. It lies on the Rhone."
VOTED_AT = datetime(2025, 1, 1, tzinfo=UTC)


def base(pair_id: str, *, a: str = WINNER, b: str = LOSER, **columns: Any) -> dict[str, Any]:
    return {
        "pair_id": pair_id,
        "project_id": "p",
        "prompt": f"Which city is the capital of France? ({pair_id})",
        "response_a": a,
        "response_b": b,
        "category": "geography",
        "model_a": "atlas",
        "model_b": "birch",
        "is_gold": False,
        "source": "file.jsonl",
        **columns,
    }


def pair_frame(*rows: dict[str, Any]) -> pl.DataFrame:
    return frames.conform(pl.DataFrame(list(rows)), frames.PAIRS)


def votes(pair_id: str, *choices: str, rater: str = "r", round: int = 0) -> list[dict[str, Any]]:
    """One vote per choice, by raters r1, r2, ... (with what the store asks of a vote)."""
    return [
        {
            "submission_id": f"{pair_id}/{rater}{i}/{round}",
            "pair_id": pair_id,
            "rater_id": f"{rater}{i}",
            "round": round,
            "choice": choice,
            "created_at": VOTED_AT,
        }
        for i, choice in enumerate(choices, start=1)
    ]


def vote_frame(*rows: list[dict[str, Any]]) -> pl.DataFrame:
    flat = [row for group in rows for row in group]
    return frames.conform(
        pl.DataFrame(flat) if flat else frames.empty(frames.JUDGMENTS), frames.JUDGMENTS
    )


def skipped_reasons(made: Any, kind: str = "length") -> dict[str, int]:
    return dict(made.skipped.filter(pl.col("kind") == kind).select("reason", "n").iter_rows())


def test_the_intended_loser_gets_the_edit_and_the_winner_stays_as_it_is() -> None:
    # Gold says b wins: the loser is response_a.
    made = make_probe_pairs(pair_frame(base("p1", a=LOSER, b=WINNER, gold="b")), vote_frame())
    assert made.pairs.get_column("probe_kind").to_list() == list(EDITS)
    assert made.skipped.is_empty()
    for probe in made.pairs.iter_rows(named=True):
        kind, intended = probe["probe_kind"], probe["gold"]
        other = "b" if intended == "a" else "a"
        assert probe[f"response_{intended}"] == WINNER, kind
        edited = EDITS[kind](base("p1")["prompt"], LOSER)
        assert isinstance(edited, Edited)
        assert (probe["prompt"], probe[f"response_{other}"]) == edited, kind
        # The models follow their responses across the swap.
        assert (probe[f"model_{intended}"], probe[f"model_{other}"]) == ("birch", "atlas")
        assert (probe["probe_of"], probe["category"], probe["source"]) == (
            "p1",
            "geography",
            "probe",
        )
        assert probe["is_gold"] is False and probe["gold_principle"] is None
        assert json.loads(probe["metadata"]) == {"intended_from": "gold"}
        assert probe["pair_id"] == pair_id_for(
            probe["prompt"], probe["response_a"], probe["response_b"]
        )
    sycophancy = made.pairs.filter(pl.col("probe_kind") == "sycophancy").row(0, named=True)
    assert sycophancy["prompt"].endswith(WRONG_CLAIM), "the claim is planted for both sides"


def test_a_strong_consensus_of_votes_stands_in_for_gold() -> None:
    pairs = pair_frame(
        base("strong"),  # 4 of 5 for a: 80%
        base("split"),  # 2 of 3: 67%
        base("ties"),  # 3 of 5: ties and "both bad" count against a side
        base("few"),  # 2 votes only
        base("tie-gold", gold="tie"),  # no side is meant to win, whatever the votes
        base("gold-b", gold="b"),  # gold decides, whatever the votes
    )
    judgments = vote_frame(
        votes("strong", "a", "a", "a", "a", "tie"),
        votes("split", "a", "a", "b"),
        votes("ties", "a", "a", "a", "tie", "both_bad"),
        votes("few", "b", "b"),
        votes("tie-gold", "a", "a", "a", "a", "a"),
        votes("gold-b", "a", "a", "a", "a", "a"),
    )
    made = make_probe_pairs(pairs, judgments, ["length"])
    assert made.pairs.get_column("probe_of").to_list() == ["strong", "gold-b"]
    strong = made.pairs.row(0, named=True)
    assert strong[f"response_{strong['gold']}"] == WINNER
    assert json.loads(strong["metadata"]) == {
        "intended_from": "votes",
        "votes": 5,
        "agreement": 0.8,
    }
    assert skipped_reasons(made) == {
        "no side has 80% of the votes": 2,
        "fewer than 3 human votes": 1,
        "its gold is a tie": 1,
    }
    looser = make_probe_pairs(pairs, judgments, ["length"], min_votes=2, min_agreement=0.6)
    assert set(looser.pairs.get_column("probe_of")) == {"strong", "split", "ties", "few", "gold-b"}


def test_only_people_count_and_each_of_them_once() -> None:
    pairs = pair_frame(base("p"))
    judgments = vote_frame(
        votes("p", "a", "a"),
        votes("p", "a", round=1),  # r1 again, in a retest round
        [{"pair_id": "p", "rater_id": "source:trl", "round": 0, "choice": "a"}],
    )
    raters = pl.DataFrame(
        {"rater_id": ["r1", "r2", "source:trl"], "kind": ["human", "human", "source"]}
    )
    answer = intended_answers(pairs, judgments, raters=raters).row(0, named=True)
    assert (answer["intended"], answer["votes"]) == (None, 2)
    assert answer["reason"] == "fewer than 3 human votes"
    without_raters = intended_answers(pairs, judgments).row(0, named=True)
    assert (without_raters["intended"], without_raters["votes"]) == ("a", 3)


def test_probe_pairs_are_never_bases() -> None:
    pairs = pair_frame(base("p1", gold="a"))
    made = make_probe_pairs(pairs, vote_frame())
    again = make_probe_pairs(pl.concat([pairs, made.pairs]), vote_frame())
    assert set(again.pairs.get_column("probe_of")) == {"p1"}
    assert again.pairs.equals(made.pairs), "the same probes, none of a probe"


def test_sides_are_drawn_from_the_seed_and_stay_put_when_the_set_grows() -> None:
    pairs = pair_frame(*(base(f"p{i:02d}", gold="a") for i in range(40)))
    made = make_probe_pairs(pairs, vote_frame(), ["length"], seed=7)
    golds = made.pairs.get_column("gold").to_list()
    assert 10 <= golds.count("a") <= 30, "both sides, about evenly"
    grown = pl.concat([pair_frame(base("new", gold="b")), pairs.reverse()])
    regrown = make_probe_pairs(grown, vote_frame(), ["length"], seed=7)
    assert set(made.pairs.get_column("pair_id")) < set(regrown.pairs.get_column("pair_id"))
    other_seed = make_probe_pairs(pairs, vote_frame(), ["length"], seed=8)
    assert other_seed.pairs.get_column("gold").to_list() != golds


def test_what_cannot_be_made_is_counted_per_kind_with_its_reason() -> None:
    pairs = pair_frame(
        base("empty", b="", gold="a"),
        base("refused", b=REFUSAL, gold="a"),
        # Two losers of one prompt and winner refuse into one and the same probe.
        base("twin-1", gold="a", prompt="Q"),
        base("twin-2", b="Marseille is the capital.", gold="a", prompt="Q"),
        # A winner that is the refusal: refusing the loser would make the two the same.
        base("winner-refuses", a=REFUSAL, gold="a"),
    )
    made = make_probe_pairs(pairs, vote_frame(), ["length", "refusal"])
    assert skipped_reasons(made, "length") == {"the response is empty": 1}
    assert skipped_reasons(made, "refusal") == {
        "the response is empty": 1,
        "the response is the refusal already": 1,
        "the probe is another pair's probe already": 1,
        "the edited loser is the winner": 1,
    }
    refusals = made.pairs.filter(pl.col("probe_kind") == "refusal")
    assert refusals.get_column("probe_of").to_list() == ["twin-1"]
    # A probe that is an ordinary pair of the set already is not made (for either twin).
    probe = refusals.row(0, named=True)
    ordinary = {**probe, "pair_id": probe["pair_id"], "probe_kind": None, "probe_of": None}
    with_twin = pl.concat([pairs, pair_frame(ordinary)])
    again = make_probe_pairs(with_twin, vote_frame(), ["refusal"])
    assert skipped_reasons(again, "refusal")["the probe is a pair of the set already"] == 2


def test_a_conversation_gets_the_planted_claim_in_its_last_turn() -> None:
    turns = [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Capital?"}]
    pairs = pair_frame(
        base("chat", gold="a", prompt="Hi\nCapital?", prompt_messages=json.dumps(turns))
    )
    probe = make_probe_pairs(pairs, vote_frame(), ["sycophancy"]).pairs.row(0, named=True)
    assert json.loads(probe["prompt_messages"])[-1]["content"] == f"Capital? {WRONG_CLAIM}"
    assert probe["pair_id"] == pair_id_for(
        probe["prompt"], probe["response_a"], probe["response_b"], probe["prompt_messages"]
    )


def test_retest_is_a_kind_that_is_served_not_made() -> None:
    assert (*EDITS, RETEST) == PROBE_KINDS and RETEST == "retest"
    made = make_probe_pairs(pair_frame(base("p", gold="a")), vote_frame(), [RETEST])
    assert made.pairs.is_empty() and made.skipped.is_empty()
    assert made.pairs.schema == frames.PAIRS


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"kinds": ["padding"]}, "unknown probe kind 'padding'"),
        ({"min_agreement": 0.5}, "min_agreement must lie in"),
        ({"min_votes": 0}, "min_votes must be"),
    ],
)
def test_bad_arguments_are_refused(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_probe_pairs(pair_frame(base("p")), vote_frame(), **arguments)


def test_the_store_keeps_probe_pairs_and_making_them_again_adds_nothing(store: Store) -> None:
    pairs = pair_frame(base("p1", gold="a"), base("p2"))
    store.import_frames(pairs, vote_frame(votes("p2", "b", "b", "b")), "p", create_project=True)
    made = make_probe_pairs(store.pairs("p"), store.judgments("p"), raters=store.raters())
    assert made.pairs.height == 2 * len(EDITS)
    first = store.import_frames(made.pairs, None, "p")
    assert first.pairs_new == made.pairs.height
    stored = store.pairs("p").filter(pl.col("probe_kind").is_not_null())
    assert stored.sort("pair_id").equals(made.pairs.sort("pair_id"))
    again = make_probe_pairs(store.pairs("p"), store.judgments("p"), raters=store.raters())
    assert store.import_frames(again.pairs, None, "p").pairs_new == 0
