"""Disputed pairs: the one definition of which pairs' labels to doubt, most doubtful first.

Doubtlab style: each reason to doubt a pair's majority label is a named 0/1 predicate
(``predicate_<name>``), and pairs are ranked by how many fired, then by agreement. The
Disputed pairs page and ``intentgap audit`` both list ``disputed_pairs``.

A pair's votes are its ``agreement.counted_votes``: a rater's retest does not split their own
vote (their consistency is ``labeling.susceptibility``'s), and a probe pair, an artificial
test of the raters, is never listed: its label is known, and its votes were meant to be swayed.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from labeling.aggregation import MajorityVote, response_features
from labeling.agreement import counted_votes
from labeling.blind_spots import FAST_SECONDS_PER_KCHAR

__all__ = ["CONFUSED_ENTROPY", "CONTESTED_SHARE", "disputed_pairs", "pair_reasons"]

#: A pair is contested when its top choice has at most this share of the votes.
CONTESTED_SHARE = 0.5
#: A pair is confused when its vote entropy is at least this share of the most it could be
#: with that many votes (log of min(votes, choices)).
CONFUSED_ENTROPY = 0.9


def pair_reasons(
    judgments: pl.DataFrame, pairs: pl.DataFrame, findings: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Reasons to doubt each pair's majority label, one ``predicate_<name>`` column each.

    Consumes ``frames.JUDGMENTS``, ``frames.PAIRS`` and optionally ``blind_spots.FINDINGS``; counts
    the ``agreement.counted_votes`` (no retests; no probe pair gets a row). Reasons:
    ``low_agreement`` (top choice has at most half the votes, with 2+ votes), ``high_entropy`` (vote
    entropy at least 90% of the most possible with that many votes), ``lone_dissent`` (3+ votes, all
    but one agree), ``against_gold`` (majority differs from gold), ``fast_vote`` (a vote under the
    reading floor), ``flagged_rater`` (a vote by a rater flagged in ``findings``). Returns
    ``pair_id``, ``label``, ``agreement``, ``n``, ``entropy`` (normalised to 0..1), the predicates
    (0/1) and ``n_reasons``; most reasons first, then lowest agreement, then highest entropy, then
    ``pair_id``.
    """
    judgments = counted_votes(judgments, pairs)
    majority = MajorityVote().fit(judgments)
    shares = majority.probas_.drop("pair_id").to_numpy()
    n_choices = shares.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(np.where(shares > 0, shares * np.log(shares), 0.0), axis=1)
    most = np.log(np.minimum(majority.labels_.get_column("n").to_numpy(), n_choices))
    entropy = np.divide(entropy, most, out=np.zeros_like(entropy), where=most > 0)
    chars = response_features(pairs).select("pair_id", "chars")
    flagged_raters = (
        findings.filter(pl.col("flagged")).get_column("rater_id").unique()
        if findings is not None
        else pl.Series([], dtype=pl.String)
    )
    per_pair = (
        judgments.join(chars, on="pair_id", how="left")
        .group_by("pair_id")
        .agg(
            ((pl.col("seconds") / (pl.col("chars") / 1000.0)) < FAST_SECONDS_PER_KCHAR)
            .any()
            .alias("fast"),
            pl.col("rater_id").is_in(flagged_raters.implode()).any().alias("flagged"),
        )
    )
    frame = (
        majority.labels_.with_columns(pl.Series("entropy", entropy))
        .join(pairs.select("pair_id", "gold"), on="pair_id", how="left")
        .join(per_pair, on="pair_id", how="left")
    )
    n, agreement = pl.col("n"), pl.col("agreement")
    predicates = {
        "low_agreement": (n >= 2) & (agreement <= CONTESTED_SHARE),
        "high_entropy": (n >= 2) & (pl.col("entropy") >= CONFUSED_ENTROPY),
        "lone_dissent": (n >= 3) & ((agreement * n).round() == n - 1),
        "against_gold": pl.col("gold").is_not_null()
        & (pl.col("label").is_null() | (pl.col("label") != pl.col("gold"))),
        "fast_vote": pl.col("fast").fill_null(False),
        "flagged_rater": pl.col("flagged").fill_null(False),
    }
    columns = [
        expr.fill_null(False).cast(pl.Int8).alias(f"predicate_{name}")
        for name, expr in predicates.items()
    ]
    return (
        frame.select("pair_id", "label", "agreement", "n", "entropy", *columns)
        .with_columns(pl.sum_horizontal(r"^predicate_.*$").cast(pl.Int64).alias("n_reasons"))
        .sort(
            ["n_reasons", "agreement", "entropy", "pair_id"],
            descending=[True, False, True, False],
        )
    )


def disputed_pairs(
    judgments: pl.DataFrame,
    pairs: pl.DataFrame,
    findings: pl.DataFrame | None = None,
    n: int = 50,
) -> pl.DataFrame:
    """The ``n`` most disputed pairs: most reasons to doubt the label, then lowest agreement.

    Consumes ``frames.JUDGMENTS``, ``frames.PAIRS`` and optionally ``blind_spots.FINDINGS``.
    Returns ``pair_reasons``'s columns plus the pair's ``category`` and the first 80
    characters of its ``prompt``.
    """
    reasons = pair_reasons(judgments, pairs, findings)
    described = pairs.select(
        "pair_id", "category", pl.col("prompt").str.slice(0, 80).alias("prompt")
    )
    return reasons.head(n).join(described, on="pair_id", how="left", maintain_order="left")
