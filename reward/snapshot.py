"""The exported snapshot as training sees it: checked files, targets, and a split by prompt.

Reads only the snapshot folder (``data.export``); never the database.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from data import frames
from data.export import SnapshotError, read_snapshot
from labeling.bias_card import rater_weights
from labeling.preference_set import ExportOptions, build_preferences, kept_votes
from reward.config import TrainConfig

__all__ = [
    "TRAINING_PAIRS",
    "Snapshot",
    "SnapshotError",
    "held_out",
    "load_snapshot",
    "pairs_from_preferences",
    "training_pairs",
]

#: What training and evaluation consume: one row per pair, chosen/rejected text and the loss'
#: target (probability that ``chosen`` is preferred), margin and weight.
TRAINING_PAIRS: dict[str, pl.DataType] = {
    "pair_id": pl.String(),
    "prompt": pl.String(),
    "prompt_messages": pl.String(),
    "chosen": pl.String(),
    "rejected": pl.String(),
    "target": pl.Float64(),
    "margin": pl.Float64(),
    "weight": pl.Float64(),
    "is_tie": pl.Boolean(),
    "is_eval": pl.Boolean(),
}


@dataclass(frozen=True)
class Snapshot:
    """A verified snapshot folder: ``preferences`` (``frames.PREFERENCES``), ``judgments``
    (``frames.JUDGMENTS``) and the ``content_hash`` that names them."""

    folder: Path
    preferences: pl.DataFrame
    judgments: pl.DataFrame
    content_hash: str
    #: The export options the manifest records (how ``preferences`` was built).
    options: dict[str, Any]


def load_snapshot(folder: str | Path) -> Snapshot:
    """Read and verify a snapshot; raises ``SnapshotError`` naming the file and the problem
    (missing, unreadable, columns off-contract, bytes or row counts unlike the manifest)."""
    preferences, judgments, manifest = read_snapshot(Path(folder))
    return Snapshot(
        Path(folder), preferences, judgments, manifest.content_hash, dict(manifest.options)
    )


def held_out(prompts: pl.Series, eval_fraction: float, seed: int) -> pl.Series:
    """True for rows whose prompt is held out: the first ``ceil(fraction * n_prompts)``
    distinct prompts in a seeded hash order, so a prompt never sits on both sides and the
    split of a prompt does not depend on the other rows' order.

    >>> held_out(pl.Series(["q1", "q2", "q1", "q3"]), 0.3, seed=0).to_list()
    [False, False, False, True]
    """
    unique = prompts.unique().to_list()
    n_eval = math.ceil(round(eval_fraction * len(unique), 9))
    if eval_fraction < 1:
        n_eval = min(n_eval, len(unique) - 1)  # keep at least one prompt to train on
    ranked = sorted(unique, key=lambda prompt: _prompt_hash(prompt, seed))
    return prompts.is_in(ranked[:n_eval]).alias("is_eval")


def _prompt_hash(prompt: str, seed: int) -> str:
    return hashlib.blake2b(f"{seed}\x00{prompt}".encode(), digest_size=8).hexdigest()


def training_pairs(snapshot: Snapshot, config: TrainConfig) -> pl.DataFrame:
    """The pairs a run trains and evaluates on, in the ``TRAINING_PAIRS`` shape.

    Applies, in order: ``exclude_raters`` (labels recounted from the snapshot's judgments
    without them), ``ties`` (drop, or keep as target 0.5), ``labels`` (soft vote share or
    hard 1), ``use_margin``, ``weights``, ``max_pairs`` (first pairs by ``pair_id``) and the
    held-out split.

    ``weights`` naming a bias card (a ``.json`` file, e.g. the snapshot's ``bias_card.json``)
    weighs each vote instead of each pair: a vote is one term of the loss, ``w_r * BCE(r_c -
    r_r - margin, y)`` with its rater's weight ``w_r`` and ``y`` 1 for a vote for ``chosen``, 0
    for ``rejected``, 0.5 for a tie ("both bad" votes are not in the label, so not in the
    loss). As the loss is linear in its target, a pair's votes add up to one term: target =
    the weighted share sum(w_r * y) / sum(w_r) and weight = sum(w_r) over the pair's counted
    votes (those the snapshot's options keep, less ``exclude_raters``), so the weighted mean
    of the pair losses is the weighted mean over votes. A pair whose weighted share falls
    below 0.5 (the weights side with its minority) is turned round, ``chosen`` and
    ``rejected`` swapped and target 1 - share, and trains without a margin (the strength
    margin belongs to the side the plain votes chose). This needs ``labels="soft"``; every
    rater with a counted vote needs a weight in the card.
    """
    preferences = snapshot.preferences
    card = _card_weights(config.weights)
    if card is not None and config.labels != "soft":
        raise ValueError(
            f"weights from a bias card ({config.weights}) count each vote, which only the vote"
            f" shares do: train with labels 'soft', not {config.labels!r}"
        )
    if config.exclude_raters:
        preferences = _recount_without(snapshot, config.exclude_raters)
    if config.ties == "drop":
        preferences = preferences.filter(~pl.col("is_tie"))
    preferences = preferences.sort("pair_id")
    if config.max_pairs is not None:
        preferences = preferences.head(config.max_pairs)
    if preferences.is_empty():
        raise ValueError(f"snapshot {snapshot.folder} leaves no pairs to train on")
    if "posterior" in (config.labels, config.weights):
        _require_posterior(snapshot, preferences)
    hard = pl.when(pl.col("is_tie")).then(0.5).otherwise(1.0)
    target = {"soft": pl.col("label"), "hard": hard, "posterior": pl.col("posterior")}[
        config.labels
    ]
    margin = pl.col("margin").fill_null(0.0) if config.use_margin else pl.lit(0.0)
    chosen = preferences.with_columns(
        target.cast(pl.Float64).alias("target"),
        pl.when(pl.col("is_tie")).then(0.0).otherwise(margin).alias("margin"),
        held_out(preferences["prompt"], config.eval_fraction, config.seed),
    )
    if card is not None:
        votes = _counted_votes(snapshot, config.exclude_raters)
        weighted = _with_vote_weights(chosen, votes, card, source=config.weights)
    else:
        weighted = _with_weights(chosen, config.weights)
    return weighted.select(pl.col(name).cast(dtype) for name, dtype in TRAINING_PAIRS.items())


def _require_posterior(snapshot: Snapshot, preferences: pl.DataFrame) -> None:
    missing = preferences["posterior"].null_count()
    if missing:
        raise SnapshotError(
            snapshot.folder,
            f"has no Dawid-Skene posterior for {missing} of {preferences.height} pairs: "
            "export it with --posterior (or the export page's posterior switch)",
        )


def _with_weights(pairs: pl.DataFrame, weights: str) -> pl.DataFrame:
    if weights == "none":
        return pairs.with_columns(pl.lit(1.0).alias("weight"))
    if weights in ("agreement", "posterior"):
        return pairs.with_columns(pl.col(weights).alias("weight"))
    path = Path(weights)
    if not path.is_file():
        raise ValueError(
            "weights must be 'none', 'agreement', 'posterior', a Parquet file or a bias card"
            f" (.json); {path} is none"
        )
    table = pl.read_parquet(path)
    if not {"pair_id", "weight"} <= set(table.columns):
        raise ValueError(f"weights file {path} needs the columns pair_id, weight")
    joined = pairs.join(
        table.select("pair_id", pl.col("weight").cast(pl.Float64)), on="pair_id", how="left"
    )
    missing = joined.filter(pl.col("weight").is_null()).height
    if missing:
        raise ValueError(f"weights file {path} has no weight for {missing} training pair(s)")
    return joined


def _card_weights(weights: str) -> dict[str, float] | None:
    """The per-rater weights of the bias card ``weights`` names (a ``.json`` file), else None."""
    path = Path(weights)
    if path.suffix.lower() != ".json":
        return None
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"bias card {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"bias card {path} cannot be read: {error}") from None
    if not isinstance(card, dict):
        raise ValueError(f"bias card {path} is not a JSON object")
    try:
        return rater_weights(card)
    except ValueError as error:
        raise ValueError(f"bias card {path}: {error}") from None


def _counted_votes(snapshot: Snapshot, exclude_raters: tuple[str, ...]) -> pl.DataFrame:
    """The votes behind the training labels: the snapshot's judgments through the vote
    filters of its export options (and ``exclude_raters``), as ``build_preferences`` counts."""
    options = _export_options(snapshot, exclude_raters)
    return kept_votes(snapshot.judgments.lazy(), options).collect()


def _with_vote_weights(
    pairs: pl.DataFrame, votes: pl.DataFrame, weights: Mapping[str, float], *, source: str
) -> pl.DataFrame:
    """Target and weight from the votes weighed by rater (see ``training_pairs``)."""
    counted = votes.filter(pl.col("choice").is_in(("a", "b", "tie"))).join(
        pairs.select("pair_id", "chosen_side"), on="pair_id"
    )
    unweighed = (
        counted.filter(~pl.col("rater_id").is_in(list(weights)).fill_null(True))
        .get_column("rater_id")
        .fill_null("(no rater)")
        .unique()
        .sort()
        .to_list()
    )
    if unweighed:
        raise ValueError(f"bias card {source} has no weight for rater(s) {', '.join(unweighed)}")
    choice = pl.col("choice")
    per_pair = (
        counted.with_columns(
            vote_weight=pl.col("rater_id").replace_strict(weights, return_dtype=pl.Float64),
            prefers_chosen=pl.when(choice == "tie")
            .then(0.5)
            .otherwise((choice == pl.col("chosen_side")).cast(pl.Float64)),
        )
        .group_by("pair_id")
        .agg(
            pl.col("vote_weight").sum().alias("weight"),
            (pl.col("vote_weight") * pl.col("prefers_chosen")).sum().alias("weight_for_chosen"),
        )
    )
    weight = pl.col("weight").fill_null(0.0)
    share = (
        pl.when(weight > 0).then(pl.col("weight_for_chosen") / weight).otherwise(pl.col("target"))
    )
    turned = pl.col("share") < 0.5

    def side(if_kept: str, if_turned: str) -> pl.Expr:
        return pl.when(turned).then(pl.col(if_turned)).otherwise(pl.col(if_kept))

    return (
        pairs.join(per_pair, on="pair_id", how="left")
        .with_columns(share.alias("share"), weight.alias("weight"))
        .with_columns(
            side("chosen", "rejected").alias("chosen"),
            side("rejected", "chosen").alias("rejected"),
            pl.when(turned).then(1.0 - pl.col("share")).otherwise(pl.col("share")).alias("target"),
            pl.when(turned).then(0.0).otherwise(pl.col("margin")).alias("margin"),
        )
    )


def pairs_from_preferences(preferences: pl.DataFrame) -> pl.DataFrame:
    """Back from ``frames.PREFERENCES`` to the pairs' own sides (``frames.PAIRS``)."""
    chosen_is_a = pl.col("chosen_side") == "a"

    def side(if_a: str, if_b: str) -> pl.Expr:
        return pl.when(chosen_is_a).then(pl.col(if_a)).otherwise(pl.col(if_b))

    return frames.conform(
        preferences.with_columns(
            side("chosen", "rejected").alias("response_a"),
            side("rejected", "chosen").alias("response_b"),
            side("model_chosen", "model_rejected").alias("model_a"),
            side("model_rejected", "model_chosen").alias("model_b"),
        ),
        frames.PAIRS,
    )


def _recount_without(snapshot: Snapshot, raters: tuple[str, ...]) -> pl.DataFrame:
    """Leave-raters-out: the preference set the snapshot's votes give without ``raters``."""
    unknown = set(raters) - set(snapshot.judgments["rater_id"].drop_nulls().to_list())
    if unknown:
        raise ValueError(f"snapshot {snapshot.folder} has no votes by {', '.join(sorted(unknown))}")
    pairs = pairs_from_preferences(snapshot.preferences)
    return build_preferences(pairs, snapshot.judgments, _export_options(snapshot, raters))


def _export_options(snapshot: Snapshot, exclude_raters: tuple[str, ...]) -> ExportOptions:
    """The options the snapshot was exported with, leaving ``exclude_raters`` out as well."""
    options = dict(snapshot.options)
    options["exclude_raters"] = (*options.get("exclude_raters", ()), *exclude_raters)
    return ExportOptions.from_dict(options)
