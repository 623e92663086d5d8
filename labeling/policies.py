"""Which pair a rater gets next: policies that rank the pairs of a project.

A policy is a small pure function of frames (no I/O)::

    policy(coverage, judgments, scores=None, *, pairs=None) -> pair_id, priority

- ``coverage``: what ``Store.coverage(project)`` returns, ``pair_id, is_gold, n_done,
  n_open`` (votes done and claims still out, per pair);
- ``judgments``: the project's ``frames.JUDGMENTS`` (every round counts);
- ``scores``: None, or a checkpoint's scores of both sides, ``pair_id, reward_a,
  reward_b`` (the columns of ``reward.score.SCORES``: ``labeling`` does not import
  ``reward``), one row per pair;
- ``pairs``: None, or the project's ``frames.PAIRS`` (``pair_id``, ``gold`` are read).

It returns one row per row of ``coverage``, in its order (``POLICY``): a Float64
``priority``, higher served first. Equal priorities keep the store's order: least covered
(``n_done + n_open``), then the rater's own shuffle, so raters spread over equal pairs.

What a policy does not decide is the store's: the overlap cap (a work pair gets at most
``overlap_k`` votes done and open), the gold and probe rates, and which pairs a rater has
already seen. Gold pairs (``is_gold``) are hidden checks the store serves from their own
stream at the project's rate; every policy gives them the uniform priority, so no policy
moves a gold item into work or changes which gold items a rater sees.

The policies (``POLICIES``):

- ``uniform``: least covered first (what the store did before policies):
  ``-(n_done + n_open)``.
- ``disputed``: pairs whose voters split rank first, by ``split_entropy``: the vote
  entropy over a / b / tie, expected under the Dirichlet posterior of the pair's vote shares
  (one pseudo-vote per choice), normalised to 0..1. The plain entropy of observed shares
  says 1-1 is as split as can be and 1-0 not at all; the posterior expectation corrects
  small counts. Before any vote a pair is expected to lean one way, so a seen 1-1 outranks
  an unvoted pair; 1-0 ties with 0-0 (the store's order serves 0-0 first); 3-1 and 2-0
  come next, 3-0 last.
- ``model``: pairs where a checkpoint's scores and the votes pull apart, by
  ``label_doubt``: the chance that the vote majority's label is wrong, when the model's
  margin (a Bradley-Terry log-odds) and each decisive vote (``RATER_ACCURACY``) are counted
  as evidence. It is highest where the model disagrees with the majority, then where the
  label rests on a few votes beside a model near its decision boundary (small margin), and
  low where votes and a confident model agree. Where gold is known it settles the truth:
  doubt is 0 when the majority names gold and 1 when it names something else (the raters
  diverge from intent there, and only votes can show whether by noise or a blind spot). A
  pair without a score counts as a margin of 0, so without scores ``model`` still ranks by
  the votes alone.

``disputed`` and ``model`` subtract one per open claim from a score in 0..1: a claim out on
a pair is a vote on its way, so pairs nobody holds come first.

Adding a policy: write a function with the signature above (the ``Policy`` protocol) that
computes a score per pair and returns ``_ranked(coverage, score)``, which applies the rules
every policy shares (gold pairs keep the uniform order, open claims count down, coverage
order, ``POLICY`` dtypes); add it to ``POLICIES`` under the name a project selects; add a
test to ``tests/labeling/test_policies.py`` that shows its order on hand-made votes (the
shared tests there run over ``POLICIES`` already); and run ``bench/bench_label_efficiency.py``
to see what it buys.

>>> coverage = pl.DataFrame({"pair_id": ["p1", "p2"], "is_gold": [False, False],
...                          "n_done": [2, 0], "n_open": [0, 1]})
>>> votes = pl.DataFrame({"pair_id": ["p1", "p1"], "choice": ["a", "b"]})
>>> POLICIES["disputed"](coverage, votes).with_columns(pl.col("priority").round(3)).rows()
[('p1', 0.804), ('p2', -0.241)]
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy import special

from labeling.aggregation import MajorityVote

__all__ = [
    "POLICIES",
    "POLICY",
    "RATER_ACCURACY",
    "SPLIT_PRIOR",
    "Policy",
    "disputed",
    "label_doubt",
    "model_guided",
    "split_entropy",
    "uniform",
]

FloatArray = npt.NDArray[np.float64]

#: A policy's answer: one row per pair of ``coverage``, higher ``priority`` served first.
POLICY: dict[str, pl.DataType] = {"pair_id": pl.String(), "priority": pl.Float64()}

#: Dirichlet pseudo-count per choice in ``split_entropy``. With 1, a pair at 2-1 outranks an
#: unvoted one but 3-1 does not (its fifth vote cannot change the label); Jeffreys' 1/2
#: ranks 3-1 above unvoted pairs too. In ``bench/bench_label_efficiency.py`` (600 pairs, 3
#: seeds) 1/2 needed 12% fewer votes than ``uniform`` for uniform's accuracy, 1 needed 21%.
SPLIT_PRIOR = 1.0
#: How often a decisive vote names the better side, for ``label_doubt``: each vote is worth
#: log(0.8 / 0.2) = 1.39 in log-odds, a little more than a margin of 1 from the model. The
#: simulated pools (``labeling.simulate.rater_pool``) agree with the truth 75-92% of the time.
RATER_ACCURACY = 0.8


class Policy(Protocol):
    """``(coverage, judgments, scores, *, pairs) -> POLICY``; see the module's docstring."""

    def __call__(
        self,
        coverage: pl.DataFrame,
        judgments: pl.DataFrame,
        scores: pl.DataFrame | None = None,
        *,
        pairs: pl.DataFrame | None = None,
    ) -> pl.DataFrame: ...


