"""Training a Bradley-Terry reward model on a snapshot: ``intentgap train``.

Chosen and rejected sides go through the model in one batch; the loss is
``reward.loss.preference_loss``. Batches are length-grouped and padded to their own longest
sequence; AdamW with linear warm-up and decay; gradient accumulation; seeded; evaluated on
the held-out prompts after every epoch; resumable from the state saved at each epoch's end
(or every ``save_every`` steps) and when stopped.

On several processes (``torchrun``, ``accelerate launch`` or ``--nproc``; see
``reward.distributed``) every process takes its share of each global batch and the update is
the one a single process makes on the same batches; rank 0 writes the checkpoint.
"""

from __future__ import annotations

import contextlib
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
from typing import Any, cast

import numpy as np
import polars as pl
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
    TruncationCounts,
    encode_pairs,
    length_grouped_batches,
    rank_share,
)
from reward.device import autocast, resolve_precision, seed_everything
from reward.distributed import (
    Ranks,
    any_rank,
    barrier,
    gather_shares,
    launch,
    launched,
    process_device,
    process_group,
    ranks_from_env,
    share_loss,
    sum_over_ranks,
    wrap,
)
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


def _score_sides(scorer: RewardScorer, examples: list[PairExample]) -> np.ndarray:
    """Rewards of the chosen (row 0) and rejected (row 1) side of every pair."""
    scored = scorer.score_encoded([e.chosen for e in examples] + [e.rejected for e in examples])
    return scored.reshape(2, len(examples))


def evaluate(
    scorer: RewardScorer, examples: list[PairExample], ranks: Ranks | None = None
) -> dict[str, float]:
    """Held-out loss, accuracy (non-tie pairs where chosen outscores rejected) and the mean
    reward margin ``r_c - r_r``. With ``ranks`` of several processes each scores its share
    and every process gets the metrics of all the pairs."""
    if not examples:
        return {"n": 0}
    n = len(examples)
    if ranks is not None and ranks.several:
        share = rank_share(examples, ranks.rank, ranks.world)
        scored = gather_shares(_score_sides(scorer, share), n, ranks)
    else:
        scored = _score_sides(scorer, examples)
    chosen, rejected = torch.tensor(scored[0]), torch.tensor(scored[1])
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

    def __init__(
        self,
        config: TrainConfig,
        model: PreTrainedModel,
        steps: int,
        ranks: Ranks,
        device: torch.device,
    ) -> None:
        self.config = config
        self.model = model
        self.ranks = ranks
        #: On several processes, what the training forward pass goes through.
        self.ddp = wrap(model, device) if ranks.several else None
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
        self._update(n_group)

    def sharded_optimizer_step(
        self,
        group: list[list[PairExample]],
        collator: PairCollator,
        device: torch.device,
        precision: str,
    ) -> None:
        """``optimizer_step`` on several processes, each running this same global group: every
        micro-batch on the process's ``rank_share``, with its part of the micro-batch's loss,
        so the averaged gradient and the reported loss are those of one process."""
        assert self.ddp is not None
        ddp, ranks = self.ddp, self.ranks
        n_group = sum(len(examples) for examples in group)
        # Each micro-batch's loss, then pairs ranked right and pairs decided: this process's
        # parts, summed over the processes after the group.
        tally = torch.zeros(len(group) + 2, dtype=torch.float64, device=device)
        for position, examples in enumerate(group):
            share = rank_share(examples, ranks.rank, ranks.world)
            # A micro-batch smaller than the world leaves some processes without pairs: they
            # run its first pair with no weight, since DDP needs every process's backward.
            run_on = share or examples[:1]
            batch = {k: v.to(device) for k, v in collator(run_on).items()}
            last = position == len(group) - 1
            # The gradients are all-reduced once, in the backward pass of the last micro-batch.
            with contextlib.nullcontext() if last else ddp.no_sync():
                with autocast(device, precision):
                    values = rewards(cast(PreTrainedModel, ddp), batch)  # DDP calls the model
                n = len(run_on)
                loss = share_loss(
                    values[:n],
                    values[n:],
                    batch,
                    batch_weight=sum(e.weight for e in examples),
                    batch_pairs=len(examples),
                    center_rewards=self.config.center_rewards,
                )
                # x world: DDP averages the processes' gradients, and the parts must add up.
                scale = len(examples) / n_group * ranks.world if share else 0.0
                (loss * scale).backward()  # type: ignore[no-untyped-call]
            if share:
                is_decided = batch["target"] != 0.5
                tally[position] = loss.detach()
                tally[-2] += ((values[:n] > values[n:]) & is_decided).sum()
                tally[-1] += is_decided.sum()
        sum_over_ranks(tally)
        self.losses.extend(tally[:-2].tolist())
        self.right += int(tally[-2])
        self.decided += int(tally[-1])
        self._update(n_group)

    def _update(self, n_group: int) -> None:
        """Clip, step and schedule once the group's gradients are in."""
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


