"""Snapshot folders: a preference set and its votes as Parquet, with a manifest.

A snapshot is what leaves the database for training (``reward/`` reads only these files)::

    snapshot/
      pairs.parquet      frames.PREFERENCES by pair_id (TRL prompt/chosen/rejected + stats)
      judgments.parquet  frames.JUDGMENTS, sorted by created_at, submission_id
      probes.parquet     PROBES by pair_id: the probe pairs the votes touch (only if any)
      bias_card.json     what the audit found wrong with the votes (``labeling.bias_card``)
      BIAS_CARD.md       the same, to read
      manifest.json      counts, options, schema_version, per-file sha256, content_hash, source

Votes that test the raters stay in ``judgments.parquet`` (every vote of the project leaves),
marked, not mixed in. A retest is marked by its own ``round`` (a rater's later round on a
pair; their first vote is the lowest). A vote on a probe pair (``frames.PAIRS.probe_kind``: a
surface edit made to test the raters) is marked by its ``pair_id`` in ``probes.parquet``,
which lists each such pair once with its kind, its base pair and its intended side
(``PROBES``). The votes keep their own contract, ``frames.JUDGMENTS``, which is the store's
and closed: the mark is a property of the pair, so it lives in a table of pairs, which also
marks the rows of ``pairs.parquet`` when probe pairs were exported on purpose (the manifest's
``options.with_probes``). From format 3 a snapshot without ``probes.parquet`` has no vote on a
probe pair; older snapshots did not say, and are refused.

Two hashes, two jobs. ``content_hash`` names the data: a sha256 over a canonical encoding of
the frames' values (rows sorted, columns in contract order; ``probes.parquet`` enters only
when it has rows, so a snapshot without probes hashes as before), independent of Parquet encoding
and library versions, so the same votes exported again give the same hash; checkpoints record
it. Each file's ``sha256`` guards the bytes: reading checks it before parsing, so an edited or
damaged file is named as such. Files are written deterministically (sorted rows, fixed column
order and layout), so with the same library versions the same data also gives the same bytes.

The bias card is not part of ``content_hash``: its numbers are derived from the two frames
(bootstrap intervals, model fits), so they may change with the method or a library version
while the data stays the same, and the hash that checkpoints record names the data. Its two
files are listed in the manifest with their sha256 like the Parquet files, so reading checks
their bytes too. A snapshot may lack a card (``write_snapshot`` without one): readers of this
format take both.

This module only reads and writes files; building the preference frame and the bias card is
``labeling``'s job.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl
import pyarrow as pa

from data import frames
from data.workspace import StoreWriteError, write_failure_cause

__all__ = [
    "BIAS_CARD_FILE",
    "BIAS_CARD_MARKDOWN_FILE",
    "JUDGMENTS_FILE",
    "MANIFEST_FILE",
    "PAIRS_FILE",
    "PROBES",
    "PROBES_FILE",
    "BiasCardContent",
    "Manifest",
    "SnapshotError",
    "SnapshotExists",
    "SnapshotFile",
    "content_hash",
    "read_probes",
    "read_snapshot",
    "write_snapshot",
]

PAIRS_FILE = "pairs.parquet"
JUDGMENTS_FILE = "judgments.parquet"
PROBES_FILE = "probes.parquet"
MANIFEST_FILE = "manifest.json"
BIAS_CARD_FILE = "bias_card.json"
BIAS_CARD_MARKDOWN_FILE = "BIAS_CARD.md"
#: The text files a snapshot may hold beside its data, checked by sha256 when listed.
_TEXT_FILES = (BIAS_CARD_FILE, BIAS_CARD_MARKDOWN_FILE)
#: Version of the folder layout and the files' contracts; readers refuse other ones.
#: 2: pairs.parquet gained ``posterior`` (Dawid-Skene soft label) and ``gold_principle``.
#: 3: probes.parquet names the probe pairs among the votes' pairs (absent: there are none).
FORMAT_VERSION = 3
#: Why a snapshot of an older format is refused, beside "export the snapshot again".
_OLDER = {2: "its votes on probe pairs, if any, are not marked"}

#: ``probes.parquet``: one row per probe pair with a vote in ``judgments.parquet``, its
#: ``probe_kind``, the pair it was made from (``probe_of``) and its intended side (``gold``),
#: as ``frames.PAIRS`` has them.
PROBES: dict[str, pl.DataType] = {
    name: frames.PAIRS[name] for name in ("pair_id", "probe_kind", "probe_of", "gold")
}

#: Each data file, its contract and the sort that makes its rows deterministic.
_LAYOUT: dict[str, tuple[dict[str, pl.DataType], tuple[str, ...]]] = {
    PAIRS_FILE: (frames.PREFERENCES, ("pair_id",)),
    JUDGMENTS_FILE: (frames.JUDGMENTS, ("created_at", "submission_id")),
    PROBES_FILE: (PROBES, ("pair_id",)),
}
#: The data files every snapshot has; the others are there when they have rows.
_REQUIRED = (PAIRS_FILE, JUDGMENTS_FILE)
#: Unique key of each data file.
_KEYS = {PAIRS_FILE: "pair_id", JUDGMENTS_FILE: "submission_id", PROBES_FILE: "pair_id"}
_ROW_GROUP_SIZE = 128 * 1024
#: The hidden sibling folders an export works in: ``.<name>.<pid>-<random>.partial`` while it
#: writes, ``.<name>.<pid>-<random>.old`` for the folder it replaces. The PID tells a folder
#: that an export is still writing from one that an interrupted export left behind.
_WORK_FOLDER = re.compile(r"^\..+\.(?:(?P<pid>\d+)-)?[0-9a-f]{32}\.(?:partial|old)$")


class SnapshotExists(FileExistsError):
    """The snapshot folder already holds files, and replacing them was not asked for."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"{path} already holds files; choose a new folder or overwrite it")