def split_entropy(
    votes_a: npt.ArrayLike, votes_b: npt.ArrayLike, votes_tie: npt.ArrayLike
) -> FloatArray:
    """How split a pair's voters are, 0..1: the entropy of its vote shares over a / b / tie,
    expected under their Dirichlet posterior (prior ``SPLIT_PRIOR`` per choice), over log 3.

    E[H] = ψ(A + 1) - Σ (α_i / A) ψ(α_i + 1) with α = votes + prior and A = Σ α (the mean
    entropy of a Dirichlet). Counts of 1-1 give more than none, none as much as 1-0, and
    3-0 less than 2-0: split voters rank first, settled ones last. Rounded to 12 decimals,
    so counts the formula ties (0-0 and 1-0) tie exactly and the store's order decides.

    >>> split_entropy([1, 0, 1, 2, 3], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]).round(3).tolist()
    [0.804, 0.759, 0.759, 0.713, 0.662]
    """
    alpha = np.column_stack([votes_a, votes_b, votes_tie]).astype(np.float64) + SPLIT_PRIOR
    total = alpha.sum(axis=1)
    expected = (
        special.digamma(total + 1.0) - (alpha * special.digamma(alpha + 1.0)).sum(axis=1) / total
    )
    return np.asarray(np.round(expected / math.log(3.0), 12), dtype=np.float64)


def label_doubt(
    margin: npt.ArrayLike,
    votes_a: npt.ArrayLike,
    votes_b: npt.ArrayLike,
    label: pl.Series,
    gold: pl.Series | None = None,
    rater_accuracy: float = RATER_ACCURACY,
) -> FloatArray:
    """The chance that each pair's majority ``label`` is wrong, 0..1, given the evidence.

    P(a is better) = σ(margin + w (votes_a - votes_b)) with w = logit(``rater_accuracy``):
    the model's margin ``reward_a - reward_b`` is a log-odds (the Bradley-Terry reward
    models are trained on), each decisive vote adds w for its side. A label ``a`` is wrong
    with 1 - P, ``b`` with P; no label (no votes, a shared top) or a tie / both-bad label is
    a coin flip, 1/2. Where ``gold`` is known the truth is: 0 when the label names it, 1
    when it names something else, 1/2 without a label.

    >>> one_vote_for_a = ([1, 1, 1], [0, 0, 0], pl.Series(["a", "a", "a"]))
    >>> label_doubt([0.0, -3.0, 3.0], *one_vote_for_a).round(3).tolist()
    [0.2, 0.834, 0.012]
    """
    log_odds = np.asarray(margin, dtype=np.float64) + math.log(
        rater_accuracy / (1.0 - rater_accuracy)
    ) * (np.asarray(votes_a, dtype=np.float64) - np.asarray(votes_b, dtype=np.float64))
    p_a = special.expit(log_odds)
    named = label.to_numpy()
    doubt = np.where(named == "a", 1.0 - p_a, np.where(named == "b", p_a, 0.5))
    if gold is not None:
        known = gold.is_not_null().to_numpy()
        has_label = label.is_not_null().to_numpy()
        settled = np.where(named == gold.to_numpy(), 0.0, 1.0)
        doubt = np.where(known, np.where(has_label, settled, 0.5), doubt)
    return np.asarray(doubt, dtype=np.float64)


