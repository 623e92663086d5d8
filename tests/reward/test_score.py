"""Scoring pairs and (prompt, response) rows with a trained checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from reward.score import SCORES, RewardScorer, main, read_score_input, score_pairs
from reward.snapshot import load_snapshot, pairs_from_preferences


def test_rewards_do_not_depend_on_batching_or_padding(tiny_checkpoint: tuple[Path, Path]) -> None:
    _, checkpoint = tiny_checkpoint
    prompts = ["Question 1?", "Question 2 is a much longer question than the first one?", "Q3"]
    responses = ["short", "a longer answer with many more words in it", "mid length answer"]
    one_by_one = RewardScorer.from_checkpoint(checkpoint, batch_size=1).score(prompts, responses)
    batched = RewardScorer.from_checkpoint(checkpoint, batch_size=32).score(prompts, responses)
    np.testing.assert_allclose(batched, one_by_one, rtol=0, atol=1e-5)


def test_bf16_autocast_scores_close_to_fp32(tiny_checkpoint: tuple[Path, Path]) -> None:
    _, checkpoint = tiny_checkpoint
    prompts, responses = ["Question 1?"] * 2, ["A good, careful answer.", "bad"]
    fp32 = RewardScorer.from_checkpoint(checkpoint, precision="fp32").score(prompts, responses)
    bf16 = RewardScorer.from_checkpoint(checkpoint, precision="bf16").score(prompts, responses)
    np.testing.assert_allclose(bf16, fp32, atol=0.05)


def test_pairs_are_scored_on_their_own_sides(tiny_checkpoint: tuple[Path, Path]) -> None:
    snapshot, checkpoint = tiny_checkpoint
    scorer = RewardScorer.from_checkpoint(checkpoint)
    pairs = pairs_from_preferences(load_snapshot(snapshot).preferences)
    scores = score_pairs(scorer, pairs, "tiny")
    assert scores.schema == pl.Schema(SCORES)
    assert scores["pair_id"].to_list() == pairs["pair_id"].to_list()
    assert set(scores["model_id"]) == {"tiny"}
    first = pairs.row(0, named=True)
    direct = scorer.score([first["prompt"]] * 2, [first["response_a"], first["response_b"]])
    assert scores.row(0)[2:] == pytest.approx(tuple(direct), abs=1e-6)
    # The trained model prefers the careful answers (side a) on the pairs it trained on.
    assert (scores["reward_a"] > scores["reward_b"]).sum() >= 22


def test_the_command_scores_a_snapshot(tiny_checkpoint: tuple[Path, Path], tmp_path: Path) -> None:
    snapshot, checkpoint = tiny_checkpoint
    out = tmp_path / "scores.parquet"
    assert main([str(checkpoint), str(snapshot), "--out", str(out), "--no-progress-bar"]) == 0
    scores = pl.read_parquet(out)
    assert scores.columns == list(SCORES) and scores.height == 24
    assert set(scores["model_id"]) == {"checkpoint"}  # the folder's name


def test_the_command_scores_prompt_response_rows(
    tiny_checkpoint: tuple[Path, Path], tmp_path: Path
) -> None:
    _, checkpoint = tiny_checkpoint
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        "\n".join(
            json.dumps({"prompt": "Question 3?", "response": r}) for r in ["bad 3", "A good one."]
        )
    )
    out = tmp_path / "scores.parquet"
    assert main([str(checkpoint), str(rows), "--out", str(out), "--model-id", "m1"]) == 0
    scored = pl.read_parquet(out)
    assert scored.columns == ["pair_id", "prompt", "response", "reward", "model_id"]
    assert scored["reward"][1] > scored["reward"][0]


def test_inputs_are_read_by_shape(tmp_path: Path) -> None:
    chosen_rejected = tmp_path / "trl.csv"
    pl.DataFrame({"prompt": ["q"], "chosen": ["x"], "rejected": ["y"]}).write_csv(chosen_rejected)
    kind, frame = read_score_input(chosen_rejected)
    assert kind == "pairs"
    assert frame.select("pair_id", "response_a", "response_b").row(0) == ("0", "x", "y")
    with pytest.raises(ValueError, match="snapshot folder or a"):
        read_score_input(tmp_path / "scores.txt")


def test_the_command_refuses_what_is_not_a_checkpoint(
    tiny_encoder: Path,
    tiny_checkpoint: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    snapshot, _ = tiny_checkpoint
    assert main([str(tiny_encoder), str(snapshot), "--out", str(tmp_path / "s.parquet")]) == 2
    assert "not a reward checkpoint made by `intentgap train`" in capsys.readouterr().err
