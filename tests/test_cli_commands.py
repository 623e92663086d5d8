"""The terminal door: every command on a real workspace, and the plain lock message."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import cli
from data.store import Store
from data.workspace import Workspace
from tests.data.bad_inputs import (
    BAD_INPUTS,
    LOCKED,
    TARGET,
    Bad,
    case_id,
    copy_database,
    seed_database,
    state,
)

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
    password = workspace.admin_password_file.read_text()
    assert password and password not in out  # printed as a location, not the secret
    assert "token=" not in out, "no sign-in link is printed (or logged)"
    assert not workspace.demo_raters_file.exists(), "no token is written to disk either"
    with Store(workspace.database) as store:
        votes = store.judgments("demo").height
    again_code, _, _ = run(capsys, "demo", "--workspace", str(tmp_path))
    assert again_code == 0
    assert workspace.admin_password_file.read_text() == password
    with Store(workspace.database) as store:
        project = store.project("demo")
        assert project is not None and project.is_demo and project.guidelines
        assert store.pairs("demo").height >= 72
        assert store.judgments("demo").height == votes, "the pool votes once"


def test_the_admin_password_file_is_readable_by_its_owner_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INTENTGAP_ADMIN_PASSWORD", raising=False)
    workspace = Workspace.resolve(tmp_path)
    run(capsys, "demo", "--workspace", str(tmp_path))
    assert stat.S_IMODE(workspace.admin_password_file.stat().st_mode) == 0o600
    workspace.admin_password_file.chmod(0o644)  # left readable by an older version
    run(capsys, "demo", "--workspace", str(tmp_path))
    assert stat.S_IMODE(workspace.admin_password_file.stat().st_mode) == 0o600


def test_the_demo_has_votes_already_from_a_simulated_pool_that_leaves_the_demo_raters_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "demo", "--workspace", str(tmp_path))
    # 82 pairs and 154 probe pairs (flattered or agreeing losers), 9 simulated raters each.
    assert code == 0 and "Probe pairs: 154 new" in out and "2124 new votes" in out
    with Store(Workspace.resolve(tmp_path).database) as store:
        raters = store.raters()
        project = store.project("demo")
        assert project is not None
        progress = store.progress("demo-rater-1", "demo")
    pool = raters.filter(pl.col("rater_id").str.starts_with("sim-"))
    assert pool.height == 9 and pool["n_judgments"].to_list() == [82 + 154] * 9
    assert set(pool["kind"]) == {"human"} and not any(pool["active"]), "nobody signs in as them"
    assert progress["available"] > 0, "the demo raters are left their work"
    kept = dict(raters.select("rater_id", "only_project").iter_rows())
    assert all(kept[rater] == "demo" for rater in [*cli.DEMO_RATERS, *pool["rater_id"]])


def test_demo_revokes_the_token_file_an_older_version_left_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = Workspace.resolve(tmp_path)
    with Store(workspace.create().database) as store:
        old = {rater: store.add_rater(rater) for rater in cli.DEMO_RATERS}
    workspace.demo_raters_file.write_text(json.dumps(old))
    assert run(capsys, "demo", "--workspace", str(tmp_path))[0] == 0
    assert not workspace.demo_raters_file.exists()
    with Store(workspace.database) as store:
        assert all(store.rater_for_token(token) is None for token in old.values())
        assert not store.rater_may_label("demo-rater-1", "another-project")


def test_raters_reset_prints_a_new_link_that_signs_in_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "raters", "add", "ada", "--workspace", str(tmp_path))
    first = out.strip().split("?token=")[1]
    code, out, _ = run(capsys, "raters", "reset", "ada", "--workspace", str(tmp_path))
    assert code == 0
    second = out.strip().split("?token=")[1]
    with Store(Workspace.resolve(tmp_path).database) as store:
        assert store.sign_in_with_token(first) is None, "the old link no longer works"
        assert store.sign_in_with_token(second) is not None
        assert store.sign_in_with_token(second) is None, "a link signs in once"


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


# -- import: every bad input of the table, through the real command ---------------------------


@pytest.fixture(scope="module")
def seeded_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_database(tmp_path_factory.mktemp("seed"))


@pytest.mark.parametrize("case", [*BAD_INPUTS, LOCKED], ids=case_id)
def test_import_refuses_each_bad_input_in_one_line_and_writes_nothing(
    seeded_database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: Bad
) -> None:
    workspace = tmp_path / "ws"
    database = copy_database(seeded_database, workspace)
    with Store(database) as store:
        before = state(store)
    path = case.make(tmp_path)
    argv = ["import", str(path), "--workspace", str(workspace), "--project", TARGET]
    code, out, err = run(capsys, *argv, *case.cli_args())
    assert (code, out) == (2, "")
    assert "Traceback" not in err
    assert err.startswith("intentgap: ") and err.count("\n") == 1, err
    assert case.matches(err.removeprefix("intentgap: ").removesuffix("\n")), err
    with Store(database) as store:
        assert state(store) == before  # no pair, vote, rater or project row added


@pytest.mark.parametrize("name", ["deep-json", "gzip-bomb", "an-unreadable-file", "a-folder"])
def test_the_installed_command_prints_no_traceback(
    seeded_database: Path, tmp_path: Path, name: str
) -> None:
    case = next(c for c in BAD_INPUTS if c.id == name)
    workspace = tmp_path / "ws"
    copy_database(seeded_database, workspace)
    path = case.make(tmp_path)
    result = subprocess.run(
        [str(REPO / ".venv" / "bin" / "intentgap"), "import", str(path), "--workspace",
         str(workspace), "--project", TARGET, *case.cli_args()],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr


# -- probes make: probe pairs for the raters, through the real command ------------------------


def _pairs_with_gold(tmp_path: Path, ws: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Three gold pairs and one without gold or votes, imported into project p."""
    source = tmp_path / "pairs.jsonl"
    rows = [
        {"prompt": f"Q{i}?", "response_a": f"Good answer {i}.", "response_b": f"Bad {i}."}
        | ({"gold": "a"} if i < 3 else {})
        for i in range(4)
    ]
    source.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    code, _, err = run(capsys, "import", str(source), "--workspace", ws, "--project", "p")
    assert code == 0, err


