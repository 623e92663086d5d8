"""Agreement and reliability statistics at 1M judgments, against the reference libraries.

Synthetic votes: 200,000 pairs, 1,000 raters in teams of 10, 5 raters of the pair's team per
pair (1,000,000 judgments); every rater has a hidden accuracy between 0.55 and 0.95. Each row
times our function and the reference doing the same job in the same run, checks that both
give the same numbers, and prints the ratio. Ours is the best of three runs (one for the rows
with a bootstrap), the reference one run: the machine is shared and ours is short.

    .venv/bin/python -m bench.bench_audit_stats [--scale 1.0]
"""

from __future__ import annotations

import argparse
import random
import time
import warnings
from collections.abc import Callable
from typing import Any, Literal

import krippendorff
import numpy as np
import polars as pl
from crowdkit.aggregation import DawidSkene as CrowdKitDawidSkene
from sklearn.metrics import cohen_kappa_score

from labeling.agreement import cohen_kappa, krippendorff_alpha
from labeling.reliability import DawidSkene

LABELS = ("a", "b", "tie")
TEAM = 10
VOTES_PER_PAIR = 5
#: Rater pairs timed with the scikit-learn loop; the rest is extrapolated.
SKLEARN_SAMPLE = 1000
DS_ITERATIONS = 10


