"""Model leaderboard: Bradley-Terry strengths with intervals, plain and style-controlled."""

from __future__ import annotations

import streamlit as st

from ui import audit_views, cache, widgets
from ui.render import literal

_N_BOOT_KEY = "leaderboard_n_boot"


def main() -> None:
    key = widgets.audited_project("Model leaderboard")
    if key is None:
        return

    st.session_state.setdefault(_N_BOOT_KEY, 100)
    st.number_input(
        "Bootstrap replicates",
        min_value=0,
        max_value=2000,
        step=50,
        key=_N_BOOT_KEY,
        help="Each replicate reweights the votes at random and refits both models.",
    )
    board, notes = cache.model_leaderboard(key, int(st.session_state[_N_BOOT_KEY]))
    if board.is_empty():
        st.info("No vote compares two named models (the pairs need model_a and model_b).")
        return
    st.caption(
        "Elo-like scores (1000 = average). The style-controlled fit adds the length and "
        "Markdown differences of the two responses as covariates; the style shift is what a "
        "model loses (negative) or gains once they are accounted for."
    )
    for note in notes:
        st.info(literal(f"Note: {note}."))
    widgets.table(
        board,
        formats={
            **{name: "%.0f" for name in board.columns if "score" in name or "ci_" in name},
            "style_shift": "%+.0f",
            "win_rate": "percent",
        },
    )
    st.altair_chart(
        audit_views.interval_chart(
            audit_views.leaderboard_long(board), y="model", color="fit", title="Score, 95% interval"
        )
    )


if __name__ == "__main__":  # streamlit runs a page file as __main__; importing it draws nothing
    main()
