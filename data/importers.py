"""Importing preference data: read a file, shape it (or let a preset read it), store it.

``read_file`` is pure: a file (or a preset's file or folder) becomes an ``ImportBatch``
(``frames.PAIRS`` and ``frames.JUDGMENTS`` plus the line each row came from) or raises
``InputError`` naming the file, line and column of the first problem; nothing is written.
``import_file`` adds the one write: ``Store.import_frames``, a single transaction that keeps
existing rows, so importing the same file twice changes nothing, and refuses rows that
contradict stored ones (naming the line and when the stored row came), writing nothing at
all then, not even the project it would have created. Votes must be choices the project
allows. No file is read past ``max_bytes`` (``formats.MAX_BYTES`` by default).

The steps live in their own modules, each building on the one before: ``data.formats`` reads
bytes into rows, ``data.columns`` and ``data.conversations`` check values, ``data.shapes``
builds the frames, ``data.presets`` reads known public datasets (``PRESETS``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from data.columns import normal_rater_id, rater_id_problem
from data.formats import FORMATS, MAX_BYTES, InputError, load_table, shown
from data.presets import PRESETS
from data.shapes import SHAPES, ImportBatch, shape_table, verdict
from data.store import ImportConflict, ImportCounts, MissingPairsError, Project, Store

# ImportBatch and InputError are what read_file and import_file return and raise.
__all__ = ["ImportBatch", "ImportReport", "InputError", "import_file", "read_file"]


@dataclass(frozen=True)
class ImportReport:
    """What ``import_file`` read and what the store changed."""

    batch: ImportBatch
    counts: ImportCounts

    def summary(self) -> str:
        """One readable paragraph, e.g. for the CLI and the admin page."""
        b, c = self.batch, self.counts
        text = (
            f"{b.path.name} ({b.format}, {b.shape}): {_count(c.pairs_new, 'new pair')}"
            f" ({c.pairs_existing} already stored), {_count(c.judgments_new, 'new judgment')}"
            f" ({c.judgments_existing} already stored) from {_count(len(c.rater_ids), 'rater')}"
            f" ({c.raters_new} new)."
        )
        if b.duplicates:
            first = b.duplicates[0]
            text += (
                f" {_count(len(b.duplicates), 'duplicate row')} left out"
                f" (e.g. line {first.line} repeats line {first.first_line})."
            )
        if b.ignored_columns:
            names = ", ".join(b.ignored_columns)
            text += f" Columns not imported: {names}."
        return text


def read_file(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    shape: str | None = None,
    preset: str | None = None,
    mapping: Mapping[str, str] | None = None,
    source_rater: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> ImportBatch:
    """Read and validate one file (or, for a preset, a file or folder); write nothing.

    ``format`` (jsonl, csv, parquet) and ``shape`` (pairs, trl, judgments, denormalised) are
    detected from the content when not given. ``mapping`` renames source columns to ours before
    the shape is detected. ``source_rater`` names the rater standing for a TRL file's own label
    (default ``shapes.TRL_SOURCE_RATER``). A file larger than ``max_bytes`` (once
    decompressed) is refused. Raises ``InputError`` for any problem in the file.
    """
    path = Path(path)
    source_rater = _normal_rater(source_rater)
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be a positive number of bytes, not {max_bytes}")
    if preset is not None:
        if format is not None or shape is not None or mapping:
            raise ValueError("a preset fixes the format, shape and columns; drop those options")
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        return PRESETS[preset].read(path, source_rater, max_bytes=max_bytes)
    shape = "denormalised" if shape == "denormalized" else shape  # either spelling
    _check_option("format", format, FORMATS)
    _check_option("shape", shape, SHAPES)
    table = load_table(path, format, max_bytes=max_bytes).renamed(mapping or {})
    return shape_table(table, shape, source_rater=source_rater)


def import_file(
    store: Store,
    path: str | os.PathLike[str],
    project_id: str,
    *,
    format: str | None = None,
    shape: str | None = None,
    preset: str | None = None,
    mapping: Mapping[str, str] | None = None,
    source_rater: str | None = None,
    max_bytes: int = MAX_BYTES,
    create_project: bool = False,
) -> ImportReport:
    """``read_file`` then one ``Store.import_frames`` transaction into ``project_id``
    (created, with default settings, in that transaction when ``create_project``).

    Each of these becomes an ``InputError`` at its line, and nothing is written then: a vote
    whose choice the project does not allow, a judgment naming a pair that is neither in the
    file nor in the store, a row that contradicts a stored one.
    """
    project = store.project(project_id)
    if project is None and not create_project:
        raise ValueError(f"no project {project_id!r}; create it first")
    batch = read_file(
        path,
        format=format,
        shape=shape,
        preset=preset,
        mapping=mapping,
        source_rater=source_rater,
        max_bytes=max_bytes,
    )
    _refuse_choices_not_allowed(batch, project or Project(project_id, project_id))
    try:
        counts = store.import_frames(
            batch.pairs,
            batch.judgments,
            project_id,
            source_raters=batch.source_raters,
            create_project=create_project,
        )
    except ImportConflict as conflict:
        raise _stored_conflict(batch, conflict) from None
    except MissingPairsError as error:
        missing = batch.judgments["pair_id"].is_in(error.pair_ids)
        index = int(missing.arg_true()[0])
        pair_id = batch.judgments["pair_id"][index]
        others = len(error.pair_ids) - 1
        raise InputError(
            batch.path,
            f"pair_id {shown(pair_id)} is neither in this file nor in the store"
            + (f" ({others} more unknown pair ids)" if others else ""),
            line=batch.judgment_lines[index],
            column="pair_id",
        ) from None
    return ImportReport(batch, counts)


def _normal_rater(rater_id: str | None) -> str | None:
    """A rater id given as an option, normalised as ids in files are (``rater_ids``)."""
    if rater_id is None:
        return None
    normal = normal_rater_id(rater_id)
    problem = "the id is empty" if not normal else rater_id_problem(normal)
    if problem is not None:
        raise ValueError(f"source rater: {problem}")
    return normal


def _refuse_choices_not_allowed(batch: ImportBatch, project: Project) -> None:
    allowed = project.choices
    refused = ~batch.judgments["choice"].is_in(list(allowed))
    if not refused.any():
        return
    index = int(refused.arg_true()[0])
    count = int(refused.sum())
    message = (
        f"{shown(batch.judgments['choice'][index])} is not a choice project"
        f" {shown(project.project_id)} allows (it allows {', '.join(allowed)}; its settings can"
        " change that)"
    )
    if count > 1:
        message += f" ({count - 1} more {'row' if count == 2 else 'rows'} like this)"
    raise InputError(batch.path, message, line=batch.judgment_lines[index], column="choice")


def _stored_conflict(batch: ImportBatch, conflict: ImportConflict) -> InputError:
    """The conflict in words, at the line of the incoming row."""
    if conflict.frame == "pairs":
        row, line = batch.pairs.row(conflict.row, named=True), batch.pair_lines[conflict.row]
    else:
        row = batch.judgments.row(conflict.row, named=True)
        line = batch.judgment_lines[conflict.row]
    stored, column = conflict.stored, conflict.column
    since = _stored_since(stored)
    if conflict.what == "pair":
        message = (
            f"pair_id {shown(row['pair_id'])} is {since} with another {column}"
            f" ({shown(stored[column], 30)} there, {shown(row[column], 30)} here):"
            " one pair_id names one pair"
        )
    elif conflict.what == "vote":
        message = (
            f"rater {shown(row['rater_id'])} has a vote on pair {shown(row['pair_id'])}"
            f" (round {row['round']}) {since}: {verdict(stored)}, and {verdict(row)} here:"
            " one vote per rater, pair and round (give a later vote its own round)"
        )
    else:
        column = "submission_id"
        message = (
            f"submission_id {shown(row['submission_id'])} is {since} for another vote"
            f" (rater {shown(stored['rater_id'])} on pair {shown(stored['pair_id'])}):"
            " a submission id names one vote"
        )
    if conflict.count > 1:
        others = conflict.count - 1
        message += f" ({others} more {'row' if others == 1 else 'rows'} like this)"
    return InputError(batch.path, message, line=line, column=column)


def _stored_since(stored: Mapping[str, Any]) -> str:
    """``stored since 2024-05-01 12:00 UTC (from pairs.jsonl)``: when and whence."""
    since: datetime = stored["since"]
    text = f"stored since {since.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    return text + (f" (from {stored['source']})" if stored.get("source") else "")


def _check_option(name: str, value: str | None, allowed: Sequence[str]) -> None:
    if value is not None and value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
