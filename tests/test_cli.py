"""``intentgap audit`` on a real workspace: JSON for machines, tables for people."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cli
from data.importers import import_file
from data.store import Project, Store
from data.workspace import Workspace
from labeling.audit import REPORT_KEYS


@pytest.fixture
def workspace(tmp_path: Path, datasets: Path) -> Path:
    """A workspace holding the MT-bench human judgments (the store closed again: the CLI
    must own the file)."""
    with Store(Workspace.resolve(tmp_path).database) as store:
        store.save_project(Project("mt", "MT-bench"))
        import_file(store, datasets / "mt-bench-human-judgments", "mt", preset="mt-bench")
    return tmp_path


def test_audit_json_has_every_section(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["audit", "--workspace", str(workspace), "--json", "--n-boot", "50"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert tuple(report) == REPORT_KEYS
    assert report["summary"]["n_judgments"] == 2558
    assert report["summary"]["n_raters"] == 65
    assert report["agreement"]["percent_agreement"]["n"] == 1525
    assert report["leaderboard"][0]["model"] == "gpt-4"
    assert {"rater_id", "n", "ds_accuracy", "consensus", "gold"} <= set(report["raters"][0])


def test_audit_prints_tables(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["audit", "--workspace", str(workspace), "--project", "mt", "--n-boot", "50"])
    assert code == 0
    out = capsys.readouterr().out
    assert "percent agreement" in out and "gpt-4" in out and "expert_24" in out
    assert "Blind spots:" in out and "Most disputed pairs" in out
