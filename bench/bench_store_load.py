"""Fifty raters at once: votes per second and submit latency on DuckDB and on PostgreSQL replicas.

Each simulated rater is a thread in a loop: ``Assigner.next_pair``, a pause (the reading
time: exponential with mean ``--think-ms``; 0 is a closed loop, as fast as the store answers),
then ``Store.submit``, ``--votes`` times. The store holds the bench's 1M judgments
(``bench_store.synthetic``: 200,000 pairs at 5 votes each, overlap k 6, so each admits one more
vote) plus a hot set of 50 fresh pairs that every rater is sent to first (least covered
first), so raters race for the same pairs. Three cases, each on its own copy of that database:
one DuckDB process; one PostgreSQL process; two PostgreSQL processes (each its own ``Store``
and ``Assigner``, as two app replicas, half the raters each). The anchor is the one DuckDB
process at the same think time, measured in the same run.

The closed loop measures capacity: there a vote's latency is mostly its wait for the others
(50 raters / votes per second). A think time that offers a fixed rate (50 raters, ~250 ms a
cycle: ~200 votes/s, 3x issue 11's 66) measures what a rater feels while that rate is
sustained.

After each case the votes are checked and the checks printed: exactly the expected number of
judgment rows, the coverage counters equal to the votes (none left open), no pair above its
overlap k, no rater given a pair twice (in the run, or one they had voted on before).
The PostgreSQL database is vacuumed and analyzed once filled (what autovacuum does within a
minute of a large import), before the copies are made.

    .venv/bin/python -m bench.bench_store_load [--scale 1.0] [--raters 50] [--votes 40]
        [--cases duckdb,pg1,pg2] [--think-ms 0,230]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from bench.bench_store import (
    fresh_postgres,
    markdown,
    postgres_admin_url,
    postgres_unavailable,
    sizes,
    synthetic,
    vacuum_analyze,
)
from data.importers import import_file
from data.store import Project, Store, Submission
from labeling.assignment import Assigner

PROJECT = Project("load", "Load", overlap_k=6, gold_rate=0.0)
N_HOT = 50
CASES = {
    "duckdb": ("one DuckDB process", "duckdb", 1),
    "pg1": ("one PostgreSQL process", "postgresql", 1),
    "pg2": ("two PostgreSQL processes (replicas)", "postgresql", 2),
}
#: Issue 11: two replicas on PostgreSQL sustain at least this many times one DuckDB process,
#: with submit p95 at most this many ms.
REPLICA_SPEEDUP = 3.0
REPLICA_SUBMIT_P95_MS = 50.0
#: The figure issue 11 starts from (one DuckDB process under this load, measured before).
BASELINE = "~66 votes/s, submit p50 195 ms"


def prepare(folder: Path, scale: float) -> tuple[pl.DataFrame, list[str]]:
    """Write the Parquet files to import: the bench's pairs and votes, and the hot pairs.
    Returns the imported votes' (rater_id, pair_id) and the raters who will vote."""
    n_pairs, n_raters, n_votes = sizes(scale)
    pairs, judgments = synthetic(n_pairs, n_raters, n_votes)
    hot = pairs.head(N_HOT).with_columns(("h" + pl.col("pair_id").str.slice(1)).alias("pair_id"))
    pairs.write_parquet(folder / "pairs.parquet")
    hot.write_parquet(folder / "hot.parquet")
    judgments.write_parquet(folder / "judgments.parquet")
    return judgments.select("rater_id", "pair_id"), sorted(judgments["rater_id"].unique())


def fill(store: Store, folder: Path) -> None:
    store.save_project(PROJECT)
    for name in ("pairs", "hot", "judgments"):
        import_file(store, folder / f"{name}.parquet", PROJECT.project_id)


# -- one process: its raters as threads ------------------------------------------------------


