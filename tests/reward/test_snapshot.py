"""From a verified snapshot to training targets: ties, margins, weights, leave-raters-out,
and the split by prompt."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from reward.config import TrainConfig
from reward.snapshot import SnapshotError, held_out, load_snapshot, training_pairs
from tests.reward.conftest import SnapshotMaker

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
