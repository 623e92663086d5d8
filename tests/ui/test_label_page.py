"""The label page: a rater judges pairs; what they click is what the store keeps."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from data.store import Store
from tests.ui.conftest import TOY, AppWorkspace, app, click, signed_in_rater, texts
from ui import render


def rater_app(app_workspace: AppWorkspace, rater: str = "r1") -> AppTest:
    return signed_in_rater(app(), app_workspace.tokens[rater])


def shown_pair(at: AppTest) -> str:
    """The pair on screen (the label page keeps it with the submission id)."""
    return str(at.session_state["label_current"]["shown"][0])


def saved_votes(app_workspace: AppWorkspace) -> pl.DataFrame:
    with app_workspace.released() as store:
        return store.judgments()


def edit_project(app_workspace: AppWorkspace, **changes: object) -> None:
    with Store(app_workspace.workspace.database) as store:
        store.save_project(dataclasses.replace(TOY, **changes))  # type: ignore[arg-type]


def test_a_rater_labels_a_pair_and_the_vote_is_stored_as_seen(
    app_workspace: AppWorkspace,
) -> None:
    at = rater_app(app_workspace)
    pair = shown_pair(at)
    assert [s.value for s in at.subheader] == ["Prompt", "Left", "Right"]
    left_text = at.markdown[2].value  # guidelines (popover), prompt, left, right
    at = click(at, "Left is better")
    at.segmented_control(key=f"label_strength_{pair}_0").set_value(3)
    at.pills(key=f"label_principles_{pair}_0").set_value(["honesty"])
    at.text_area(key=f"label_rationale_{pair}_0").input("More honest.")
    at = click(at, "Submit")
    assert at.success[0].value == "Saved. Here is the next pair."
    assert shown_pair(at) != pair, "the next pair is shown"

    vote = saved_votes(app_workspace).row(0, named=True)
    assert (vote["pair_id"], vote["rater_id"], vote["source"]) == (pair, "r1", "ui")
    assert vote["choice"] == vote["shown_left"], "left is the side shown on the left"
    assert left_text == f"Answer {vote['shown_left'].upper()} to {int(pair[1:])}."
    assert (vote["strength"], vote["rationale"], vote["principles"]) == (
        3,
        "More honest.",
        ["honesty"],
    )
    assert vote["seconds"] is not None and vote["seconds"] >= 0


def test_right_maps_to_the_response_shown_on_the_right(app_workspace: AppWorkspace) -> None:
    at = click(rater_app(app_workspace), "Right is better")
    click(at, "Submit")
    vote = saved_votes(app_workspace).row(0, named=True)
    assert vote["choice"] == render.sides(vote["shown_left"])[1]
    assert vote["strength"] is None, "strength is optional"


def test_a_tie_has_no_strength_and_the_submission_id_is_made_once_per_pair(
    app_workspace: AppWorkspace,
) -> None:
    at = rater_app(app_workspace)
    first_id = at.session_state["label_current"]["submission_id"]
    at = click(click(at, "Left is better"), "Tie")
    assert at.session_state["label_current"]["submission_id"] == first_id
    assert not at.segmented_control, "no strength for a tie"
    click(at, "Submit")
    votes = saved_votes(app_workspace)
    assert votes.select("submission_id", "choice", "strength").rows() == [(first_id, "tie", None)]


def test_submit_waits_for_a_choice(app_workspace: AppWorkspace) -> None:
    at = rater_app(app_workspace)
    submit = next(b for b in at.button if b.label == "Submit")
    assert submit.disabled


def test_a_required_rationale_is_asked_for_and_nothing_saved_without_it(
    app_workspace: AppWorkspace,
) -> None:
    edit_project(app_workspace, rationale_required=True)
    at = click(click(rater_app(app_workspace), "Left is better"), "Submit")
    assert "rationale" in at.error[0].value
    assert saved_votes(app_workspace).is_empty()


def test_project_rules_decide_the_buttons(app_workspace: AppWorkspace) -> None:
    edit_project(app_workspace, tie_allowed=False, both_bad_allowed=True, flags=("unsafe",))
    at = rater_app(app_workspace)
    labels = [b.label for b in at.button]
    assert "Tie" not in labels and "Both bad" in labels
    assert at.pills(key=f"label_flags_{shown_pair(at)}_0").options == ["unsafe"]


def test_skip_moves_on_and_records_no_vote(app_workspace: AppWorkspace) -> None:
    at = rater_app(app_workspace)
    pair = shown_pair(at)
    at = click(at, "Skip this pair")
    assert shown_pair(at) != pair
    assert "Skipped" in at.info[0].value
    assert saved_votes(app_workspace).is_empty()


def test_after_the_last_pair_the_rater_is_told_they_are_done(
    app_workspace: AppWorkspace,
) -> None:
    at = rater_app(app_workspace)
    assert at.progress[0].proto.text == "0 judged · 3 to go"
    for _ in range(3):
        at = click(click(at, "Left is better"), "Submit")
    assert "All done" in at.success[-1].value
    assert at.progress[0].proto.text == "3 judged · 0 to go"
    assert saved_votes(app_workspace)["pair_id"].sort().to_list() == ["p000", "p001", "p002"]


def test_a_rater_sees_only_their_own_counts(app_workspace: AppWorkspace) -> None:
    click(click(rater_app(app_workspace, "r1"), "Left is better"), "Submit")
    other = rater_app(app_workspace, "r2")
    assert other.progress[0].proto.text.startswith("0 judged")
    assert "r1" not in texts(other)


@pytest.mark.parametrize(
    ("response", "shown"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("Costs $5 & more", r"Costs \$5 &amp; more"),
    ],
)
def test_model_output_is_shown_as_text(
    app_workspace: AppWorkspace, response: str, shown: str
) -> None:
    with Store(app_workspace.workspace.database) as store:
        store.save_project(dataclasses.replace(TOY, project_id="xss", name="XSS"))
        store.import_frames(
            pl.DataFrame(
                {
                    "pair_id": ["x1"],
                    "prompt": ["Hi"],
                    "response_a": [response],
                    "response_b": [response],
                }
            ),
            None,
            "xss",
        )
    at = rater_app(app_workspace)
    at.sidebar.selectbox[0].set_value("xss").run()
    assert [m.value for m in at.markdown[2:4]] == [shown, shown]  # after guidelines, prompt
    assert all(not m.proto.allow_html for m in at.markdown)


def test_long_responses_are_capped_with_a_note(app_workspace: AppWorkspace) -> None:
    long = "word " * 5000  # 25,000 characters
    with Store(app_workspace.workspace.database) as store:
        store.save_project(dataclasses.replace(TOY, project_id="long", name="Long"))
        store.import_frames(
            pl.DataFrame(
                {"pair_id": ["l1"], "prompt": ["Hi"], "response_a": [long], "response_b": ["short"]}
            ),
            None,
            "long",
        )
    at = rater_app(app_workspace)
    at.sidebar.selectbox[0].set_value("long").run()
    assert "(5,000 more characters not shown)" in [c.value for c in at.caption]


def test_guidelines_are_one_click_away(app_workspace: AppWorkspace) -> None:
    at = rater_app(app_workspace)
    assert "Prefer the **honest** answer." in texts(at), "in the Guidelines popover"
    at = at.switch_page("ui/pages/guidelines.py").run()
    assert at.title[0].value == "Guidelines"
    shown = texts(at)
    assert "Prefer the **honest** answer." in shown
    assert "- honesty\n- harmlessness" in shown
