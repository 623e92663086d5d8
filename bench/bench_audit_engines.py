"""The whole audit of 1M votes read from PostgreSQL against the same audit read from DuckDB.

What ``intentgap audit`` does, timed on each engine: read the frames from the store
(``Store.pairs``, ``Store.judgments``, ``Store.raters``) and build the report
(``labeling.audit.audit_report``, 1,000-draw intervals as the command's default). The votes are
``bench_audit``'s simulation (200,000 pairs, 1,000 raters, 5 votes per pair), imported into a
DuckDB file and into a fresh PostgreSQL database (created for the run, dropped after it). The
anchor is the DuckDB run in the same process; the engines take turns (``--repeats`` rounds,
the fastest of each kept), since the shared machine's load moves a 15 s audit by more than the
read differs. The frames and the reports are checked to be the same on both engines.

    .venv/bin/python -m bench.bench_audit_engines [--scale 1.0] [--repeats 2] [--n-boot 1000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_audit import simulate
from bench.bench_store import fresh_postgres, markdown, postgres_admin_url, postgres_unavailable
from data.store import Store
from labeling.audit import audit_report

GOAL_RATIO = 1.2
N_BOOT = 1000


def audit_from(store: Store, n_boot: int) -> dict[str, Any]:
    """``intentgap audit``'s work on this store, timed in its two parts."""
    started = time.perf_counter()
    pairs, judgments, raters = store.pairs(), store.judgments(), store.raters()
    read = time.perf_counter() - started
    started = time.perf_counter()
    report = audit_report(pairs, judgments, n_boot=n_boot, raters=raters)
    audit = time.perf_counter() - started
    return {
        "read_s": read,
        "audit_s": audit,
        "total_s": read + audit,
        "report": json.dumps(report, sort_keys=True, default=str),
        "frames": (pairs, judgments, raters.select("rater_id", "kind")),
    }


def run(
    scale: float = 1.0, repeats: int = 2, n_boot: int = N_BOOT, admin_url: str | None = None
) -> list[dict[str, Any]]:
    admin_url = admin_url or postgres_admin_url()
    reason = postgres_unavailable(admin_url)
    if reason is not None:
        raise SystemExit(reason)
    pairs, votes = simulate(scale)
    data = (
        f"{votes.height:,} judgments, {pairs.height:,} pairs,"
        f" {votes['rater_id'].n_unique():,} raters"
    )
    runs: dict[str, list[dict[str, Any]]] = {"duckdb": [], "postgresql": []}
    imports: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, fresh_postgres(admin_url, "audit") as url:
        stores = {"duckdb": Store(Path(tmp) / "audit.duckdb"), "postgresql": Store(url)}
        try:
            for engine, store in stores.items():
                started = time.perf_counter()
                store.import_frames(pairs, votes, "audit", create_project=True)
                imports[engine] = time.perf_counter() - started
                print(f"{engine}: imported in {imports[engine]:.1f} s", flush=True)
            del pairs, votes
            for round_ in range(repeats):
                for engine, store in stores.items():
                    result = audit_from(store, n_boot)
                    print(
                        f"round {round_ + 1} {engine}: read {result['read_s']:.2f} s,"
                        f" audit {result['audit_s']:.1f} s",
                        flush=True,
                    )
                    runs[engine].append(result)
        finally:
            for store in stores.values():
                store.close()
    same_frames = all(
        a.equals(b)
        for a, b in zip(runs["duckdb"][0]["frames"], runs["postgresql"][0]["frames"], strict=True)
    )
    same_report = runs["duckdb"][0]["report"] == runs["postgresql"][0]["report"]
    print(f"frames equal on both engines: {same_frames}; reports equal: {same_report}")
    best = {engine: _fastest(found) for engine, found in runs.items()}
    duck, pg = best["duckdb"], best["postgresql"]
    rows = [
        {
            "measure": f"read the frames (pairs, judgments, raters) ({data})",
            "ours (PostgreSQL)": f"{pg['read_s']:.2f} s",
            "anchor (DuckDB)": f"{duck['read_s']:.2f} s",
            "ratio (ours/anchor)": round(pg["read_s"] / duck["read_s"], 2),
            "goal": "",
            "met": None,
        },
        {
            "measure": f"audit_report, {n_boot:,}-draw intervals, on those frames",
            "ours (PostgreSQL)": f"{pg['audit_s']:.1f} s",
            "anchor (DuckDB)": f"{duck['audit_s']:.1f} s",
            "ratio (ours/anchor)": round(pg["audit_s"] / duck["audit_s"], 2),
            "goal": "",
            "met": None,
        },
        {
            "measure": "the whole audit: read + report (same frames and report on both:"
            f" {same_frames and same_report})",
            "ours (PostgreSQL)": f"{pg['total_s']:.1f} s",
            "anchor (DuckDB)": f"{duck['total_s']:.1f} s",
            "ratio (ours/anchor)": round(pg["total_s"] / duck["total_s"], 2),
            "goal": f"<= {GOAL_RATIO:g}x DuckDB",
            "met": pg["total_s"] <= GOAL_RATIO * duck["total_s"],
        },
        {
            "measure": "import of those votes (import_frames, one transaction), for reference",
            "ours (PostgreSQL)": f"{imports['postgresql']:.1f} s",
            "anchor (DuckDB)": f"{imports['duckdb']:.1f} s",
            "ratio (ours/anchor)": round(imports["postgresql"] / imports["duckdb"], 2),
            "goal": "",
            "met": None,
        },
    ]
    for row in rows:
        row["scale"] = scale
        row["rounds"] = repeats
    return rows


def _fastest(found: list[dict[str, Any]]) -> dict[str, float]:
    """The fastest read and the fastest report over the rounds (each part's own best)."""
    read = min(r["read_s"] for r in found)
    audit = min(r["audit_s"] for r in found)
    return {"read_s": read, "audit_s": audit, "total_s": read + audit}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=2, help="rounds, engines taking turns")
    parser.add_argument("--n-boot", type=int, default=N_BOOT)
    parser.add_argument("--postgres", default=None, help="admin URL of the PostgreSQL server")
    args = parser.parse_args()
    print(markdown(run(args.scale, args.repeats, args.n_boot, args.postgres)))


if __name__ == "__main__":
    main()
