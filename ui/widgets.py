"""Pieces several pages draw: capped texts, blind-spot cards, the audit pages' preamble."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import cache, session
from ui.render import cap, safe_markdown

__all__ = ["audited_project", "capped_text", "finding_card"]


def capped_text(label: str, text: str | None) -> None:
    """A labelled text as escaped Markdown, capped, saying how much was left out."""
    capped = cap(text)
    st.markdown(f"**{label}**")
    st.markdown(safe_markdown(capped.text))
    if capped.truncated:
        st.caption(f"({capped.hidden_chars} more characters not shown)")


def finding_card(finding: dict[str, Any]) -> None:
    """One blind-spot finding (``blind_spots.FINDINGS`` row): effect, interval, q, message."""
    with st.container(border=True):
        st.markdown(safe_markdown(f"**{finding['kind']}** · {finding['slice']}"))
        effect, low, high = (float(finding[k]) for k in ("effect", "ci_low", "ci_high"))
        columns = st.columns(3)
        columns[0].metric("effect", f"{effect:+.3f}", help="0 means no blind spot")
        columns[1].metric("95% interval", f"{low:+.3f} .. {high:+.3f}")
        columns[2].metric("q (BH-adjusted p)", f"{float(finding['q_value']):.2g}")
        st.markdown(safe_markdown(str(finding["message"])))


def audited_project(title: str) -> cache.AuditKey | None:
    """Every audit page's start: admins only, the title, and the chosen project's votes.

    Returns the cache key of the chosen project's votes, or None (after saying why) when
    there is no project or no vote yet.
    """
    store = session.require_admin()
    st.title(title)
    project = session.chosen_project(store)
    if project is None:
        st.info("No project yet. Create one under Project settings.")
        return None
    key = cache.audit_key(store, project)
    if key[2] == 0:
        st.info(f"No votes in {project.name!r} yet.")
        return None
    return key
