"""Building the preference set: counts, labels and margins checked by hand, every option,
a cross-check on the MT-bench human votes, and the export call used by the CLI and admin page.
"""

from __future__ import annotations

import dataclasses
import json
import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from data import frames
from data.export import PROBES, PROBES_FILE, read_probes, read_snapshot
from data.store import Project, Store, Submission
from labeling.assignment import Assigner
from labeling.preference_set import ExportOptions, build_preferences, export_snapshot, probe_rows
from labeling.rater_probes import make_probe_pairs
from labeling.reliability import DawidSkene

# Three pairs. p3 is a hidden gold item whose intended answer is 'a'.
PAIRS = frames.conform(
    pl.DataFrame(
        {
            "pair_id": ["p1", "p2", "p3"],
            "prompt": ["Capital of France?", "2+2?", "Is the earth flat?"],
            "response_a": ["Paris.", "5", "No."],
            "response_b": ["Lyon.", "4", "Yes."],
            "category": ["geography", "math", "honesty"],
            "model_a": ["m1", "m2", "m1"],
            "model_b": ["m2", "m1", "m2"],
            "gold": [None, None, "a"],
            "is_gold": [False, False, True],
            "metadata": ['{"origin": "toy"}', None, None],
        }
    ),
    frames.PAIRS,
)

# (pair, rater, choice, strength): strength margins are 1 -> 0.25, 2 -> 0.5, 3 -> 1.0.
VOTES = [
    ("p1", "r1", "a", 3),
    ("p1", "r2", "a", 1),
    ("p1", "r3", "b", 2),
    ("p1", "r4", "tie", None),
    ("p2", "r1", "b", 2),
    ("p2", "r2", "b", None),
    ("p2", "r3", "b", 3),
    ("p3", "r1", "a", None),
    ("p3", "r2", "b", None),
]


def votes_frame(rows: list[tuple[Any, ...]] = VOTES, **columns: list[Any]) -> pl.DataFrame:
    """A judgments frame (frames.JUDGMENTS) from (pair, rater, choice, strength) rows."""
    pair_id, rater_id, choice, strength = (list(c) for c in zip(*rows, strict=True))
    data = {
        "submission_id": [f"s{i}" for i in range(len(rows))],
        "pair_id": pair_id,
        "rater_id": rater_id,
        "choice": choice,
        "strength": strength,
        "round": [0] * len(rows),
        "source": ["ui"] * len(rows),
        **columns,
    }
    return frames.conform(pl.DataFrame(data, strict=False), frames.JUDGMENTS)


STATS = ["pair_id", "chosen_side", "label", "agreement", "margin", "is_tie", "n_judgments"]


def stats(preferences: pl.DataFrame) -> list[dict[str, Any]]:
    return preferences.select(STATS).to_dicts()


P1 = {
    # a 2, b 1, tie 1: a wins; label (2 + 0.5) / 4; plurality a has 2 of 4 votes;
    # margin = mean over the a votes' strengths (3 -> 1.0, 1 -> 0.25).
    "pair_id": "p1",
    "chosen_side": "a",
    "label": 0.625,
    "agreement": 0.5,
    "margin": 0.625,
    "is_tie": False,
    "n_judgments": 4,
}
P2 = {
    # b 3: unanimous; margin over recorded strengths only (2 -> 0.5, 3 -> 1.0).
    "pair_id": "p2",
    "chosen_side": "b",
    "label": 1.0,
    "agreement": 1.0,
    "margin": 0.75,
    "is_tie": False,
    "n_judgments": 3,
}
P3_TIE = {
    # a 1, b 1: a tie; kept only when ties are soft, with response_a as chosen by convention.
    "pair_id": "p3",
    "chosen_side": "a",
    "label": 0.5,
    "agreement": 0.5,
    "margin": 0.0,
    "is_tie": True,
    "n_judgments": 2,
}


def test_counts_labels_and_margins_by_hand() -> None:
    preferences = build_preferences(PAIRS, votes_frame(), ExportOptions())
    assert stats(preferences) == [P1, P2]
    p1, p2 = preferences.to_dicts()
    assert (p1["votes_a"], p1["votes_b"], p1["votes_tie"], p1["votes_both_bad"]) == (2, 1, 1, 0)
    assert (p1["prompt"], p1["chosen"], p1["rejected"]) == ("Capital of France?", "Paris.", "Lyon.")
    assert (p1["model_chosen"], p1["model_rejected"]) == ("m1", "m2")
    assert (p2["chosen"], p2["rejected"]) == ("4", "5")
    assert (p2["model_chosen"], p2["model_rejected"]) == ("m1", "m2")
    assert (p1["category"], p1["metadata"], p1["gold"], p1["is_gold"]) == (
        "geography",
        '{"origin": "toy"}',
        None,
        False,
    )


