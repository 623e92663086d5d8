"""Import: upload a file of pairs and/or votes into the chosen project.

Nothing is written when the file is refused; the error names the file, line and column.
Every rater's page runs in this process, so an upload is capped (``UPLOAD_LIMIT_MB``) and
spooled to disk, and what it expands to is capped by the import's ``MAX_BYTES``: an import
from here peaks at about 1.5 GB of memory, whatever the file.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import streamlit as st

from data.formats import FORMATS
from data.importers import import_file
from data.presets import PRESETS
from data.shapes import SHAPES
from data.store import Project, Store
from ui import render, session

_AUTO = "auto"
_NONE = "none"
_RESULT_KEY = "import_result"
#: The largest upload, in megabytes (the browser refuses larger files before sending them).
UPLOAD_LIMIT_MB = 100


def _import(store: Store, project: Project) -> None:
    state = st.session_state
    upload = state.get("import_upload")
    if upload is None:
        state[_RESULT_KEY] = ("error", "Choose a file first.")
        return
    try:
        mapping = render.parse_mapping(str(state.get("import_mapping", "")))
    except ValueError as problem:
        state[_RESULT_KEY] = ("error", f"Column mapping, {problem}")
        return
    with tempfile.TemporaryDirectory(prefix="intentgap-upload-") as folder:
        # The upload keeps its own name, so errors name the file the admin knows.
        path = Path(folder) / Path(upload.name).name
        try:
            with path.open("wb") as spooled:
                shutil.copyfileobj(upload, spooled)  # not getvalue(): no second copy in memory
            report = import_file(
                store,
                path,
                project.project_id,
                format=None if state["import_format"] == _AUTO else state["import_format"],
                shape=None if state["import_shape"] == _AUTO else state["import_shape"],
                preset=None if state["import_preset"] == _NONE else state["import_preset"],
                mapping=mapping or None,
                source_rater=str(state.get("import_source_rater", "")).strip() or None,
            )
        except ValueError as refused:  # InputError names the file, line and column
            state[_RESULT_KEY] = ("error", f"Nothing was imported. {refused}")
            return
        except OSError as failed:  # the upload could not be spooled to disk
            why = failed.strerror or str(failed)
            state[_RESULT_KEY] = (
                "error",
                f"Nothing was imported: the upload could not be saved ({why}).",
            )
            return
    state[_RESULT_KEY] = ("success", report.summary())


def main() -> None:
    store = session.require_admin()
    st.title("Import")
    project = session.chosen_project(store)
    if project is None:
        st.info("No project yet. Create one under Project settings, then import into it.")
        return

    st.caption(
        f"Into {render.literal(repr(project.name))}. JSON Lines, CSV or Parquet; pairs (prompt,"
        " response_a, response_b), TRL preference sets (prompt/chosen/rejected) or votes."
        " Re-importing the same file changes nothing."
    )
    st.file_uploader(
        "File",
        type=["jsonl", "json", "csv", "parquet", "gz"],
        key="import_upload",
        max_upload_size=UPLOAD_LIMIT_MB,
        help=f"Up to {UPLOAD_LIMIT_MB} MB; a larger set imports with `intentgap import`.",
    )
    choices = st.columns(3)
    choices[0].selectbox("Format", (_AUTO, *FORMATS), key="import_format")
    choices[1].selectbox("Shape", (_AUTO, *SHAPES), key="import_shape")
    choices[2].selectbox(
        "Preset",
        (_NONE, *PRESETS),
        key="import_preset",
        help="\n\n".join(f"**{p.name}**: {p.description}" for p in PRESETS.values()),
    )
    st.text_area(
        "Column mapping (optional), one per line: their_column=our_column",
        key="import_mapping",
        placeholder="question=prompt\nanswer_1=response_a",
        height=90,
    )
    st.text_input(
        "Rater id for the file's own labels (optional)",
        key="import_source_rater",
        help="A TRL set's chosen/rejected label is stored as this rater's vote.",
    )
    st.button("Import", type="primary", key="import_run", on_click=_import, args=(store, project))

    result = st.session_state.pop(_RESULT_KEY, None)
    if result is not None:
        kind, text = result
        if kind == "success":
            st.success("Imported.")
            st.code(text, language=None)
        else:
            st.error(render.literal(text))


if __name__ == "__main__":  # streamlit runs a page file as __main__; importing it draws nothing
    main()
