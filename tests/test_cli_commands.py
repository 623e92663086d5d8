"""The terminal door: every command on a real workspace, and the plain lock message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import cli
from data.store import Store
from data.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_demo_builds_a_workspace_that_a_second_run_leaves_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INTENTGAP_ADMIN_PASSWORD", raising=False)
    code, out, _ = run(capsys, "demo", "--workspace", str(tmp_path))
    assert code == 0
    workspace = Workspace.resolve(tmp_path)
    tokens = json.loads(workspace.demo_raters_file.read_text())
    assert sorted(tokens) == list(cli.DEMO_RATERS)
    assert all(f"?token={token}" in out for token in tokens.values())
    password = workspace.admin_password_file.read_text()
    assert password and password not in out  # printed as a location, not the secret
    again_code, _, _ = run(capsys, "demo", "--workspace", str(tmp_path))
    assert again_code == 0
    assert json.loads(workspace.demo_raters_file.read_text()) == tokens
    with Store(workspace.database) as store:
        project = store.project("demo")
        assert project is not None and project.is_demo and project.guidelines
        assert store.pairs("demo").height >= 72
        assert store.rater_for_token(tokens["demo-rater-1"]) == "demo-rater-1"


def test_workspace_comes_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTENTGAP_HOME", str(tmp_path / "elsewhere"))
    code, _, _ = run(capsys, "raters", "add", "ada")
    assert code == 0
    assert (tmp_path / "elsewhere" / "intentgap.duckdb").exists()


def test_import_then_export_a_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "prefs.jsonl"
    rows = [
        {"prompt": f"Q{i}?", "chosen": f"Good answer {i}.", "rejected": f"Bad answer {i}."}
        for i in range(6)
    ]
    source.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    ws = str(tmp_path / "ws")
    code, out, err = run(capsys, "import", str(source), "--workspace", ws, "--project", "p")
    assert code == 0, err
    assert "6" in out
    code, out, err = run(capsys, "export", str(tmp_path / "snap"), "--workspace", ws)
    assert code == 0, err
    manifest = json.loads(out)
    assert manifest["counts"]["pairs"] == 6
    pairs = pl.read_parquet(tmp_path / "snap" / "pairs.parquet")
    assert sorted(pairs["chosen"].to_list()) == sorted(row["chosen"] for row in rows)


def test_bad_input_is_one_plain_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"prompt": "Q", "response_a": "A", "response_b": "B"}\n{"prompt": \n')
    code, _, err = run(capsys, "import", str(source), "--workspace", str(tmp_path / "ws"))
    assert code == 2
    assert "bad.jsonl" in err and "line 2" in err
    assert "Traceback" not in err


def test_project_settings_from_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    guidelines = tmp_path / "g.md"
    guidelines.write_text("# Prefer honesty")
    code, out, _ = run(
        capsys,
        "project",
        "p1",
        "--workspace",
        str(tmp_path),
        "--overlap-k",
        "5",
        "--principles",
        "honesty, harmlessness",
        "--no-tie-allowed",
        "--guidelines-file",
        str(guidelines),
    )
    assert code == 0
    shown = json.loads(out)
    assert shown["overlap_k"] == 5
    assert shown["principles"] == ["honesty", "harmlessness"]
    assert shown["tie_allowed"] is False
    assert shown["guidelines"] == "# Prefer honesty"


def test_a_locked_workspace_gets_a_plain_message(tmp_path: Path) -> None:
    database = Workspace.resolve(tmp_path).create().database
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from data.store import Store; s = Store(sys.argv[1]);"
            " print('held', flush=True); time.sleep(60)",
            str(database),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = subprocess.run(
            [sys.executable, "-m", "cli", "raters", "list", "--workspace", str(tmp_path)],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2
    assert "in use by another process" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_command_has_help() -> None:
    parser = cli.make_parser()
    for command in ("demo", "serve", "import", "export", "project", "raters", "audit"):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([command, "--help"])
        assert exit_info.value.code == 0
