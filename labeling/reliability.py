"""Who can be trusted: Dawid-Skene, per-rater reliability and its drift over time.

Frames in: judgments in the ``frames.JUDGMENTS`` contract (``pair_id, rater_id, round, choice,
seconds, created_at`` are read; missing columns count as null) and pairs in the
``frames.PAIRS`` contract (``pair_id, gold`` and what ``agreement.item_votes`` reads).

Dawid-Skene treats each ``pair_id`` as a task, so its posteriors are per pair and read from
the pair's own sides (the soft label that export needs). The leave-one-out consensus works
on items (``agreement.item_votes``): a rater's vote is compared with the majority of the
*other* raters' votes on the same item.

Every function here counts ``agreement.counted_votes``: each rater's first vote on each pair
(a retest is a consistency check, ``labeling.susceptibility``'s, not another vote) and, given
the pairs, none on a probe pair (an artificial test of the raters, not data to trust them by).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy import sparse

from data import frames
from labeling.aggregation import leave_one_out_consensus
from labeling.agreement import counted_votes, first_item_votes
from labeling.codes import choice_codes, dense_codes

__all__ = ["DawidSkene", "consensus_drift", "loo_consensus", "rater_reliability"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

#: Floor for probabilities before taking logs (crowd-kit's value, so results match it).
_EPS = 1e-10


class DawidSkene:
    """Dawid & Skene (1979): every rater has a confusion matrix, every pair a latent label.

    EM as in crowd-kit's ``DawidSkene``: start from the majority-vote shares of each pair,
    then alternate the M-step (per-rater confusion matrices, floored at 1e-10 on the labels
    the rater used, and label priors) and the E-step (posteriors), stopping after ``n_iter``
    rounds or once the evidence lower bound per vote improves by less than ``tol``. Every
    step is one sparse product of the votes matrix with a small dense one.

    ``fit`` consumes ``frames.JUDGMENTS`` (``pair_id, rater_id, choice``; ``round`` to tell
    retests) and, optionally, ``frames.PAIRS`` (``pair_id, probe_kind``); it fits the
    ``agreement.counted_votes``, so probe pairs (given the pairs) get no posterior. Learned state:
    ``probas_`` (``pair_id`` and one posterior column per observed choice), ``labels_``
    (``pair_id, choice``), ``priors_`` (``choice, prior``), ``errors_`` (``rater_id, choice,
    true_choice, probability``: P(rater says ``choice`` | truth is ``true_choice``); zero
    for choices the rater never made), ``loss_history_`` and ``n_iter_``.

    >>> votes = pl.DataFrame({"pair_id": ["p1", "p1", "p1", "p2", "p2", "p2"],
    ...                       "rater_id": ["r1", "r2", "r3"] * 2,
    ...                       "choice": ["a", "a", "b", "b", "b", "b"]})
    >>> DawidSkene(n_iter=10).fit(votes).labels_.rows()
    [('p1', 'a'), ('p2', 'b')]
    """

    probas_: pl.DataFrame
    labels_: pl.DataFrame
    priors_: pl.DataFrame
    errors_: pl.DataFrame
    loss_history_: list[float]
    n_iter_: int

    def __init__(self, n_iter: int = 100, tol: float = 1e-5) -> None:
        self.n_iter = n_iter
        self.tol = tol

    def fit(self, judgments: pl.DataFrame, pairs: pl.DataFrame | None = None) -> DawidSkene:
        votes = counted_votes(frames.conform(judgments, frames.JUDGMENTS), pairs)
        if votes.is_empty():
            return self._fit_nothing()
        task, pair_ids = dense_codes(votes["pair_id"])
        rater, rater_ids = dense_codes(votes["rater_id"])
        observed = set(votes["choice"].unique())
        labels = [choice for choice in frames.CHOICES if choice in observed]
        label = choice_codes(votes["choice"], tuple(labels))
        n_tasks, n_raters, n_labels = len(pair_ids), len(rater_ids), len(labels)
        # counts[task, rater * K + said]: the votes as a sparse matrix, so that both EM steps
        # are one sparse product each.
        cell = rater * n_labels + label
        counts = sparse.csr_array(
            (np.ones(len(task)), (task, cell)), shape=(n_tasks, n_raters * n_labels)
        )
        said = np.bincount(cell, minlength=n_raters * n_labels) > 0

        posteriors = self._majority_shares(task, label, n_tasks, n_labels)
        priors = posteriors.mean(axis=0)
        sums = counts.T @ posteriors
        errors = self._m_step(sums, said, n_labels)
        loss, history = -math.inf, []
        for _ in range(self.n_iter):
            posteriors = self._e_step(counts, priors, errors)
            priors = posteriors.mean(axis=0)
            sums = counts.T @ posteriors
            errors = self._m_step(sums, said, n_labels)
            new_loss = self._evidence_lower_bound(sums, posteriors, priors, errors) / len(task)
            history.append(new_loss)
            if new_loss - loss < self.tol:
                break
            loss = new_loss

        confusion = errors.reshape(n_raters, n_labels, n_labels)
        self.probas_ = pl.DataFrame(
            {"pair_id": pair_ids, **{name: posteriors[:, k] for k, name in enumerate(labels)}}
        )
        self.labels_ = pl.DataFrame(
            {
                "pair_id": pair_ids,
                "choice": pl.Series(posteriors.argmax(axis=1)).replace_strict(
                    dict(enumerate(labels)), return_dtype=pl.String
                ),
            },
        )
        self.priors_ = pl.DataFrame(
            {"choice": labels, "prior": priors}, schema={"choice": pl.String, "prior": pl.Float64}
        )
        grid = np.indices(confusion.shape).reshape(3, -1)
        self.errors_ = pl.DataFrame(
            {
                "rater_id": rater_ids.gather(grid[0]),
                "choice": pl.Series([labels[k] for k in grid[1]], dtype=pl.String),
                "true_choice": pl.Series([labels[k] for k in grid[2]], dtype=pl.String),
                "probability": confusion.reshape(-1),
            }
        )
        self.loss_history_ = history
        self.n_iter_ = len(history)
        return self

    def _fit_nothing(self) -> DawidSkene:
        self.probas_ = pl.DataFrame(schema={"pair_id": pl.String})
        self.labels_ = pl.DataFrame(schema={"pair_id": pl.String, "choice": pl.String})
        self.priors_ = pl.DataFrame(schema={"choice": pl.String, "prior": pl.Float64})
        self.errors_ = pl.DataFrame(
            schema={
                "rater_id": pl.String,
                "choice": pl.String,
                "true_choice": pl.String,
                "probability": pl.Float64,
            }
        )
        self.loss_history_ = []
        self.n_iter_ = 0
        return self

    def fit_predict(
        self, judgments: pl.DataFrame, pairs: pl.DataFrame | None = None
    ) -> pl.DataFrame:
        """``labels_`` after ``fit``."""
        return self.fit(judgments, pairs).labels_

    def fit_predict_proba(
        self, judgments: pl.DataFrame, pairs: pl.DataFrame | None = None
    ) -> pl.DataFrame:
        """``probas_`` after ``fit``."""
        return self.fit(judgments, pairs).probas_

    @staticmethod
    def _majority_shares(task: Ints, label: Ints, n_tasks: int, n_labels: int) -> Floats:
        counts = np.bincount(task * n_labels + label, minlength=n_tasks * n_labels)
        shares = counts.reshape(n_tasks, n_labels).astype(np.float64)
        result: Floats = shares / shares.sum(axis=1, keepdims=True)
        return result

    @staticmethod
    def _m_step(sums: Floats, said: npt.NDArray[np.bool_], n_labels: int) -> Floats:
        """Confusion matrices ``[rater * K + said, truth]``: each rater's truth columns sum to 1.

        ``sums`` adds the posteriors of the tasks behind each (rater, said) cell.
        """
        # Floor only the labels a rater used: those never said keep probability zero.
        floored = np.where(said[:, np.newaxis], np.maximum(sums, _EPS), 0.0)
        per_rater = floored.reshape(-1, n_labels, n_labels)
        errors: Floats = (per_rater / per_rater.sum(axis=1, keepdims=True)).reshape(sums.shape)
        return errors

    @staticmethod
    def _e_step(counts: Any, priors: Floats, errors: Floats) -> Floats:
        """Posteriors ``[task, truth]`` given priors and confusion matrices (in log space)."""
        log_errors = np.log(np.where(errors > 0, errors, 1.0))  # zeros are never looked up
        log_likelihood = np.log(np.maximum(priors, _EPS)) + counts @ log_errors
        scaled = np.exp(log_likelihood - log_likelihood.max(axis=1, keepdims=True))
        result: Floats = scaled / scaled.sum(axis=1, keepdims=True)
        return result

    @staticmethod
    def _evidence_lower_bound(
        sums: Floats, posteriors: Floats, priors: Floats, errors: Floats
    ) -> float:
        """Expected complete log-likelihood plus posterior entropy (crowd-kit's loss).

        The expectation over votes of ``log e[rater, said, truth] + log prior[truth]`` is
        read from the M-step's sums, which already add each vote's posterior per cell.
        """
        log_errors = np.log(np.where(errors > 0, errors, 1.0))
        log_priors = np.log(np.maximum(priors, _EPS))
        expectation = float((sums * log_errors).sum() + sums.sum(axis=0) @ log_priors)
        floored = np.maximum(posteriors, _EPS)
        entropy = float(-(floored * np.log(floored)).sum())
        return expectation + entropy


# ----------------------------------------------------------------------------- consensus


def loo_consensus(judgments: pl.DataFrame, pairs: pl.DataFrame | None = None) -> pl.DataFrame:
    """Each rater's first vote per item next to the majority of the *other* raters there.

    Consumes ``frames.JUDGMENTS`` and ``frames.PAIRS``. Returns ``agreement.item_votes``'s
    columns (one row per rater and item: ``agreement.first_item_votes``, so no retest and
    no probe pair) plus ``n_others`` (other raters' votes on the item), ``consensus`` (their
    majority choice on the item's sides, as ``aggregation.leave_one_out_consensus`` defines
    it over these votes; null when nobody else voted or the others are split evenly at the
    top) and ``agrees`` (``item_choice == consensus``; null without a consensus).

    >>> votes = pl.DataFrame({"pair_id": ["p1"] * 3, "rater_id": ["r1", "r2", "r3"],
    ...                       "choice": ["a", "a", "b"]})
    >>> loo_consensus(votes).select("rater_id", "consensus", "agrees").rows()
    [('r1', None, None), ('r2', None, None), ('r3', 'a', False)]
    """
    votes = first_item_votes(judgments, pairs).sort("item_id", "rater_id")
    others = leave_one_out_consensus(votes, pairs)
    return votes.with_columns(
        n_others=others.get_column("n_others"),
        consensus=others.get_column("item_consensus"),
    ).with_columns(agrees=pl.col("item_choice") == pl.col("consensus"))


def _wilson(successes: pl.Expr, trials: pl.Expr, confidence: float) -> tuple[pl.Expr, pl.Expr]:
    """Wilson score interval of a proportion (null when there are no trials)."""
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    share = successes / trials
    centre = (share + z**2 / (2 * trials)) / (1 + z**2 / trials)
    half = z * (share * (1 - share) / trials + z**2 / (4 * trials**2)).sqrt() / (1 + z**2 / trials)
    valid = trials > 0
    return pl.when(valid).then(centre - half), pl.when(valid).then(centre + half)


# ----------------------------------------------------------------------------- per rater


def rater_reliability(
    judgments: pl.DataFrame,
    pairs: pl.DataFrame,
    posteriors: pl.DataFrame | None = None,
    *,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """One row per rater: volume, speed, ties, and accuracy against gold, peers and DS.

    Consumes ``frames.JUDGMENTS``, ``frames.PAIRS`` (``gold``, ``probe_kind`` and what
    ``item_votes`` reads) and ``posteriors`` as in ``DawidSkene.probas_`` (fitted here when
    None). Counts the ``agreement.counted_votes``: retests and votes on probe pairs are the
    raters' tests, read by ``labeling.susceptibility``, and a probe's gold is not a gold
    item. Columns: ``rater_id, n`` (counted votes), ``share`` (of them), ``tie_rate``,
    ``median_seconds``, ``gold_n, gold_accuracy`` (judgments on any pair with a gold answer,
    hidden gold items or not), ``consensus_n, consensus_accuracy`` (against the leave-one-out
    consensus, see ``loo_consensus``), each accuracy with a Wilson interval
    (``*_ci_low, *_ci_high``), and ``ds_accuracy`` (mean Dawid-Skene posterior of the
    choices the rater made).
    """
    votes = counted_votes(frames.conform(judgments, frames.JUDGMENTS), pairs)
    gold = frames.conform(pairs, frames.PAIRS).select("pair_id", "gold")
    if posteriors is None:
        posteriors = DawidSkene().fit(votes).probas_
    # A choice without a posterior column had posterior 0; a pair without posteriors is skipped.
    posterior_long = posteriors.unpivot(index="pair_id", variable_name="choice", value_name="p")
    # Decided once per vote, before grouping: inside the aggregation the membership test ran
    # once per rater over every pair (seconds at a million votes).
    has_posterior = pl.col("pair_id").is_in(posteriors["pair_id"].implode())
    posterior = pl.col("p")

    volume = (
        votes.join(gold, on="pair_id", how="left")
        .join(posterior_long, on=["pair_id", "choice"], how="left")
        .with_columns(p=pl.when(has_posterior).then(pl.col("p").fill_null(0.0)))
        .group_by("rater_id")
        .agg(
            n=pl.len().cast(pl.Int64),
            tie_rate=(pl.col("choice") == "tie").mean(),
            median_seconds=pl.col("seconds").median(),
            gold_n=pl.col("gold").is_not_null().sum().cast(pl.Int64),
            gold_hits=(pl.col("choice") == pl.col("gold")).sum().cast(pl.Int64),
            ds_accuracy=posterior.mean(),
        )
    )
    consensus = (
        loo_consensus(votes, pairs)
        .group_by("rater_id")
        .agg(
            consensus_n=pl.col("agrees").is_not_null().sum().cast(pl.Int64),
            consensus_hits=pl.col("agrees").sum().cast(pl.Int64),
        )
    )
    gold_low, gold_high = _wilson(pl.col("gold_hits"), pl.col("gold_n"), confidence)
    peer_low, peer_high = _wilson(pl.col("consensus_hits"), pl.col("consensus_n"), confidence)
    return (
        volume.join(consensus, on="rater_id", how="left")
        .with_columns(pl.col("consensus_n", "consensus_hits").fill_null(0))
        .select(
            "rater_id",
            "n",
            share=pl.col("n") / pl.col("n").sum(),
            tie_rate=pl.col("tie_rate"),
            median_seconds=pl.col("median_seconds"),
            gold_n=pl.col("gold_n"),
            gold_accuracy=pl.when(pl.col("gold_n") > 0).then(
                pl.col("gold_hits") / pl.col("gold_n")
            ),
            gold_ci_low=gold_low,
            gold_ci_high=gold_high,
            consensus_n=pl.col("consensus_n"),
            consensus_accuracy=pl.when(pl.col("consensus_n") > 0).then(
                pl.col("consensus_hits") / pl.col("consensus_n")
            ),
            consensus_ci_low=peer_low,
            consensus_ci_high=peer_high,
            ds_accuracy=pl.col("ds_accuracy"),
        )
        .sort("rater_id")
    )


def consensus_drift(
    judgments: pl.DataFrame,
    pairs: pl.DataFrame | None = None,
    *,
    every: str = "1w",
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Accuracy against the leave-one-out consensus per rater and time window.

    Consumes ``frames.JUDGMENTS`` (``created_at`` places a vote in a window; votes without it
    are left out) and ``frames.PAIRS``. ``every`` is a polars duration (``"1d"``, ``"1w"``,
    ``"1mo"``). Returns ``rater_id, window`` (its start), ``n`` (votes with a consensus),
    ``accuracy, ci_low, ci_high`` (Wilson), sorted by rater and window.
    """
    low, high = _wilson(pl.col("hits"), pl.col("n"), confidence)
    return (
        loo_consensus(judgments, pairs)
        .filter(pl.col("agrees").is_not_null() & pl.col("created_at").is_not_null())
        .group_by("rater_id", window=pl.col("created_at").dt.truncate(every))
        .agg(n=pl.len().cast(pl.Int64), hits=pl.col("agrees").sum().cast(pl.Int64))
        .select(
            "rater_id",
            "window",
            "n",
            accuracy=pl.col("hits") / pl.col("n"),
            ci_low=low,
            ci_high=high,
        )
        .sort("rater_id", "window")
    )
