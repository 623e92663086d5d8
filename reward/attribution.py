"""Token attribution by occlusion: which words of a response carry its reward.

Each word is removed in turn and the response scored again; a word's attribution is the
reward lost without it (positive: the word raised the reward). Model-agnostic, so it works
for any ``Scorer``, at the price of one scored sequence per word (capped by ``max_words``).
"""

from __future__ import annotations

import re

import polars as pl

from reward.score import Scorer

__all__ = ["occlusion"]


def occlusion(
    scorer: Scorer,
    prompt: str,
    response: str,
    prompt_messages: str | None = None,
    *,
    max_words: int = 400,
) -> pl.DataFrame:
    """One row per word of ``response`` (first ``max_words``): ``position``, ``word`` (with its
    trailing whitespace, so the words join back into the response) and ``attribution``.

    The reward of the whole response is ``attribution``'s reference: see ``reward_full``.
    """
    words = re.findall(r"\S+\s*", response)[:max_words]
    lead = response[: len(response) - len(response.lstrip())]
    variants = [response] + [lead + "".join(words[:i] + words[i + 1 :]) for i in range(len(words))]
    rewards = scorer.score([prompt] * len(variants), variants, [prompt_messages] * len(variants))
    return pl.DataFrame(
        {
            "position": list(range(len(words))),
            "word": words,
            "attribution": [float(rewards[0] - value) for value in rewards[1:]],
            "reward_full": [float(rewards[0])] * len(words),
        },
        schema={
            "position": pl.Int64(),
            "word": pl.String(),
            "attribution": pl.Float64(),
            "reward_full": pl.Float64(),
        },
    )
