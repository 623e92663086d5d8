"""The served app: ``app.py`` on Streamlit's ASGI server, with the sign-in routes beside it.

``intentgap serve`` runs ``streamlit run server.py``; Streamlit finds ``app`` below and serves
it with uvicorn. The routes (``ui/signin_routes.py``) set and clear the HttpOnly cookie that
keeps a signed-in browser signed in across reloads, which a Streamlit script alone cannot do.
``streamlit run app.py`` still serves the same pages, without that cookie (the sidebar then
says that a reload signs out).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import hardening, signin_routes

app = st.App(
    Path(__file__).resolve().with_name("app.py"),
    routes=signin_routes.routes(),
    middleware=hardening.middleware(),  # security headers, no metrics endpoint
    on_script_error=hardening.script_error,  # a reference, never a traceback
)
