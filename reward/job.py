"""A training run in a background thread, for a process that keeps serving while it trains
(the app's Train page starts one and polls it)."""

from __future__ import annotations

import threading
from pathlib import Path

import polars as pl

from reward.config import TrainConfig
from reward.train import TrainProgress, TrainResult, train

__all__ = ["TrainingJob"]


class TrainingJob:
    """One ``reward.train.train`` run in a daemon thread, watched from another thread.

    ``progress`` keeps every report the run made; ``result`` or ``error`` is set when it ends.
    ``stop()`` asks the run to end after its current step (its state is saved for resuming).
    """

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.result: TrainResult | None = None
        self.error: str | None = None
        self._progress: list[TrainProgress] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"train {config.out}", daemon=True)

    def start(self) -> TrainingJob:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def folder(self) -> Path:
        return Path(self.config.out)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set() and self.running

    @property
    def progress(self) -> list[TrainProgress]:
        with self._lock:
            return list(self._progress)

    @property
    def latest(self) -> TrainProgress | None:
        with self._lock:
            return self._progress[-1] if self._progress else None

    def losses(self) -> pl.DataFrame:
        """``step, epoch, loss`` of every optimizer step so far (evaluations left out)."""
        steps = [p for p in self.progress if p.eval is None]
        return pl.DataFrame(
            {
                "step": [p.step for p in steps],
                "epoch": [p.epoch for p in steps],
                "loss": [p.loss for p in steps],
            },
            schema={"step": pl.Int64(), "epoch": pl.Int64(), "loss": pl.Float64()},
        )

    def _report(self, progress: TrainProgress) -> None:
        with self._lock:
            self._progress.append(progress)

    def _run(self) -> None:
        try:
            self.result = train(self.config, progress_callback=self._report, stop=self._stop)
        except Exception as error:  # shown on the page instead of dying silently in a thread
            self.error = f"{type(error).__name__}: {error}"
