"""Export: write a snapshot (preference set + votes + manifest) on the server and say where.

The files are not offered for download: a Streamlit download button serves its bytes at a
URL that works without a session, and an admin page's data must need an admin.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import streamlit as st

from data.export import MANIFEST_FILE
from data.store import Project, Store
from data.workspace import StoreWriteError, Workspace
from labeling.preference_set import ExportOptions, export_snapshot
from ui import session, widgets
from ui.render import literal

_FOLDER_KEY = "export_folder"
_ERROR_KEY = "export_error"


def _export(store: Store, project: Project) -> None:
    state = st.session_state
    out_dir = Workspace.resolve().snapshots / datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    try:
        options = ExportOptions(
            min_judgments=int(state["export_min_judgments"]),
            min_agreement=float(state["export_min_agreement"]),
            ties="soft" if state["export_ties"] == "soft" else "drop",
            include_gold=bool(state["export_include_gold"]),
            posterior=bool(state["export_posterior"]),
            with_probes=bool(state["export_with_probes"]),
        )
        export_snapshot(store, out_dir, project_id=project.project_id, options=options)
    except (ValueError, FileExistsError, StoreWriteError) as problem:
        state[_ERROR_KEY] = str(problem)  # shown after "Nothing was written:"
        return
    state[_FOLDER_KEY] = str(out_dir)


def main() -> None:
    store = session.require_admin()
    st.title("Export")
    project = session.chosen_project(store)
    if project is None:
        st.info("No project yet. Create one under Project settings.")
        return

    st.caption(
        f"Writes a snapshot of {literal(repr(project.name))} under "
        f"{literal(Workspace.resolve().snapshots)}: "
        "pairs.parquet (TRL prompt/chosen/rejected), judgments.parquet (every vote), "
        "probes.parquet (the probe pairs among them, if any) and manifest.json."
    )
    with st.form("export_form"):
        st.number_input(
            "Keep pairs with at least this many votes",
            min_value=1,
            value=1,
            key="export_min_judgments",
        )
        st.slider(
            "Keep pairs whose agreement is at least",
            min_value=0.0,
            max_value=1.0,
            value=0.0,
            step=0.05,
            key="export_min_agreement",
        )
        st.radio(
            "Ties",
            ["drop", "soft"],
            horizontal=True,
            key="export_ties",
            format_func={"drop": "leave tied pairs out", "soft": "keep them (label 0.5)"}.get,
        )
        st.toggle("Include gold pairs", value=True, key="export_include_gold")
        st.checkbox(
            "Include probe pairs",
            value=False,
            key="export_with_probes",
            help="Probe pairs are surface edits made to test the raters, not data: they are "
            "left out of pairs.parquet unless this is ticked. Their votes stay in "
            "judgments.parquet, and probes.parquet names them either way.",
        )
        st.toggle(
            "Add the Dawid-Skene posterior as a soft label",
            value=True,
            key="export_posterior",
            help="A label that trusts the reliable raters more (column posterior); the "
            "training page can train on it.",
        )
        st.form_submit_button(
            "Export snapshot", type="primary", on_click=_export, args=(store, project)
        )

    error = st.session_state.pop(_ERROR_KEY, None)
    if error:
        st.error(f"Nothing was written: {error}")

    folder = st.session_state.get(_FOLDER_KEY)
    if folder is not None and Path(folder).is_dir():
        snapshot = Path(folder)
        st.success(f"Snapshot written on the server to {literal(snapshot)}")
        widgets.table(
            [
                {"file": file.name, "bytes": file.stat().st_size}
                for file in sorted(snapshot.iterdir())
            ]
        )
        # No download button: Streamlit serves a button's bytes at a /media/ URL that anyone
        # holding it can fetch, with no session. The files stay on the server.
        st.caption(
            "The Train page trains on it where it is. To take it elsewhere, copy the folder "
            "from the server (or run `intentgap export` in a terminal there):"
        )
        st.code(f"cp -r {snapshot} DESTINATION", language="bash")
        st.subheader("Manifest")
        st.json((snapshot / MANIFEST_FILE).read_text(encoding="utf-8"))


if __name__ == "__main__":  # streamlit runs a page file as __main__; importing it draws nothing
    main()
