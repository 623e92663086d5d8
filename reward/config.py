"""Run settings as dataclasses whose fields carry their help text: each one *is* its CLI.

``TrainConfig`` is saved, resolved, inside every checkpoint (``intentgap.json``), so a
checkpoint says how it was made. ``from_dict`` type-checks what it reads back (a stale or
hand-edited file fails loudly instead of training with a string where a number belongs).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Self

__all__ = ["InspectConfig", "ScoreConfig", "TrainConfig"]

Precision = Literal["auto", "fp32", "bf16"]
Format = Literal["auto", "pair", "template", "plain"]


def _opt(default: Any, help: str, **extra: Any) -> Any:
    """A field with a default and its help text (the CLI reads both)."""
    return field(default=default, metadata={"help": help, **extra})


def _help(text: str) -> dict[str, str]:
    return {"help": text}


PRECISION_HELP = "'auto' is bf16 autocast on CUDA and fp32 elsewhere; 'bf16' forces autocast."


def _required(help: str, *, positional: bool = False) -> Any:
    return field(metadata={"help": help, "positional": positional})


class CliConfig:
    """Builds an argparse parser from the dataclass fields; ``from_args`` parses into one."""

    prog: ClassVar[str] = "intentgap"
    description: ClassVar[str] = ""

    @classmethod
    def parser(cls) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(
            prog=cls.prog,
            description=cls.description,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        hints = typing.get_type_hints(cls)
        for spec in dataclasses.fields(cls):  # type: ignore[arg-type]
            _add_argument(parser, spec, hints[spec.name])
        return parser

    @classmethod
    def from_args(cls, argv: Sequence[str] | None = None) -> Self:
        namespace = cls.parser().parse_args(argv)
        return cls.from_dict(vars(namespace))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Self:
        """Build from plain values (parsed flags or JSON), checking names and types."""
        hints = typing.get_type_hints(cls)
        names = {spec.name for spec in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown setting(s) {', '.join(unknown)}")
        checked = {name: _coerce(name, value, hints[name]) for name, value in values.items()}
        return cls(**checked)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)  # type: ignore[call-overload]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}

    def to_args(self, *, leave_out: Collection[str] = ()) -> list[str]:
        """Command-line arguments that ``from_args`` parses back into this config (every
        setting spelled out, but those in ``leave_out``, which take their defaults)."""
        specs = dataclasses.fields(self)  # type: ignore[arg-type]
        # Positionals first: a list-valued flag would swallow one that followed it.
        args = [str(getattr(self, s.name)) for s in specs if s.metadata.get("positional")]
        for spec in specs:
            value = getattr(self, spec.name)
            flag = "--" + spec.name.replace("_", "-")
            if spec.name in leave_out or spec.metadata.get("positional"):
                continue
            if isinstance(value, bool):
                args.append(flag if value else "--no-" + flag[2:])
            elif isinstance(value, tuple):
                args += [flag, *value]
            else:
                args += [flag, "none" if value is None else str(value)]
        return args


def _add_argument(parser: argparse.ArgumentParser, spec: dataclasses.Field[Any], hint: Any) -> None:
    help_text = spec.metadata.get("help", "")
    flag = "--" + spec.name.replace("_", "-")
    base, optional = _unwrap_optional(hint)
    kwargs: dict[str, Any] = {"help": help_text}
    if typing.get_origin(base) is Literal:
        kwargs["choices"] = typing.get_args(base)
        base = type(typing.get_args(base)[0])
    if base is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif typing.get_origin(base) is tuple:
        kwargs.update(nargs="*", type=typing.get_args(base)[0])
    else:
        kwargs["type"] = (
            (lambda text: None if text.lower() == "none" else base(text)) if optional else base
        )
    if spec.default is dataclasses.MISSING:
        if spec.metadata.get("positional"):
            parser.add_argument(spec.name, **kwargs)
        else:
            parser.add_argument(flag, dest=spec.name, required=True, **kwargs)
    else:
        parser.add_argument(flag, dest=spec.name, default=spec.default, **kwargs)


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return members[0], len(members) < len(typing.get_args(hint))
    return hint, False


def _coerce(name: str, value: Any, hint: Any) -> Any:
    base, optional = _unwrap_optional(hint)
    if value is None:
        if optional:
            return None
        raise TypeError(f"setting {name!r} may not be null")
    if typing.get_origin(base) is Literal:
        if value not in typing.get_args(base):
            raise ValueError(
                f"setting {name!r} must be one of {typing.get_args(base)}, not {value!r}"
            )
        return value
    if typing.get_origin(base) is tuple:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"setting {name!r} must be a list of strings, not {value!r}")
        return tuple(value)
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not base:
        raise TypeError(f"setting {name!r} must be {base.__name__}, not {type(value).__name__}")
    return value


@dataclass(frozen=True)
class TrainConfig(CliConfig):
    """Everything a training run needs; saved inside the checkpoint it makes."""

    prog: ClassVar[str] = "intentgap train"
    description: ClassVar[str] = (
        "Train a Bradley-Terry reward model on an exported preference snapshot."
    )

    # --- data
    snapshot: str = _required(
        "Snapshot folder written by `intentgap export` (pairs.parquet, manifest.json).",
        positional=True,
    )
    out: str = _required("Checkpoint folder to write (weights, tokenizer, config, metrics).")
    eval_fraction: float = _opt(
        0.1, "Share of prompts held out for evaluation; a prompt never sits on both sides."
    )
    ties: Literal["soft", "drop"] = _opt(
        "soft", "Tied pairs: 'soft' trains them towards P=0.5, 'drop' leaves them out."
    )
    labels: Literal["soft", "hard", "posterior"] = _opt(
        "soft",
        "Targets: 'soft' is the share of votes preferring `chosen`; 'hard' is 1 for every "
        "non-tie pair; 'posterior' is the Dawid-Skene posterior (export with --posterior).",
    )
    use_margin: bool = _opt(True, "Subtract the snapshot's strength margin inside the loss.")
    weights: str = _opt(
        "none",
        "Loss weights. Per pair: 'none', 'agreement' (the snapshot column), 'posterior' (the "
        "Dawid-Skene probability that `chosen` is better; export with --posterior), or a "
        "Parquet file with columns pair_id, weight. Per vote: a bias card (.json, e.g. the "
        "snapshot's bias_card.json): each vote counts with its rater's suggested weight, so a "
        "pair's target is the weighted vote share and its weight the sum of its votes' "
        "weights (needs --labels soft).",
    )
    exclude_raters: tuple[str, ...] = _opt(
        (),
        "Leave these raters out: labels are recounted from judgments.parquet without them "
        "(to see one rater's influence).",
    )
    max_pairs: int | None = _opt(None, "Use at most this many pairs (a quick trial run).")
    # --- model
    base_model: str = _opt(
        "default",
        "'default' (the bundled all-MiniLM-L6-v2) or a local Hugging Face checkpoint folder, "
        "encoder or decoder.",
    )
    max_length: int = _opt(512, "Tokens per sequence; the prompt's oldest turns are dropped first.")
    format: Format = field(
        default="auto",
        metadata=_help(
            "How prompt and response are joined: 'template' (the tokenizer's chat template), "
            "'pair' ([CLS] prompt [SEP] response [SEP]), 'plain' (role labels); 'auto' picks "
            "in that order."
        ),
    )
    disable_dropout: bool = _opt(
        True, "Turn dropout off (reward models train as well without it, and much faster)."
    )
    lora_r: int = _opt(
        0,
        "LoRA rank for big bases: train only low-rank adapters and the head, merged into the "
        "saved weights (0 trains every weight).",
    )
    lora_alpha: int = _opt(16, "LoRA scaling numerator (the update is scaled by alpha / r).")
    lora_dropout: float = _opt(0.0, "Dropout on the LoRA adapters' input.")
    lora_target_modules: tuple[str, ...] = _opt(
        (),
        "Layers that get adapters (e.g. query value); empty: peft's default for the "
        "architecture; 'all-linear': every linear layer but the head.",
    )
    # --- optimisation
    epochs: int = _opt(1, "Passes over the training pairs.")
    batch_size: int = _opt(8, "Pairs per micro-batch (each pair is two sequences).")
    grad_accum: int = _opt(1, "Micro-batches per optimizer step.")
    learning_rate: float = _opt(3e-5, "Peak learning rate of AdamW.")
    weight_decay: float = _opt(0.0, "AdamW weight decay (not applied to biases and norms).")
    warmup_ratio: float = _opt(0.05, "Share of steps spent warming the learning rate up.")
    max_grad_norm: float = _opt(1.0, "Clip gradients to this norm (0 turns clipping off).")
    center_rewards: float = _opt(
        0.0, "Coefficient of the centring penalty mean((r_c + r_r)^2); 0 turns it off."
    )
    group_by_length: bool = _opt(
        True, "Batch pairs of similar length together (less padding, same shuffling quality)."
    )
    seed: int = _opt(0, "Seed for the split, the batch order and the new head.")
    # --- hardware
    device: str = _opt("auto", "'auto' (CUDA, then MPS, then CPU), or a torch device name.")
    precision: Precision = field(default="auto", metadata=_help(PRECISION_HELP))
    eval_batch_size: int = _opt(16, "Sequences per batch when evaluating.")
    nproc: int = _opt(
        1,
        "Processes to train on, launched on this machine through torchrun (one per GPU, or "
        "several on the CPU); each takes its share of every batch, so the run is the same. "
        "Under torchrun or accelerate launch leave it at 1: the launcher decides.",
    )
    # --- run
    resume: bool = _opt(
        False, "Continue the interrupted run found in --out (same snapshot and settings)."
    )
    save_every: int = _opt(
        0, "Also save a resumable state every N optimizer steps (0: at each epoch's end)."
    )
    progress_bar: bool = _opt(True, "Show a progress bar in the terminal.")

    #: Settings that may differ between an interrupted run and its resumption.
    RUN_ONLY: ClassVar[frozenset[str]] = frozenset(
        {"resume", "progress_bar", "device", "eval_batch_size", "save_every", "nproc"}
    )


@dataclass(frozen=True)
class ScoreConfig(CliConfig):
    prog: ClassVar[str] = "intentgap score"
    description: ClassVar[str] = (
        "Score pairs (pair_id, model_id, reward_a, reward_b) or (prompt, response) rows."
    )

    model: str = _required("Checkpoint folder written by `intentgap train`.", positional=True)
    input: str = _required(
        "A snapshot folder, or a Parquet/JSONL/CSV file with prompt + response_a/response_b "
        "(or chosen/rejected) per pair, or prompt + response per row.",
        positional=True,
    )
    out: str = _required("Parquet file to write.")
    model_id: str | None = _opt(None, "Name written in model_id (default: the folder's name).")
    batch_size: int = _opt(16, "Sequences per batch (sorted by length, so little padding).")
    device: str = _opt("auto", "'auto' (CUDA, then MPS, then CPU), or a torch device name.")
    precision: Precision = field(default="auto", metadata=_help(PRECISION_HELP))
    progress_bar: bool = _opt(True, "Show a progress bar in the terminal.")


@dataclass(frozen=True)
class InspectConfig(CliConfig):
    prog: ClassVar[str] = "intentgap inspect"
    description: ClassVar[str] = (
        "Where the reward model diverges from the votes and from the intended answers."
    )

    model: str = _required("Checkpoint folder written by `intentgap train`.", positional=True)
    snapshot: str = _required("Snapshot folder to evaluate on.", positional=True)
    json: bool = _opt(False, "Print the report as JSON instead of text.")
    out: str | None = _opt(None, "Also write the JSON report to this file.")
    split: Literal["eval", "all"] = _opt(
        "eval",
        "'eval': only the pairs held out in training (when the snapshot is the one trained "
        "on); 'all': every pair.",
    )
    probe_pairs: int = _opt(64, "Pairs each probe perturbs (0 skips the probes).")
    confident: float = _opt(
        0.8, "Probability from which the model counts as confident in the divergence table."
    )
    compare: str | None = _opt(
        None,
        "Another checkpoint to inspect on the same pairs (e.g. one trained without a flagged "
        "rater): the two side by side, under `comparison` in the JSON.",
    )
    flagged_raters: tuple[str, ...] = _opt(
        (),
        "Raters whose pairs are listed where the model sides with them against the others; "
        "default: the raters the audit flags on the snapshot.",
    )
    batch_size: int = _opt(16, "Sequences per batch (sorted by length, so little padding).")
    device: str = _opt("auto", "'auto' (CUDA, then MPS, then CPU), or a torch device name.")
    precision: Precision = field(default="auto", metadata=_help(PRECISION_HELP))
    progress_bar: bool = _opt(False, "Show progress bars while scoring.")
