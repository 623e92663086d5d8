"""Run the benchmarks and write ``bench/RESULTS.md``.

    .venv/bin/python -m bench [--scale 1.0] [--only store,audit_stats,...]

Each benchmark module has ``run(scale) -> list[dict]`` whose rows compare our figure with an
anchor measured in the same run; this file only collects them with the date and the machine.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCHMARKS = {
    "store": "bench.bench_store",
    "store_load": "bench.bench_store_load",
    "audit_engines": "bench.bench_audit_engines",
    "audit_stats": "bench.bench_audit_stats",
    "audit": "bench.bench_audit",
    "blind_spots": "bench.bench_blind_spots",
    "reward": "bench.bench_reward",
    "reward_accuracy": "bench.bench_reward_accuracy",
    "import_memory": "bench.bench_import_memory",
    "label_efficiency": "bench.bench_label_efficiency",
}
RESULTS = Path(__file__).with_name("RESULTS.md")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB RAM"
    return f"{os.cpu_count()} cores ({cpu}){memory}, Python {platform.python_version()}"


def table(rows: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated names")
    args = parser.parse_args()
    sections = previous_sections()
    for name in args.only.split(","):
        module = importlib.import_module(BENCHMARKS[name])
        started = time.perf_counter()
        rows = module.run(scale=args.scale)
        took = time.perf_counter() - started
        doc = (module.__doc__ or "").strip().splitlines()[0]
        sections[name] = (
            f"## {name}: {doc}\n\nRun {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at scale "
            f"{args.scale}.\n\n{table(rows)}\n\n(whole benchmark: {took:.0f} s)"
        )
        print(sections[name], flush=True)
    header = (
        "# Benchmark results\n\n"
        f"Machine: {machine()}. "
        "Ratios compare with the anchor measured in the same run; absolute times move with "
        "the load on this shared machine.\n"
    )
    ordered = [sections[name] for name in BENCHMARKS if name in sections]
    RESULTS.write_text(header + "\n" + "\n\n".join(ordered) + "\n", encoding="utf-8")


def previous_sections() -> dict[str, str]:
    """Sections already in RESULTS.md, so running one benchmark keeps the others."""
    if not RESULTS.exists():
        return {}
    found = {}
    for chunk in RESULTS.read_text(encoding="utf-8").split("\n## ")[1:]:
        name = chunk.split(":", 1)[0]
        found[name] = "## " + chunk.strip()
    return found


if __name__ == "__main__":
    main()
