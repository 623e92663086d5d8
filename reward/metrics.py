"""How a reward model's preferences compare with the votes and with gold (pure: frames in,
frames or numbers out).

Everything starts from ``evaluate_scores(preferences, scores)``: one row per scored pair with
the model's probability that ``a`` wins, ``p_a = sigmoid(reward_a - reward_b)``, next to the
vote counts. The *ceiling* is the mean ``agreement`` (the share of a pair's votes that went to
its plurality choice): no model can agree with more of the votes than that, so
``vote_agreement`` (the share of votes for the side the model prefers) is read against it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

__all__ = [
    "AGREEMENT_BINS",
    "accuracy",
    "accuracy_by_principle",
    "calibration",
    "divergences",
    "evaluate_scores",
    "expected_calibration_error",
    "gold_accuracy",
    "gold_accuracy_by_principle",
    "preferred_side",
]

#: Lower edges of the agreement bins (the last bin is the unanimous pairs).
AGREEMENT_BINS: tuple[tuple[float, str], ...] = (
    (1.0, "1 (unanimous)"),
    (0.8, "0.8-1"),
    (0.6, "0.6-0.8"),
    (0.0, "<0.6"),
)
#: A pair is contested when the share of votes behind ``chosen`` is at most this.
CONTESTED_LABEL = 0.6


def preferred_side() -> pl.Expr:
    """The side the reward prefers: ``a``, ``b`` or ``tie`` from ``reward_a, reward_b``."""
    return (
        pl.when(pl.col("reward_a") > pl.col("reward_b"))
        .then(pl.lit("a"))
        .when(pl.col("reward_a") < pl.col("reward_b"))
        .then(pl.lit("b"))
        .otherwise(pl.lit("tie"))
    )


def evaluate_scores(preferences: pl.DataFrame, scores: pl.DataFrame) -> pl.DataFrame:
    """Join ``frames.PREFERENCES`` with scores (``pair_id, reward_a, reward_b``).

    Adds ``p_a``, ``model_side`` (``a``, ``b`` or ``tie``), ``correct`` (the model prefers
    ``chosen``; null on tied pairs), ``vote_share_a`` (votes for a, ties half, "both bad" left
    out), ``vote_agreement``, ``model_pair`` and ``agreement_bin``.
    """
    a, b, tie = pl.col("votes_a"), pl.col("votes_b"), pl.col("votes_tie")
    models = pl.concat_list(
        pl.col("model_chosen").fill_null("?"), pl.col("model_rejected").fill_null("?")
    ).list.sort()
    agreement_bin = pl.lit(AGREEMENT_BINS[-1][1])
    for edge, label in reversed(AGREEMENT_BINS[:-1]):
        agreement_bin = (
            pl.when(pl.col("agreement") >= edge).then(pl.lit(label)).otherwise(agreement_bin)
        )
    joined = preferences.join(scores.select("pair_id", "reward_a", "reward_b"), on="pair_id")
    with_side = joined.with_columns(
        (1.0 / (1.0 + (pl.col("reward_b") - pl.col("reward_a")).exp())).alias("p_a"),
        preferred_side().alias("model_side"),
        ((a + 0.5 * tie) / (a + b + tie)).alias("vote_share_a"),
        models.list.join(" vs ").alias("model_pair"),
        agreement_bin.alias("agreement_bin"),
    )
    votes_for_model = (
        pl.when(pl.col("model_side") == "a")
        .then(a)
        .when(pl.col("model_side") == "b")
        .then(b)
        .otherwise((a + b) / 2)
    )
    return with_side.with_columns(
        pl.when(pl.col("is_tie"))
        .then(None)
        .otherwise(pl.col("model_side") == pl.col("chosen_side"))
        .alias("correct"),
        (votes_for_model / pl.col("n_judgments")).alias("vote_agreement"),
    )


def accuracy(evaluated: pl.DataFrame, by: str | None = None) -> pl.DataFrame:
    """Accuracy against the votes, overall or per value of ``by`` (e.g. ``category``,
    ``model_pair``, ``agreement_bin``), from ``evaluate_scores`` rows.

    Columns: ``n`` pairs, ``n_decided`` (non-tie pairs), ``accuracy`` (share of non-tie pairs
    where the model prefers ``chosen``), ``vote_agreement`` and its ``ceiling``.
    """
    stats = [
        pl.len().alias("n"),
        pl.col("correct").count().alias("n_decided"),
        pl.col("correct").mean().alias("accuracy"),
        pl.col("vote_agreement").mean().alias("vote_agreement"),
        pl.col("agreement").mean().alias("ceiling"),
    ]
    if by is None:
        return evaluated.select(stats)
    return (
        evaluated.group_by(pl.col(by).fill_null("(none)"))
        .agg(stats)
        .sort(["n", by], descending=[True, False])
    )


def accuracy_by_principle(evaluated: pl.DataFrame, judgments: pl.DataFrame) -> pl.DataFrame:
    """``accuracy`` per principle the votes on a pair cited (``frames.JUDGMENTS``'
    ``principles``): a pair is in the slice of every principle any of its votes cited, as in
    the audit's agreement by principle. Pairs whose votes cite none are left out."""
    cited = (
        judgments.select("pair_id", pl.col("principles").list.unique().alias("principle"))
        .explode("principle")
        .drop_nulls()
        .unique()
    )
    return accuracy(evaluated.join(cited, on="pair_id"), by="principle")