def replica(
    location: str,
    raters: list[str],
    votes: int,
    think_s: float,
    ready: Any,
    results: Any,
) -> None:
    """One app process: a Store and an Assigner shared by a thread per rater. Waits at
    ``ready`` (a barrier of all replicas) so that they start together; puts its figures
    on ``results``."""
    store = Store(location)
    assigner = Assigner(store)
    project = store.project(PROJECT.project_id)
    assert project is not None
    store.progress(raters[0], project.project_id)  # DuckDB: load the seen sets, as a warm app
    next_s: list[float] = []
    submit_s: list[float] = []
    handed: list[tuple[str, str]] = []
    done_at: list[tuple[str, float]] = []  # when each vote was saved (wall clock)
    saved = Counter[str]()
    errors: list[str] = []
    lock = threading.Lock()

    def rater_loop(rater: str, seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(votes):
            try:
                started = time.perf_counter()
                assignment = assigner.next_pair(rater, project)
                took_next = time.perf_counter() - started
                if assignment is None:
                    with lock:
                        errors.append(f"{rater}: no pair left")
                    return
                choice = str(rng.choice(["a", "b", "tie"]))
                vote = Submission(
                    uuid.uuid4().hex,
                    rater,
                    assignment.pair_id,
                    choice,
                    strength=None if choice == "tie" else int(rng.integers(1, 4)),
                )
                if think_s:
                    time.sleep(rng.exponential(think_s))
                started = time.perf_counter()
                fresh = store.submit(vote)
                took_submit = time.perf_counter() - started
            except Exception as error:  # SubmissionRefused, StoreWriteError: shown, never lost
                with lock:
                    errors.append(f"{rater}: {type(error).__name__}: {error}")
                return
            with lock:
                next_s.append(took_next)
                submit_s.append(took_submit)
                handed.append((rater, assignment.pair_id))
                done_at.append((rater, time.time()))
                saved["saved" if fresh else "repeat"] += 1

    threads = [
        threading.Thread(target=rater_loop, args=(rater, index), name=rater)
        for index, rater in enumerate(raters)
    ]
    ready.wait()
    began = time.time()
    cpu_before = _cpu_seconds()
    pool = getattr(store._db, "_pool", None)  # PostgreSQL's connection pool: how long it kept us
    if pool is not None:
        pool.pop_stats()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ended = time.time()
    cpu = _cpu_seconds() - cpu_before
    stats = pool.pop_stats() if pool is not None else {}
    store.close()
    results.put(
        {
            "began": began,
            "ended": ended,
            "next_s": next_s,
            "submit_s": submit_s,
            "handed": handed,
            "done_at": done_at,
            "saved": saved["saved"],
            "repeats": saved["repeat"],
            "errors": errors,
            "cpu_s": cpu,
            "pool_wait_s": stats.get("requests_wait_ms", 0) / 1e3,
            "pool_requests": stats.get("requests_num", 0),
        }
    )


def steady_rate(done_at: list[tuple[str, float]], began: float) -> float:
    """Votes per second while every rater was still voting: up to the moment the first rater
    finished. (The whole run's rate ends with the slowest rater alone, which with reading
    pauses says more about the luck of the draws than about the store.)"""
    last: dict[str, float] = {}
    for rater, at in done_at:
        last[rater] = max(at, last.get(rater, at))
    until = min(last.values())
    return sum(at <= until for _, at in done_at) / max(until - began, 1e-9)


def _cpu_seconds() -> float:
    """This process's CPU time so far, all its threads (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _machine_busy() -> tuple[float, float]:
    """Busy and total jiffies of every core so far (``/proc/stat``), to tell how loaded the
    machine was during a case."""
    fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def run_case(
    location: str, raters: list[str], processes: int, votes: int, think_s: float
) -> dict[str, Any]:
    """The raters split over ``processes`` replicas (spawned processes), started together."""
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(processes)
    results = context.Queue()
    shares = [raters[i::processes] for i in range(processes)]
    workers = [
        context.Process(
            target=replica, args=(location, share, votes, think_s, ready, results), daemon=True
        )
        for share in shares
    ]
    load = os.getloadavg()[0]
    busy_before, total_before = _machine_busy()
    for worker in workers:
        worker.start()
    parts = [results.get() for _ in workers]
    busy_after, total_after = _machine_busy()
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0, f"a replica failed (exit code {worker.exitcode})"
    wall = max(p["ended"] for p in parts) - min(p["began"] for p in parts)
    merged: dict[str, Any] = {"wall_s": wall, "processes": processes, "raters": len(raters)}
    for key in ("next_s", "submit_s", "handed", "errors", "done_at"):
        merged[key] = [item for part in parts for item in part[key]]
    merged["saved"] = sum(p["saved"] for p in parts)
    merged["repeats"] = sum(p["repeats"] for p in parts)
    merged["busy"] = (busy_after - busy_before) / max(total_after - total_before, 1.0)
    merged["steady_rate"] = steady_rate(merged["done_at"], min(p["began"] for p in parts))
    cpu, waited = sum(p["cpu_s"] for p in parts), sum(p["pool_wait_s"] for p in parts)
    requests = sum(p["pool_requests"] for p in parts)
    print(
        f"    {processes} process(es): {merged['saved']:,} votes in {wall:.1f} s; load average"
        f" {load:.1f} before; cores busy {100 * merged['busy']:.0f}% (all processes);"
        f" replicas' own CPU {1000 * cpu / max(merged['saved'], 1):.1f} ms per vote;"
        f" pool: {requests:,} connections asked for, waited {waited:.1f} s in all",
        flush=True,
    )
    return merged


# -- the checks ------------------------------------------------------------------------------


def check(
    store: Store, result: dict[str, Any], imported: pl.DataFrame, expected_votes: int
) -> None:
    """What must hold after the run, each as a line; raises AssertionError when one fails."""
    votes = store.judgments(PROJECT.project_id)
    coverage = store.coverage(PROJECT.project_id)
    per_pair = votes.group_by("pair_id").len()
    most = int(per_pair.select(pl.col("len").max()).item())
    handed = pl.DataFrame(result["handed"], schema=["rater_id", "pair_id"], orient="row")
    twice = handed.height - handed.unique().height
    before = handed.join(imported, on=["rater_id", "pair_id"], how="semi").height
    keys = votes.select("rater_id", "pair_id", "round")
    hot = per_pair.filter(pl.col("pair_id").str.starts_with("h"))
    lines = [
        f"judgment rows: {votes.height:,} (expected {imported.height:,} imported +"
        f" {expected_votes:,} submitted = {imported.height + expected_votes:,})",
        f"submits saved: {result['saved']:,} of {expected_votes:,} (repeats {result['repeats']},"
        f" errors {len(result['errors'])})",
        f"coverage: n_done sums to {coverage['n_done'].sum():,}, n_open to"
        f" {coverage['n_open'].sum()}",
        f"most votes on a pair: {most} (overlap k {PROJECT.overlap_k});"
        f" hot pairs filled to k: {hot.filter(pl.col('len') == PROJECT.overlap_k).height}"
        f" of {N_HOT}",
        f"pairs handed twice to one rater: {twice}; handed to a rater who had voted on them"
        f" before: {before}; repeated (rater, pair, round) among votes:"
        f" {keys.height - keys.unique().height}",
    ]
    for line in lines:
        print("   ", line, flush=True)
    for error in result["errors"][:5]:
        print("    error:", error, flush=True)
    assert not result["errors"], f"{len(result['errors'])} raters stopped on an error"
    assert result["saved"] == expected_votes and result["repeats"] == 0
    assert votes.height == imported.height + expected_votes
    assert coverage["n_done"].sum() == votes.height and coverage["n_open"].sum() == 0
    assert most <= PROJECT.overlap_k
    assert twice == 0 and before == 0 and keys.height == keys.unique().height


# -- the run ---------------------------------------------------------------------------------


def percentiles_ms(samples_s: list[float]) -> tuple[float, float]:
    ms = sorted(1000 * s for s in samples_s)
    return statistics.median(ms), ms[int(0.95 * (len(ms) - 1))]


def run(
    scale: float = 1.0,
    raters: int = 50,
    votes: int = 40,
    cases: tuple[str, ...] = tuple(CASES),
    thinks_ms: tuple[float, ...] = (0.0, 230.0),
    admin_url: str | None = None,
) -> list[dict[str, Any]]:
    """Each case at each think time (mean ms, exponential, between a rater's next pair and
    their submit), each on a fresh copy of the filled database."""
    admin_url = admin_url or postgres_admin_url()
    if any(CASES[case][1] == "postgresql" for case in cases):
        reason = postgres_unavailable(admin_url)
        if reason is not None:
            raise SystemExit(reason)
    results: dict[tuple[float, str], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        imported, everyone = prepare(tmp, scale)
        step = max(1, len(everyone) // raters)
        chosen = everyone[::step][:raters]
        print(f"data written ({time.perf_counter() - started:.0f} s)", flush=True)
        expected = len(chosen) * votes
        if "duckdb" in cases:
            started = time.perf_counter()
            with Store(tmp / "filled.duckdb") as store:
                fill(store, tmp)
            print(f"duckdb: filled ({time.perf_counter() - started:.0f} s)", flush=True)
            for think in thinks_ms:
                shutil.copy(tmp / "filled.duckdb", tmp / "load.duckdb")
                result = run_case(str(tmp / "load.duckdb"), chosen, 1, votes, think / 1e3)
                with Store(tmp / "load.duckdb") as store:
                    check(store, result, imported, expected)
                results[think, "duckdb"] = result
        pg_cases = [case for case in cases if CASES[case][1] == "postgresql"]
        if pg_cases:
            started = time.perf_counter()
            with fresh_postgres(admin_url, "load_template") as template_url:
                with Store(template_url) as store:
                    fill(store, tmp)
                filled = time.perf_counter() - started
                # Autovacuum's work after a million new rows, done before the copies are made.
                settled = vacuum_analyze(template_url)
                template = template_url.split("?")[0].rsplit("/", 1)[1]
                print(
                    f"postgresql: filled ({filled:.0f} s), VACUUM ANALYZE {settled:.0f} s",
                    flush=True,
                )
                for think in thinks_ms:
                    for case in pg_cases:
                        with fresh_postgres(admin_url, "load", template=template) as url:
                            processes = CASES[case][2]
                            result = run_case(url, chosen, processes, votes, think / 1e3)
                            with Store(url) as store:
                                check(store, result, imported, expected)
                        results[think, case] = result
    return [
        row for think in thinks_ms for row in _rows(results, cases, think, scale, imported.height)
    ]


def _rows(
    results: dict[tuple[float, str], dict[str, Any]],
    cases: tuple[str, ...],
    think_ms: float,
    scale: float,
    n_imported: int,
) -> list[dict[str, Any]]:
    anchor = results.get((think_ms, "duckdb"))
    anchor_rate = anchor["steady_rate"] if anchor else None
    rows = []
    for case in cases:
        result = results[think_ms, case]
        rate = result["steady_rate"]
        submit_p50, submit_p95 = percentiles_ms(result["submit_s"])
        next_p50, next_p95 = percentiles_ms(result["next_s"])
        goal, met = "", None
        if case == "pg2":
            goal = (
                f">= {REPLICA_SPEEDUP:g}x one DuckDB process, submit p95 <="
                f" {REPLICA_SUBMIT_P95_MS:g} ms"
            )
            met = (
                anchor_rate is not None
                and rate >= REPLICA_SPEEDUP * anchor_rate
                and submit_p95 <= REPLICA_SUBMIT_P95_MS
            )
        rows.append(
            {
                "case": CASES[case][0],
                "think time (mean)": f"{think_ms:g} ms",
                "processes x raters": f"{result['processes']} x"
                f" {result['raters'] // result['processes']}",
                "votes": f"{result['saved']:,}",
                "wall": f"{result['wall_s']:.1f} s",
                "votes/s, all raters voting": f"{rate:.0f}",
                "votes/s, whole run": f"{result['saved'] / result['wall_s']:.0f}",
                "ratio (votes/s, all voting / one DuckDB process)": ""
                if anchor_rate is None
                else round(rate / anchor_rate, 2),
                "submit p50 / p95": f"{submit_p50:.0f} / {submit_p95:.0f} ms",
                "next pair p50 / p95": f"{next_p50:.0f} / {next_p95:.0f} ms",
                "cores busy": f"{100 * result['busy']:.0f}%",
                "goal": goal,
                "met": met,
                "checks": "passed",
                "scale": scale,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1M judgments stored")
    parser.add_argument("--raters", type=int, default=50, help="concurrent raters")
    parser.add_argument("--votes", type=int, default=40, help="votes per rater")
    parser.add_argument(
        "--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES)
    )
    parser.add_argument(
        "--think-ms",
        default="0,230",
        help="comma-separated mean pauses (exponential) between next pair and submit; 0: closed"
        " loop, as fast as the store answers",
    )
    parser.add_argument("--postgres", default=None, help="admin URL of the PostgreSQL server")
    args = parser.parse_args()
    cases = tuple(args.cases.split(","))
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s): {', '.join(sorted(unknown))}")
    thinks = tuple(float(ms) for ms in args.think_ms.split(","))
    rows = run(args.scale, args.raters, args.votes, cases, thinks, args.postgres)
    print(markdown(rows))
    print(f"\n(issue 11's starting point, one DuckDB process: {BASELINE})")


if __name__ == "__main__":
    main()
