"""Importing preference data: read a file, shape it (or let a preset read it), store it.

``read_file`` is pure: a file (or a preset's file or folder) becomes an ``ImportBatch``
(``frames.PAIRS`` and ``frames.JUDGMENTS`` plus the line each row came from) or raises
``InputError`` naming the file, line and column of the first problem; nothing is written.
``import_file`` adds the one write: ``Store.import_frames``, a single transaction that keeps
existing rows, so importing the same file twice changes nothing.

The steps live in their own modules, each building on the one before: ``data.formats`` reads
bytes into rows, ``data.columns`` and ``data.conversations`` check values, ``data.shapes``
builds the frames, ``data.presets`` reads known public datasets (``PRESETS``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from data.formats import FORMATS, InputError, load_table, shown
from data.presets import PRESETS
from data.shapes import SHAPES, ImportBatch, shape_table
from data.store import ImportCounts, MissingPairsError, Store

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
) -> ImportBatch:
    """Read and validate one file (or, for a preset, a file or folder); write nothing.

    ``format`` (jsonl, csv, parquet) and ``shape`` (pairs, trl, judgments, denormalised) are
    detected from the content when not given. ``mapping`` renames source columns to ours before
    the shape is detected. ``source_rater`` names the rater standing for a TRL file's own label
    (default ``source:<file stem>``). Raises ``InputError`` for any problem in the file.
    """
    path = Path(path)
    if preset is not None:
        if format is not None or shape is not None or mapping:
            raise ValueError("a preset fixes the format, shape and columns; drop those options")
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        return PRESETS[preset].read(path, source_rater)
    shape = "denormalised" if shape == "denormalized" else shape  # either spelling
    _check_option("format", format, FORMATS)
    _check_option("shape", shape, SHAPES)
    table = load_table(path, format).renamed(mapping or {})
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
) -> ImportReport:
    """``read_file`` then one ``Store.import_frames`` transaction into ``project_id``.

    A judgment naming a pair that is neither in the file nor in the store becomes an
    ``InputError`` at its line; nothing is written then.
    """
    batch = read_file(
        path,
        format=format,
        shape=shape,
        preset=preset,
        mapping=mapping,
        source_rater=source_rater,
    )
    try:
        counts = store.import_frames(
            batch.pairs, batch.judgments, project_id, source_raters=batch.source_raters
        )
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


def _check_option(name: str, value: str | None, allowed: Sequence[str]) -> None:
    if value is not None and value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