@dataclass(frozen=True)
class _Setup:
    """What a run trains and evaluates with, built once before its first step."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    encoder: SequenceEncoder
    train_examples: list[PairExample]
    eval_examples: list[PairExample]
    train_truncation: TruncationCounts
    eval_truncation: TruncationCounts
    device: torch.device
    precision: str
    scorer: RewardScorer
    collator: PairCollator
    #: Token length of each training example, for length-grouped batches.
    lengths: list[int]


class _Progress:
    """Where a run reports: the terminal's progress bar and the caller's callback."""

    def __init__(
        self,
        config: TrainConfig,
        total_steps: int,
        done_steps: int,
        callback: ProgressCallback | None,
        *,
        show_bar: bool = True,
    ) -> None:
        self.epochs = config.epochs
        self.total_steps = total_steps
        self.callback = callback
        self.bar = tqdm(
            total=total_steps,
            initial=done_steps,
            desc="train",
            disable=not (config.progress_bar and show_bar),
        )

    def report(self, progress: TrainProgress) -> None:
        if self.callback is not None:
            self.callback(progress)

    def stepped(self, run: _Run, epoch: int) -> None:
        """After each optimizer step of ``epoch`` (counted from 0)."""
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{np.mean(run.losses[-20:]):.4f}", acc=f"{run.accuracy:.3f}")
        self.report(
            TrainProgress(
                run.step,
                self.total_steps,
                epoch + 1,
                self.epochs,
                run.losses[-1],
                run.accuracy,
                run.rate,
            )
        )

    def evaluated(self, run: _Run, epoch: int, metrics: dict[str, float]) -> None:
        """After the evaluation that ends ``epoch`` (counted from 0)."""
        self.report(
            TrainProgress(
                run.step,
                self.total_steps,
                epoch + 1,
                self.epochs,
                metrics["train_loss"],
                math.nan,
                run.rate,
                eval=metrics,
            )
        )

    def finished(self, run: _Run, summary: dict[str, Any]) -> None:
        """Once the finished model is written."""
        last = run.history[-1] if run.history else {}
        self.report(
            TrainProgress(
                run.step,
                self.total_steps,
                self.epochs,
                self.epochs,
                float(last.get("train_loss", math.nan)),
                math.nan,
                summary["pairs_per_second"],
                eval=last,
                done=True,
            )
        )

    def close(self) -> None:
        self.bar.close()


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

    In a process a launcher started (torchrun, accelerate launch) every process calls this:
    they train together, rank 0 alone writes ``out`` and reports progress (to its callback
    and its progress bar), and a stop set on any process stops them all.
    """
    ranks = ranks_from_env()
    device = process_device(config.device, ranks)
    with process_group(ranks, device):
        return _train(config, ranks, device, progress_callback if ranks.is_main else None, stop)