def test_probes_make_writes_probe_pairs_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(tmp_path / "ws")
    _pairs_with_gold(tmp_path, ws, capsys)
    argv = ["probes", "make", "--workspace", ws, "--project", "p", "--kinds", "length,retest"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert out.splitlines() == [
        "length: 3 made, 1 skipped (fewer than 3 human votes: 1)",
        "retest: served, not made (a judged pair again, sides swapped, round 1)",
        "Probe pairs in 'p': 3 new, 0 there already.",
    ]
    with Store(Workspace.resolve(ws).database) as store:
        probes = store.pairs("p").filter(pl.col("probe_kind").is_not_null())
    assert probes.height == 3
    assert set(probes["probe_kind"]) == {"length"} and set(probes["source"]) == {"probe"}
    assert probes["is_gold"].not_().all() and probes["gold"].is_in(["a", "b"]).all()
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert out.splitlines()[-1] == "Probe pairs in 'p': 0 new, 3 there already."


def test_probes_make_with_every_kind_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(tmp_path / "ws")
    _pairs_with_gold(tmp_path, ws, capsys)
    code, out, err = run(capsys, "probes", "make", "--workspace", ws, "--project", "p")
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == [
        "length", "flattery", "sycophancy", "confidence", "refusal", "markdown", "retest"
    ]  # fmt: skip
    assert lines[-1] == "Probe pairs in 'p': 18 new, 0 there already."


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--project", "nope"], "intentgap: no project 'nope'"),
        (["--project", "p", "--kinds", "padding"], "intentgap: unknown probe kind 'padding'"),
        (["--project", "p", "--min-agreement", "0.5"], "intentgap: min_agreement must lie"),
    ],
)
def test_probes_make_refuses_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    ws = str(tmp_path / "ws")
    _pairs_with_gold(tmp_path, ws, capsys)
    code, out, err = run(capsys, "probes", "make", "--workspace", ws, *options)
    assert (code, out) == (2, "")
    assert err.startswith(message) and err.count("\n") == 1, err
    with Store(Workspace.resolve(ws).database) as store:
        assert store.pairs("p")["probe_kind"].is_null().all(), "nothing written"


def test_probes_make_has_help() -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.make_parser().parse_args(["probes", "make", "--help"])
    assert exit_info.value.code == 0


def test_export_leaves_probe_pairs_out_unless_asked_with_probes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime  # here: this file's tests are appended, not reordered

    ws = str(tmp_path / "ws")
    _pairs_with_gold(tmp_path, ws, capsys)
    made = run(capsys, "probes", "make", "--workspace", ws, "--project", "p", "--kinds", "length")
    assert made[0] == 0, made[2]
    with Store(Workspace.resolve(ws).database) as store:
        pairs = store.pairs("p")
        votes = pl.DataFrame(
            {
                "submission_id": [f"s{i}" for i in range(pairs.height)],
                "pair_id": pairs["pair_id"],
                "rater_id": "ada",
                "choice": "a",
                "created_at": datetime(2025, 3, 1, tzinfo=UTC),
            }
        )
        store.import_frames(pairs.head(0), votes, "p")
    probe_ids = sorted(pairs.filter(pl.col("probe_kind").is_not_null())["pair_id"])
    assert len(probe_ids) == 3

    code, out, err = run(capsys, "export", str(tmp_path / "plain"), "--workspace", ws)
    assert code == 0, err
    manifest = json.loads(out)
    assert manifest["options"]["with_probes"] is False
    assert (manifest["counts"]["pairs"], manifest["counts"]["probe_judgments"]) == (4, 3)
    exported = pl.read_parquet(tmp_path / "plain" / "pairs.parquet")
    assert not set(exported["pair_id"]) & set(probe_ids)
    marks = pl.read_parquet(tmp_path / "plain" / "probes.parquet")
    assert sorted(marks["pair_id"]) == probe_ids  # their votes are marked

    code, out, err = run(
        capsys, "export", str(tmp_path / "asked"), "--workspace", ws, "--with-probes"
    )
    assert code == 0, err
    assert json.loads(out)["options"]["with_probes"] is True
    exported = pl.read_parquet(tmp_path / "asked" / "pairs.parquet")
    assert set(probe_ids) <= set(exported["pair_id"]) and exported.height == 7
