"""The labeling page: one pair at a time, the two responses side by side, keyboard first.

Keys: 1 left, 2 right, 0 tie, Enter submits. Writes happen in button callbacks with a
submission id made once per shown pair, so a double click or a resend saves one vote.
"""

from __future__ import annotations

import uuid
from typing import Any

import streamlit as st

from data import frames
from data.store import Assignment, Project, Store, SubmissionRefused
from ui import cache, render, session

_CHOICE_KEY = "label_choice"
_CURRENT_KEY = "label_current"
_NOTICE_KEY = "label_notice"
_BUTTONS = {
    "left": ("Left is better", "1"),
    "right": ("Right is better", "2"),
    "tie": ("Tie", "0"),
    "both_bad": ("Both bad", "9"),
}


def _key(name: str, assignment: Assignment) -> str:
    """Form keys carry the pair, so every new pair starts with an empty form."""
    return f"label_{name}_{assignment.pair_id}_{assignment.round}"


def _choose(position: str) -> None:
    st.session_state[_CHOICE_KEY] = position


def _submit(store: Store, project: Project, assignment: Assignment, submission_id: str) -> None:
    state = st.session_state
    try:
        submission = render.submission_from_form(
            project,
            assignment,
            submission_id,
            position=state.get(_CHOICE_KEY),
            strength=state.get(_key("strength", assignment)),
            rationale=state.get(_key("rationale", assignment)) or "",
            principles=state.get(_key("principles", assignment)) or (),
            flags=state.get(_key("flags", assignment)) or (),
        )
        saved = store.submit(submission)
    except (render.FormIncomplete, SubmissionRefused) as problem:
        state[_NOTICE_KEY] = ("error", f"Not saved: {problem}")
        return
    state[_CHOICE_KEY] = None
    state[_NOTICE_KEY] = (
        ("success", "Saved. Here is the next pair.")
        if saved
        else ("info", "That vote was already saved.")
    )


def _skip(store: Store, assignment: Assignment) -> None:
    store.skip(assignment.rater_id, assignment.pair_id, assignment.round)
    st.session_state[_CHOICE_KEY] = None
    st.session_state[_NOTICE_KEY] = ("info", "Skipped. You will not see that pair again.")


def _show_text(text: str | None) -> None:
    shown = render.cap(text)
    st.markdown(render.safe_markdown(shown.text))
    if shown.truncated:
        st.caption(f"({shown.hidden_chars:,} more characters not shown)")


def _notice() -> None:
    notice = st.session_state.pop(_NOTICE_KEY, None)
    if notice is not None:
        kind, text = notice
        {"success": st.success, "error": st.error, "info": st.info}[kind](text)


def _submission_id(assignment: Assignment) -> str:
    """Made once per shown assignment and kept until the next one."""
    current: dict[str, Any] | None = st.session_state.get(_CURRENT_KEY)
    shown = (assignment.pair_id, assignment.round)
    if current is None or current["shown"] != shown:
        current = {"shown": shown, "submission_id": uuid.uuid4().hex}
        st.session_state[_CURRENT_KEY] = current
        st.session_state[_CHOICE_KEY] = None
    return str(current["submission_id"])


def _show_pair(pair: dict[str, Any], assignment: Assignment) -> None:
    st.subheader("Prompt")
    with st.container(height=180, border=True):
        for turn in render.conversation(pair.get("prompt") or "", pair.get("prompt_messages")):
            with st.chat_message(turn.role):
                _show_text(turn.content)
    sides = render.sides(assignment.shown_left)
    for column, side, heading in zip(st.columns(2), sides, ("Left", "Right"), strict=True):
        with column:
            st.subheader(heading)
            with st.container(height=380, border=True):
                _show_text(pair.get(f"response_{side}"))


def _answer_form(store: Store, project: Project, assignment: Assignment) -> None:
    submission_id = _submission_id(assignment)
    allowed = {
        "left": True,
        "right": True,
        "tie": project.tie_allowed,
        "both_bad": project.both_bad_allowed,
    }
    chosen = st.session_state.get(_CHOICE_KEY)
    with st.container(horizontal=True):
        for position, (label, shortcut) in _BUTTONS.items():
            if allowed[position]:
                st.button(
                    label,
                    key=f"label_choose_{position}",
                    shortcut=shortcut,
                    type="primary" if chosen == position else "secondary",
                    on_click=_choose,
                    args=(position,),
                )
    if project.strength_enabled and chosen in ("left", "right"):
        st.segmented_control(
            "How much better?",
            list(frames.STRENGTH_LABELS),
            format_func=frames.STRENGTH_LABELS.__getitem__,
            key=_key("strength", assignment),
        )
    if project.principles:
        st.pills(
            "Which principles decided it?",
            list(project.principles),
            selection_mode="multi",
            key=_key("principles", assignment),
        )
    if project.flags:
        st.pills(
            "Flags", list(project.flags), selection_mode="multi", key=_key("flags", assignment)
        )
    st.text_area(
        "Rationale (required)" if project.rationale_required else "Rationale (optional)",
        key=_key("rationale", assignment),
        height=80,
    )
    with st.container(horizontal=True):
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
    st.caption("Keys: 1 left · 2 right · 0 tie · Enter submits (not while typing in a text box).")


def main() -> None:
    store, rater = session.require_rater()
    project = session.chosen_project(store)
    if project is None:
        st.title("Labeling")
        st.success("All done: nothing is waiting for you right now. Thank you!")
        return

    assignment = cache.assigner(store).next_pair(rater, project)
    progress = store.progress(rater, project.project_id)
    title_column, guide_column = st.columns([5, 1], vertical_alignment="bottom")
    title_column.title(project.name)
    with guide_column.popover("Guidelines", icon=":material/menu_book:"):
        st.markdown(render.safe_markdown(project.guidelines or "No guidelines yet."))
    to_go = progress["available"] + (assignment is not None)
    st.progress(
        progress["judged"] / max(progress["judged"] + to_go, 1),
        text=f"{progress['judged']} judged · {to_go} to go",
    )
    _notice()
    if assignment is None:
        st.success("All done: you have judged every pair waiting for you. Thank you!")
        return
    _show_pair(store.pair(assignment.pair_id) or {}, assignment)
    _answer_form(store, project, assignment)


if __name__ == "__main__":  # streamlit runs a page file as __main__; importing it draws nothing
    main()