class SnapshotError(ValueError):
    """A snapshot folder that cannot be trusted: which file, and what is wrong with it."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"snapshot file {path}: {problem}")


class BiasCardContent(Protocol):
    """A bias card as the snapshot writes it (``labeling.bias_card.BiasCard`` is one): its
    JSON-ready values (``bias_card.json``) and its Markdown (``BIAS_CARD.md``)."""

    def to_dict(self) -> dict[str, Any]: ...

    def to_markdown(self) -> str: ...


@dataclass(frozen=True)
class SnapshotFile:
    """One file of a snapshot as the manifest records it; ``rows`` counts a Parquet file's
    rows and a text file's lines."""

    name: str
    sha256: str
    rows: int
    bytes: int


@dataclass(frozen=True)
class Manifest:
    """What a snapshot holds and how it was made (``manifest.json``).

    ``counts``: ``pairs`` (preference rows), ``ties`` (kept tied pairs), ``gold_pairs``,
    ``judgments`` (rows of judgments.parquet), ``judgments_used`` (votes behind the preference
    rows), ``raters`` (distinct raters in judgments.parquet), ``probe_pairs`` (rows of
    probes.parquet) and ``probe_judgments`` (votes on them).
    """

    format_version: int
    schema_version: str
    created_at: str
    source: str
    options: dict[str, object]
    counts: dict[str, int]
    files: tuple[SnapshotFile, ...]
    content_hash: str

    def to_dict(self) -> dict[str, object]:
        return {
            "format_version": self.format_version,
            "schema_version": self.schema_version,
            "created_at": self.created_at,
            "source": self.source,
            "options": self.options,
            "counts": self.counts,
            "files": [vars(entry) for entry in self.files],
            "content_hash": self.content_hash,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """Raises KeyError, TypeError or ValueError on a malformed manifest."""
        files = tuple(
            SnapshotFile(
                name=str(entry["name"]),
                sha256=str(entry["sha256"]),
                rows=int(entry["rows"]),
                bytes=int(entry["bytes"]),
            )
            for entry in data["files"]
        )
        return cls(
            format_version=int(data["format_version"]),
            schema_version=str(data["schema_version"]),
            created_at=str(data["created_at"]),
            source=str(data["source"]),
            options=dict(data["options"]),
            counts={str(k): int(v) for k, v in dict(data["counts"]).items()},
            files=files,
            content_hash=str(data["content_hash"]),
        )

    def file(self, name: str) -> SnapshotFile | None:
        """The manifest's entry for one data file."""
        return next((entry for entry in self.files if entry.name == name), None)


def write_snapshot(
    out_dir: Path,
    preferences: pl.DataFrame,
    judgments: pl.DataFrame,
    *,
    options: Mapping[str, object],
    schema_version: str,
    source: str,
    overwrite: bool = False,
    bias_card: BiasCardContent | None = None,
    probes: pl.DataFrame | None = None,
) -> Manifest:
    """Write a snapshot folder and return its manifest.

    ``preferences`` must follow ``frames.PREFERENCES`` and ``judgments`` ``frames.JUDGMENTS``
    (same column names and dtypes, any order; ``pair_id`` and ``submission_id`` unique), else
    ValueError. ``probes`` follows ``PROBES`` (``pair_id`` unique, ``probe_kind`` set): the
    probe pairs the votes touch, built by ``labeling.preference_set.probe_rows``; written as
    ``probes.parquet`` when it has rows (None: there are none). ``options`` (JSON-ready)
    records how the set was built; ``source`` where from.
    ``bias_card`` (built by ``labeling.bias_card`` from the votes) is written as
    ``bias_card.json`` and ``BIAS_CARD.md``; its values must be JSON-ready (no NaN), else
    ValueError.

    Files go to a hidden sibling folder (``.<name>.<pid>-<random>.partial``) that is renamed
    to ``out_dir`` at the end, so a crash leaves either no snapshot or a whole one (plus that
    hidden folder, which the next export into the same parent folder removes). An existing
    non-empty ``out_dir`` is refused (``SnapshotExists``) unless ``overwrite``; then it is
    replaced as a whole. A write the disk refuses raises ``StoreWriteError`` with its cause
    (disk full, read-only, ...), and nothing is left behind.
    """
    out_dir = Path(out_dir)
    _refuse_existing(out_dir, overwrite)
    data = _data_files(preferences, judgments, probes)
    try:
        recorded_options = json.loads(json.dumps(dict(options)))
    except (TypeError, ValueError) as error:
        raise ValueError(f"options must be JSON-serialisable: {error}") from None
    texts = _card_texts(bias_card) if bias_card is not None else {}
    with _named_write_failures(out_dir):
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(out_dir.parent)
        staging = _work_folder(out_dir, "partial")
        staging.mkdir()
        try:
            files = tuple(_write_parquet(staging / name, frame) for name, frame in data.items())
            files += tuple(_write_text(staging / name, text) for name, text in texts.items())
            prefs, votes = data[PAIRS_FILE], data[JUDGMENTS_FILE]
            probe_ids = data.get(PROBES_FILE, frames.empty(PROBES))["pair_id"]
            manifest = Manifest(
                format_version=FORMAT_VERSION,
                schema_version=schema_version,
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                source=source,
                options=recorded_options,
                counts={
                    "pairs": prefs.height,
                    "ties": int(prefs["is_tie"].sum()),
                    "gold_pairs": int(prefs["is_gold"].sum()),
                    "judgments": votes.height,
                    "judgments_used": int(prefs["n_judgments"].sum()),
                    "raters": votes["rater_id"].drop_nulls().n_unique(),
                    "probe_pairs": probe_ids.len(),
                    "probe_judgments": int(votes["pair_id"].is_in(probe_ids.implode()).sum()),
                },
                files=files,
                content_hash=_content_hash(data),
            )
            manifest_text = json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False) + "\n"
            _write_durably(staging / MANIFEST_FILE, manifest_text.encode("utf-8"))
            _fsync(staging)
            _publish(staging, out_dir, overwrite)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return manifest


