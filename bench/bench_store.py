"""The labeling loop at scale: next pair, submit, import and export at 1M judgments.

Each figure is measured through the project's own functions and beside an anchor measured in
the same run on the same machine: plain DuckDB doing the naive version of the same job. The
ratios are what to read; the machine is shared and noisy.

    .venv/bin/python -m bench.bench_store [--scale 1.0]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from data.importers import import_file
from data.store import Project, Store, Submission
from labeling.assignment import Assigner
from labeling.preference_set import ExportOptions, export_snapshot

GOALS_MS = {"next pair": 10.0, "submit": 5.0}
GOALS_S = {"import 1M judgments": 5.0, "export snapshot": 2.0}


def synthetic(
    n_pairs: int, n_raters: int, n_votes: int, seed: int = 0
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pairs and judgments in the import shapes; every pair gets ``n_votes // n_pairs`` votes
    from distinct raters."""
    rng = np.random.default_rng(seed)
    per_pair = n_votes // n_pairs
    pair_ids = [f"b{i:07d}" for i in range(n_pairs)]
    pairs = pl.DataFrame(
        {
            "pair_id": pair_ids,
            "prompt": [f"Prompt {i}: explain something." for i in range(n_pairs)],
            "response_a": [f"Answer A{i} " + "word " * (i % 50) for i in range(n_pairs)],
            "response_b": [f"Answer B{i} " + "text " * (i % 37) for i in range(n_pairs)],
            "category": rng.choice(["coding", "honesty", "safety", "writing"], n_pairs),
        }
    )
    offsets = rng.integers(0, n_raters, n_pairs)
    rater_index = (offsets[:, None] + np.arange(per_pair)[None, :] * 7) % n_raters
    judgments = pl.DataFrame(
        {
            "pair_id": np.repeat(np.array(pair_ids), per_pair),
            "rater_id": [f"r{i:04d}" for i in rater_index.ravel()],
            "choice": rng.choice(["a", "b", "tie"], n_pairs * per_pair, p=[0.45, 0.45, 0.1]),
            "strength": rng.integers(1, 4, n_pairs * per_pair),
            "shown_left": rng.choice(["a", "b"], n_pairs * per_pair),
            "seconds": rng.gamma(4.0, 10.0, n_pairs * per_pair),
        }
    ).with_columns(
        pl.when(pl.col("choice") == "tie")
        .then(None)
        .otherwise(pl.col("strength"))
        .alias("strength")
    )
    return pairs, judgments


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(1000 * s for s in samples_s)
    return {"p50_ms": statistics.median(ms), "p95_ms": ms[int(0.95 * (len(ms) - 1))]}


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def run(scale: float = 1.0, samples: int = 300) -> list[dict[str, Any]]:
    n_pairs, n_raters, n_votes = (
        int(200_000 * scale),
        max(10, int(1_000 * scale)),
        int(1_000_000 * scale),
    )
    pairs, judgments = synthetic(n_pairs, n_raters, n_votes)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        pairs.write_parquet(tmp / "pairs.parquet")
        judgments.write_parquet(tmp / "judgments.parquet")

        # -- import: ours (sniff, validate, one transaction) vs a bare INSERT from Parquet ----
        store = Store(tmp / "ours.duckdb")
        project = Project("bench", "Bench", overlap_k=6, gold_rate=0.0)
        store.save_project(project)
        import_file(store, tmp / "pairs.parquet", "bench")
        ours_import = timed(lambda: import_file(store, tmp / "judgments.parquet", "bench"))
        anchor = duckdb.connect(str(tmp / "anchor.duckdb"))
        anchor.execute(
            "CREATE TABLE j (pair_id VARCHAR, rater_id VARCHAR, choice VARCHAR, strength BIGINT,"
            " shown_left VARCHAR, seconds DOUBLE)"
        )
        anchor_import = timed(
            lambda: anchor.execute(
                f"INSERT INTO j SELECT * FROM read_parquet('{tmp / 'judgments.parquet'}')"
            )
        )
        rows.append(
            _row(
                "import 1M judgments",
                "s",
                ours_import,
                anchor_import,
                "bare INSERT ... FROM read_parquet",
            )
        )

        # -- next pair: ours (coverage counter) vs the aggregate query over all judgments -----
        assigner = Assigner(store)
        raters = [f"r{i:04d}" for i in range(0, n_raters, max(1, n_raters // 100))]
        next_times, submit_times = [], []
        for i in range(samples):
            rater = raters[i % len(raters)]
            start = time.perf_counter()
            assignment = assigner.next_pair(rater, project)
            next_times.append(time.perf_counter() - start)
            assert assignment is not None
            vote = Submission(uuid.uuid4().hex, rater, assignment.pair_id, "a", strength=2)
            submit_times.append(timed(lambda vote=vote: store.submit(vote)))
        anchor.execute(
            "CREATE TABLE p AS SELECT pair_id FROM read_parquet(?)", [str(tmp / "pairs.parquet")]
        )
        naive_next = []
        for i in range(samples // 3):
            rater = raters[i % len(raters)]
            naive_next.append(
                timed(
                    lambda rater=rater: anchor.execute(
                        "SELECT p.pair_id FROM p LEFT JOIN (SELECT pair_id, count(*) n FROM j"
                        " GROUP BY pair_id) c USING (pair_id)"
                        " WHERE coalesce(c.n, 0) < 6 AND p.pair_id NOT IN"
                        " (SELECT pair_id FROM j WHERE rater_id = ?)"
                        " ORDER BY coalesce(c.n, 0) LIMIT 1",
                        [rater],
                    ).fetchall()
                )
            )
        anchor.execute(
            "CREATE TABLE s (id VARCHAR PRIMARY KEY, pair_id VARCHAR, rater_id VARCHAR,"
            " choice VARCHAR)"
        )
        naive_submit = [
            timed(
                lambda: anchor.execute(
                    "INSERT INTO s VALUES (?, 'p', 'r', 'a') ON CONFLICT DO NOTHING",
                    [uuid.uuid4().hex],
                )
            )
            for _ in range(samples)
        ]
        ours_next, ours_submit = percentiles(next_times), percentiles(submit_times)
        rows.append(
            _latency(
                "next pair",
                ours_next,
                percentiles(naive_next),
                "aggregate query over all judgments",
            )
        )
        rows.append(
            _latency(
                "submit", ours_submit, percentiles(naive_submit), "single-row INSERT, no checks"
            )
        )

        # -- export: ours (aggregates + two Parquet files + manifest) vs COPY of the votes ----
        ours_export = timed(
            lambda: export_snapshot(
                store, tmp / "snapshot", project_id="bench", options=ExportOptions()
            )
        )
        anchor_export = timed(
            lambda: anchor.execute(f"COPY j TO '{tmp / 'anchor.parquet'}' (FORMAT parquet)")
        )
        rows.append(
            _row("export snapshot", "s", ours_export, anchor_export, "COPY judgments TO Parquet")
        )
        with_posterior = timed(
            lambda: export_snapshot(
                store,
                tmp / "snapshot-posterior",
                project_id="bench",
                options=ExportOptions(posterior=True),
            )
        )
        rows.append(
            _row(
                "export snapshot with --posterior (Dawid-Skene)",
                "s",
                with_posterior,
                anchor_export,
                "COPY judgments TO Parquet",
            )
        )
        store.close()
        anchor.close()
    for row in rows:
        row["scale"] = scale
    return rows


def _row(name: str, unit: str, ours: float, anchor: float, anchor_name: str) -> dict[str, Any]:
    goal = GOALS_S.get(name)
    return {
        "measure": name,
        "ours": f"{ours:.2f} {unit}",
        "anchor": f"{anchor:.2f} {unit}",
        "anchor is": anchor_name,
        "ratio (ours/anchor)": round(ours / anchor, 2),
        "goal": f"<= {goal} s" if goal else "",
        "met": (ours <= goal) if goal else None,
    }


def _latency(
    name: str, ours: dict[str, float], anchor: dict[str, float], anchor_name: str
) -> dict[str, Any]:
    goal = GOALS_MS[name]
    return {
        "measure": f"{name} (p50 / p95)",
        "ours": f"{ours['p50_ms']:.1f} / {ours['p95_ms']:.1f} ms",
        "anchor": f"{anchor['p50_ms']:.1f} / {anchor['p95_ms']:.1f} ms",
        "anchor is": anchor_name,
        "ratio (ours/anchor)": round(ours["p95_ms"] / anchor["p95_ms"], 2),
        "goal": f"p95 <= {goal} ms",
        "met": ours["p95_ms"] <= goal,
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    columns = [c for c in rows[0] if c != "scale"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1M judgments")
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    print(markdown(run(args.scale, args.samples)))