def test_output_follows_the_contract_exactly() -> None:
    preferences = build_preferences(PAIRS, votes_frame().reverse(), ExportOptions(ties="soft"))
    assert preferences.schema == pl.Schema(frames.PREFERENCES)
    assert preferences["pair_id"].to_list() == ["p1", "p2", "p3"]


def test_the_posterior_is_the_dawid_skene_share_for_the_chosen_side() -> None:
    votes = votes_frame()
    off = build_preferences(PAIRS, votes, ExportOptions(ties="soft"))
    assert off["posterior"].is_null().all(), "not fitted unless asked"
    on = build_preferences(PAIRS, votes, ExportOptions(ties="soft", posterior=True))
    probas = DawidSkene().fit(votes).probas_
    expected = on.join(probas, on="pair_id").select(
        "pair_id",
        pl.when(pl.col("chosen_side") == "a").then(pl.col("a")).otherwise(pl.col("b"))
        + 0.5 * pl.col("tie"),
    )
    assert on["posterior"].to_list() == pytest.approx(expected.to_series(1).to_list())
    assert on.drop("posterior").equals(off.drop("posterior")), "nothing else changes"


def test_the_posterior_outweighs_raters_who_always_say_a() -> None:
    """Two raters pick a whatever the pair; three careful raters agree with each other. On
    pairs only one careful rater saw, the majority follows the two: the posterior does not."""
    rows = [
        (f"q{i:02d}", rater, "a" if i % 2 else "b", None)
        for i in range(40)
        for rater in ("careful1", "careful2", "careful3")
    ]
    rows += [(f"q{i:02d}", spammer, "a", None) for i in range(50) for spammer in ("s1", "s2")]
    rows += [(f"q{i:02d}", "careful1", "b", None) for i in range(40, 50)]
    pairs = frames.conform(
        pl.DataFrame(
            {
                "pair_id": [f"q{i:02d}" for i in range(50)],
                "prompt": [f"question {i}" for i in range(50)],
                "response_a": ["x"] * 50,
                "response_b": ["y"] * 50,
            }
        ),
        frames.PAIRS,
    )
    preferences = build_preferences(pairs, votes_frame(rows), ExportOptions(posterior=True))
    outvoted = preferences.filter(pl.col("pair_id") >= "q40")
    assert outvoted["chosen_side"].unique().to_list() == ["a"]
    assert outvoted["label"].unique().to_list() == [pytest.approx(2 / 3)]
    assert (outvoted["posterior"] < 0.5).all(), "the careful rater's b is believed"
    agreed = preferences.filter(pl.col("pair_id") < "q40")
    assert (agreed["posterior"] > 0.9).all()


def test_soft_ties_are_kept_with_half_label_and_carry_gold() -> None:
    preferences = build_preferences(PAIRS, votes_frame(), ExportOptions(ties="soft"))
    assert stats(preferences) == [P1, P2, P3_TIE]
    p3 = preferences.row(2, named=True)
    assert (p3["chosen"], p3["rejected"], p3["gold"], p3["is_gold"]) == ("No.", "Yes.", "a", True)


@pytest.mark.parametrize(
    ("options", "kept"),
    [
        (ExportOptions(), ["p1", "p2"]),
        (ExportOptions(ties="soft"), ["p1", "p2", "p3"]),
        (ExportOptions(ties="soft", min_judgments=3), ["p1", "p2"]),
        (ExportOptions(min_judgments=4), ["p1"]),
        (ExportOptions(ties="soft", min_agreement=0.6), ["p2"]),
        (ExportOptions(ties="soft", min_agreement=0.5), ["p1", "p2", "p3"]),
        (ExportOptions(ties="soft", include_gold=False), ["p1", "p2"]),
        (ExportOptions(min_agreement=1.0, min_judgments=5), []),
    ],
)
def test_pair_filters(options: ExportOptions, kept: list[str]) -> None:
    assert build_preferences(PAIRS, votes_frame(), options)["pair_id"].to_list() == kept


