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
from labeling import auth
from labeling import signin_page as session

st.set_page_config(page_title="intentgap", page_icon=":material/balance:", layout="wide")

try:
    store = session.workspace_store()
except WorkspaceLocked as locked:
    st.error(str(locked))
    st.stop()

session.accept_link_token(store)
role = auth.role(st.session_state)


if role is auth.Role.ADMIN:
    pages = {
        "Admin": [
            st.Page(
                "labeling/admin_overview_page.py",
                title="Overview",
                url_path="overview",
                icon=":material/dashboard:",
                default=True,
            ),
            st.Page(
                "labeling/project_page.py",
                title="Project settings",
                url_path="project",
                icon=":material/tune:",
            ),
            st.Page(
                "labeling/raters_page.py",
                title="Raters",
                url_path="raters",
                icon=":material/group:",
            ),
            st.Page(
                "labeling/import_page.py",
                title="Import",
                url_path="import",
                icon=":material/upload:",
            ),
            st.Page(
                "labeling/export_page.py",
                title="Export",
                url_path="export",
                icon=":material/download:",
            ),
        ],
        "Audit": [
            st.Page(
                "labeling/audit_page.py",
                title="Agreement",
                url_path="agreement",
                icon=":material/handshake:",
            ),
            st.Page(
                "labeling/raters_audit_page.py",
                title="Raters audit",
                url_path="raters-audit",
                icon=":material/person_search:",
            ),
            st.Page(
                "labeling/disputes_page.py",
                title="Disputed pairs",
                url_path="disputes",
                icon=":material/forum:",
            ),
            st.Page(
                "labeling/leaderboard_page.py",
                title="Leaderboard",
                url_path="leaderboard",
                icon=":material/leaderboard:",
            ),
        ],
        "Reward models": [
            st.Page(
                "reward/train_page.py",
                title="Train",
                url_path="train",
                icon=":material/model_training:",
            ),
            st.Page(
                "reward/inspect_page.py",
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
                "labeling/label_page.py",
                title="Label",
                url_path="label",
                icon=":material/thumbs_up_down:",
                default=True,
            ),
            st.Page(
                "labeling/guidelines_page.py",
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
                "labeling/signin_page.py",
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
    st.sidebar.button(
        "Sign out", icon=":material/logout:", on_click=auth.sign_out, args=(st.session_state,)
    )
navigation.run()
