"""The process's cached resources and analyses, shared by every page and session.

Streamlit keys a cache by the module that defines it; pages run as ``__main__``, so a cache
that several pages read must live in an importable module such as this one (and not in
``app.py``, which streamlit also runs as ``__main__``). Every analysis is cached per
(database, project, judgment count): a new vote recomputes, a rerun does not.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from data.store import Project, Store
from labeling import disputes
from labeling.aggregation import leaderboard
from labeling.assignment import Assigner
from labeling.blind_spots import audit_votes, find_blind_spots
from labeling.reliability import rater_reliability
from reward.job import TrainingJob
from ui import audit_views

__all__ = [
    "AuditKey",
    "agreement_overall",
    "agreement_slices",
    "assigner",
    "audit_key",
    "blind_spots",
    "disputed",
    "model_leaderboard",
    "open_store",
    "project_votes",
    "rater_audit",
    "training_jobs",
]

#: (database path, project id, judgment count): what every cached analysis is keyed by.
AuditKey = tuple[str, str, int]


@st.cache_resource(show_spinner=False, on_release=lambda store: store.close())
def open_store(database: str) -> Store:
    """The process's one Store for this database: a DuckDB file (the app owns it while it
    runs) or a PostgreSQL URL (shared with the other replicas)."""
    return Store(database)


@st.cache_resource(show_spinner=False)
def _assigner(database: str) -> Assigner:
    return Assigner(open_store(database))


def assigner(store: Store) -> Assigner:
    """The one assigner of this store (it remembers when it last reclaimed old assignments)."""
    return _assigner(store.opened_with)


@st.cache_resource(show_spinner=False)
def training_jobs() -> dict[str, TrainingJob]:
    """Every run started in this process, by checkpoint folder: runs outlive the sessions
    (and reruns) that started them, and one CPU or GPU serves one run at a time."""
    return {}


# -- the audit ----------------------------------------------------------------------------------


def audit_key(store: Store, project: Project) -> AuditKey:
    """The cache key of a project's votes as they stand now."""
    count = store.counts(project.project_id)["human_judgments"]
    return (store.opened_with, project.project_id, count)


@st.cache_data(show_spinner="Reading the votes...", max_entries=4)
def project_votes(key: AuditKey) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(pairs, judgments)`` of the project (``frames.PAIRS``, ``frames.JUDGMENTS``)."""
    database, project_id, _ = key
    store = open_store(database)
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


@st.cache_data(show_spinner="Ranking pairs...", max_entries=8)
def disputed(key: AuditKey, n: int) -> pl.DataFrame:
    """``disputes.disputed_pairs`` of the project, the ``n`` most disputed."""
    pairs, judgments = project_votes(key)
    return disputes.disputed_pairs(judgments, pairs, blind_spots(key), n)


@st.cache_data(show_spinner="Fitting Bradley-Terry...", max_entries=8)
def model_leaderboard(key: AuditKey, n_boot: int) -> tuple[pl.DataFrame, list[str]]:
    """``aggregation.leaderboard`` of the project, plain and style-controlled, and its notes
    (covariates left out of the style control, and why)."""
    pairs, judgments = project_votes(key)
    notes: list[str] = []
    return leaderboard(judgments, pairs, n_boot=n_boot, notes=notes), notes