def test_excluded_raters_votes_are_not_counted() -> None:
    # Without r4's tie, p1 is a 2, b 1: label 2/3, agreement 2/3; margins unchanged.
    preferences = build_preferences(PAIRS, votes_frame(), ExportOptions(exclude_raters=("r4",)))
    p1 = preferences.row(0, named=True)
    assert (p1["n_judgments"], p1["votes_tie"]) == (3, 0)
    assert p1["label"] == pytest.approx(2 / 3)
    assert p1["agreement"] == pytest.approx(2 / 3)
    assert p1["margin"] == 0.625
    # Without r1, p3 has one vote for b: no longer a tie, b is chosen.
    without_r1 = build_preferences(PAIRS, votes_frame(), ExportOptions(exclude_raters=("r1",)))
    assert without_r1.filter(pl.col("pair_id") == "p3")["chosen"].to_list() == ["Yes."]


def test_only_sources_keeps_votes_from_the_listed_sources() -> None:
    # Only r3's votes were collected in the app; the others came from a dataset.
    sources = ["ui" if rater == "r3" else "hh-rlhf" for _, rater, _, _ in VOTES]
    votes = votes_frame(source=sources)
    preferences = build_preferences(PAIRS, votes, ExportOptions(only_sources=("ui",)))
    assert preferences.select("pair_id", "chosen_side", "n_judgments", "margin").rows() == [
        ("p1", "b", 1, 0.5),
        ("p2", "b", 1, 1.0),
    ]


def test_a_retest_does_not_change_the_labels() -> None:
    # r4 judged p1 again in a test-retest round (sides swapped), this time for b. A retest
    # measures r4's consistency; it is not a second vote, so the set is as without it.
    votes = votes_frame(
        [*VOTES, ("p1", "r4", "b", 1)],
        round=[0] * len(VOTES) + [1],
        submission_id=[f"s{i}" for i in range(len(VOTES) + 1)],
    )
    assert ExportOptions().first_round_only
    retested = build_preferences(PAIRS, votes, ExportOptions(ties="soft", posterior=True))
    plain = build_preferences(PAIRS, votes_frame(), ExportOptions(ties="soft", posterior=True))
    assert retested.equals(plain)
    assert stats(retested)[0] == P1
    # first_round_only=False counts every round as another vote (exports made before this
    # was the default did): r4's retest turns p1 into a tie (a 2, b 2).
    every_round = ExportOptions(ties="soft", first_round_only=False)
    counted_twice = build_preferences(PAIRS, votes, every_round)
    assert counted_twice.select("votes_b", "n_judgments", "is_tie").row(0) == (2, 5, True)
    # Votes without rounds have no retests: nothing else to read, nothing left out.
    assert build_preferences(PAIRS, votes.drop("round")).equals(
        build_preferences(PAIRS, votes, ExportOptions(first_round_only=False))
    )


#: A probe pair made from p2 (its intended loser "5" now opens with flattery): a test of
#: the raters, with the intended side as gold.
PROBE = frames.conform(
    pl.DataFrame(
        {
            "pair_id": ["t2"],
            "prompt": ["2+2?"],
            "response_a": ["What a great question! 5"],
            "response_b": ["4"],
            "category": ["math"],
            "gold": ["b"],
            "probe_kind": ["flattery"],
            "probe_of": ["p2"],
            "source": ["probe"],
        }
    ),
    frames.PAIRS,
)
#: Two of three raters fell for it.
PROBE_VOTES = [("t2", "r1", "a", None), ("t2", "r2", "a", None), ("t2", "r3", "b", None)]


def test_a_probe_pair_never_reaches_the_set_unless_asked_for() -> None:
    pairs = pl.concat([PAIRS, PROBE])
    votes = votes_frame([*VOTES, *PROBE_VOTES])
    options = ExportOptions(ties="soft", posterior=True)
    default = build_preferences(pairs, votes, options)
    assert default["pair_id"].to_list() == ["p1", "p2", "p3"]
    # Nothing of the probe leaks in: not its row, not its votes into the posterior's fit.
    assert default.equals(build_preferences(PAIRS, votes_frame(), options))
    asked = build_preferences(pairs, votes, dataclasses.replace(options, with_probes=True))
    assert asked["pair_id"].to_list() == ["p1", "p2", "p3", "t2"]
    t2 = asked.row(3, named=True)
    assert (t2["chosen"], t2["n_judgments"], t2["gold"]) == ("What a great question! 5", 3, "b")
    assert t2["posterior"] is not None


