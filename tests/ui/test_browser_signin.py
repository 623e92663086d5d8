"""Signing in, in a real browser, on the app as ``intentgap serve`` serves it (``server.py``).

A link signs in once and the browser keeps an HttpOnly session cookie instead, so a reload
keeps the rater signed in while Back after Sign out, the history and the old link sign nobody
in; a reset ends a session that is open in another browser; failed sign-ins are throttled and
logged without their secret. The server owns the DuckDB file, so results are read after it
stops.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from data.store import Store
from data.workspace import Workspace
from tests.conftest import toy_pairs
from tests.ui.conftest import ADMIN_PASSWORD, TOY
from tests.ui.serving import Logged, serve
from tests.ui.test_browser import browser

__all__ = ["browser"]  # the chromium fixture, shared with test_browser.py

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

COOKIE = "intentgap_session"
#: Milliseconds to wait for the page: two shared cores make the first run of a page slow.
WAIT = 30_000


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Logged]:
    """The toy project (3 pairs) and raters r1, r2, served by ``intentgap serve``
    (``server.py``); the server's output goes to ``server.log`` beside the workspace."""
    workspace = Workspace(tmp_path / "workspace").create()
    with Store(workspace.database) as store:
        store.save_project(TOY)
        store.import_frames(toy_pairs(3), None, TOY.project_id)
        tokens = {rater: store.add_rater(rater) for rater in ("r1", "r2")}
    with serve(workspace, tokens, tmp_path / "server.log", how="intentgap") as app:
        yield app


def server_log(served: Logged) -> str:
    served.stop()
    return served.log_text()


def on_the_sign_in_page(page: Page) -> None:
    expect(page.get_by_role("button", name="Sign in as admin")).to_be_visible(timeout=WAIT)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0, timeout=WAIT)


def on_the_label_page(page: Page) -> None:
    expect(page.get_by_text(re.compile(r"\d+ judged"))).to_be_visible(timeout=WAIT)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=WAIT)


def session_cookies(page: Page) -> list[dict[str, object]]:
    return [dict(c) for c in page.context.cookies() if c["name"] == COOKIE]


def sign_in_as_admin(page: Page, url: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("Admin password").fill(password)
    page.get_by_role("button", name="Sign in as admin").click()


def test_a_reload_keeps_the_rater_while_back_after_sign_out_signs_nobody_in(
    browser: Browser, served: Logged
) -> None:
    page = browser.new_page()
    link = f"{served.url}/?token={served.tokens['r1']}"
    page.goto(link)
    on_the_label_page(page)
    assert "token=" not in page.url
    (cookie,) = session_cookies(page)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert COOKIE not in page.evaluate("document.cookie"), "no script can read the session"

    page.reload()
    on_the_label_page(page)

    page.get_by_role("button", name="Sign out").click()
    on_the_sign_in_page(page)
    assert session_cookies(page) == []
    visited = []
    while page.go_back() is not None:  # every page in this tab's history
        visited.append(page.url)
        on_the_sign_in_page(page)
    assert visited and not [url for url in visited if "token=" in url], "the link left no trace"
    # The link itself, from a chat, an email or the address bar's memory: used up.
    page.goto(link)
    on_the_sign_in_page(page)
    expect(page.get_by_text("This sign-in link is not valid")).to_be_visible(timeout=WAIT)


def test_a_reset_ends_a_session_open_elsewhere_and_its_next_submit_is_refused(
    browser: Browser, served: Logged
) -> None:
    rater = browser.new_context().new_page()
    rater.goto(f"{served.url}/?token={served.tokens['r1']}")
    on_the_label_page(rater)
    rater.get_by_role("button", name=re.compile(r"^Left is better")).click()

    admin = browser.new_context().new_page()
    sign_in_as_admin(admin, served.url, ADMIN_PASSWORD)
    admin.get_by_role("link", name="Raters", exact=True).click()
    admin.get_by_role("button", name="Reset link").click()  # r1, the first rater
    expect(admin.get_by_text("r1 is signed out everywhere")).to_be_visible(timeout=WAIT)

    rater.get_by_role("button", name=re.compile(r"^Submit")).click()
    expect(rater.get_by_text("Not saved. Your session has ended")).to_be_visible(timeout=WAIT)
    on_the_sign_in_page(rater)
    rater.reload()
    on_the_sign_in_page(rater)
    assert served.votes().is_empty()


def test_failed_sign_ins_are_throttled_and_logged_without_the_secret(
    browser: Browser, served: Logged
) -> None:
    page = browser.new_page()
    guesses = [f"guess-{k}-hunter2" for k in range(5)]
    for guess in guesses:
        sign_in_as_admin(page, served.url, guess)
        expect(page.get_by_text("Wrong admin password.")).to_be_visible(timeout=WAIT)
    sign_in_as_admin(page, served.url, ADMIN_PASSWORD)
    expect(page.get_by_text(re.compile(r"^Too many failed sign-ins"))).to_be_visible(timeout=WAIT)
    on_the_sign_in_page(page)
    page.goto(f"{served.url}/?token={served.tokens['r1']}")
    expect(page.get_by_text(re.compile(r"^Too many failed sign-ins"))).to_be_visible(timeout=WAIT)
    on_the_sign_in_page(page)

    log = server_log(served)
    failed = [line for line in log.splitlines() if "sign-in failed" in line]
    refused = [line for line in log.splitlines() if "sign-in refused" in line]
    assert len(failed) == len(guesses), "one line per failure"
    assert len(refused) == 2
    for secret in [*guesses, ADMIN_PASSWORD, served.tokens["r1"]]:
        assert secret not in log