def read_snapshot(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame, Manifest]:
    """Read ``(preferences, judgments, manifest)`` back, after checking everything.

    Raises SnapshotError naming the file and the problem when the folder or a file is
    missing, the manifest is malformed or of another format, a file's columns or dtypes
    differ from its contract, its bytes differ from the manifest's sha256, its row count
    does, or the data read does not give the manifest's ``content_hash``. The bias card's
    files and ``probes.parquet``, when the manifest lists them, are checked the same way
    (``read_probes`` returns the probes).
    """
    folder = Path(folder)
    manifest = _read_folder_manifest(folder)
    loaded = {
        name: _read_data_file(folder, manifest, name)
        for name in _LAYOUT
        if name in _REQUIRED or manifest.file(name) is not None
    }
    manifest_path = folder / MANIFEST_FILE
    if _content_hash(loaded) != manifest.content_hash:
        raise SnapshotError(
            manifest_path, "content_hash does not match the data read from the files"
        )
    for name in _TEXT_FILES:
        entry = manifest.file(name)
        if entry is not None:
            _check_bytes(folder / name, entry)
    return loaded[PAIRS_FILE], loaded[JUDGMENTS_FILE], manifest


def read_probes(folder: Path) -> pl.DataFrame:
    """The snapshot's probe pairs (``PROBES``, by ``pair_id``; empty when it lists none).

    A vote in ``judgments.parquet`` whose ``pair_id`` is here tested its rater with a probe
    pair; a row of ``pairs.parquet`` is a probe pair when the snapshot was exported with
    ``with_probes``. Checks the manifest and the file (contract, sha256, rows) as
    ``read_snapshot`` does, raising SnapshotError; ``read_snapshot`` checks the whole.
    """
    folder = Path(folder)
    manifest = _read_folder_manifest(folder)
    if manifest.file(PROBES_FILE) is None:
        return frames.empty(PROBES)
    return _read_data_file(folder, manifest, PROBES_FILE)


