"""The two HTTP routes that keep a signed-in browser signed in across reloads.

A Streamlit script talks to the browser over a websocket and cannot set a cookie, so
``server.py`` serves ``app.py`` with these routes beside it. After a sign-in the page sends
the browser to ``START`` with the new session's one-time handoff code; the route trades the
code for a fresh session secret (``Store.redeem_handoff``), sets that secret as an HttpOnly,
SameSite=Strict cookie (no script, no other site and no address bar ever sees it) and sends
the browser home, where ``st.context.cookies`` hands it to ``ui.session``. ``END`` deletes the
cookie at sign-out; the session itself was ended in the store already, so an old copy of the
cookie signs nobody in either.

Under a plain ``streamlit run app.py`` (and in AppTest) these routes are absent: ``served()``
is False, sessions live in the server's session state only, and the page says that a reload
signs out.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from data.store import WorkspaceLocked
from data.workspace import StoreWriteError, Workspace

__all__ = ["COOKIE", "END", "START", "routes", "served"]

COOKIE = "intentgap_session"
START = "/_signin/start"
END = "/_signin/end"

_served = False


def routes() -> list[Route]:
    """The routes, for ``st.App(..., routes=...)``; from now on ``served()`` is True."""
    global _served
    _served = True
    return [Route(START, _start, methods=["GET"]), Route(END, _end, methods=["GET"])]


def served() -> bool:
    """Whether this process serves the routes (``server.py``), so a sign-in can set a cookie."""
    return _served


def _home() -> RedirectResponse:
    response = RedirectResponse("/", status_code=303)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _start(request: Request) -> RedirectResponse:
    """Trade the handoff code for the session cookie, then go home. A sync route: Starlette
    runs it in a worker thread, where the store's blocking calls belong."""
    # Imported here, not at the top: server.py imports this module before Streamlit's runtime
    # starts, and ui.cache's caches must be made once the runtime is there.
    from ui.cache import open_store

    response = _home()
    try:
        store = open_store(str(Workspace.resolve().create().database))
        secret = store.redeem_handoff(request.query_params.get("handoff", ""))
    except (WorkspaceLocked, StoreWriteError):
        secret = None  # the page, once home, says what is wrong with the database
    if secret is not None:
        response.set_cookie(
            COOKIE,
            secret,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
    return response


def _end(request: Request) -> RedirectResponse:
    response = _home()
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
