"""The bias card: what the audit knows about a preference set, as JSON and as Markdown.

A simulated pool with one planted rater who favours longer responses and flattered ones and
answers retests at random, on pairs that include probe pairs and retests. The card must
name that rater with the evidence, give it the lowest suggested weight, agree with the audit
to the digit, and write names from the data as text a Markdown viewer never turns into HTML.
"""

from __future__ import annotations

import json
import re
from typing import Any

import polars as pl
import pytest
from markdown_it import MarkdownIt

from data import frames
from labeling.agreement import counted_votes
from labeling.audit import audit_report
from labeling.bias_card import (
    BIAS_CARD_KEYS,
    CARD_VERSION,
    BiasCard,
    build_bias_card,
    rater_weights,
)
from labeling.rater_probes import make_probe_pairs
from labeling.reliability import rater_reliability
from labeling.simulate import PLANTED_RATER, RaterProfile, simulate_pairs, simulate_votes
from labeling.susceptibility import POOL, self_agreement, susceptibility

N_BOOT = 200
#: Five careful raters and one who prefers the longer response whatever it says, picks the
#: flattering one of a probe pair four times in five, and answers a retest at random.
RATERS = [
    *(RaterProfile(f"h{k}", skill=0.85) for k in range(1, 6)),
    RaterProfile(
        PLANTED_RATER,
        skill=0.6,
        length_bias=2.0,
        probe_bias={"flattery": 0.8},
        inconsistency=1.0,
    ),
]


@pytest.fixture(scope="module")
def pool() -> tuple[pl.DataFrame, pl.DataFrame]:
    """(pairs, votes): 400 simulated pairs and a flattery probe of each one with gold, three
    votes a pair from ``RATERS``, 15% of them served again as retests. (At q < 0.05 an honest
    rater is flagged now and then; with seed 0 none is.)"""
    base = simulate_pairs(400, seed=0)
    probes = make_probe_pairs(base, frames.empty(frames.JUDGMENTS), ["flattery"]).pairs
    pairs = pl.concat([frames.conform(base, frames.PAIRS), probes])
    return pairs, simulate_votes(pairs, RATERS, votes_per_pair=3, seed=0, retest_share=0.15)


@pytest.fixture(scope="module")
def card(pool: tuple[pl.DataFrame, pl.DataFrame]) -> BiasCard:
    pairs, votes = pool
    return build_bias_card(pairs, votes, n_boot=N_BOOT)


def test_the_planted_rater_is_named_with_its_evidence(card: BiasCard) -> None:
    assert [spot["rater_id"] for spot in card.blind_spots] == [PLANTED_RATER]
    kinds = {f["kind"] for f in card.blind_spots[0]["findings"]}
    assert {"length", "probe", "retest"} <= kinds
    (finding,) = [f for f in card.blind_spots[0]["findings"] if f["kind"] == "length"]
    low, high = finding["ci"]
    assert 0 < low < finding["effect"] < high  # log-odds per doubling of the length ratio
    assert finding["q_value"] < 0.05
    assert finding["n"] > 100
    assert "favours the longer response" in finding["message"]
    assert card.summary["n_flagged"] >= 1 and card.summary["n_tests"] > 0


def test_the_suggested_weights_are_the_dawid_skene_reliabilities(
    pool: tuple[pl.DataFrame, pl.DataFrame], card: BiasCard
) -> None:
    pairs, votes = pool
    reliability = rater_reliability(votes, pairs)
    expected = dict(zip(reliability["rater_id"], reliability["ds_accuracy"], strict=True))
    weights = {row["rater_id"]: row["weight"] for row in card.rater_weights}
    assert weights == pytest.approx(expected)
    assert min(weights, key=weights.__getitem__) == PLANTED_RATER
    assert weights[PLANTED_RATER] < 0.7 < min(w for r, w in weights.items() if r != PLANTED_RATER)
    planted = next(row for row in card.rater_weights if row["rater_id"] == PLANTED_RATER)
    assert {"length", "probe", "retest"} <= set(planted["blind_spots"])
    # The weights count votes, so they are read from the votes that count: no retest, no probe.
    counted = counted_votes(votes, pairs)
    assert planted["n"] == counted.filter(pl.col("rater_id") == PLANTED_RATER).height
    assert planted["n"] < votes.filter(pl.col("rater_id") == PLANTED_RATER).height


