"""Column contracts: one polars schema per table, used by every module.

Frames cross module boundaries in these shapes and nowhere else are columns renamed
(importers and adapters to reference libraries rename at the edges).

Choices are always stored from the point of view of the pair's own sides: ``a`` means
``response_a`` won, whatever side it was shown on. ``shown_left`` records which response
the rater saw on the left (``a`` or ``b``), so position bias can be measured.
"""

from __future__ import annotations

import polars as pl

__all__ = [
    "CHOICES",
    "GOLD_CHOICES",
    "JUDGMENTS",
    "PAIRS",
    "PAIR_CONTENT",
    "PREFERENCES",
    "RATERS",
    "SIDES",
    "STRENGTH_LABELS",
    "STRENGTH_MARGIN",
    "VOTE_CONTENT",
    "conform",
    "empty",
]

#: A rater's verdict: response a, response b, a tie, or both unacceptable.
CHOICES: tuple[str, ...] = ("a", "b", "tie", "both_bad")
#: The intended answer of a pair, when known.
GOLD_CHOICES: tuple[str, ...] = ("a", "b", "tie")
SIDES: tuple[str, ...] = ("a", "b")
#: Strength of a preference: 1 slightly, 2 clearly, 3 much better. Null when not asked.
STRENGTH_LABELS: dict[int, str] = {
    1: "slightly better",
    2: "clearly better",
    3: "much better",
}
#: Margin used by the reward loss for each strength (TRL's `margin` column).
STRENGTH_MARGIN: dict[int, float] = {1: 0.25, 2: 0.5, 3: 1.0}

#: One row per comparison. ``prompt_messages`` holds the whole prompt conversation as JSON (a
#: list of ``{role, content}`` ending with the turn the responses answer) when the source was
#: a multi-turn conversation, else null; ``prompt`` is always its plain-text rendering.
#: ``metadata`` is JSON of the source's extra columns. A probe pair (a counterfactual test of
#: the raters, ``labeling.rater_probes``) names its edit in ``probe_kind`` and the pair it was
#: made from in ``probe_of``; its ``gold`` is the intended answer. Both are null otherwise.
PAIRS: dict[str, pl.DataType] = {
    "pair_id": pl.String(),
    "project_id": pl.String(),
    "prompt": pl.String(),
    "prompt_messages": pl.String(),
    "response_a": pl.String(),
    "response_b": pl.String(),
    "category": pl.String(),
    "model_a": pl.String(),
    "model_b": pl.String(),
    "gold": pl.String(),
    "gold_principle": pl.String(),
    "is_gold": pl.Boolean(),
    "source": pl.String(),
    "metadata": pl.String(),
    "probe_kind": pl.String(),
    "probe_of": pl.String(),
}

#: What a pair *is*: two rows with one ``pair_id`` must agree on these, else they conflict
#: (an import refuses them). Where it came from, its labels and metadata may differ.
PAIR_CONTENT: tuple[str, ...] = (
    "prompt",
    "prompt_messages",
    "response_a",
    "response_b",
    "gold",
    "is_gold",
)

#: One row per vote: (pair, rater, round) is unique; ``submission_id`` is the idempotency key.
JUDGMENTS: dict[str, pl.DataType] = {
    "submission_id": pl.String(),
    "pair_id": pl.String(),
    "rater_id": pl.String(),
    "round": pl.Int32(),
    "choice": pl.String(),
    "strength": pl.Int8(),
    "shown_left": pl.String(),
    "seconds": pl.Float64(),
    "created_at": pl.Datetime("us", "UTC"),
    "rationale": pl.String(),
    "principles": pl.List(pl.String()),
    "flags": pl.List(pl.String()),
    "is_gold": pl.Boolean(),
    "source": pl.String(),
}

#: What a vote says: two votes by one rater on one pair and round must agree on these, else
#: they conflict (an import refuses them); their times and sources may differ.
VOTE_CONTENT: tuple[str, ...] = ("choice", "strength")

#: Raters as the analysis sees them (tokens never leave the store).
RATERS: dict[str, pl.DataType] = {
    "rater_id": pl.String(),
    "name": pl.String(),
    "kind": pl.String(),  # "human" (signs in) or "source" (labels imported from a dataset)
    "created_at": pl.Datetime("us", "UTC"),
}

#: The exported preference set: TRL's explicit-prompt shape plus vote statistics.
PREFERENCES: dict[str, pl.DataType] = {
    "pair_id": pl.String(),
    "prompt": pl.String(),
    "chosen": pl.String(),
    "rejected": pl.String(),
    "chosen_side": pl.String(),
    "margin": pl.Float64(),
    "label": pl.Float64(),  # soft label: share of votes preferring `chosen` (ties count 0.5)
    "posterior": pl.Float64(),  # Dawid-Skene P(`chosen` is better), ties half; null if not fit
    "n_judgments": pl.Int32(),
    "votes_a": pl.Int32(),
    "votes_b": pl.Int32(),
    "votes_tie": pl.Int32(),
    "votes_both_bad": pl.Int32(),
    "agreement": pl.Float64(),
    "is_tie": pl.Boolean(),
    "category": pl.String(),
    "model_chosen": pl.String(),
    "model_rejected": pl.String(),
    "gold": pl.String(),
    "gold_principle": pl.String(),
    "is_gold": pl.Boolean(),
    "prompt_messages": pl.String(),
    "metadata": pl.String(),
}


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty frame with the contract's columns and dtypes."""
    return pl.DataFrame(schema=schema)


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Add missing contract columns as nulls, cast to the contract's dtypes, order columns.

    Extra columns are dropped: contracts are closed.

    >>> conform(pl.DataFrame({"rater_id": ["r1"]}), RATERS).columns
    ['rater_id', 'name', 'kind', 'created_at']
    """
    missing = [
        pl.lit(None, dtype).alias(name)
        for name, dtype in schema.items()
        if name not in frame.columns
    ]
    # with_columns keeps the frame's height (a select of literals alone would give one row).
    return frame.with_columns(missing).select(
        pl.col(name).cast(dtype) for name, dtype in schema.items()
    )
