"""Low-rank adapters (LoRA, through peft) for bases too big to train whole.

Only the adapters and the new reward head train; the saved checkpoint has the adapters merged
back into plain weights, so scoring, inspection and any Hugging Face tool load it like a fully
trained model. An interrupted run keeps its adapters in ``ADAPTER_FOLDER`` until it resumes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import PreTrainedModel

from reward.config import TrainConfig
from reward.model import RewardModelError

__all__ = ["ADAPTER_FOLDER", "add_adapters", "load_adapters", "merge_adapters", "save_adapters"]

#: Subfolder of an interrupted LoRA run's checkpoint holding its adapters and head.
ADAPTER_FOLDER = "adapter"


def _lora_config(config: TrainConfig) -> Any:
    from peft import LoraConfig, TaskType

    targets: list[str] | str | None
    if config.lora_target_modules == ("all-linear",):
        targets = "all-linear"
    else:
        targets = list(config.lora_target_modules) or None  # None: peft's per-architecture default
    # SEQ_CLS makes peft keep the new head ("classifier" / "score") fully trainable.
    return LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=targets,
    )


def add_adapters(model: PreTrainedModel, config: TrainConfig) -> PreTrainedModel:
    """``model`` with LoRA adapters of rank ``config.lora_r``; every other weight frozen."""
    from peft import get_peft_model

    try:
        adapted: Any = get_peft_model(model, _lora_config(config))
    except ValueError as error:  # peft's message names the model type and what it lacks
        raise RewardModelError(
            f"LoRA cannot adapt {config.base_model}: {error}. Name the layers with "
            "--lora-target-modules (or 'all-linear')."
        ) from error
    return adapted  # type: ignore[no-any-return]


def save_adapters(model: PreTrainedModel, folder: Path) -> None:
    """The adapters and head of a run in progress (the base stays where it was read)."""
    model.save_pretrained(folder / ADAPTER_FOLDER)


def load_adapters(model: PreTrainedModel, folder: Path) -> PreTrainedModel:
    """The base ``model`` with an interrupted run's adapters back on, ready to train."""
    from peft import PeftModel

    adapted: Any = PeftModel.from_pretrained(model, folder / ADAPTER_FOLDER, is_trainable=True)
    return adapted  # type: ignore[no-any-return]


def merge_adapters(model: PreTrainedModel) -> PreTrainedModel:
    """A plain model whose weights include the adapters (the wrapper is gone)."""
    merged: Any = model.merge_and_unload()  # type: ignore[operator]
    return merged  # type: ignore[no-any-return]