def _train(
    config: TrainConfig,
    ranks: Ranks,
    device: torch.device,
    progress_callback: ProgressCallback | None,
    stop: threading.Event | None,
) -> TrainResult:
    seed_everything(config.seed)  # the same on every process: the same split, batches, head
    out = Path(config.out)
    snapshot = load_snapshot(config.snapshot)
    resumed = _check_out_folder(config, snapshot.content_hash)
    barrier(ranks)  # every process has looked at ``out`` before rank 0 writes into it
    pairs = training_pairs(snapshot, config)
    setup = _set_up(config, pairs, resumed, device)
    steps_per_epoch = _steps_per_epoch(config, len(setup.train_examples))
    run = _Run(config, setup.model, steps_per_epoch * config.epochs, ranks, device)
    info = _start_or_resume(run, pairs, snapshot.content_hash, setup.encoder, resumed)
    progress = _Progress(
        config,
        steps_per_epoch * config.epochs,
        run.step,
        progress_callback,
        show_bar=ranks.is_main,
    )
    stopped = _train_epochs(run, setup, info, steps_per_epoch, progress, stop)
    progress.close()
    summary = _summary(run, setup)
    if stopped:
        _save_state(run, info, setup.model, setup.tokenizer)
        return TrainResult(out, False, summary)
    _save_finished(run, info, setup, summary)
    progress.finished(run, summary)
    return TrainResult(out, True, summary)


# -- setup -----------------------------------------------------------------------------------