def test_options_default_to_what_the_audit_counts() -> None:
    assert (ExportOptions().first_round_only, ExportOptions().with_probes) == (True, False)
    # A manifest recorded before either option existed (or before the default changed)
    # reads back as those exports counted: every round, no probes asked for.
    old = {"ties": "drop", "first_round_only": False}
    assert ExportOptions.from_dict(old) == ExportOptions(first_round_only=False)
    with pytest.raises(TypeError, match="with_probes must be True or False"):
        ExportOptions.from_dict({"with_probes": "yes"})


@pytest.mark.parametrize(
    ("choices", "side", "is_tie", "label", "agreement"),
    [
        # a side must beat the other side and have at least as many votes as 'tie'
        (["a", "a", "tie", "tie"], "a", False, 0.75, 0.5),
        (["a", "a", "b", "tie", "tie", "tie"], "a", True, 0.5, 0.5),
        (["b", "b", "a", "tie"], "b", False, 0.625, 0.5),
        (["tie"], "a", True, 0.5, 1.0),
        # 'both bad' is left out of the label but counts in n and agreement
        (["a", "both_bad", "both_bad"], "a", False, 1.0, 2 / 3),
        (["both_bad", "both_bad"], "a", True, 0.5, 1.0),
        (["b"], "b", False, 1.0, 1.0),
    ],
)
def test_plurality_rules(
    choices: list[str], side: str, is_tie: bool, label: float, agreement: float
) -> None:
    votes = votes_frame([("p1", f"r{i}", c, None) for i, c in enumerate(choices)])
    row = build_preferences(PAIRS, votes, ExportOptions(ties="soft")).row(0, named=True)
    assert (row["chosen_side"], row["is_tie"]) == (side, is_tie)
    assert row["label"] == pytest.approx(label)
    assert row["agreement"] == pytest.approx(agreement)
    assert row["n_judgments"] == len(choices)


def test_both_bad_drop_leaves_out_pairs_the_raters_rejected_entirely() -> None:
    votes = votes_frame(
        [
            ("p1", "r1", "a", 1),
            ("p1", "r2", "both_bad", None),
            ("p1", "r3", "both_bad", None),
            ("p2", "r1", "b", 1),
            ("p2", "r2", "both_bad", None),  # not more than b's votes: kept
        ]
    )
    assert build_preferences(PAIRS, votes)["pair_id"].to_list() == ["p1", "p2"]
    dropped = build_preferences(PAIRS, votes, ExportOptions(both_bad="drop"))
    assert dropped["pair_id"].to_list() == ["p2"]


def test_no_votes_gives_an_empty_frame_of_the_contract() -> None:
    preferences = build_preferences(PAIRS, frames.empty(frames.JUDGMENTS), ExportOptions())
    assert preferences.is_empty()
    assert preferences.schema == pl.Schema(frames.PREFERENCES)


def test_votes_on_unknown_pairs_are_ignored() -> None:
    votes = votes_frame([*VOTES, ("p9", "r1", "a", None)])
    assert build_preferences(PAIRS, votes)["pair_id"].to_list() == ["p1", "p2"]


def test_unknown_choices_and_missing_columns_are_refused() -> None:
    with pytest.raises(ValueError, match=r"1 judgment\(s\) have a choice outside .*: A"):
        build_preferences(PAIRS, votes_frame([("p1", "r1", "A", None)]))
    with pytest.raises(ValueError, match="pairs lacks the column"):
        build_preferences(PAIRS.drop("response_b"), votes_frame())
    with pytest.raises(ValueError, match="repeated pair_id"):
        build_preferences(pl.concat([PAIRS, PAIRS.head(1)]), votes_frame())
    # Options that read a column need it; a silently null column would filter nothing.
    with pytest.raises(ValueError, match=r"judgments lacks the column\(s\) rater_id"):
        build_preferences(
            PAIRS, votes_frame().drop("rater_id"), ExportOptions(exclude_raters=("r4",))
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_judgments": 0}, "min_judgments must be at least 1"),
        ({"min_agreement": 1.5}, r"min_agreement must lie in \[0, 1\]"),
        ({"ties": "keep"}, "ties must be 'drop' or 'soft'"),
        ({"both_bad": "soft"}, "both_bad must be 'keep' or 'drop'"),
    ],
)
def test_options_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ExportOptions(**kwargs)