def test_retests_and_probes_are_the_susceptibility_modules(
    pool: tuple[pl.DataFrame, pl.DataFrame], card: BiasCard
) -> None:
    pairs, votes = pool
    retests = self_agreement(votes, n_boot=N_BOOT).with_columns(pl.col(pl.Float64).fill_nan(None))
    assert card.self_agreement == retests.to_dicts()
    assert card.self_agreement[-1]["rater_id"] == POOL  # the raters together, last
    assert card.self_agreement[-1]["n"] == votes.filter(pl.col("round") == 1).height
    kappas = {row["rater_id"]: row["kappa"] for row in card.self_agreement}
    assert min(kappas, key=kappas.__getitem__) == PLANTED_RATER  # answers retests at random
    assert card.probe_susceptibility == susceptibility(votes, pairs).to_dicts()
    rates = {row["rater_id"]: row["rate"] for row in card.probe_susceptibility}
    assert max(rates, key=rates.__getitem__) == PLANTED_RATER  # picks the flattered side


def test_the_numbers_are_the_audits(
    pool: tuple[pl.DataFrame, pl.DataFrame], card: BiasCard
) -> None:
    pairs, votes = pool
    report: dict[str, Any] = audit_report(pairs, votes, n_boot=N_BOOT)
    for measure in ("percent_agreement", "fleiss_kappa", "krippendorff_alpha_nominal"):
        assert card.agreement[measure] == report["agreement"][measure]
        low, high = card.agreement[measure]["ci"]
        assert low <= card.agreement[measure]["estimate"] <= high
    assert card.agreement_by_category == report["agreement"]["by_category"]
    assert {row["category"] for row in card.agreement_by_category} == set(pairs["category"])
    assert card.blind_spots[0]["findings"][0] in [
        {key: value for key, value in row.items() if key != "rater_id"}
        for row in report["blind_spots"]
    ]
    assert card.style_shifts == report["leaderboard"]
    assert {row["model"] for row in card.style_shifts} == {
        "atlas-70b",
        "birch-13b",
        "cedar-13b",
        "dune-mini",
    }


def test_the_raters_together_are_not_counted_as_a_flagged_rater() -> None:
    # Every rater leans a little toward the flattered side of a probe: the pool as a whole is
    # flagged. That finding is about all raters together, in its own line, not a rater.
    swayed = [RaterProfile(f"h{k}", skill=0.85, probe_bias={"flattery": 0.35}) for k in range(6)]
    base = simulate_pairs(300, seed=3)
    probes = make_probe_pairs(base, frames.empty(frames.JUDGMENTS), ["flattery"]).pairs
    pairs = pl.concat([frames.conform(base, frames.PAIRS), probes])
    card = build_bias_card(pairs, simulate_votes(pairs, swayed, 3, seed=3), n_boot=20)

    assert POOL not in {spot["rater_id"] for spot in card.blind_spots}
    (together,) = card.pool_blind_spots
    assert (together["kind"], together["slice"]) == ("probe", "flattery")
    assert together["q_value"] < 0.05 and "rater_id" not in together
    assert tuple(card.to_dict()) == BIAS_CARD_KEYS
    assert card.to_dict()["pool_blind_spots"] == card.pool_blind_spots
    text = card.to_markdown()
    in_short = text.split("## In short")[1].split("##")[0]
    flagged_raters = len(card.blind_spots)
    assert f"- Blind spots: {flagged_raters} of 6 raters flagged" in in_short
    assert "- Blind spots of the raters together, not of one rater: probe (`flattery`)." in in_short
    # Under Blind spots, the pool's evidence comes last, under its own heading.
    sections = text.split("## Blind spots")[1].split("## Probe susceptibility")[0]
    headings = [line for line in sections.splitlines() if line.startswith("### ")]
    assert headings[-1] == "### All raters together"
    assert f"`{POOL}`" not in text


def test_the_json_reads_back_into_the_weights(card: BiasCard) -> None:
    text = json.dumps(card.to_dict(), allow_nan=False)  # plain JSON: no NaN anywhere
    read = json.loads(text)
    assert tuple(read) == BIAS_CARD_KEYS
    assert read["card_version"] == CARD_VERSION
    assert "Dawid-Skene" in read["rater_weights_rule"]
    assert rater_weights(read) == {row["rater_id"]: row["weight"] for row in card.rater_weights}
    # Cards of the first version (the raters together among blind_spots) give their weights.
    assert rater_weights({**read, "card_version": 1}) == rater_weights(read)


