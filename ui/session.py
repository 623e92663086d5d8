"""The session every page stands on: the workspace's store, who is signed in, which project.

Every admin page starts with ``require_admin()``, the labeling pages with
``require_rater()``; ``app.py`` calls ``check_sign_in`` first on every run and draws the
project picker and ``sign_out_button``.

Signing in (a rater's link, a pasted token, the admin password, or a demo rater's button in a
workspace that holds only the demo) opens a session in the store. The browser's Streamlit
session keeps that session's secret, and every run checks it with the store, so a sign-out
elsewhere, a link reset or a deactivation ends it at the next step. A link signs in once: in
a history, a referrer or on a shared screen it is dead. When ``server.py`` serves the app
(``intentgap serve``), the browser then trades a one-time code for an HttpOnly cookie holding
the secret (``ui.signin_routes``), so a reload keeps the rater signed in. Failed sign-ins are
throttled per client and for the whole server, and each is logged without its secret.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import streamlit as st
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime.scriptrunner import get_script_run_ctx

from data.store import Project, SignIn, Store, hash_token
from data.workspace import Workspace
from ui import auth, signin_routes
from ui.cache import open_store

__all__ = [
    "ERROR_KEY",
    "PROJECT_KEY",
    "SESSION_ENDED",
    "admin_password",
    "check_sign_in",
    "chosen_project",
    "demo_only",
    "pick_project",
    "require_admin",
    "require_rater",
    "sign_in_as_admin",
    "sign_in_as_demo_rater",
    "sign_in_with_token",
    "sign_out",
    "sign_out_button",
    "still_signed_in",
    "throttle",
    "workspace_store",
]

#: The sidebar project picker's session key (set it in a callback to choose a project).
PROJECT_KEY = "app_project_id"
#: Where a sign-in failure waits to be shown by the sign-in page.
ERROR_KEY = "signin_error"
#: Why a signed-in browser finds itself signed out.
SESSION_ENDED = (
    "Your session has ended: you signed out in another tab, your sign-in link was reset, or "
    "your access was turned off. Ask your admin for a new link if you need one."
)
#: The hash of a cookie found dead in this browser session (so it is reported once).
_DEAD_COOKIE_KEY = "auth_dead_cookie"


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
    store = workspace_store()
    if not _session_lives(store):
        st.error(SESSION_ENDED)
        st.stop()
    return store


def require_rater() -> tuple[Store, str]:
    """The store and the signed-in rater (from their session); stops the page otherwise."""
    rater = auth.rater_id(st.session_state)
    if rater is None:
        st.error("Open your personal sign-in link, or paste your token on the sign-in page.")
        st.stop()
    store = workspace_store()
    if not _session_lives(store):
        st.error(SESSION_ENDED)
        st.stop()
    return store, rater


def check_sign_in(store: Store) -> None:
    """First thing on every run (``app.py``): use a sign-in link in the URL (and drop it from
    the URL), else resume the session in the browser's cookie, else check that the session
    still lives in the store; an ended session signs the browser out, saying why."""
    token = st.query_params.get("token")
    if token is not None:
        del st.query_params["token"]
        refused = _attempt(
            store,
            "sign-in link",
            lambda: store.sign_in_with_token(token),
            wrong="This sign-in link is not valid (any more): each link signs in once, and a"
            " reset replaces it. Ask your admin for a new one.",
        )
        if refused is None:
            return
        if auth.secret(st.session_state) is None:  # a signed-in browser stays signed in
            st.session_state[ERROR_KEY] = refused
    if auth.secret(st.session_state) is None:
        _resume_from_cookie(store)
    elif not _session_lives(store):
        st.session_state[ERROR_KEY] = SESSION_ENDED


def sign_in_with_token(store: Store, typed: str) -> None:
    """The sign-in page's token form (a pasted token or whole link)."""
    refused = _attempt(
        store,
        "token",
        lambda: store.sign_in_with_token(auth.token_from_input(typed)),
        wrong="That token does not sign anyone in. Check it and retry (each link signs in once).",
    )
    if refused is not None:
        st.session_state[ERROR_KEY] = refused


