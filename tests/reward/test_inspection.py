"""The inspection report and the `intentgap inspect` command on a tiny trained model."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from labeling.preference_set import ExportOptions
from reward.inspection import compare, main
from tests.reward.conftest import GOOD_BAD, snapshot_of, write_votes_snapshot
from tests.reward.flattery_pool import PRONE, Pool, flattery_pool

__all__ = ["flattery_pool"]  # a fixture, imported to be found here


def test_the_json_report_has_every_section(
    tiny_checkpoint: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    snapshot, checkpoint = tiny_checkpoint
    out = tmp_path / "report.json"
    code = main([str(checkpoint), str(snapshot), "--json", "--probe-pairs", "4", "--out", str(out)])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert json.loads(out.read_text()) == report
    assert {"accuracy", "ceiling", "calibration", "probes", "divergences"} <= set(report)
    assert report["flagged_raters"] == {}, "GOOD_BAD's raters have too few votes to flag"
    side = report["side_by_side"]
    assert side["model_rater_id"] == f"model:{checkpoint.name}"
    assert set(side) == {"model_rater_id", "model", "raters", "inherited"}
    assert side["model"] == [], (
        "too few held-out pairs to test the model (tested in test_inherited)"
    )
    assert report["edit_by_edit"] == [], "no probe pairs in the snapshot"
    held_out = pl.read_parquet(checkpoint / "split.parquet").filter("is_eval")
    assert report["split"] == "pairs held out in training"
    assert report["n_pairs"] == report["accuracy"]["overall"]["n"] == held_out.height
    by_category = {row["category"] for row in report["accuracy"]["by_category"]}
    assert by_category <= {"coding", "honesty"}
    assert [p["name"] for p in report["probes"]] == [
        "length", "flattery", "sycophancy", "confidence", "refusal", "markdown", "ab_swap"
    ]  # fmt: skip
    assert all(p["n"] == 4 and 0 <= p["flip_rate"] <= 1 for p in report["probes"])
    assert 0 <= report["calibration"]["ece"] <= 1
    assert sum(b["n"] for b in report["calibration"]["bins"]) == report["n_pairs"]
    assert 0 < report["ceiling"] <= 1
    assert (
        report["snapshot_hash"]
        == json.loads((snapshot / "manifest.json").read_text())["content_hash"]
    )


def test_another_snapshot_is_evaluated_whole_and_said_so(
    tiny_checkpoint: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, checkpoint = tiny_checkpoint
    other = write_votes_snapshot(tmp_path / "other", GOOD_BAD[:6])
    assert main([str(checkpoint), str(other), "--probe-pairs", "0"]) == 0
    text = capsys.readouterr().out
    assert "on 6 pairs (all pairs (not the snapshot the model was trained on))" in text
    assert "accuracy vs votes" in text and "ceiling" in text


def test_a_damaged_snapshot_is_refused(
    tiny_checkpoint: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, checkpoint = tiny_checkpoint
    other = write_votes_snapshot(tmp_path / "other", GOOD_BAD[:6])
    (other / "manifest.json").write_text("{")
    assert main([str(checkpoint), str(other)]) == 2
    assert "manifest.json: is malformed" in capsys.readouterr().err


def test_compare_lines_up_the_measures_two_reports_share() -> None:
    def report(accuracy: float, length_delta: float, probes: bool = True) -> dict[str, object]:
        return {
            "accuracy": {
                "overall": {"accuracy": accuracy, "vote_agreement": 0.5},
                "gold": {"model": None},
            },
            "calibration": {"ece": 0.1},
            "probes": [{"name": "length", "mean_delta": length_delta, "flip_rate": 0.2}]
            if probes
            else [],
            "side_by_side": None,
        }

    rows = {row["measure"]: row for row in compare(report(0.6, 0.3), report(0.7, 0.1))}
    assert rows["accuracy vs votes"]["difference"] == pytest.approx(0.1)
    assert rows["length probe: mean reward change"]["difference"] == pytest.approx(-0.2)
    assert rows["accuracy vs gold"]["difference"] is None, "no gold pairs: nothing to compare"
    without_probes = compare(report(0.6, 0.3), report(0.7, 0.1, probes=False))
    assert "length probe: flip rate" not in {row["measure"] for row in without_probes}


def test_a_model_compared_with_itself_changes_nothing(
    tiny_checkpoint: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot, checkpoint = tiny_checkpoint
    args = [str(checkpoint), str(snapshot), "--probe-pairs", "4", "--compare", str(checkpoint)]
    assert main([*args, "--json"]) == 0
    comparison = json.loads(capsys.readouterr().out)["comparison"]
    assert comparison["model_id"] == checkpoint.name
    assert {row["difference"] for row in comparison["rows"]} <= {0.0, None}
    assert main(args) == 0
    text = capsys.readouterr().out
    assert f"{checkpoint.name} (first) against {checkpoint.name} (second):" in text
    assert "length probe: flip rate" in text


def test_the_report_lines_up_raters_and_model_edit_by_edit(
    flattery_pool: Pool, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model trained on a flattery-prone pool, inspected on its own snapshot."""
    model, snapshot = flattery_pool.checkpoints["all"], flattery_pool.snapshot
    args = [str(model), str(snapshot), "--probe-pairs", "4"]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {row["probe_kind"]: row for row in report["edit_by_edit"]}
    assert (rows["flattery"]["verdict"], rows["length"]["verdict"]) == ("inherited", "none")
    assert rows["flattery"]["flagged_raters"] == list(PRONE)
    assert (
        rows["flattery"]["n_bases"]
        == flattery_pool.pairs.filter(pl.col("probe_kind") == "flattery").height
    ), "every voted probe pair's base, held out in training or not"
    assert all("probe" in report["flagged_raters"][rater] for rater in PRONE), (
        "the audit of the snapshot runs the probe check"
    )
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "edit by edit (pull:" in text
    assert "flattery    inherited" in text and "flagged: r1, r2, r3, r4" in text


