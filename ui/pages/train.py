"""Train a reward model on a snapshot, in a background thread the page polls."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import streamlit as st

from data.export import MANIFEST_FILE
from data.store import Project, Store
from data.workspace import Workspace
from labeling.preference_set import export_snapshot
from reward.config import TrainConfig
from reward.inherited import audit_flags
from reward.job import TrainingJob
from reward.snapshot import SnapshotError, load_snapshot
from ui import session
from ui.cache import training_jobs
from ui.render import literal
from ui.reward_views import field_help

_SNAPSHOT_KEY = "train_snapshot"
_JOB_KEY = "train_job"
_ERROR_KEY = "train_error"
_NOTICE_KEY = "train_notice"
#: How often the progress fragment redraws while a run is going.
_POLL_SECONDS = 1.0


def _snapshots() -> list[Path]:
    root = Workspace.resolve().snapshots
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if (p / MANIFEST_FILE).is_file()]
    return sorted(found, key=lambda p: p.name, reverse=True)


@st.cache_data(show_spinner="Auditing the snapshot's raters...", max_entries=8)
def _raters(snapshot: str, written_ns: int) -> dict[str, list[str]]:
    """``reward.inherited.audit_flags`` of a snapshot folder (``written_ns``, the manifest's
    mtime, tells a re-exported folder apart)."""
    return audit_flags(load_snapshot(snapshot))


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _export(store: Store, project: Project) -> None:
    out = Workspace.resolve().snapshots / _stamp()
    try:
        manifest = export_snapshot(store, out, project_id=project.project_id)
    except (ValueError, FileExistsError) as problem:
        st.session_state[_ERROR_KEY] = f"No snapshot was written: {problem}"
        return
    st.session_state[_SNAPSHOT_KEY] = out.name
    st.session_state[_NOTICE_KEY] = (
        f"Snapshot {out.name} written ({manifest.counts['pairs']} pairs)."
    )


def _start() -> None:
    state = st.session_state
    snapshot = Workspace.resolve().snapshots / str(state[_SNAPSHOT_KEY])
    out = Workspace.resolve().checkpoints / f"reward-{_stamp()}"
    try:
        config = TrainConfig(
            snapshot=str(snapshot),
            out=str(out),
            base_model=str(state["train_base_model"]).strip() or "default",
            epochs=int(state["train_epochs"]),
            batch_size=int(state["train_batch_size"]),
            learning_rate=float(state["train_learning_rate"]),
            max_length=int(state["train_max_length"]),
            eval_fraction=float(state["train_eval_fraction"]),
            lora_r=int(state["train_lora_r"]),
            labels=state["train_labels"],
            weights=str(state["train_weights"]),
            exclude_raters=tuple(state["train_exclude_raters"]),
            progress_bar=False,
        )
    except (TypeError, ValueError) as problem:
        state[_ERROR_KEY] = f"Not started: {problem}"
        return
    training_jobs()[str(out)] = TrainingJob(config).start()
    state[_JOB_KEY] = str(out)


def _settings_form(busy: bool, raters: dict[str, list[str]]) -> None:
    def described(rater: str) -> str:
        kinds = raters.get(rater) or []
        return f"{rater} (flagged: {', '.join(kinds)})" if kinds else rater

    with st.form("train_form"):
        st.text_input(
            "Base model", value="default", key="train_base_model", help=field_help("base_model")
        )
        left, right = st.columns(2)
        left.number_input("Epochs", 1, 100, 1, key="train_epochs", help=field_help("epochs"))
        left.number_input(
            "Batch size", 1, 512, 8, key="train_batch_size", help=field_help("batch_size")
        )
        left.number_input(
            "Learning rate",
            min_value=1e-7,
            max_value=1.0,
            value=3e-5,
            format="%.1e",
            key="train_learning_rate",
            help=field_help("learning_rate"),
        )
        right.number_input(
            "Max tokens per sequence",
            16,
            8192,
            512,
            key="train_max_length",
            help=field_help("max_length"),
        )
        right.slider(
            "Held-out share",
            0.0,
            0.5,
            0.1,
            step=0.05,
            key="train_eval_fraction",
            help=field_help("eval_fraction"),
        )
        right.number_input("LoRA rank", 0, 1024, 0, key="train_lora_r", help=field_help("lora_r"))
        st.markdown("**What the model learns from**")
        left, right = st.columns(2)
        left.radio(
            "Targets",
            ["soft", "hard", "posterior"],
            horizontal=True,
            key="train_labels",
            help=field_help("labels"),
        )
        right.radio(
            "Pair weights",
            ["none", "agreement", "posterior"],
            horizontal=True,
            key="train_weights",
            help=field_help("weights"),
        )
        st.multiselect(
            "Leave out these raters",
            list(raters),
            default=[],
            format_func=described,
            key="train_exclude_raters",
            help=field_help("exclude_raters")
            + " Raters the audit flags on this snapshot say so; train with and without them "
            "to see what they taught the model.",
        )
        st.form_submit_button("Start training", type="primary", on_click=_start, disabled=busy)


def _progress(job: TrainingJob, was_running: bool) -> None:
    """The run's state; redrawn every ``_POLL_SECONDS`` while it goes."""
    latest = job.latest
    if job.error is not None:
        st.error(literal(f"The run failed: {job.error}"))
    elif job.result is not None and job.result.complete:
        epochs = job.result.metrics.get("epochs") or [{}]
        accuracy = epochs[-1].get("eval_accuracy", math.nan)
        st.success(
            literal(f"Done: checkpoint {job.folder.name} (held-out accuracy {accuracy:.3f}).")
        )
    elif job.result is not None:
        st.warning(
            f"Stopped with its state saved; resume it with: intentgap train "
            f"{job.config.snapshot} --out {job.folder} --resume"
        )
    elif latest is None:
        st.info("Loading the model and the snapshot...")
    else:
        text = (
            f"step {latest.step} of {latest.total_steps}, epoch {latest.epoch} of {latest.epochs}"
        )
        st.progress(min(latest.step / max(latest.total_steps, 1), 1.0), text=text)
    losses = job.losses()
    if not losses.is_empty():
        st.line_chart(losses, x="step", y="loss")
    if job.running:
        st.button("Stop", on_click=job.stop, disabled=job.stopping, key="train_stop")
    elif was_running:
        st.rerun()  # the run ended: redraw the page once without polling


