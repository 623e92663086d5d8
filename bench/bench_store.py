"""The labeling loop at scale: next pair, submit, import and export at 1M judgments.

Each figure is measured through the project's own functions and beside an anchor measured in
the same run on the same machine: the engine itself doing the naive version of the same job
(DuckDB: plain DuckDB; PostgreSQL: a bare ADBC load, the same naive query, ``pgbench`` with a
one-row INSERT). With ``--engine both`` the same data goes through a DuckDB file and through a
fresh PostgreSQL database (created for the run and dropped after it), and the PostgreSQL rows
also say how they compare with DuckDB's in the same run. The ratios are what to read; the
machine is shared and noisy.

    .venv/bin/python -m bench.bench_store [--scale 1.0] [--engine duckdb|postgresql|both]

The PostgreSQL server is the one at ``$INTENTGAP_BENCH_POSTGRES`` (a URL of a database to
connect to for CREATE DATABASE; default ``postgresql:///postgres``, the local socket).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
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
#: Issue 11: PostgreSQL's latency goals, and its bulk work within this many times DuckDB's.
PG_GOALS_MS = {"next pair": 15.0, "submit": 10.0}
PG_WITHIN_DUCKDB = {"import 1M judgments": 3.0, "export snapshot": 3.0}
ENGINES = ("duckdb", "postgresql")
ADMIN_ENV = "INTENTGAP_BENCH_POSTGRES"
#: Seconds pgbench runs its one-row INSERT.
PGBENCH_SECONDS = 5


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


def sizes(scale: float) -> tuple[int, int, int]:
    """Pairs, raters and judgments at this scale (1.0: 200,000, 1,000 and 1,000,000)."""
    return int(200_000 * scale), max(10, int(1_000 * scale)), int(1_000_000 * scale)


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(1000 * s for s in samples_s)
    return {"p50_ms": statistics.median(ms), "p95_ms": ms[int(0.95 * (len(ms) - 1))]}


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


# -- PostgreSQL: a fresh database per run --------------------------------------------------------


def postgres_admin_url() -> str:
    return os.environ.get(ADMIN_ENV, "postgresql:///postgres")


def postgres_unavailable(admin_url: str) -> str | None:
    """Why no PostgreSQL server can be used for the bench, or None when one can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(admin_url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"no PostgreSQL server at {admin_url} ({first}); start one or set {ADMIN_ENV}"
    return None


@contextmanager
def fresh_postgres(admin_url: str, label: str, template: str | None = None) -> Iterator[str]:
    """A new database for one run (a ``postgresql://`` URL for ``Store``), dropped afterwards
    even if still in use: empty, or a copy of the database named ``template`` (nobody may be
    connected to that one meanwhile)."""
    import psycopg

    name = f"intentgap_bench_{label}_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{template}"' if template is not None else ""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield database_url(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(admin_url: str, name: str) -> str:
    """The URL of database ``name`` on the admin URL's server (host and port carried over as
    query parameters: the store needs the URL form)."""
    from urllib.parse import quote, urlencode

    from psycopg.conninfo import conninfo_to_dict

    parts = {k: str(v) for k, v in conninfo_to_dict(admin_url).items() if k != "dbname"}
    query = f"?{urlencode(parts)}" if parts else ""
    return f"postgresql:///{quote(name)}{query}"


def server_of(url: str) -> dict[str, str]:
    """The host (or socket folder), port and database a URL reaches, as psycopg finds them
    (ADBC and pgbench carry their own libpq, whose default socket folder may differ)."""
    import psycopg

    with psycopg.connect(url) as conn:
        return {"host": conn.info.host, "port": str(conn.info.port), "dbname": conn.info.dbname}


def conninfo(url: str) -> str:
    """A keyword/value connection string with the host and port spelt out (for ADBC)."""
    from psycopg.conninfo import make_conninfo

    server = server_of(url)
    return make_conninfo(url, host=server["host"], port=server["port"])


def vacuum_analyze(url: str) -> float:
    """``VACUUM ANALYZE`` the whole database; its seconds."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return timed(lambda: conn.execute("VACUUM ANALYZE"))


def pgbench_insert(url: str, folder: Path, seconds: int = PGBENCH_SECONDS) -> dict[str, float]:
    """``pgbench -c 1`` running a one-row INSERT (with ON CONFLICT on a text primary key, like
    the DuckDB anchor) into a scratch table of this database: its per-transaction latencies
    from its log (p50, p95), its average and transactions per second."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS pgbench_one (id TEXT PRIMARY KEY, pair_id TEXT,"
            " rater_id TEXT, choice TEXT)"
        )
    script = folder / "pgbench_insert.sql"
    script.write_text(
        "INSERT INTO pgbench_one VALUES (md5(random()::text || clock_timestamp()::text),"
        " 'p', 'r', 'a') ON CONFLICT DO NOTHING;\n",
        encoding="utf-8",
    )
    server = server_of(url)
    prefix = folder / "pgbench_log"
    done = subprocess.run(
        [
            *("pgbench", "-n", "-f", str(script), "-c", "1", "-T", str(seconds)),
            *("-l", f"--log-prefix={prefix}"),
            *("-h", server["host"], "-p", server["port"], server["dbname"]),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=folder,
    )
    latencies_us = [
        int(line.split()[2])
        for log in folder.glob("pgbench_log*")
        for line in log.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    result = percentiles([us / 1e6 for us in latencies_us])
    for line in done.stdout.splitlines():
        if line.startswith("latency average"):
            result["average_ms"] = float(line.split("=")[1].split()[0])
        if line.startswith("tps"):
            result["tps"] = float(line.split("=")[1].split()[0])
    result["transactions"] = float(len(latencies_us))
    return result


# -- what the store does ---------------------------------------------------------------------


def measure_store(
    store: Store, folder: Path, raters: list[str], samples: int, url: str | None = None
) -> dict[str, Any]:
    """Import, next pair + submit, export, through the project's functions on either engine.
    ``folder`` holds ``pairs.parquet`` and ``judgments.parquet``. With the PostgreSQL ``url``,
    the database is vacuumed and analyzed after the import (autovacuum's work after a million
    new rows, done now rather than during the latency samples, and timed)."""
    project = Project("bench", "Bench", overlap_k=6, gold_rate=0.0)
    store.save_project(project)
    import_file(store, folder / "pairs.parquet", "bench")
    figures: dict[str, Any] = {
        "import": timed(lambda: import_file(store, folder / "judgments.parquet", "bench"))
    }
    if url is not None:
        figures["settle"] = vacuum_analyze(url)
    assigner = Assigner(store)
    next_times, submit_times = [], []
    for i in range(samples):
        rater = raters[i % len(raters)]
        start = time.perf_counter()
        assignment = assigner.next_pair(rater, project)
        next_times.append(time.perf_counter() - start)
        assert assignment is not None
        vote = Submission(uuid.uuid4().hex, rater, assignment.pair_id, "a", strength=2)
        submit_times.append(timed(partial(store.submit, vote)))
    figures["next"], figures["submit"] = percentiles(next_times), percentiles(submit_times)
    figures["read"] = timed(lambda: (store.pairs("bench"), store.judgments("bench")))
    out = folder / f"snapshot-{store.engine}"
    figures["export"] = timed(
        lambda: export_snapshot(store, out, project_id="bench", options=ExportOptions())
    )
    figures["export_posterior"] = timed(
        lambda: export_snapshot(
            store,
            folder / f"snapshot-posterior-{store.engine}",
            project_id="bench",
            options=ExportOptions(posterior=True),
        )
    )
    return figures


# -- anchors: each engine doing the naive version of the job --------------------------------

_NAIVE_NEXT = (
    "SELECT p.pair_id FROM {p} p LEFT JOIN (SELECT pair_id, count(*) n FROM {j}"
    " GROUP BY pair_id) c USING (pair_id)"
    " WHERE coalesce(c.n, 0) < 6 AND p.pair_id NOT IN"
    " (SELECT pair_id FROM {j} WHERE rater_id = {marker})"
    " ORDER BY coalesce(c.n, 0) LIMIT 1"
)


def duckdb_anchors(folder: Path, raters: list[str], samples: int) -> dict[str, Any]:
    """Plain DuckDB: INSERT from Parquet, the aggregate next-pair query, a one-row INSERT,
    COPY to Parquet."""
    anchor = duckdb.connect(str(folder / "anchor.duckdb"))
    anchor.execute(
        "CREATE TABLE j (pair_id VARCHAR, rater_id VARCHAR, choice VARCHAR, strength BIGINT,"
        " shown_left VARCHAR, seconds DOUBLE)"
    )
    figures: dict[str, Any] = {
        "import": timed(
            lambda: anchor.execute(
                f"INSERT INTO j SELECT * FROM read_parquet('{folder / 'judgments.parquet'}')"
            )
        )
    }
    anchor.execute(
        "CREATE TABLE p AS SELECT pair_id FROM read_parquet(?)", [str(folder / "pairs.parquet")]
    )
    naive = _NAIVE_NEXT.format(p="p", j="j", marker="?")
    figures["next"] = percentiles(
        [
            timed(partial(_fetch_all, anchor, naive, rater))
            for rater in (raters[i % len(raters)] for i in range(samples // 3))
        ]
    )
    anchor.execute(
        "CREATE TABLE s (id VARCHAR PRIMARY KEY, pair_id VARCHAR, rater_id VARCHAR, choice VARCHAR)"
    )
    figures["submit"] = percentiles(
        [
            timed(
                lambda: anchor.execute(
                    "INSERT INTO s VALUES (?, 'p', 'r', 'a') ON CONFLICT DO NOTHING",
                    [uuid.uuid4().hex],
                )
            )
            for _ in range(samples)
        ]
    )
    figures["export"] = timed(
        lambda: anchor.execute(f"COPY j TO '{folder / 'anchor.parquet'}' (FORMAT parquet)")
    )
    anchor.close()
    return figures


def _fetch_all(con: duckdb.DuckDBPyConnection, sql: str, rater: str) -> None:
    con.execute(sql, [rater]).fetchall()


def postgres_anchors(url: str, folder: Path, raters: list[str], samples: int) -> dict[str, Any]:
    """Plain PostgreSQL in the bench database: a bare ADBC load of the Parquet file (binary
    COPY, no checks, no indexes), the aggregate next-pair query on it, pgbench's one-row
    INSERT, and the table read back as Arrow and written to Parquet."""
    import adbc_driver_postgresql.dbapi as adbc
    import pyarrow.parquet as pq

    con = adbc.connect(conninfo(url), autocommit=True)
    try:
        with con.cursor() as cur:

            def load() -> None:
                table = pq.read_table(folder / "judgments.parquet")
                cur.adbc_ingest("anchor_j", table, mode="create")

            figures: dict[str, Any] = {"import": timed(load)}
            cur.adbc_ingest(
                "anchor_p", pq.read_table(folder / "pairs.parquet", columns=["pair_id"])
            )
            cur.execute("ANALYZE anchor_j")
            cur.execute("ANALYZE anchor_p")
            naive = _NAIVE_NEXT.format(p="anchor_p", j="anchor_j", marker="$1")

            def next_pair(rater: str) -> None:
                cur.execute(naive, parameters=(rater,))
                cur.fetchall()

            # A scan of every vote per call: a few samples say enough.
            figures["next"] = percentiles(
                [timed(partial(next_pair, rater)) for rater in (raters * 10)[:10]]
            )
            figures["submit"] = pgbench_insert(url, folder)

            def export() -> None:
                cur.execute("SELECT * FROM anchor_j")
                pl.from_arrow(cur.fetch_arrow_table()).write_parquet(  # type: ignore[union-attr]
                    folder / "anchor-pg.parquet"
                )

            figures["export"] = timed(export)
    finally:
        con.close()
    return figures


# -- the run ---------------------------------------------------------------------------------


def engines_for(engine: str, admin_url: str) -> tuple[list[str], str | None]:
    """The engines to measure, and why PostgreSQL is left out (``both`` without a server)."""
    wanted = list(ENGINES) if engine == "both" else [engine]
    if "postgresql" not in wanted:
        return wanted, None
    reason = postgres_unavailable(admin_url)
    if reason is None:
        return wanted, None
    if engine == "postgresql":
        raise SystemExit(reason)
    return ["duckdb"], reason


def run(
    scale: float = 1.0,
    samples: int = 300,
    engine: str = "both",
    admin_url: str | None = None,
) -> list[dict[str, Any]]:
    admin_url = admin_url or postgres_admin_url()
    engines, left_out = engines_for(engine, admin_url)
    n_pairs, n_raters, n_votes = sizes(scale)
    pairs, judgments = synthetic(n_pairs, n_raters, n_votes)
    raters = [f"r{i:04d}" for i in range(0, n_raters, max(1, n_raters // 100))]
    ours: dict[str, dict[str, Any]] = {}
    anchors: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        pairs.write_parquet(tmp / "pairs.parquet")
        judgments.write_parquet(tmp / "judgments.parquet")
        del pairs, judgments
        if "duckdb" in engines:
            with Store(tmp / "ours.duckdb") as store:
                ours["duckdb"] = measure_store(store, tmp, raters, samples)
            anchors["duckdb"] = duckdb_anchors(tmp, raters, samples)
        if "postgresql" in engines:
            with fresh_postgres(admin_url, "store") as url:
                with Store(url) as store:
                    ours["postgresql"] = measure_store(store, tmp, raters, samples, url)
                anchors["postgresql"] = postgres_anchors(url, tmp, raters, samples)
    rows = [row for name in engines for row in _rows(name, ours, anchors)]
    if left_out is not None:
        rows.append(
            {"measure": "PostgreSQL not measured", "engine": "postgresql", "ours": left_out}
        )
    for row in rows:
        row["scale"] = scale
    return rows


_ANCHOR_NAMES = {
    "duckdb": {
        "import": "bare INSERT ... FROM read_parquet",
        "next": "aggregate query over all judgments",
        "submit": "single-row INSERT, no checks",
        "export": "COPY judgments TO Parquet",
    },
    "postgresql": {
        "import": "bare ADBC load of the Parquet (binary COPY, no index)",
        "next": "aggregate query over all judgments (10 timed)",
        "submit": f"pgbench -c 1, one-row INSERT ON CONFLICT, {PGBENCH_SECONDS} s",
        "export": "ADBC read of the bare table + write_parquet",
    },
}


def _rows(
    engine: str, ours: dict[str, dict[str, Any]], anchors: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    mine, anchor, names = ours[engine], anchors[engine], _ANCHOR_NAMES[engine]
    duck = ours.get("duckdb") if engine != "duckdb" else None

    def on_duckdb(key: str) -> float | None:
        return None if duck is None else float(duck[key])

    pgbench = ""
    if engine == "postgresql":
        sub = anchor["submit"]
        pgbench = f"; pgbench average {sub['average_ms']:.2f} ms, {sub['tps']:.0f} tps"
    rows = [
        _row(
            engine,
            "import 1M judgments",
            "s",
            mine["import"],
            anchor["import"],
            names["import"],
            on_duckdb("import"),
        ),
        _latency(
            engine, "next pair", mine["next"], anchor["next"], names["next"], duck and duck["next"]
        ),
        _latency(
            engine,
            "submit",
            mine["submit"],
            anchor["submit"],
            names["submit"] + pgbench,
            duck and duck["submit"],
        ),
        _row(
            engine,
            "read the export's frames (pairs + judgments)",
            "s",
            mine["read"],
            anchor["export"],
            names["export"],
            on_duckdb("read"),
        ),
        _row(
            engine,
            "export snapshot",
            "s",
            mine["export"],
            anchor["export"],
            names["export"],
            on_duckdb("export"),
        ),
        _row(
            engine,
            "export snapshot with --posterior (Dawid-Skene)",
            "s",
            mine["export_posterior"],
            anchor["export"],
            names["export"],
            on_duckdb("export_posterior"),
        ),
    ]
    if "settle" in mine:
        rows.insert(
            1,
            {
                "measure": "VACUUM ANALYZE after the import (autovacuum's work, done at once)",
                "engine": engine,
                "ours": f"{mine['settle']:.2f} s",
                "anchor": "",
                "anchor is": "",
                "ratio (ours/anchor)": "",
                "ours/DuckDB": "",
                "goal": "",
                "met": None,
            },
        )
    return rows


def _row(
    engine: str,
    name: str,
    unit: str,
    ours: float,
    anchor: float,
    anchor_name: str,
    duckdb_s: float | None = None,
) -> dict[str, Any]:
    vs_duckdb = "" if duckdb_s is None else round(ours / duckdb_s, 2)
    if engine == "duckdb":
        goal = GOALS_S.get(name)
        goal_text = f"<= {goal} s" if goal else ""
        met = (ours <= goal) if goal else None
    else:
        within = PG_WITHIN_DUCKDB.get(name)
        goal_text = f"<= {within}x DuckDB" if within else ""
        met = None if within is None or duckdb_s is None else ours <= within * duckdb_s
    return {
        "measure": name,
        "engine": engine,
        "ours": f"{ours:.2f} {unit}",
        "anchor": f"{anchor:.2f} {unit}",
        "anchor is": anchor_name,
        "ratio (ours/anchor)": round(ours / anchor, 2),
        "ours/DuckDB": vs_duckdb,
        "goal": goal_text,
        "met": met,
    }


def _latency(
    engine: str,
    name: str,
    ours: dict[str, float],
    anchor: dict[str, float],
    anchor_name: str,
    duckdb: dict[str, float] | None = None,
) -> dict[str, Any]:
    goal = (GOALS_MS if engine == "duckdb" else PG_GOALS_MS)[name]
    return {
        "measure": f"{name} (p50 / p95)",
        "engine": engine,
        "ours": f"{ours['p50_ms']:.1f} / {ours['p95_ms']:.1f} ms",
        "anchor": f"{anchor['p50_ms']:.1f} / {anchor['p95_ms']:.1f} ms",
        "anchor is": anchor_name,
        "ratio (ours/anchor)": round(ours["p95_ms"] / anchor["p95_ms"], 2),
        "ours/DuckDB": "" if duckdb is None else round(ours["p95_ms"] / duckdb["p95_ms"], 2),
        "goal": f"p95 <= {goal} ms",
        "met": ours["p95_ms"] <= goal,
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    columns = [c for c in dict.fromkeys(k for row in rows for k in row) if c != "scale"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1M judgments")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--engine", choices=(*ENGINES, "both"), default="both")
    parser.add_argument(
        "--postgres", default=None, help=f"admin URL (default ${ADMIN_ENV} or the local socket)"
    )
    args = parser.parse_args()
    print(markdown(run(args.scale, args.samples, args.engine, args.postgres)))
