"""The labeling page: one pair at a time, the two responses side by side, keyboard first.

Keys (``render.key_hint``): 1 left, 2 right, then S, D or F for slightly, clearly or much
better, 0 tie, 9 both bad, Enter submits. On a laptop screen (1366x768) the prompt's start,
both responses' starts and the buttons show without scrolling; long texts scroll in their
own boxes. Writes happen in button callbacks with a submission id made once per shown pair,
so a double click or a resend saves one vote.
"""

from __future__ import annotations

import uuid
from typing import Any

import streamlit as st

from data import frames
from data.store import AlreadyJudged, Assignment, Project, Store, SubmissionRefused
from data.workspace import StoreWriteError
from ui import cache, render, session

_CHOICE_KEY = "label_choice"
_CURRENT_KEY = "label_current"
_NOTICE_KEY = "label_notice"
_DONE_KEY = "label_done"
#: Box heights (px) that fit the page's top, the buttons and the key hint into 768 pixels.
_PROMPT_HEIGHT = 110
_RESPONSE_HEIGHT = 250


def _choose(position: str) -> None:
    st.session_state[_CHOICE_KEY] = position


def _choose_strength(assignment: Assignment, strength: int) -> None:
    st.session_state[render.form_key("strength", assignment)] = strength


def _submit(store: Store, project: Project, assignment: Assignment, submission_id: str) -> None:
    state = st.session_state
    if not session.still_signed_in(store):  # callbacks run before app.py checks the session
        return
    if not _still_shown(assignment):
        return
    try:
        submission = render.submission_from_form(
            project,
            assignment,
            submission_id,
            position=state.get(_CHOICE_KEY),
            strength=state.get(render.form_key("strength", assignment)),
            rationale=state.get(render.form_key("rationale", assignment)) or "",
            principles=state.get(render.form_key("principles", assignment)) or (),
            flags=state.get(render.form_key("flags", assignment)) or (),
        )
        saved = store.submit(submission)
    except AlreadyJudged as imported:
        _move_on(assignment)  # that pair is closed; the next one comes
        state[_NOTICE_KEY] = (
            "info",
            "Not saved: you already have a vote on that pair, imported from"
            f" {imported.source or 'a file'}, and it counts. Here is the next pair.",
        )
        return
    except StoreWriteError as failure:
        # The choice, the form and the submission id stay: the same vote can be sent again.
        state[_NOTICE_KEY] = ("error", f"Not saved: {_cannot_write(failure)}.")
        return
    except (render.FormIncomplete, SubmissionRefused) as problem:
        state[_NOTICE_KEY] = ("error", f"Not saved: {problem}")
        return
    _move_on(assignment)
    state[_NOTICE_KEY] = (
        ("success", "Saved. Here is the next pair.")
        if saved
        else ("info", "That vote was already saved.")
    )


def _move_on(assignment: Assignment) -> None:
    """The rater is done with ``assignment``: clear the choice for the next pair."""
    st.session_state[_CHOICE_KEY] = None
    st.session_state[_DONE_KEY] = (assignment.pair_id, assignment.round)


def _still_shown(assignment: Assignment) -> bool:
    """Whether ``assignment`` is the pair on screen. Enter pressed while the next pair is
    still being drawn reaches the previous pair's Submit button; that click must neither
    resend the old vote nor clear the choice already made for the new pair."""
    current: dict[str, Any] | None = st.session_state.get(_CURRENT_KEY)
    return current is not None and current["shown"] == (assignment.pair_id, assignment.round)


def _cannot_write(failure: StoreWriteError) -> str:
    """What a rater is told when the server's disk refuses a write (not the server's path)."""
    return f"the server cannot write ({failure.cause}); try again"


def _skip(store: Store, assignment: Assignment) -> None:
    if not session.still_signed_in(store):
        return
    try:
        store.skip(assignment.rater_id, assignment.pair_id, assignment.round)
    except StoreWriteError as failure:
        st.session_state[_NOTICE_KEY] = ("error", f"Not skipped: {_cannot_write(failure)}.")
        return
    _move_on(assignment)
    st.session_state[_NOTICE_KEY] = ("info", "Skipped. You will not see that pair again.")


def _show_text(text: str | None) -> None:
    shown = render.cap(text)
    st.markdown(render.safe_markdown(shown.text))
    if shown.truncated:
        st.caption(f"({shown.hidden_chars:,} more characters not shown)")


def _notice(last: bool) -> None:
    """The outcome of the last click; after the last pair there is no next one to promise.

    Drawn in a slot that is there with or without a notice, so every element below keeps its
    place from one run to the next: the browser updates the buttons in place instead of
    showing the old and the new ones together while the page is redrawn."""
    slot = st.empty()
    notice = st.session_state.pop(_NOTICE_KEY, None)
    if notice is not None:
        kind, text = notice
        if last:
            text = text.replace(" Here is the next pair.", "")
        # Literal: a message may quote an imported name (the file a vote came from).
        {"success": slot.success, "error": slot.error, "info": slot.info}[kind](
            render.literal(text)
        )


