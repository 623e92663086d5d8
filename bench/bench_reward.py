"""Reward-model throughput against the anchors, measured in the same run (not a test).

    python -m bench.bench_reward [--pairs 48] [--max-length 256] [--skip-trl] [--accuracy]

- Training: ``reward.train.train`` against TRL's ``RewardTrainer`` (trl==1.16.0, bench-only)
  on the same model (the bundled MiniLM), pairs, batch size, max length and precision.
  Neither truncates nor drops a pair: only pairs that fit ``--max-length`` are used.
- Scoring: ``reward.score.RewardScorer`` against a straightforward batched fp32 loop (batch 8,
  padding to the longest, in file order).
- Both against the machine's measured matrix-multiply peak: model FLOPs per pair are counted
  from the real (unpadded) token counts: 2 * non-embedding parameters * tokens plus the
  attention products, times 3 for training.
- Processes: training pairs/s of ``intentgap train --nproc 2`` (two CPU processes, gloo, one
  thread each) against one process with every core's threads, on the same global batches
  (``--processes-pairs`` pairs, batch ``--batch-size``, fp32), each run afresh as the command
  runs; and against one process on one thread, to show what a process adds. The rate is
  ``metrics.json``'s: global pairs over the seconds spent in optimizer steps.
- ``--accuracy``: held-out accuracy on hh-rlhf helpful-base (split by prompt) of the default
  base after one CPU epoch, beside the quick baseline and the always-longer rule.

Steady-state rates skip the first step (allocator and thread-pool warm-up). Prints one JSON
document; copy the figures into bench/RESULTS.md with the date and the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from data import frames
from data.export import write_snapshot
from data.importers import read_file
from labeling.preference_set import build_preferences
from reward.baseline import EmbeddingBaseline
from reward.checkpoint import METRICS_FILE
from reward.config import TrainConfig
from reward.dataset import SequenceEncoder, prompt_turns
from reward.model import default_base_path, load_model
from reward.score import RewardScorer
from reward.snapshot import load_snapshot, training_pairs
from reward.train import TrainProgress, train

HH = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "hh-rlhf-test"


def matmul_peak(dtype: torch.dtype, n: int = 2048, seconds: float = 2.0) -> float:
    """Best GFLOP/s of an n x n matrix multiply over about ``seconds``."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    best, deadline = 0.0, time.perf_counter() + seconds
    torch.mm(a, b)
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * n**3 / (time.perf_counter() - started) / 1e9)
    return best


def forward_flops(model: torch.nn.Module, length: int) -> float:
    """Model FLOPs of one forward pass over ``length`` real tokens."""
    config: Any = model.config
    embedding = sum(p.numel() for n, p in model.named_parameters() if "embeddings" in n)
    dense = sum(p.numel() for p in model.parameters()) - embedding
    attention = 4 * config.num_hidden_layers * length * length * config.hidden_size
    return float(2 * dense * length + attention)


def helpful_pairs(n: int, max_length: int, split: str = "helpful-base") -> pl.DataFrame:
    """The first ``n`` pairs of a split whose every sequence fits ``max_length`` tokens
    in both our layout and TRL's (prompt + response + end token)."""
    batch = read_file(HH / split / "test.jsonl.gz", preset="hh-rlhf")
    preferences = build_preferences(batch.pairs, batch.judgments).sort("pair_id")
    _, tokenizer = load_model(default_base_path())
    encoder = SequenceEncoder(tokenizer, 10_000)
    keep = []
    for row in preferences.iter_rows(named=True):
        turns = prompt_turns(row["prompt"], row["prompt_messages"])
        sides = encoder.encode_pair(turns, row["chosen"], row["rejected"])
        if max(len(side.input_ids) for side in sides) <= max_length - 2:
            keep.append(row["pair_id"])
        if len(keep) == n:
            break
    return preferences.filter(pl.col("pair_id").is_in(keep))


def snapshot_of(preferences: pl.DataFrame, folder: Path) -> Path:
    empty = frames.empty(frames.JUDGMENTS)
    write_snapshot(folder, preferences, empty, options={}, schema_version="bench", source="bench")
    return folder


