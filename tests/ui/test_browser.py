"""The real app in a real browser: keyboard labeling, refused admin URLs, escaped output.

Each test serves ``app.py`` with ``streamlit run`` on a temporary workspace and drives
Debian's chromium through Playwright. The server owns the DuckDB file, so results are read
after it stops.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from data.store import Project, Store
from data.workspace import ENV_VAR, Workspace
from tests.conftest import toy_pairs
from tests.ui.conftest import ADMIN_PASSWORD, REPO, TOY
from ui import auth, render

# A loaded machine (CI shares its cores) may take seconds to draw a page, never minutes: every
# browser test waits up to 20 s for what it expects (Playwright's default is 5 s).
expect.set_options(timeout=20_000)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCRIPT = "<script>window.__xss=1</script>"
IMAGE = '<img src=x onerror="window.__xss=2">'

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


@dataclass
class Served:
    url: str
    workspace: Workspace
    tokens: dict[str, str]
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def votes(self) -> pl.DataFrame:
        """Every stored vote, read after the server let go of the database."""
        self.stop()
        with Store(self.workspace.database) as store:
            return store.judgments()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(served: Served, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {served.process.returncode}")
        try:
            with urllib.request.urlopen(f"{served.url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(f"the app did not answer on {served.url} within {timeout} s")


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The toy project (3 pairs) and an XSS project (1 pair), raters r1 and r2, served."""
    workspace = Workspace(tmp_path / "workspace").create()
    with Store(workspace.database) as store:
        store.save_project(TOY)
        store.import_frames(toy_pairs(3), None, TOY.project_id)
        store.save_project(Project("xss", "XSS"))
        xss_pair = {"pair_id": ["x1"], "prompt": [SCRIPT], "response_a": [SCRIPT]}
        store.import_frames(pl.DataFrame(xss_pair | {"response_b": [IMAGE]}), None, "xss")
        tokens = {rater: store.add_rater(rater) for rater in ("r1", "r2")}
    port = free_port()
    env = {**os.environ, ENV_VAR: str(workspace.root), auth.ADMIN_PASSWORD_ENV: ADMIN_PASSWORD}
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    app = Served(f"http://127.0.0.1:{port}", workspace, tokens, process)
    try:
        wait_until_up(app)
        yield app
    finally:
        app.stop()


def settled(page: Page) -> None:
    """Wait until the app's script has finished its run: until then the page may still hold
    the previous run's elements (two Submit buttons, one of them stale)."""
    expect(
        page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')
    ).to_have_count(1)
    page.wait_for_timeout(200)  # the last deltas of the run are drawn


def press_until(page: Page, key: str, shown: str, tries: int = 3) -> None:
    """Press ``key`` until ``shown`` appears. A key pressed while Streamlit is still binding
    the button's shortcut (seconds, on a busy machine) is lost; pressing again is harmless
    here because every key this is used for does nothing twice."""
    for _ in range(tries - 1):
        page.keyboard.press(key)
        try:
            expect(page.get_by_text(shown)).to_be_visible(timeout=5_000)
            return
        except AssertionError:
            continue
    page.keyboard.press(key)
    expect(page.get_by_text(shown)).to_be_visible()


def progress(page: Page, judged: int, to_go: int) -> None:
    expect(page.get_by_text(f"{judged} judged · {to_go} to go")).to_be_visible()


def test_a_rater_labels_three_pairs_with_the_keyboard_only(
    browser: Browser, served: Served
) -> None:
    page = browser.new_page()
    page.goto(f"{served.url}/?token={served.tokens['r1']}")
    progress(page, 0, 3)
    assert "token=" not in page.url, "the token leaves the address bar"
    submit = page.get_by_role("button", name=re.compile(r"^Submit"))
    keys = ["1", "2", "0"]
    for judged, key in enumerate(keys):
        settled(page)  # a key pressed mid-run may reach the previous run's stale buttons
        expect(submit).to_be_disabled()
        page.keyboard.press(key)
        expect(submit).to_be_enabled()
        settled(page)
        page.keyboard.press("Enter")
        progress(page, judged + 1, len(keys) - judged - 1)
    expect(page.get_by_text("All done")).to_be_visible()

    votes = served.votes()
    assert votes.height == 3
    expected = [
        render.choice_for(position, shown_left)
        for position, shown_left in zip(["left", "right", "tie"], votes["shown_left"], strict=True)
    ]
    assert votes["choice"].to_list() == expected
    assert votes["rater_id"].to_list() == ["r1"] * 3
    assert votes["seconds"].is_not_null().all()


def test_a_double_click_on_submit_saves_one_vote(browser: Browser, served: Served) -> None:
    page = browser.new_page()
    page.goto(f"{served.url}/?token={served.tokens['r1']}")
    progress(page, 0, 3)
    settled(page)
    page.get_by_role("button", name=re.compile(r"^Left is better")).click()
    submit = page.get_by_role("button", name=re.compile(r"^Submit"))
    expect(submit).to_be_enabled()
    settled(page)
    submit.dblclick()
    progress(page, 1, 2)
    page.wait_for_timeout(1500)  # let a second submission, if any, land before counting
    progress(page, 1, 2)
    assert served.votes().height == 1


def test_digits_and_enter_typed_in_the_rationale_stay_text(
    browser: Browser, served: Served
) -> None:
    page = browser.new_page()
    page.goto(f"{served.url}/?token={served.tokens['r1']}")
    progress(page, 0, 3)
    submit = page.get_by_role("button", name=re.compile(r"^Submit"))
    rationale = page.get_by_label("Rationale (optional)")
    rationale.click()
    page.keyboard.type("1 beats 2, not 0")
    page.keyboard.press("Enter")
    page.keyboard.type("really")
    page.get_by_role("heading", name="Prompt").click()  # leave the box: its text is sent
    # A negative check needs any rerun a shortcut would have started to be over.
    page.wait_for_timeout(1500)
    expect(submit).to_be_disabled()  # no digit chose a side
    progress(page, 0, 3)  # and Enter submitted nothing
    settled(page)
    page.keyboard.press("2")
    expect(submit).to_be_enabled()
    settled(page)
    page.keyboard.press("Enter")
    progress(page, 1, 2)

    vote = served.votes().row(0, named=True)
    assert vote["rationale"] == "1 beats 2, not 0\nreally"
    assert vote["choice"] == render.sides(vote["shown_left"])[1]


def test_a_rater_is_refused_an_admin_page_url(browser: Browser, served: Served) -> None:
    page = browser.new_page()
    page.goto(f"{served.url}/project?token={served.tokens['r1']}")
    expect(page.get_by_text("Page not found")).to_be_visible()
    progress(page, 0, 3)  # signed in, and sent to their own page instead
    expect(page.get_by_role("heading", name="Project settings")).to_have_count(0)
    expect(page.get_by_role("button", name="Save settings")).to_have_count(0)
    expect(page.get_by_role("link", name="Raters")).to_have_count(0)

    page.goto(f"{served.url}/raters")  # a new session: signed out
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("button", name="Create rater")).to_have_count(0)


def test_model_output_with_html_shows_as_text_and_runs_nothing(
    browser: Browser, served: Served
) -> None:
    page = browser.new_page()
    page.goto(f"{served.url}/?token={served.tokens['r2']}")
    progress(page, 0, 3)
    page.get_by_role("combobox").first.click()  # the sidebar's project picker
    page.get_by_role("option", name="XSS").click()
    progress(page, 0, 1)
    expect(page.get_by_text(SCRIPT)).to_have_count(2)  # the prompt and one response
    expect(page.get_by_text(IMAGE)).to_have_count(1)
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src=x]").count() == 0
