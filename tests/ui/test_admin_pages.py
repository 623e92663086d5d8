"""Admin pages: each renders and its main action works; raters cannot reach any of them."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from data.export import MANIFEST_FILE, read_snapshot
from data.workspace import ENV_VAR
from tests.conftest import toy_pairs
from tests.ui.conftest import (
    ADMIN_ONLY,
    TOY,
    AppWorkspace,
    app,
    click,
    page_as_rater,
    signed_in_admin,
    signed_in_rater,
    texts,
)
from ui import auth

ADMIN_PAGES = [
    "ui/pages/overview.py",
    "ui/pages/project.py",
    "ui/pages/raters.py",
    "ui/pages/import_data.py",
    "ui/pages/export_data.py",
]


def admin_on(path: str) -> AppTest:
    return signed_in_admin(app()).switch_page(path).run()


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_a_rater_session_cannot_render_an_admin_page(
    app_workspace: AppWorkspace, path: str
) -> None:
    at = page_as_rater(path, "r1")
    assert not at.exception
    assert [e.value for e in at.error] == ADMIN_ONLY
    assert not at.title and not at.button and not at.dataframe, "the guard stopped the page"


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_are_not_in_a_raters_navigation(app_workspace: AppWorkspace, path: str) -> None:
    at = signed_in_rater(app(), app_workspace.tokens["r1"])
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(path)


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_every_admin_page_renders(app_workspace: AppWorkspace, path: str) -> None:
    at = admin_on(path)
    assert not at.exception
    assert not at.error


def test_overview_counts_and_coverage(app_workspace: AppWorkspace) -> None:
    rater = signed_in_rater(app(), app_workspace.tokens["r1"])
    click(click(rater, "Left is better"), "Submit")
    at = admin_on("ui/pages/overview.py")
    projects, coverage, recent = (frame.value for frame in at.dataframe)
    assert projects.to_dict("records")[0] == {
        "project": "Toy project",
        "id": "toy",
        "pairs": 3,
        "gold_pairs": 0,
        "human_judgments": 1,
        "pairs_judged": 1,
        "raters": 2,
    }
    assert coverage.values.tolist() == [["0", 2], ["1", 1], ["2+", 0]]
    assert recent["rater_id"].tolist() == ["r1"]


def test_create_a_project_and_edit_its_rules(app_workspace: AppWorkspace) -> None:
    at = admin_on("ui/pages/project.py")
    at.text_input(key="project_new_id").input("helpful-1")
    at.text_input(key="project_new_name").input("Helpfulness")
    at = click(at, "Create project")
    assert at.success[0].value == "Created 'Helpfulness'. Set its rules below."
    assert at.sidebar.selectbox[0].value == "helpful-1", "the new project is chosen"

    at.text_area(key="project_edit_guidelines_helpful-1").input("# Be helpful")
    at.text_area(key="project_edit_principles_helpful-1").input("helpfulness\n\nconcision\n")
    at.number_input(key="project_edit_overlap_k_helpful-1").set_value(5)
    at.toggle(key="project_edit_rationale_required_helpful-1").set_value(True)
    at.number_input(key="project_edit_probe_rate_helpful-1").set_value(0.05)
    at.selectbox(key="project_edit_policy_helpful-1").set_value("disputed")
    at = click(at, "Save settings")
    assert at.success[0].value == "Saved the settings of 'Helpfulness'."
    with app_workspace.released() as store:
        saved = store.project("helpful-1")
    assert saved is not None
    assert (saved.guidelines, saved.principles, saved.overlap_k, saved.rationale_required) == (
        "# Be helpful",
        ("helpfulness", "concision"),
        5,
        True,
    )
    assert saved.flags == ("fabrication", "unsafe", "refuses needlessly"), "unchanged"
    assert (saved.probe_rate, saved.policy) == (0.05, "disputed")


def test_probe_pairs_are_made_from_the_project_page(app_workspace: AppWorkspace) -> None:
    """Gold pairs are the bases: one probe pair per gold pair and kind."""
    with app_workspace.released() as store:
        store.import_frames(toy_pairs(8, n_gold=4), None, TOY.project_id)  # p004..p007 gold
    at = admin_on("ui/pages/project.py")
    at.multiselect(key="project_probe_kinds").set_value(["flattery", "length"])
    at = click(at, "Make probe pairs")
    notice = at.success[0].value
    assert notice.startswith("8 new probe pairs (0 there already).")
    assert "flattery: 4 made, 4 skipped (fewer than 3 human votes: 4)" in notice
    at = click(at, "Make probe pairs")
    assert at.success[0].value.startswith("0 new probe pairs (8 there already).")
    with app_workspace.released() as store:
        probes = store.pairs(TOY.project_id).filter(pl.col("probe_kind").is_not_null())
    assert sorted(probes["probe_kind"].unique()) == ["flattery", "length"]


def test_a_project_id_must_be_new_and_simple(app_workspace: AppWorkspace) -> None:
    at = admin_on("ui/pages/project.py")
    at.text_input(key="project_new_id").input(TOY.project_id)
    assert "exists already" in click(at, "Create project").error[0].value
    at.text_input(key="project_new_id").input("has space")
    assert "letters, digits" in click(at, "Create project").error[0].value


def test_create_a_rater_shows_a_link_that_signs_them_in(app_workspace: AppWorkspace) -> None:
    at = admin_on("ui/pages/raters.py")
    at.text_input(key="raters_new_id").input("alice")
    at = click(at, "Create rater")
    link = at.code[0].value
    assert link.startswith("http://localhost:8501/?token=")
    assert "shown only this once" in texts(at)
    at = click(at, "Done, hide the link")
    assert not at.code
    assert "alice" in at.dataframe[0].value["rater_id"].tolist()

    rater = signed_in_rater(app(), auth.token_from_input(link))
    assert rater.markdown[0].value == f"**{TOY.name}**", "the label page, headed by the project"


def test_reset_link_and_deactivate(app_workspace: AppWorkspace) -> None:
    at = admin_on("ui/pages/raters.py")
    at.selectbox(key="raters_manage_id").set_value("r1")
    at = click(at, "Reset link")
    new_token = auth.token_from_input(at.code[0].value)
    assert new_token != app_workspace.tokens["r1"]
    at = click(at, "Deactivate")
    assert at.success[0].value == "r1 can no longer sign in."
    assert [b.label for b in at.button if b.label.endswith("activate")] == ["Reactivate"]
    with app_workspace.released() as store:
        assert store.rater_for_token(app_workspace.tokens["r1"]) is None
        assert store.rater_for_token(new_token) is None, "deactivated"


def test_import_a_small_jsonl(app_workspace: AppWorkspace) -> None:
    at = admin_on("ui/pages/import_data.py")
    rows = [
        {"prompt": "2+2?", "response_a": "4", "response_b": "5"},
        {"prompt": "Capital of France?", "response_a": "Paris", "response_b": "Lyon"},
    ]
    content = "".join(json.dumps(row) + "\n" for row in rows).encode()
    at.file_uploader(key="import_upload").upload("two.jsonl", content)
    at = click(at, "Import")
    assert at.success[0].value == "Imported."
    assert at.code[0].value.startswith("two.jsonl (jsonl, pairs): 2 new pairs")
    with app_workspace.released() as store:
        assert store.counts(TOY.project_id)["pairs"] == 5


def test_an_import_error_names_the_line_and_writes_nothing(app_workspace: AppWorkspace) -> None:
    at = admin_on("ui/pages/import_data.py")
    content = b'{"prompt": "ok", "response_a": "a", "response_b": "b"}\n{"prompt": "bad"\n'
    at.file_uploader(key="import_upload").upload("broken.jsonl", content)
    at = click(at, "Import")
    assert at.error[0].value.startswith("Nothing was imported. broken.jsonl, line 2")
    with app_workspace.released() as store:
        assert store.counts(TOY.project_id)["pairs"] == 3


def test_export_writes_a_snapshot_and_lists_its_files(app_workspace: AppWorkspace) -> None:
    rater = signed_in_rater(app(), app_workspace.tokens["r1"])
    click(click(rater, "Left is better"), "Submit")
    at = admin_on("ui/pages/export_data.py")
    at = click(at, "Export snapshot")
    assert not at.error
    assert not at.download_button, "no bytes at a URL that works without a session"
    assert at.dataframe[0].value["file"].tolist() == [
        "BIAS_CARD.md",
        "bias_card.json",
        "judgments.parquet",
        MANIFEST_FILE,
        "pairs.parquet",
    ]
    (snapshot,) = app_workspace.workspace.snapshots.iterdir()
    preferences, judgments, manifest = read_snapshot(snapshot)
    assert (preferences.height, judgments.height) == (1, 1)
    assert manifest.options["ties"] == "drop"


def test_the_export_page_keeps_probe_pairs_out_unless_the_box_is_ticked(
    app_workspace: AppWorkspace,
) -> None:
    from datetime import UTC, datetime

    from data import frames
    from data.export import read_probes

    probe = frames.conform(
        pl.DataFrame(
            {
                "pair_id": ["t000"],
                "prompt": ["Question 0?"],
                "response_a": ["Great question! Answer A to 0."],
                "response_b": ["Answer B to 0."],
                "gold": ["b"],
                "probe_kind": ["flattery"],
                "probe_of": ["p000"],
            }
        ),
        frames.PAIRS,
    )
    votes = pl.DataFrame(
        {
            "submission_id": ["s0", "s1"],
            "pair_id": ["p000", "t000"],
            "rater_id": ["r1", "r1"],
            "choice": ["b", "a"],
            "created_at": [datetime(2025, 3, 1, tzinfo=UTC)] * 2,
        }
    )
    with app_workspace.released() as store:
        store.import_frames(probe, votes, TOY.project_id)

    at = admin_on("ui/pages/export_data.py")
    assert at.checkbox(key="export_with_probes").value is False
    at = click(at, "Export snapshot")
    assert not at.error
    (plain,) = app_workspace.workspace.snapshots.iterdir()
    preferences, _, manifest = read_snapshot(plain)
    assert preferences["pair_id"].to_list() == ["p000"]
    assert manifest.options["with_probes"] is False
    assert read_probes(plain)["pair_id"].to_list() == ["t000"]  # r1's vote on it is marked

    at.checkbox(key="export_with_probes").check()
    at = click(at, "Export snapshot")
    assert not at.error
    (asked,) = set(app_workspace.workspace.snapshots.iterdir()) - {plain}
    preferences, _, manifest = read_snapshot(asked)
    assert sorted(preferences["pair_id"]) == ["p000", "t000"]
    assert manifest.options["with_probes"] is True
    assert "probes.parquet" in at.dataframe[0].value["file"].tolist()


def test_an_empty_workspace_starts_with_creating_a_project(
    app_workspace: AppWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "empty"))
    at = signed_in_admin(app())
    assert "No project yet" in at.info[0].value
    assert not at.sidebar.selectbox, "nothing to pick yet"
    at = at.switch_page("ui/pages/project.py").run()
    at.text_input(key="project_new_id").input("first")
    at = click(at, "Create project")
    assert at.sidebar.selectbox[0].value == "first"
    assert at.subheader[0].value == "first", "its settings are shown (named by its id)"
