"""What a reward model learns from real votes: held-out accuracy on hh-rlhf helpful-base.

The default base (the bundled MiniLM) trained on CPU for a run under 30 minutes, beside the
quick baseline (frozen embeddings + logistic head) and the always-longer rule, on the same
held-out prompts (split by prompt). Accuracy is against the dataset's own label; the interval
is Wilson's 95%. The model's accuracy is reported after every epoch of the one run (the
minutes of an epoch are the run's share).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

from bench import bench_reward

#: The goal's budget for the CPU run.
BUDGET_MINUTES = 30.0


def wilson(share: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion."""
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def run(scale: float = 1.0) -> list[dict[str, Any]]:
    pairs = None if scale >= 1 else max(200, int(2354 * scale))
    args = bench_reward.parser().parse_args(
        [] if pairs is None else ["--accuracy-pairs", str(pairs)]
    )
    with tempfile.TemporaryDirectory() as folder:
        result = bench_reward.accuracy(args, Path(folder))
    n = result["held_out_pairs"]
    data = f"{result['train_pairs']} training pairs, {n} held-out pairs"
    rows = []

    def row(name: str, accuracy: float, minutes: float) -> None:
        low, high = wilson(accuracy, n)
        rows.append(
            {
                "model": name,
                "held-out accuracy": f"{accuracy:.1%}",
                "95% interval": f"{low:.1%} .. {high:.1%}",
                "minutes (CPU)": f"{minutes:.1f}",
                "data": data,
            }
        )

    # Every epoch's held-out accuracy, from one run: the last is not picked for being best.
    by_epoch = result["minilm_accuracy_by_epoch"]
    for epoch, accuracy in enumerate(by_epoch, start=1):
        minutes = result["minilm_train_minutes"] * epoch / len(by_epoch)
        row(
            f"MiniLM reward model after epoch {epoch}, max {args.max_length} tokens",
            accuracy,
            minutes,
        )
    row(
        "quick baseline (frozen embeddings + logistic head)",
        result["baseline_held_out_accuracy"],
        result["baseline_minutes"],
    )
    row("always the longer response", result["always_longer_held_out_accuracy"], 0.0)
    rows[len(by_epoch) - 1]["goal"] = f"run under {BUDGET_MINUTES:g} min"
    rows[len(by_epoch) - 1]["met"] = result["minilm_train_minutes"] < BUDGET_MINUTES
    return rows