def test_options_travel_as_json_and_back() -> None:
    options = ExportOptions(ties="soft", exclude_raters=("r4",), only_sources=("ui",))
    as_json = json.loads(json.dumps(options.as_dict()))
    assert as_json["exclude_raters"] == ["r4"]
    assert ExportOptions.from_dict(as_json) == options
    with pytest.raises(ValueError, match="unknown export option"):
        ExportOptions.from_dict({"min_votes": 2})


def test_mt_bench_votes_match_a_plain_counter(datasets: Path) -> None:
    """Turn-1 MT-bench votes (1,689 on 910 items, items = question x unordered model pair)."""
    folder = datasets / "mt-bench-human-judgments"
    raw = pl.read_ndjson(folder / "human_judgments.jsonl").filter(pl.col("turn") == 1)
    # Adapter at the edge: side a is the alphabetically first model; reversed votes flip.
    first = pl.min_horizontal("model_a", "model_b")
    second = pl.max_horizontal("model_a", "model_b")
    flipped = pl.col("model_a") != first
    winner = pl.col("winner").replace({"model_a": "a", "model_b": "b"})
    votes = raw.with_row_index("row").select(
        pl.format("v{}", "row").alias("submission_id"),
        pl.format("q{}:{}|{}", "question_id", first, second).alias("pair_id"),
        pl.col("judge").alias("rater_id"),
        pl.when(flipped & (winner != "tie"))
        .then(pl.when(winner == "a").then(pl.lit("b")).otherwise(pl.lit("a")))
        .otherwise(winner)
        .alias("choice"),
    )
    pairs = (
        raw.select("question_id", first.alias("model_a"), second.alias("model_b"))
        .unique()
        .select(
            pl.format("q{}:{}|{}", "question_id", "model_a", "model_b").alias("pair_id"),
            pl.format("question {}", "question_id").alias("prompt"),
            pl.format("answer of {}", "model_a").alias("response_a"),
            pl.format("answer of {}", "model_b").alias("response_b"),
            "model_a",
            "model_b",
        )
    )
    preferences = build_preferences(
        pairs, frames.conform(votes, frames.JUDGMENTS), ExportOptions(ties="soft")
    )
    # The dataset README's figures: 910 items; 425 with 1 vote, 283 with 2, ... 1 with 7.
    assert preferences.height == 910
    assert dict(preferences["n_judgments"].value_counts().iter_rows()) == {
        1: 425,
        2: 283,
        3: 136,
        4: 47,
        5: 13,
        6: 5,
        7: 1,
    }
    # Reference: the same rules written out with a Counter, one item at a time.
    by_pair: dict[str, Counter[str]] = {}
    for pair_id, choice in votes.select("pair_id", "choice").iter_rows():
        by_pair.setdefault(pair_id, Counter())[choice] += 1
    for row in preferences.iter_rows(named=True):
        count = by_pair[row["pair_id"]]
        a, b, tie = count["a"], count["b"], count["tie"]
        winner_side = "a" if a > b and a >= tie else "b" if b > a and b >= tie else None
        assert row["is_tie"] == (winner_side is None)
        assert row["chosen_side"] == (winner_side or "a")
        expected_label = 0.5 if winner_side is None else (max(a, b) + tie / 2) / (a + b + tie)
        assert row["label"] == pytest.approx(expected_label)
        assert row["agreement"] == pytest.approx(max(count.values()) / sum(count.values()))
        chosen_model = row["model_chosen"]
        assert row["chosen"] == f"answer of {chosen_model}"


# -- export_snapshot: the one call the CLI and the admin page use ----------------------------


def label_everything(store: Store, project: Project, rater: str, choose: Any) -> None:
    """The rater labels until nothing is left; ``choose(pair_id) -> (choice, strength)``."""
    assigner = Assigner(store, random.Random(0))
    while (assignment := assigner.next_pair(rater, project)) is not None:
        choice, strength = choose(assignment.pair_id)
        submission = Submission(uuid.uuid4().hex, rater, assignment.pair_id, choice, strength)
        assert store.submit(submission)


