"""From a verified snapshot to training targets: ties, margins, weights, leave-raters-out,
and the split by prompt."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
import torch

from data import frames
from data.export import read_probes
from labeling.preference_set import ExportOptions
from reward.config import TrainConfig
from reward.loss import preference_loss
from reward.snapshot import SnapshotError, held_out, load_snapshot, training_pairs
from tests.reward.conftest import SnapshotMaker, snapshot_of

PAIRS = [
    ("Is water wet?", "Yes.", "No.", [("r1", "a"), ("r2", "a"), ("r3", "b")]),
    ("Is fire cold?", "Yes.", "No.", [("r1", "b"), ("r2", "b"), ("r3", "b")]),
    ("Is ice hot?", "Yes.", "No.", [("r1", "a"), ("r2", "b")]),  # a tie
    ("Is water wet?", "Indeed.", "Nope.", [("r1", "a"), ("r3", "b"), ("r2", "tie")]),  # tie
]


def config(snapshot: Path, **overrides: object) -> TrainConfig:
    return TrainConfig.from_dict({"snapshot": str(snapshot), "out": "unused", **overrides})


def test_targets_are_vote_shares_and_ties_half(make_snapshot: SnapshotMaker) -> None:
    folder = make_snapshot(PAIRS)
    pairs = training_pairs(load_snapshot(folder), config(folder))
    assert pairs["pair_id"].to_list() == ["p000", "p001", "p002", "p003"]
    assert pairs["chosen"].to_list() == ["Yes.", "No.", "Yes.", "Indeed."]
    assert pairs["target"].to_list() == pytest.approx([2 / 3, 1.0, 0.5, 0.5])
    assert pairs["is_tie"].to_list() == [False, False, True, True]
    hard = training_pairs(load_snapshot(folder), config(folder, labels="hard", ties="drop"))
    assert hard["target"].to_list() == [1.0, 1.0]


def test_weights_from_agreement_or_a_file(make_snapshot: SnapshotMaker, tmp_path: Path) -> None:
    folder = make_snapshot(PAIRS)
    snapshot = load_snapshot(folder)
    by_agreement = training_pairs(snapshot, config(folder, weights="agreement"))
    assert by_agreement["weight"].to_list() == pytest.approx([2 / 3, 1.0, 0.5, 1 / 3])
    file = tmp_path / "posterior.parquet"
    pl.DataFrame({"pair_id": ["p000", "p001", "p002"], "weight": [0.9, 0.8, 0.7]}).write_parquet(
        file
    )
    with pytest.raises(ValueError, match="no weight for 1 training pair"):
        training_pairs(snapshot, config(folder, weights=str(file)))
    weighted = training_pairs(snapshot, config(folder, weights=str(file), ties="drop"))
    assert weighted["weight"].to_list() == [0.9, 0.8]


def test_the_dawid_skene_posterior_as_target_or_weight(make_snapshot: SnapshotMaker) -> None:
    folder = make_snapshot(PAIRS, posterior=True)
    snapshot = load_snapshot(folder)
    posterior = snapshot.preferences.sort("pair_id")["posterior"].to_list()
    as_target = training_pairs(snapshot, config(folder, labels="posterior"))
    assert as_target["target"].to_list() == pytest.approx(posterior)
    as_weight = training_pairs(snapshot, config(folder, weights="posterior"))
    assert as_weight["weight"].to_list() == pytest.approx(posterior)
    assert as_weight["target"].to_list() == pytest.approx([2 / 3, 1.0, 0.5, 0.5])
    # Leaving a rater out fits the posterior again on the remaining votes.
    without_r3 = training_pairs(snapshot, config(folder, labels="posterior", exclude_raters=["r3"]))
    assert without_r3["target"].to_list() != pytest.approx(posterior)


def test_a_snapshot_without_the_posterior_says_how_to_get_it(make_snapshot: SnapshotMaker) -> None:
    folder = make_snapshot(PAIRS)
    for setting in ({"labels": "posterior"}, {"weights": "posterior"}):
        with pytest.raises(SnapshotError, match=r"no Dawid-Skene posterior .* --posterior"):
            training_pairs(load_snapshot(folder), config(folder, **setting))


def test_leaving_a_rater_out_recounts_the_votes(make_snapshot: SnapshotMaker) -> None:
    folder = make_snapshot(PAIRS)
    without_r3 = training_pairs(load_snapshot(folder), config(folder, exclude_raters=["r3"]))
    # p000 becomes unanimous for a; p003 is now r1 (a) against r2 (tie): a wins 0.75.
    assert without_r3["target"].to_list() == pytest.approx([1.0, 1.0, 0.5, 0.75])
    with pytest.raises(ValueError, match="no votes by r9"):
        training_pairs(load_snapshot(folder), config(folder, exclude_raters=["r9"]))


def test_a_prompt_never_sits_on_both_sides_of_the_split() -> None:
    prompts = pl.Series([f"q{i % 7}" for i in range(50)])
    is_eval = held_out(prompts, 0.3, seed=3)
    frame = pl.DataFrame({"prompt": prompts, "is_eval": is_eval})
    per_prompt = frame.group_by("prompt").agg(pl.col("is_eval").n_unique())
    assert per_prompt["is_eval"].max() == 1
    assert frame.filter("is_eval")["prompt"].n_unique() == 3  # ceil(0.3 * 7)
    assert held_out(prompts.reverse(), 0.3, seed=3).reverse().to_list() == is_eval.to_list()


def test_a_damaged_snapshot_is_refused_by_name(make_snapshot: SnapshotMaker) -> None:
    folder = make_snapshot(PAIRS)
    data = (folder / "pairs.parquet").read_bytes()
    (folder / "pairs.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(SnapshotError, match=r"pairs\.parquet"):
        load_snapshot(folder)


def test_a_file_changed_after_export_is_refused(make_snapshot: SnapshotMaker) -> None:
    folder = make_snapshot(PAIRS)
    other = make_snapshot(PAIRS[:2])
    (folder / "pairs.parquet").write_bytes((other / "pairs.parquet").read_bytes())
    with pytest.raises(SnapshotError, match="differs from the manifest"):
        load_snapshot(folder)
    with pytest.raises(SnapshotError, match="no such snapshot folder"):
        load_snapshot(folder / "nowhere")


# -- weights from a bias card: each vote counts with its rater's weight -----------------------

#: Suggested weights as a bias card gives them (``labeling.bias_card``), chosen by hand.
CARD_WEIGHTS = {"r1": 0.5, "r2": 1.0, "r3": 0.25}


def write_card(folder: Path, weights: dict[str, float]) -> Path:
    """A bias card holding only what training reads from it: the per-rater weights."""
    path = folder / "bias_card.json"
    rows = [{"rater_id": rater, "weight": weight} for rater, weight in weights.items()]
    path.write_text(json.dumps({"card_version": 1, "rater_weights": rows}), encoding="utf-8")
    return path


def test_a_bias_card_weighs_each_vote_by_its_rater(
    make_snapshot: SnapshotMaker, tmp_path: Path
) -> None:
    folder = make_snapshot(PAIRS)
    card = write_card(tmp_path, CARD_WEIGHTS)
    pairs = training_pairs(load_snapshot(folder), config(folder, weights=str(card)))
    # target = weighted share of the votes preferring `chosen` (ties half); weight = their sum.
    # p000 r1 a, r2 a, r3 b: (0.5 + 1.0) / 1.75.  p001 all b: 1.75 / 1.75.
    # p002 r1 a, r2 b (a tie, `a` chosen by convention): 0.5 / 1.5 = 1/3 for "Yes.", so the
    #      pair is turned round: "No." is chosen with 2/3.
    # p003 r1 a, r3 b, r2 tie: (0.5 + 0.5 * 1.0) / 1.75.
    assert pairs["chosen"].to_list() == ["Yes.", "No.", "No.", "Indeed."]
    assert pairs["rejected"].to_list() == ["No.", "Yes.", "Yes.", "Nope."]
    assert pairs["target"].to_list() == pytest.approx([1.5 / 1.75, 1.0, 2 / 3, 1.0 / 1.75])
    assert pairs["weight"].to_list() == pytest.approx([1.75, 1.75, 1.5, 1.75])


def test_equal_weights_give_the_plain_vote_shares(
    make_snapshot: SnapshotMaker, tmp_path: Path
) -> None:
    folder = make_snapshot(PAIRS)
    card = write_card(tmp_path, dict.fromkeys(CARD_WEIGHTS, 1.0))
    snapshot = load_snapshot(folder)
    plain = training_pairs(snapshot, config(folder))
    weighed = training_pairs(snapshot, config(folder, weights=str(card)))
    assert weighed["target"].to_list() == pytest.approx(plain["target"].to_list())
    assert weighed["weight"].to_list() == [3.0, 3.0, 2.0, 3.0]  # one per vote


def test_the_pair_loss_is_the_weighted_mean_of_the_votes_losses(
    make_snapshot: SnapshotMaker, tmp_path: Path
) -> None:
    """Why target and weight are the weighted share and sum: the loss is linear in its
    target, so one term per pair equals one term per vote."""
    folder = make_snapshot(PAIRS)
    card = write_card(tmp_path, CARD_WEIGHTS)
    pairs = training_pairs(load_snapshot(folder), config(folder, weights=str(card)))
    reward = {"Yes.": 1.0, "No.": -0.5, "Indeed.": 0.25, "Nope.": 0.0}  # a model's rewards

    def prefers(better: str, worse: str) -> float:  # -log sigmoid(r_better - r_worse)
        return math.log1p(math.exp(reward[worse] - reward[better]))

    def tied(one: str, other: str) -> float:  # cross-entropy against 0.5
        return 0.5 * prefers(one, other) + 0.5 * prefers(other, one)

    yes, no = prefers("Yes.", "No."), prefers("No.", "Yes.")
    votes = [  # (rater, loss of the vote): the votes of PAIRS, pair by pair
        ("r1", yes), ("r2", yes), ("r3", no),
        ("r1", no), ("r2", no), ("r3", no),
        ("r1", yes), ("r2", no),
        ("r1", prefers("Indeed.", "Nope.")), ("r3", prefers("Nope.", "Indeed.")),
        ("r2", tied("Indeed.", "Nope.")),
    ]  # fmt: skip
    per_vote = sum(CARD_WEIGHTS[r] * loss for r, loss in votes) / sum(
        CARD_WEIGHTS[r] for r, _ in votes
    )
    per_pair = preference_loss(
        torch.tensor([reward[text] for text in pairs["chosen"]], dtype=torch.float64),
        torch.tensor([reward[text] for text in pairs["rejected"]], dtype=torch.float64),
        target=torch.tensor(pairs["target"].to_list(), dtype=torch.float64),
        weight=torch.tensor(pairs["weight"].to_list(), dtype=torch.float64),
    )
    assert per_pair.item() == pytest.approx(per_vote)


def test_a_bias_card_leaves_excluded_raters_out(
    make_snapshot: SnapshotMaker, tmp_path: Path
) -> None:
    folder = make_snapshot(PAIRS)
    card = write_card(tmp_path, {"r1": 0.5, "r2": 1.0})  # no weight for r3: not needed
    pairs = training_pairs(
        load_snapshot(folder), config(folder, weights=str(card), exclude_raters=["r3"])
    )
    # Without r3, p000 and p001 are unanimous; p002 is r1 a (0.5) against r2 b (1.0): turned
    # round, 2/3 for "No."; p003 is r1 a (0.5) against r2's tie (1.0, half): (0.5 + 0.5) / 1.5.
    assert pairs["target"].to_list() == pytest.approx([1.0, 1.0, 2 / 3, 2 / 3])
    assert pairs["chosen"].to_list() == ["Yes.", "No.", "No.", "Indeed."]
    assert pairs["weight"].to_list() == pytest.approx([1.5, 1.5, 1.5, 1.5])


def test_a_bias_card_is_refused_where_it_cannot_apply(
    make_snapshot: SnapshotMaker, tmp_path: Path
) -> None:
    folder = make_snapshot(PAIRS)
    snapshot = load_snapshot(folder)
    partial = write_card(tmp_path, {"r1": 0.5, "r2": 1.0})
    with pytest.raises(ValueError, match="has no weight for rater"):
        training_pairs(snapshot, config(folder, weights=str(partial)))
    with pytest.raises(ValueError, match="train with labels 'soft', not 'hard'"):
        training_pairs(snapshot, config(folder, weights=str(partial), labels="hard"))
    with pytest.raises(ValueError, match="does not exist"):
        training_pairs(snapshot, config(folder, weights=str(tmp_path / "elsewhere.json")))
    broken = tmp_path / "broken.json"
    broken.write_text('{"card_version": 1, "rater_weights": [{"rater_id": "r1"}]}')
    with pytest.raises(ValueError, match=r"broken\.json: the bias card has no weight for rater"):
        training_pairs(snapshot, config(folder, weights=str(broken)))


# -- the raters' tests in a snapshot: marked, and never trained on ------------------------------


def write_tested_snapshot(folder: Path, **options: object) -> Path:
    """Two pairs voted by r1..r3, r1's retest of p000 (round 1, flipped to b) and a probe
    pair of p001 that r1 and r2 fell for: a snapshot as ``export_snapshot`` writes one."""
    pairs = frames.conform(
        pl.DataFrame(
            {
                "pair_id": ["p000", "p001", "t001"],
                "prompt": ["Is water wet?", "Is fire cold?", "Is fire cold?"],
                "response_a": ["Yes.", "Yes.", "Great question! Yes."],
                "response_b": ["No.", "No.", "No."],
                "gold": [None, "b", "b"],
                "probe_kind": [None, None, "flattery"],
                "probe_of": [None, None, "p001"],
            }
        ),
        frames.PAIRS,
    )
    rows = [("p000", r, c, 0) for r, c in (("r1", "a"), ("r2", "a"), ("r3", "b"))]
    rows += [("p001", r, "b", 0) for r in ("r1", "r2", "r3")]
    rows += [("p000", "r1", "b", 1)]  # the retest
    rows += [("t001", r, c, 0) for r, c in (("r1", "a"), ("r2", "a"), ("r3", "b"))]
    judgments = frames.conform(
        pl.DataFrame(
            {
                "submission_id": [f"s{i}" for i in range(len(rows))],
                "pair_id": [row[0] for row in rows],
                "rater_id": [row[1] for row in rows],
                "choice": [row[2] for row in rows],
                "round": [row[3] for row in rows],
                "created_at": [
                    datetime(2025, 1, 1, minute=i, tzinfo=UTC) for i in range(len(rows))
                ],
            }
        ),
        frames.JUDGMENTS,
    )
    export = ExportOptions(ties="soft", **options)  # type: ignore[arg-type]
    return snapshot_of(folder, pairs, judgments, export)


def test_training_never_sees_a_retest_or_a_probe_pair(tmp_path: Path) -> None:
    folder = write_tested_snapshot(tmp_path / "snap")
    snapshot = load_snapshot(folder)
    assert read_probes(folder)["pair_id"].to_list() == ["t001"]  # the votes stay marked
    plain = training_pairs(snapshot, config(folder))
    assert plain["pair_id"].to_list() == ["p000", "p001"]
    assert plain["target"].to_list() == pytest.approx([2 / 3, 1.0])  # first answers only
    # Recounted without r3: the retest still does not count, the probe does not come back.
    without_r3 = training_pairs(snapshot, config(folder, exclude_raters=["r3"]))
    assert without_r3["pair_id"].to_list() == ["p000", "p001"]
    assert without_r3["target"].to_list() == pytest.approx([1.0, 1.0])
    # A bias card weighs the counted votes: three per pair, whatever the tests.
    card = write_card(tmp_path, CARD_WEIGHTS)
    weighed = training_pairs(snapshot, config(folder, weights=str(card)))
    assert weighed["weight"].to_list() == pytest.approx([1.75, 1.75])
    assert weighed["target"].to_list() == pytest.approx([1.5 / 1.75, 1.0])


def test_probe_pairs_exported_on_purpose_are_trained_on(tmp_path: Path) -> None:
    folder = write_tested_snapshot(tmp_path / "snap", with_probes=True)
    snapshot = load_snapshot(folder)
    pairs = training_pairs(snapshot, config(folder, exclude_raters=["r3"]))
    assert pairs["pair_id"].to_list() == ["p000", "p001", "t001"]
    assert pairs.filter(pl.col("pair_id") == "t001")["chosen"].to_list() == ["Great question! Yes."]