def sign_in_as_admin(store: Store, typed: str) -> None:
    """The sign-in page's admin form."""
    refused = _attempt(
        store,
        "admin password",
        lambda: store.sign_in_admin() if auth.password_matches(typed, admin_password()) else None,
        wrong="Wrong admin password.",
    )
    if refused is not None:
        st.session_state[ERROR_KEY] = refused


def sign_in_as_demo_rater(store: Store, rater: str) -> None:
    """A demo rater's button on the sign-in page (offered only by ``demo_only`` workspaces;
    the store opens the session only for a rater kept to a demo project)."""
    signin = store.sign_in_demo_rater(rater) if demo_only(store) else None
    if signin is None:
        st.session_state[ERROR_KEY] = f"{rater} is not a demo rater of this workspace."
    else:
        _start(store, signin)


def demo_only(store: Store) -> bool:
    """Whether the workspace holds the demo and nothing else: only then does the sign-in page
    offer the demo's raters to anyone who reaches it."""
    projects = store.projects()
    return bool(projects) and all(project.is_demo for project in projects)


def still_signed_in(store: Store) -> bool:
    """For a write in a button callback, which runs before ``check_sign_in``: False, and the
    browser signed out with the reason kept for the sign-in page, when the session ended."""
    if _session_lives(store):
        return True
    st.session_state[ERROR_KEY] = f"Not saved. {SESSION_ENDED}"
    return False


def sign_out(store: Store) -> None:
    """End this browser's session in the store (its cookie too), forget the page state, and
    (when served with the cookie routes) clear the cookie, so Back or a reload finds no
    session."""
    for secret in {auth.secret(st.session_state), _cookie()} - {None}:
        store.end_session(str(secret))
    _forget_session()
    if signin_routes.served():
        _go_to(signin_routes.END)


def sign_out_button(store: Store) -> None:
    """The sidebar's Sign out button; without the cookie routes, also the warning that a
    reload signs out."""
    st.sidebar.button("Sign out", icon=":material/logout:", on_click=sign_out, args=(store,))
    if not signin_routes.served():
        st.sidebar.caption(
            "Reloading this page signs you out, and a link signs in only once: this app was"
            " started without its sign-in routes (`intentgap serve` has them)."
        )


@st.cache_resource(show_spinner=False)
def throttle() -> auth.Throttle:
    """The process's one sign-in throttle (every browser session shares it)."""
    return auth.Throttle()


def _client() -> str:
    """Who is trying, for the throttle and the log: the client's address. (AppTest has none.)"""
    address = st.context.ip_address
    return address if isinstance(address, str) and address else "unknown client"


def _attempt(
    store: Store, what: str, check: Callable[[], SignIn | None], *, wrong: str
) -> str | None:
    """Try a sign-in through the throttle: None when it worked (the session started), else
    the message for the page. Every refusal is logged, never with the secret."""
    client = _client()
    wait = throttle().wait(client)
    if wait > 0:
        auth.LOG.warning(
            "sign-in refused unchecked: %s from %s, too many failed sign-ins (%d s to wait)",
            what,
            client,
            math.ceil(wait),
        )
        return f"Too many failed sign-ins. Wait {math.ceil(wait)} seconds, then try again."
    signin = check()
    if signin is None:
        throttle().failed(client)
        auth.LOG.warning(
            "sign-in failed: wrong %s from %s (%d failed from this client)",
            what,
            client,
            throttle().failures(client),
        )
        return wrong
    throttle().succeeded(client)
    auth.LOG.info("signed in: %s with %s from %s", signin.session.rater_id or "admin", what, client)
    _start(store, signin)
    return None


