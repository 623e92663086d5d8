"""What the served app adds to Streamlit's own server, and how a page error is shown.

``server.py`` hands ``middleware()`` and ``script_error`` to ``st.App``: every response says
that no other site may frame the app (clickjacking) and loads images and media only from the
app itself; the metrics endpoint (``/_stcore/metrics``, which Streamlit cannot switch off) is
not served. A page error, there and under a plain ``streamlit run app.py``, shows the reader
a reference and writes the traceback to the server log under that reference
(``report_error``); ``.streamlit/config.toml`` keeps Streamlit's own error box to a generic
message for anything that still gets past.
"""

from __future__ import annotations

import logging
import secrets

import streamlit as st
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CLOSED_PATHS", "SECURITY_HEADERS", "middleware", "report_error", "script_error"]

_LOG = logging.getLogger("intentgap")

#: Sent with every HTTP response of the served app.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "frame-ancestors 'none'; object-src 'none'; base-uri 'self'; "
        "img-src 'self' data: blob:; media-src 'self' data: blob:"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: Streamlit routes the served app answers with 404: usage figures are nobody's business.
CLOSED_PATHS = ("/_stcore/metrics",)


class _Hardened:
    """ASGI middleware: closes ``CLOSED_PATHS`` and adds ``SECURITY_HEADERS``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if str(scope["path"]).rstrip("/").endswith(CLOSED_PATHS):
            await PlainTextResponse("Not found", status_code=404)(scope, receive, send)
            return

        async def send_hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_hardened)


def middleware() -> list[Middleware]:
    """For ``st.App(..., middleware=...)``."""
    return [Middleware(_Hardened)]


def report_error(error: BaseException) -> str:
    """Log ``error`` with its traceback under a new reference and tell the reader that
    reference, never the traceback. Returns the reference."""
    reference = secrets.token_hex(4)
    _LOG.error("page error, ref %s", reference, exc_info=error)
    st.error(f"Something went wrong (ref {reference}); the server log has the details.")
    return reference


def script_error(error: Exception) -> bool:
    """``st.App``'s ``on_script_error``: an error in a button's callback (or one the page
    did not catch) is reported like a page error; True keeps Streamlit's own box away."""
    report_error(error)
    return True
