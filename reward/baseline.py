"""A baseline that trains in seconds: do the votes carry signal before a full run?

The base model stays frozen; each (prompt, response) becomes its mean-pooled embedding; a
logistic Bradley-Terry head on the difference of the two embeddings learns a linear reward
``w . e``. Every pair enters twice, mirrored (``d`` labelled 1 and ``-d`` labelled 0, each
weighted by the target), so without an intercept the head cannot prefer a side; soft targets
(vote shares, ties at 0.5) become sample weights on both labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np
import polars as pl
import torch
from sklearn.linear_model import LogisticRegression

from reward.dataset import SequenceEncoder, pad_sequences, prompt_turns, sorted_batches
from reward.device import pick_device
from reward.model import load_model, resolve_base, uses_token_types

__all__ = ["EmbeddingBaseline"]


class EmbeddingBaseline:
    """Frozen embeddings + logistic Bradley-Terry head; scikit-learn style, and a ``Scorer``.

    ``fit`` consumes ``reward.snapshot.TRAINING_PAIRS`` rows (``prompt, prompt_messages,
    chosen, rejected, target``; ``weight`` when present).
    """

    def __init__(
        self,
        base_model: str = "default",
        C: float = 10.0,
        max_length: int = 256,
        batch_size: int = 32,
        device: str = "auto",
    ) -> None:
        self.base_model = base_model
        self.C = C
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device

    def _load(self) -> None:
        if hasattr(self, "encoder_"):
            return
        model, tokenizer = load_model(resolve_base(self.base_model))
        self.device_ = pick_device(self.device)
        self.model_: torch.nn.Module = model.base_model.to(self.device_).eval()
        self.token_types_ = uses_token_types(model)
        self.hidden_size_ = int(model.config.hidden_size)
        self.encoder_ = SequenceEncoder(tokenizer, self.max_length)

    def embed(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        prompt_messages: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        """Mean-pooled, L2-normalised embeddings of each (prompt, response), in input order."""
        self._load()
        messages = prompt_messages or [None] * len(prompts)
        encoded = [
            self.encoder_.encode(prompt_turns(prompt, turns), response)
            for prompt, turns, response in zip(prompts, messages, responses, strict=True)
        ]
        out = np.zeros((len(encoded), self.hidden_size_), dtype=np.float32)
        pad_id = int(self.encoder_.tokenizer.pad_token_id)
        with torch.inference_mode():
            for indices in sorted_batches([len(e.input_ids) for e in encoded], self.batch_size):
                batch = pad_sequences(
                    [encoded[i] for i in indices], pad_id, token_types=self.token_types_
                )
                batch = {k: v.to(self.device_) for k, v in batch.items()}
                hidden = self.model_(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1)
                out[indices] = torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy()
        return out

    def fit(self, pairs: pl.DataFrame) -> Self:
        prompts, messages = pairs["prompt"].to_list(), pairs["prompt_messages"].to_list()
        chosen = self.embed(prompts, pairs["chosen"].to_list(), messages)
        rejected = self.embed(prompts, pairs["rejected"].to_list(), messages)
        difference = chosen - rejected
        target = pairs["target"].to_numpy()
        weight = pairs["weight"].to_numpy() if "weight" in pairs.columns else np.ones(len(target))
        features = np.concatenate([difference, -difference, difference, -difference])
        labels = np.concatenate([np.ones_like(target), np.zeros_like(target)] * 2)
        sample_weight = np.concatenate([target, target, 1 - target, 1 - target]) * np.tile(
            weight, 4
        )
        keep = sample_weight > 0
        self.head_ = LogisticRegression(C=self.C, fit_intercept=False, max_iter=2000)
        self.head_.fit(features[keep], labels[keep], sample_weight=sample_weight[keep])
        self.n_pairs_ = pairs.height
        return self

    def score(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        prompt_messages: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        """The linear reward ``w . e`` of each (prompt, response)."""
        weights = self.head_.coef_[0]
        return np.asarray(
            self.embed(prompts, responses, prompt_messages) @ weights, dtype=np.float64
        )

    def predict_proba(self, pairs: pl.DataFrame) -> np.ndarray:
        """P(``chosen`` preferred) for ``TRAINING_PAIRS``-shaped rows."""
        prompts, messages = pairs["prompt"].to_list(), pairs["prompt_messages"].to_list()
        margin = self.score(prompts, pairs["chosen"].to_list(), messages) - self.score(
            prompts, pairs["rejected"].to_list(), messages
        )
        return np.asarray(1 / (1 + np.exp(-margin)), dtype=np.float64)