def synthetic(scale: float = 1.0, seed: int = 0) -> pl.DataFrame:
    """Judgments (``pair_id, rater_id, choice, strength``) drawn from noisy raters."""
    rng = np.random.default_rng(seed)
    n_raters = max(TEAM, round(1000 * scale) // TEAM * TEAM)
    n_pairs = max(n_raters, round(200_000 * scale))
    truth = rng.choice(3, n_pairs, p=[0.45, 0.45, 0.10])
    team = rng.integers(0, n_raters // TEAM, n_pairs)
    # Five distinct members of the pair's team: the first five of a random permutation.
    members = np.argsort(rng.random((n_pairs, TEAM)), axis=1)[:, :VOTES_PER_PAIR]
    rater = (team[:, np.newaxis] * TEAM + members).ravel()
    accuracy = rng.uniform(0.55, 0.95, n_raters)[rater]
    true_label = np.repeat(truth, VOTES_PER_PAIR)
    wrong = (true_label + rng.integers(1, 3, len(rater))) % 3
    label = np.where(rng.random(len(rater)) < accuracy, true_label, wrong)
    return pl.DataFrame(
        {
            "pair_id": np.char.add("p", np.repeat(np.arange(n_pairs), VOTES_PER_PAIR).astype(str)),
            "rater_id": np.char.add("r", rater.astype(str)),
            "choice": np.array(LABELS)[label],
            "strength": np.where(label == 2, 0, rng.integers(1, 4, len(rater))).astype(np.int8),
        }
    ).with_columns(pl.col("strength").replace(0, None))


def best_of(repeats: int, job: Callable[[], Any]) -> tuple[float, Any]:
    """Shortest wall time of ``repeats`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = job()
        times.append(time.perf_counter() - started)
    return min(times), result


def _pivot(judgments: pl.DataFrame, values: np.ndarray) -> np.ndarray:
    """Raters x pairs matrix with NaN where a rater did not vote: the reference's input."""
    rater = judgments["rater_id"].rank("dense").to_numpy().astype(np.int64) - 1
    pair = judgments["pair_id"].rank("dense").to_numpy().astype(np.int64) - 1
    matrix = np.full((rater.max() + 1, pair.max() + 1), np.nan)
    matrix[rater, pair] = values
    return matrix


def bench_alpha(judgments: pl.DataFrame, level: Literal["nominal", "ordinal"]) -> dict[str, Any]:
    if level == "nominal":
        values = judgments["choice"].replace_strict({"a": 0, "b": 1, "tie": 2}).to_numpy()
    else:
        sign = judgments["choice"].replace_strict({"a": -1, "b": 1, "tie": 0}).to_numpy()
        values = sign * judgments["strength"].fill_null(0).to_numpy()
    ours_s, ours = best_of(
        3, lambda: krippendorff_alpha(judgments, level_of_measurement=level, n_boot=0)
    )
    started = time.perf_counter()
    reference = krippendorff.alpha(
        reliability_data=_pivot(judgments, values.astype(np.float64)),
        level_of_measurement=level,
    )
    reference_s = time.perf_counter() - started
    return row(
        f"Krippendorff's alpha, {level}",
        ours_s,
        reference_s,
        "pivot to raters x pairs + krippendorff.alpha",
        10,
        abs(ours.estimate - reference),
    )


def bench_alpha_bootstrap(judgments: pl.DataFrame) -> dict[str, Any]:
    ours_s, _ = best_of(1, lambda: krippendorff_alpha(judgments, n_boot=1000))
    counts = (
        judgments.group_by("pair_id", "choice")
        .len()
        .pivot(on="choice", index="pair_id", values="len")
        .fill_null(0)
        .drop("pair_id")
        .to_numpy()
    )
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for _ in range(3):
        resampled = counts[rng.integers(0, len(counts), len(counts))]
        krippendorff.alpha(value_counts=resampled, level_of_measurement="nominal")
    reference_s = (time.perf_counter() - started) / 3 * 1000
    return row(
        "Krippendorff's alpha + 1,000-draw bootstrap",
        ours_s,
        reference_s,
        "1,000 x (resample pairs + krippendorff.alpha on value counts), 3 timed, extrapolated",
        None,
        None,
    )


def bench_cohen(judgments: pl.DataFrame) -> list[dict[str, Any]]:
    ours_s, ours = best_of(3, lambda: cohen_kappa(judgments, min_overlap=10, n_boot=0))
    by_rater = {
        rater: dict(zip(part["pair_id"], part["choice"], strict=True))
        for (rater,), part in judgments.group_by("rater_id")
    }
    items = {rater: set(labels) for rater, labels in by_rater.items()}
    # The naive job has two parts: find the rater pairs sharing >= 10 items by intersecting
    # item sets, then call scikit-learn on each. Both are timed on samples, extrapolated.
    raters = sorted(items)
    n_rater_pairs = len(raters) * (len(raters) - 1) // 2
    rng = random.Random(0)
    sampled = [tuple(rng.sample(raters, 2)) for _ in range(min(SKLEARN_SAMPLE * 20, n_rater_pairs))]
    started = time.perf_counter()
    for first, second in sampled:
        _ = len(items[first] & items[second]) >= 10
    discovery_s = (time.perf_counter() - started) * n_rater_pairs / len(sampled)

    rater_pairs = list(ours.select("rater_a", "rater_b", "estimate").iter_rows())
    sample = rng.sample(rater_pairs, min(SKLEARN_SAMPLE, len(rater_pairs)))
    difference = 0.0
    started = time.perf_counter()
    for first, second, estimate in sample:
        shared = items[first] & items[second]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kappa = cohen_kappa_score(
                [by_rater[first][pair] for pair in shared],
                [by_rater[second][pair] for pair in shared],
            )
        difference = max(difference, abs(kappa - estimate))
    sklearn_s = (time.perf_counter() - started) * len(rater_pairs) / len(sample)
    with_ci_s, _ = best_of(1, lambda: cohen_kappa(judgments, min_overlap=10, n_boot=1000))
    pairs_note = f"{len(rater_pairs):,} rater pairs share >= 10 pairs"
    return [
        row(
            "Cohen's kappa, every rater pair sharing >= 10 pairs",
            ours_s,
            sklearn_s,
            "sklearn.metrics.cohen_kappa_score on each of those rater pairs",
            20,
            difference,
            f"{pairs_note}; sklearn timed on {len(sample):,} of them, extrapolated; "
            "the rater pairs to compare are handed to it",
        ),
        row(
            "Cohen's kappa, the same, finding the rater pairs too",
            ours_s,
            sklearn_s + discovery_s,
            "loop over all rater pairs: intersect item sets, sklearn when >= 10 shared",
            20,
            None,
            f"{n_rater_pairs:,} intersections timed on {len(sampled):,}, extrapolated: "
            f"{discovery_s:.1f} s + sklearn {sklearn_s:.1f} s",
        ),
        row(
            "Cohen's kappa, the same + 1,000-draw bootstrap for each rater pair",
            with_ci_s,
            sklearn_s,
            "the sklearn calls, without intervals",
            None,
            None,
        ),
    ]


def bench_dawid_skene(judgments: pl.DataFrame) -> dict[str, Any]:
    # tol = -inf: both run exactly DS_ITERATIONS rounds.
    ours_s, ours = best_of(3, lambda: DawidSkene(n_iter=DS_ITERATIONS, tol=-np.inf).fit(judgments))
    frame = judgments.select(task="pair_id", worker="rater_id", label="choice").to_pandas()
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # crowd-kit 1.4 uses pandas arguments pandas 3 deprecates
        reference = CrowdKitDawidSkene(n_iter=DS_ITERATIONS, tol=-np.inf).fit(frame)
    reference_s = time.perf_counter() - started
    assert reference.probas_ is not None
    expected = reference.probas_.sort_index()
    probas = ours.probas_.sort("pair_id")
    difference = max(
        float(np.abs(probas[label].to_numpy() - expected[label].to_numpy()).max())
        for label in expected.columns
    )
    return row(
        f"Dawid-Skene, {DS_ITERATIONS} EM iterations",
        ours_s,
        reference_s,
        "crowdkit.aggregation.DawidSkene",
        5,
        difference,
        "difference = largest posterior gap (crowd-kit floors posteriors at 1e-10)",
    )


def row(
    task: str,
    ours_s: float,
    reference_s: float,
    reference: str,
    goal: float | None,
    difference: float | None,
    note: str = "",
) -> dict[str, Any]:
    return {
        "task": task,
        "ours (s)": f"{ours_s:.3f}",
        "reference (s)": f"{reference_s:.2f}",
        "reference": reference,
        "ours faster by": f"{reference_s / ours_s:.0f}x",
        "goal": f">= {goal:.0f}x" if goal else "",
        "max abs difference": "" if difference is None else f"{difference:.1e}",
        "note": note,
    }


def run(scale: float = 1.0) -> list[dict[str, Any]]:
    judgments = synthetic(scale)
    rows = [bench_alpha(judgments, "nominal"), bench_alpha(judgments, "ordinal")]
    rows.append(bench_alpha_bootstrap(judgments))
    rows += bench_cohen(judgments)
    rows.append(bench_dawid_skene(judgments))
    size = (
        f"{judgments.height:,} judgments, {judgments['pair_id'].n_unique():,} pairs, "
        f"{judgments['rater_id'].n_unique():,} raters"
    )
    return [{**r, "data": size} for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    rows = run(parser.parse_args().scale)
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in columns) + " |")


if __name__ == "__main__":
    main()
