"""Simulated pools whose raters are probed with flattery and padding, and tiny reward models
trained on their votes (``labeling.simulate``, ``labeling.rater_probes``, the real exporter
and ``reward.train``): the ground truth of the edit-by-edit tests.

Six raters, three votes per pair. In the flattery-prone pool ``PRONE`` raters pick the
flattered side of a flattery probe pair 90% of the time whatever it says; in the unbiased pool
nobody does. Probe pairs (flattery and length) are made from the pairs with an intended
answer and voted on by the same pool. The simulator sways raters on probe pairs only, so the
snapshot is exported with its probe pairs in the preference set (``with_probes``, ties as
soft labels): that is how a pool's pull reaches a model, here as in a real set where the
flattered answers win. The flattered response wins most flattery probe pairs in the
flattery-prone pool, and none in the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
import torch
from transformers import AutoTokenizer

from labeling.preference_set import ExportOptions
from labeling.rater_probes import make_probe_pairs
from labeling.simulate import RaterProfile, simulate_pairs, simulate_votes
from reward.config import TrainConfig
from reward.model import default_base_path
from reward.train import train
from tests.reward.conftest import save_tiny_bert, snapshot_of

RATERS = ("r1", "r2", "r3", "r4", "r5", "r6")
#: The flattery-prone raters of the flattery-prone pool.
PRONE = ("r1", "r2", "r3", "r4")
KINDS = ("flattery", "length")
N_PAIRS = 120
SEED = 3


@dataclass(frozen=True)
class Pool:
    """A simulated pool: its pairs (probe pairs marked) and votes, the snapshot written from
    them, and tiny models trained on it (``all``: every vote; ``without``: without ``PRONE``,
    only in the flattery-prone pool)."""

    pairs: pl.DataFrame
    votes: pl.DataFrame
    snapshot: Path
    checkpoints: dict[str, Path]


def simulated_pool(flattery: float, seed: int = SEED) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pairs and votes: ``PRONE`` raters swayed by flattery with chance ``flattery``."""
    raters = [
        RaterProfile(
            rater,
            skill=0.85,
            probe_bias={"flattery": flattery} if rater in PRONE and flattery else {},
        )
        for rater in RATERS
    ]
    pairs = simulate_pairs(N_PAIRS, seed=seed, mean_chars=120, gold_share=0.5)
    votes = simulate_votes(pairs, raters, votes_per_pair=3, seed=seed)
    probes = make_probe_pairs(pairs, votes, KINDS, seed=seed).pairs
    probe_votes = simulate_votes(probes, raters, votes_per_pair=3, seed=seed + 1)
    return pl.concat([pairs, probes]), pl.concat([votes, probe_votes]).sort("created_at")


def build_pool(root: Path, flattery: float, *, without_prone: bool = False) -> Pool:
    """``simulated_pool`` written as a snapshot under ``root`` with its tiny models (a few
    seconds each on one thread). Built once per folder: a finished folder is read again."""
    pairs, votes = simulated_pool(flattery)
    snapshot = root / "snapshot"
    names = ["all", "without"] if without_prone else ["all"]
    checkpoints = {name: root / f"model-{name}" for name in names}
    if (root / "done").exists():
        return Pool(pairs, votes, snapshot, checkpoints)
    options = ExportOptions(ties="soft", with_probes=True)
    snapshot_of(snapshot, pairs, votes, options, source="simulated")
    tokenizer = AutoTokenizer.from_pretrained(default_base_path(), local_files_only=True)
    base = save_tiny_bert(root / "base", tokenizer)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models train faster on one thread (tests share the cores)
    try:
        _train(snapshot, base, checkpoints)
    finally:
        torch.set_num_threads(threads)
    (root / "done").touch()
    return Pool(pairs, votes, snapshot, checkpoints)


def _train(snapshot: Path, base: Path, checkpoints: dict[str, Path]) -> None:
    for name, folder in checkpoints.items():
        train(
            TrainConfig(
                snapshot=str(snapshot),
                out=str(folder),
                base_model=str(base),
                exclude_raters=PRONE if name == "without" else (),
                ties="soft",
                epochs=4,
                learning_rate=2e-3,
                batch_size=16,
                max_length=64,
                eval_fraction=0.1,
                progress_bar=False,
            )
        )


@pytest.fixture(scope="session")
def flattery_pool(tmp_path_factory: pytest.TempPathFactory) -> Pool:
    """The flattery-prone pool, with models trained with and without ``PRONE``."""
    return build_pool(tmp_path_factory.getbasetemp() / "flattery-pool", 0.9, without_prone=True)


@pytest.fixture(scope="session")
def unbiased_pool(tmp_path_factory: pytest.TempPathFactory) -> Pool:
    """The same pairs and raters, nobody swayed by flattery, with one model."""
    return build_pool(tmp_path_factory.getbasetemp() / "unbiased-pool", 0.0)
