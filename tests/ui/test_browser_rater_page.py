"""The rater's page in a real browser: strength from the keyboard, a laptop screen, the keys
working right after a project switch."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from playwright.sync_api import Browser, Page, expect

from data.store import Project, Store
from data.workspace import Workspace
from tests.conftest import toy_pairs
from tests.ui.serving import Logged, press_until, serve, settled
from tests.ui.test_browser import browser  # noqa: F401  (the fixture)
from ui import render

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

#: Long enough that prompt and responses overflow their boxes on any screen.
LONG = "\n\n".join(f"Paragraph {i}: " + "a long answer " * 40 for i in range(15))
SHORT = Project("short", "Short answers", overlap_k=1, gold_rate=0.0, both_bad_allowed=True)
LONG_TEXTS = Project("long", "Long answers", overlap_k=1, gold_rate=0.0)


@pytest.fixture
def two_projects(tmp_path: Path) -> Iterator[Logged]:
    """r1 has 3 short pairs in one project and 2 long ones in another."""
    workspace = Workspace(tmp_path / "workspace").create()
    long_pairs = pl.DataFrame(
        {
            "pair_id": ["l1", "l2"],
            "prompt": [LONG, LONG],
            "response_a": [LONG, LONG],
            "response_b": [LONG, LONG],
        }
    )
    with Store(workspace.database) as store:
        store.save_project(SHORT)
        store.import_frames(toy_pairs(3), None, SHORT.project_id)
        store.save_project(LONG_TEXTS)
        store.import_frames(long_pairs, None, LONG_TEXTS.project_id)
        tokens = {"r1": store.add_rater("r1")}
    with serve(workspace, tokens, tmp_path / "server.log") as served:
        yield served


def signed_in(browser: Browser, served: Logged, width: int = 1366, height: int = 768) -> Page:  # noqa: F811
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{served.url}/?token={served.tokens['r1']}")
    expect(page.get_by_text("0 judged")).to_be_visible(timeout=30_000)  # a cold start
    settled(page)
    return page


def switch_project(page: Page, name: str) -> None:
    page.get_by_role("combobox", name="Project").click()
    page.get_by_role("option", name=name).click()
    # The page's own header names the project once the page has been drawn for it.
    expect(page.get_by_role("main").get_by_text(name, exact=True)).to_be_visible()
    settled(page)


def button(page: Page, label: str) -> object:
    return page.get_by_role("button", name=re.compile(f"^{label}"))


def test_strength_is_one_keystroke_and_is_stored(browser: Browser, two_projects: Logged) -> None:  # noqa: F811
    page = signed_in(browser, two_projects)
    submit = page.get_by_role("button", name=re.compile(r"^Submit"))
    for judged, (side, strength) in enumerate([("1", "F"), ("2", "S"), ("1", "D")]):
        page.keyboard.press(side)
        expect(submit).to_be_enabled()
        page.keyboard.press(strength)
        # The chosen strength is shown: its button turns primary.
        expect(page.get_by_role("button", name=re.compile(r"better"))).to_have_count(5)
        expect(page.locator('[data-testid="stBaseButton-primary"]')).to_have_count(3)
        settled(page)
        press_until(page, "Enter", f"{judged + 1} judged")
        settled(page)

    votes = two_projects.votes().sort("created_at")
    assert votes["strength"].to_list() == [3, 1, 2]
    assert votes["choice"].to_list() == [
        render.choice_for(position, shown_left)
        for position, shown_left in zip(["left", "right", "left"], votes["shown_left"], strict=True)
    ]


def test_on_a_laptop_screen_texts_and_choices_show_without_scrolling(
    browser: Browser,  # noqa: F811
    two_projects: Logged,
) -> None:
    page = signed_in(browser, two_projects, 1366, 768)
    switch_project(page, "Long answers")
    for judged, round_ in enumerate(["first pair", "after a vote, under its notice"]):
        for element in (
            page.locator(".st-key-label_prompt"),
            page.locator(".st-key-label_Left"),
            page.locator(".st-key-label_Right"),
        ):
            box = element.bounding_box()
            assert box is not None and 0 <= box["y"] < 768 - 60, (round_, box)
        for label in ("Left is better", "Right is better", "Tie", "much better", "Submit"):
            box = button(page, label).bounding_box()  # type: ignore[attr-defined]
            assert box is not None and box["y"] + box["height"] <= 768, (round_, label, box)
        assert page.evaluate("window.scrollY") == 0
        for heading in ("Prompt", "Left", "Right"):  # each box shows its text's start
            expect(page.get_by_role("heading", name=heading)).to_be_in_viewport()
        for key in ("label_prompt", "label_Left", "label_Right"):
            assert page.evaluate(f"document.querySelector('.st-key-{key}').scrollTop") == 0
        # The long texts scroll in their own boxes, not the page.
        assert page.evaluate(
            "document.querySelector('.st-key-label_Left').scrollHeight"
            " > document.querySelector('.st-key-label_Left').clientHeight"
        )
        page.keyboard.press("2")
        expect(page.get_by_role("button", name=re.compile(r"^Submit"))).to_be_enabled()
        settled(page)
        press_until(page, "Enter", f"{judged + 1} judged")
        settled(page)
    expect(page.get_by_text("All done")).to_be_visible()


def test_after_switching_project_the_keys_work_at_once(
    browser: Browser,  # noqa: F811
    two_projects: Logged,
) -> None:
    page = signed_in(browser, two_projects)
    switch_project(page, "Long answers")
    assert page.evaluate("document.activeElement.tagName") == "BODY", "focus left the picker"
    page.keyboard.press("1")
    expect(page.get_by_role("button", name=re.compile(r"^Submit"))).to_be_enabled()
