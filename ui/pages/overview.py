"""Admin overview: counts per project, coverage of the chosen project, recent votes."""

from __future__ import annotations

import polars as pl
import streamlit as st

from ui import render, session, widgets


def main() -> None:
    store = session.require_admin()
    st.title("Overview")

    projects = store.projects()
    if not projects:
        st.info("No project yet. Create one under Project settings, then import pairs.")
        return

    st.subheader("Projects")
    widgets.table(
        [{"project": p.name, "id": p.project_id, **store.counts(p.project_id)} for p in projects]
    )

    project = session.chosen_project(store)
    if project is not None:
        st.subheader(f"Coverage: {render.literal(project.name)}")
        st.caption(f"Work pairs by number of votes (each pair needs {project.overlap_k}).")
        counters = store.coverage(project.project_id)
        coverage = render.coverage_histogram(
            counters.select("pair_id", "is_gold"),
            counters.select(pl.col("pair_id").repeat_by("n_done").explode().drop_nulls()),
            project.overlap_k,
        )
        st.bar_chart(coverage, x="votes", y="pairs", horizontal=True, sort=False, height=220)
        widgets.table(coverage)

        st.subheader("Recent activity")
        recent = render.recent_activity(store.recent_judgments(project.project_id, 20))
        if recent.is_empty():
            st.caption("No votes yet.")
        else:
            widgets.table(recent)


if __name__ == "__main__":  # streamlit runs a page file as __main__; importing it draws nothing
    main()