def _start(store: Store, signin: SignIn) -> None:
    """Hold the new session in this browser session (ending the one it replaces), then, when
    served with the cookie routes, send the browser to trade its one-time code for the
    cookie."""
    for previous in {auth.secret(st.session_state), _cookie()} - {None}:
        store.end_session(str(previous), "replaced by a new sign-in")
    if signin.session.role == "admin":
        auth.sign_in_admin(st.session_state, signin.secret)
    else:
        auth.sign_in_rater(st.session_state, str(signin.session.rater_id), signin.secret)
    if signin_routes.served():
        _go_to(f"{signin_routes.START}?handoff={signin.handoff}")


def _session_lives(store: Store) -> bool:
    """Whether this browser's session still lives in the store; signs it out if not."""
    secret = auth.secret(st.session_state)
    if secret is not None and store.session(secret) is not None:
        return True
    _forget_session()
    return False


def _forget_session() -> None:
    """Sign this browser session out, its page state gone. Its cookie names the same ended
    session (or one ended when this one began), so it is remembered as dead, not resumed."""
    auth.sign_out(st.session_state)
    cookie = _cookie()
    if cookie is not None:
        st.session_state[_DEAD_COOKIE_KEY] = hash_token(cookie)


def _resume_from_cookie(store: Store) -> None:
    """A fresh page load (a reload, a new tab) of a browser signed in before: its cookie."""
    cookie = _cookie()
    if cookie is None or st.session_state.get(_DEAD_COOKIE_KEY) == hash_token(cookie):
        return
    found = store.session(cookie)
    if found is None:
        st.session_state[_DEAD_COOKIE_KEY] = hash_token(cookie)
        st.session_state[ERROR_KEY] = SESSION_ENDED
    elif found.role == "admin":
        auth.sign_in_admin(st.session_state, cookie)
    else:
        auth.sign_in_rater(st.session_state, str(found.rater_id), cookie)


def _cookie() -> str | None:
    """The session cookie this browser sent when the page loaded (AppTest sends none)."""
    value = st.context.cookies.get(signin_routes.COOKIE)
    return value if isinstance(value, str) and value else None


def _go_to(url: str) -> None:
    """Send the browser to ``url`` with a full page load, the way ``st.login`` does it:
    Streamlit has no public call for a redirect, so this sends the same message."""
    context = get_script_run_ctx()
    if context is None:
        return
    message = ForwardMsg()
    message.auth_redirect.url = url
    context.enqueue(message)


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
    # A rater sees the projects with work left for them or votes of theirs, nothing else
    # (and never a project they are kept out of, as the demo's raters are of real ones).
    return [
        project
        for project in store.projects()
        if store.rater_may_label(rater, project.project_id)
        and (
            store.open_assignment(rater, project.project_id) is not None
            or any(store.progress(rater, project.project_id)[k] for k in ("available", "judged"))
        )
    ]


def _picked(picker_key: str) -> None:
    st.session_state[PROJECT_KEY] = st.session_state[picker_key]


def pick_project(store: Store) -> None:
    """The project picker in the sidebar (admin: every project; rater: theirs).

    The picker's key names the chosen project, so a new choice draws a new picker: the
    browser's focus leaves it, and the label page's keys (1, 2, Enter...) work at once
    instead of typing into it. A project chosen elsewhere (``PROJECT_KEY``) shows the same."""
    projects = _projects_for(store)
    if not projects:
        st.session_state.pop(PROJECT_KEY, None)
        return
    names = {project.project_id: project.name for project in projects}
    ids = list(names)
    if st.session_state.get(PROJECT_KEY) not in names:
        st.session_state[PROJECT_KEY] = ids[0]
    chosen = st.session_state[PROJECT_KEY]
    picker_key = f"{PROJECT_KEY}_picker_{chosen}"
    st.sidebar.selectbox(
        "Project",
        ids,
        index=ids.index(chosen),
        format_func=names.__getitem__,
        key=picker_key,
        on_change=_picked,
        args=(picker_key,),
    )


def chosen_project(store: Store) -> Project | None:
    project_id = st.session_state.get(PROJECT_KEY)
    return None if project_id is None else store.project(str(project_id))
