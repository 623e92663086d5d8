"""Detection study: how often the audit flags a planted blind spot, and how often an honest rater.

Each pool is ``labeling.simulate.detection_study``: 15 honest raters of varied skill and one
planted rater, three votes per pair, six categories, four principles (the pool of issue 9:
16 raters x about 225 votes). The planted rater answers at random on one category, on one
principle, on the gold items of one category, or votes in 1.6 s at 40% (with or without the
other raters' times recorded); a last scenario plants nothing. Every pool runs the whole
``find_blind_spots`` (all checks, one Benjamini-Hochberg correction at q < 0.05).

- detection rate: pools in which the planted rater is flagged for the planted kind (and
  slice), with a 95% Clopper-Pearson interval;
- false-positive rate: honest raters flagged for anything, over all honest raters of all
  pools (the planted rater too in the scenario that plants nothing).

The anchor is the audit before this study (the checks at commit ``BEFORE``, read with
``git show``, on the same pools): slices tested by the conjunction of two Fisher tests,
speed compared only with timed votes, no accuracy check.

    .venv/bin/python -m bench.bench_blind_spots [--scale 1.0]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
from scipy import stats

from bench.__main__ import table
from labeling.blind_spots import find_blind_spots
from labeling.simulate import DETECTION_SCENARIOS, PLANTED_RATER, detection_study

REPO = Path(__file__).resolve().parent.parent
#: The audit before the detection study: its checks are the anchor.
BEFORE = "6285e07"
#: What counts as finding the planted rater: a flagged finding of one of these kinds (and
#: the scenario's slice, where it has one).
FOUND_AS: dict[str, tuple[str, ...]] = {
    "category": ("category",),
    "principle": ("principle",),
    "gold": ("gold",),
    "fast": ("accuracy", "speed"),
    "fast, others untimed": ("accuracy", "speed"),
    "none": (),
}
#: Votes per rater of the pools of each scenario (the slices need more votes to be seen).
SIZES: dict[str, tuple[int, ...]] = {
    "category": (225, 450, 900),
    "principle": (225, 450, 900),
    "gold": (225, 450, 900),
    "fast": (225,),
    "fast, others untimed": (225,),
    "none": (225, 900),
}
SEEDS = 20

Audit = Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame]


def audit_before() -> Audit | None:
    """``find_blind_spots`` as it was at ``BEFORE`` (None when git cannot show it)."""
    shown = subprocess.run(
        ["git", "show", f"{BEFORE}:labeling/blind_spots.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if shown.returncode != 0:
        return None
    module = types.ModuleType("blind_spots_before")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(shown.stdout, f"blind_spots@{BEFORE}", "exec"), module.__dict__)
    before: Audit = module.find_blind_spots
    return before


def outcome(found: pl.DataFrame, scenario: str) -> tuple[bool, int, int]:
    """(planted rater found, honest raters flagged, honest raters) in one pool's findings."""
    flagged = found.filter("flagged")
    weak_slice = DETECTION_SCENARIOS[scenario][0]
    planted = flagged.filter(
        (pl.col("rater_id") == PLANTED_RATER) & pl.col("kind").is_in(FOUND_AS[scenario])
    )
    if weak_slice is not None:
        planted = planted.filter(pl.col("slice") == weak_slice)
    raters = found.get_column("rater_id").unique()
    honest = raters if scenario == "none" else raters.filter(raters != PLANTED_RATER)
    wrongly = flagged.filter(pl.col("rater_id").is_in(honest.implode()))
    return planted.height > 0, wrongly["rater_id"].n_unique(), len(honest)


def rate(k: int, n: int) -> str:
    """``k/n = share [95% Clopper-Pearson interval]``."""
    low = stats.beta.ppf(0.025, k, n - k + 1) if k > 0 else 0.0
    high = stats.beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
    return f"{k}/{n} = {k / n:.0%} [{low:.0%}, {high:.0%}]"


def study(
    scenario: str, votes_per_rater: int, seeds: int, audits: dict[str, Audit]
) -> dict[str, Any]:
    """One row of the table: ``seeds`` pools of one scenario, each audit on every pool."""
    found = dict.fromkeys(audits, 0)
    wrongly = dict.fromkeys(audits, 0)
    honest = 0
    for seed in range(seeds):
        pairs, votes = detection_study(scenario, seed, votes_per_rater=votes_per_rater)
        for name, audit in audits.items():
            hit, false_flags, n_honest = outcome(audit(votes, pairs), scenario)
            found[name] += hit
            wrongly[name] += false_flags
        honest += n_honest
    row: dict[str, Any] = {
        "scenario": scenario,
        "planted rater": DETECTION_SCENARIOS[scenario][1],
        "votes per rater": votes_per_rater,
        "seeds": seeds,
    }
    for name in audits:
        suffix = "" if name == "ours" else f" ({name})"
        row[f"detection rate{suffix}"] = rate(found[name], seeds) if FOUND_AS[scenario] else "-"
        row[f"false-positive rate{suffix}"] = rate(wrongly[name], honest)
    return row


def run(scale: float = 1.0) -> list[dict[str, Any]]:
    seeds = max(2, round(SEEDS * scale))
    audits: dict[str, Audit] = {"ours": find_blind_spots}
    before = audit_before()
    if before is not None:
        audits[f"anchor: before, {BEFORE}"] = before
    rows = []
    for scenario, sizes in SIZES.items():
        for votes_per_rater in sizes:
            rows.append(study(scenario, votes_per_rater, seeds, audits))
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    print(table(run(parser.parse_args().scale)))


if __name__ == "__main__":
    main()
