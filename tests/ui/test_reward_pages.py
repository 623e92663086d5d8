"""Reward-model pages on a simulated workspace: train a tiny model from the page, then
inspect a tiny checkpoint. Tiny models are built from a config (random weights) and reuse the
bundled tokenizer, so nothing is downloaded."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from transformers import AutoTokenizer

from data.store import Store
from data.workspace import Workspace
from labeling.preference_set import export_snapshot
from reward.checkpoint import read_info
from reward.config import TrainConfig
from reward.model import default_base_path
from reward.train import train
from tests.reward.conftest import save_tiny_bert
from tests.reward.flattery_pool import PRONE, Pool, flattery_pool
from tests.ui.conftest import (
    ADMIN_ONLY,
    BIASED,
    SIMULATED,
    app,
    click,
    page_as_rater,
    signed_in_admin,
    texts,
)

REWARD_PAGES = ["ui/pages/train.py", "ui/pages/inspect_model.py"]
__all__ = ["flattery_pool"]  # a fixture, imported to be found here


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT base model with the bundled tokenizer (see tests/reward/conftest.py)."""
    tokenizer = AutoTokenizer.from_pretrained(default_base_path(), local_files_only=True)
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), tokenizer)


def admin_on(path: str) -> AppTest:
    return signed_in_admin(app()).switch_page(path).run()


def rerun_until(at: AppTest, done: str, deadline_s: float = 120.0) -> AppTest:
    """Rerun the page (as the fragment's polling would) until ``done`` shows or time is up."""
    give_up = time.monotonic() + deadline_s
    while done not in texts(at) and time.monotonic() < give_up:
        time.sleep(0.5)
        at.run()
    return at


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    """The one table on the page that has ``column``."""
    (table,) = [d.value for d in at.dataframe if column in d.value.columns]
    return table


@pytest.mark.parametrize("path", REWARD_PAGES)
def test_a_rater_session_cannot_render_a_reward_page(sim_workspace: Workspace, path: str) -> None:
    at = page_as_rater(path, "r0001")
    assert not at.exception
    assert [e.value for e in at.error] == ADMIN_ONLY
    assert not at.title and not at.button


def test_train_a_tiny_model_from_the_page(sim_workspace: Workspace, tiny_base: Path) -> None:
    at = admin_on("ui/pages/train.py")
    assert "No snapshot yet" in at.info[0].value
    at = click(at, "Export a new snapshot of Simulated project")
    (snapshot,) = sim_workspace.snapshots.iterdir()
    assert at.selectbox(key="train_snapshot").value == snapshot.name
    assert "written (" in at.success[0].value

    at.text_input(key="train_base_model").input(str(tiny_base))
    at.number_input(key="train_max_length").set_value(64)
    at.number_input(key="train_batch_size").set_value(16)
    at.number_input(key="train_learning_rate").set_value(1e-3)
    leave_out = at.multiselect(key="train_exclude_raters")
    assert f"{BIASED} (flagged: position)" in leave_out.options, "the audit's finding, named"
    leave_out.select(BIASED)
    at.radio(key="train_labels").set_value("hard")
    at = click(at, "Start training")
    assert not at.exception and not at.error
    assert at.subheader[0].value.startswith("Run reward-")
    assert [b.label for b in at.button if b.label == "Stop"] == ["Stop"], "the run is going"

    at = rerun_until(at, "Done: checkpoint")
    assert not at.exception and not at.error
    assert "Done: checkpoint reward-" in at.success[0].value
    (checkpoint,) = sim_workspace.checkpoints.iterdir()
    settings = json.loads((checkpoint / "intentgap.json").read_text())["train_config"]
    assert (settings["exclude_raters"], settings["labels"]) == ([BIASED], "hard")
    assert not [b for b in at.button if b.label == "Stop"], "nothing left to stop"


def test_stop_a_run_from_the_page(sim_workspace: Workspace, tiny_base: Path) -> None:
    at = click(admin_on("ui/pages/train.py"), "Export a new snapshot of Simulated project")
    at.text_input(key="train_base_model").input(str(tiny_base))
    at.number_input(key="train_max_length").set_value(32)
    at.number_input(key="train_batch_size").set_value(2)
    at.number_input(key="train_epochs").set_value(100)
    at = click(click(at, "Start training"), "Stop")
    at = rerun_until(at, "Stopped with its state saved")
    assert "--resume" in at.warning[0].value
    assert not [b for b in at.button if b.label == "Stop"]
    assert len(at.get("vega_lite_chart")) == 1, "the loss so far"


@pytest.fixture
def trained_workspace(sim_workspace: Workspace, tiny_base: Path) -> Workspace:
    """The simulated workspace with a snapshot and a tiny checkpoint trained on 48 pairs."""
    snapshot = sim_workspace.snapshots / "snap"
    with Store(sim_workspace.database) as store:
        export_snapshot(store, snapshot, project_id=SIMULATED.project_id)
    config = TrainConfig(
        snapshot=str(snapshot),
        out=str(sim_workspace.checkpoints / "tiny"),
        base_model=str(tiny_base),
        max_pairs=48,
        max_length=64,
        batch_size=16,
        learning_rate=1e-3,
        eval_fraction=0.25,
        progress_bar=False,
    )
    train(config)
    return sim_workspace