def content_hash(
    preferences: pl.DataFrame, judgments: pl.DataFrame, probes: pl.DataFrame | None = None
) -> str:
    """The ``content_hash`` a snapshot of these frames gets (see the module docstring).

    Consumes ``frames.PREFERENCES``, ``frames.JUDGMENTS`` and ``PROBES`` frames, in any row
    order.
    """
    return _content_hash(_data_files(preferences, judgments, probes))


# -- helpers ---------------------------------------------------------------------------------


def _data_files(
    preferences: pl.DataFrame, judgments: pl.DataFrame, probes: pl.DataFrame | None
) -> dict[str, pl.DataFrame]:
    """The data files of a snapshot, checked and in their deterministic order; probes.parquet
    only when it has rows."""
    data = {
        PAIRS_FILE: _deterministic(preferences, PAIRS_FILE),
        JUDGMENTS_FILE: _deterministic(judgments, JUDGMENTS_FILE),
    }
    if probes is not None and probes.height:
        data[PROBES_FILE] = _deterministic(probes, PROBES_FILE)
        if data[PROBES_FILE]["probe_kind"].null_count():
            raise ValueError(f"frame for {PROBES_FILE}: probe_kind must not be null")
    return data


def _read_folder_manifest(folder: Path) -> Manifest:
    if not folder.is_dir():
        raise SnapshotError(folder, "no such snapshot folder")
    return _read_manifest(folder / MANIFEST_FILE)


