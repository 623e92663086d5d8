"""Disputed pairs: the pairs with most reasons to doubt their label, with every vote and
rationale. Admins only: raters never see each other's votes."""

from __future__ import annotations

import polars as pl
import streamlit as st

from ui import audit_views, cache, widgets
from ui.render import cap, literal

_COUNT_KEY = "disputes_count"
_PAIR_KEY = "disputes_pair"


def main() -> None:
    key = widgets.audited_project("Disputed pairs")
    if key is None:
        return

    st.caption(
        "Pairs sorted by how many reasons there are to doubt their majority label (low "
        "agreement, high entropy, a lone dissent, against gold, a too-fast vote, a vote by a "
        "rater with a flagged blind spot), then by agreement."
    )
    n = st.slider("Pairs to list", min_value=10, max_value=500, value=50, step=10, key=_COUNT_KEY)
    disputed = cache.disputed(key, n)
    widgets.table(disputed, formats={"agreement": "percent", "entropy": "%.2f"})
    if disputed.is_empty():
        return

    pair_id = st.selectbox("Pair", disputed["pair_id"].to_list(), key=_PAIR_KEY)
    pairs, judgments = cache.project_votes(key)
    found = pairs.filter(pl.col("pair_id") == pair_id)
    if pair_id is None or found.is_empty():
        return
    pair = found.row(0, named=True)
    st.subheader(f"Pair {literal(pair_id)}")
    widgets.capped_text("Prompt", pair["prompt"])
    left, right = st.columns(2)
    with left:
        widgets.capped_text(
            f"Response a ({pair['model_a'] or 'model unknown'})", pair["response_a"]
        )
    with right:
        widgets.capped_text(
            f"Response b ({pair['model_b'] or 'model unknown'})", pair["response_b"]
        )
    if pair["gold"] is not None:
        st.info(f"Gold answer: {literal(pair['gold'])}")

    st.subheader("Votes")
    votes = audit_views.pair_votes(judgments, str(pair_id))
    widgets.table(votes)
    for vote in votes.filter(pl.col("rationale").is_not_null()).iter_rows(named=True):
        st.caption(literal(f"{vote['rater_id']} chose {vote['choice']}:"))
        st.text(cap(vote["rationale"]).text)


if __name__ == "__main__":  # streamlit runs a page file as __main__; importing it draws nothing
    main()
