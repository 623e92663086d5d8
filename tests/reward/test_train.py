"""Training tiny models end to end on real snapshot folders: every parameter learns, the
checkpoint describes itself, runs resume exactly, and bad inputs are refused clearly."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import torch

from data.export import BIAS_CARD_FILE
from labeling.bias_card import build_bias_card, rater_weights
from labeling.preference_set import ExportOptions
from labeling.simulate import PLANTED_RATER, RaterProfile, simulate_pairs, simulate_votes
from reward.config import TrainConfig
from reward.device import seed_everything
from reward.model import load_model
from reward.snapshot import SnapshotError, load_snapshot, training_pairs
from reward.train import TrainProgress, main, train
from tests.reward.conftest import GOOD_BAD, SnapshotMaker, snapshot_of


def quick(snapshot: Path, out: Path, base: Path, **overrides: object) -> TrainConfig:
    values: dict[str, object] = {
        "snapshot": str(snapshot),
        "out": str(out),
        "base_model": str(base),
        "learning_rate": 1e-3,
        "batch_size": 4,
        "eval_fraction": 0.2,
        "progress_bar": False,
    }
    return TrainConfig.from_dict({**values, **overrides})


def stopping_after(step: int) -> tuple[threading.Event, Callable[[TrainProgress], None]]:
    """A stop event and the progress callback that sets it once ``step`` is done."""
    stop = threading.Event()

    def watch(progress: TrainProgress) -> None:
        if progress.step == step:
            stop.set()

    return stop, watch


def parameters(folder: Path) -> dict[str, torch.Tensor]:
    model, _ = load_model(folder)
    return {name: p.detach().clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("base", ["tiny_encoder", "tiny_decoder"])
def test_every_trainable_parameter_changes(
    base: str, request: pytest.FixtureRequest, make_snapshot: SnapshotMaker, tmp_path: Path
) -> None:
    folder: Path = request.getfixturevalue(base)
    # The Bradley-Terry loss is blind to a shift of both rewards, so a parameter that only
    # shifts them (the last bias) learns through the centring term alone.
    config = quick(make_snapshot(GOOD_BAD), tmp_path / "ckpt", folder, center_rewards=0.01)
    seed_everything(config.seed)  # the run seeds the same way before it builds the new head
    before = parameters(folder)
    result = train(config)
    after = parameters(result.folder)
    assert before.keys() == after.keys()
    unchanged = [name for name in before if torch.equal(before[name], after[name])]
    assert unchanged == []


def test_the_checkpoint_describes_itself(
    make_snapshot: SnapshotMaker, tiny_encoder: Path, tmp_path: Path
) -> None:
    snapshot = make_snapshot(GOOD_BAD)
    config = quick(snapshot, tmp_path / "ckpt", tiny_encoder, epochs=2)
    seen: list[TrainProgress] = []
    result = train(config, progress_callback=seen.append)
    info = json.loads((result.folder / "intentgap.json").read_text())
    manifest = json.loads((snapshot / "manifest.json").read_text())
    assert info["snapshot_hash"] == manifest["content_hash"]
    assert info["train_config"] == config.to_dict()
    assert info["complete"] is True
    assert (info["format"], info["max_length"]) == ("pair", 128)  # the tiny model's window
    metrics = json.loads((result.folder / "metrics.json").read_text())
    assert [epoch["epoch"] for epoch in metrics["epochs"]] == [1, 2]
    assert metrics["n_train"] + metrics["n_eval"] == 24
    assert metrics["truncation"]["train"]["sequences"] == 2 * metrics["n_train"]
    split = pl.read_parquet(result.folder / "split.parquet")
    assert split.height == 24 and split["is_eval"].sum() == metrics["n_eval"]
    assert not (result.folder / "trainer_state.pt").exists()
    # One report per optimizer step (5 per epoch), one per evaluation, one at the end.
    assert [p.step for p in seen if p.eval is None] == list(range(1, 11))
    assert [p.epoch for p in seen if p.eval is not None and not p.done] == [1, 2]
    assert seen[-1].done and seen[-1].step == seen[-1].total_steps == 10


def test_a_stopped_run_resumes_to_the_same_weights(
    make_snapshot: SnapshotMaker, tiny_encoder: Path, tmp_path: Path
) -> None:
    snapshot = make_snapshot(GOOD_BAD)
    straight = train(quick(snapshot, tmp_path / "straight", tiny_encoder, epochs=2, grad_accum=2))
    stop, watch = stopping_after(4)
    config = quick(snapshot, tmp_path / "resumed", tiny_encoder, epochs=2, grad_accum=2)
    first = train(config, progress_callback=watch, stop=stop)
    assert not first.complete
    assert (first.folder / "trainer_state.pt").is_file()
    with pytest.raises(FileExistsError, match="pass --resume"):
        train(config)
    with pytest.raises(ValueError, match="different settings \\(learning_rate\\)"):
        train(
            quick(
                snapshot,
                tmp_path / "resumed",
                tiny_encoder,
                epochs=2,
                grad_accum=2,
                learning_rate=1.0,
                resume=True,
            )
        )
    other = make_snapshot(GOOD_BAD[:12])
    with pytest.raises(SnapshotError, match="not the snapshot the run"):
        train(quick(other, tmp_path / "resumed", tiny_encoder, epochs=2, grad_accum=2, resume=True))
    resumed = train(
        quick(snapshot, tmp_path / "resumed", tiny_encoder, epochs=2, grad_accum=2, resume=True)
    )
    assert resumed.complete
    expected, got = parameters(straight.folder), parameters(resumed.folder)
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=1e-6, msg=name)
    for got_epoch, expected_epoch in zip(
        resumed.metrics["epochs"], straight.metrics["epochs"], strict=True
    ):
        assert got_epoch == pytest.approx(expected_epoch)


def test_a_finished_checkpoint_is_not_overwritten(
    make_snapshot: SnapshotMaker, tiny_encoder: Path, tmp_path: Path
) -> None:
    config = quick(make_snapshot(GOOD_BAD[:8]), tmp_path / "ckpt", tiny_encoder)
    train(config)
    with pytest.raises(FileExistsError, match="already holds a finished reward model"):
        train(config)


def test_the_command_refuses_a_damaged_snapshot_clearly(
    make_snapshot: SnapshotMaker,
    tiny_encoder: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    snapshot = make_snapshot(GOOD_BAD)
    (snapshot / "judgments.parquet").write_bytes(b"not parquet at all")
    code = main([str(snapshot), "--out", str(tmp_path / "ckpt"), "--base-model", str(tiny_encoder)])
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("intentgap train: snapshot file ")
    assert "judgments.parquet" in error
    assert not (tmp_path / "ckpt").exists()


def test_the_command_trains_and_summarises(
    make_snapshot: SnapshotMaker,
    tiny_encoder: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    snapshot = make_snapshot(GOOD_BAD)
    out = tmp_path / "ckpt"
    argv = [
        str(snapshot),
        "--out",
        str(out),
        "--base-model",
        str(tiny_encoder),
        "--no-progress-bar",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"reward model -> {out}" in printed
    assert "21 train, 3 held out" in printed
    assert "0 prompts and 0 responses were cut" in printed


def test_a_snapshots_bias_card_weighs_the_votes_of_a_training_run(
    tiny_encoder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The round trip: votes -> snapshot with its bias card -> `train --weights` the card."""
    # A simulated pool where one rater favours longer responses whatever they say.
    pool = [
        *(RaterProfile(f"h{k}", skill=0.85) for k in range(1, 6)),
        RaterProfile(PLANTED_RATER, skill=0.6, length_bias=2.0),
    ]
    pairs = simulate_pairs(400, seed=2, mean_chars=150)
    votes = simulate_votes(pairs, pool, votes_per_pair=3, seed=2)
    options = ExportOptions(ties="soft")
    snapshot = tmp_path / "snapshot"
    snapshot_of(
        snapshot, pairs, votes, options, source="simulated",
        bias_card=build_bias_card(pairs, votes, n_boot=50),
    )  # fmt: skip
    card = json.loads((snapshot / BIAS_CARD_FILE).read_text(encoding="utf-8"))
    weights = rater_weights(card)
    assert min(weights, key=weights.__getitem__) == PLANTED_RATER

    out = tmp_path / "ckpt"
    argv = [
        str(snapshot),
        "--out", str(out),
        "--base-model", str(tiny_encoder),
        "--weights", str(snapshot / BIAS_CARD_FILE),
        "--max-pairs", "32",
        "--batch-size", "8",
        "--no-progress-bar",
    ]  # fmt: skip
    assert main(argv) == 0
    assert "reward model ->" in capsys.readouterr().out
    info = json.loads((out / "intentgap.json").read_text())
    assert info["train_config"]["weights"] == str(snapshot / BIAS_CARD_FILE)

    # What the run weighed each pair with: the sum of its voters' weights from the card.
    trained_on = training_pairs(load_snapshot(snapshot), TrainConfig.from_args(argv))
    expected = (
        votes.filter(pl.col("choice") != "both_bad")
        .group_by("pair_id")
        .agg(
            expected=pl.col("rater_id").replace_strict(weights, return_dtype=pl.Float64).sum(),
            planted_voted=(pl.col("rater_id") == PLANTED_RATER).any(),
        )
    )
    compared = trained_on.join(expected, on="pair_id")
    assert compared.height == 32
    assert compared["weight"].to_list() == pytest.approx(compared["expected"].to_list())
    # Pairs the planted rater voted on weigh less than those of three careful raters.
    by_planted = compared.group_by("planted_voted").agg(pl.col("weight").mean())
    mean_weight = dict(by_planted.iter_rows())
    assert mean_weight[True] < mean_weight[False]
