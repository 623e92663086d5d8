"""Who gets in, and what each role sees."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from data.store import Project, Store
from tests.ui.conftest import (
    REPO,
    TOY,
    AppWorkspace,
    app,
    click,
    signed_in_admin,
    signed_in_rater,
    texts,
)


def test_signed_out_sees_only_the_sign_in_page(app_workspace: AppWorkspace) -> None:
    at = app().run()
    assert not at.exception
    assert at.title[0].value == "Sign in"
    assert [b.label for b in at.button] == ["Sign in", "Sign in as admin"]
    assert not at.sidebar.selectbox, "no project picker before signing in"


def test_a_personal_link_signs_the_rater_in_and_leaves_the_url(
    app_workspace: AppWorkspace,
) -> None:
    at = signed_in_rater(app(), app_workspace.tokens["r1"])
    assert not at.exception
    assert at.title[0].value == TOY.name, "raters land on the label page"
    assert "token" not in at.query_params
    assert [b.label for b in at.sidebar.button] == ["Sign out"]


def test_a_bad_link_is_refused(app_workspace: AppWorkspace) -> None:
    at = signed_in_rater(app(), "not-a-token")
    assert at.title[0].value == "Sign in"
    assert "not valid" in at.error[0].value
    assert "token" not in at.query_params


def test_a_deactivated_raters_link_is_refused(app_workspace: AppWorkspace) -> None:
    with Store(app_workspace.workspace.database) as store:
        store.set_rater_active("r2", False)
    at = signed_in_rater(app(), app_workspace.tokens["r2"])
    assert at.title[0].value == "Sign in"
    assert at.error


@pytest.mark.parametrize("pasted", ["token", "link"])
def test_a_rater_can_paste_the_token_or_the_whole_link(
    app_workspace: AppWorkspace, pasted: str
) -> None:
    token = app_workspace.tokens["r1"]
    at = app().run()
    at.text_input(key="signin_token").input(
        token if pasted == "token" else f"http://example.org:8501/?token={token}"
    )
    at = click(at, "Sign in")
    assert not at.error
    assert at.title[0].value == TOY.name


def test_a_wrong_token_typed_in_is_refused(app_workspace: AppWorkspace) -> None:
    at = app().run()
    at.text_input(key="signin_token").input("guess")
    at = click(at, "Sign in")
    assert at.title[0].value == "Sign in"
    assert "does not sign anyone in" in at.error[0].value


def test_wrong_admin_password_is_refused(app_workspace: AppWorkspace) -> None:
    at = app().run()
    at.text_input(key="signin_password").input("hunter2")
    at = click(at, "Sign in as admin")
    assert at.title[0].value == "Sign in"
    assert at.error[0].value == "Wrong admin password."


def test_right_admin_password_lands_on_the_overview(app_workspace: AppWorkspace) -> None:
    at = signed_in_admin(app())
    assert not at.exception
    assert at.title[0].value == "Overview"
    assert at.sidebar.selectbox[0].label == "Project"
    assert at.sidebar.selectbox[0].value == TOY.project_id


def test_the_admin_password_file_of_intentgap_demo_works_without_the_env_var(
    app_workspace: AppWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INTENTGAP_ADMIN_PASSWORD")
    app_workspace.workspace.admin_password_file.write_text("from-the-file\n")
    at = app().run()
    at.text_input(key="signin_password").input("from-the-file")
    assert click(at, "Sign in as admin").title[0].value == "Overview"


def test_without_any_admin_password_admin_sign_in_is_disabled(
    app_workspace: AppWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INTENTGAP_ADMIN_PASSWORD")
    at = app().run()
    admin_button = next(b for b in at.button if b.label == "Sign in as admin")
    assert admin_button.disabled
    assert "No admin password is set" in texts(at)


def test_sign_out_forgets_the_session(app_workspace: AppWorkspace) -> None:
    at = signed_in_rater(app(), app_workspace.tokens["r1"])
    at = at.sidebar.button[0].click().run()
    assert at.title[0].value == "Sign in"
    assert "auth_rater_id" not in at.session_state


def test_a_demo_project_shows_how_to_sign_in(app_workspace: AppWorkspace) -> None:
    workspace = app_workspace.workspace
    with Store(workspace.database) as store:
        store.save_project(Project("demo", "Demo", is_demo=True))
    workspace.demo_raters_file.write_text(json.dumps({"r1": app_workspace.tokens["r1"]}))
    at = app().run()
    shown = texts(at)
    assert "Demo: how to sign in" in shown
    assert "the environment variable INTENTGAP_ADMIN_PASSWORD" in shown
    assert f"http://localhost:8501/?token={app_workspace.tokens['r1']}" in shown


def test_no_url_parameter_but_the_token_names_a_rater(app_workspace: AppWorkspace) -> None:
    at = app()
    at.query_params["rater_id"] = "r1"
    at.query_params["role"] = "admin"
    at.run()
    assert at.title[0].value == "Sign in"
    assert "auth_role" not in at.session_state


def test_a_database_held_by_another_process_gives_a_plain_error(
    app_workspace: AppWorkspace,
) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from data.store import Store;"
            f" s = Store({str(app_workspace.workspace.database)!r}); print('ready', flush=True);"
            " sys.stdin.read()",
        ],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"ready\n"
        at = app().run()
    finally:
        holder.communicate(b"")
    assert not at.exception
    assert "is in use by another process" in at.error[0].value
    assert not at.title, "nothing else is drawn"
