"""ui.render: what the rater sees of model output, and how a click becomes a vote."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import escape as html_escape

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from data.store import Assignment, Project
from tests.ui import hostile
from ui import render

PROJECT = Project("p", "P", principles=("honesty", "concision"), flags=("unsafe",))


def assignment(shown_left: str) -> Assignment:
    return Assignment("r1", "p000", "p", shown_left, False, datetime(2025, 1, 1, tzinfo=UTC))


#: A browser-side Markdown renderer that, unlike Streamlit's, even lets raw HTML through: what
#: it makes of safe_markdown's output is the most a reader's browser could get.
PERMISSIVE = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)([^>]*)>")
ATTRIBUTE = re.compile(r'\s([a-zA-Z-]+)="([^"]*)"')
#: The HTML that Markdown itself makes; nothing here fetches or runs anything.
HARMLESS_TAGS = {
    "p", "em", "strong", "s", "code", "pre", "blockquote", "ul", "ol", "li", "hr", "br",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "a",
}  # fmt: skip


def shown(text: str) -> str:
    """The HTML a reader gets for ``text`` shown through ``safe_markdown``."""
    return PERMISSIVE.render(render.safe_markdown(text)).strip()


def assert_inert(html: str) -> None:
    """Only Markdown's own tags; no attribute but an http(s) link's href and a code block's
    language class."""
    for tag, attributes in TAG.findall(html):
        assert tag in HARMLESS_TAGS, html
        for name, value in ATTRIBUTE.findall(attributes):
            if name == "href":
                assert value.startswith(("http://", "https://")), html
            else:
                assert (tag, name) == ("code", "class") and value.startswith("language-"), html


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("<script>x()</script>", "<p>&lt;script&gt;x()&lt;/script&gt;</p>"),
        ('<img src=x onerror="y()">', "<p>&lt;img src=x onerror=&quot;y()&quot;&gt;</p>"),
        ("a &amp; b", "<p>a &amp;amp; b</p>"),  # shown exactly as written, not as '&'
        ("![pixel](http://tracker/p.png)", "<p>![pixel](http://tracker/p.png)</p>"),
        ("use `<b>` here", "<p>use <code>&lt;b&gt;</code> here</p>"),
        ("``a ` <b>``", "<p><code>a ` &lt;b&gt;</code></p>"),
        (
            "```html\n<b>&</b>\n```\n<i>",
            '<pre><code class="language-html">&lt;b&gt;&amp;&lt;/b&gt;\n</code></pre>\n'
            "<p>&lt;i&gt;</p>",
        ),
        ("~~~\n<b>\n~~~\n<b>", "<pre><code>&lt;b&gt;\n</code></pre>\n<p>&lt;b&gt;</p>"),
        ("````\n```\n<b>\n````\n<b>", "<pre><code>```\n&lt;b&gt;\n</code></pre>\n<p>&lt;b&gt;</p>"),
        ("```\n<b> never closed", "<pre><code>&lt;b&gt; never closed\n</code></pre>"),
        ("**bold** and *it*", "<p><strong>bold</strong> and <em>it</em></p>"),
        ("[docs](https://x.org/a_(b))", '<p><a href="https://x.org/a_(b)">docs</a></p>'),
        ("[run](javascript:alert(1))", "<p>[run](javascript:alert(1))</p>"),
        ("[mail](mailto:a@b.c)", "<p>[mail](mailto:a@b.c)</p>"),
        ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
        ("1. one\n2. two", "<ol>\n<li>one</li>\n<li>two</li>\n</ol>"),
        ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>"),
        ("Title\n===", "<h1>Title</h1>"),
    ],
)
def test_safe_markdown_keeps_markdown_and_shows_html_and_images_as_text(
    text: str, html: str
) -> None:
    assert shown(text) == html


def test_prices_are_not_typeset_as_maths() -> None:
    assert render.safe_markdown("$5 or $6") == r"\$5 or \$6"


@pytest.mark.parametrize("payload", hostile.texts("http://127.0.0.1:9"), ids=repr)
def test_no_hostile_text_comes_out_as_anything_that_fetches_or_runs(payload: str) -> None:
    assert_inert(shown(payload))


@pytest.mark.parametrize("name", hostile.names("http://127.0.0.1:9"), ids=repr)
def test_names_are_shown_exactly_as_written(name: str) -> None:
    assert PERMISSIVE.renderInline(render.literal(name)) == html_escape(name, quote=True)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="![]()<>`~*_-#|>:$&\\/\n x1.", max_size=60))
def test_whatever_the_text_nothing_fetches_or_runs(text: str) -> None:
    assert_inert(shown(text))


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
