"""The Bradley-Terry preference loss, with margins, soft targets, weights and centring."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["preference_loss"]


def preference_loss(
    rewards_chosen: torch.Tensor,
    rewards_rejected: torch.Tensor,
    target: torch.Tensor | None = None,
    margin: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
    center_rewards: float = 0.0,
) -> torch.Tensor:
    """``-log sigmoid(r_c - r_r - margin)`` per pair, as binary cross-entropy on ``target``.

    ``target`` is the probability that ``chosen`` is preferred: 1 (the default) gives exactly
    ``-logsigmoid(r_c - r_r - margin)``; 0.5 (a tie) pulls the two rewards together; a vote
    share in between asks for that probability. ``weight`` averages pairs with weights;
    ``center_rewards`` adds ``coefficient * mean((r_c + r_r)^2)`` so rewards stay near zero.

    >>> preference_loss(torch.tensor([1.0]), torch.tensor([1.0])).item()  # log 2
    0.6931471824645996
    """
    logits = rewards_chosen - rewards_rejected
    if margin is not None:
        logits = logits - margin
    if target is None:
        target = torch.ones_like(logits)
    losses = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    loss = (losses * weight).sum() / weight.sum() if weight is not None else losses.mean()
    if center_rewards:
        loss = loss + center_rewards * (rewards_chosen + rewards_rejected).pow(2).mean()
    return loss
