"""``intentgap audit`` on a real workspace: JSON for machines, tables for people; and what
every command says about a workspace it cannot use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest

import cli
from data.importers import import_file
from data.store import Project, Store
from data.workspace import Workspace
from labeling.audit import REPORT_KEYS
from tests.conftest import REPO
from tests.trouble import holding, small_disk


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


# -- a bad workspace: one line, exit code 2, never a traceback ---------------------------------


def _toy_workspace(root: Path) -> Path:
    """A closed workspace database with one project (closing empties DuckDB's log, so on a
    full disk the next write needs space that it cannot get)."""
    with Store(Workspace(root).create().database) as store:
        store.save_project(Project("toy", "Toy"))
    return root


def _a_file(tmp_path: Path, _: ExitStack) -> tuple[list[str], str]:
    (tmp_path / "notes.txt").write_text("not a folder")
    return ["raters", "add", "ada", "--workspace", str(tmp_path / "notes.txt")], (
        "(workspace is a file)"
    )


def _under_a_file(tmp_path: Path, _: ExitStack) -> tuple[list[str], str]:
    (tmp_path / "notes.txt").write_text("not a folder")
    workspace = tmp_path / "notes.txt" / "workspace"
    return ["raters", "add", "ada", "--workspace", str(workspace)], "notes.txt is a file)"


def _where_no_folder_can_be_made(tmp_path: Path, _: ExitStack) -> tuple[list[str], str]:
    return ["raters", "add", "ada", "--workspace", "/proc/intentgap/workspace"], (
        "(folder cannot be created)"
    )


def _missing(tmp_path: Path, _: ExitStack) -> tuple[list[str], str]:
    return ["audit", "--workspace", str(tmp_path / "nowhere")], "no workspace at"


def _read_only(tmp_path: Path, stack: ExitStack) -> tuple[list[str], str]:
    disk = stack.enter_context(small_disk(tmp_path / "disk"))
    _toy_workspace(disk.root)
    disk.read_only()
    return ["raters", "add", "ada", "--workspace", str(disk.root)], "(read-only)"


def _full(tmp_path: Path, stack: ExitStack) -> tuple[list[str], str]:
    disk = stack.enter_context(small_disk(tmp_path / "disk"))
    _toy_workspace(disk.root)
    disk.fill()
    return ["raters", "add", "ada", "--workspace", str(disk.root)], "(disk full)"


def _full_at_export(tmp_path: Path, stack: ExitStack) -> tuple[list[str], str]:
    disk = stack.enter_context(small_disk(tmp_path / "disk"))
    _toy_workspace(tmp_path / "workspace")
    disk.fill()
    argv = ["export", str(disk.root / "snap"), "--workspace", str(tmp_path / "workspace")]
    return argv, f"cannot write {disk.root / 'snap'} (disk full)"


def _held_by_the_app(tmp_path: Path, stack: ExitStack) -> tuple[list[str], str]:
    database = Workspace(_toy_workspace(tmp_path / "workspace")).database
    stack.enter_context(holding(database, ["streamlit", "run", "app.py"]))
    return ["raters", "list", "--workspace", str(tmp_path / "workspace")], (
        "in use by the running intentgap app"
    )


def _export_into_a_snapshot(tmp_path: Path, _: ExitStack) -> tuple[list[str], str]:
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "manifest.json").write_text("{}")
    workspace = str(_toy_workspace(tmp_path / "workspace"))
    argv = ["export", str(tmp_path / "snap"), "--workspace", workspace]
    return argv, "already holds files; choose a new folder, or pass --overwrite"


@pytest.mark.parametrize(
    "case",
    [
        _a_file,
        _under_a_file,
        _where_no_folder_can_be_made,
        _missing,
        _read_only,
        _full,
        _full_at_export,
        _held_by_the_app,
        _export_into_a_snapshot,
    ],
    ids=lambda case: case.__name__.strip("_"),
)
def test_a_bad_workspace_is_one_plain_line(
    tmp_path: Path, case: Callable[[Path, ExitStack], tuple[list[str], str]]
) -> None:
    with ExitStack() as stack:
        argv, says = case(tmp_path, stack)
        result = subprocess.run(
            [sys.executable, "-m", "cli", *argv],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
        )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("intentgap: ") and result.stderr.count("\n") == 1
    assert says in result.stderr
