"""Training on several processes: two CPU processes (gloo, started by ``--nproc 2`` through
torchrun) make the weights one process makes on the same global batches, resume one's
interrupted run, and each process's part of a micro-batch's loss adds up to the whole's."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch

from reward.config import TrainConfig
from reward.dataset import rank_share
from reward.distributed import share_loss
from reward.loss import preference_loss
from reward.model import load_model
from reward.train import TrainProgress, main, train
from tests.reward.conftest import GOOD_BAD, write_votes_snapshot

#: 21 training pairs in micro-batches of 4 (the last holds one pair, so one process gets
#: none), two per step, agreement weights, soft targets and centring: every normaliser counts.
SETTINGS: dict[str, object] = {
    "learning_rate": 1e-3,
    "batch_size": 4,
    "grad_accum": 2,
    "epochs": 2,
    "eval_fraction": 0.1,
    "weights": "agreement",
    "center_rewards": 0.01,
    "progress_bar": False,
}


def argv(snapshot: Path, out: Path, base: Path, *extra: str) -> list[str]:
    flags = [str(snapshot), "--out", str(out), "--base-model", str(base), "--no-progress-bar"]
    for name, value in SETTINGS.items():
        if name != "progress_bar":
            flags += ["--" + name.replace("_", "-"), str(value)]
    return [*flags, *extra]


def config(snapshot: Path, out: Path, base: Path, **overrides: object) -> TrainConfig:
    values = {"snapshot": str(snapshot), "out": str(out), "base_model": str(base), **SETTINGS}
    return TrainConfig.from_dict({**values, **overrides})


def parameters(folder: Path) -> dict[str, torch.Tensor]:
    model, _ = load_model(folder)
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def assert_same_weights(got: Path, expected: Path) -> None:
    want, have = parameters(expected), parameters(got)
    assert want.keys() == have.keys()
    for name in want:
        torch.testing.assert_close(have[name], want[name], rtol=0, atol=1e-5, msg=name)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory, tiny_encoder: Path) -> tuple[Path, Path]:
    """(snapshot, checkpoint) of the run on one process, the reference."""
    folder = tmp_path_factory.mktemp("one-process")
    snapshot = write_votes_snapshot(folder / "snapshot", GOOD_BAD)
    result = train(config(snapshot, folder / "checkpoint", tiny_encoder))
    assert result.metrics["n_train"] == 21 and result.metrics["processes"] == 1
    return snapshot, result.folder


def assert_same_epochs(got: Path, expected: Path) -> None:
    """The same metrics per epoch: the training loss of the global micro-batches (summed over
    the processes) and the held-out metrics of every held-out pair (scored in shares and
    gathered)."""
    metrics = json.loads((got / "metrics.json").read_text())
    reference = json.loads((expected / "metrics.json").read_text())
    for epoch, want in zip(metrics["epochs"], reference["epochs"], strict=True):
        assert epoch == pytest.approx(want, rel=1e-4, abs=1e-5)


@pytest.mark.slow
def test_two_processes_train_the_weights_of_one(
    one_process: tuple[Path, Path],
    tiny_encoder: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    snapshot, expected = one_process
    out = tmp_path / "two"
    assert main(argv(snapshot, out, tiny_encoder, "--nproc", "2")) == 0
    assert_same_weights(out, expected)
    assert_same_epochs(out, expected)
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["processes"], metrics["n_train"], metrics["n_eval"]) == (2, 21, 3)
    info = json.loads((out / "intentgap.json").read_text())
    assert info["complete"] is True
    assert not (out / "trainer_state.pt").exists()
    printed = capfd.readouterr().out
    assert printed.count("reward model -> ") == 1  # rank 0 alone reports


@pytest.mark.slow
def test_two_processes_resume_a_run_one_process_began(
    one_process: tuple[Path, Path], tiny_encoder: Path, tmp_path: Path
) -> None:
    snapshot, expected = one_process
    stop = threading.Event()

    def stop_after_two_steps(progress: TrainProgress) -> None:
        if progress.step == 2:  # of 3 in the first epoch: the resume starts mid-epoch
            stop.set()

    stopped = train(
        config(snapshot, tmp_path / "ckpt", tiny_encoder),
        progress_callback=stop_after_two_steps,
        stop=stop,
    )
    assert not stopped.complete
    assert main(argv(snapshot, stopped.folder, tiny_encoder, "--nproc", "2", "--resume")) == 0
    assert_same_weights(stopped.folder, expected)
    assert_same_epochs(stopped.folder, expected)


@pytest.mark.slow
def test_two_processes_train_lora_adapters_on_a_decoder_as_one_does(
    one_process: tuple[Path, Path], tiny_decoder: Path, tmp_path: Path
) -> None:
    """A decoder scores its last real token (the shares pad differently) and peft's
    wrapped model goes through DDP with its frozen base."""
    snapshot, _ = one_process
    expected = train(config(snapshot, tmp_path / "one", tiny_decoder, lora_r=4)).folder
    out = tmp_path / "two"
    assert main(argv(snapshot, out, tiny_decoder, "--lora-r", "4", "--nproc", "2")) == 0
    assert_same_weights(out, expected)
    assert_same_epochs(out, expected)


def test_the_flag_refuses_a_finished_checkpoint_before_launching(
    one_process: tuple[Path, Path], tiny_encoder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot, finished = one_process
    assert main(argv(snapshot, finished, tiny_encoder, "--nproc", "2")) == 2
    assert "already holds a finished reward model" in capsys.readouterr().err


@pytest.mark.parametrize("world", [1, 2, 3, 6])
def test_the_shares_of_a_micro_batch_add_up_to_its_loss(world: int) -> None:
    generator = torch.Generator().manual_seed(0)
    n = 5
    chosen = torch.randn(n, generator=generator, requires_grad=True)
    rejected = torch.randn(n, generator=generator, requires_grad=True)
    batch = {
        "target": torch.tensor([1.0, 0.5, 2 / 3, 1.0, 0.0]),
        "margin": torch.tensor([0.0, 0.0, 0.3, 1.0, 0.0]),
        # The first process of two gets weights 0, 0, 0: a share that adds nothing.
        "weight": torch.tensor([0.0, 1.0, 0.0, 0.5, 0.0]),
    }
    whole = preference_loss(chosen, rejected, *batch.values(), center_rewards=0.1)
    parts = []
    for rank in range(world):
        if not rank_share(range(n), rank, world):
            continue  # training runs such a process on a stand-in pair with no weight
        shared = {
            name: torch.stack(rank_share(values, rank, world)) for name, values in batch.items()
        }
        parts.append(
            share_loss(
                torch.stack(rank_share(chosen, rank, world)),
                torch.stack(rank_share(rejected, rank, world)),
                shared,
                batch_weight=float(batch["weight"].sum()),
                batch_pairs=n,
                center_rewards=0.1,
            )
        )
    total = torch.stack(parts).sum()
    torch.testing.assert_close(total, whole)
    (whole_chosen,) = torch.autograd.grad(whole, chosen, retain_graph=True)
    (total_chosen,) = torch.autograd.grad(total, chosen)
    torch.testing.assert_close(total_chosen, whole_chosen)


def test_the_processes_get_the_settings_parsed_back() -> None:
    """``--nproc`` hands each process ``to_args()`` of the parsed settings (torchrun would
    take the caller's own ``--nproc`` for its ``--nproc-per-node``)."""
    config = TrainConfig(
        snapshot="snap",
        out="ckpt",
        exclude_raters=("r1", "r 2"),
        max_pairs=None,
        learning_rate=3e-5,
        use_margin=False,
        lora_target_modules=(),
        nproc=2,
    )
    args = config.to_args(leave_out={"nproc"})
    assert not any(arg.startswith("--nproc") for arg in args)
    assert TrainConfig.from_args(args) == TrainConfig.from_dict({**config.to_dict(), "nproc": 1})
    assert TrainConfig.from_args(config.to_args()) == config
