"""Training and scoring throughput of the reward path on a CUDA machine, with model FLOP
utilisation; prints one JSON document.

    python bench/cuda_reward.py                      # on the GPU machine (bf16 autocast, TF32)
    python bench/cuda_reward.py --device cpu --steps 2   # a smoke check anywhere

The data are synthetic pairs of common words (about ``--prompt-words`` and
``--response-words`` each, +-25%), written as a real snapshot and trained with
``reward.train.train``, so the measured path is the product's. Rates skip ``--warmup`` steps.
MFU is model FLOPs per second (2 x non-embedding parameters x real tokens plus attention,
x3 for training) over the device's measured dense matrix-multiply peak in the same precision;
``--peak-tflops`` gives the datasheet figure instead.

Multi-GPU (when at least two GPUs are visible; skipped, with the reason in the report, on
fewer): ``intentgap train --nproc N`` (torchrun, NCCL, one process per GPU) against one GPU,
each run afresh as the command runs, at the same global batch (``--batch-size``: each GPU
takes its share, the run is the same) and at ``--batch-size`` per GPU (N times the global
batch). Rates are ``metrics.json``'s: global pairs over the seconds spent in optimizer steps
(warm-up steps included, alike for every run). ``--gpus`` picks N (default: all visible).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script too

from data import frames
from data.export import write_snapshot
from reward.checkpoint import METRICS_FILE
from reward.config import TrainConfig
from reward.device import pick_device, resolve_precision
from reward.score import RewardScorer
from reward.train import TrainProgress, train

REPO = Path(__file__).resolve().parents[1]

_COMMON_WORDS = (
    "the of and to in is you that it he was for on are as with his they at be this have from "
    "or one had by word but not what all were we when your can said there use an each which she "
    "do how their if will up other about out many then them these so some her would make like "
    "him into time has look two more write go see number no way could people my than first water "
    "been call who oil its now find long down day did get come made may part over new sound take "
    "only little work know place year live me back give most very after thing our just name good "
    "sentence man think say great where help through much before line right too mean old any same "
    "tell boy follow came want show also around form three small set put end does another well"
)
WORDS = _COMMON_WORDS.split()


def sentence_of(rng: random.Random, words: int) -> str:
    n = max(1, round(words * rng.uniform(0.75, 1.25)))
    return " ".join(rng.choice(WORDS) for _ in range(n)) + "."


def synthetic_snapshot(folder: Path, pairs: int, args: argparse.Namespace) -> Path:
    rng = random.Random(0)
    rows = [
        {
            "pair_id": f"p{i:06d}",
            "prompt": sentence_of(rng, args.prompt_words),
            "chosen": sentence_of(rng, args.response_words),
            "rejected": sentence_of(rng, args.response_words),
            "chosen_side": "a",
            "margin": 0.0,
            "label": 1.0,
            "n_judgments": 1,
            "votes_a": 1,
            "votes_b": 0,
            "votes_tie": 0,
            "votes_both_bad": 0,
            "agreement": 1.0,
            "is_tie": False,
            "is_gold": False,
        }
        for i in range(pairs)
    ]
    preferences = frames.conform(pl.DataFrame(rows), frames.PREFERENCES)
    judgments = frames.empty(frames.JUDGMENTS)
    write_snapshot(
        folder, preferences, judgments, options={}, schema_version="bench", source="synthetic"
    )
    return folder


def matmul_peak_tflops(device: torch.device, precision: str, seconds: float = 2.0) -> float:
    n = 8192 if device.type == "cuda" else 1024
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        for _ in range(4):
            torch.mm(a, b)
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, 4 * 2 * n**3 / (time.perf_counter() - started) / 1e12)
    return best


def forward_flops(model: torch.nn.Module, length: int) -> float:
    config: Any = model.config
    embedding = sum(
        p.numel()
        for n, p in model.named_parameters()
        if "embeddings" in n or "wte" in n or "wpe" in n
    )
    dense = sum(p.numel() for p in model.parameters()) - embedding
    return float(
        2 * dense * length + 4 * config.num_hidden_layers * length * length * config.hidden_size
    )


def rate_on_gpus(
    snapshot: Path, out: Path, args: argparse.Namespace, gpus: int, batch_size: int
) -> float:
    """Training pairs/s of ``python -m reward.train --nproc GPUS`` at global ``batch_size``."""
    config = TrainConfig(
        snapshot=str(snapshot),
        out=str(out),
        base_model=args.base_model,
        batch_size=batch_size,
        max_length=args.max_length,
        eval_fraction=0.0,
        precision=args.precision,
        progress_bar=False,
        nproc=gpus,
    )
    command = [sys.executable, "-m", "reward.train", *config.to_args()]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    subprocess.run(command, check=True, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    return float(json.loads((out / METRICS_FILE).read_text())["pairs_per_second"])


def multi_gpu(args: argparse.Namespace) -> dict[str, Any]:
    """N GPUs against one, at the same global batch and at the same batch per GPU."""
    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    gpus = args.gpus or visible
    if args.device not in ("auto", "cuda") or gpus < 2 or gpus > visible:
        return {"skipped": f"{visible} GPU(s) visible, {gpus} asked: the case needs 2 or more"}
    batch = args.batch_size
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pairs = (args.steps + args.warmup) * batch * gpus
        snapshot = synthetic_snapshot(work / "snapshot", pairs, args)
        one = rate_on_gpus(snapshot, work / "one", args, 1, batch)
        same_global = rate_on_gpus(snapshot, work / "same-global", args, gpus, batch)
        per_gpu = rate_on_gpus(snapshot, work / "per-gpu", args, gpus, batch * gpus)
    return {
        "gpus": gpus,
        "pairs": pairs,
        "one_gpu_pairs_per_s": one,
        f"{gpus}_gpus_same_global_batch_pairs_per_s": same_global,
        f"{gpus}_gpus_same_batch_per_gpu_pairs_per_s": per_gpu,
        "speedup_same_global_batch": same_global / one,
        "speedup_same_batch_per_gpu": per_gpu / one,
        "scaling_efficiency_same_batch_per_gpu": per_gpu / one / gpus,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--base-model", default="default")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30, help="measured training steps")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--prompt-words", type=int, default=60)
    parser.add_argument("--response-words", type=int, default=150)
    parser.add_argument("--score-batch-size", type=int, default=64)
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--gpus", type=int, default=0, help="multi-GPU case: 0 = all visible")
    args = parser.parse_args()

    device = pick_device(args.device)
    precision = resolve_precision(args.precision, device)
    steps = args.steps + args.warmup
    pairs = steps * args.batch_size
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        snapshot = synthetic_snapshot(work / "snapshot", pairs, args)
        times: list[float] = []

        def on_step(progress: TrainProgress) -> None:
            if progress.eval is None:
                times.append(time.perf_counter())

        config = TrainConfig(
            snapshot=str(snapshot),
            out=str(work / "checkpoint"),
            base_model=args.base_model,
            batch_size=args.batch_size,
            max_length=args.max_length,
            eval_fraction=0.0,
            device=str(device),
            precision=precision,  # type: ignore[arg-type]
            progress_bar=False,
        )
        result = train(config, progress_callback=on_step)
        measured = times[args.warmup :] if len(times) > args.warmup + 1 else times
        train_rate = (len(measured) - 1) * args.batch_size / (measured[-1] - measured[0])

        scorer = RewardScorer.from_checkpoint(
            result.folder, device=str(device), precision=precision, batch_size=args.score_batch_size
        )
        rows = pl.read_parquet(snapshot / "pairs.parquet")
        prompts = rows["prompt"].to_list() * 2
        responses = rows["chosen"].to_list() + rows["rejected"].to_list()
        scorer.score(
            prompts[: args.score_batch_size], responses[: args.score_batch_size]
        )  # warm-up
        started = time.perf_counter()
        scorer.score(prompts, responses)
        score_rate = rows.height / (time.perf_counter() - started)

        lengths = [
            len(scorer.encoder.encode([("user", p)], r).input_ids)
            for p, r in zip(prompts, responses, strict=True)
        ]
        per_sequence = sum(forward_flops(scorer.model, n) for n in lengths) / len(lengths)
        pair_flops = 2 * per_sequence
    peak = args.peak_tflops or matmul_peak_tflops(device, precision)
    train_tflops = train_rate * 3 * pair_flops / 1e12
    score_tflops = score_rate * pair_flops / 1e12
    report = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else str(device),
        "precision": precision,
        "tf32": bool(torch.backends.cuda.matmul.allow_tf32) if device.type == "cuda" else None,
        "batch_size": args.batch_size,
        "mean_tokens_per_sequence": sum(lengths) / len(lengths),
        "gflop_per_training_pair": 3 * pair_flops / 1e9,
        "train_steps_measured": len(measured) - 1,
        "train_pairs_per_s": train_rate,
        "train_tflops": train_tflops,
        "score_pairs_per_s": score_rate,
        "score_tflops": score_tflops,
        "peak_tflops": peak,
        "peak_is": "datasheet (--peak-tflops)" if args.peak_tflops else "measured matmul",
        "train_mfu": train_tflops / peak,
        "score_mfu": score_tflops / peak,
        "multi_gpu": multi_gpu(args),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