@pytest.mark.parametrize(
    ("card", "problem"),
    [
        ({"card_version": 99, "rater_weights": []}, "version 99"),
        ({"card_version": CARD_VERSION + 1, "rater_weights": []}, "is not one this"),
        ({"card_version": 1}, "no rater_weights"),
        ({"card_version": 1, "rater_weights": [["r1", 1.0]]}, "not an object"),
        ({"card_version": 1, "rater_weights": [{"weight": 1.0}]}, "names no rater"),
        ({"card_version": 1, "rater_weights": [{"rater_id": "r1"}]}, "no weight for rater 'r1'"),
        (
            {"card_version": 1, "rater_weights": [{"rater_id": "r1", "weight": -0.5}]},
            "weights are numbers >= 0",
        ),
        (
            {"card_version": 1, "rater_weights": [{"rater_id": "r1", "weight": 1}] * 2},
            "twice",
        ),
    ],
)
def test_a_broken_card_gives_no_weights(card: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        rater_weights(card)


def test_the_markdown_reads_section_by_section(card: BiasCard) -> None:
    text = card.to_markdown()
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [
        "# Bias card",
        "## In short",
        "## Agreement",
        "## Agreement by category",
        "## Intra-rater consistency",
        "## Blind spots",
        f"### `{PLANTED_RATER}`",
        "## Probe susceptibility",
        "## Style shifts",
        "## Suggested rater weights",
        "## Notes",
    ]
    in_short = text.split("## In short")[1].split("##")[0]
    assert f"1 of 6 raters flagged: `{PLANTED_RATER}` (accuracy, length, probe, retest)" in in_short
    assert f"least consistent: `{PLANTED_RATER}`" in in_short
    assert "picked the edited side of `flattery` probes" in in_short
    assert f"(`{PLANTED_RATER}`) to" in in_short  # the lowest suggested weight
    evidence = text.split(f"### `{PLANTED_RATER}`")[1].split("##")[0]
    assert "favours the longer response" in evidence
    # Every rater has a row in the weights table.
    weights = text.split("## Suggested rater weights")[1]
    assert all(f"| `{profile.rater_id}` |" in weights for profile in RATERS)
    assert "| *all raters* |" in text.split("## Intra-rater consistency")[1]


HOSTILE_RATER = '<img src=x onerror="alert(1)">'
HOSTILE_CATEGORY = "[win](http://evil.example) `tick` | pipe <script>x</script>"


def test_names_from_the_data_render_as_text_not_markup(
    pool: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    pairs, votes = pool
    renamed = build_bias_card(
        pairs.with_columns(
            pl.col("category").replace("coding", HOSTILE_CATEGORY),
            pl.col("model_a").replace("birch-13b", "www.evil.example"),
            pl.col("model_b").replace("birch-13b", "www.evil.example"),
        ),
        votes.with_columns(pl.col("rater_id").replace(PLANTED_RATER, HOSTILE_RATER)),
        n_boot=20,
    )
    text = renamed.to_markdown()
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert not re.search(r"<(img|script|a)\b", html)
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html  # shown, as code
    assert "[win](http://evil.example)" in html
    # The hostile category keeps its own table row: its pipe does not open a new cell.
    row = next(line for line in text.splitlines() if line.startswith("| ``[win]"))
    assert row.count(" | ") == 5  # six cells
    assert renamed.blind_spots[0]["rater_id"] == HOSTILE_RATER  # the JSON keeps every character


def test_no_votes_give_an_empty_card_that_still_reads() -> None:
    card = build_bias_card(frames.empty(frames.PAIRS), frames.empty(frames.JUDGMENTS), n_boot=10)
    assert (card.blind_spots, card.style_shifts, card.rater_weights) == ([], [], [])
    assert card.pool_blind_spots == []
    assert (card.agreement_by_category, card.self_agreement, card.probe_susceptibility) == (
        [],
        [],
        [],
    )
    text = card.to_markdown()
    assert "Not measured: no retest votes" in text and "Not measured: no probe pairs" in text
    assert "0 judgments by 0 raters on 0 pairs" in text
    assert "## Suggested rater weights" in text
    assert rater_weights(card.to_dict()) == {}
