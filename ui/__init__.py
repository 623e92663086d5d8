"""The browser room: every Streamlit page (``ui/pages/``) and what the pages share.

Only ``app.py`` and this package import streamlit. ``session`` signs people in and picks the
project, ``cache`` holds the process's cached resources and analyses, ``widgets`` the pieces
several pages draw; ``render``, ``audit_views`` and ``reward_views`` turn frames and reports
into what a page shows, without streamlit; ``auth`` holds the sign-in rules. Pages never
import other pages.
"""
