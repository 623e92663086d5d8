"""Inspect a reward model: accuracy against the votes and its ceiling, calibration, probes,
the raters' blind spots tested on it, the raters and the model edit by edit, the pairs where
it parts from the votes (with every vote and rationale), and which words of a response carry
its reward."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st

from data.export import MANIFEST_FILE
from data.workspace import Workspace
from labeling.blind_spots import MIN_VOTES
from reward.attribution import occlusion
from reward.checkpoint import CheckpointInfo, read_info
from reward.inspection import compare, compare_edits, evaluation_pairs, inspect_model
from reward.model import RewardModelError
from reward.score import RewardScorer
from reward.snapshot import SnapshotError, load_snapshot
from ui import reward_views as views
from ui import session
from ui.render import literal, safe_markdown
from ui.widgets import capped_text, table

_CHECKPOINT_KEY = "inspect_checkpoint"
_SNAPSHOT_KEY = "inspect_snapshot"
_RUN_KEY = "inspect_run"
_PAIR_KEY = "inspect_attribution_pair"
_SIDE_KEY = "inspect_attribution_side"
#: Divergence rows shown with their texts and votes (the table lists them all).
_DETAILED = 10
_COMPARE_KEY = "inspect_compare"
_NO_COMPARISON = "(none)"


def _checkpoints() -> dict[str, CheckpointInfo]:
    root = Workspace.resolve().checkpoints
    found: dict[str, CheckpointInfo] = {}
    for folder in sorted(root.iterdir(), reverse=True) if root.is_dir() else []:
        try:
            info = read_info(folder)
        except RewardModelError:
            continue
        if info.complete:
            found[folder.name] = info
    return found


def _snapshots() -> list[str]:
    root = Workspace.resolve().snapshots
    if not root.is_dir():
        return []
    return sorted((p.name for p in root.iterdir() if (p / MANIFEST_FILE).is_file()), reverse=True)


@st.cache_resource(show_spinner="Loading the model...", max_entries=2)
def _scorer(checkpoint: str, created_at: str) -> RewardScorer:
    """The checkpoint ready to score (``created_at`` tells a retrained folder apart)."""
    return RewardScorer.from_checkpoint(checkpoint)


@st.cache_data(show_spinner="Scoring and probing...", max_entries=8)
def _report(
    checkpoint: str,
    created_at: str,
    snapshot: str,
    split: str,
    probe_pairs: int,
    confident: float,
    pairs_of: str | None = None,
) -> dict[str, Any]:
    """``inspect_model`` of a checkpoint; ``pairs_of`` names another checkpoint whose held-out
    pairs to use (a comparison scores both models on the same pairs)."""
    info = read_info(checkpoint)
    loaded = load_snapshot(snapshot)
    split_of = read_info(pairs_of) if pairs_of else info
    pair_ids, described = (
        evaluation_pairs(split_of, loaded) if split == "eval" else (None, "all pairs")
    )
    report = inspect_model(
        _scorer(checkpoint, created_at),
        loaded,
        info.model_id,
        pair_ids=pair_ids,
        probe_pairs=probe_pairs,
        confident=confident,
    )
    report["split"] = described
    return report


@st.cache_data(show_spinner="Removing one word at a time...", max_entries=16)
def _attribution(
    checkpoint: str, created_at: str, prompt: str, response: str, messages: str | None
) -> pl.DataFrame:
    return occlusion(_scorer(checkpoint, created_at), prompt, response, messages)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _summary(report: dict[str, Any]) -> None:
    overall, gold = report["accuracy"]["overall"], report["accuracy"]["gold"]
    st.caption(literal(f"{report['model_id']} on {report['n_pairs']} pairs ({report['split']})."))
    columns = st.columns(4)
    columns[0].metric("Accuracy vs votes", _percent(overall["accuracy"]))
    columns[1].metric("Agrees with votes", _percent(overall["vote_agreement"]))
    columns[2].metric(
        "Ceiling",
        _percent(report["ceiling"]),
        help="Mean share of a pair's votes behind its plurality: no model agrees with more.",
    )
    columns[3].metric(
        "Accuracy vs gold",
        _percent(gold["model"]),
        help=f"On {gold['n']} gold pairs; the votes: {_percent(gold['votes'])}",
    )
    tables = {
        "by_category": "By category",
        "by_principle": "By the principles the votes cited",
        "gold_by_principle": "Against gold, by the principle the intended answer rests on",
    }
    for key, caption in tables.items():
        rows = report["accuracy"][key]
        if rows:
            st.caption(caption)
            table(pl.DataFrame(rows))


def _inherited(report: dict[str, Any]) -> None:
    st.subheader("The raters' blind spots, tested on the model")
    shown = views.side_by_side_table(report)
    if report["side_by_side"] is None:
        st.info("The snapshot holds no votes to compare the model with.")
        return
    if not report["side_by_side"]["model"]:
        st.info(
            f"Too few pairs to test the model: each test needs {MIN_VOTES} of its decisive "
            "votes. Inspect all pairs instead of the held-out ones."
        )
    st.caption(
        "The model votes for the side it rewards more; the audit's own length, Markdown, "
        "category and gold tests run on those votes beside the raters' (effects as in the "
        "audit; q is the Benjamini-Hochberg adjusted p over model and raters)."
    )
    for shared in report["side_by_side"]["inherited"]:
        st.warning(safe_markdown(shared["message"]))
    if not report["side_by_side"]["inherited"]:
        st.success("The model shares none of the raters' flagged blind spots.")
    table(shown)


def _edit_by_edit(report: dict[str, Any]) -> None:
    st.subheader("The rater and the model, edit by edit")
    if report.get("edit_by_edit") is None:
        st.info("Skipped: it probes the model, and Pairs per probe is 0 (or there are no votes).")
        return
    if not report["edit_by_edit"]:
        st.info(
            "The snapshot holds no probe pairs with votes: make some (`intentgap probes make`), "
            "let the raters vote on them, and export a new snapshot."
        )
        return
    st.caption(views.EDIT_BY_EDIT_CAPTION)
    alerts = {"warning": st.warning, "success": st.success, "info": st.info}
    for tone, message in views.edit_by_edit_messages(report):
        alerts[tone](literal(message))
    st.altair_chart(views.edit_by_edit_chart(report))
    table(views.edit_by_edit_table(report), views.PULL_FORMATS)


def _divergences(report: dict[str, Any]) -> None:
    st.subheader("Where the model parts from the votes")
    st.caption(safe_markdown(views.flagged_sentence(report)))
    shown = views.divergence_table(report)
    if shown.is_empty():
        st.success("No divergence found.")
        return
    table(shown)
    for row in report["divergences"][:_DETAILED]:
        with st.expander(
            literal(f"{row['kind']}: {row['pair_id']} (P(a wins) = {row['p_a']:.2f})")
        ):
            capped_text("Prompt", row["prompt"])
            left, right = st.columns(2)
            with left:
                capped_text("Response a", row["response_a"])
            with right:
                capped_text("Response b", row["response_b"])
            table(views.divergence_votes(row))


def _attribution_view(
    checkpoint: str, info: CheckpointInfo, snapshot: str, report: dict[str, Any]
) -> None:
    st.subheader("Which words carry the reward")
    preferences = load_snapshot(snapshot).preferences
    diverging = [row["pair_id"] for row in report["divergences"]]
    ids = list(dict.fromkeys(diverging + preferences["pair_id"].to_list()))
    pair_id = st.selectbox("Pair", ids, key=_PAIR_KEY)
    side = st.radio("Response", ["chosen", "rejected"], horizontal=True, key=_SIDE_KEY)
    found = preferences.filter(pl.col("pair_id") == pair_id)
    if found.is_empty():
        return
    pair = found.row(0, named=True)
    words = _attribution(
        checkpoint, info.created_at, pair["prompt"], pair[str(side)], pair["prompt_messages"]
    )
    full = words["reward_full"].to_list()
    st.caption(
        "Each word removed in turn: green words raised the reward, red ones lowered it "
        f"(reward of the whole response {full[0] if full else 0.0:.3f})."
    )
    st.markdown(views.attribution_markdown(words))


def _comparison(
    report: dict[str, Any], run: tuple[Any, ...], name: str, info: CheckpointInfo
) -> None:
    other = str(Workspace.resolve().checkpoints / name)
    _, _, snapshot, split, probe_pairs, confident = run
    second = _report(
        other, info.created_at, snapshot, split, probe_pairs, confident, pairs_of=run[0]
    )
    st.subheader(f"Against {literal(name)}")
    left_out = ", ".join(info.config.exclude_raters) or "nobody"
    st.caption(
        f"Both scored on the same {report['n_pairs']} pairs; change = {name} minus "
        f"{report['model_id']}. {name} was trained leaving out {left_out}."
    )
    table(pl.DataFrame(compare(report, second)))
    changes = compare_edits(report, second)
    if changes:
        st.caption(
            literal(
                f"Edit by edit: each verdict for {report['model_id']} (first) and {name} "
                "(second); closed: the first model is moved by the edit and the second is not."
            )
        )
        table(views.verdict_change_table(changes), views.PULL_FORMATS)


def main() -> None:
    session.require_admin()
    st.title("Inspect a reward model")
    checkpoints = _checkpoints()
    snapshots = _snapshots()
    if not checkpoints or not snapshots:
        st.info("No finished checkpoint yet: train one on the Train page.")
        return
    name = st.selectbox("Checkpoint", list(checkpoints), key=_CHECKPOINT_KEY)
    info = checkpoints[str(name)]
    trained_on = Path(info.config.snapshot).name
    ordered = sorted(snapshots, key=lambda s: s != trained_on)  # its own snapshot first
    snapshot_name = st.selectbox("Snapshot", ordered, key=_SNAPSHOT_KEY)
    with st.form("inspect_form"):
        st.radio(
            "Pairs",
            ["eval", "all"],
            horizontal=True,
            key="inspect_split",
            format_func={"eval": "held out in training", "all": "all pairs"}.get,
        )
        st.number_input("Pairs per probe", 0, 1024, 64, key="inspect_probe_pairs")
        st.slider("Confident from", 0.5, 0.99, 0.8, key="inspect_confident")
        st.selectbox(
            "Compare with",
            [_NO_COMPARISON, *(other for other in checkpoints if other != name)],
            key=_COMPARE_KEY,
            help="Another checkpoint scored on the same pairs, e.g. one trained without a "
            "flagged rater: what changed between the two.",
        )
        submitted = st.form_submit_button("Run inspection", type="primary")
    state = st.session_state
    checkpoint = str(Workspace.resolve().checkpoints / str(name))
    snapshot = str(Workspace.resolve().snapshots / str(snapshot_name))
    if submitted:
        state[_RUN_KEY] = (
            checkpoint,
            info.created_at,
            snapshot,
            str(state["inspect_split"]),
            int(state["inspect_probe_pairs"]),
            float(state["inspect_confident"]),
        )
    run = state.get(_RUN_KEY)
    if run is None or run[:3] != (checkpoint, info.created_at, snapshot):
        return
    try:
        report = _report(*run)
        compared = str(state.get(_COMPARE_KEY) or _NO_COMPARISON)
        if compared != _NO_COMPARISON and compared in checkpoints:
            _comparison(report, run, compared, checkpoints[compared])
    except (SnapshotError, RewardModelError) as problem:
        st.error(literal(f"Nothing to show: {problem}"))
        return

    _summary(report)
    st.subheader("Calibration")
    ece = report["calibration"]["ece"]
    st.caption(
        "Expected calibration error "
        + ("n/a" if ece is None else f"{ece:.3f}")
        + ": the mean gap between the model's P(a wins) and the votes' share for a, "
        "weighted by the pairs in each bin."
    )
    st.altair_chart(views.calibration_chart(report["calibration"]["bins"]))
    st.subheader("Probes")
    st.caption(
        "Edits that add no substance, applied to the model's loser: a reward that rises "
        "with them (flagged) has learned the surface feature."
    )
    table(views.probe_table(report))
    _inherited(report)
    _edit_by_edit(report)
    _divergences(report)
    _attribution_view(checkpoint, info, snapshot, report)


if __name__ == "__main__":  # streamlit runs a page file as __main__; importing it draws nothing
    main()