def gold_accuracy(evaluated: pl.DataFrame) -> dict[str, float | int]:
    """Against the intended answer, on pairs whose ``gold`` is ``a`` or ``b``: the model's
    accuracy beside the votes' (their ``chosen_side``) on the same pairs."""
    gold = evaluated.filter(pl.col("gold").is_in(["a", "b"]))
    if gold.is_empty():
        return {"n": 0, "model": math.nan, "votes": math.nan}
    model = gold.select((pl.col("model_side") == pl.col("gold")).mean()).item()
    votes = gold.select(
        ((pl.col("chosen_side") == pl.col("gold")) & ~pl.col("is_tie")).mean()
    ).item()
    return {"n": gold.height, "model": float(model), "votes": float(votes)}


def gold_accuracy_by_principle(evaluated: pl.DataFrame) -> pl.DataFrame:
    """``gold_accuracy`` per ``gold_principle`` (the principle the intended answer rests on,
    e.g. "honesty" for the fabrication items): ``gold_principle, n, model, votes``, most
    pairs first; pairs without a gold principle are left out."""
    gold = evaluated.filter(
        pl.col("gold").is_in(["a", "b"]) & pl.col("gold_principle").is_not_null()
    )
    return (
        gold.group_by("gold_principle")
        .agg(
            pl.len().alias("n"),
            (pl.col("model_side") == pl.col("gold")).mean().alias("model"),
            ((pl.col("chosen_side") == pl.col("gold")) & ~pl.col("is_tie")).mean().alias("votes"),
        )
        .sort(["n", "gold_principle"], descending=[True, False])
    )


def calibration(evaluated: pl.DataFrame, bins: int = 10) -> pl.DataFrame:
    """Reliability table: per bin of predicted ``p_a``, the pairs' ``n``, mean ``predicted``
    and mean ``observed`` vote share for ``a`` (pairs without a/b/tie votes left out)."""
    index = (pl.col("p_a") * bins).floor().clip(0, bins - 1).cast(pl.Int32)
    return (
        evaluated.filter(pl.col("vote_share_a").is_not_null())
        .group_by(index.alias("bin"))
        .agg(
            pl.len().alias("n"),
            pl.col("p_a").mean().alias("predicted"),
            pl.col("vote_share_a").mean().alias("observed"),
        )
        .with_columns(
            (pl.col("bin") / bins).alias("lower"), ((pl.col("bin") + 1) / bins).alias("upper")
        )
        .sort("bin")
        .select("lower", "upper", "n", "predicted", "observed")
    )


