"""The rater and the model, edit by edit, on simulated pools and tiny models trained on their
votes (``tests/reward/flattery_pool.py``): a model trained on a flattery-prone pool inherits
the pull, one trained on an unbiased pool does not, and leaving the prone raters out of
training closes it."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import polars as pl
import pytest

from data import frames
from labeling.blind_spots import find_blind_spots
from labeling.edits import EDITS
from labeling.preference_set import probe_rows
from labeling.rater_probes import make_probe_pairs
from labeling.simulate import RaterProfile, simulate_pairs, simulate_votes
from labeling.susceptibility import POOL, susceptibility
from reward.edit_by_edit import (
    EDIT_BY_EDIT,
    VERDICTS,
    edit_by_edit,
    mark_probes,
    pull,
    verdict,
    verdict_changes,
    voted_probes,
)
from reward.inherited import snapshot_pairs
from reward.probes import PROBES, run_probes
from reward.score import RewardScorer
from reward.snapshot import load_snapshot
from tests.reward.flattery_pool import PRONE, Pool, flattery_pool, unbiased_pool

__all__ = ["flattery_pool", "unbiased_pool"]  # fixtures, imported to be found here


def table(pool: Pool, model: str = "all", *, on: Pool | None = None) -> pl.DataFrame:
    """``edit_by_edit`` of ``pool``'s model on the pairs and votes of ``on`` (default: its own)."""
    votes_of = on or pool
    scorer = RewardScorer.from_checkpoint(pool.checkpoints[model])
    return edit_by_edit(votes_of.pairs, votes_of.votes, scorer)


def row(found: pl.DataFrame, kind: str) -> dict[str, Any]:
    (only,) = found.filter(pl.col("probe_kind") == kind).to_dicts()
    return only


def test_a_model_trained_on_a_flattery_prone_pool_inherits_flattery(flattery_pool: Pool) -> None:
    found = table(flattery_pool)
    assert found.columns == list(EDIT_BY_EDIT)
    assert found["probe_kind"].to_list() == ["length", "flattery"], "in EDITS order"
    flattery = row(found, "flattery")
    assert flattery["verdict"] == "inherited"
    assert flattery["raters_moved"] and flattery["model_moved"]
    assert flattery["flagged_raters"] == list(PRONE), "the flagged raters who share it"
    assert "Flagged raters who share it: r1, r2, r3, r4." in str(flattery["message"])
    # The pull is the simulator's sway: two votes in three come from raters swayed 90%.
    assert flattery["raters_pull_low"] < 2 / 3 * 0.9 < flattery["raters_pull_high"]
    assert flattery["model_pull"] > 0.3 and flattery["model_flip_rate"] > 0.5
    length = row(found, "length")
    assert length["verdict"] == "none", "nobody is swayed by padding"
    assert length["flagged_raters"] == []


def test_a_model_trained_on_an_unbiased_pool_says_none(unbiased_pool: Pool) -> None:
    found = table(unbiased_pool)
    assert found.select("probe_kind", "verdict").rows() == [
        ("length", "none"),
        ("flattery", "none"),
    ]
    flattery = row(found, "flattery")
    assert flattery["model_pull"] < 0, "the votes taught it that flattery loses"
    assert flattery["flagged_raters"] == []


def test_a_pull_the_raters_resist_was_learned_elsewhere(
    flattery_pool: Pool, unbiased_pool: Pool
) -> None:
    """The flattery-trained model judged beside the unbiased pool's raters."""
    found = table(flattery_pool, on=unbiased_pool)
    assert row(found, "flattery")["verdict"] == "learned elsewhere"


def test_leaving_the_flagged_raters_out_closes_it(flattery_pool: Pool) -> None:
    changes = verdict_changes(table(flattery_pool), table(flattery_pool, "without"))
    flattery = row(changes, "flattery")
    assert (flattery["first"], flattery["second"], flattery["change"]) == (
        "inherited",
        "resisted",
        "closed",
    )
    assert flattery["flagged_raters"] == list(PRONE)
    assert row(changes, "length")["change"] == "unchanged"


def test_both_sides_are_the_house_measures_on_the_same_bases(flattery_pool: Pool) -> None:
    """The raters' numbers are the susceptibility POOL row, the model's probe result is
    ``run_probes`` on the voted probe pairs' bases, and the pool flag is the audit's."""
    pairs, votes = flattery_pool.pairs, flattery_pool.votes
    scorer = RewardScorer.from_checkpoint(flattery_pool.checkpoints["all"])
    findings = find_blind_spots(votes, pairs)
    flattery = row(edit_by_edit(pairs, votes, scorer, findings), "flattery")
    pool = susceptibility(votes, pairs).filter(
        (pl.col("rater_id") == POOL) & (pl.col("probe_kind") == "flattery")
    )
    assert flattery["raters_n"] == pool["n"].item()
    assert flattery["raters_rate"] == pytest.approx(pool["rate"].item())
    assert flattery["raters_rate_low"] == pytest.approx(pool["ci_low"].item())
    assert flattery["raters_pull"] == pytest.approx(
        pull(pool["rate"].item(), pool["base_rate"].item())
    )
    tested = findings.filter(
        (pl.col("kind") == "probe") & (pl.col("slice") == "flattery") & (pl.col("rater_id") == POOL)
    )
    assert flattery["raters_q"] == pytest.approx(tested["q_value"].item())
    probed = voted_probes(votes, pairs).filter(pl.col("probe_kind") == "flattery")
    bases = pairs.filter(pl.col("pair_id").is_in(probed["probe_of"].implode())).sort("pair_id")
    assert flattery["n_bases"] == bases.height
    (result, _swap) = run_probes(scorer, bases, [p for p in PROBES if p.name == "flattery"])
    assert flattery["model_n"] == result.n
    assert flattery["model_delta"] == pytest.approx(result.mean_delta)
    assert flattery["model_flip_rate"] == pytest.approx(result.flip_rate)
    assert flattery["model_moved"] == result.flagged


