"""The sign-in page: a rater's personal link or token, or the admin password; in a workspace
that holds only the demo, also the demo's raters, one button each."""

from __future__ import annotations

import streamlit as st

from data.store import Store
from ui import auth, session


def _sign_in_with_token(store: Store) -> None:
    session.sign_in_with_token(store, str(st.session_state.get("signin_token", "")))


def _sign_in_as_admin(store: Store) -> None:
    session.sign_in_as_admin(store, str(st.session_state.get("signin_password", "")))


def _demo_help(store: Store, password: auth.PasswordSource | None) -> None:
    if not session.demo_only(store):
        return  # real projects here: the demo's raters are not offered to whoever comes by
    with st.container(border=True):
        st.subheader("Demo: how to sign in")
        if password is not None:
            st.markdown(f"**Admin:** the password is in {password.where}.")
        raters = store.demo_raters()
        if raters:
            st.markdown(
                "**Raters:** pick one. This workspace holds only the demo, so anyone who"
                " reaches it may label it; these raters can label nothing else."
            )
        with st.container(horizontal=True):
            for rater in raters:
                st.button(
                    f"Sign in as {rater}",
                    key=f"signin_demo_{rater}",
                    on_click=session.sign_in_as_demo_rater,
                    args=(store, rater),
                )


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
            "Sign in as admin",
            on_click=_sign_in_as_admin,
            args=(store,),
            disabled=password is None,
        )
    _demo_help(store, password)


if __name__ == "__main__":  # streamlit runs a page file as __main__; importing it draws nothing
    main()
