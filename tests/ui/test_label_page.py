"""The label page: a rater judges pairs; what they click is what the store keeps."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import duckdb
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from data import frames
from data.store import Assignment, Store
from tests.conftest import toy_pairs
from tests.trouble import holding, small_disk
from tests.ui.conftest import TOY, AppWorkspace, app, click, signed_in_rater, texts
from ui import render


def rater_app(app_workspace: AppWorkspace, rater: str = "r1") -> AppTest:
    return signed_in_rater(app(), app_workspace.tokens[rater])


def shown_pair(at: AppTest) -> str:
    """The pair on screen (the label page keeps it with the submission id)."""
    return str(at.session_state["label_current"]["shown"][0])


def form_key(at: AppTest, name: str, rater: str = "r1") -> str:
    """The key of the label form's widget ``name`` for the pair on screen (opaque: made from
    the rater, the pair and the round)."""
    shown = Assignment(rater, shown_pair(at), TOY.project_id, "a", False, datetime.now(UTC))
    return render.form_key(name, shown)


def under(at: AppTest, heading: str) -> str:
    """The text shown under a box's heading ("Prompt", "Left", "Right")."""
    values = [m.value for m in at.markdown]
    return str(values[values.index(f"###### {heading}") + 1])


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
    left_text = under(at, "Left")
    at = click(click(at, "Left is better"), "much better")
    at.pills(key=form_key(at, "principles")).set_value(["honesty"])
    at.text_area(key=form_key(at, "rationale")).input("More honest.")
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
    strength = [b for b in at.button if b.label in frames.STRENGTH_LABELS.values()]
    assert strength and all(b.disabled for b in strength), "no strength for a tie"
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
    assert at.pills(key=form_key(at, "flags")).options == ["unsafe"]


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
        ("<script>alert(1)</script>", r"\<script\>alert(1)\</script\>"),
        ("Costs $5 & more", r"Costs \$5 & more"),
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
    assert [under(at, "Left"), under(at, "Right")] == [shown, shown]
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


# -- strength, keys and progress ------------------------------------------------------------------


def test_a_project_that_requires_strength_saves_no_side_without_it(
    app_workspace: AppWorkspace,
) -> None:
    edit_project(app_workspace, strength_required=True)
    at = rater_app(app_workspace)
    first = shown_pair(at)
    at = click(click(at, "Left is better"), "Submit")
    assert at.error[0].value == (
        "Not saved: This project asks how much better: slightly, clearly or much."
    )
    assert shown_pair(at) == first

    at = click(click(at, "slightly better"), "Submit")
    assert at.success[0].value == "Saved. Here is the next pair."
    at = click(click(at, "Tie"), "Submit")  # a tie has no strength to ask for
    assert at.success[0].value == "Saved. Here is the next pair."
    side, tie = saved_votes(app_workspace).sort("created_at").rows(named=True)
    assert (side["choice"], side["strength"]) == (side["shown_left"], 1), "left, slightly"
    assert (tie["choice"], tie["strength"]) == ("tie", None)


def test_the_key_hint_names_every_key_the_buttons_answer_to(
    app_workspace: AppWorkspace,
) -> None:
    edit_project(app_workspace, both_bad_allowed=True)
    at = rater_app(app_workspace)
    hint = next(c.value for c in at.caption if c.value.startswith("Keys:"))
    assert hint == (
        "Keys: 1 left · 2 right · then S slightly, D clearly, F much better · 0 tie"
        " · 9 both bad · Enter submits (not while typing in a text box)."
    )
    shortcuts = {b.label: b.proto.shortcut for b in at.button if b.proto.shortcut}
    assert shortcuts == {
        "Left is better": "1",
        "Right is better": "2",
        "Tie": "0",
        "Both bad": "9",
        "slightly better": "s",
        "clearly better": "d",
        "much better": "f",
        "Submit": "enter",
    }


def test_to_go_counts_the_hidden_gold_items_too(app_workspace: AppWorkspace) -> None:
    gold_first = dataclasses.replace(TOY, project_id="gold", name="Gold", gold_rate=1.0)
    with Store(app_workspace.workspace.database) as store:
        store.save_project(gold_first)
        pairs = toy_pairs(6, n_gold=2).with_columns(pl.format("g{}", "pair_id").alias("pair_id"))
        store.import_frames(pairs, None, "gold")
    at = rater_app(app_workspace)
    at.sidebar.selectbox[0].set_value("gold").run()
    shown = []
    for _ in range(6):  # 4 work pairs and the 2 gold ones, each counted
        shown.append(at.progress[0].proto.text)
        at = click(click(at, "Left is better"), "Submit")
    assert shown == [f"{judged} judged · {6 - judged} to go" for judged in range(6)]
    assert at.progress[0].proto.text == "6 judged · 0 to go"


