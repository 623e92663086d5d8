"""The preference loss against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from reward.loss import preference_loss


def nll(x: float) -> float:
    """-log sigmoid(x)."""
    return math.log1p(math.exp(-x))


def test_hard_target_is_minus_logsigmoid_of_the_reward_gap() -> None:
    chosen, rejected = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 1.0])
    loss = preference_loss(chosen, rejected)
    assert loss.item() == pytest.approx((nll(1.0) + nll(-1.0)) / 2)
    assert loss.item() == pytest.approx(
        -torch.nn.functional.logsigmoid(chosen - rejected).mean().item()
    )


def test_margin_is_subtracted_inside_the_sigmoid() -> None:
    loss = preference_loss(torch.tensor([2.0]), torch.tensor([1.0]), margin=torch.tensor([0.5]))
    assert loss.item() == pytest.approx(nll(0.5))


def test_a_tie_is_a_soft_half_target_and_is_lowest_at_equal_rewards() -> None:
    half = torch.tensor([0.5])
    at_equal = preference_loss(torch.tensor([1.0]), torch.tensor([1.0]), target=half)
    apart = preference_loss(torch.tensor([2.0]), torch.tensor([1.0]), target=half)
    assert at_equal.item() == pytest.approx(math.log(2))
    assert apart.item() == pytest.approx(0.5 * nll(1.0) + 0.5 * nll(-1.0))
    assert apart > at_equal


def test_soft_vote_share_is_binary_cross_entropy_on_that_share() -> None:
    loss = preference_loss(torch.tensor([1.0]), torch.tensor([0.0]), target=torch.tensor([0.75]))
    assert loss.item() == pytest.approx(0.75 * nll(1.0) + 0.25 * nll(-1.0))


def test_weights_average_the_pairs() -> None:
    chosen, rejected = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 1.0])
    loss = preference_loss(chosen, rejected, weight=torch.tensor([3.0, 1.0]))
    assert loss.item() == pytest.approx((3 * nll(1.0) + nll(-1.0)) / 4)


def test_centring_adds_the_squared_reward_sum() -> None:
    chosen, rejected = torch.tensor([2.0]), torch.tensor([1.0])
    loss = preference_loss(chosen, rejected, center_rewards=0.1)
    assert loss.item() == pytest.approx(nll(1.0) + 0.1 * 9.0)


def test_gradient_pushes_chosen_up_and_rejected_down() -> None:
    chosen = torch.tensor([0.0], requires_grad=True)
    rejected = torch.tensor([0.0], requires_grad=True)
    preference_loss(chosen, rejected).backward()  # type: ignore[no-untyped-call]
    assert chosen.grad is not None and rejected.grad is not None
    assert chosen.grad.item() == pytest.approx(-0.5)
    assert rejected.grad.item() == pytest.approx(0.5)
