"""The demo as a newcomer meets it: ``intentgap demo``, then the app, signed in as admin.

The simulated pool has voted already, so the audit pages are full before anyone labels.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import cli
from data.workspace import ENV_VAR, Workspace
from tests.ui.conftest import app, click, texts
from ui import auth, cache


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """A workspace made by ``intentgap demo`` with no admin password configured."""
    monkeypatch.delenv(auth.ADMIN_PASSWORD_ENV, raising=False)
    workspace = Workspace(tmp_path / "workspace")
    assert cli.main(["demo", "--workspace", str(workspace.root)]) == 0
    monkeypatch.setenv(ENV_VAR, str(workspace.root))
    yield workspace
    cache.open_store.clear()


def admin_in(demo: Workspace) -> AppTest:
    at = app().run()
    at.text_input(key="signin_password").input(demo.admin_password_file.read_text())
    return click(at, "Sign in as admin")


def test_the_admin_finds_flagged_raters_with_evidence_before_anyone_votes(
    demo: Workspace,
) -> None:
    at = admin_in(demo).switch_page("ui/pages/raters_audit.py").run()
    assert not at.exception
    at = at.selectbox(key="raters_audit_rater").set_value("sim-dev").run()
    assert "picked the response shown on the left" in texts(at)
    at = at.selectbox(key="raters_audit_rater").set_value("sim-eve").run()
    assert "favours the longer response" in texts(at)
    swayed = "picked the response with the flattery edit"
    at = at.selectbox(key="raters_audit_rater").set_value("sim-ivy").run()
    assert f"sim-ivy {swayed}" in texts(at), "the rater swayed on the demo's probe pairs"
    at = at.selectbox(key="raters_audit_rater").set_value("sim-ana").run()
    assert swayed not in texts(at), "a careful rater is not"


def test_the_admin_finds_a_model_leaderboard_before_anyone_votes(demo: Workspace) -> None:
    at = admin_in(demo).switch_page("ui/pages/leaderboard.py").run()
    assert not at.exception
    board = at.dataframe[0].value
    assert len(board) >= 4, "every fictional model of the demo is ranked"


def test_the_demo_raters_still_have_every_pair_to_label(demo: Workspace) -> None:
    at = click(app().run(), "Sign in as demo-rater-1")
    assert not at.exception
    assert "0 judged" in str(at.get("progress")[0].proto.text)
