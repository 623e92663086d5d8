"""Hostile imported text in a real browser: nothing it holds is fetched, nothing runs.

A beacon (an HTTP server on 127.0.0.1 that counts requests) stands where every payload of
``tests/ui/hostile.py`` points. The payloads are imported as one file: as prompts, responses,
rationales, model names, categories and rater ids, and in the project's name, guidelines,
principles and flags. A rater labels every pair with the keyboard; an admin opens every page
that shows imported text (overview, project settings, agreement, raters audit with every
rater, disputed pairs with every pair, leaderboard). The beacon must count zero requests, the
browser must not even try one, and no dialog may open.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, Request, expect

from data.importers import import_file
from data.store import Project, Store
from data.workspace import Workspace
from tests.ui import hostile
from tests.ui.serving import (
    Logged,
    open_page,
    press_until,
    serve,
    settled,
    sign_in_as_admin,
)
from tests.ui.test_browser import browser  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


class Beacon(ThreadingHTTPServer):
    """Counts every request it gets (any method), and answers each with an empty 204."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        super().__init__(("127.0.0.1", 0), _Counted)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Counted(BaseHTTPRequestHandler):
    server: Beacon

    def _count(self) -> None:
        self.server.hits.append(f"{self.command} {self.path}")
        self.send_response(204)
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_OPTIONS = _count

    def log_message(self, format: str, *args: object) -> None:
        pass  # counted, not printed


@pytest.fixture
def beacon() -> Iterator[Beacon]:
    server = Beacon()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def hostile_rows(url: str) -> list[dict[str, str]]:
    """Every text payload once as a prompt or response (three per pair) and as a rationale;
    every name payload as a model, a category and a rater who votes on every pair."""
    texts, names = hostile.texts(url), hostile.names(url)
    raters = [*names, "plain-rater"]
    return [
        {
            "pair_id": f"h{i:02d}",
            "prompt": texts[3 * i],
            "response_a": texts[3 * i + 1],
            "response_b": texts[3 * i + 2],
            "model_a": names[i % len(names)],
            "model_b": names[(i + 1) % len(names)],
            "category": names[(i + 2) % len(names)],
            "rater_id": rater,
            "choice": ("a", "b", "tie")[(i + j) % 3],
            "rationale": texts[(i + j) % len(texts)],
        }
        for i in range(len(texts) // 3)
        for j, rater in enumerate(raters)
    ]


@pytest.fixture
def hostile_app(tmp_path: Path, beacon: Beacon) -> Iterator[Logged]:
    workspace = Workspace(tmp_path / "workspace").create()
    names = hostile.names(beacon.url)
    project = Project(
        "hostile",
        f"Hostile {names[0]}",
        guidelines="\n\n".join(hostile.texts(beacon.url)),
        principles=tuple(names),
        flags=tuple(names[:2]),
        overlap_k=10,  # the imported votes leave every pair open to the rater
        gold_rate=0.0,
        both_bad_allowed=True,
    )
    upload = tmp_path / "hostile.jsonl"
    upload.write_text("\n".join(json.dumps(row) for row in hostile_rows(beacon.url)))
    with Store(workspace.database) as store:
        store.save_project(project)
        import_file(store, upload, project.project_id)
        tokens = {"r1": store.add_rater("r1")}
    with serve(workspace, tokens, tmp_path / "server.log") as served:
        yield served


class Watched:
    """What a page tried that it must not: a request to the beacon, a dialog."""

    def __init__(self, page: Page, beacon: Beacon) -> None:
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        page.on("request", self._request)
        page.on("dialog", self._dialog)
        self.beacon = beacon

    def _request(self, request: Request) -> None:
        if request.url.startswith(self.beacon.url):
            self.requests.append(request.url)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


def label_every_pair(page: Page, n_pairs: int) -> None:
    submit = page.get_by_role("button", name=re.compile(r"^Submit"))
    for judged in range(n_pairs):
        expect(page.get_by_text(f"{judged} judged")).to_be_visible()
        settled(page)
        page.wait_for_timeout(300)  # let images, frames and scripts, if any, try their luck
        page.keyboard.press("1")
        expect(submit).to_be_enabled()
        settled(page)
        press_until(page, "Enter", f"{judged + 1} judged")
    expect(page.get_by_text("All done")).to_be_visible()


def choose(page: Page, label: str, option: str) -> None:
    """Pick ``option`` in the select box labelled ``label`` (typed, so long lists work)."""
    page.get_by_label(label, exact=True).click()
    page.keyboard.type(option)
    page.keyboard.press("Enter")


def test_hostile_imported_text_fetches_nothing_and_runs_nothing(
    browser: Browser,  # noqa: F811
    hostile_app: Logged,
    beacon: Beacon,
) -> None:
    n_pairs = len(hostile.texts(beacon.url)) // 3
    rater = browser.new_page(viewport={"width": 1366, "height": 900})
    watched_rater = Watched(rater, beacon)
    rater.goto(f"{hostile_app.url}/?token={hostile_app.tokens['r1']}")
    expect(rater.get_by_text("0 judged")).to_be_visible(timeout=30_000)  # a cold start
    label_every_pair(rater, n_pairs)
    open_page(rater, "Guidelines")
    expect(rater.get_by_text(f"![plain]({beacon.url}/plain)").first).to_be_visible()

    admin = browser.new_page(viewport={"width": 1366, "height": 900})
    watched_admin = Watched(admin, beacon)
    sign_in_as_admin(admin, hostile_app.url)
    expect(admin.get_by_text(f"Coverage: Hostile {hostile.names(beacon.url)[0]}")).to_be_visible()
    for title in ("Project settings", "Agreement", "Leaderboard"):
        open_page(admin, title)
        admin.wait_for_timeout(1000)
    open_page(admin, "Raters audit")
    for rater_id in [*hostile.names(beacon.url), "plain-rater"]:
        choose(admin, "Rater", rater_id)
        expect(admin.get_by_text(f"Blind spots of {rater_id}")).to_be_visible()
    open_page(admin, "Disputed pairs")
    for i in range(n_pairs):
        choose(admin, "Pair", f"h{i:02d}")
        expect(admin.get_by_role("heading", name=f"Pair h{i:02d}")).to_be_visible()
        if i == 1:  # its prompt is the plain image, shown as the text it is
            expect(admin.get_by_text(f"![plain]({beacon.url}/plain)").first).to_be_visible()
    admin.wait_for_timeout(1500)

    assert beacon.hits == []
    assert watched_rater.requests == watched_admin.requests == []
    assert watched_rater.dialogs == watched_admin.dialogs == []
    assert rater.evaluate("window.__xss") is None