def main() -> None:
    store = session.require_admin()
    st.title("Train a reward model")
    error = st.session_state.pop(_ERROR_KEY, None)
    if error:
        st.error(literal(error))
    notice = st.session_state.pop(_NOTICE_KEY, None)
    if notice:
        st.success(notice)

    project = session.chosen_project(store)
    if project is not None:
        st.button(
            f"Export a new snapshot of {project.name}",
            on_click=_export,
            args=(store, project),
            key="train_export",
        )
    snapshots = [p.name for p in _snapshots()]
    if not snapshots:
        st.info("No snapshot yet: export one (above, or on the Export page).")
        return
    st.selectbox("Snapshot", snapshots, key=_SNAPSHOT_KEY)

    running = [job for job in training_jobs().values() if job.running]
    if running:
        st.caption(f"A run is going ({running[0].folder.name}); start the next when it ends.")
    chosen = Workspace.resolve().snapshots / str(st.session_state[_SNAPSHOT_KEY])
    try:
        raters = _raters(str(chosen), (chosen / MANIFEST_FILE).stat().st_mtime_ns)
    except SnapshotError as problem:
        st.error(literal(f"This snapshot cannot be trained on: {problem}"))
        return
    _settings_form(busy=bool(running), raters=raters)

    job = training_jobs().get(str(st.session_state.get(_JOB_KEY)))
    if job is not None:
        st.subheader(f"Run {job.folder.name}")
        poll = _POLL_SECONDS if job.running else None
        st.fragment(run_every=poll)(_progress)(job, job.running)


if __name__ == "__main__":  # streamlit runs a page file as __main__; importing it draws nothing
    main()