def test_export_snapshot_from_votes_submitted_in_the_app(
    toy_store: Store, project: Project, tmp_path: Path
) -> None:
    # 16 work pairs (p000..p015), 2 votes each: r1 always says a (clearly better);
    # r2 agrees on odd pairs and says b on even ones, which makes those ties.
    label_everything(toy_store, project, "r1", lambda pair_id: ("a", 2))
    label_everything(
        toy_store, project, "r2", lambda pair_id: ("a" if int(pair_id[1:]) % 2 else "b", None)
    )

    manifest = export_snapshot(toy_store, tmp_path / "snap", project_id="toy")

    preferences, judgments, read_manifest = read_snapshot(tmp_path / "snap")
    assert read_manifest == manifest
    assert preferences["pair_id"].to_list() == [f"p{i:03d}" for i in range(1, 16, 2)]
    assert preferences.select("label", "margin", "chosen_side").unique().rows() == [(1.0, 0.5, "a")]
    assert preferences["chosen"].to_list() == [f"Answer A to {i}." for i in range(1, 16, 2)]
    assert manifest.counts == {
        "pairs": 8,
        "ties": 0,
        "gold_pairs": 0,
        "judgments": 32,
        "judgments_used": 16,
        "raters": 2,
        "probe_pairs": 0,
        "probe_judgments": 0,
    }
    assert manifest.schema_version == toy_store.schema_version
    assert manifest.source == f"{toy_store.location} project=toy"
    assert manifest.options == ExportOptions().as_dict()
    assert judgments.equals(toy_store.judgments("toy"))

    soft = export_snapshot(
        toy_store,
        tmp_path / "snap",
        project_id="toy",
        options=ExportOptions(ties="soft"),
        overwrite=True,
    )
    assert (soft.counts["pairs"], soft.counts["ties"]) == (16, 8)
    assert soft.content_hash != manifest.content_hash


def test_an_export_marks_the_votes_that_test_the_raters(
    toy_store: Store, project: Project, tmp_path: Path
) -> None:
    # p000..p003 voted by r1 and r2; r1 retested on p000 (and flipped); all three raters on a
    # flattery probe of the gold pair p019. Nothing of the tests enters pairs.parquet; every
    # vote is in judgments.parquet, and probes.parquet names the probe pair.
    gold = toy_store.pairs("toy").filter(pl.col("pair_id") == "p019")
    probe = make_probe_pairs(gold, frames.empty(frames.JUDGMENTS), ["flattery"]).pairs
    (probe_id,) = probe["pair_id"].to_list()
    rows = [(p, r, "a", None) for p in ("p000", "p001", "p002", "p003") for r in ("r1", "r2")]
    rows += [("p000", "r1", "b", None)]  # the retest
    rows += [(probe_id, r, c, None) for r, c in (("r1", "a"), ("r2", "b"), ("r3", "b"))]
    votes = votes_frame(
        rows,
        round=[0] * 8 + [1] + [0] * 3,
        submission_id=[f"v{i}" for i in range(len(rows))],
        created_at=[datetime(2025, 3, 1, tzinfo=UTC) + timedelta(minutes=i) for i in range(12)],
    )
    toy_store.import_frames(probe, votes, "toy")

    manifest = export_snapshot(toy_store, tmp_path / "snap", project_id="toy")

    preferences, judgments, _ = read_snapshot(tmp_path / "snap")
    assert preferences["pair_id"].to_list() == ["p000", "p001", "p002", "p003"]
    assert preferences["n_judgments"].to_list() == [2, 2, 2, 2]  # the retest is no vote
    assert judgments.height == 12  # every vote leaves, tests included
    probes = read_probes(tmp_path / "snap")
    assert probes.schema == pl.Schema(PROBES)
    assert probes.rows() == [(probe_id, "flattery", "p019", probe["gold"][0])]
    assert probes.equals(probe_rows(toy_store.pairs("toy"), judgments))
    marked = judgments.join(probes, on="pair_id", how="semi")
    assert sorted(marked["submission_id"].to_list()) == ["v10", "v11", "v9"]
    assert (manifest.counts["probe_pairs"], manifest.counts["probe_judgments"]) == (1, 3)
    assert manifest.counts["judgments_used"] == 8
    assert manifest.file(PROBES_FILE) is not None
    assert (manifest.options["with_probes"], manifest.options["first_round_only"]) == (False, True)

    asked = export_snapshot(
        toy_store,
        tmp_path / "with",
        project_id="toy",
        options=ExportOptions(with_probes=True),
    )
    with_probes, _, _ = read_snapshot(tmp_path / "with")
    assert sorted(with_probes["pair_id"]) == sorted(["p000", "p001", "p002", "p003", probe_id])
    assert asked.options["with_probes"] is True
    # The probe row is marked too: its pair_id is in probes.parquet.
    assert with_probes.join(read_probes(tmp_path / "with"), on="pair_id", how="semi").height == 1