def test_after_the_last_pair_no_next_pair_is_promised(app_workspace: AppWorkspace) -> None:
    at = rater_app(app_workspace)
    for _ in range(3):
        at = click(click(at, "Left is better"), "Submit")
    assert [s.value for s in at.success] == [
        "Saved.",
        "All done: you have judged every pair waiting for you. Thank you!",
    ]


# -- when a vote cannot be saved -----------------------------------------------------------------


def test_on_a_full_disk_the_choice_is_kept_and_the_resubmit_saves_once(
    app_workspace: AppWorkspace,
) -> None:
    with small_disk(app_workspace.workspace.root) as disk:
        at = click(rater_app(app_workspace), "Left is better")
        pair = shown_pair(at)
        submission_id = at.session_state["label_current"]["submission_id"]
        at.text_area(key=form_key(at, "rationale")).input("Clearer.")
        # Fold DuckDB's log into the file (as it does by itself when the log grows), so the
        # next write needs disk space, then take the last of that space away.
        duckdb.connect(str(app_workspace.workspace.database)).execute("CHECKPOINT")
        disk.fill()
        at = click(at, "Submit")
        assert [e.value for e in at.error] == [
            "Not saved: the server cannot write (disk full); try again."
        ]
        assert shown_pair(at) == pair
        assert at.session_state["label_choice"] == "left", "the choice is kept"
        assert at.text_area(key=form_key(at, "rationale")).value == "Clearer."

        disk.free()
        at = click(at, "Submit")
        assert at.success[0].value == "Saved. Here is the next pair."
        assert shown_pair(at) != pair
        votes = saved_votes(app_workspace)
    assert votes.select("submission_id", "pair_id", "rationale").rows() == [
        (submission_id, pair, "Clearer.")
    ]


def test_a_vote_imported_on_the_open_pair_is_named_and_the_next_pair_comes(
    app_workspace: AppWorkspace,
) -> None:
    at = click(rater_app(app_workspace), "Left is better")
    pair = shown_pair(at)
    imported = pl.DataFrame(
        {"submission_id": ["imp-1"], "pair_id": [pair], "rater_id": ["r1"], "choice": ["b"]}
    ).with_columns(
        pl.lit("2024-05-01").str.to_datetime().alias("created_at"),
        pl.lit("votes.jsonl").alias("source"),
    )
    with Store(app_workspace.workspace.database) as store:
        store.import_frames(store.pairs("toy"), imported, "toy")

    at = click(at, "Submit")
    assert [i.value for i in at.info] == [
        "Not saved: you already have a vote on that pair, imported from votes.jsonl, and it"
        " counts. Here is the next pair."
    ]
    assert not at.error
    assert shown_pair(at) != pair
    at = click(click(at, "Right is better"), "Submit")
    assert at.success[0].value == "Saved. Here is the next pair."
    votes = saved_votes(app_workspace).sort("submission_id")
    assert votes.filter(pl.col("pair_id") == pair)["submission_id"].to_list() == ["imp-1"]
    assert votes.height == 2


def test_a_command_holding_the_database_is_named_to_the_rater(
    app_workspace: AppWorkspace,
) -> None:
    with holding(app_workspace.workspace.database, ["intentgap", "import"]) as holder:
        at = app().run()
    message = " ".join(e.value for e in at.error)
    assert f"`intentgap import` (PID {holder.pid})" in message
    assert "until it finishes" in message and "Stop the app" not in message


def test_on_a_full_disk_a_rater_waiting_for_a_pair_is_told_and_gets_one_later(
    app_workspace: AppWorkspace,
) -> None:
    with small_disk(app_workspace.workspace.root) as disk:
        at = rater_app(app_workspace)
        skipped = shown_pair(at)
        with Store(app_workspace.workspace.database) as store:
            store.skip("r1", skipped)  # no open pair: the next run must claim one
        duckdb.connect(str(app_workspace.workspace.database)).execute("CHECKPOINT")
        disk.fill()
        at.run()
        assert [e.value for e in at.error] == [
            "No pair for you yet: the server cannot write (disk full); try again in a moment."
        ]
        disk.free()
        at.run()
        assert not at.error
        assert shown_pair(at) != skipped, "a new pair is shown"
