"""The sign-in page, and the session every other page stands on.

Importing this module gives the pages the one cached ``Store``, the role guards and the
chosen project; the sign-in page itself is drawn only when streamlit runs this file as a
page. (The helpers live here, not in ``app.py``, because streamlit runs the entry file as
``__main__``: a cache defined there would be a second cache when pages import it.)
"""

from __future__ import annotations

import os

import streamlit as st

from data.store import Project, Store
from data.workspace import Workspace
from labeling import auth
from labeling.assignment import Assigner

__all__ = [
    "PROJECT_KEY",
    "accept_link_token",
    "assigner",
    "chosen_project",
    "main",
    "open_store",
    "pick_project",
    "require_admin",
    "require_rater",
    "workspace_store",
]

#: The sidebar project picker's session key (set it in a callback to choose a project).
PROJECT_KEY = "app_project_id"
_ERROR_KEY = "signin_error"


@st.cache_resource(show_spinner=False, on_release=lambda store: store.close())
def open_store(database: str) -> Store:
    """The process's one Store for this database file (the app owns the file while it runs)."""
    return Store(database)


@st.cache_resource(show_spinner=False)
def _assigner(database: str) -> Assigner:
    return Assigner(open_store(database))


def workspace_store() -> Store:
    """The store of ``Workspace.resolve()``; raises ``WorkspaceLocked`` if another process
    holds it."""
    workspace = Workspace.resolve().create()
    return open_store(str(workspace.database))


def assigner(store: Store) -> Assigner:
    """The one assigner of this store (it remembers when it last reclaimed old assignments)."""
    return _assigner(str(store.path))


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
        st.session_state[_ERROR_KEY] = (
            "This sign-in link is not valid any more. Ask your admin for a new one."
        )
    else:
        auth.sign_in_rater(st.session_state, rater)


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


# -- the page --------------------------------------------------------------------------------


def _admin_password() -> auth.PasswordSource | None:
    try:
        secret = st.secrets.get(auth.ADMIN_PASSWORD_SECRET)
    except FileNotFoundError:  # no secrets.toml: fine, the other two places remain
        secret = None
    return auth.admin_password(
        os.environ, None if secret is None else str(secret), Workspace.resolve().admin_password_file
    )


def _sign_in_with_token(store: Store) -> None:
    typed = str(st.session_state.get("signin_token", ""))
    rater = store.rater_for_token(auth.token_from_input(typed))
    if rater is None:
        st.session_state[_ERROR_KEY] = "That token does not sign anyone in. Check it and retry."
    else:
        auth.sign_in_rater(st.session_state, rater)


def _sign_in_as_admin() -> None:
    typed = str(st.session_state.get("signin_password", ""))
    if auth.password_matches(typed, _admin_password()):
        auth.sign_in_admin(st.session_state)
    else:
        st.session_state[_ERROR_KEY] = "Wrong admin password."


def _demo_help(store: Store, password: auth.PasswordSource | None) -> None:
    if not any(project.is_demo for project in store.projects()):
        return
    with st.container(border=True):
        st.subheader("Demo: how to sign in")
        if password is not None:
            st.markdown(f"**Admin:** the password is in {password.where}.")
        tokens = auth.demo_raters(Workspace.resolve().demo_raters_file)
        if tokens:
            st.markdown("**Raters:** open one of these personal links.")
        for rater, token in tokens.items():
            link = auth.sign_in_link(st.context.url, token)
            st.markdown(f"[Sign in as {rater}]({link})")
            st.code(link, language=None)


def main() -> None:
    store = workspace_store()
    st.title("Sign in")
    error = st.session_state.pop(_ERROR_KEY, None)
    if error:
        st.error(error)
    rater_column, admin_column = st.columns(2, gap="large")
    with rater_column, st.form("signin_rater_form", clear_on_submit=True):
        st.subheader("Rater")
        st.caption("Open the personal link your admin gave you, or paste it (or the token) here.")
        st.text_input("Sign-in link or token", key="signin_token", type="password")
        st.form_submit_button("Sign in", on_click=_sign_in_with_token, args=(store,))
    password = _admin_password()
    with admin_column, st.form("signin_admin_form", clear_on_submit=True):
        st.subheader("Admin")
        if password is None:
            st.caption(
                f"No admin password is set: set {auth.ADMIN_PASSWORD_ENV}, or "
                f"{auth.ADMIN_PASSWORD_SECRET} in .streamlit/secrets.toml."
            )
        st.text_input("Admin password", key="signin_password", type="password")
        st.form_submit_button(
            "Sign in as admin", on_click=_sign_in_as_admin, disabled=password is None
        )
    _demo_help(store, password)


if __name__ == "__main__":  # streamlit runs a page file as __main__; importing it draws nothing
    main()