def _votes(coverage: pl.DataFrame, judgments: pl.DataFrame) -> pl.DataFrame:
    """Per pair of ``coverage``, in its order: ``label`` (``MajorityVote``'s) and the counts
    ``votes_a``, ``votes_b``, ``votes_tie`` (both-bad votes count as ties: neither side)."""
    majority = MajorityVote().fit(judgments)
    count = pl.col("n").cast(pl.Float64)
    counts = majority.labels_.join(majority.probas_, on="pair_id").select(
        "pair_id",
        "label",
        (pl.col("a") * count).round().alias("votes_a"),
        (pl.col("b") * count).round().alias("votes_b"),
        ((pl.col("tie") + pl.col("both_bad")) * count).round().alias("votes_tie"),
    )
    return (
        coverage.select("pair_id")
        .join(counts, on="pair_id", how="left", maintain_order="left")
        .with_columns(pl.col("votes_a", "votes_b", "votes_tie").fill_null(0.0))
    )


def _ranked(coverage: pl.DataFrame, score: FloatArray) -> pl.DataFrame:
    """``POLICY`` from a score in 0..1 per work pair: minus one per open claim; gold pairs
    keep the uniform priority (the store serves them from their own stream)."""
    least_covered = -(pl.col("n_done") + pl.col("n_open")).cast(pl.Float64)
    return coverage.with_columns(pl.Series("score", score, dtype=pl.Float64)).select(
        pl.col("pair_id").cast(pl.String),
        pl.when(pl.col("is_gold").fill_null(False))
        .then(least_covered)
        .otherwise(pl.col("score") - pl.col("n_open").cast(pl.Float64))
        .alias("priority"),
    )


def uniform(
    coverage: pl.DataFrame,
    judgments: pl.DataFrame,
    scores: pl.DataFrame | None = None,
    *,
    pairs: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Least covered first: ``-(n_done + n_open)``; reads ``coverage`` only."""
    return coverage.select(
        pl.col("pair_id").cast(pl.String),
        -(pl.col("n_done") + pl.col("n_open")).cast(pl.Float64).alias("priority"),
    )


def disputed(
    coverage: pl.DataFrame,
    judgments: pl.DataFrame,
    scores: pl.DataFrame | None = None,
    *,
    pairs: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Split voters first: ``split_entropy`` of each pair's votes; reads no scores."""
    votes = _votes(coverage, judgments)
    return _ranked(
        coverage,
        split_entropy(votes["votes_a"], votes["votes_b"], votes["votes_tie"]),
    )


def model_guided(
    coverage: pl.DataFrame,
    judgments: pl.DataFrame,
    scores: pl.DataFrame | None = None,
    *,
    pairs: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Where the model and the votes pull apart first: ``label_doubt`` of each pair's label,
    with the margin ``reward_a - reward_b`` of ``scores`` (0 for a pair without one) and the
    ``gold`` of ``pairs`` (where known)."""
    votes = _votes(coverage, judgments)
    if scores is not None:
        if scores.get_column("pair_id").is_duplicated().any():
            raise ValueError("scores hold several rows for a pair: give one checkpoint's")
        margin = scores.select("pair_id", (pl.col("reward_a") - pl.col("reward_b")).alias("margin"))
        votes = votes.join(margin, on="pair_id", how="left", maintain_order="left")
    else:
        votes = votes.with_columns(pl.lit(None, pl.Float64).alias("margin"))
    gold = None
    if pairs is not None:
        gold = (
            votes.select("pair_id")
            .join(pairs.select("pair_id", "gold"), on="pair_id", how="left", maintain_order="left")
            .get_column("gold")
        )
    doubt = label_doubt(
        votes.get_column("margin").fill_nan(None).fill_null(0.0),
        votes["votes_a"],
        votes["votes_b"],
        votes["label"],
        gold,
    )
    return _ranked(coverage, doubt)


#: The policies a project may select, by name (see the module's docstring to add one).
POLICIES: dict[str, Policy] = {
    "uniform": uniform,
    "disputed": disputed,
    "model": model_guided,
}
