"""The quick baseline: frozen embeddings and a logistic Bradley-Terry head."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reward.baseline import EmbeddingBaseline
from reward.config import TrainConfig
from reward.snapshot import load_snapshot, training_pairs


def test_the_baseline_finds_the_signal_and_has_no_side(
    tiny_checkpoint: tuple[Path, Path], tiny_encoder: Path
) -> None:
    snapshot, _ = tiny_checkpoint
    config = TrainConfig(snapshot=str(snapshot), out="unused", eval_fraction=0.25)
    pairs = training_pairs(load_snapshot(snapshot), config)
    train, held_out = pairs.filter(~pairs["is_eval"]), pairs.filter(pairs["is_eval"])
    baseline = EmbeddingBaseline(base_model=str(tiny_encoder), C=100.0)
    assert baseline.fit(train) is baseline
    assert baseline.head_.coef_.shape == (1, 32) and baseline.n_pairs_ == train.height
    assert (baseline.predict_proba(held_out) > 0.5).all()
    # Mirrored training: swapping chosen and rejected gives exactly 1 - p.
    swapped = held_out.rename({"chosen": "rejected", "rejected": "chosen"})
    np.testing.assert_allclose(
        baseline.predict_proba(swapped), 1 - baseline.predict_proba(held_out)
    )


def test_embeddings_are_unit_length_and_order_preserving(tiny_encoder: Path) -> None:
    baseline = EmbeddingBaseline(base_model=str(tiny_encoder), batch_size=2)
    prompts, responses = ["q"] * 3, ["a much longer response here", "short", "mid length one"]
    together = baseline.embed(prompts, responses)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, rtol=1e-5)
    alone = baseline.embed(prompts[1:2], responses[1:2])
    assert together[1] == pytest.approx(alone[0], abs=1e-5)
