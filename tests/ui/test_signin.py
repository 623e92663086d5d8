"""Who gets in, and what each role sees.

A link signs in once and opens a session in the store; every page run checks that session,
so Back to an old link, a reset or a deactivation leaves nobody signed in who should not be.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from data.store import Project, Store
from data.workspace import Workspace
from tests.conftest import toy_pairs
from tests.ui.conftest import (
    ADMIN_PASSWORD,
    REPO,
    TOY,
    AppWorkspace,
    app,
    click,
    signed_in_admin,
    signed_in_rater,
    texts,
)
from ui import session


@pytest.fixture(autouse=True)
def fresh_throttle() -> Iterator[None]:
    """The throttle is the process's (one for every session): each test starts clean."""
    session.throttle.clear()
    yield
    session.throttle.clear()


def sign_out(at: AppTest) -> AppTest:
    return next(b for b in at.sidebar.button if b.label == "Sign out").click().run()


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
    assert TOY.name in texts(at), "raters land on the label page"
    assert "token" not in at.query_params
    assert [b.label for b in at.sidebar.button] == ["Sign out"]


def test_a_link_signs_in_once_so_back_after_sign_out_signs_nobody_in(
    app_workspace: AppWorkspace,
) -> None:
    token = app_workspace.tokens["r1"]
    at = sign_out(signed_in_rater(app(), token))
    assert at.title[0].value == "Sign in"
    # Back to the page the link opened, or the link again from the history: refused.
    again = signed_in_rater(app(), token)
    assert again.title[0].value == "Sign in"
    assert "not valid" in again.error[0].value
    assert "auth_rater_id" not in again.session_state


def test_without_the_cookie_routes_the_page_says_a_reload_signs_out(
    app_workspace: AppWorkspace,
) -> None:
    at = signed_in_rater(app(), app_workspace.tokens["r1"])
    assert "Reloading this page signs you out" in at.sidebar.caption[0].value


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
    assert TOY.name in texts(at)


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
    at = sign_out(signed_in_rater(app(), app_workspace.tokens["r1"]))
    assert at.title[0].value == "Sign in"
    assert "auth_rater_id" not in at.session_state
    assert not at.error, "signing out is no error"


# -- sessions that end elsewhere ----------------------------------------------------------------


def reset_link_as_admin(rater: str) -> AppTest:
    """The admin resets a rater's link on the Raters page (in another browser)."""
    admin = signed_in_admin(app()).switch_page("ui/pages/raters.py").run()
    admin = admin.selectbox(key="raters_manage_id").set_value(rater).run()
    return click(admin, "Reset link")


def test_a_reset_ends_an_open_session_and_its_next_vote_is_refused(
    app_workspace: AppWorkspace,
) -> None:
    rater = signed_in_rater(app(), app_workspace.tokens["r1"])
    rater = click(rater, "Left is better")
    assert "signed out everywhere" in reset_link_as_admin("r1").success[0].value
    rater = click(rater, "Submit")
    assert rater.title[0].value == "Sign in"
    assert rater.error[0].value.startswith("Not saved. Your session has ended")
    with app_workspace.released() as store:
        assert store.judgments().is_empty()


def test_a_deactivation_ends_an_open_session_at_its_next_step(
    app_workspace: AppWorkspace,
) -> None:
    rater = signed_in_rater(app(), app_workspace.tokens["r2"])
    admin = signed_in_admin(app()).switch_page("ui/pages/raters.py").run()
    admin = admin.selectbox(key="raters_manage_id").set_value("r2").run()
    click(admin, "Deactivate")
    rater = click(rater, "Left is better")
    assert rater.title[0].value == "Sign in"
    assert "Your session has ended" in rater.error[0].value


# -- failed sign-ins ------------------------------------------------------------------------------


