"""Two `intentgap serve` replicas on one PostgreSQL database, in a real browser.

Each rater signs in and votes on a replica of their own, with the keyboard; both replicas
hand out pairs from the one database (no rater is given a pair the other replica gave them,
no pair past its overlap), an admin on either sees every vote, and `intentgap audit` reads
the same database while both serve.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from data.store import Project, Store
from data.workspace import DATABASE_ENV_VAR, Workspace
from tests import postgres
from tests.conftest import run_intentgap, toy_pairs
from tests.ui.serving import Logged, open_page, press_until, serve, settled, sign_in_as_admin
from tests.ui.test_browser import browser  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

PROJECT = Project("shared", "Shared project", overlap_k=1, gold_rate=0.0)


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[tuple[str, Logged, Logged]]:
    """The database URL and two servers on it; 4 pairs, each wanted once; raters r1, r2."""
    with postgres.fresh_database() as url:
        with Store(url) as store:
            store.save_project(PROJECT)
            store.import_frames(toy_pairs(4), None, PROJECT.project_id)
            tokens = {rater: store.add_rater(rater) for rater in ("r1", "r2")}
        workspace = Workspace(tmp_path / "workspace").create()
        with (
            serve(workspace, tokens, tmp_path / "a.log", "intentgap", url) as first,
            serve(workspace, tokens, tmp_path / "b.log", "intentgap", url) as second,
        ):
            yield url, first, second


def vote(browser: Browser, served: Logged, rater: str, times: int) -> Page:  # noqa: F811
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(f"{served.url}/?token={served.tokens[rater]}")
    expect(page.get_by_text("0 judged")).to_be_visible(timeout=30_000)  # a cold start
    for judged in range(times):
        settled(page)
        page.keyboard.press("1")
        expect(page.get_by_role("button", name=re.compile(r"^Submit"))).to_be_enabled()
        settled(page)
        press_until(page, "Enter", f"{judged + 1} judged")
    return page


def test_two_replicas_share_one_database(
    browser: Browser,  # noqa: F811
    replicas: tuple[str, Logged, Logged],
    tmp_path: Path,
) -> None:
    url, first, second = replicas
    vote(browser, first, "r1", 2)  # and the first replica shows r1 a third pair
    last = vote(browser, second, "r2", 1)
    # Four pairs, one vote wanted each: the second replica gave r2 the one left.
    expect(last.get_by_text("All done")).to_be_visible()
    with Store(url) as store:
        votes = store.judgments()
        assert votes.height == 3 and votes["pair_id"].n_unique() == 3
        assert sorted(votes["rater_id"].to_list()) == ["r1", "r1", "r2"]
        coverage = store.coverage(PROJECT.project_id)
        assert (coverage["n_done"] + coverage["n_open"] == 1).all()
    admin = browser.new_page()
    sign_in_as_admin(admin, second.url)
    open_page(admin, "Raters")
    for rater in ("r1", "r2"):  # both raters' votes, whichever replica took them
        expect(admin.get_by_text(rater, exact=True).first).to_be_attached()  # a grid cell
    audit = run_intentgap(
        "audit", "--json", "--n-boot", "20", "--workspace", str(tmp_path / "workspace"),
        env={DATABASE_ENV_VAR: url},
    )  # fmt: skip
    assert audit.returncode == 0, audit.stderr
    assert json.loads(audit.stdout)["summary"]["n_judgments"] == 3
