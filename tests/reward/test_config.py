"""The training config is the CLI, and it survives a round trip through JSON."""

from __future__ import annotations

import dataclasses
import json

import pytest

from reward.config import CliConfig, InspectConfig, ScoreConfig, TrainConfig


@pytest.mark.parametrize("config", [TrainConfig, ScoreConfig, InspectConfig])
def test_every_field_carries_help_and_is_a_flag(config: type[CliConfig]) -> None:
    help_text = config.parser().format_help()
    for spec in dataclasses.fields(config):  # type: ignore[arg-type]
        assert spec.metadata.get("help"), spec.name
        if spec.metadata.get("positional"):
            assert spec.name in help_text
        else:
            assert "--" + spec.name.replace("_", "-") in help_text


def test_flags_parse_into_typed_values() -> None:
    config = TrainConfig.from_args(
        [
            "snap",
            "--out", "ckpt",
            "--base-model", "/models/tiny",
            "--no-use-margin",
            "--exclude-raters", "r1", "r2",
            "--max-pairs", "10",
            "--learning-rate", "1e-4",
            "--precision", "bf16",
        ]
    )  # fmt: skip
    assert config.snapshot == "snap" and config.out == "ckpt"
    assert config.base_model == "/models/tiny"
    assert config.use_margin is False
    assert config.exclude_raters == ("r1", "r2")
    assert config.max_pairs == 10
    assert config.learning_rate == 1e-4
    assert config.precision == "bf16"
    assert config.ties == "soft" and config.epochs == 1  # defaults


def test_out_is_required_and_choices_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        TrainConfig.from_args(["snap"])
    assert "--out" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        TrainConfig.from_args(["snap", "--out", "o", "--ties", "maybe"])


def test_round_trip_through_json_and_type_checks() -> None:
    config = TrainConfig(snapshot="s", out="o", exclude_raters=("r1",), max_pairs=None)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(TypeError, match="epochs"):
        TrainConfig.from_dict({**config.to_dict(), "epochs": "3"})
    with pytest.raises(ValueError, match="unknown setting"):
        TrainConfig.from_dict({**config.to_dict(), "epoch": 3})
    with pytest.raises(ValueError, match="precision"):
        TrainConfig.from_dict({**config.to_dict(), "precision": "fp8"})


def test_weights_name_a_bias_card_through_the_same_flag() -> None:
    config = TrainConfig.from_args(["snap", "--out", "o", "--weights", "snap/bias_card.json"])
    assert config.weights == "snap/bias_card.json"
    help_text = " ".join(TrainConfig.parser().format_help().split())
    assert "Per vote: a bias card (.json" in help_text
