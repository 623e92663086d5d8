"""The app as ``intentgap serve`` (and so ``make run``) serves it, probed like an attacker would.

Every response forbids framing; the metrics endpoint is closed; the browser fetches nothing
from any host but the app's own (every request is routed, and any other host refused, so the
pages are also proven to work offline); a page error shows a reference, never a traceback,
and the server log has the traceback under that reference; an exported
snapshot has no URL that serves it without a session; the log holds no file-watcher noise.
"""

from __future__ import annotations

import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect
from streamlit.runtime.memory_media_file_storage import (
    _calculate_file_id,
    get_extension_for_mimetype,
)

from data.store import Project, Store
from data.workspace import Workspace
from labeling.simulate import rater_pool, simulate_pairs, simulate_votes
from tests.ui.serving import Logged, open_page, serve, settled, sign_in_as_admin
from tests.ui.test_browser import browser  # noqa: F401  (the fixture)
from ui.hardening import SECURITY_HEADERS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

ADMIN_PAGES = [
    "Overview",
    "Project settings",
    "Raters",
    "Import",
    "Export",
    "Agreement",
    "Raters audit",
    "Disputed pairs",
    "Leaderboard",
    "Train",
]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Logged]:
    """``intentgap serve`` on a project of 60 simulated pairs with 3 votes each."""
    workspace = Workspace(tmp_path / "workspace").create()
    pairs = simulate_pairs(60, seed=2, mean_chars=120)
    votes = simulate_votes(pairs, rater_pool(4, seed=2), votes_per_pair=3, seed=2)
    with Store(workspace.database) as store:
        store.save_project(Project("sim", "Simulated", overlap_k=3, gold_rate=0.0))
        store.import_frames(pairs, votes, "sim")
    with serve(workspace, {}, tmp_path / "server.log", how="intentgap") as app:
        yield app


def get(url: str) -> tuple[int, Message]:
    """A plain HTTP client: no cookie, no session. The status and the headers."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.headers
    except urllib.error.HTTPError as refused:
        return refused.code, refused.headers


class Hosts:
    """Routes every request of a page: the app's own host passes, any other is refused and
    written down."""

    def __init__(self, page: Page, own: str) -> None:
        self.own = own
        self.elsewhere: list[str] = []
        self.paths: list[str] = []
        page.route("**/*", self._route)

    def _route(self, route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in ("data", "blob") or url.netloc == self.own:
            self.paths.append(url.path)
            route.continue_()
        else:
            self.elsewhere.append(route.request.url)
            route.abort()


def test_every_response_forbids_framing_and_the_metrics_are_closed(served: Logged) -> None:
    for path in ("/", "/_stcore/health", "/overview"):
        status, headers = get(served.url + path)
        assert status == 200, path
        assert {name: headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
    assert "frame-ancestors 'none'" in SECURITY_HEADERS["Content-Security-Policy"]
    assert get(served.url + "/_stcore/metrics")[0] == 404


class _Framing(BaseHTTPRequestHandler):
    """Another site that puts the app in a frame."""

    app_url = ""

    def do_GET(self) -> None:
        body = f'<iframe id="app" src="{self.app_url}/" width="800" height="600"></iframe>'
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_another_site_cannot_show_the_app_in_a_frame(
    browser: Browser,  # noqa: F811
    served: Logged,
) -> None:
    handler = type("Framing", (_Framing,), {"app_url": served.url})
    other_site = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=other_site.serve_forever, daemon=True).start()
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{other_site.server_address[1]}/")
        page.wait_for_timeout(3000)
        framed = [frame for frame in page.frames if frame != page.main_frame]
        assert framed, "the frame is there"
        assert all(frame.locator('[data-testid="stApp"]').count() == 0 for frame in framed)
    finally:
        other_site.shutdown()
        other_site.server_close()


def test_the_pages_load_nothing_from_elsewhere_and_work_offline(
    browser: Browser,  # noqa: F811
    served: Logged,
) -> None:
    page = browser.new_page()
    hosts = Hosts(page, urlsplit(served.url).netloc)
    sign_in_as_admin(page, served.url)
    for title in ADMIN_PAGES:
        open_page(page, title)
        settled(page)
    expect(page.get_by_text("Something went wrong")).to_have_count(0)
    assert hosts.elsewhere == []


def test_an_exported_snapshot_has_no_url_that_works_without_a_session(
    browser: Browser,  # noqa: F811
    served: Logged,
) -> None:
    page = browser.new_page()
    hosts = Hosts(page, urlsplit(served.url).netloc)
    sign_in_as_admin(page, served.url)
    open_page(page, "Export")
    page.get_by_role("button", name="Export snapshot").click()
    expect(page.get_by_text("Snapshot written on the server")).to_be_visible()
    settled(page)
    expect(page.get_by_test_id("stDownloadButton")).to_have_count(0)
    assert not [path for path in hosts.paths if path.startswith("/media/")]

    # Where Streamlit's download button would have put each file: nothing is served there.
    (snapshot,) = served.workspace.snapshots.iterdir()
    mimetype = "application/octet-stream"
    for file in sorted(snapshot.iterdir()):
        media_id = _calculate_file_id(file.read_bytes(), mimetype, file.name)
        url = f"{served.url}/media/{media_id}{get_extension_for_mimetype(mimetype)}"
        assert get(url)[0] == 404, file.name


def test_a_page_error_shows_a_reference_and_the_log_has_the_traceback(
    browser: Browser,  # noqa: F811
    served: Logged,
) -> None:
    # A checkpoint whose description nests deeper than Python's JSON reader can follow.
    broken = served.workspace.checkpoints / "broken"
    broken.mkdir(parents=True)
    (broken / "intentgap.json").write_text("[" * 100_000 + "]" * 100_000)

    page = browser.new_page()
    sign_in_as_admin(page, served.url)
    page.get_by_role("link", name="Inspect", exact=True).click()
    error = page.get_by_text(re.compile(r"Something went wrong \(ref \w+\)"))
    expect(error).to_be_visible()
    settled(page)
    (ref,) = re.findall(r"ref (\w+)", error.inner_text())

    shown = page.locator("body").inner_text()
    for leak in ("Traceback", "RecursionError", 'File "', ".py", "intentgap.json"):
        assert leak not in shown
    log = served.log_text()
    after = log[log.index(f"ref {ref}") :]
    assert "Traceback" in after and "RecursionError" in after


def inotify_watchers(pid: int) -> int:
    """How many inotify instances the process and its children hold open (Linux)."""
    pids = [pid] + [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]
    return sum(
        1
        for each in pids
        for fd in Path(f"/proc/{each}/fd").iterdir()
        if fd.is_symlink() and "inotify" in str(fd.readlink())
    )


def test_the_served_app_watches_no_files(
    browser: Browser,  # noqa: F811
    served: Logged,
) -> None:
    """A watcher on a large tree fills the log with "Inotify queue overflowed"; a served app
    reloads nothing, so it watches nothing (Streamlit starts watching for each session)."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs Linux /proc to count the watchers")
    page = browser.new_page()
    sign_in_as_admin(page, served.url)
    settled(page)
    assert inotify_watchers(served.process.pid) == 0
    served.stop()
    assert "Inotify" not in served.log_text()