class StepClock:
    """Timestamps of optimizer steps, for a steady-state rate that skips the first step."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self, *_: Any, **__: Any) -> None:
        self.times.append(time.perf_counter())

    def rate(self, pairs_per_step: int) -> float:
        steps = len(self.times) - 1
        return steps * pairs_per_step / (self.times[-1] - self.times[0])


def train_ours(snapshot: Path, out: Path, args: argparse.Namespace, precision: str) -> float:
    clock = StepClock()

    def on_progress(progress: TrainProgress) -> None:
        if progress.eval is None:
            clock()

    config = TrainConfig(
        snapshot=str(snapshot),
        out=str(out),
        max_length=args.max_length,
        batch_size=args.batch_size,
        eval_fraction=0.0,
        precision=precision,  # type: ignore[arg-type]
        progress_bar=False,
    )
    train(config, progress_callback=on_progress)
    return clock.rate(args.batch_size)


def train_trl(
    preferences: pl.DataFrame, out: Path, args: argparse.Namespace, precision: str
) -> float:
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import RewardConfig, RewardTrainer  # type: ignore[attr-defined]

    model, tokenizer = load_model(default_base_path())
    clock = StepClock()

    class Clock(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, *_: Any, **__: Any) -> None:
            clock()

    rows = preferences.select("prompt", "chosen", "rejected")
    config = RewardConfig(
        output_dir=str(out),
        per_device_train_batch_size=args.batch_size,
        num_train_epochs=1,
        max_length=args.max_length,
        eos_token="[SEP]",  # the MiniLM tokenizer has no end token of its own
        # TRL turns gradient checkpointing on by default (an extra forward pass); off here,
        # so the anchor does the same work as we do.
        gradient_checkpointing=False,
        bf16=precision == "bf16",
        use_cpu=True,
        save_strategy="no",
        report_to="none",
        logging_steps=10_000,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = RewardTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_polars(rows),
        processing_class=tokenizer,
        callbacks=[Clock()],
    )
    kept = len(trainer.train_dataset)  # type: ignore[arg-type]
    if kept != rows.height:
        raise RuntimeError(f"TRL dropped {rows.height - kept} pairs longer than max_length")
    with contextlib.redirect_stdout(sys.stderr):  # the Trainer prints its logs
        trainer.train()
    return clock.rate(args.batch_size)


def plain_scoring_loop(preferences: pl.DataFrame, max_length: int) -> float:
    """The straightforward way: fp32, batch 8, padded to the longest, in file order."""
    model, tokenizer = load_model(default_base_path())
    model.eval()  # type: ignore[no-untyped-call]
    prompts = preferences["prompt"].to_list() * 2
    responses = preferences["chosen"].to_list() + preferences["rejected"].to_list()
    started = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(prompts), 8):
            batch = tokenizer(
                prompts[i : i + 8],
                responses[i : i + 8],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            model(**batch)
    return preferences.height / (time.perf_counter() - started)


def ours_scoring(checkpoint: Path, preferences: pl.DataFrame, precision: str) -> float:
    scorer = RewardScorer.from_checkpoint(checkpoint, precision=precision)
    prompts = preferences["prompt"].to_list() * 2
    responses = preferences["chosen"].to_list() + preferences["rejected"].to_list()
    messages = preferences["prompt_messages"].to_list() * 2
    started = time.perf_counter()
    scorer.score(prompts, responses, messages)
    return preferences.height / (time.perf_counter() - started)


def throughput(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    preferences = helpful_pairs(args.pairs, args.max_length)
    snapshot = snapshot_of(preferences, work / "snapshot")
    model, _ = load_model(default_base_path())
    encoder = SequenceEncoder(load_model(default_base_path())[1], args.max_length)
    lengths = []
    for row in preferences.iter_rows(named=True):
        sides = encoder.encode_pair(
            prompt_turns(row["prompt"], row["prompt_messages"]), row["chosen"], row["rejected"]
        )
        lengths.append([len(side.input_ids) for side in sides])
    pair_flops = float(np.mean([sum(forward_flops(model, n) for n in pair) for pair in lengths]))
    peaks = {"fp32": 0.0, "bf16": 0.0}

    def measure_peaks() -> None:  # the best seen in the run: other work only lowers it
        for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            peaks[name] = max(peaks[name], matmul_peak(dtype))

    measure_peaks()
    result: dict[str, Any] = {
        "pairs": preferences.height,
        "mean_tokens_per_sequence": float(np.mean(lengths)),
        "gflop_per_training_pair": 3 * pair_flops / 1e9,
        "gflop_per_scored_pair": pair_flops / 1e9,
        "matmul_peak_gflops": peaks,
        "training": {},
        "scoring": {},
    }
    runs = 0
    for precision in args.precisions:
        ours, trl = [], []
        for _ in range(args.repeats):  # interleaved, so load from other work hits both alike
            runs += 1
            measure_peaks()
            ours.append(train_ours(snapshot, work / f"ours{runs}", args, precision))
            if not args.skip_trl:
                trl.append(train_trl(preferences, work / f"trl{runs}", args, precision))
        entry: dict[str, float] = {"ours_pairs_per_s": statistics.median(ours)}
        if trl:
            entry["trl_pairs_per_s"] = statistics.median(trl)
            entry["ratio"] = entry["ours_pairs_per_s"] / entry["trl_pairs_per_s"]
        result["training"][precision] = entry
    checkpoint = work / "ours1"
    plain = [plain_scoring_loop(preferences, args.max_length) for _ in range(args.repeats)]
    scoring = result["scoring"]
    scoring["plain_fp32_pairs_per_s"] = statistics.median(plain)
    for precision in args.precisions:
        measure_peaks()
        rates = [ours_scoring(checkpoint, preferences, precision) for _ in range(args.repeats)]
        scoring[f"ours_{precision}_pairs_per_s"] = statistics.median(rates)
        scoring[f"ours_{precision}_ratio"] = (
            statistics.median(rates) / scoring["plain_fp32_pairs_per_s"]
        )
    # Shares of the best peak seen in the whole run (other work on the machine only lowers it).
    for precision, entry in result["training"].items():
        for who in ("ours", "trl"):
            if f"{who}_pairs_per_s" in entry:
                achieved = entry[f"{who}_pairs_per_s"] * 3 * pair_flops / 1e9
                entry[f"{who}_fraction_of_peak"] = achieved / peaks[precision]
    for precision in args.precisions:
        achieved = scoring[f"ours_{precision}_pairs_per_s"] * pair_flops / 1e9
        scoring[f"ours_{precision}_fraction_of_peak"] = achieved / peaks[precision]
    scoring["plain_fp32_fraction_of_peak"] = (
        scoring["plain_fp32_pairs_per_s"] * pair_flops / 1e9 / peaks["fp32"]
    )
    return result


def train_on_processes(
    snapshot: Path, out: Path, args: argparse.Namespace, nproc: int, threads: int | None
) -> float:
    """Training pairs/s of ``python -m reward.train --nproc N`` started afresh (``threads``:
    OMP_NUM_THREADS for one process; torchrun gives each of several one thread)."""
    config = TrainConfig(
        snapshot=str(snapshot),
        out=str(out),
        max_length=args.max_length,
        batch_size=args.batch_size,
        eval_fraction=0.0,
        precision="fp32",
        progress_bar=False,
        nproc=nproc,
    )
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    command = [sys.executable, "-m", "reward.train", *config.to_args()]
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return float(json.loads((out / METRICS_FILE).read_text())["pairs_per_second"])


def processes(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Two CPU processes against one on the same global batches, runs interleaved."""
    preferences = helpful_pairs(args.processes_pairs, args.max_length)
    snapshot = snapshot_of(preferences, work / "processes-snapshot")
    setups = {
        "one_process": (1, None),
        "one_process_one_thread": (1, 1),
        "two_processes": (2, None),
    }
    rates: dict[str, list[float]] = {name: [] for name in setups}
    for repeat in range(args.repeats):
        for name, (nproc, threads) in setups.items():
            out = work / f"{name}{repeat}"
            rates[name].append(train_on_processes(snapshot, out, args, nproc, threads))
    result: dict[str, Any] = {
        "pairs": preferences.height,
        "threads_of_one_process": torch.get_num_threads(),
        **{f"{name}_pairs_per_s": statistics.median(r) for name, r in rates.items()},
    }
    result["ratio"] = result["two_processes_pairs_per_s"] / result["one_process_pairs_per_s"]
    result["ratio_to_one_thread"] = (
        result["two_processes_pairs_per_s"] / result["one_process_one_thread_pairs_per_s"]
    )
    return result


