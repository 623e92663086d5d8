"""Snapshot folders: what is written, that TRL's readers take it as it is, that the same data
gives the same hash, and that a damaged or half-written snapshot is refused clearly.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from data import frames
from data.export import (
    BIAS_CARD_FILE,
    BIAS_CARD_MARKDOWN_FILE,
    JUDGMENTS_FILE,
    MANIFEST_FILE,
    PAIRS_FILE,
    PROBES,
    PROBES_FILE,
    Manifest,
    SnapshotError,
    SnapshotExists,
    content_hash,
    read_probes,
    read_snapshot,
    write_snapshot,
)
from data.workspace import StoreWriteError
from tests.trouble import small_disk

REPO = Path(__file__).resolve().parents[2]

PREFERENCES = frames.conform(
    pl.DataFrame(
        {
            "pair_id": ["p2", "p1", "p3"],  # deliberately unsorted
            "prompt": ["2+2?", "Capital of France?", 'Say "hi"\nin French.'],
            "chosen": ["4", "Paris.", "« Salut » 👋"],
            "rejected": ["5", "Lyon.", "Hello."],
            "chosen_side": ["b", "a", "a"],
            "margin": [0.75, 0.625, 0.0],
            "label": [1.0, 0.625, 0.5],
            "n_judgments": [3, 4, 2],
            "votes_a": [0, 2, 1],
            "votes_b": [3, 1, 1],
            "votes_tie": [0, 1, 0],
            "votes_both_bad": [0, 0, 0],
            "agreement": [1.0, 0.5, 0.5],
            "is_tie": [False, False, True],
            "is_gold": [False, False, True],
            "gold": [None, None, "a"],
        }
    ),
    frames.PREFERENCES,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
JUDGMENTS = frames.conform(
    pl.DataFrame(
        {
            "submission_id": ["s3", "s1", "s2"],
            "pair_id": ["p1", "p1", "p2"],
            "rater_id": ["r2", "r1", "r1"],
            "round": [0, 0, 0],
            "choice": ["b", "a", "b"],
            "strength": [2, 3, None],
            "shown_left": ["a", "b", "a"],
            "seconds": [12.5, 30.0, 4.25],
            "created_at": [T0.replace(minute=2), T0, T0.replace(minute=1)],
            "rationale": [None, "Paris is the capital.", None],
            "principles": [[], ["honesty"], None],
            "flags": [None, [], ["unsafe"]],
            "is_gold": [False, False, False],
            "source": ["ui", "ui", "ui"],
        }
    ),
    frames.JUDGMENTS,
)


@dataclass(frozen=True)
class ToyCard:
    """What ``labeling.bias_card.BiasCard`` hands the exporter: JSON-ready values and Markdown
    (``data`` may not import ``labeling``, so the exporter takes anything with these two)."""

    values: dict[str, Any]
    markdown: str

    def to_dict(self) -> dict[str, Any]:
        return self.values

    def to_markdown(self) -> str:
        return self.markdown


TOY_CARD = ToyCard(
    {"card_version": 1, "rater_weights": [{"rater_id": "r1", "weight": 0.9}]},
    "# Bias card\n\n- r2 agrees with nobody.\n",
)


def write(
    folder: Path,
    *,
    options: Mapping[str, object] | None = None,
    overwrite: bool = False,
    bias_card: ToyCard | None = None,
) -> Manifest:
    """The toy frames written as a snapshot."""
    return write_snapshot(
        folder,
        PREFERENCES,
        JUDGMENTS,
        options={"ties": "soft", "exclude_raters": ("r9",)} if options is None else options,
        schema_version="0001_initial",
        source="test.duckdb project=toy",
        overwrite=overwrite,
        bias_card=bias_card,
    )


def test_the_folder_holds_two_parquet_files_and_a_manifest(tmp_path: Path) -> None:
    manifest = write(tmp_path / "snap")

    assert sorted(p.name for p in (tmp_path / "snap").iterdir()) == [
        JUDGMENTS_FILE,
        MANIFEST_FILE,
        PAIRS_FILE,
    ]
    assert manifest.counts == {
        "pairs": 3,
        "ties": 1,
        "gold_pairs": 1,
        "judgments": 3,
        "judgments_used": 9,
        "raters": 2,
        "probe_pairs": 0,
        "probe_judgments": 0,
    }
    assert manifest.options == {"ties": "soft", "exclude_raters": ["r9"]}  # as JSON has it
    assert (manifest.schema_version, manifest.source) == ("0001_initial", "test.duckdb project=toy")
    assert manifest.format_version == 3
    assert datetime.fromisoformat(manifest.created_at).tzinfo is not None
    assert [(f.name, f.rows) for f in manifest.files] == [(PAIRS_FILE, 3), (JUDGMENTS_FILE, 3)]
    on_disk = json.loads((tmp_path / "snap" / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert on_disk["content_hash"] == manifest.content_hash
    # Pinned: the canonical encoding must not drift with library versions; if this changes,
    # every recorded snapshot hash changes meaning.
    assert manifest.content_hash == (
        "dd7bb9778675928ec8b76e0b54ad8f7eb4f2c8df02160245d3be2677733db342"
    )
    # Nothing is left beside the snapshot (the staging folder was renamed into place).
    assert [p.name for p in tmp_path.iterdir()] == ["snap"]


def test_reading_back_gives_the_frames_in_a_fixed_order(tmp_path: Path) -> None:
    manifest = write(tmp_path / "snap")

    preferences, judgments, read_manifest = read_snapshot(tmp_path / "snap")

    assert read_manifest == manifest
    assert_frame_equal(preferences, PREFERENCES.sort("pair_id"))
    assert_frame_equal(judgments, JUDGMENTS.sort("created_at", "submission_id"))
    assert judgments["submission_id"].to_list() == ["s1", "s2", "s3"]
    assert preferences.schema == pl.Schema(frames.PREFERENCES)
    assert judgments.schema == pl.Schema(frames.JUDGMENTS)


def test_same_data_gives_the_same_content_hash(tmp_path: Path) -> None:
    first = write(tmp_path / "one")
    shuffled = write_snapshot(
        tmp_path / "two",
        PREFERENCES.reverse().select(reversed(PREFERENCES.columns)),
        JUDGMENTS.reverse(),
        options={},
        schema_version="0001_initial",
        source="elsewhere",
    )
    changed = write_snapshot(
        tmp_path / "three",
        PREFERENCES.with_columns(pl.col("label").replace(0.625, 0.6)),
        JUDGMENTS,
        options={},
        schema_version="0001_initial",
        source="elsewhere",
    )
    assert shuffled.content_hash == first.content_hash
    assert shuffled.files == first.files
    assert changed.content_hash != first.content_hash
    assert changed.files[1] == first.files[1]  # the judgments did not change


def test_content_hash_names_the_values_not_the_parquet_encoding(tmp_path: Path) -> None:
    manifest = write(tmp_path / "snap")
    shuffled = JUDGMENTS.sample(fraction=1.0, shuffle=True, seed=1)
    assert content_hash(PREFERENCES.reverse(), shuffled) == manifest.content_hash
    # Re-encode pairs.parquet with another writer and compression, as a newer library might,
    # and record its new bytes: the data, hence content_hash, is unchanged and reads back.
    path = tmp_path / "snap" / PAIRS_FILE
    pq.write_table(pq.read_table(path), path, compression="snappy", row_group_size=1)
    manifest_path = tmp_path / "snap" / MANIFEST_FILE
    recorded = json.loads(manifest_path.read_text(encoding="utf-8"))
    recorded["files"][0]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(recorded), encoding="utf-8")

    preferences, _, reread = read_snapshot(tmp_path / "snap")

    assert reread.content_hash == manifest.content_hash
    assert_frame_equal(preferences, PREFERENCES.sort("pair_id"))
    other_margins = PREFERENCES.with_columns(margin=pl.lit(0.0))
    assert content_hash(other_margins, JUDGMENTS) != manifest.content_hash


@pytest.mark.parametrize(
    "change",
    [
        pl.col("flags").fill_null(pl.lit([], pl.List(pl.String))),  # null list -> empty list
        pl.col("rationale").fill_null(""),  # null text -> empty text
        # ["honesty"] -> ["hon", "esty"]: same characters, other boundaries
        pl.when(pl.col("submission_id") == "s1")
        .then(pl.lit(["hon", "esty"]))
        .otherwise(pl.col("principles"))
        .alias("principles"),
        pl.col("created_at") + pl.duration(microseconds=1),
        pl.col("strength").fill_null(1),
    ],
)
def test_content_hash_sees_every_value_change(change: pl.Expr) -> None:
    assert content_hash(PREFERENCES, JUDGMENTS.with_columns(change)) != content_hash(
        PREFERENCES, JUDGMENTS
    )


def test_trl_readers_see_prompt_chosen_rejected_as_strings(tmp_path: Path) -> None:
    write(tmp_path / "snap")
    path = tmp_path / "snap" / PAIRS_FILE

    table = pq.read_table(path)
    for column in ("prompt", "chosen", "rejected"):
        field_type = table.schema.field(column).type
        assert pa.types.is_string(field_type) or pa.types.is_large_string(field_type)

    import datasets as hf_datasets  # here, not at the top: importing it takes about a second

    loaded = hf_datasets.load_dataset(
        "parquet", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf-cache")
    )
    assert loaded.column_names[:4] == ["pair_id", "prompt", "chosen", "rejected"]
    first = loaded[0]
    assert (first["prompt"], first["chosen"], first["rejected"]) == (
        "Capital of France?",
        "Paris.",
        "Lyon.",
    )
    assert loaded[2]["prompt"] == 'Say "hi"\nin French.'
    assert loaded[2]["chosen"] == "« Salut » 👋"
    assert loaded["margin"] == [0.625, 0.75, 0.0]  # TRL's reward loss reads `margin`


def test_a_non_empty_folder_is_refused_unless_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "snap"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="already holds files"):
        write(target)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]

    write(target, overwrite=True)

    assert sorted(p.name for p in target.iterdir()) == [JUDGMENTS_FILE, MANIFEST_FILE, PAIRS_FILE]
    assert [p.name for p in tmp_path.iterdir()] == ["snap"]


def test_an_empty_existing_folder_is_used(tmp_path: Path) -> None:
    (tmp_path / "snap").mkdir()
    write(tmp_path / "snap")
    read_snapshot(tmp_path / "snap")


def test_frames_off_contract_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"pairs.parquet .*missing column\(s\) margin"):
        write_snapshot(
            tmp_path / "snap",
            PREFERENCES.drop("margin"),
            JUDGMENTS,
            options={},
            schema_version="x",
            source="x",
        )
    with pytest.raises(ValueError, match="column n_judgments is Int64, expected Int32"):
        write_snapshot(
            tmp_path / "snap",
            PREFERENCES.with_columns(pl.col("n_judgments").cast(pl.Int64)),
            JUDGMENTS,
            options={},
            schema_version="x",
            source="x",
        )
    with pytest.raises(ValueError, match="submission_id must be unique"):
        write_snapshot(
            tmp_path / "snap",
            PREFERENCES,
            pl.concat([JUDGMENTS, JUDGMENTS.head(1)]),
            options={},
            schema_version="x",
            source="x",
        )
    with pytest.raises(ValueError, match="options must be JSON-serialisable"):
        write(tmp_path / "snap", options={"when": datetime.now(UTC)})
    assert list(tmp_path.iterdir()) == []


# -- the bias card travels with the snapshot -------------------------------------------------


def test_a_bias_card_is_written_beside_the_data_and_listed_with_its_hash(tmp_path: Path) -> None:
    manifest = write(tmp_path / "snap", bias_card=TOY_CARD)

    folder = tmp_path / "snap"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [BIAS_CARD_MARKDOWN_FILE, BIAS_CARD_FILE, JUDGMENTS_FILE, MANIFEST_FILE, PAIRS_FILE]
    )
    assert json.loads((folder / BIAS_CARD_FILE).read_text(encoding="utf-8")) == TOY_CARD.values
    assert (folder / BIAS_CARD_MARKDOWN_FILE).read_text(encoding="utf-8") == TOY_CARD.markdown
    # Listed like the Parquet files: sha256 of the bytes, and lines for rows.
    card_entries = [entry for entry in manifest.files if entry.name.lower().startswith("bias")]
    assert [(entry.name, entry.rows) for entry in card_entries] == [
        (BIAS_CARD_FILE, len((folder / BIAS_CARD_FILE).read_text().splitlines())),
        (BIAS_CARD_MARKDOWN_FILE, 3),
    ]
    for entry in card_entries:
        content = (folder / entry.name).read_bytes()
        assert (entry.sha256, entry.bytes) == (hashlib.sha256(content).hexdigest(), len(content))
    assert read_snapshot(folder)[2] == manifest


def test_the_bias_card_is_not_part_of_the_content_hash(tmp_path: Path) -> None:
    # The card's numbers are derived (bootstrap, model fits): they may change with the method
    # while the votes stay the same, and checkpoints record the hash to name the votes.
    with_card = write(tmp_path / "with", bias_card=TOY_CARD)
    without = write(tmp_path / "without")
    other_card = write(tmp_path / "other", bias_card=ToyCard({"card_version": 1}, "# Other\n"))
    assert with_card.content_hash == without.content_hash == other_card.content_hash
    assert with_card.content_hash == content_hash(PREFERENCES, JUDGMENTS)


def test_an_edited_or_missing_bias_card_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "snap"
    write(folder, bias_card=TOY_CARD)
    markdown = folder / BIAS_CARD_MARKDOWN_FILE
    markdown.write_text(TOY_CARD.markdown + "- (a reader's note)\n", encoding="utf-8")
    with pytest.raises(SnapshotError, match="changed or damaged after export") as error:
        read_snapshot(folder)
    assert error.value.path == markdown

    markdown.write_text(TOY_CARD.markdown, encoding="utf-8")
    (folder / BIAS_CARD_FILE).unlink()
    with pytest.raises(SnapshotError, match=r"bias_card.json: is missing"):
        read_snapshot(folder)


def test_a_bias_card_that_is_not_plain_json_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValueError, match="bias card must be JSON-serialisable"):
        write(tmp_path / "snap", bias_card=ToyCard({"kappa": float("nan")}, "# Bias card\n"))
    assert list(tmp_path.iterdir()) == []


# -- votes that test the raters are marked ---------------------------------------------------

#: p1's votes include one on a probe pair made from it (t1): a flattering opener on the
#: intended loser, with the intended side as gold.
PROBE_VOTE = frames.conform(
    pl.DataFrame(
        {
            "submission_id": ["s4"],
            "pair_id": ["t1"],
            "rater_id": ["r1"],
            "round": [0],
            "choice": ["b"],
            "created_at": [T0.replace(minute=3)],
            "source": ["ui"],
        }
    ),
    frames.JUDGMENTS,
)
PROBES_FRAME = pl.DataFrame(
    {"pair_id": ["t1"], "probe_kind": ["flattery"], "probe_of": ["p1"], "gold": ["a"]},
    schema=PROBES,
)


def write_probed(folder: Path, probes: pl.DataFrame = PROBES_FRAME) -> Manifest:
    return write_snapshot(
        folder,
        PREFERENCES,
        pl.concat([JUDGMENTS, PROBE_VOTE]),
        options={"with_probes": False},
        schema_version="0001_initial",
        source="test",
        probes=probes,
    )


def test_votes_on_probe_pairs_are_marked_by_probes_parquet(tmp_path: Path) -> None:
    manifest = write_probed(tmp_path / "snap")

    folder = tmp_path / "snap"
    assert sorted(p.name for p in folder.iterdir()) == [
        JUDGMENTS_FILE,
        MANIFEST_FILE,
        PAIRS_FILE,
        PROBES_FILE,
    ]
    assert [(f.name, f.rows) for f in manifest.files][-1] == (PROBES_FILE, 1)
    assert (manifest.counts["probe_pairs"], manifest.counts["probe_judgments"]) == (1, 1)
    _, judgments, read_manifest = read_snapshot(folder)
    assert read_manifest == manifest
    # judgments.parquet keeps the store's closed contract; the mark is the pair's.
    assert judgments.schema == pl.Schema(frames.JUDGMENTS)
    probes = read_probes(folder)
    assert_frame_equal(probes, PROBES_FRAME)
    marked = judgments.join(probes, on="pair_id", how="semi")
    assert marked["submission_id"].to_list() == ["s4"]
    # A snapshot without probes lists none, and reads as none.
    write(tmp_path / "plain")
    assert read_probes(tmp_path / "plain").equals(pl.DataFrame(schema=PROBES))


def test_the_probes_are_part_of_the_data_and_of_its_hash(tmp_path: Path) -> None:
    probed = write_probed(tmp_path / "probed")
    votes = pl.concat([JUDGMENTS, PROBE_VOTE])
    assert probed.content_hash == content_hash(PREFERENCES, votes, PROBES_FRAME)
    # Unmarked, the same votes are other data: the hash says so.
    assert content_hash(PREFERENCES, votes) != probed.content_hash
    other_kind = PROBES_FRAME.with_columns(probe_kind=pl.lit("padding"))
    assert content_hash(PREFERENCES, votes, other_kind) != probed.content_hash
    # No probe pair, no file and no change: a snapshot without probes hashes as before.
    assert content_hash(PREFERENCES, JUDGMENTS, PROBES_FRAME.clear()) == content_hash(
        PREFERENCES, JUDGMENTS
    )
    assert write_probed(tmp_path / "empty", PROBES_FRAME.clear()).file(PROBES_FILE) is None


def test_an_edited_or_unlisted_probes_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "snap"
    write_probed(folder)
    path = folder / PROBES_FILE
    original = path.read_bytes()
    PROBES_FRAME.with_columns(gold=pl.lit("b")).write_parquet(path)
    with pytest.raises(SnapshotError, match="changed or damaged after export") as error:
        read_snapshot(folder)
    assert error.value.path == path
    with pytest.raises(SnapshotError, match="changed or damaged after export"):
        read_probes(folder)
    path.write_bytes(original)
    # Taking the marks away (the file and its manifest entry) changes the data read.
    manifest_path = folder / MANIFEST_FILE
    recorded = json.loads(manifest_path.read_text(encoding="utf-8"))
    recorded["files"] = [entry for entry in recorded["files"] if entry["name"] != PROBES_FILE]
    manifest_path.write_text(json.dumps(recorded), encoding="utf-8")
    path.unlink()
    with pytest.raises(SnapshotError, match="content_hash does not match the data read"):
        read_snapshot(folder)


def test_probes_off_contract_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"probes.parquet .*missing column\(s\) probe_of"):
        write_probed(tmp_path / "snap", PROBES_FRAME.drop("probe_of"))
    with pytest.raises(ValueError, match=r"probes\.parquet: pair_id must be unique"):
        write_probed(tmp_path / "snap", pl.concat([PROBES_FRAME, PROBES_FRAME]))
    with pytest.raises(ValueError, match="probe_kind must not be null"):
        write_probed(
            tmp_path / "snap", PROBES_FRAME.with_columns(probe_kind=pl.lit(None, pl.String))
        )
    assert list(tmp_path.iterdir()) == []


# -- damaged snapshots are refused, naming the file and the problem -------------------------


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    write(tmp_path / "snap")
    return tmp_path / "snap"


def test_an_edited_parquet_file_is_refused(snapshot: Path) -> None:
    # Someone "fixes" a label by hand: same columns, same dtypes, other content.
    edited = pl.read_parquet(snapshot / PAIRS_FILE).with_columns(
        pl.col("chosen").replace("Paris.", "Lyon.")
    )
    edited.write_parquet(snapshot / PAIRS_FILE)
    with pytest.raises(SnapshotError, match="changed or damaged after export") as error:
        read_snapshot(snapshot)
    assert error.value.path == snapshot / PAIRS_FILE


def test_flipped_bytes_are_refused(snapshot: Path) -> None:
    path = snapshot / JUDGMENTS_FILE
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    path.write_bytes(bytes(content))
    with pytest.raises(SnapshotError, match=r"judgments.parquet: .*(changed or damaged|Parquet)"):
        read_snapshot(snapshot)


def test_a_missing_file_is_refused(snapshot: Path) -> None:
    (snapshot / JUDGMENTS_FILE).unlink()
    with pytest.raises(SnapshotError, match=r"judgments.parquet: is missing"):
        read_snapshot(snapshot)


def test_a_renamed_column_is_refused(snapshot: Path) -> None:
    frame = pl.read_parquet(snapshot / PAIRS_FILE).rename({"chosen": "chosen_text"})
    frame.write_parquet(snapshot / PAIRS_FILE)
    message = r"pairs.parquet: .*missing column\(s\) chosen; unexpected column\(s\) chosen_text"
    with pytest.raises(SnapshotError, match=message):
        read_snapshot(snapshot)


def test_a_column_of_another_dtype_is_refused(snapshot: Path) -> None:
    frame = pl.read_parquet(snapshot / JUDGMENTS_FILE).with_columns(pl.col("round").cast(pl.Int64))
    frame.write_parquet(snapshot / JUDGMENTS_FILE)
    with pytest.raises(SnapshotError, match="column round is Int64, expected Int32"):
        read_snapshot(snapshot)


def test_a_missing_or_malformed_manifest_is_refused(snapshot: Path) -> None:
    manifest_path = snapshot / MANIFEST_FILE
    original = manifest_path.read_text(encoding="utf-8")

    manifest_path.write_text("{not json", encoding="utf-8")
    with pytest.raises(SnapshotError, match=r"manifest.json: is malformed"):
        read_snapshot(snapshot)

    data = json.loads(original)
    data["content_hash"] = "0" * 64
    manifest_path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SnapshotError, match="content_hash does not match the data read"):
        read_snapshot(snapshot)

    data = json.loads(original)
    data["format_version"] = 99
    manifest_path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SnapshotError, match="format_version 99 is newer"):
        read_snapshot(snapshot)
    data["format_version"] = 1
    manifest_path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SnapshotError, match=r"format_version 1 is older .* export the snapshot"):
        read_snapshot(snapshot)
    # Before format 3 nothing said which votes were on probe pairs: refused, with the reason.
    data["format_version"] = 2
    manifest_path.write_text(json.dumps(data), encoding="utf-8")
    message = r"format_version 2 is older .*probe pairs.* are not marked\); export the snapshot"
    with pytest.raises(SnapshotError, match=message):
        read_snapshot(snapshot)
    with pytest.raises(SnapshotError, match=message):
        read_probes(snapshot)

    manifest_path.unlink()
    with pytest.raises(SnapshotError, match=r"manifest.json: is missing"):
        read_snapshot(snapshot)

    shutil.rmtree(snapshot)
    with pytest.raises(SnapshotError, match="no such snapshot folder"):
        read_snapshot(snapshot)


WRITER = """
import sys
import polars as pl
from data import frames
from data.export import write_snapshot

