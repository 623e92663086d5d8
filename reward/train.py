"""Training a Bradley-Terry reward model on a snapshot: ``intentgap train``.

Chosen and rejected sides go through the model in one batch; the loss is
``reward.loss.preference_loss``. Batches are length-grouped and padded to their own longest
sequence; AdamW with linear warm-up and decay; gradient accumulation; seeded; evaluated on
the held-out prompts after every epoch; resumable from the state saved at each epoch's end
(or every ``save_every`` steps) and when stopped.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from reward import lora
from reward.checkpoint import (
    INFO_FILE,
    METRICS_FILE,
    SPLIT_FILE,
    STATE_FILE,
    CheckpointInfo,
    new_info,
    read_info,
)
from reward.config import TrainConfig
from reward.dataset import (
    PairCollator,
    PairExample,
    SequenceEncoder,
    encode_pairs,
    length_grouped_batches,
)
from reward.device import autocast, pick_device, resolve_precision, seed_everything
from reward.loss import preference_loss
from reward.model import (
    RewardModelError,
    load_model,
    offline_and_quiet,
    resolve_base,
    rewards,
    uses_token_types,
)
from reward.score import RewardScorer
from reward.snapshot import SnapshotError, load_snapshot, training_pairs

__all__ = ["TrainProgress", "TrainResult", "evaluate", "main", "train"]


@dataclass(frozen=True)
class TrainProgress:
    """What a running training reports after every optimizer step and evaluation."""

    step: int
    total_steps: int
    epoch: int
    epochs: int
    loss: float
    accuracy: float
    pairs_per_second: float
    #: Evaluation of the epoch just finished, when this report follows one.
    eval: dict[str, float] | None = None
    done: bool = False


@dataclass(frozen=True)
class TrainResult:
    folder: Path
    complete: bool
    metrics: dict[str, Any] = field(default_factory=dict)


ProgressCallback = Callable[[TrainProgress], None]


def evaluate(scorer: RewardScorer, examples: list[PairExample]) -> dict[str, float]:
    """Held-out loss, accuracy (non-tie pairs where chosen outscores rejected) and the mean
    reward margin ``r_c - r_r``."""
    if not examples:
        return {"n": 0}
    n = len(examples)
    scored = scorer.score_encoded([e.chosen for e in examples] + [e.rejected for e in examples])
    chosen, rejected = torch.tensor(scored[:n]), torch.tensor(scored[n:])
    target = torch.tensor([e.target for e in examples], dtype=torch.float64)
    margin = torch.tensor([e.margin for e in examples], dtype=torch.float64)
    loss = preference_loss(chosen, rejected, target, margin)
    decided = (target != 0.5).numpy()
    right = (chosen > rejected).numpy()[decided]
    return {
        "n": n,
        "loss": float(loss),
        "accuracy": float(right.mean()) if right.size else math.nan,
        "mean_margin": float((chosen - rejected).mean()),
    }


class _Run:
    """One training run's moving parts (kept together so ``train`` reads as the recipe)."""

    def __init__(self, config: TrainConfig, model: PreTrainedModel, steps: int) -> None:
        self.config = config
        self.model = model
        decay: list[torch.nn.Parameter] = []
        no_decay: list[torch.nn.Parameter] = []
        for name, parameter in model.named_parameters():
            if parameter.requires_grad:
                is_norm_or_bias = parameter.ndim < 2 or "norm" in name.lower()
                (no_decay if is_norm_or_bias else decay).append(parameter)
        self.optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": config.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=config.learning_rate,
        )
        warmup = math.ceil(steps * config.warmup_ratio)

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / (warmup + 1)
            return max(0.0, (steps - step) / max(1, steps - warmup))

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self.train_seconds = 0.0
        self.pairs_seen = 0
        # The epoch in progress (saved too, so a resumed epoch reports all of itself).
        self.losses: list[float] = []
        self.right = 0
        self.decided = 0

    @property
    def accuracy(self) -> float:
        """Share of this epoch's non-tie training pairs ranked right (before each update)."""
        return self.right / self.decided if self.decided else math.nan

    @property
    def rate(self) -> float:
        return self.pairs_seen / max(self.train_seconds, 1e-9)

    def optimizer_step(
        self,
        group: list[list[PairExample]],
        collator: PairCollator,
        device: torch.device,
        precision: str,
    ) -> None:
        """Accumulate the gradients of a group of micro-batches, then step once."""
        n_group = sum(len(examples) for examples in group)
        for examples in group:
            batch = {k: v.to(device) for k, v in collator(examples).items()}
            with autocast(device, precision):
                values = rewards(self.model, batch)
            n = len(examples)
            loss = preference_loss(
                values[:n],
                values[n:],
                batch["target"],
                batch["margin"],
                batch["weight"],
                self.config.center_rewards,
            )
            (loss * n / n_group).backward()  # type: ignore[no-untyped-call]
            self.losses.append(loss.item())
            is_decided = batch["target"] != 0.5
            self.right += int(((values[:n] > values[n:]) & is_decided).sum())
            self.decided += int(is_decided.sum())
        if self.config.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.pairs_seen += n_group

    def state(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "step": self.step,
            "history": self.history,
            "train_seconds": self.train_seconds,
            "pairs_seen": self.pairs_seen,
            "epoch": (self.losses, self.right, self.decided),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = int(state["step"])
        self.history = list(state["history"])
        self.train_seconds = float(state["train_seconds"])
        self.pairs_seen = int(state["pairs_seen"])
        self.losses, self.right, self.decided = state["epoch"]


def _check_out_folder(config: TrainConfig, snapshot_hash: str) -> CheckpointInfo | None:
    """The interrupted run to resume in ``out``, or None for a fresh start; refuses the rest."""
    out = Path(config.out)
    if not (out / INFO_FILE).is_file():
        if config.resume:
            raise ValueError(f"--resume: {out} holds no interrupted run")
        if out.is_dir() and any(out.iterdir()):
            raise FileExistsError(f"{out} already holds files; choose a new --out folder")
        return None
    info = read_info(out)
    if info.complete:
        raise FileExistsError(f"{out} already holds a finished reward model; choose a new --out")
    if not config.resume:
        raise FileExistsError(
            f"{out} holds an interrupted run: pass --resume to continue it, or a new --out"
        )
    if info.snapshot_hash != snapshot_hash:
        raise SnapshotError(
            Path(config.snapshot),
            f"content_hash {snapshot_hash[:12]}... is not the snapshot the run in {out} "
            f"started on ({info.snapshot_hash[:12]}...); resume with that snapshot",
        )
    changed = [
        name
        for name, value in config.to_dict().items()
        if name not in TrainConfig.RUN_ONLY and info.config.to_dict()[name] != value
    ]
    if changed:
        raise ValueError(f"--resume with different settings ({', '.join(changed)}) than {out}")
    return info


def _model_window(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, wanted: int) -> int:
    limits = [wanted, getattr(model.config, "max_position_embeddings", None)]
    if tokenizer.model_max_length < 1_000_000:  # "no limit" is a huge number
        limits.append(tokenizer.model_max_length)
    return min(int(limit) for limit in limits if limit)


def train(
    config: TrainConfig,
    *,
    progress_callback: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> TrainResult:
    """Train (or resume) the run ``config`` describes and write its checkpoint folder.

    ``progress_callback`` receives a ``TrainProgress`` after every optimizer step and every
    evaluation (the training page polls the latest one). Setting ``stop`` ends the run after
    the current step, with its state saved so ``--resume`` continues it exactly.
    """
    seed_everything(config.seed)
    out = Path(config.out)
    snapshot = load_snapshot(config.snapshot)
    resumed = _check_out_folder(config, snapshot.content_hash)
    pairs = training_pairs(snapshot, config)
    if config.lora_r < 0:
        raise ValueError(f"lora_r must be 0 (off) or a positive rank, not {config.lora_r}")
    # A LoRA run keeps its base where it was read; only its adapters sit in ``out``.
    model, tokenizer = load_model(
        out if resumed and not config.lora_r else resolve_base(config.base_model),
        disable_dropout=config.disable_dropout,
    )
    if config.lora_r and resumed:
        model = lora.load_adapters(model, out)
    elif config.lora_r:
        model = lora.add_adapters(model, config)
    encoder = SequenceEncoder(
        tokenizer, _model_window(model, tokenizer, config.max_length), config.format
    )
    train_examples, truncation = encode_pairs(pairs.filter(~pairs["is_eval"]), encoder)
    eval_examples, eval_truncation = encode_pairs(pairs.filter(pairs["is_eval"]), encoder)
    if not train_examples:
        raise ValueError(f"eval_fraction {config.eval_fraction} leaves no pairs to train on")
    device = pick_device(config.device)
    precision = resolve_precision(config.precision, device)
    model.to(device)  # type: ignore[arg-type]  # transformers types .to() oddly
    scorer = RewardScorer(model, tokenizer, encoder, device, precision, config.eval_batch_size)
    collator = PairCollator(
        int(tokenizer.pad_token_id),
        pad_to_multiple_of=8 if device.type == "cuda" else None,
        token_types=uses_token_types(model),
    )
    lengths = [example.length for example in train_examples]
    n_batches = math.ceil(len(train_examples) / config.batch_size)
    steps_per_epoch = math.ceil(n_batches / config.grad_accum)
    run = _Run(config, model, steps_per_epoch * config.epochs)
    info = resumed or new_info(
        out, config, snapshot.content_hash, encoder.format, encoder.max_length
    )
    if resumed:
        run.restore(torch.load(out / STATE_FILE, weights_only=False))
    else:
        pairs.select("pair_id", "is_eval").write_parquet(_mkdir(out) / SPLIT_FILE)
    info = dataclasses.replace(info, config=config)

    def report(progress: TrainProgress) -> None:
        if progress_callback is not None:
            progress_callback(progress)

    bar = tqdm(
        total=steps_per_epoch * config.epochs,
        initial=run.step,
        desc="train",
        disable=not config.progress_bar,
    )
    model.train()
    stopped = False
    for epoch in range(run.step // steps_per_epoch, config.epochs):
        batches = length_grouped_batches(
            lengths,
            config.batch_size,
            seed=config.seed + epoch,
            group_by_length=config.group_by_length,
        )
        skip = (run.step - epoch * steps_per_epoch) * config.grad_accum
        groups = [
            batches[i : i + config.grad_accum] for i in range(skip, len(batches), config.grad_accum)
        ]
        if skip == 0:
            run.losses, run.right, run.decided = [], 0, 0
        for position, group in enumerate(groups, start=1):
            started = time.perf_counter()
            run.optimizer_step(
                [[train_examples[i] for i in indices] for indices in group],
                collator,
                device,
                precision,
            )
            run.train_seconds += time.perf_counter() - started
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(run.losses[-20:]):.4f}", acc=f"{run.accuracy:.3f}")
            report(
                TrainProgress(
                    run.step,
                    bar.total,
                    epoch + 1,
                    config.epochs,
                    run.losses[-1],
                    run.accuracy,
                    run.rate,
                )
            )
            # A stop on an epoch's last step still lets that epoch be evaluated.
            if stop is not None and stop.is_set() and position < len(groups):
                stopped = True
                break
            if config.save_every and run.step % config.save_every == 0:
                _save_state(run, info, model, tokenizer)
        if stopped:
            break
        metrics = {
            "epoch": epoch + 1,
            "train_loss": float(np.mean(run.losses)) if run.losses else math.nan,
        }
        metrics.update({f"eval_{k}": v for k, v in evaluate(scorer, eval_examples).items()})
        model.train()
        run.history.append(metrics)
        report(
            TrainProgress(
                run.step,
                bar.total,
                epoch + 1,
                config.epochs,
                metrics["train_loss"],
                math.nan,
                run.rate,
                eval=metrics,
            )
        )
        if stop is not None and stop.is_set() and epoch + 1 < config.epochs:
            stopped = True
            break
        if epoch + 1 < config.epochs:
            _save_state(run, info, model, tokenizer)
    bar.close()
    summary: dict[str, Any] = {
        "epochs": run.history,
        "n_train": len(train_examples),
        "n_eval": len(eval_examples),
        "truncation": {"train": truncation.as_dict(), "eval": eval_truncation.as_dict()},
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "device": str(device),
        "precision": precision,
        "train_seconds": run.train_seconds,
        "pairs_per_second": run.pairs_seen / max(run.train_seconds, 1e-9),
    }
    if stopped:
        _save_state(run, info, model, tokenizer)
        return TrainResult(out, False, summary)
    if config.lora_r:
        model = lora.merge_adapters(model)
        shutil.rmtree(out / lora.ADAPTER_FOLDER, ignore_errors=True)
    _save_model(dataclasses.replace(info, complete=True), model, tokenizer)
    (out / METRICS_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / STATE_FILE).unlink(missing_ok=True)
    last = run.history[-1] if run.history else {}
    report(
        TrainProgress(
            run.step,
            bar.total,
            config.epochs,
            config.epochs,
            float(last.get("train_loss", math.nan)),
            math.nan,
            summary["pairs_per_second"],
            eval=last,
            done=True,
        )
    )
    return TrainResult(out, True, summary)


def _mkdir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _save_model(
    info: CheckpointInfo, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase
) -> None:
    with offline_and_quiet():
        model.save_pretrained(_mkdir(info.folder))
        tokenizer.save_pretrained(info.folder)
    info.write()


def _save_state(
    run: _Run, info: CheckpointInfo, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase
) -> None:
    """Everything ``--resume`` needs, written before the info that points to it."""
    incomplete = dataclasses.replace(info, complete=False)
    if info.config.lora_r:  # the adapters alone: the base is read again from where it was
        lora.save_adapters(model, _mkdir(info.folder))
        incomplete.write()
    else:
        _save_model(incomplete, model, tokenizer)
    torch.save(run.state(), info.folder / STATE_FILE)


def main(argv: list[str] | None = None) -> int:
    """``intentgap train SNAPSHOT --out DIR [--base-model default|PATH] ...``."""
    config = TrainConfig.from_args(argv)
    try:
        result = train(config)
    except (SnapshotError, RewardModelError, FileExistsError, ValueError) as error:
        print(f"intentgap train: {error}", file=sys.stderr)
        return 2
    last = result.metrics["epochs"][-1] if result.metrics["epochs"] else {}
    truncated = result.metrics["truncation"]["train"]
    print(
        f"reward model -> {result.folder}\n"
        f"  pairs: {result.metrics['n_train']} train, {result.metrics['n_eval']} held out; "
        f"held-out accuracy {last.get('eval_accuracy', float('nan')):.3f}\n"
        f"  truncated: {truncated['sequences_with_turns_dropped']} prompts lost old turns, "
        f"{truncated['prompts_cut']} prompts and {truncated['responses_cut']} responses were "
        f"cut (of {truncated['sequences']} sequences)\n"
        f"  {result.metrics['pairs_per_second']:.2f} pairs/s on {result.metrics['device']} "
        f"({result.metrics['precision']})"
    )
    return 0
