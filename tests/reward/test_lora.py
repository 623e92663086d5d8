"""LoRA (``--lora-r``): only the adapters and the head learn, the saved checkpoint is a plain
model with the adapters merged in, and an interrupted LoRA run resumes exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from reward import lora
from reward.model import RewardModelError, load_model, rewards
from reward.train import train
from tests.reward.conftest import GOOD_BAD, SnapshotMaker
from tests.reward.test_train import parameters, quick, stopping_after


@pytest.mark.parametrize(
    ("base", "adapted"),
    [("tiny_encoder", ("query", "value")), ("tiny_decoder", ("c_attn",))],
)
def test_only_the_adapted_layers_and_the_head_change(
    base: str,
    adapted: tuple[str, ...],
    request: pytest.FixtureRequest,
    make_snapshot: SnapshotMaker,
    tmp_path: Path,
) -> None:
    folder: Path = request.getfixturevalue(base)
    config = quick(make_snapshot(GOOD_BAD), tmp_path / "ckpt", folder, lora_r=4, epochs=2)
    before = parameters(folder)
    result = train(config)

    after = parameters(result.folder)
    assert after.keys() == before.keys(), "a plain model: no adapter weights left"
    assert not (result.folder / "adapter").exists()
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    heads = {name for name in changed if name.startswith(("classifier.", "score."))}
    assert heads, "the new head trains"
    # Merging changes exactly the adapted weight matrices, never their biases.
    layers = changed - heads
    assert layers and all(
        any(f".{module}." in name for module in adapted) and name.endswith(".weight")
        for name in layers
    ), sorted(layers)
    assert result.metrics["trainable_parameters"] < sum(p.numel() for p in before.values()) / 10


def test_merging_keeps_every_reward(
    make_snapshot: SnapshotMaker, tiny_encoder: Path, tmp_path: Path
) -> None:
    config = quick(make_snapshot(GOOD_BAD), tmp_path / "ckpt", tiny_encoder, lora_r=4)
    model, tokenizer = load_model(tiny_encoder)
    adapted = lora.add_adapters(model, config)
    torch.manual_seed(1)
    with torch.no_grad():  # lora_B starts at zero: give the adapters something to merge
        for name, parameter in adapted.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.5)
    batch = dict(tokenizer([row[1] for row in GOOD_BAD], padding=True, return_tensors="pt"))
    adapted.eval()
    with torch.no_grad():
        before = rewards(adapted, batch)
        merged = lora.merge_adapters(adapted)
        after = rewards(merged, batch)
    assert type(merged).__name__ == "BertForSequenceClassification"
    assert before.std() > 0
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-5)


def test_an_interrupted_lora_run_resumes_to_the_same_weights(
    make_snapshot: SnapshotMaker, tiny_encoder: Path, tmp_path: Path
) -> None:
    snapshot = make_snapshot(GOOD_BAD)
    straight = train(quick(snapshot, tmp_path / "straight", tiny_encoder, lora_r=4, epochs=2))
    stop, watch = stopping_after(3)
    config = quick(snapshot, tmp_path / "resumed", tiny_encoder, lora_r=4, epochs=2)
    first = train(config, progress_callback=watch, stop=stop)
    assert not first.complete
    assert (first.folder / "adapter" / "adapter_config.json").is_file()
    assert not (first.folder / "model.safetensors").exists(), "the base is not copied"
    resumed = train(
        quick(snapshot, tmp_path / "resumed", tiny_encoder, lora_r=4, epochs=2, resume=True)
    )
    assert resumed.complete
    expected, got = parameters(straight.folder), parameters(resumed.folder)
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=1e-6, msg=name)


def test_layers_the_model_lacks_are_refused_clearly(
    make_snapshot: SnapshotMaker, tiny_encoder: Path, tmp_path: Path
) -> None:
    config = quick(
        make_snapshot(GOOD_BAD),
        tmp_path / "ckpt",
        tiny_encoder,
        lora_r=4,
        lora_target_modules=["no_such_layer"],
    )
    with pytest.raises(RewardModelError, match=r"LoRA cannot adapt .*--lora-target-modules"):
        train(config)