def _read_data_file(folder: Path, manifest: Manifest, name: str) -> pl.DataFrame:
    """One data file, checked against its contract and its manifest entry."""
    contract, _ = _LAYOUT[name]
    path = folder / name
    entry = manifest.file(name)
    if entry is None:
        raise SnapshotError(folder / MANIFEST_FILE, f"lists no entry for {name}")
    if not path.is_file():
        raise SnapshotError(path, "is missing")
    try:
        schema = dict(pl.read_parquet_schema(path))
    except Exception as error:  # polars raises several kinds for a damaged file
        raise SnapshotError(path, f"cannot be read as Parquet ({error})") from None
    problems = _schema_problems(schema, contract)
    if problems:
        raise SnapshotError(path, "does not match its contract: " + "; ".join(problems))
    _check_bytes(path, entry)
    frame = pl.read_parquet(path)
    if frame.height != entry.rows:
        raise SnapshotError(path, f"has {frame.height} rows, the manifest says {entry.rows}")
    return frame


def _refuse_existing(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise SnapshotExists(out_dir)


@contextmanager
def _named_write_failures(out_dir: Path) -> Iterator[None]:
    """A write the disk refuses becomes ``StoreWriteError`` with its cause (polars and the
    OS word it differently); every other error passes unchanged."""
    try:
        yield
    except Exception as error:
        cause = write_failure_cause(error)
        if cause is None:
            raise
        raise StoreWriteError(out_dir, cause, str(error)) from None


def _work_folder(out_dir: Path, kind: str) -> Path:
    """A new hidden sibling of ``out_dir`` that names this process (see ``_WORK_FOLDER``)."""
    return out_dir.parent / f".{out_dir.name}.{os.getpid()}-{uuid.uuid4().hex}.{kind}"


def _remove_leftovers(folder: Path) -> None:
    """Delete the work folders in ``folder`` that exports killed midway left behind: those
    whose process is gone (an export still running keeps its own)."""
    for entry in folder.iterdir():
        found = _WORK_FOLDER.match(entry.name)
        if found is not None and entry.is_dir() and not _running(found["pid"]):
            shutil.rmtree(entry, ignore_errors=True)


def _running(pid: str | None) -> bool:
    """Whether the process with this id still runs (a folder without one is an old leftover)."""
    if pid is None:
        return False
    if os.name == "nt":
        return True  # os.kill would end the process there: leave its folder alone
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def _schema_problems(
    schema: Mapping[str, pl.DataType], contract: Mapping[str, pl.DataType]
) -> list[str]:
    problems = []
    missing = [name for name in contract if name not in schema]
    extra = [name for name in schema if name not in contract]
    if missing:
        problems.append("missing column(s) " + ", ".join(missing))
    if extra:
        problems.append("unexpected column(s) " + ", ".join(extra))
    problems += [
        f"column {name} is {schema[name]}, expected {dtype}"
        for name, dtype in contract.items()
        if name in schema and schema[name] != dtype
    ]
    return problems


def _deterministic(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """The frame in its contract's column order and its file's row order, checked."""
    contract, order = _LAYOUT[name]
    problems = _schema_problems(frame.schema, contract)
    if problems:
        raise ValueError(f"frame for {name} does not match its contract: " + "; ".join(problems))
    key = _KEYS[name]
    if frame[key].null_count() or frame[key].n_unique() != frame.height:
        raise ValueError(f"frame for {name}: {key} must be unique and not null")
    return frame.select(list(contract)).sort(order).rechunk()


def _write_parquet(path: Path, frame: pl.DataFrame) -> SnapshotFile:
    frame.write_parquet(
        path,
        compression="zstd",
        compression_level=3,
        statistics=True,
        row_group_size=_ROW_GROUP_SIZE,
    )
    _fsync(path)
    return SnapshotFile(
        name=path.name, sha256=_sha256(path), rows=frame.height, bytes=path.stat().st_size
    )


def _card_texts(card: BiasCardContent) -> dict[str, str]:
    """The bias card's two files' text (refused before anything is written if not JSON-ready)."""
    try:
        values = json.dumps(card.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"the bias card must be JSON-serialisable: {error}") from None
    return {BIAS_CARD_FILE: values + "\n", BIAS_CARD_MARKDOWN_FILE: card.to_markdown()}


def _write_text(path: Path, text: str) -> SnapshotFile:
    content = text.encode("utf-8")
    _write_durably(path, content)
    return SnapshotFile(
        name=path.name,
        sha256=hashlib.sha256(content).hexdigest(),
        rows=len(text.splitlines()),
        bytes=len(content),
    )


def _check_bytes(path: Path, entry: SnapshotFile) -> None:
    """The file is there and its sha256 is the manifest's, else SnapshotError."""
    if not path.is_file():
        raise SnapshotError(path, "is missing")
    digest = _sha256(path)
    if digest != entry.sha256:
        raise SnapshotError(
            path,
            f"sha256 {digest[:16]}... differs from the manifest's {entry.sha256[:16]}...:"
            " the file was changed or damaged after export",
        )


def _write_durably(path: Path, content: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk (folders cannot be opened on Windows)."""
    if os.name == "nt" and path.is_dir():
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _publish(staging: Path, out_dir: Path, overwrite: bool) -> None:
    """Rename the finished folder into place (replacing an old one only when allowed)."""
    _refuse_existing(out_dir, overwrite)  # again: something may have appeared meanwhile
    if out_dir.is_dir():
        retired = _work_folder(out_dir, "old")
        out_dir.rename(retired)
        staging.rename(out_dir)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(out_dir)
    _fsync(out_dir.parent)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _content_hash(data: Mapping[str, pl.DataFrame]) -> str:
    """sha256 over each file name, row count and column (name, then its canonical bytes);
    an empty probes.parquet adds nothing (as an absent one)."""
    digest = hashlib.sha256()
    for name in sorted(data):
        frame = data[name]
        if name not in _REQUIRED and frame.is_empty():
            continue
        digest.update(f"{name}\0{frame.height}\n".encode())
        for column in frame.get_columns():
            digest.update(f"{column.name}\0".encode())
            _hash_values(digest, column)
    return digest.hexdigest()


def _hash_values(digest: Any, column: pl.Series) -> None:
    """Feed a column's values in a fixed little-endian layout: null mask, then the values."""
    if column.dtype == pl.String:
        digest.update(_little_endian(column.is_null()))
        filled = column.fill_null("")
        digest.update(_little_endian(filled.str.len_bytes().cast(pl.UInt64)))
        array = filled.to_arrow().cast(pa.large_string())
        offsets = np.frombuffer(array.buffers()[1], dtype="<i8")
        start, end = offsets[array.offset], offsets[array.offset + len(array)]
        if end > start:
            digest.update(memoryview(array.buffers()[2])[start:end])
    elif isinstance(column.dtype, pl.List):
        digest.update(_little_endian(column.is_null()))
        digest.update(_little_endian(column.list.len().fill_null(0).cast(pl.UInt64)))
        _hash_values(digest, column.explode(empty_as_null=False, keep_nulls=False))
    else:  # numbers, booleans, datetimes (as their integer count of the contract's unit)
        digest.update(_little_endian(column.is_null()))
        digest.update(_little_endian(column.to_physical().fill_null(strategy="zero")))


def _little_endian(values: pl.Series) -> bytes:
    array = values.to_numpy()
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def _read_manifest(path: Path) -> Manifest:
    if not path.is_file():
        raise SnapshotError(path, "is missing: not a snapshot, or an export that did not finish")
    try:
        manifest = Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as error:
        raise SnapshotError(path, f"is malformed ({type(error).__name__}: {error})") from None
    if manifest.format_version > FORMAT_VERSION:
        raise SnapshotError(
            path,
            f"format_version {manifest.format_version} is newer than this intentgap reads"
            f" ({FORMAT_VERSION}); upgrade intentgap",
        )
    if manifest.format_version < FORMAT_VERSION:
        why = _OLDER.get(manifest.format_version)
        raise SnapshotError(
            path,
            f"format_version {manifest.format_version} is older than this intentgap reads"
            f" ({FORMAT_VERSION}{': ' + why if why else ''}); export the snapshot again",
        )
    return manifest
