"""The sign-in page: a rater's personal link or token, or the admin password."""

from __future__ import annotations

import streamlit as st

from data.store import Store
from data.workspace import Workspace
from ui import auth, session


def _sign_in_with_token(store: Store) -> None:
    typed = str(st.session_state.get("signin_token", ""))
    rater = store.rater_for_token(auth.token_from_input(typed))
    if rater is None:
        st.session_state[session.ERROR_KEY] = (
            "That token does not sign anyone in. Check it and retry."
        )
    else:
        auth.sign_in_rater(st.session_state, rater)


def _sign_in_as_admin() -> None:
    typed = str(st.session_state.get("signin_password", ""))
    if auth.password_matches(typed, session.admin_password()):
        auth.sign_in_admin(st.session_state)
    else:
        st.session_state[session.ERROR_KEY] = "Wrong admin password."


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
    store = session.workspace_store()
    st.title("Sign in")
    error = st.session_state.pop(session.ERROR_KEY, None)
    if error:
        st.error(error)
    rater_column, admin_column = st.columns(2, gap="large")
    with rater_column, st.form("signin_rater_form", clear_on_submit=True):
        st.subheader("Rater")
        st.caption("Open the personal link your admin gave you, or paste it (or the token) here.")
        st.text_input("Sign-in link or token", key="signin_token", type="password")
        st.form_submit_button("Sign in", on_click=_sign_in_with_token, args=(store,))
    password = session.admin_password()
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
