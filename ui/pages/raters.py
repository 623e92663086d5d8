"""Raters: create one and hand out their sign-in link, reset a link, deactivate a rater.

A link is shown once, on the page run right after it is made, and then forgotten: the store
keeps only its hash, and the page state no longer holds it. A link signs in once.
"""

from __future__ import annotations

import streamlit as st

from data.store import Store
from ui import auth, render, session, widgets

_NEW_LINK_KEY = "raters_new_link"
_NOTICE_KEY = "raters_notice"


def _create(store: Store) -> None:
    state = st.session_state
    rater_id = str(state.get("raters_new_id", "")).strip()
    name = str(state.get("raters_new_name", "")).strip() or None
    if not render.valid_id(rater_id):
        state[_NOTICE_KEY] = ("error", "The id needs letters, digits, '_', '.' or '-' only.")
        return
    try:
        state[_NEW_LINK_KEY] = (rater_id, store.add_rater(rater_id, name))
    except ValueError as exists:
        state[_NOTICE_KEY] = ("error", str(exists))


def _reset(store: Store, rater_id: str) -> None:
    st.session_state[_NEW_LINK_KEY] = (rater_id, store.reset_token(rater_id))
    st.session_state[_NOTICE_KEY] = (
        "success",
        f"The old link of {rater_id} no longer works, and {rater_id} is signed out everywhere.",
    )


def _set_active(store: Store, rater_id: str, active: bool) -> None:
    store.set_rater_active(rater_id, active)
    what = "can sign in again" if active else "can no longer sign in"
    st.session_state[_NOTICE_KEY] = ("success", f"{rater_id} {what}.")


def main() -> None:
    store = session.require_admin()
    st.title("Raters")
    notice = st.session_state.pop(_NOTICE_KEY, None)
    if notice is not None:
        (st.success if notice[0] == "success" else st.error)(notice[1])

    new_link = st.session_state.pop(_NEW_LINK_KEY, None)  # shown this once, then gone
    if new_link is not None:
        rater_id, token = new_link
        with st.container(border=True):
            st.markdown(
                f"**Sign-in link for {rater_id}.** Copy it now: it is shown only this once,"
                " and it signs in once."
            )
            st.code(auth.sign_in_link(st.context.url, token), language=None)
            st.button("Done, hide the link", key="raters_hide_link")

    with st.form("raters_create_form", clear_on_submit=True):
        st.subheader("New rater")
        st.text_input("Id", key="raters_new_id", help="Short and stable, e.g. alice.")
        st.text_input("Name (optional)", key="raters_new_name")
        st.form_submit_button("Create rater", on_click=_create, args=(store,))

    raters = store.raters()
    st.subheader("All raters")
    widgets.table(raters)

    humans = raters.filter(kind="human")
    if not humans.is_empty():
        st.subheader("Manage a rater")
        active = dict(zip(humans["rater_id"], humans["active"], strict=True))
        chosen = st.selectbox("Rater", list(active), key="raters_manage_id")
        with st.container(horizontal=True):
            st.button("Reset link", key="raters_reset", on_click=_reset, args=(store, chosen))
            st.button(
                "Reactivate" if not active[chosen] else "Deactivate",
                key="raters_toggle_active",
                on_click=_set_active,
                args=(store, chosen, not active[chosen]),
            )


if __name__ == "__main__":  # streamlit runs a page file as __main__; importing it draws nothing
    main()