def _load_model(
    config: TrainConfig, resumed: CheckpointInfo | None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The model to train: the base (or the interrupted run's weights), with LoRA adapters
    (new, or the interrupted run's) when ``lora_r`` asks for them."""
    if config.lora_r < 0:
        raise ValueError(f"lora_r must be 0 (off) or a positive rank, not {config.lora_r}")
    out = Path(config.out)
    # A LoRA run keeps its base where it was read; only its adapters sit in ``out``.
    model, tokenizer = load_model(
        out if resumed and not config.lora_r else resolve_base(config.base_model),
        disable_dropout=config.disable_dropout,
    )
    if config.lora_r and resumed:
        model = lora.load_adapters(model, out)
    elif config.lora_r:
        model = lora.add_adapters(model, config)
    return model, tokenizer


def _set_up(
    config: TrainConfig,
    pairs: pl.DataFrame,
    resumed: CheckpointInfo | None,
    device: torch.device,
) -> _Setup:
    """Load the model, encode the training and held-out pairs, and place both on ``device``."""
    model, tokenizer = _load_model(config, resumed)
    encoder = SequenceEncoder(
        tokenizer, _model_window(model, tokenizer, config.max_length), config.format
    )
    train_examples, train_truncation = encode_pairs(pairs.filter(~pairs["is_eval"]), encoder)
    eval_examples, eval_truncation = encode_pairs(pairs.filter(pairs["is_eval"]), encoder)
    if not train_examples:
        raise ValueError(f"eval_fraction {config.eval_fraction} leaves no pairs to train on")
    precision = resolve_precision(config.precision, device)
    model.to(device)  # type: ignore[arg-type]  # transformers types .to() oddly
    return _Setup(
        model=model,
        tokenizer=tokenizer,
        encoder=encoder,
        train_examples=train_examples,
        eval_examples=eval_examples,
        train_truncation=train_truncation,
        eval_truncation=eval_truncation,
        device=device,
        precision=precision,
        scorer=RewardScorer(model, tokenizer, encoder, device, precision, config.eval_batch_size),
        collator=PairCollator(
            int(tokenizer.pad_token_id),
            pad_to_multiple_of=8 if device.type == "cuda" else None,
            token_types=uses_token_types(model),
        ),
        lengths=[example.length for example in train_examples],
    )


def _steps_per_epoch(config: TrainConfig, n_train: int) -> int:
    """Optimizer steps in one epoch: batches of ``batch_size``, ``grad_accum`` per step."""
    n_batches = math.ceil(n_train / config.batch_size)
    return math.ceil(n_batches / config.grad_accum)


# -- checkpointing and resume ----------------------------------------------------------------


def _start_or_resume(
    run: _Run,
    pairs: pl.DataFrame,
    snapshot_hash: str,
    encoder: SequenceEncoder,
    resumed: CheckpointInfo | None,
) -> CheckpointInfo:
    """The description of this run's checkpoint; an interrupted run's saved state is
    restored into ``run``, a new run's train/held-out split is written to ``out``."""
    config = run.config
    out = Path(config.out)
    info = resumed or new_info(out, config, snapshot_hash, encoder.format, encoder.max_length)
    if resumed:
        # Loaded on the CPU: the optimizer moves its state to each process's own device.
        run.restore(torch.load(out / STATE_FILE, map_location="cpu", weights_only=False))
    elif run.ranks.is_main:
        pairs.select("pair_id", "is_eval").write_parquet(_mkdir(out) / SPLIT_FILE)
    return dataclasses.replace(info, config=config)


def _save_finished(run: _Run, info: CheckpointInfo, setup: _Setup, summary: dict[str, Any]) -> None:
    """Write the finished reward model (LoRA adapters merged into it) and its metrics, and
    drop what only a resume needed (rank 0 writes; the others wait until it has)."""
    if run.ranks.is_main:
        _write_finished(info, setup, summary)
    barrier(run.ranks)


def _write_finished(info: CheckpointInfo, setup: _Setup, summary: dict[str, Any]) -> None:
    out = Path(info.config.out)
    model = setup.model
    if info.config.lora_r:
        model = lora.merge_adapters(model)
        shutil.rmtree(out / lora.ADAPTER_FOLDER, ignore_errors=True)
    _save_model(dataclasses.replace(info, complete=True), model, setup.tokenizer)
    (out / METRICS_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / STATE_FILE).unlink(missing_ok=True)


# -- the loop --------------------------------------------------------------------------------


def _train_epochs(
    run: _Run,
    setup: _Setup,
    info: CheckpointInfo,
    steps_per_epoch: int,
    progress: _Progress,
    stop: threading.Event | None,
) -> bool:
    """Every epoch left to run, each evaluated at its end and (all but the last) saved for
    ``--resume``. True when ``stop`` ended the run early."""
    config = run.config
    setup.model.train()
    for epoch in range(run.step // steps_per_epoch, config.epochs):
        if _train_epoch(run, setup, info, epoch, steps_per_epoch, progress, stop):
            return True
        progress.evaluated(run, epoch, _evaluate_epoch(run, setup, epoch))
        if epoch + 1 < config.epochs:
            if _stop_requested(run, setup, stop):
                return True
            _save_state(run, info, setup.model, setup.tokenizer)
    return False


def _train_epoch(
    run: _Run,
    setup: _Setup,
    info: CheckpointInfo,
    epoch: int,
    steps_per_epoch: int,
    progress: _Progress,
    stop: threading.Event | None,
) -> bool:
    """The optimizer steps of ``epoch`` (those a resumed run has not taken yet). True when
    ``stop`` ended it before its last step."""
    config = run.config
    batches = length_grouped_batches(
        setup.lengths,
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
        _timed_step(run, setup, group)
        progress.stepped(run, epoch)
        # A stop on an epoch's last step still lets that epoch be evaluated.
        if _stop_requested(run, setup, stop) and position < len(groups):
            return True
        if config.save_every and run.step % config.save_every == 0:
            _save_state(run, info, setup.model, setup.tokenizer)
    return False


def _timed_step(run: _Run, setup: _Setup, group: list[list[int]]) -> None:
    """One optimizer step over a group of micro-batches (example indices), timed."""
    started = time.perf_counter()
    step = run.sharded_optimizer_step if run.ranks.several else run.optimizer_step
    step(
        [[setup.train_examples[i] for i in indices] for indices in group],
        setup.collator,
        setup.device,
        setup.precision,
    )
    run.train_seconds += time.perf_counter() - started


def _stop_requested(run: _Run, setup: _Setup, stop: threading.Event | None) -> bool:
    """Whether ``stop`` is set, on this process or (on several) any of them."""
    return any_rank(stop is not None and stop.is_set(), run.ranks, setup.device)


# -- evaluation ------------------------------------------------------------------------------


def _evaluate_epoch(run: _Run, setup: _Setup, epoch: int) -> dict[str, float]:
    """The metrics that close ``epoch``: its mean training loss and the held-out evaluation,
    added to the run's history."""
    metrics: dict[str, float] = {
        "epoch": epoch + 1,
        "train_loss": float(np.mean(run.losses)) if run.losses else math.nan,
    }
    held_out = evaluate(setup.scorer, setup.eval_examples, run.ranks)
    metrics.update({f"eval_{k}": v for k, v in held_out.items()})
    setup.model.train()
    run.history.append(metrics)
    return metrics


def _summary(run: _Run, setup: _Setup) -> dict[str, Any]:
    """What ``metrics.json`` records about the whole run."""
    return {
        "epochs": run.history,
        "n_train": len(setup.train_examples),
        "n_eval": len(setup.eval_examples),
        "truncation": {
            "train": setup.train_truncation.as_dict(),
            "eval": setup.eval_truncation.as_dict(),
        },
        "trainable_parameters": sum(p.numel() for p in setup.model.parameters() if p.requires_grad),
        "device": str(setup.device),
        "processes": run.ranks.world,
        "precision": setup.precision,
        "train_seconds": run.train_seconds,
        "pairs_per_second": run.pairs_seen / max(run.train_seconds, 1e-9),
    }


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
    """Everything ``--resume`` needs, written before the info that points to it (by rank 0;
    the others wait until it is written)."""
    if run.ranks.is_main:
        _write_state(run, info, model, tokenizer)
    barrier(run.ranks)


def _write_state(
    run: _Run, info: CheckpointInfo, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase
) -> None:
    incomplete = dataclasses.replace(info, complete=False)
    if info.config.lora_r:  # the adapters alone: the base is read again from where it was
        lora.save_adapters(model, _mkdir(info.folder))
        incomplete.write()
    else:
        _save_model(incomplete, model, tokenizer)
    torch.save(run.state(), info.folder / STATE_FILE)


def main(argv: list[str] | None = None) -> int:
    """``intentgap train SNAPSHOT --out DIR [--base-model default|PATH] [--nproc N] ...``."""
    config = TrainConfig.from_args(argv)
    try:
        if config.nproc != 1 and not launched():
            return _launch(config)
        result = train(config)
    except (SnapshotError, RewardModelError, FileExistsError, ValueError) as error:
        print(f"intentgap train: {error}", file=sys.stderr)
        return 2
    if not ranks_from_env().is_main:
        return 0  # rank 0 tells the run's story
    last = result.metrics["epochs"][-1] if result.metrics["epochs"] else {}
    truncated = result.metrics["truncation"]["train"]
    processes = result.metrics["processes"]
    print(
        f"reward model -> {result.folder}\n"
        f"  pairs: {result.metrics['n_train']} train, {result.metrics['n_eval']} held out; "
        f"held-out accuracy {last.get('eval_accuracy', float('nan')):.3f}\n"
        f"  truncated: {truncated['sequences_with_turns_dropped']} prompts lost old turns, "
        f"{truncated['prompts_cut']} prompts and {truncated['responses_cut']} responses were "
        f"cut (of {truncated['sequences']} sequences)\n"
        f"  {result.metrics['pairs_per_second']:.2f} pairs/s on {result.metrics['device']} "
        f"({result.metrics['precision']})" + (f", {processes} processes" if processes > 1 else "")
    )
    return 0


def _launch(config: TrainConfig) -> int:
    """``--nproc N``: refuse here, once, what every process would refuse, then train on N
    processes of this machine (``python -m reward.train`` under torchrun, same settings)."""
    if config.nproc < 1:
        raise ValueError(f"nproc must be at least 1, not {config.nproc}")
    _check_out_folder(config, load_snapshot(config.snapshot).content_hash)
    # Not the caller's flags: torchrun would take --nproc for its own --nproc-per-node.
    return launch("reward.train", config.nproc, config.to_args(leave_out={"nproc"}))


if __name__ == "__main__":  # how --nproc's torchrun starts each process
    raise SystemExit(main())
