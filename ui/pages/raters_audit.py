"""Raters audit: who is reliable, and one rater's blind spots with the plots behind them."""

from __future__ import annotations

import polars as pl
import streamlit as st

from ui import audit_views, cache, widgets
from ui.render import literal

_SORT_KEY = "raters_audit_sort"
_RATER_KEY = "raters_audit_rater"
_ALL_KEY = "raters_audit_all_tests"
_SORTS = {
    "ds_accuracy": "Dawid-Skene accuracy",
    "consensus_accuracy": "agreement with the other raters",
    "gold_accuracy": "accuracy on gold",
    "flagged": "blind spots flagged",
    "n": "votes",
}
_PROBE_FORMATS = {
    "rate": "percent",
    "ci_low": "percent",
    "ci_high": "percent",
    "base_rate": "percent",
    "q_value": "%.3g",
}
_KAPPA_FORMATS = {"estimate": "%.3f", "ci_low": "%.3f", "ci_high": "%.3f"}


def main() -> None:
    key = widgets.audited_project("Raters audit")
    if key is None:
        return
    table, votes = cache.rater_audit(key)
    findings = cache.blind_spots(key)

    st.selectbox("Sort raters by", list(_SORTS), format_func=_SORTS.__getitem__, key=_SORT_KEY)
    by = str(st.session_state[_SORT_KEY])
    shown = table.sort(by, descending=by in ("flagged", "n"), nulls_last=True)
    widgets.table(
        shown,
        formats={
            "consensus_accuracy": "percent",
            "gold_accuracy": "percent",
            "ds_accuracy": "percent",
            "tie_rate": "percent",
            "median_seconds": "%.0f",
        },
    )

    rater = st.selectbox("Rater", shown["rater_id"].to_list(), key=_RATER_KEY)
    if rater is None:
        return
    st.subheader(f"Blind spots of {literal(rater)}")
    everything = st.toggle("Show every test, not only the flagged ones", key=_ALL_KEY)
    mine = findings.filter(pl.col("rater_id") == rater)
    # A check that could not be fitted for this rater is a note, not a finding to read.
    for untested in mine.filter(pl.col("p_value").is_nan()).get_column("message"):
        st.caption(literal(untested))
    mine = mine.filter(pl.col("p_value").is_not_nan())
    if not everything:
        mine = mine.filter(pl.col("flagged"))
    if mine.is_empty():
        st.success(f"No blind spot flagged for {literal(rater)}.")
    for finding in mine.iter_rows(named=True):
        widgets.finding_card(finding)

    st.subheader("The evidence")
    position, length, category, probes, consistency = st.tabs(
        ["Position", "Length", "Categories", "Probe pairs", "Consistency"]
    )
    with position:
        rates = audit_views.position_rates(votes, rater)
        st.altair_chart(
            audit_views.interval_chart(
                rates, y="who", title="Share of decisive votes for the left side", reference=0.5
            )
        )
    with length:
        curve = audit_views.length_curve(votes, rater)
        st.caption(
            "Share choosing response a against log((1 + length of a) / (1 + length of b)), "
            "beside the other raters' majority on the same pairs."
        )
        st.altair_chart(audit_views.length_chart(curve))
    with category:
        accuracy = audit_views.category_accuracy(votes, rater)
        st.altair_chart(
            audit_views.interval_chart(
                accuracy, y="category", color="who", title="Agreement with the reference"
            )
        )
    with probes:
        susceptible = audit_views.rater_probes(votes, findings, rater)
        if susceptible.filter(pl.col("who") == rater).is_empty():
            st.info(f"{literal(rater)} has answered no probe pair yet.")
        else:
            st.caption(
                "A probe pair is a pair whose intended loser got a surface edit that adds "
                "nothing (flattery, padding, a confident tone...). The share of votes for the "
                "edited side, beside how often the rater picks that response unedited."
            )
            widgets.table(susceptible, formats=_PROBE_FORMATS)
            st.altair_chart(
                audit_views.interval_chart(
                    audit_views.probe_rates(susceptible),
                    y="probe_kind",
                    color="who",
                    title="Share of votes for the edited side",
                )
            )
    with consistency:
        pairs, judgments = cache.project_votes(key)
        kappas = audit_views.rater_consistency(judgments, pairs, rater)
        st.caption(
            "Cohen's kappa of the rater with themselves on pairs served again with the sides "
            "swapped, beside all raters' and beside their kappa with each other rater. Apart "
            "from the others but steady: a minority view. Apart from themselves: noise."
        )
        if not (kappas["who"] == f"{rater}, retests").any():
            st.info(f"No pair has been served to {literal(rater)} a second time yet.")
        widgets.table(kappas, formats=_KAPPA_FORMATS)


if __name__ == "__main__":  # streamlit runs a page file as __main__; importing it draws nothing
    main()
