"""An import's peak memory (VmHWM of a child process) and how long it holds raters' submits.

Each import runs in a fresh child process (``intentgap import`` as a user runs it), whose
high-water mark of resident memory is read from ``/proc/self/status``; the anchor is the same
child importing nothing (Python plus the packages). Inputs: a gzip bomb (1.5 MB expanding to
500 MB, refused by ``--max-bytes``), a TRL set as JSON Lines, CSV and Parquet just under the
default limit, and votes of ~50 bytes each (the most rows a limit lets in, the worst case).

The stall: a rater submits votes in a loop while the same process imports votes, as the app
does when an admin imports from the Import page; the longest submit is compared with the
longest submit without an import. An import is one transaction (a refused import must write
nothing); it takes the store's write lock only for its commit, unless it clashed with the
raters' writes (here they vote on the pairs it votes on) and is redone under the lock.

    .venv/bin/python -m bench.bench_import_memory [--scale 1.0]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import polars as pl

from data.formats import MAX_BYTES
from data.importers import import_file, read_file
from data.store import Project, Store, Submission
from labeling.assignment import Assigner

GOAL_MB = 1536  # "peak memory under about 1.5 GB for any input"
GOAL_STALL_S = 1.0


def run(scale: float = 1.0) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        inputs = _inputs(tmp, scale)
        anchor_mb = _peak(tmp, None)
        for name, (path, pairs) in inputs.items():
            peak_mb, outcome = _peak(tmp, path, pairs)
            rows.append(
                {
                    "input": name,
                    "file (MB)": _size(path),
                    "peak (MB)": peak_mb,
                    "anchor: no import (MB)": anchor_mb[0],
                    "outcome": outcome,
                    "goal": f"< {GOAL_MB} MB",
                    "met": peak_mb < GOAL_MB,
                }
            )
        rows.append(_stall(tmp, scale, clash=True))
        rows.append(_stall(tmp, scale, clash=False))
    return rows


# -- inputs -----------------------------------------------------------------------------------


def _inputs(tmp: Path, scale: float) -> dict[str, tuple[Path, Path | None]]:
    """name -> (file, file of the pairs its votes need, or None)."""
    limit = int(MAX_BYTES * min(scale, 1.0)) - 2**20
    bomb = tmp / "bomb.jsonl.gz"
    row = json.dumps({"prompt": "q", "chosen": "a", "rejected": "b"}).encode() + b"\n"
    with gzip.open(bomb, "wb", compresslevel=9) as out:
        for _ in range(500 * 2**20 // (len(row) * 1024)):
            out.write(row * 1024)
    trl = tmp / "trl.jsonl"
    _write_until(trl, limit, _trl_line)
    frame = pl.read_ndjson(trl)
    frame.write_csv(tmp / "trl.csv")
    frame.write_parquet(tmp / "trl.parquet")
    votes, pairs = tmp / "votes.jsonl", tmp / "pairs.jsonl"
    _write_until(votes, limit, _vote_line)
    pl.DataFrame(
        {
            "pair_id": [f"p{i}" for i in range(_PAIRS)],
            "prompt": "q",
            "response_a": [f"a{i}" for i in range(_PAIRS)],
            "response_b": "b",
        }
    ).write_ndjson(pairs)
    return {
        "gzip bomb, 1.5 MB -> 500 MB (refused)": (bomb, None),
        "TRL JSON Lines (1.6 KB rows)": (trl, None),
        "TRL CSV": (tmp / "trl.csv", None),
        "TRL Parquet": (tmp / "trl.parquet", None),
        "votes JSON Lines (50-byte rows, worst case)": (votes, pairs),
    }


_PAIRS = 100_000


def _trl_line(i: int) -> str:
    return json.dumps(
        {
            "prompt": f"Question {i}: " + "why " * 20,
            "chosen": f"Good {i} " + "answer " * 120,
            "rejected": f"Bad {i} " + "reply " * 100,
        }
    )


def _vote_line(i: int) -> str:
    return json.dumps({"pair_id": f"p{i % _PAIRS}", "rater_id": f"r{i // _PAIRS}", "choice": "a"})


def _write_until(path: Path, size: int, line: Any) -> None:
    written = 0
    with path.open("w", encoding="utf-8") as out:
        i = 0
        while True:
            text = line(i) + "\n"
            if written + len(text) > size:
                return
            out.write(text)
            written += len(text)
            i += 1


def _size(path: Path) -> str:
    """The file's size, and what a gzip file expands to."""
    size = f"{path.stat().st_size / 2**20:.1f}"
    if path.suffix != ".gz":
        return size
    with gzip.open(path) as unzipped:
        expanded = sum(len(chunk) for chunk in iter(lambda: unzipped.read(1 << 20), b""))
    return f"{size} (expands to {expanded / 2**20:.0f})"


# -- a child process per import ---------------------------------------------------------------


