"""The default base (the bundled MiniLM) trained briefly on real hh-rlhf pairs, then scored and
inspected through the commands a user types."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import torch

from data.export import write_snapshot
from data.importers import read_file
from labeling.preference_set import build_preferences
from reward import inspection, score, train


@pytest.mark.slow
def test_minilm_trains_scores_and_inspects_on_hh_rlhf(
    datasets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = read_file(
        datasets / "hh-rlhf-test" / "helpful-base" / "test.jsonl.gz", preset="hh-rlhf"
    )
    pairs = batch.pairs.head(48)
    preferences = build_preferences(pairs, batch.judgments)
    snapshot = tmp_path / "snapshot"
    votes = batch.judgments.filter(pl.col("pair_id").is_in(pairs["pair_id"].to_list()))
    write_snapshot(
        snapshot, preferences, votes, options={}, schema_version="test", source="hh-rlhf, first 48"
    )
    checkpoint = tmp_path / "minilm"
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        code = train.main(
            [str(snapshot), "--out", str(checkpoint), "--max-length", "192",
             "--eval-fraction", "0.25", "--learning-rate", "5e-5", "--no-progress-bar"]
        )  # fmt: skip
        assert code == 0
        scores_file = tmp_path / "scores.parquet"
        assert (
            score.main(
                [str(checkpoint), str(snapshot), "--out", str(scores_file), "--no-progress-bar"]
            )
            == 0
        )
        capsys.readouterr()
        assert (
            inspection.main([str(checkpoint), str(snapshot), "--json", "--probe-pairs", "4"]) == 0
        )
    finally:
        torch.set_num_threads(threads)
    info = json.loads((checkpoint / "intentgap.json").read_text())
    assert info["train_config"]["base_model"] == "default"
    assert (info["format"], info["max_length"]) == ("pair", 192)
    metrics = json.loads((checkpoint / "metrics.json").read_text())
    assert (metrics["n_train"], metrics["n_eval"]) == (36, 12)
    # Long dialogues lose their oldest turns rather than their responses.
    assert metrics["truncation"]["train"]["sequences_with_turns_dropped"] > 0
    scores = pl.read_parquet(scores_file)
    assert scores.height == 48 and scores["reward_a"].is_finite().all()
    report = json.loads(capsys.readouterr().out)
    assert report["n_pairs"] == 12 and report["ceiling"] == 1.0  # one vote per pair
    assert [p["n"] for p in report["probes"]] == [4] * 7
