"""Training on several processes: one per GPU (NCCL), or several on the CPU (gloo).

A launcher starts the processes and tells each one its place through the environment:
``torchrun --nproc-per-node N`` and ``accelerate launch`` both set ``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``; ``intentgap train --nproc N`` runs
torchrun itself. Every process builds the same global batches from the same seed and takes
its share of each (``reward.dataset.rank_share``), and its part of the global batch's loss
(``share_loss``) times the number of processes, as DDP averages the gradients: the update is
the one-process update of the same global batch. Rank 0 alone writes the checkpoint and
reports progress; evaluation is shared out and gathered.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from reward.device import pick_device
from reward.loss import preference_loss

__all__ = [
    "Ranks",
    "any_rank",
    "barrier",
    "gather_shares",
    "launch",
    "launched",
    "process_device",
    "process_group",
    "ranks_from_env",
    "share_loss",
    "sum_over_ranks",
    "wrap",
]


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes (alone: rank 0 of 1)."""

    rank: int = 0
    world: int = 1
    #: The rank among the processes on this machine: which GPU is this process's.
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """The process that writes the checkpoint and reports progress."""
        return self.rank == 0

    @property
    def several(self) -> bool:
        return self.world > 1


def launched() -> bool:
    """True in a process that a launcher started (torchrun and accelerate set WORLD_SIZE)."""
    return "WORLD_SIZE" in os.environ


def ranks_from_env() -> Ranks:
    """This process's place: from the process group when one is joined, else from the
    launcher's environment, else alone."""
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if dist.is_available() and dist.is_initialized():
        return Ranks(dist.get_rank(), dist.get_world_size(), local_rank)
    return Ranks(
        int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")), local_rank
    )


def process_device(preference: str, ranks: Ranks) -> torch.device:
    """``pick_device``, with each process of a machine on its own GPU (``cuda:LOCAL_RANK``)
    when there are several; a device named with its index is taken as given."""
    device = pick_device(preference)
    if ranks.several and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", ranks.local_rank)
    return device


@contextlib.contextmanager
def process_group(ranks: Ranks, device: torch.device) -> Iterator[None]:
    """Join the launcher's process group for the run (NCCL on CUDA, gloo elsewhere) and leave
    it at the end. Nothing to do for one process, or when the caller has joined one already
    (the caller then leaves it too)."""
    if not ranks.several or dist.is_initialized():
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)  # NCCL's collectives and all_gather_object use it
        dist.init_process_group("nccl", device_id=device)
    else:
        dist.init_process_group("gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def wrap(model: torch.nn.Module, device: torch.device) -> DistributedDataParallel:
    """The model's DDP wrapper, for the training forward pass of several processes: it starts
    every process from rank 0's weights and averages the gradients during the backward pass
    (on the CPU and on ``device``'s GPU alike)."""
    return DistributedDataParallel(
        model,
        device_ids=[device.index] if device.type == "cuda" else None,
        # The models' buffers (position ids and the like) never change: nothing to resend
        # before each forward pass (they are synced once, at the start).
        forward_sync_buffers=False,
    )


def share_loss(
    rewards_chosen: torch.Tensor,
    rewards_rejected: torch.Tensor,
    batch: dict[str, torch.Tensor],
    *,
    batch_weight: float,
    batch_pairs: int,
    center_rewards: float = 0.0,
) -> torch.Tensor:
    """This process's part of the preference loss of a global micro-batch: its pairs' terms
    over the whole micro-batch's normalisers (the sum of its weights, its number of pairs), so
    the parts of all processes add up to ``preference_loss`` of the whole micro-batch, however
    unevenly the pairs and their weights fall."""
    weight = batch["weight"]
    share_weight = float(weight.sum())
    # Zero, yet through every reward, so the graph reaches every weight as DDP expects.
    loss = (rewards_chosen.sum() + rewards_rejected.sum()) * 0.0
    if share_weight > 0:  # a share of zero-weight pairs adds nothing (its own mean is 0/0)
        fit = preference_loss(
            rewards_chosen, rewards_rejected, batch["target"], batch["margin"], weight
        )
        loss = loss + fit * (share_weight / batch_weight)
    if center_rewards:  # preference_loss's centring term, over the micro-batch's pairs
        centring = (rewards_chosen + rewards_rejected).pow(2).sum() / batch_pairs
        loss = loss + center_rewards * centring
    return loss


def sum_over_ranks(values: torch.Tensor) -> torch.Tensor:
    """``values`` summed element-wise over every process (in place, and returned)."""
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def any_rank(flag: bool, ranks: Ranks, device: torch.device) -> bool:
    """True on every process when ``flag`` is true on any (a stop asked of one is a stop of
    all: the others would wait for it forever)."""
    if not ranks.several:
        return flag
    return bool(sum_over_ranks(torch.tensor([float(flag)], device=device)).item() > 0)


def barrier(ranks: Ranks) -> None:
    """Wait until every process gets here (nothing to wait for alone)."""
    if ranks.several:
        dist.barrier()


def gather_shares(share: np.ndarray, total: int, ranks: Ranks) -> np.ndarray:
    """The whole of what the processes computed on their ``rank_share`` of ``total`` items
    (the share's last axis), in the items' order, on every process."""
    if not ranks.several:
        return share
    parts: list[np.ndarray | None] = [None] * ranks.world
    dist.all_gather_object(parts, share)
    whole = np.empty((*share.shape[:-1], total), dtype=share.dtype)
    for rank, part in enumerate(parts):
        whole[..., rank :: ranks.world] = part
    return whole


def launch(module: str, nproc: int, argv: Sequence[str]) -> int:
    """Run ``python -m MODULE ARGV`` on ``nproc`` processes of this machine through torchrun
    (a free port of its own, OMP_NUM_THREADS=1 per process unless set); its exit code."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        module,
        *argv,
    ]
    return subprocess.run(command, check=False).returncode
