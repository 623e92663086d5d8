"""Occlusion attribution: what each word of a response adds to its reward."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from reward.attribution import occlusion
from reward.score import RewardScorer


class CountsGood:
    """A reward anyone can check: 2 per "good", minus 1 per "bad"."""

    def score(
        self, prompts: Sequence[str], responses: Sequence[str], _: object = None
    ) -> np.ndarray:
        return np.array([2.0 * r.split().count("good") - r.split().count("bad") for r in responses])


def test_each_word_gets_the_reward_lost_without_it() -> None:
    table = occlusion(CountsGood(), "q", "a good and bad day")
    assert table["word"].to_list() == ["a ", "good ", "and ", "bad ", "day"]
    assert "".join(table["word"]) == "a good and bad day"
    assert table["attribution"].to_list() == [0.0, 2.0, 0.0, -1.0, 0.0]
    assert set(table["reward_full"]) == {1.0}


def test_occlusion_runs_on_a_trained_checkpoint(tiny_checkpoint: tuple[Path, Path]) -> None:
    _, checkpoint = tiny_checkpoint
    table = occlusion(
        RewardScorer.from_checkpoint(checkpoint), "Question 1?", "A good, careful answer."
    )
    assert table.height == 4
    full = RewardScorer.from_checkpoint(checkpoint).score(
        ["Question 1?"], ["A good, careful answer."]
    )
    assert table["reward_full"][0] == pytest.approx(full[0], abs=1e-5)
