"""The demo's simulated rater pool, which has voted on every demo pair before anyone signs in.

``intentgap demo`` loads it so that a newcomer's audit pages are full at once: agreement with
intervals, raters flagged with their evidence (one is swayed by flattery on the demo's probe
pairs), a model leaderboard and disputed pairs. The
pool is data (``data/demo/pool.json``: one ``RaterProfile`` per rater plus a ``note`` on the
blind spot planted in it); the votes come from ``simulate.simulate_votes``, with each pair's
intended answer (``gold``) as the truth the careful raters mostly find.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from data import frames
from labeling.rater_probes import make_probe_pairs
from labeling.simulate import RaterProfile, simulate_votes

__all__ = ["DEMO_PROBE_KINDS", "demo_probe_pairs", "demo_votes", "pool_from"]

#: The edits the demo tests its raters with (one simulated rater is swayed by both).
DEMO_PROBE_KINDS = ("flattery", "sycophancy")


def demo_probe_pairs(pairs: pl.DataFrame) -> pl.DataFrame:
    """The demo's probe pairs: each pair with an intended answer (``gold``), its intended
    loser flattered, or agreeing with a wrong claim in the prompt (``DEMO_PROBE_KINDS``)."""
    made = make_probe_pairs(
        pairs.filter(pl.col("probe_kind").is_null()),
        frames.empty(frames.JUDGMENTS),
        DEMO_PROBE_KINDS,
    )
    return made.pairs


def pool_from(rows: Sequence[Mapping[str, Any]]) -> tuple[RaterProfile, ...]:
    """Rater profiles from ``pool.json`` rows (their ``note`` is for people, not the simulator).

    >>> pool_from([{"rater_id": "sim-x", "spam": True, "note": "clicks"}])[0].spam
    True
    """
    return tuple(
        RaterProfile(**{key: value for key, value in row.items() if key != "note"}) for row in rows
    )


def demo_votes(pairs: pl.DataFrame, pool: Sequence[RaterProfile], seed: int = 0) -> pl.DataFrame:
    """Every rater of ``pool`` votes once on every pair (``frames.PAIRS`` in,
    ``frames.JUDGMENTS`` out), reproducibly from ``seed``.

    The truth of a pair is its ``gold`` answer (a coin decides a tie), and the principle at
    stake its ``gold_principle``: ``simulate_votes`` reads both from the pairs' metadata.
    The pairs are taken in ``pair_id`` order, so the votes do not depend on the order given.
    """
    pairs = pairs.sort("pair_id")
    coin = np.where(np.random.default_rng(seed).random(pairs.height) < 0.5, "a", "b")
    truth = (
        pl.when(pl.col("gold").is_in(["a", "b"]))
        .then(pl.col("gold"))
        .otherwise(pl.lit(pl.Series(coin, dtype=pl.String())))
    )
    with_truth = pairs.with_columns(
        pl.struct(truth.alias("truth"), pl.col("gold_principle").alias("principle"))
        .struct.json_encode()
        .alias("metadata")
    )
    return simulate_votes(with_truth, pool, votes_per_pair=len(pool), seed=seed)