n = 1_500_000
votes = frames.conform(
    pl.DataFrame({
        "submission_id": pl.int_range(n, eager=True).cast(pl.String),
        "pair_id": (pl.int_range(n, eager=True) % 1000).cast(pl.String),
        "rater_id": "r1",
        "choice": "a",
        "rationale": pl.int_range(n, eager=True).cast(pl.String) + " because" * 20,
    }),
    frames.JUDGMENTS,
)
write_snapshot(sys.argv[1], frames.empty(frames.PREFERENCES), votes,
               options={}, schema_version="x", source="killed")
"""


def test_a_writer_killed_midway_leaves_no_half_snapshot(tmp_path: Path) -> None:
    target = tmp_path / "snap"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    # Kill it as soon as its hidden staging folder exists, i.e. while it writes files.
    while writer.poll() is None and not any(tmp_path.glob(".snap.*.partial")):
        time.sleep(0.005)
    writer.send_signal(signal.SIGKILL)
    writer.wait()

    if target.exists():  # the writer won the race and finished: then it must be whole
        read_snapshot(target)
    else:
        with pytest.raises(SnapshotError, match="no such snapshot folder"):
            read_snapshot(target)
    # A later export into the same folder is not disturbed by the debris.
    write(target, overwrite=True)
    read_snapshot(target)


def test_an_interrupted_exports_leftover_is_removed_by_the_next_export(tmp_path: Path) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path / "killed")],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    while writer.poll() is None and not any(tmp_path.glob(".killed.*.partial")):
        time.sleep(0.005)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    # An export still writing in the same folder (this process is alive) keeps its folder.
    running = tmp_path / f".other.{os.getpid()}-{'0' * 32}.partial"
    running.mkdir()

    write(tmp_path / "snap")

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["snap", running.name] + (["killed"] if (tmp_path / "killed").exists() else [])
    )


def test_an_existing_snapshot_is_named_with_its_folder(tmp_path: Path) -> None:
    write(tmp_path / "snap")
    with pytest.raises(SnapshotExists) as refused:
        write(tmp_path / "snap")
    assert refused.value.path == tmp_path / "snap"


def test_a_full_disk_is_named_and_leaves_nothing_behind(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        disk.fill()
        with pytest.raises(StoreWriteError) as failure:
            write(disk.root / "snap")
        assert failure.value.cause == "disk full"
        assert failure.value.path == disk.root / "snap"
        assert [p.name for p in disk.root.iterdir() if not p.name.startswith(".filler")] == []