def expected_calibration_error(table: pl.DataFrame) -> float:
    """ECE of a ``calibration`` table: sum over bins of ``n / N * |predicted - observed|``.

    >>> expected_calibration_error(pl.DataFrame({"n": [1, 3], "predicted": [0.2, 0.8],
    ...                                          "observed": [0.0, 1.0]}))
    0.2
    """
    total = float(table["n"].sum())
    if not total:
        return math.nan
    gap = (table["predicted"] - table["observed"]).abs() * table["n"]
    return round(float(gap.sum()) / total, 12)


def divergences(
    evaluated: pl.DataFrame,
    judgments: pl.DataFrame | None = None,
    *,
    confident: float = 0.8,
    flagged_raters: Sequence[str] = (),
) -> pl.DataFrame:
    """Pairs where the model parts from the votes or from gold, one row per (pair, kind).

    Kinds: ``confidently wrong on a unanimous pair`` (every vote for one side, the model gives
    that side at most ``1 - confident``); ``confident on a contested pair`` (a tie or at most
    60% of the votes behind ``chosen``, the model at least ``confident`` either way);
    ``sides with a flagged rater`` (a rater of ``flagged_raters`` voted against the plurality
    and the model agrees with them); ``agrees with the votes, against gold``. Rows carry the
    texts and, when ``judgments`` (``frames.JUDGMENTS``) is given, every vote with its rationale.
    """
    p_chosen = (
        pl.when(pl.col("chosen_side") == "a").then(pl.col("p_a")).otherwise(1 - pl.col("p_a"))
    )
    confidence = pl.max_horizontal(pl.col("p_a"), 1 - pl.col("p_a"))
    decided = ~pl.col("is_tie")
    kinds = {
        "confidently wrong on a unanimous pair": decided
        & (pl.col("agreement") >= 1.0)
        & (p_chosen <= 1 - confident),
        "confident on a contested pair": (pl.col("is_tie") | (pl.col("label") <= CONTESTED_LABEL))
        & (confidence >= confident),
        "agrees with the votes, against gold": decided
        & pl.col("gold").is_in(["a", "b"])
        & (pl.col("chosen_side") != pl.col("gold"))
        & (pl.col("model_side") == pl.col("chosen_side")),
    }
    found = [
        evaluated.filter(condition).with_columns(pl.lit(kind).alias("kind"))
        for kind, condition in kinds.items()
    ]
    if judgments is not None and flagged_raters:
        dissent = judgments.filter(
            pl.col("rater_id").is_in(list(flagged_raters)), pl.col("choice").is_in(["a", "b"])
        ).select("pair_id", pl.col("choice").alias("_flagged_choice"))
        sided = evaluated.join(dissent, on="pair_id").filter(
            decided,
            pl.col("_flagged_choice") != pl.col("chosen_side"),
            pl.col("model_side") == pl.col("_flagged_choice"),
        )
        found.append(
            sided.drop("_flagged_choice")
            .unique("pair_id")
            .with_columns(pl.lit("sides with a flagged rater").alias("kind"))
        )
    columns = [
        "pair_id",
        "kind",
        "p_a",
        "vote_share_a",
        "agreement",
        "chosen_side",
        "gold",
        "category",
        "prompt",
        "response_a",
        "response_b",
    ]
    rows = pl.concat([frame.with_columns(confidence.alias("confidence")) for frame in found])
    rows = (
        rows.sort(["kind", "confidence"], descending=[False, True])
        .with_columns(
            pl.when(pl.col("chosen_side") == "a")
            .then(pl.col("chosen"))
            .otherwise(pl.col("rejected"))
            .alias("response_a"),
            pl.when(pl.col("chosen_side") == "a")
            .then(pl.col("rejected"))
            .otherwise(pl.col("chosen"))
            .alias("response_b"),
        )
        .select(columns)
    )
    if judgments is None:
        return rows
    votes = judgments.group_by("pair_id").agg(
        pl.struct("rater_id", "choice", "rationale").sort_by("rater_id").alias("votes")
    )
    return rows.join(votes, on="pair_id", how="left", maintain_order="left")
