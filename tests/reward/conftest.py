"""Reward fixtures: tiny models built from a config with the bundled tokenizer, and snapshot
folders written by the real exporter from hand-made votes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
import torch
from transformers import (
    AutoTokenizer,
    BertConfig,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedTokenizerBase,
)

from data import frames
from data.export import BiasCardContent, write_snapshot
from labeling.preference_set import ExportOptions, build_preferences, probe_rows
from reward.model import default_base_path

#: A pair as tests write it: prompt, response_a, response_b, then (rater_id, choice) votes.
Vote = tuple[str, str]


@pytest.fixture(scope="session", autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models run faster on one thread, and the test runner already uses both cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tokenizer() -> PreTrainedTokenizerBase:
    """The bundled all-MiniLM-L6-v2 tokenizer (a BERT WordPiece vocabulary)."""
    return AutoTokenizer.from_pretrained(default_base_path(), local_files_only=True)


def _save(model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, folder: Path) -> Path:
    model.save_pretrained(folder)  # type: ignore[operator]
    tokenizer.save_pretrained(folder)
    return folder


def save_tiny_bert(folder: Path, tokenizer: PreTrainedTokenizerBase) -> Path:
    """A 2-layer, 32-wide BERT with random weights (seed 0) and no head: a base model folder."""
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    return _save(BertModel(config), tokenizer, folder)


@pytest.fixture(scope="session")
def tiny_encoder(
    tmp_path_factory: pytest.TempPathFactory, tokenizer: PreTrainedTokenizerBase
) -> Path:
    """``save_tiny_bert`` as a session-wide base model."""
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), tokenizer)


@pytest.fixture(scope="session")
def tiny_decoder(
    tmp_path_factory: pytest.TempPathFactory, tokenizer: PreTrainedTokenizerBase
) -> Path:
    """A 2-layer, 32-wide GPT-2 language model with random weights: a decoder base folder."""
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=tokenizer.vocab_size, n_embd=32, n_layer=2, n_head=2, n_positions=128
    )
    return _save(GPT2LMHeadModel(config), tokenizer, tmp_path_factory.mktemp("tiny-gpt2"))


def snapshot_of(
    folder: Path,
    pairs: pl.DataFrame,
    judgments: pl.DataFrame,
    options: ExportOptions,
    *,
    source: str = "test",
    bias_card: BiasCardContent | None = None,
) -> Path:
    """``pairs`` and ``judgments`` written as a snapshot the way the export writes one: the
    preference set the ``options`` build, every vote, the probe pairs among them listed."""
    write_snapshot(
        folder,
        build_preferences(pairs, judgments, options),
        judgments,
        options=options.as_dict(),
        schema_version="test",
        source=source,
        probes=probe_rows(pairs, judgments),
        bias_card=bias_card,
    )
    return folder


def write_votes_snapshot(
    folder: Path,
    pairs: Sequence[tuple[str, str, str, Sequence[Vote]]],
    *,
    gold: Sequence[str | None] | None = None,
    categories: Sequence[str | None] | None = None,
    posterior: bool = False,
) -> Path:
    """A snapshot folder made the real way: pairs + votes -> build_preferences -> write."""
    n = len(pairs)
    pair_frame = pl.DataFrame(
        {
            "pair_id": [f"p{i:03d}" for i in range(n)],
            "prompt": [p[0] for p in pairs],
            "response_a": [p[1] for p in pairs],
            "response_b": [p[2] for p in pairs],
            "category": list(categories) if categories else [None] * n,
            "model_a": ["m1"] * n,
            "model_b": ["m2"] * n,
            "gold": list(gold) if gold else [None] * n,
        }
    )
    when = datetime(2025, 1, 1, tzinfo=UTC)
    votes = [
        {
            "submission_id": f"s{i:03d}-{rater}",
            "pair_id": f"p{i:03d}",
            "rater_id": rater,
            "round": 0,
            "choice": choice,
            "created_at": when,
            "rationale": f"{rater} thinks {choice}",
            "is_gold": False,
            "source": "test",
        }
        for i, (_, _, _, pair_votes) in enumerate(pairs)
        for rater, choice in pair_votes
    ]
    judgments = frames.conform(pl.DataFrame(votes), frames.JUDGMENTS)
    options = ExportOptions(ties="soft", posterior=posterior)
    return snapshot_of(folder, frames.conform(pair_frame, frames.PAIRS), judgments, options)


SnapshotMaker = Callable[..., Path]


@pytest.fixture
def make_snapshot(tmp_path: Path) -> SnapshotMaker:
    counter = iter(range(1000))

    def make(pairs: Sequence[tuple[str, str, str, Sequence[Vote]]], **kwargs: object) -> Path:
        return write_votes_snapshot(tmp_path / f"snapshot{next(counter)}", pairs, **kwargs)  # type: ignore[arg-type]

    return make


#: Pairs where the careful answer wins (r3 dissents on every fourth), prompts on 5 topics.
GOOD_BAD: list[tuple[str, str, str, list[Vote]]] = [
    (
        f"Question {i}: what about topic {i % 5}?",
        f"A good, careful answer about topic {i % 5}.",
        f"bad {i}",
        [("r1", "a"), ("r2", "a"), ("r3", "b" if i % 4 == 0 else "a")],
    )
    for i in range(24)
]


@pytest.fixture(scope="session")
def tiny_checkpoint(
    tmp_path_factory: pytest.TempPathFactory, tiny_encoder: Path
) -> tuple[Path, Path]:
    """(snapshot, checkpoint): the tiny encoder trained two epochs on ``GOOD_BAD``."""
    from reward.config import TrainConfig
    from reward.train import train

    folder = tmp_path_factory.mktemp("tiny-run")
    snapshot = write_votes_snapshot(
        folder / "snapshot",
        GOOD_BAD,
        gold=["a" if i % 6 else "b" for i in range(24)],
        categories=["coding" if i % 2 else "honesty" for i in range(24)],
    )
    config = TrainConfig(
        snapshot=str(snapshot),
        out=str(folder / "checkpoint"),
        base_model=str(tiny_encoder),
        epochs=2,
        learning_rate=1e-3,
        batch_size=4,
        eval_fraction=0.25,
        progress_bar=False,
    )
    return snapshot, train(config).folder