def test_failed_sign_ins_are_throttled_and_logged_without_the_secret(
    app_workspace: AppWorkspace, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="intentgap.auth")
    guesses = [f"guess-{k}" for k in range(5)]
    at = app().run()
    for guess in guesses:
        at.text_input(key="signin_password").input(guess)
        at = click(at, "Sign in as admin")
        assert at.error[0].value == "Wrong admin password."
    at.text_input(key="signin_password").input(ADMIN_PASSWORD)
    at = click(at, "Sign in as admin")
    assert at.title[0].value == "Sign in", "refused even with the right password, for now"
    assert at.error[0].value.startswith("Too many failed sign-ins. Wait 30 seconds")
    at.text_input(key="signin_token").input(app_workspace.tokens["r1"])
    assert click(at, "Sign in").title[0].value == "Sign in", "a right token too"

    lines = [r.getMessage() for r in caplog.records if r.name == "intentgap.auth"]
    assert len([line for line in lines if line.startswith("sign-in failed")]) == len(guesses)
    assert len([line for line in lines if line.startswith("sign-in refused")]) == 2
    logged = "\n".join(lines)
    for secret in [*guesses, ADMIN_PASSWORD, app_workspace.tokens["r1"]]:
        assert secret not in logged
    with app_workspace.released() as store:
        assert store.rater_for_token(app_workspace.tokens["r1"]) == "r1", "the link is unused"


def test_wrong_tokens_are_throttled_too(app_workspace: AppWorkspace) -> None:
    at = app().run()
    for k in range(5):
        at.text_input(key="signin_token").input(f"wrong-{k}")
        at = click(at, "Sign in")
    at = signed_in_rater(at, app_workspace.tokens["r1"])
    assert at.title[0].value == "Sign in"
    assert "Too many failed sign-ins" in at.error[0].value


# -- the demo -------------------------------------------------------------------------------------


def demo_workspace(root: Path) -> Workspace:
    """A workspace holding only a demo project (two pairs) and its raters."""
    workspace = Workspace(root).create()
    with Store(workspace.database) as store:
        store.save_project(Project("demo", "Demo project", is_demo=True, gold_rate=0.0))
        store.import_frames(toy_pairs(2), None, "demo")
        for rater in ("demo-rater-1", "demo-rater-2"):
            store.add_rater(rater, only_project="demo")
    return workspace


def test_a_demo_only_workspace_offers_its_raters_on_the_sign_in_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTENTGAP_HOME", str(demo_workspace(tmp_path / "demo").root))
    monkeypatch.setenv("INTENTGAP_ADMIN_PASSWORD", ADMIN_PASSWORD)
    at = app().run()
    shown = texts(at)
    assert "Demo: how to sign in" in shown
    assert "the environment variable INTENTGAP_ADMIN_PASSWORD" in shown
    assert "token=" not in shown, "no link, no token: a button signs the demo rater in"
    at = click(at, "Sign in as demo-rater-1")
    assert "Demo project" in texts(at)
    assert at.sidebar.selectbox[0].options == ["Demo project"]


def test_demo_raters_are_not_offered_where_real_projects_are(
    app_workspace: AppWorkspace,
) -> None:
    with Store(app_workspace.workspace.database) as store:
        store.save_project(Project("demo", "Demo", is_demo=True))
        store.add_rater("demo-rater-1", only_project="demo")
    at = app().run()
    assert "Demo" not in texts(at)
    assert [b.label for b in at.button] == ["Sign in", "Sign in as admin"]


def test_a_demo_rater_never_sees_a_real_project(app_workspace: AppWorkspace) -> None:
    with Store(app_workspace.workspace.database) as store:
        store.save_project(Project("demo", "Demo", is_demo=True))
        store.import_frames(toy_pairs(1).with_columns(pair_id=pl.lit("demo-1")), None, "demo")
        token = store.add_rater("demo-rater-1", only_project="demo")
    at = signed_in_rater(app(), token)
    assert at.sidebar.selectbox[0].options == ["Demo"]


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
