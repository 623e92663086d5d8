"""Agreement overview: how far raters agree, with intervals, overall and by category,
principle cited or source model pair."""

from __future__ import annotations

import streamlit as st

from ui import audit_views, cache, widgets

_N_BOOT_KEY = "audit_n_boot"
_SLICE_KEY = "audit_slice"
_ESTIMATES = {"estimate": "%.3f", "ci_low": "%.3f", "ci_high": "%.3f"}
#: What agreement can be sliced by: a pairs column, or the principles the votes cited.
SLICES = {"category": "category", "principle": "principle cited", "model_pair": "model pair"}


def main() -> None:
    key = widgets.audited_project("Agreement")
    if key is None:
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
    overall = cache.agreement_overall(key, n_boot)

    st.subheader("Overall")
    st.caption(
        "Percent agreement counts every two votes of different raters on an item; the "
        "chance-corrected coefficients keep each rater's first vote (later rounds are"
        " retests). 95% percentile intervals."
    )
    widgets.table(overall, formats=_ESTIMATES)
    st.altair_chart(audit_views.interval_chart(overall, y="coefficient"))

    st.subheader("By slice")
    by = st.segmented_control(
        "Slice by", list(SLICES), format_func=SLICES.__getitem__, default="category", key=_SLICE_KEY
    )
    sliced = cache.agreement_slices(key, str(by or "category"), n_boot)
    if sliced.is_empty():
        st.info(f"No {SLICES[str(by or 'category')]} is recorded on these votes.")
        return
    st.caption(
        "A pair citing two principles counts in both; model pairs are unordered. "
        "(none) gathers the items without a value."
    )
    widgets.table(sliced, formats=_ESTIMATES)
    st.altair_chart(audit_views.interval_chart(sliced, y="slice", color="coefficient"))


if __name__ == "__main__":  # streamlit runs a page file as __main__; importing it draws nothing
    main()
