"""Admin tables name their columns in words, interval charts span their values, and a page
error shows a reference instead of a traceback (the traceback goes to the server log)."""

from __future__ import annotations

import json
import logging

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from data.workspace import Workspace
from tests.ui.conftest import AppWorkspace, app, signed_in_admin
from ui import audit_views


def column_labels(at: AppTest, index: int = 0) -> dict[str, str]:
    """What the page calls each column of its ``index``-th table."""
    config = json.loads(at.dataframe[index].proto.columns)
    return {name: column["label"] for name, column in config.items() if "label" in column}


def test_the_raters_table_names_its_columns_in_words(sim_workspace: Workspace) -> None:
    at = signed_in_admin(app()).switch_page("ui/pages/raters_audit.py").run()
    labels = column_labels(at)
    assert labels["consensus_accuracy"] == "Agrees with the others"
    assert labels["ds_accuracy"] == "Reliability (Dawid-Skene)"
    assert all("_" not in label for label in labels.values()), labels


def test_every_admin_table_names_its_columns_in_words(sim_workspace: Workspace) -> None:
    for path in (
        "ui/pages/overview.py",
        "ui/pages/agreement.py",
        "ui/pages/disputes.py",
        "ui/pages/leaderboard.py",
    ):
        at = signed_in_admin(app()).switch_page(path).run()
        for index in range(len(at.dataframe)):
            labels = column_labels(at, index)
            assert labels and all("_" not in label for label in labels.values()), (path, labels)


def test_column_labels_fall_back_to_words() -> None:
    assert audit_views.column_label("median_seconds") == "Median seconds"
    assert audit_views.column_label("some_new_column") == "Some new column"


def test_an_interval_chart_spans_its_values_not_zero() -> None:
    board = pl.DataFrame(
        {"model": ["m1", "m2"], "estimate": [980.0, 1020.0], "ci_low": [960.0, 1000.0]}
    ).with_columns(ci_high=pl.col("estimate") + 20)
    chart = audit_views.interval_chart(board, y="model").to_dict()
    scales = [layer["encoding"]["x"].get("scale") for layer in chart["layer"]]
    assert scales == [{"zero": False}, {"zero": False}]


def test_a_page_error_shows_a_reference_and_logs_the_traceback(
    app_workspace: AppWorkspace, caplog: pytest.LogCaptureFixture
) -> None:
    # A checkpoint whose description nests deeper than Python's JSON reader can follow.
    broken = app_workspace.workspace.checkpoints / "broken"
    broken.mkdir(parents=True)
    (broken / "intentgap.json").write_text("[" * 100_000 + "]" * 100_000)
    with caplog.at_level(logging.ERROR, logger="intentgap"):
        at = signed_in_admin(app()).switch_page("ui/pages/inspect_model.py").run()
    assert not at.exception
    (error,) = at.error
    assert error.value.startswith("Something went wrong (ref ")
    assert error.value.endswith("); the server log has the details.")
    ref = error.value.removeprefix("Something went wrong (ref ").split(")")[0]
    (record,) = [r for r in caplog.records if ref in r.getMessage()]
    assert record.exc_info is not None and record.exc_info[0] is RecursionError