def accuracy(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Held-out accuracy on helpful-base: trained MiniLM, quick baseline, always-longer."""
    batch = read_file(HH / "helpful-base" / "test.jsonl.gz", preset="hh-rlhf")
    preferences = build_preferences(batch.pairs, batch.judgments)
    snapshot = snapshot_of(preferences, work / "hh-snapshot")
    config = TrainConfig(
        snapshot=str(snapshot),
        out=str(work / "hh-minilm"),
        max_length=args.max_length,
        batch_size=args.batch_size,
        max_pairs=args.accuracy_pairs,
        precision=args.accuracy_precision,
        epochs=args.accuracy_epochs,
        eval_fraction=args.accuracy_eval_fraction,
        progress_bar=False,
    )
    started = time.perf_counter()
    trained = train(config)
    minutes = (time.perf_counter() - started) / 60
    pairs = training_pairs(load_snapshot(snapshot), config)
    train_rows, held_out = pairs.filter(~pairs["is_eval"]), pairs.filter(pairs["is_eval"])
    started = time.perf_counter()
    baseline = EmbeddingBaseline(max_length=args.max_length).fit(train_rows)
    baseline_accuracy = float((baseline.predict_proba(held_out) > 0.5).mean())
    baseline_minutes = (time.perf_counter() - started) / 60
    longer = (held_out["chosen"].str.len_chars() > held_out["rejected"].str.len_chars()).sum()
    return {
        "train_pairs": train_rows.height,
        "held_out_pairs": held_out.height,
        "minilm_held_out_accuracy": trained.metrics["epochs"][-1]["eval_accuracy"],
        "minilm_accuracy_by_epoch": [e["eval_accuracy"] for e in trained.metrics["epochs"]],
        "minilm_train_minutes": minutes,
        "baseline_held_out_accuracy": baseline_accuracy,
        "baseline_minutes": baseline_minutes,
        "always_longer_held_out_accuracy": longer / held_out.height,
    }


GOALS = {"training": 1.5, "scoring": 2.0, "fraction_of_peak": 0.6}


def run(scale: float = 1.0) -> list[dict[str, Any]]:
    """Rows for ``python -m bench``: ours against the anchor, per precision."""
    args = parser().parse_args(
        [
            "--pairs",
            str(max(16, int(48 * scale))),
            "--processes-pairs",
            str(max(32, int(96 * scale))),
        ]
    )
    with tempfile.TemporaryDirectory() as folder:
        result = throughput(args, Path(folder))
        scaling = processes(args, Path(folder))
    rows = []
    for precision, entry in result["training"].items():
        rows.append(
            {
                "measure": f"training pairs/s, {precision}, batch {args.batch_size}",
                "ours": f"{entry['ours_pairs_per_s']:.2f}",
                "anchor": f"{entry.get('trl_pairs_per_s', float('nan')):.2f}",
                "anchor is": "TRL RewardTrainer",
                "ratio (ours/anchor)": round(entry.get("ratio", float("nan")), 2),
                "share of matmul peak": f"{entry['ours_fraction_of_peak']:.0%}",
                "goal": f">= {GOALS['training']}x and >= 60% of peak",
                "met": entry.get("ratio", 0) >= GOALS["training"]
                and entry["ours_fraction_of_peak"] >= GOALS["fraction_of_peak"],
            }
        )
    scoring = result["scoring"]
    for precision in args.precisions:
        rows.append(
            {
                "measure": f"scoring pairs/s, ours {precision}",
                "ours": f"{scoring[f'ours_{precision}_pairs_per_s']:.2f}",
                "anchor": f"{scoring['plain_fp32_pairs_per_s']:.2f}",
                "anchor is": "plain fp32 loop, batch 8",
                "ratio (ours/anchor)": round(scoring[f"ours_{precision}_ratio"], 2),
                "share of matmul peak": f"{scoring[f'ours_{precision}_fraction_of_peak']:.0%}",
                "goal": f">= {GOALS['scoring']}x",
                "met": scoring[f"ours_{precision}_ratio"] >= GOALS["scoring"],
            }
        )
    threads = scaling["threads_of_one_process"]
    for anchor, anchor_is, ratio in (
        ("one_process", f"the same on 1 process ({threads} threads)", "ratio"),
        ("one_process_one_thread", "the same on 1 process, 1 thread", "ratio_to_one_thread"),
    ):
        rows.append(
            {
                "measure": f"training pairs/s, 2 CPU processes (gloo, 1 thread each), fp32, "
                f"global batch {args.batch_size}, {scaling['pairs']} pairs",
                "ours": f"{scaling['two_processes_pairs_per_s']:.2f}",
                "anchor": f"{scaling[f'{anchor}_pairs_per_s']:.2f}",
                "anchor is": anchor_is,
                "ratio (ours/anchor)": round(scaling[ratio], 2),
                "goal": "",
                "met": None,
            }
        )
    return rows


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, default=48)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-trl", action="store_true")
    parser.add_argument("--processes-pairs", type=int, default=96, help="pairs of the 1-vs-2 runs")
    parser.add_argument("--skip-processes", action="store_true", help="no 1-vs-2-process runs")
    parser.add_argument("--accuracy", action="store_true", help="also the held-out accuracy run")
    parser.add_argument("--only-accuracy", action="store_true", help="only the accuracy run")
    parser.add_argument("--accuracy-pairs", type=int, default=None)
    parser.add_argument("--accuracy-precision", default="auto")
    parser.add_argument("--accuracy-epochs", type=int, default=4)
    parser.add_argument("--accuracy-eval-fraction", type=float, default=0.2)
    return parser


def main() -> None:
    args = parser().parse_args()
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
        "torch": torch.__version__,
    }
    with tempfile.TemporaryDirectory() as folder:
        if not args.only_accuracy:
            report["throughput"] = throughput(args, Path(folder))
        if not (args.only_accuracy or args.skip_processes):
            report["processes"] = processes(args, Path(folder))
        if args.accuracy or args.only_accuracy:
            report["accuracy"] = accuracy(args, Path(folder))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
