"""Pieces several pages draw: capped texts, blind-spot cards, the audit pages' preamble."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
import streamlit as st

from ui import audit_views, cache, session
from ui.render import cap, literal, safe_markdown

__all__ = ["audited_project", "capped_text", "finding_card", "table"]


def capped_text(label: str, text: str | None) -> None:
    """A labelled text as safe Markdown, capped, saying how much was left out. The label is
    shown literally: it may quote a model's or a rater's name."""
    capped = cap(text)
    st.markdown(f"**{literal(label)}**")
    st.markdown(safe_markdown(capped.text))
    if capped.truncated:
        st.caption(f"({capped.hidden_chars} more characters not shown)")


def table(
    frame: pl.DataFrame | Sequence[dict[str, Any]], formats: dict[str, str] | None = None
) -> None:
    """A table across the page with its columns named in words (``audit_views.column_label``);
    ``formats`` gives number formats by column (``"percent"``, ``"%.3f"``...)."""
    formats = formats or {}
    columns = frame.columns if isinstance(frame, pl.DataFrame) else list(frame[0] if frame else [])
    config = {
        name: st.column_config.NumberColumn(audit_views.column_label(name), format=formats[name])
        if name in formats
        else st.column_config.Column(audit_views.column_label(name))
        for name in columns
    }
    st.dataframe(frame, hide_index=True, column_config=config)


def finding_card(finding: dict[str, Any]) -> None:
    """One blind-spot finding (``blind_spots.FINDINGS`` row): effect, interval, q, message."""
    with st.container(border=True):
        st.markdown(f"**{literal(finding['kind'])}** · {literal(finding['slice'])}")
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