def _submission_id(assignment: Assignment) -> str:
    """Made once per shown assignment and kept until the next one."""
    current: dict[str, Any] | None = st.session_state.get(_CURRENT_KEY)
    shown = (assignment.pair_id, assignment.round)
    if current is None or current["shown"] != shown:
        # A choice made once the last pair was done is for this one (a key pressed while it
        # was still being drawn); any other is left from a pair the rater did not finish.
        if current is None or st.session_state.get(_DONE_KEY) != current["shown"]:
            st.session_state[_CHOICE_KEY] = None
        current = {"shown": shown, "submission_id": uuid.uuid4().hex}
        st.session_state[_CURRENT_KEY] = current
    return str(current["submission_id"])


def _show_pair(pair: dict[str, Any], assignment: Assignment) -> None:
    # Plain captions, not st.chat_message: a box holding chat messages scrolls itself to its
    # end, and the rater should see where the prompt starts.
    turns = render.conversation(pair.get("prompt") or "", pair.get("prompt_messages"))
    with st.container(height=_PROMPT_HEIGHT, border=True, key="label_prompt"):
        st.markdown("###### Prompt")
        for turn in turns:
            if len(turns) > 1:
                st.caption(render.literal(turn.role.capitalize()))
            _show_text(turn.content)
    sides = render.sides(assignment.shown_left)
    for column, side, heading in zip(st.columns(2), sides, ("Left", "Right"), strict=True):
        with column.container(height=_RESPONSE_HEIGHT, border=True, key=f"label_{heading}"):
            st.markdown(f"###### {heading}")
            _show_text(pair.get(f"response_{side}"))


def _choice_buttons(store: Store, project: Project, assignment: Assignment) -> None:
    """One row: the choices, how much better, Submit and Skip, each with its key."""
    submission_id = _submission_id(assignment)
    chosen = st.session_state.get(_CHOICE_KEY)
    strength = st.session_state.get(render.form_key("strength", assignment))
    with st.container(horizontal=True, key="label_choices"):
        for position in render.allowed_positions(project):
            label, shortcut = render.CHOICE_KEYS[position]
            st.button(
                label,
                key=f"label_choose_{position}",
                shortcut=shortcut,
                type="primary" if chosen == position else "secondary",
                on_click=_choose,
                args=(position,),
            )
        if project.strength_enabled:
            for level, shortcut in render.STRENGTH_KEYS.items():
                st.button(
                    frames.STRENGTH_LABELS[level],
                    key=f"label_strength_{level}",
                    shortcut=shortcut,
                    type="primary" if strength == level else "tertiary",
                    disabled=chosen in ("tie", "both_bad"),
                    on_click=_choose_strength,
                    args=(assignment, level),
                )
        st.button(
            "Submit",
            key="label_submit",
            type="primary",
            shortcut="Enter",
            disabled=chosen is None,
            on_click=_submit,
            args=(store, project, assignment, submission_id),
        )
        st.button("Skip this pair", key="label_skip", on_click=_skip, args=(store, assignment))
    st.caption(render.key_hint(project))


def _details(project: Project, assignment: Assignment) -> None:
    """What a vote may carry besides the choice, below the fold."""
    if project.principles:
        st.pills(
            "Which principles decided it?",
            list(project.principles),
            selection_mode="multi",
            format_func=render.literal,
            key=render.form_key("principles", assignment),
        )
    if project.flags:
        st.pills(
            "Flags",
            list(project.flags),
            selection_mode="multi",
            format_func=render.literal,
            key=render.form_key("flags", assignment),
        )
    st.text_area(
        "Rationale (required)" if project.rationale_required else "Rationale (optional)",
        key=render.form_key("rationale", assignment),
        height=80,
    )


def _header(project: Project, judged: int, to_go: int) -> None:
    """The project, how far the rater is, and the guidelines, in one line."""
    name, bar, guide = st.columns([2, 5, 2], vertical_alignment="center")
    name.markdown(f"**{render.literal(project.name)}**")
    bar.progress(judged / max(judged + to_go, 1), text=f"{judged} judged · {to_go} to go")
    with guide.popover("Guidelines", icon=":material/menu_book:"):
        st.markdown(render.safe_markdown(project.guidelines or "No guidelines yet."))


def main() -> None:
    store, rater = session.require_rater()
    project = session.chosen_project(store)
    if project is None:
        st.title("Labeling")
        st.success("All done: nothing is waiting for you right now. Thank you!")
        return

    try:
        assignment = cache.assigner(store).next_pair(rater, project)
    except StoreWriteError as failure:  # handing out a pair is a write too
        st.error(f"No pair for you yet: {_cannot_write(failure)} in a moment.")
        return
    progress = store.progress(rater, project.project_id)
    to_go = render.pairs_to_go(progress, project.gold_rate, current=assignment is not None)
    _header(project, progress["judged"], to_go)
    _notice(last=assignment is None)
    if assignment is None:
        st.success("All done: you have judged every pair waiting for you. Thank you!")
        return
    _show_pair(store.pair(assignment.pair_id) or {}, assignment)
    _choice_buttons(store, project, assignment)
    _details(project, assignment)


if __name__ == "__main__":  # streamlit runs a page file as __main__; importing it draws nothing
    main()