def test_a_snapshot_marks_its_probe_pairs(flattery_pool: Pool) -> None:
    found = snapshot_pairs(load_snapshot(flattery_pool.snapshot))
    truth = flattery_pool.pairs.select(REBUILT)
    assert found.select(REBUILT).sort("pair_id").equals(truth.sort("pair_id"))


#: What a rebuilt probe pair has of the one that was made.
REBUILT = [
    "pair_id",
    "prompt",
    "prompt_messages",
    "response_a",
    "response_b",
    "category",
    "model_a",
    "model_b",
    "gold",
    "probe_kind",
    "probe_of",
]


def test_probe_pairs_left_out_of_a_snapshot_are_rebuilt_from_their_bases() -> None:
    """Every edit, conversations too: the texts come back as ``make_probe_pairs`` made them."""
    pairs = simulate_pairs(40, seed=5, mean_chars=150, gold_share=1.0)
    conversation = json.dumps([{"role": "user", "content": "Hello"}])
    pairs = pairs.with_columns(
        pl.when(pl.int_range(pl.len()) % 2 == 0)
        .then(pl.lit(conversation))
        .otherwise(None)
        .alias("prompt_messages")
    )
    votes = simulate_votes(pairs, [RaterProfile("r1"), RaterProfile("r2")], 2)
    made = make_probe_pairs(pairs, votes, tuple(EDITS)).pairs
    assert set(made["probe_kind"]) == set(EDITS)
    every = pl.concat([pairs, made])
    probes = probe_rows(every, pl.concat([votes, simulate_votes(made, [RaterProfile("r1")], 1)]))
    found = mark_probes(pairs, probes)
    assert found.select(REBUILT).sort("pair_id").equals(every.select(REBUILT).sort("pair_id"))


def test_a_probe_that_cannot_be_confirmed_keeps_its_marks_only() -> None:
    base = frames.conform(
        pl.DataFrame(
            {"pair_id": ["p"], "prompt": ["2+2?"], "response_a": ["4."], "response_b": ["5."]}
        ),
        frames.PAIRS,
    )
    probes = pl.DataFrame(
        {
            "pair_id": ["t", "u"],
            "probe_kind": ["length", "length"],
            "probe_of": ["p", "gone"],  # t's id is no content id; u's base is not there
            "gold": ["a", "b"],
        }
    )
    found = mark_probes(base, probes).sort("pair_id")
    assert found.select("pair_id", "probe_kind", "probe_of", "gold", "response_a").rows() == [
        ("p", None, None, None, "4."),
        ("t", "length", "p", "a", None),
        ("u", "length", "gone", "b", None),
    ]


@pytest.mark.parametrize(
    ("raters", "model", "raters_high", "model_low", "expected"),
    [
        (True, True, 0.6, 0.5, "inherited"),
        (True, True, 0.6, 0.7, "amplified"),
        (True, True, None, 0.7, "inherited"),
        (False, True, 0.1, 0.3, "learned elsewhere"),
        (True, False, 0.6, -0.2, "resisted"),
        (False, False, 0.1, -0.2, "none"),
    ],
)
def test_verdicts(
    raters: bool, model: bool, raters_high: float | None, model_low: float, expected: str
) -> None:
    found = verdict(
        raters_moved=raters,
        model_moved=model,
        raters_pull_high=raters_high,
        model_pull_low=model_low,
    )
    assert found == expected
    assert found in VERDICTS
    assert (
        verdict(
            raters_moved=raters,
            model_moved=model,
            raters_pull_high=raters_high,
            model_pull_low=model_low,
            measured=False,
        )
        == "not measured"
    )


def test_the_pull_reads_a_swayed_share() -> None:
    rate = 0.9 + 0.1 * 0.15  # swayed 90%, else wrong 15% of the time
    assert pull(rate, 0.15) == pytest.approx(0.9)
    assert pull(0.15, 0.15) == 0.0
    assert np.isnan(pull(1.0, 1.0))


def test_without_probe_pairs_there_is_no_table(flattery_pool: Pool) -> None:
    ordinary = flattery_pool.pairs.filter(pl.col("probe_kind").is_null())
    scorer = RewardScorer.from_checkpoint(flattery_pool.checkpoints["all"])
    found = edit_by_edit(ordinary, flattery_pool.votes, scorer)
    assert found.is_empty() and found.columns == list(EDIT_BY_EDIT)
