"""Project settings: create a project, edit the chosen one's labeling rules (and how the
next pair is chosen), and make probe pairs that test its raters."""

from __future__ import annotations

import dataclasses
from typing import Any

import streamlit as st

from data.store import Project, Store
from labeling.edits import EDITS
from labeling.policies import POLICIES
from labeling.rater_probes import make_probe_pairs
from ui import render, session

_NOTICE_KEY = "project_notice"


def _create(store: Store) -> None:
    state = st.session_state
    project_id = str(state.get("project_new_id", "")).strip()
    name = str(state.get("project_new_name", "")).strip() or project_id
    if not render.valid_id(project_id):
        state[_NOTICE_KEY] = ("error", "The id needs letters, digits, '_', '.' or '-' only.")
    elif store.project(project_id) is not None:
        state[_NOTICE_KEY] = ("error", f"A project with the id {project_id!r} exists already.")
    else:
        store.save_project(Project(project_id, name))
        state[session.PROJECT_KEY] = project_id
        state[_NOTICE_KEY] = ("success", f"Created {name!r}. Set its rules below.")


def _edit_key(field: str, project: Project) -> str:
    # Keyed by project, so choosing another project loads its values into fresh widgets.
    return f"project_edit_{field}_{project.project_id}"


def _save(store: Store, project: Project) -> None:
    def value(field: str) -> Any:
        return st.session_state[_edit_key(field, project)]

    edited = dataclasses.replace(
        project,
        name=str(value("name")).strip() or project.name,
        guidelines=str(value("guidelines")),
        principles=render.parse_lines(str(value("principles"))),
        overlap_k=int(value("overlap_k")),
        gold_rate=float(value("gold_rate")),
        probe_rate=float(value("probe_rate")),
        policy=str(value("policy")),
        strength_enabled=bool(value("strength_enabled")),
        strength_required=bool(value("strength_required")),
        tie_allowed=bool(value("tie_allowed")),
        both_bad_allowed=bool(value("both_bad_allowed")),
        rationale_required=bool(value("rationale_required")),
        flags=render.parse_lines(str(value("flags"))),
        reclaim_minutes=int(value("reclaim_minutes")),
    )
    store.save_project(edited)
    st.session_state[_NOTICE_KEY] = ("success", f"Saved the settings of {edited.name!r}.")


def _make_probes(store: Store, project: Project) -> None:
    kinds = tuple(st.session_state.get("project_probe_kinds") or ())
    made = make_probe_pairs(
        store.pairs(project.project_id),
        store.judgments(project.project_id),
        kinds,
        raters=store.raters(),
    )
    counts = store.import_frames(made.pairs, None, project.project_id)
    lines = [f"{counts.pairs_new} new probe pairs ({counts.pairs_existing} there already).", ""]
    st.session_state[_NOTICE_KEY] = ("success", "\n".join(lines + made.summary(kinds)))


def main() -> None:
    store = session.require_admin()
    st.title("Project settings")
    notice = st.session_state.pop(_NOTICE_KEY, None)
    if notice is not None:
        (st.success if notice[0] == "success" else st.error)(render.literal(notice[1]))

    creating = st.expander("Create a project", expanded=not store.projects())
    with creating, st.form("project_create_form", clear_on_submit=True):
        st.text_input("Id", key="project_new_id", help="Short and stable, e.g. helpful-2025.")
        st.text_input("Name", key="project_new_name")
        st.form_submit_button("Create project", on_click=_create, args=(store,))

    project = session.chosen_project(store)
    if project is None:
        return

    st.subheader(render.literal(project.name))
    st.caption(
        render.literal(f"Id: {project.project_id}") + (" · demo project" if project.is_demo else "")
    )
    with st.form("project_edit_form"):
        st.text_input("Name", value=project.name, key=_edit_key("name", project))
        st.text_area(
            "Guidelines (Markdown)",
            value=project.guidelines,
            height=240,
            key=_edit_key("guidelines", project),
        )
        st.text_area(
            "Principles (one per line)",
            value="\n".join(project.principles),
            key=_edit_key("principles", project),
        )
        st.text_area(
            "Flags raters can raise (one per line)",
            value="\n".join(project.flags),
            key=_edit_key("flags", project),
        )
        numbers = st.columns(5)
        numbers[0].number_input(
            "Votes per pair (overlap k)",
            min_value=1,
            value=project.overlap_k,
            key=_edit_key("overlap_k", project),
        )
        numbers[1].number_input(
            "Gold rate",
            min_value=0.0,
            max_value=1.0,
            step=0.01,
            value=project.gold_rate,
            key=_edit_key("gold_rate", project),
            help="Share of hidden gold items mixed into a rater's pairs.",
        )
        numbers[2].number_input(
            "Probe rate",
            min_value=0.0,
            max_value=1.0,
            step=0.01,
            value=project.probe_rate,
            key=_edit_key("probe_rate", project),
            help="Share of hidden checks of the raters: probe pairs (made below) and retests.",
        )
        numbers[3].selectbox(
            "Next pair",
            POLICIES,
            index=list(POLICIES).index(project.policy) if project.policy in POLICIES else 0,
            key=_edit_key("policy", project),
            help=(
                "uniform: least covered first. disputed: pairs whose votes are split first."
                " model: pairs where a checkpoint's scores doubt the votes first (load them"
                " with `intentgap project ID --scores scores.parquet`)."
            ),
        )
        numbers[4].number_input(
            "Reclaim after (minutes)",
            min_value=1,
            value=project.reclaim_minutes,
            key=_edit_key("reclaim_minutes", project),
            help="An unanswered pair goes back to the pool after this long.",
        )
        switches = st.columns(5)
        switches[0].toggle(
            "Ask strength",
            value=project.strength_enabled,
            key=_edit_key("strength_enabled", project),
        )
        switches[1].toggle(
            "Require strength",
            value=project.strength_required,
            key=_edit_key("strength_required", project),
            help="A left/right vote is saved only with how much better (keys S, D, F).",
        )
        switches[2].toggle(
            "Allow tie", value=project.tie_allowed, key=_edit_key("tie_allowed", project)
        )
        switches[3].toggle(
            "Allow 'both bad'",
            value=project.both_bad_allowed,
            key=_edit_key("both_bad_allowed", project),
        )
        switches[4].toggle(
            "Require rationale",
            value=project.rationale_required,
            key=_edit_key("rationale_required", project),
        )
        st.form_submit_button("Save settings", on_click=_save, args=(store, project))

    with st.expander("Test the raters: probe pairs"), st.form("project_probes_form"):
        st.caption(
            "A pair with gold or a strong consensus, its intended loser given a surface edit"
            " that adds no substance (padding, flattery, ...). Served hidden at the probe"
            " rate; the Raters audit shows who is swayed. Making them again adds nothing."
        )
        st.multiselect("Kinds", EDITS, default=list(EDITS), key="project_probe_kinds")
        st.form_submit_button("Make probe pairs", on_click=_make_probes, args=(store, project))

    with st.expander("Guidelines as raters see them"):
        st.markdown(render.safe_markdown(project.guidelines or "No guidelines yet."))


if __name__ == "__main__":  # streamlit runs a page file as __main__; importing it draws nothing
    main()