def test_a_model_trained_without_the_flagged_raters_closes_it(
    flattery_pool: Pool, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = flattery_pool.checkpoints["all"], flattery_pool.checkpoints["without"]
    args = [str(first), str(flattery_pool.snapshot), "--probe-pairs", "4", "--compare"]
    assert main([*args, str(second), "--json"]) == 0
    comparison = json.loads(capsys.readouterr().out)["comparison"]
    changes = {row["probe_kind"]: row for row in comparison["edit_changes"]}
    assert (changes["flattery"]["first"], changes["flattery"]["second"]) == (
        "inherited",
        "resisted",
    )
    assert changes["flattery"]["change"] == "closed"
    assert changes["length"]["change"] == "unchanged"
    second_rows = {row["probe_kind"]: row for row in comparison["edit_by_edit"]}
    assert second_rows["flattery"]["verdict"] == "resisted", "the second model's own table"
    measures = {row["measure"] for row in comparison["rows"]}
    assert "flattery edit: the model's pull" in measures
    assert main([*args, str(second)]) == 0
    text = capsys.readouterr().out
    assert f"edit by edit, {first.name} (first) -> {second.name} (second):" in text
    assert "flattery    inherited -> resisted: closed (flagged: r1, r2, r3, r4)" in text
    assert f"{second.name}, edit by edit (pull:" in text


def test_a_snapshot_without_the_probe_texts_gives_the_same_table(
    flattery_pool: Pool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exported the default way, the probe pairs are not in the preference set: their votes
    and probes.parquet are, and their texts are rebuilt from their bases."""
    pairs, votes = flattery_pool.pairs, flattery_pool.votes
    options = ExportOptions(ties="soft")
    bare = tmp_path / "bare"
    snapshot_of(bare, pairs, votes, options, source="simulated")
    tables = []
    for snapshot in (flattery_pool.snapshot, bare):
        args = [str(flattery_pool.checkpoints["all"]), str(snapshot), "--split", "all"]
        assert main([*args, "--probe-pairs", "2", "--json"]) == 0
        tables.append(json.loads(capsys.readouterr().out)["edit_by_edit"])
    for row, again in zip(*tables, strict=True):  # scored in other batches: float noise
        numbers = {k for k, v in row.items() if isinstance(v, float)}
        assert {k: again[k] for k in numbers} == pytest.approx({k: row[k] for k in numbers})
        assert {k: v for k, v in again.items() if k not in numbers} == {
            k: v for k, v in row.items() if k not in numbers
        }
    assert [row["verdict"] for row in tables[1]] == ["none", "inherited"]
