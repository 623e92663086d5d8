"""The raters' blind spots tested on the reward model too, side by side.

The model votes on every scored pair for the side it rewards more, and that vote goes through
the audit's own checks (``labeling.blind_spots``) beside every rater's votes: the same
regression of choice on length and Markdown against the reference, the same category and
gold slices, one Benjamini-Hochberg correction over model and raters together. A flagged
model finding that a flagged rater shares (same kind, slice and direction) reads as "the model
may have inherited r05's length blind spot": the votes it learned from carried it.

Position, speed, ties, principles and drift have no meaning for a model (the A/B swap probe
tests position), so those checks are left out. The probe pairs' test, edit by edit, is
``reward.edit_by_edit``.

``snapshot_pairs`` marks a snapshot's probe pairs (its ``probes.parquet``) among its pairs
(``edit_by_edit.mark_probes``), so the audit of a snapshot (``audit_findings``) runs the probe
check too and counts what the audit of the store counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from data import frames
from data.export import read_probes
from labeling.blind_spots import (
    audit_votes,
    check_category,
    check_gold,
    check_length,
    check_style,
    find_blind_spots,
    flag_findings,
)
from reward.edit_by_edit import mark_probes
from reward.metrics import preferred_side
from reward.snapshot import Snapshot, pairs_from_preferences

__all__ = [
    "MODEL_CHECKS",
    "audit_findings",
    "audit_flags",
    "inherited",
    "model_votes",
    "side_by_side",
    "snapshot_pairs",
]

MODEL_CHECKS = (check_length, check_style, check_category, check_gold)


def snapshot_pairs(snapshot: Snapshot) -> pl.DataFrame:
    """The snapshot's pairs (``frames.PAIRS``, on their own sides) with the probe pairs of
    its ``probes.parquet`` marked and, where it left their texts out, rebuilt from their bases
    (``edit_by_edit.mark_probes``)."""
    pairs = pairs_from_preferences(snapshot.preferences)
    return mark_probes(pairs, read_probes(snapshot.folder))


def audit_findings(snapshot: Snapshot, pairs: pl.DataFrame | None = None) -> pl.DataFrame:
    """``labeling.blind_spots.find_blind_spots`` of the snapshot's votes (every check, one
    correction) on ``pairs`` (default: ``snapshot_pairs``)."""
    pairs = snapshot_pairs(snapshot) if pairs is None else pairs
    return find_blind_spots(snapshot.judgments, pairs)


def audit_flags(snapshot: Snapshot, findings: pl.DataFrame | None = None) -> dict[str, list[str]]:
    """Every rater of the snapshot's votes with the blind-spot kinds the audit flags for them
    (``findings``, default ``audit_findings``; an empty list: nothing flagged)."""
    findings = audit_findings(snapshot) if findings is None else findings
    flagged = findings.filter("flagged").group_by("rater_id").agg(pl.col("kind").unique().sort())
    kinds = {str(rater): list(found) for rater, found in flagged.iter_rows()}
    raters = snapshot.judgments["rater_id"].drop_nulls().unique().sort().to_list()
    return {str(rater): kinds.get(str(rater), []) for rater in raters}


def model_votes(scores: pl.DataFrame, rater_id: str) -> pl.DataFrame:
    """The model as a rater: ``frames.JUDGMENTS`` rows choosing the side with the higher
    reward (``tie`` when equal) from ``pair_id, reward_a, reward_b``."""
    votes = scores.select(
        "pair_id",
        pl.lit(rater_id).alias("rater_id"),
        preferred_side().alias("choice"),
        pl.concat_str(pl.lit(rater_id + ":"), "pair_id").alias("submission_id"),
        pl.lit(0).alias("round"),
    )
    return frames.conform(votes, frames.JUDGMENTS)


def side_by_side(
    pairs: pl.DataFrame,
    judgments: pl.DataFrame,
    scores: pl.DataFrame,
    model_rater: str,
    *,
    alpha: float = 0.05,
) -> pl.DataFrame:
    """``labeling.blind_spots.FINDINGS`` for the model (as ``model_rater``) and every rater.

    Consumes ``frames.PAIRS`` (every pair the raters voted on, so their tests use all their
    votes), ``frames.JUDGMENTS`` and the model's scores on some of those pairs. The model's
    reference is the raters' majority (or gold); the raters' references never include the
    model's vote. Adds ``is_model``.
    """
    judgments = frames.conform(judgments, frames.JUDGMENTS).filter(
        pl.col("choice").is_not_null() & (pl.col("rater_id") != model_rater)
    )
    raters = audit_votes(judgments, pairs)
    voted = pl.concat([judgments, model_votes(scores, model_rater)])
    model = audit_votes(voted, pairs).filter(pl.col("rater_id") == model_rater)
    votes = pl.concat([raters, model])
    found = pl.concat([check(votes) for check in MODEL_CHECKS], how="vertical")
    return (
        flag_findings(found, alpha)
        .with_columns((pl.col("rater_id") == model_rater).alias("is_model"))
        .sort(["is_model", "q_value", "rater_id"], descending=[True, False, False], nulls_last=True)
    )


def inherited(findings: pl.DataFrame, model_rater: str) -> list[dict[str, Any]]:
    """The model's flagged findings that flagged raters share (same kind, slice and sign of
    effect): ``kind, slice, effect, raters`` (``rater_id, effect`` each) and a sentence."""
    flagged = findings.filter(pl.col("flagged"))
    model = flagged.filter(pl.col("rater_id") == model_rater)
    raters = flagged.filter(pl.col("rater_id") != model_rater)
    shared = []
    for row in model.iter_rows(named=True):
        same = raters.filter(
            (pl.col("kind") == row["kind"])
            & (pl.col("slice") == row["slice"])
            & (pl.col("effect").sign() == np.sign(row["effect"]))
        ).sort("q_value")
        if same.is_empty():
            continue
        who = same.select("rater_id", "effect").to_dicts()
        names = ", ".join(str(r["rater_id"]) for r in who)
        effects = ", ".join(f"{r['rater_id']} {r['effect']:+.2f}" for r in who)
        shared.append(
            {
                "kind": row["kind"],
                "slice": row["slice"],
                "effect": row["effect"],
                "raters": who,
                "message": (
                    f"The model may have inherited the {row['kind']} blind spot of {names} "
                    f"({row['slice']}): effect {row['effect']:+.2f} against {effects}."
                ),
            }
        )
    return shared