def _peak(tmp: Path, path: Path | None, pairs: Path | None = None) -> tuple[int, str]:
    """(VmHWM in MB, what the import said) of a fresh process importing ``path``."""
    workspace = tmp / f"ws-{uuid.uuid4().hex[:8]}"
    args = [sys.executable, "-m", "bench.bench_import_memory", "--child", str(workspace)]
    if pairs is not None:
        args += ["--pairs", str(pairs)]
    if path is not None:
        args.append(str(path))
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"child failed: {result.stderr[-2000:]}")
    peak, _, outcome = lines[-1].partition(" ")
    return int(peak), outcome


def _child(workspace: Path, path: Path | None, pairs: Path | None) -> None:
    """Import as ``intentgap import`` does, then print ``<VmHWM MB> <outcome>``."""
    import cli

    if pairs is not None:  # a separate process: its memory is not this one's
        subprocess.run(
            [sys.executable, "-m", "cli", "import", str(pairs), "--workspace", str(workspace)],
            check=True,
            capture_output=True,
        )
    outcome = "nothing imported"
    if path is not None:
        code = cli.main(["import", str(path), "--workspace", str(workspace)])
        outcome = "imported" if code == 0 else "refused"
    status = Path("/proc/self/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+)", status)
    assert match is not None
    print(int(match.group(1)) // 1024, outcome, flush=True)


# -- the stall: a rater's submits while the app imports ----------------------------------------


def _stall(tmp: Path, scale: float, *, clash: bool) -> dict[str, Any]:
    """The longest submit while the app imports votes. ``clash``: the rater labels the pairs
    the import votes on (the import then clashes and is redone under the write lock); else
    the rater labels another project's pairs, as raters do while an admin loads a new set."""
    n_votes = int(1_000_000 * scale)
    n_pairs = max(1000, n_votes // 5)
    database = tmp / f"stall-{'clash' if clash else 'apart'}.duckdb"
    with Store(database) as store:
        project = Project("stall", "Stall", overlap_k=10, gold_rate=0.0)
        store.save_project(project)
        labeled = project
        if not clash:
            labeled = Project("live", "Live", overlap_k=10, gold_rate=0.0)
            store.save_project(labeled)
            live_pairs = {"pair_id": [f"l{i}" for i in range(5000)], "prompt": "q"}
            live_pairs |= {"response_a": [f"a{i}" for i in range(5000)], "response_b": "b"}
            store.import_frames(pl.DataFrame(live_pairs), None, "live")
        pl.DataFrame(
            {
                "pair_id": [f"s{i}" for i in range(n_pairs)],
                "prompt": "q",
                "response_a": [f"a{i}" for i in range(n_pairs)],
                "response_b": "b",
            }
        ).write_parquet(tmp / "stall-pairs.parquet")
        import_file(store, tmp / "stall-pairs.parquet", "stall")
        pl.DataFrame(
            {
                "pair_id": [f"s{i % n_pairs}" for i in range(n_votes)],
                "rater_id": [f"imported-{i // n_pairs}" for i in range(n_votes)],
                "choice": "a",
            }
        ).write_parquet(tmp / "stall-votes.parquet")
        assigner = Assigner(store)
        quiet = _longest_submit(store, assigner, labeled, seconds=3.0)
        done = threading.Event()
        took: list[float] = []

        def importing() -> None:
            # import_file's two steps, timed apart: only the write may hold the lock.
            started = time.perf_counter()
            batch = read_file(tmp / "stall-votes.parquet")
            writing = time.perf_counter()
            store.import_frames(batch.pairs, batch.judgments, "stall")
            took.extend([time.perf_counter() - started, time.perf_counter() - writing])
            done.set()

        thread = threading.Thread(target=importing)
        thread.start()
        during = _longest_submit(store, assigner, labeled, until=done)
        thread.join()
    return {
        "input": f"stall: longest submit while the app imports {n_votes:,} votes"
        + (" on the pairs being labeled" if clash else " (raters label other pairs)"),
        "peak (MB)": "",
        "outcome": f"{during:.2f} s (import {took[0]:.1f} s, {took[1]:.1f} s of it writing)",
        "anchor: no import (MB)": f"longest submit without an import: {quiet:.3f} s",
        "goal": f"< {GOAL_STALL_S:.0f} s",
        "met": during < GOAL_STALL_S,
    }


def _longest_submit(
    store: Store,
    assigner: Assigner,
    project: Project,
    *,
    seconds: float | None = None,
    until: threading.Event | None = None,
) -> float:
    """The longest next-pair-and-submit of one rater voting in a loop."""
    end = time.perf_counter() + (seconds or 0.0)
    longest = 0.0
    while (until is not None and not until.is_set()) or (
        until is None and time.perf_counter() < end
    ):
        started = time.perf_counter()
        assignment = assigner.next_pair(f"live-{uuid.uuid4().hex[:6]}", project)
        if assignment is not None:
            store.submit(Submission(uuid.uuid4().hex, assignment.rater_id, assignment.pair_id, "a"))
        longest = max(longest, time.perf_counter() - started)
        time.sleep(0.05)
    return longest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pairs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("path", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child, args.path, args.pairs)
        return
    for row in run(args.scale):
        print(row)


if __name__ == "__main__":
    main()
