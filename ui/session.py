"""The session every page stands on: the workspace's store, who is signed in, which project.

Every admin page starts with ``require_admin()``, the labeling pages with
``require_rater()``; ``app.py`` accepts a sign-in link and draws the project picker.
"""

from __future__ import annotations

import os

import streamlit as st

from data.store import Project, Store
from data.workspace import Workspace
from ui import auth
from ui.cache import open_store

__all__ = [
    "ERROR_KEY",
    "PROJECT_KEY",
    "accept_link_token",
    "admin_password",
    "chosen_project",
    "pick_project",
    "require_admin",
    "require_rater",
    "workspace_store",
]

#: The sidebar project picker's session key (set it in a callback to choose a project).
PROJECT_KEY = "app_project_id"
#: Where a sign-in failure waits to be shown by the sign-in page.
ERROR_KEY = "signin_error"


def workspace_store() -> Store:
    """The store of ``Workspace.resolve()``; raises ``WorkspaceLocked`` if another process
    holds it."""
    workspace = Workspace.resolve().create()
    return open_store(str(workspace.database))


def require_admin() -> Store:
    """Every admin page calls this first: it stops the page unless an admin is signed in."""
    if not auth.is_admin(st.session_state):
        st.error("This page is for admins. Sign in as admin to open it.")
        st.stop()
    return workspace_store()


def require_rater() -> tuple[Store, str]:
    """The store and the signed-in rater (from their token); stops the page otherwise."""
    rater = auth.rater_id(st.session_state)
    if rater is None:
        st.error("Open your personal sign-in link, or paste your token on the sign-in page.")
        st.stop()
    store = workspace_store()
    if not store.rater_is_active(rater):
        auth.sign_out(st.session_state)
        st.error("Your access was turned off. Ask your admin if this is a mistake.")
        st.stop()
    return store, rater


def accept_link_token(store: Store) -> None:
    """Sign in the rater whose token is in the URL (``/?token=...``), then drop it from the
    URL so it does not linger in the address bar, history or screenshots."""
    token = st.query_params.get("token")
    if token is None:
        return
    del st.query_params["token"]
    rater = store.rater_for_token(token)
    if rater is None:
        auth.sign_out(st.session_state)
        st.session_state[ERROR_KEY] = (
            "This sign-in link is not valid any more. Ask your admin for a new one."
        )
    else:
        auth.sign_in_rater(st.session_state, rater)


def admin_password() -> auth.PasswordSource | None:
    """The admin password from the environment, ``.streamlit/secrets.toml`` or the
    workspace's password file (``auth.admin_password`` says in which order)."""
    try:
        secret = st.secrets.get(auth.ADMIN_PASSWORD_SECRET)
    except FileNotFoundError:  # no secrets.toml: fine, the other two places remain
        secret = None
    return auth.admin_password(
        os.environ, None if secret is None else str(secret), Workspace.resolve().admin_password_file
    )


def _projects_for(store: Store) -> list[Project]:
    rater = auth.rater_id(st.session_state)
    if rater is None:
        return store.projects()
    # A rater sees the projects with work left for them or votes of theirs, nothing else.
    return [
        project
        for project in store.projects()
        if store.open_assignment(rater, project.project_id) is not None
        or any(store.progress(rater, project.project_id)[k] for k in ("available", "judged"))
    ]


def pick_project(store: Store) -> None:
    """The project picker in the sidebar (admin: every project; rater: theirs)."""
    projects = _projects_for(store)
    if not projects:
        st.session_state.pop(PROJECT_KEY, None)
        return
    names = {project.project_id: project.name for project in projects}
    st.sidebar.selectbox("Project", list(names), format_func=names.__getitem__, key=PROJECT_KEY)


def chosen_project(store: Store) -> Project | None:
    project_id = st.session_state.get(PROJECT_KEY)
    return None if project_id is None else store.project(str(project_id))
