"""Agreement overview: how far raters agree, with intervals, overall and by category,
principle cited or source model pair.

Also the audit pages' shared, cached loaders: every analysis is cached per (database,
project, judgment count), so a new vote recomputes and a rerun does not.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from data.store import Project, Store
from labeling import audit_views
from labeling import signin_page as session
from labeling.aggregation import leaderboard
from labeling.blind_spots import audit_votes, find_blind_spots
from labeling.reliability import rater_reliability

__all__ = [
    "AuditKey",
    "agreement_overall",
    "agreement_slices",
    "audit_key",
    "blind_spots",
    "main",
    "model_leaderboard",
    "project_votes",
    "rater_audit",
]

#: (database path, project id, judgment count): what every cached analysis is keyed by.
AuditKey = tuple[str, str, int]
_N_BOOT_KEY = "audit_n_boot"
_SLICE_KEY = "audit_slice"
#: What agreement can be sliced by: a pairs column, or the principles the votes cited.
SLICES = {"category": "category", "principle": "principle cited", "model_pair": "model pair"}


def audit_key(store: Store, project: Project) -> AuditKey:
    """The cache key of a project's votes as they stand now."""
    count = store.counts(project.project_id)["human_judgments"]
    return (str(store.path), project.project_id, count)


@st.cache_data(show_spinner="Reading the votes...", max_entries=4)
def project_votes(key: AuditKey) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(pairs, judgments)`` of the project (``frames.PAIRS``, ``frames.JUDGMENTS``)."""
    database, project_id, _ = key
    store = session.open_store(database)
    return store.pairs(project_id), store.judgments(project_id)


@st.cache_data(show_spinner="Measuring agreement...", max_entries=8)
def agreement_overall(key: AuditKey, n_boot: int) -> pl.DataFrame:
    """``audit_views.agreement_table`` of the project."""
    pairs, judgments = project_votes(key)
    return audit_views.agreement_table(judgments, pairs, n_boot=n_boot)


@st.cache_data(show_spinner="Measuring agreement by slice...", max_entries=16)
def agreement_slices(key: AuditKey, by: str, n_boot: int) -> pl.DataFrame:
    """``audit_views.agreement_by`` of the project, sliced ``by``."""
    pairs, judgments = project_votes(key)
    return audit_views.agreement_by(judgments, pairs, by, n_boot=n_boot)


@st.cache_data(show_spinner="Looking for blind spots...", max_entries=4)
def blind_spots(key: AuditKey) -> pl.DataFrame:
    """Every blind-spot test of every rater (``blind_spots.FINDINGS``)."""
    pairs, judgments = project_votes(key)
    return find_blind_spots(judgments, pairs)


@st.cache_data(show_spinner="Measuring raters...", max_entries=4)
def rater_audit(key: AuditKey) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(rater table, per-vote audit frame)``: ``audit_views.rater_table`` and
    ``blind_spots.audit_votes``."""
    pairs, judgments = project_votes(key)
    table = audit_views.rater_table(rater_reliability(judgments, pairs), blind_spots(key))
    return table, audit_votes(judgments, pairs)


@st.cache_data(show_spinner="Fitting Bradley-Terry...", max_entries=8)
def model_leaderboard(key: AuditKey, n_boot: int) -> pl.DataFrame:
    """``aggregation.leaderboard`` of the project: plain and style-controlled."""
    pairs, judgments = project_votes(key)
    return leaderboard(judgments, pairs, n_boot=n_boot)


def main() -> None:
    store = session.require_admin()
    st.title("Agreement")
    project = session.chosen_project(store)
    if project is None:
        st.info("No project yet. Create one under Project settings.")
        return
    key = audit_key(store, project)
    if key[2] == 0:
        st.info(f"No votes in {project.name!r} yet.")
        return

    st.session_state.setdefault(_N_BOOT_KEY, 1000)
    st.number_input(
        "Bootstrap draws for the intervals",
        min_value=0,
        max_value=20_000,
        step=100,
        key=_N_BOOT_KEY,
        help="Items are resampled with replacement; 0 shows estimates without intervals.",
    )
    n_boot = int(st.session_state[_N_BOOT_KEY])
    overall = agreement_overall(key, n_boot)

    st.subheader("Overall")
    st.caption(
        "Percent agreement counts every two votes of different raters on an item; the "
        "chance-corrected coefficients keep each rater's latest vote. 95% percentile intervals."
    )
    st.dataframe(overall, hide_index=True)
    st.altair_chart(audit_views.interval_chart(overall, y="coefficient"))

    st.subheader("By slice")
    by = st.segmented_control(
        "Slice by", list(SLICES), format_func=SLICES.__getitem__, default="category", key=_SLICE_KEY
    )
    sliced = agreement_slices(key, str(by or "category"), n_boot)
    if sliced.is_empty():
        st.info(f"No {SLICES[str(by or 'category')]} is recorded on these votes.")
        return
    st.caption(
        "A pair citing two principles counts in both; model pairs are unordered. "
        "(none) gathers the items without a value."
    )
    st.dataframe(sliced, hide_index=True)
    st.altair_chart(audit_views.interval_chart(sliced, y="slice", color="coefficient"))


if __name__ == "__main__":  # streamlit runs a page file as __main__; importing it draws nothing
    # The module's own copy, so these caches are the ones the other audit pages import
    # (streamlit keys a cache by module name: __main__ would hold a second one).
    from labeling import audit_page

    audit_page.main()
