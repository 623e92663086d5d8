"""ui.render: what the rater sees of model output, and how a click becomes a vote."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from data.store import Assignment, Project
from ui import render

PROJECT = Project("p", "P", principles=("honesty", "concision"), flags=("unsafe",))


def assignment(shown_left: str) -> Assignment:
    return Assignment("r1", "p000", "p", shown_left, False, datetime(2025, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "markdown"),
    [
        ("<script>x()</script>", "&lt;script&gt;x()&lt;/script&gt;"),
        ('<img src=x onerror="y()">', '&lt;img src=x onerror="y()"&gt;'),
        ("a &amp; b", "a &amp;amp; b"),  # shown exactly as written, not as '&'
        ("$5 or $6", r"\$5 or \$6"),
        ("![pixel](http://tracker/p.png)", r"!\[pixel](http://tracker/p.png)"),
        ("use `<b>` here", "use `<b>` here"),
        ("``a ` <b>``", "``a ` <b>``"),
        ("```html\n<b>&</b>\n```\n<i>", "```html\n<b>&</b>\n```\n&lt;i&gt;"),
        ("~~~\n<b>\n~~~\n<b>", "~~~\n<b>\n~~~\n&lt;b&gt;"),
        ("````\n```\n<b>\n````\n<b>", "````\n```\n<b>\n````\n&lt;b&gt;"),
        ("```\n<b> never closed", "```\n<b> never closed"),
    ],
)
def test_safe_markdown_escapes_html_outside_code_only(text: str, markdown: str) -> None:
    assert render.safe_markdown(text) == markdown


def test_cap_keeps_short_text_and_counts_what_it_hides() -> None:
    assert render.cap("short") == render.Capped("short", 0)
    capped = render.cap("x" * 20_005)
    assert (len(capped.text), capped.hidden_chars, capped.truncated) == (20_000, 5, True)
    assert render.cap(None) == render.Capped("", 0)


def test_conversation_turns_from_messages_or_the_prompt() -> None:
    messages = '[{"role": "human", "content": "Hi"}, {"role": "assistant", "content": [{"type": "text", "text": "Yo"}]}, {"role": "user", "content": "Bye?"}]'  # noqa: E501
    assert render.conversation("User: Hi ...", messages) == [
        render.Turn("user", "Hi"),
        render.Turn("assistant", "Yo"),
        render.Turn("user", "Bye?"),
    ]
    assert render.conversation("Plain?", "not json") == [render.Turn("user", "Plain?")]
    assert render.conversation("Plain?", '{"role": "user"}') == [render.Turn("user", "Plain?")]


@pytest.mark.parametrize(
    ("position", "shown_left", "choice"),
    [
        ("left", "a", "a"),
        ("left", "b", "b"),
        ("right", "a", "b"),
        ("right", "b", "a"),
        ("tie", "b", "tie"),
        ("both_bad", "a", "both_bad"),
    ],
)
def test_what_is_on_screen_maps_to_the_pairs_own_sides(
    position: str, shown_left: str, choice: str
) -> None:
    assert render.choice_for(position, shown_left) == choice


def test_a_form_becomes_a_submission() -> None:
    submission = render.submission_from_form(
        PROJECT,
        assignment("b"),
        "s1",
        position="left",
        strength=2,
        rationale="  clearer ",
        principles=["concision", "not-a-principle", "honesty"],
        flags=["unsafe"],
    )
    assert (submission.choice, submission.strength, submission.rationale) == ("b", 2, "clearer")
    assert submission.principles == ("honesty", "concision"), "project order, unknown dropped"
    assert (submission.submission_id, submission.rater_id, submission.flags) == (
        "s1",
        "r1",
        ("unsafe",),
    )


def test_strength_is_kept_only_for_a_side_in_a_project_that_asks() -> None:
    tie = render.submission_from_form(PROJECT, assignment("a"), "s", position="tie", strength=3)
    assert tie.strength is None
    no_strength = Project("p", "P", strength_enabled=False)
    left = render.submission_from_form(
        no_strength, assignment("a"), "s", position="left", strength=3
    )
    assert left.strength is None


@pytest.mark.parametrize(
    ("project", "position", "rationale", "message"),
    [
        (PROJECT, None, "", "Choose"),
        (Project("p", "P", tie_allowed=False), "tie", "", "ties"),
        (PROJECT, "both_bad", "", "both bad"),
        (Project("p", "P", rationale_required=True), "left", "  ", "rationale"),
    ],
)
def test_an_incomplete_form_is_refused(
    project: Project, position: str | None, rationale: str, message: str
) -> None:
    with pytest.raises(render.FormIncomplete, match=message):
        render.submission_from_form(
            project, assignment("a"), "s", position=position, rationale=rationale
        )


def test_coverage_histogram_counts_work_pairs_by_votes() -> None:
    pairs = pl.DataFrame(
        {"pair_id": ["p1", "p2", "p3", "p4", "g1"], "is_gold": [False] * 4 + [True]}
    )
    votes = pl.DataFrame({"pair_id": ["p1", "p1", "p1", "p2", "p2", "p3", "g1"]})
    histogram = render.coverage_histogram(pairs, votes, overlap_k=2)
    assert histogram.rows() == [("0", 1), ("1", 1), ("2+", 2)]


def test_coverage_histogram_of_an_empty_project() -> None:
    empty = pl.DataFrame(schema={"pair_id": pl.String, "is_gold": pl.Boolean})
    histogram = render.coverage_histogram(empty, pl.DataFrame(schema={"pair_id": pl.String}), 1)
    assert histogram.rows() == [("0", 0), ("1+", 0)]


def test_recent_activity_is_newest_first() -> None:
    votes = pl.DataFrame(
        {
            "pair_id": ["p1", "p2", "p3"],
            "rater_id": ["r1", "r2", "r1"],
            "choice": ["a", "b", "tie"],
            "created_at": [datetime(2025, 1, day, tzinfo=UTC) for day in (1, 3, 2)],
        }
    )
    recent = render.recent_activity(votes, n=2)
    assert recent.select("pair_id", "rater_id").rows() == [("p2", "r2"), ("p3", "r1")]


def test_parse_lines_and_mapping() -> None:
    assert render.parse_lines("a\n a \n\nb") == ("a", "b")
    assert render.parse_mapping("q=prompt\n") == {"q": "prompt"}
    with pytest.raises(ValueError, match="line 2"):
        render.parse_mapping("q=prompt\njust a name")
