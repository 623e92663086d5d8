"""The project's guidelines, principles and how to answer, for raters."""

from __future__ import annotations

import streamlit as st

from data import frames
from ui import render, session


def main() -> None:
    store, _ = session.require_rater()
    project = session.chosen_project(store)
    st.title("Guidelines")
    if project is None:
        st.info("No project is waiting for you right now.")
        return

    st.caption(render.literal(project.name))
    st.markdown(render.safe_markdown(project.guidelines or "No guidelines yet."))
    if project.principles:
        st.subheader("Principles")
        st.markdown("\n".join(f"- {render.literal(p)}" for p in project.principles))

    st.subheader("How to answer")
    answers = ["- **Left is better** (key 1) or **Right is better** (key 2)."]
    if project.tie_allowed:
        answers.append("- **Tie** (key 0): neither response is better.")
    if project.both_bad_allowed:
        answers.append("- **Both bad** (key 9): neither response is acceptable.")
    if project.strength_enabled:
        answers.append(
            ("- Then say" if project.strength_required else "- Then, if you can tell,")
            + " how much better: "
            + ", ".join(
                f"**{frames.STRENGTH_LABELS[level]}** (key {key})"
                for level, key in render.STRENGTH_KEYS.items()
            )
            + "."
        )
    answers.append("- **Enter** submits. **Skip this pair** if you cannot judge it.")
    if project.rationale_required:
        answers.append("- Every vote needs a short rationale.")
    st.markdown("\n".join(answers))


if __name__ == "__main__":  # streamlit runs a page file as __main__; importing it draws nothing
    main()
