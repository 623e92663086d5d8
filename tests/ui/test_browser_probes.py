"""Probe pairs reach the rater's browser like any pair: nothing sent tells them apart.

The page shows prompt and responses only, and its widget keys are opaque
(``render.form_key``); this reads every websocket message the browser receives while a
rater labels work and probe pairs, and finds no pair id, no probe kind, no "probe".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from playwright.sync_api import Browser, WebSocket, expect

from data import frames
from data.store import Project, Store
from data.workspace import Workspace
from labeling.rater_probes import make_probe_pairs
from tests.conftest import toy_pairs
from tests.ui.serving import Logged, press_until, serve, settled
from tests.ui.test_browser import browser  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

#: Every claim is a check while work is left: the rater meets probe pairs at once.
PROBED = Project("mixed", "Mixed", overlap_k=1, gold_rate=0.0, probe_rate=1.0)


@pytest.fixture
def probed(tmp_path: Path) -> Iterator[Logged]:
    workspace = Workspace(tmp_path / "workspace").create()
    pairs = toy_pairs(6, n_gold=3)
    probes = make_probe_pairs(pairs, frames.empty(frames.JUDGMENTS), ("flattery", "length"))
    with Store(workspace.database) as store:
        store.save_project(PROBED)
        store.import_frames(pairs, None, PROBED.project_id)
        store.import_frames(probes.pairs, None, PROBED.project_id)
        tokens = {"r1": store.add_rater("r1")}
    with serve(workspace, tokens, tmp_path / "server.log") as served:
        yield served


def test_nothing_the_browser_receives_tells_a_probe_from_a_pair(
    browser: Browser,  # noqa: F811
    probed: Logged,
) -> None:
    received: list[bytes] = []

    def listen(socket: WebSocket) -> None:
        socket.on(
            "framereceived",
            lambda payload: received.append(
                payload if isinstance(payload, bytes) else payload.encode()
            ),
        )

    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.on("websocket", listen)
    page.goto(f"{probed.url}/?token={probed.tokens['r1']}")
    expect(page.get_by_text("0 judged")).to_be_visible(timeout=30_000)
    for judged in range(9):  # the 6 probes first (a check while work is left), then 3 pairs
        settled(page)
        page.keyboard.press("1")
        settled(page)
        press_until(page, "Enter", f"{judged + 1} judged")
    served = probed.votes()
    with Store(probed.workspace.database) as store:
        pairs = store.pairs(PROBED.project_id)
    kinds = served.join(pairs.select("pair_id", "probe_kind"), on="pair_id")["probe_kind"]
    assert kinds.is_not_null().sum() >= 2 and kinds.is_null().sum() >= 2, "both were shown"
    sent = b"".join(received)
    assert sent, "the page's messages were read"
    for pair_id in pairs["pair_id"]:
        assert pair_id.encode() not in sent, "a pair id reached the browser"
    for word in (
        b"probe",
        b"flattery",
        b"retest",
        *[k.encode() for k in pl.Series(kinds).drop_nulls()],
    ):
        assert word not in sent.lower(), f"{word!r} reached the browser"