def test_compare_with_a_model_trained_without_the_flagged_rater(
    trained_workspace: Workspace,
) -> None:
    tiny = read_info(trained_workspace.checkpoints / "tiny").config
    without = dataclasses.replace(
        tiny, out=str(trained_workspace.checkpoints / "other"), exclude_raters=(BIASED,)
    )
    train(without)
    at = admin_on("ui/pages/inspect_model.py")
    at.number_input(key="inspect_probe_pairs").set_value(4)
    at.selectbox(key="inspect_compare").set_value("other")
    at = click(at, "Run inspection")
    assert not at.exception and not at.error
    assert "Against other" in [h.value for h in at.subheader]
    assert f"other was trained leaving out {BIASED}." in texts(at)
    table = table_with(at, "difference")
    assert "accuracy vs votes" in set(table["measure"])
    assert "length probe: flip rate" in set(table["measure"])


def test_inspect_a_tiny_checkpoint(trained_workspace: Workspace) -> None:
    at = admin_on("ui/pages/inspect_model.py")
    assert at.selectbox(key="inspect_checkpoint").value == "tiny"
    assert at.selectbox(key="inspect_snapshot").value == "snap", "its own snapshot first"
    at.number_input(key="inspect_probe_pairs").set_value(8)
    at = click(at, "Run inspection")
    assert not at.exception and not at.error
    assert [m.label for m in at.metric] == [
        "Accuracy vs votes",
        "Agrees with votes",
        "Ceiling",
        "Accuracy vs gold",
    ]
    assert "pairs held out in training" in texts(at)
    probes = table_with(at, "flip_rate")
    assert probes["name"].tolist()[:2] == ["length", "flattery"]
    assert (probes["n"] == 8).all()
    assert "The raters' blind spots, tested on the model" in [h.value for h in at.subheader]
    assert "Too few pairs to test the model" in texts(at), "12 held-out pairs"
    assert "The snapshot holds no probe pairs with votes" in texts(at), "edit by edit"
    assert f"Flagged raters: {BIASED} (position)" in texts(at), "the audit ran on the snapshot"
    assert len(at.get("vega_lite_chart")) == 1, "the reliability plot"
    highlighted = at.markdown[-1].value
    assert "-background[" in highlighted, "some words carry the reward"
    assert "<" not in highlighted

    at.radio(key="inspect_split").set_value("all")
    at = click(at, "Run inspection")
    assert not at.exception and not at.error
    side = table_with(at, "who")
    assert {"length", "style"} <= set(side.loc[side["who"] == "model", "kind"])


def test_a_damaged_snapshot_is_refused_on_both_pages(trained_workspace: Workspace) -> None:
    pairs_file = trained_workspace.snapshots / "snap" / "pairs.parquet"
    pairs_file.write_bytes(pairs_file.read_bytes() + b"tampered")

    at = admin_on("ui/pages/train.py")
    assert not at.exception
    (error,) = at.error
    assert "This snapshot cannot be trained on" in error.value
    assert "pairs.parquet: cannot be read as Parquet" in error.value
    assert not [b for b in at.button if b.label == "Start training"]

    at = click(admin_on("ui/pages/inspect_model.py"), "Run inspection")
    assert not at.exception
    (error,) = at.error
    assert "Nothing to show" in error.value and "pairs.parquet" in error.value


def test_the_rater_and_the_model_edit_by_edit(
    sim_workspace: Workspace, flattery_pool: Pool
) -> None:
    """A model trained on a flattery-prone pool beside one trained without its flattery-prone
    raters (``tests/reward/flattery_pool.py``), inspected on their snapshot."""
    shutil.copytree(flattery_pool.snapshot, sim_workspace.snapshots / "flattery")
    for name, folder in flattery_pool.checkpoints.items():
        shutil.copytree(folder, sim_workspace.checkpoints / f"flattery-{name}")
    at = admin_on("ui/pages/inspect_model.py")
    at.selectbox(key="inspect_checkpoint").set_value("flattery-all")
    at = at.run()
    at.number_input(key="inspect_probe_pairs").set_value(4)
    at.selectbox(key="inspect_compare").set_value("flattery-without")
    at = click(at, "Run inspection")
    assert not at.exception and not at.error
    assert "The rater and the model, edit by edit" in [h.value for h in at.subheader]
    (warning,) = [w.value for w in at.warning if "flattery" in w.value]
    assert warning.startswith("flattery: inherited")
    assert "Flagged raters who share it: r1, r2, r3, r4" in warning
    assert any(s.value.startswith("length: none") for s in at.success)
    edits = table_with(at, "verdict")
    assert dict(zip(edits["edit"], edits["verdict"], strict=True)) == {
        "length": "none",
        "flattery": "inherited",
    }
    assert edits.loc[edits["edit"] == "flattery", "flagged_raters"].item() == ", ".join(PRONE)
    changes = table_with(at, "change")
    assert changes.loc[
        changes["edit"] == "flattery", ["first", "second", "change"]
    ].values.tolist() == [["inherited", "resisted", "closed"]]
    assert len(at.get("vega_lite_chart")) == 2, "the reliability plot and the pulls"
