"""A checkpoint folder that describes itself.

::

    checkpoint/
      config.json, model.safetensors    the Hugging Face model (one-output head)
      tokenizer files                    as the tokenizer saves them
      intentgap.json                     resolved TrainConfig, snapshot content_hash, layout
      metrics.json                       per-epoch evaluation, truncation counts, throughput
      split.parquet                      pair_id, is_eval: the held-out split it was trained with
      trainer_state.pt                   only while a run is unfinished (to resume it)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from reward.config import TrainConfig
from reward.model import RewardModelError

__all__ = ["INFO_FILE", "METRICS_FILE", "SPLIT_FILE", "STATE_FILE", "CheckpointInfo", "read_info"]

INFO_FILE = "intentgap.json"
METRICS_FILE = "metrics.json"
SPLIT_FILE = "split.parquet"
STATE_FILE = "trainer_state.pt"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class CheckpointInfo:
    """What ``intentgap.json`` records about how a reward model was made."""

    folder: Path
    config: TrainConfig
    snapshot_hash: str
    #: False while the run is interrupted (``trainer_state.pt`` lies beside it).
    complete: bool
    #: The sequence layout and window used in training; scoring must use the same.
    format: str
    max_length: int
    created_at: str

    @property
    def model_id(self) -> str:
        return self.folder.resolve().name

    def write(self) -> None:
        info = {
            "format_version": FORMAT_VERSION,
            "kind": "intentgap reward model",
            "complete": self.complete,
            "snapshot_hash": self.snapshot_hash,
            "format": self.format,
            "max_length": self.max_length,
            "created_at": self.created_at,
            "train_config": self.config.to_dict(),
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")

    def metrics(self) -> dict[str, Any]:
        path = self.folder / METRICS_FILE
        return dict(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else {}

    def split(self) -> pl.DataFrame:
        """``pair_id, is_eval`` of the pairs this model was trained and evaluated on."""
        return pl.read_parquet(self.folder / SPLIT_FILE)


def new_info(
    folder: Path, config: TrainConfig, snapshot_hash: str, format: str, max_length: int
) -> CheckpointInfo:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return CheckpointInfo(folder, config, snapshot_hash, False, format, max_length, now)


def read_info(folder: str | Path) -> CheckpointInfo:
    """The description of a checkpoint folder; RewardModelError when it is none."""
    path = Path(folder) / INFO_FILE
    if not path.is_file():
        raise RewardModelError(
            f"{folder} is not a reward checkpoint made by `intentgap train` (no {INFO_FILE})"
        )
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        if info["format_version"] > FORMAT_VERSION:
            raise RewardModelError(f"{path} is of a newer format; upgrade intentgap")
        return CheckpointInfo(
            folder=Path(folder),
            config=TrainConfig.from_dict(info["train_config"]),
            snapshot_hash=str(info["snapshot_hash"]),
            complete=bool(info["complete"]),
            format=str(info["format"]),
            max_length=int(info["max_length"]),
            created_at=str(info["created_at"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, RewardModelError):
            raise
        raise RewardModelError(f"{path} is malformed ({type(error).__name__}: {error})") from None
