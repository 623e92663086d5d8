"""The browser door: opens the workspace's one database and shows each role its pages.

Signed out: the sign-in page only. Rater: labeling and guidelines. Admin: overview, project
settings, raters, import, export, the audit pages and the reward-model pages. Admin pages also
check the role themselves, so a page missing from a rater's navigation is not the only thing
keeping them out.
Run with ``streamlit run app.py`` (or ``intentgap serve``).
"""

from __future__ import annotations

import streamlit as st

from data.store import WorkspaceLocked
from data.workspace import StoreWriteError
from ui import auth, hardening, session

# An emoji icon is drawn by the browser itself; a ":material/...:" one is fetched from Google.
st.set_page_config(page_title="intentgap", page_icon="⚖️", layout="wide")

try:
    store = session.workspace_store()
except WorkspaceLocked as locked:  # its message says who holds the file and what helps
    st.error(str(locked))
    st.stop()
except StoreWriteError as failure:
    st.error(f"The server cannot open its database: {failure}. Try again later.")
    st.stop()

session.check_sign_in(store)  # a link in the URL, the cookie, or the session still alive
role = auth.role(st.session_state)


if role is auth.Role.ADMIN:
    pages = {
        "Admin": [
            st.Page(
                "ui/pages/overview.py",
                title="Overview",
                url_path="overview",
                icon=":material/dashboard:",
                default=True,
            ),
            st.Page(
                "ui/pages/project.py",
                title="Project settings",
                url_path="project",
                icon=":material/tune:",
            ),
            st.Page(
                "ui/pages/raters.py",
                title="Raters",
                url_path="raters",
                icon=":material/group:",
            ),
            st.Page(
                "ui/pages/import_data.py",
                title="Import",
                url_path="import",
                icon=":material/upload:",
            ),
            st.Page(
                "ui/pages/export_data.py",
                title="Export",
                url_path="export",
                icon=":material/download:",
            ),
        ],
        "Audit": [
            st.Page(
                "ui/pages/agreement.py",
                title="Agreement",
                url_path="agreement",
                icon=":material/handshake:",
            ),
            st.Page(
                "ui/pages/raters_audit.py",
                title="Raters audit",
                url_path="raters-audit",
                icon=":material/person_search:",
            ),
            st.Page(
                "ui/pages/disputes.py",
                title="Disputed pairs",
                url_path="disputes",
                icon=":material/forum:",
            ),
            st.Page(
                "ui/pages/leaderboard.py",
                title="Leaderboard",
                url_path="leaderboard",
                icon=":material/leaderboard:",
            ),
        ],
        "Reward models": [
            st.Page(
                "ui/pages/train.py",
                title="Train",
                url_path="train",
                icon=":material/model_training:",
            ),
            st.Page(
                "ui/pages/inspect_model.py",
                title="Inspect",
                url_path="inspect",
                icon=":material/troubleshoot:",
            ),
        ],
    }
elif role is auth.Role.RATER:
    pages = {
        "Labeling": [
            st.Page(
                "ui/pages/label.py",
                title="Label",
                url_path="label",
                icon=":material/thumbs_up_down:",
                default=True,
            ),
            st.Page(
                "ui/pages/guidelines.py",
                title="Guidelines",
                url_path="guidelines",
                icon=":material/menu_book:",
            ),
        ]
    }
else:
    pages = {
        "": [
            st.Page(
                "ui/pages/signin.py",
                title="Sign in",
                url_path="signin",
                icon=":material/login:",
                default=True,
            )
        ]
    }

navigation = st.navigation(pages)
if role is not None:
    session.pick_project(store)
    session.sign_out_button(store)
try:
    navigation.run()
except Exception as error:  # st.stop() and st.rerun() are not Exceptions: they pass on
    hardening.report_error(error)
