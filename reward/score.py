"""Rewards for both sides of every pair, or for (prompt, response) rows, in batches.

Sequences are sorted by length and batched longest first, so padding is almost nil; the
model runs under ``torch.inference_mode`` in the checkpoint's layout and window, with bf16
autocast on CUDA.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import polars as pl
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from reward.checkpoint import read_info
from reward.config import ScoreConfig
from reward.dataset import Encoded, SequenceEncoder, pad_sequences, prompt_turns, sorted_batches
from reward.device import autocast, pick_device, resolve_precision
from reward.model import RewardModelError, load_model, rewards, uses_token_types
from reward.snapshot import SnapshotError, load_snapshot, pairs_from_preferences

__all__ = [
    "SCORES",
    "RewardScorer",
    "Scorer",
    "main",
    "read_score_input",
    "score_pairs",
    "score_responses",
]

#: Scores of pairs, keyed by (pair_id, model_id); each side as the pair's own a / b.
SCORES: dict[str, pl.DataType] = {
    "pair_id": pl.String(),
    "model_id": pl.String(),
    "reward_a": pl.Float64(),
    "reward_b": pl.Float64(),
}


class Scorer(Protocol):
    """Anything that gives a reward to each (prompt, response): a checkpoint, the baseline."""

    def score(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        prompt_messages: Sequence[str | None] | None = None,
    ) -> np.ndarray: ...


@dataclass
class RewardScorer:
    """A reward model ready to score; build it with ``from_checkpoint`` or from parts."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    encoder: SequenceEncoder
    device: torch.device
    precision: str = "fp32"
    batch_size: int = 16
    progress_bar: bool = False

    @classmethod
    def from_checkpoint(
        cls,
        folder: str | Path,
        *,
        device: str = "auto",
        precision: str = "auto",
        batch_size: int = 16,
        progress_bar: bool = False,
    ) -> RewardScorer:
        info = read_info(folder)
        if not info.complete:
            raise RewardModelError(
                f"{folder} holds an unfinished run; finish it with `intentgap train ... --resume`"
            )
        model, tokenizer = load_model(folder)
        chosen = pick_device(device)
        model.to(chosen)  # type: ignore[arg-type]  # transformers types .to() oddly
        model.eval()  # type: ignore[no-untyped-call]
        encoder = SequenceEncoder(tokenizer, info.max_length, info.format)
        resolved = resolve_precision(precision, chosen)
        return cls(model, tokenizer, encoder, chosen, resolved, batch_size, progress_bar)

    def score_encoded(self, sequences: Sequence[Encoded]) -> np.ndarray:
        """One reward per encoded sequence, in input order."""
        out = np.zeros(len(sequences), dtype=np.float64)
        if not sequences:
            return out
        batches = sorted_batches([len(s.input_ids) for s in sequences], self.batch_size)
        was_training = self.model.training
        self.model.eval()  # type: ignore[no-untyped-call]
        pad_multiple = 8 if self.device.type == "cuda" else None
        with torch.inference_mode(), autocast(self.device, self.precision):
            for indices in tqdm(batches, desc="score", disable=not self.progress_bar):
                batch = pad_sequences(
                    [sequences[i] for i in indices],
                    int(self.tokenizer.pad_token_id),
                    pad_to_multiple_of=pad_multiple,
                    token_types=uses_token_types(self.model),
                )
                values = rewards(self.model, {k: v.to(self.device) for k, v in batch.items()})
                out[indices] = values.cpu().numpy()
        self.model.train(was_training)
        return out

    def score(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        prompt_messages: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        messages = prompt_messages or [None] * len(prompts)
        encoded = [
            self.encoder.encode(prompt_turns(prompt, turns), response)
            for prompt, turns, response in zip(prompts, messages, responses, strict=True)
        ]
        return self.score_encoded(encoded)


def score_pairs(scorer: Scorer, pairs: pl.DataFrame, model_id: str) -> pl.DataFrame:
    """``SCORES`` for pairs with ``pair_id, prompt, response_a, response_b`` (``frames.PAIRS``;
    ``prompt_messages`` is used when present)."""
    n = pairs.height
    messages = pairs["prompt_messages"].to_list() if "prompt_messages" in pairs.columns else None
    prompts = pairs["prompt"].to_list() * 2
    both = scorer.score(
        prompts,
        pairs["response_a"].to_list() + pairs["response_b"].to_list(),
        messages * 2 if messages is not None else None,
    )
    return pl.DataFrame(
        {
            "pair_id": pairs["pair_id"],
            "model_id": [model_id] * n,
            "reward_a": both[:n],
            "reward_b": both[n:],
        },
        schema=SCORES,
    )


def score_responses(scorer: Scorer, rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` (``prompt, response``, maybe ``prompt_messages``) with a ``reward`` column."""
    messages = rows["prompt_messages"].to_list() if "prompt_messages" in rows.columns else None
    values = scorer.score(rows["prompt"].to_list(), rows["response"].to_list(), messages)
    return rows.with_columns(pl.Series("reward", values, dtype=pl.Float64))


def read_score_input(path: str | Path) -> tuple[str, pl.DataFrame]:
    """``("pairs", frame)`` or ``("responses", frame)`` from a snapshot folder or a file.

    Files (Parquet, JSON Lines, JSON, CSV) hold ``prompt`` and either ``response_a,
    response_b`` or ``chosen, rejected`` (one pair per row) or ``response``; a missing
    ``pair_id`` becomes the row number.
    """
    path = Path(path)
    if path.is_dir():
        return "pairs", pairs_from_preferences(load_snapshot(path).preferences)
    readers: dict[str, Callable[[Path], pl.DataFrame]] = {
        ".parquet": pl.read_parquet,
        ".jsonl": pl.read_ndjson,
        ".json": pl.read_json,
        ".csv": pl.read_csv,
    }
    reader = readers.get(path.suffix.lower())
    if reader is None or not path.is_file():
        raise ValueError(f"{path}: give a snapshot folder or a .parquet/.jsonl/.json/.csv file")
    frame = reader(path)
    if {"chosen", "rejected"} <= set(frame.columns) and "response_a" not in frame.columns:
        frame = frame.rename({"chosen": "response_a", "rejected": "response_b"})
    if "prompt" not in frame.columns:
        raise ValueError(f"{path} has no prompt column")
    if "pair_id" not in frame.columns:
        frame = frame.with_row_index("pair_id").with_columns(pl.col("pair_id").cast(pl.String))
    if {"response_a", "response_b"} <= set(frame.columns):
        return "pairs", frame
    if "response" in frame.columns:
        return "responses", frame
    raise ValueError(f"{path} needs response_a/response_b, chosen/rejected or response columns")


def main(argv: list[str] | None = None) -> int:
    """``intentgap score MODEL INPUT --out scores.parquet``."""
    config = ScoreConfig.from_args(argv)
    try:
        kind, frame = read_score_input(config.input)
        scorer = RewardScorer.from_checkpoint(
            config.model,
            device=config.device,
            precision=config.precision,
            batch_size=config.batch_size,
            progress_bar=config.progress_bar,
        )
    except (SnapshotError, RewardModelError, ValueError) as error:
        print(f"intentgap score: {error}", file=sys.stderr)
        return 2
    model_id = config.model_id or Path(config.model).resolve().name
    if kind == "pairs":
        scores = score_pairs(scorer, frame, model_id)
    else:
        scores = score_responses(scorer, frame).with_columns(pl.lit(model_id).alias("model_id"))
    Path(config.out).parent.mkdir(parents=True, exist_ok=True)
    scores.write_parquet(config.out)
    print(f"scored {scores.height} {kind} with {model_id} -> {config.out}")
    return 0
