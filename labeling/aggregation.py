"""From votes to labels and to a leaderboard of the models that wrote the responses.

- ``response_features``: length and Markdown structure of each pair's two responses, the
  covariates that style control and the length/style blind-spot checks share.
- ``MajorityVote``: the plain per-pair label.
- ``leave_one_out_consensus``: for each vote, the majority of the *other* raters on that
  comparison (reversed pairs included), the reference a rater is compared with when a pair
  has no gold.
- ``BradleyTerry``: model strengths on an Elo-like scale with ties (Davidson or Rao-Kupper),
  bootstrap intervals (reweighting votes), and optional style control (log length ratio and Markdown
  counts as covariates, as Chatbot Arena does). ``leaderboard`` puts the plain and the
  style-controlled fits side by side, so a reader sees how much of a model's lead is length.

All of them count what ``agreement.counted_votes`` counts: each rater's first vote on each
pair (later rounds are retests) and, given the pairs, no probe pair. All functions take frames
in the ``data.frames`` contracts and do no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Self

import numpy as np
import numpy.typing as npt
import polars as pl

from data import frames
from labeling.agreement import counted_votes, item_votes
from labeling.codes import choice_codes, choice_names, dense_codes
from labeling.memo import remember_last

__all__ = [
    "LEADERBOARD",
    "STYLE_FEATURES",
    "BradleyTerry",
    "MajorityVote",
    "leaderboard",
    "leave_one_out_consensus",
    "response_features",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Markdown structure as Chatbot Arena's style control counts it.
_HEADER = r"(?m)^#{1,6}\s"
_LIST_ITEM = r"(?m)^[ \t]*(?:[-*+]|\d+[.)])\s"
_BOLD = r"\*\*[^*\n]+\*\*|__[^_\n]+__"

#: Covariates ``response_features`` computes, each "response a minus response b":
#: ``length`` is log((1 + chars_a) / (1 + chars_b)); the Markdown ones are
#: log1p(count_a) - log1p(count_b); ``markdown`` pools headers, list items and bold.
STYLE_FEATURES: tuple[str, ...] = ("length", "headers", "lists", "bold", "markdown")

#: ``leaderboard``'s columns.
LEADERBOARD: dict[str, pl.DataType] = {
    "model": pl.String(),
    "rank": pl.Int64(),
    "score": pl.Float64(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
    "n_votes": pl.Int64(),
    "win_rate": pl.Float64(),
    "style_rank": pl.Int64(),
    "style_score": pl.Float64(),
    "style_ci_low": pl.Float64(),
    "style_ci_high": pl.Float64(),
    "style_shift": pl.Float64(),
}

#: Elo-like scale: 400 points per factor 10 in odds, centred on 1000 (Chatbot Arena's scale).
ELO_BASE = 1000.0
ELO_SCALE = 400.0 / math.log(10.0)


@remember_last  # the audit's blind spots and leaderboard read the same pairs' features
def response_features(pairs: pl.DataFrame) -> pl.DataFrame:
    """Length and Markdown covariates of each pair, "response a minus response b".

    Consumes ``frames.PAIRS`` (``pair_id``, ``prompt``, ``response_a``, ``response_b``).
    Returns ``pair_id``, ``chars`` (prompt plus both responses: what a rater has to read),
    ``chars_a``, ``chars_b`` and one column per name in ``STYLE_FEATURES``.

    >>> pairs = pl.DataFrame({"pair_id": ["p"], "prompt": ["?"],
    ...     "response_a": ["# Plan\\n- one\\n- **two**"], "response_b": ["ok"]})
    >>> row = response_features(pairs).row(0, named=True)
    >>> row["chars"], row["chars_a"], row["chars_b"], round(row["lists"], 4)
    (25, 22, 2, 1.0986)
    """

    def counts(column: str) -> list[pl.Expr]:
        text = pl.col(column)
        return [
            text.str.len_chars().cast(pl.Float64).alias(f"{column}_chars"),
            text.str.count_matches(_HEADER).cast(pl.Float64).alias(f"{column}_headers"),
            text.str.count_matches(_LIST_ITEM).cast(pl.Float64).alias(f"{column}_lists"),
            text.str.count_matches(_BOLD).cast(pl.Float64).alias(f"{column}_bold"),
        ]

    raw = pairs.select(
        "pair_id",
        pl.col("prompt").str.len_chars().cast(pl.Float64).alias("prompt_chars"),
        *counts("response_a"),
        *counts("response_b"),
    )

    def log_ratio(a: pl.Expr, b: pl.Expr) -> pl.Expr:
        return a.log1p() - b.log1p()

    a, b = "response_a", "response_b"
    markdown_a = pl.sum_horizontal(f"{a}_headers", f"{a}_lists", f"{a}_bold")
    markdown_b = pl.sum_horizontal(f"{b}_headers", f"{b}_lists", f"{b}_bold")
    return raw.select(
        "pair_id",
        (pl.col("prompt_chars") + pl.col(f"{a}_chars") + pl.col(f"{b}_chars"))
        .cast(pl.Int64)
        .alias("chars"),
        pl.col(f"{a}_chars").cast(pl.Int64).alias("chars_a"),
        pl.col(f"{b}_chars").cast(pl.Int64).alias("chars_b"),
        log_ratio(pl.col(f"{a}_chars"), pl.col(f"{b}_chars")).alias("length"),
        *(
            log_ratio(pl.col(f"{a}_{name}"), pl.col(f"{b}_{name}")).alias(name)
            for name in ("headers", "lists", "bold")
        ),
        log_ratio(markdown_a, markdown_b).alias("markdown"),
    )


def _majority(counts: IntArray) -> tuple[IntArray, FloatArray]:
    """Row-wise winning choice code (-1 when the top count is shared or zero) and its share."""
    top = counts.max(axis=1)
    winners = (counts == top[:, None]).sum(axis=1)
    label = np.where((winners == 1) & (top > 0), counts.argmax(axis=1), -1)
    total = counts.sum(axis=1)
    share = np.divide(top, total, out=np.zeros(len(top)), where=total > 0)
    return label, share


class MajorityVote:
    """The most frequent choice per pair (``a``, ``b``, ``tie`` or ``both_bad``).

    Counts each rater's first vote on a pair (``agreement.counted_votes``: a retest is not another
    vote); given the pairs, probe pairs get no label. After ``fit``: ``labels_`` (``pair_id``,
    ``label``, ``agreement``, ``n``), where ``label`` is null when the top choice is shared (a 1-1
    split says nothing) and ``agreement`` is the share of votes for the top choice; ``probas_``
    (``pair_id`` and one column per choice in ``frames.CHOICES``) holds the vote shares.

    >>> votes = pl.DataFrame({"pair_id": ["p", "p", "p", "q", "q"],
    ...     "choice": ["a", "a", "b", "a", "tie"]})
    >>> MajorityVote().fit(votes).labels_.rows()
    [('p', 'a', 0.6666666666666666, 3), ('q', None, 0.5, 2)]
    """

    def fit(self, judgments: pl.DataFrame, pairs: pl.DataFrame | None = None) -> Self:
        """Consumes ``frames.JUDGMENTS`` (``pair_id``, ``choice``; ``rater_id``, ``round``
        to tell retests) and optionally ``frames.PAIRS`` (``pair_id``, ``probe_kind``)."""
        judgments = counted_votes(judgments, pairs)
        pair_codes, pair_ids = dense_codes(judgments.get_column("pair_id"))
        choice = choice_codes(judgments.get_column("choice"))
        n_pairs, n_choices = len(pair_ids), len(frames.CHOICES)
        counts = np.bincount(
            pair_codes * n_choices + choice, minlength=n_pairs * n_choices
        ).reshape(n_pairs, n_choices)
        label, share = _majority(counts)
        total = counts.sum(axis=1)
        self.labels_ = pl.DataFrame(
            {
                "pair_id": pair_ids,
                "label": choice_names(label),
                "agreement": share,
                "n": total.astype(np.int64),
            }
        )
        self.probas_ = pl.DataFrame(
            {"pair_id": pair_ids}
            | {name: counts[:, k] / total for k, name in enumerate(frames.CHOICES)}
        )
        return self

    def fit_predict(
        self, judgments: pl.DataFrame, pairs: pl.DataFrame | None = None
    ) -> pl.DataFrame:
        return self.fit(judgments, pairs).labels_


def leave_one_out_consensus(
    judgments: pl.DataFrame, pairs: pl.DataFrame | None = None
) -> pl.DataFrame:
    """For each vote, the majority choice of the *other* raters on the same comparison.

    The one definition of "the other raters' majority": it is the reference a rater is
    compared with where a pair has no gold (blind spots, reliability, drift). With ``pairs``
    the comparison is the item of ``agreement.item_votes``, so votes on a reversed pair (the
    same prompt and responses, sides swapped) count, read from the item's sides; the
    consensus is then put back in this vote's own sides. The other raters' counted votes
    count (``agreement.counted_votes``: their first vote on each pair, no probe pair), so a
    retest never counts twice; all of the rater's own votes on the item are left out. A
    vote that does not count itself (a retest, a vote on a probe pair) still gets a row:
    the others' majority where it was cast (none on a probe pair, an item of its own).

    Consumes ``frames.JUDGMENTS`` (``pair_id``, ``rater_id``, ``choice``) and optionally
    ``frames.PAIRS``. Returns one row per input row, in the same order: ``pair_id``,
    ``rater_id``, ``consensus`` (null when no other rater voted or their top choice is
    shared), ``item_consensus`` (the same, on the item's sides) and ``n_others`` (the other
    raters' votes).

    >>> votes = pl.DataFrame({"pair_id": ["p"] * 4, "rater_id": ["r1", "r2", "r3", "r4"],
    ...     "choice": ["a", "a", "b", "a"]})
    >>> leave_one_out_consensus(votes)["consensus"].to_list()
    ['a', 'a', 'a', 'a']
    """
    votes = item_votes(judgments, pairs)
    counted = _counted_rows(judgments, pairs)
    item_codes, items = dense_codes(votes.get_column("item_id"))
    rater_codes, raters = dense_codes(votes.get_column("rater_id"))
    choice = choice_codes(votes.get_column("item_choice"))
    n_items, n_choices = len(items), len(frames.CHOICES)
    cell = item_codes * n_choices + choice
    per_item = np.bincount(cell[counted], minlength=n_items * n_choices)
    per_item = per_item.reshape(n_items, n_choices)
    key = item_codes * max(len(raters), 1) + rater_codes
    if pl.Series(key).is_duplicated().any() or not counted.all():
        # Several votes of a rater on the item (both orders of a pair, retests), or votes
        # that do not count: the rater's counted ones, through a dense (item, rater) code.
        _, group = np.unique(key, return_inverse=True)
        n_groups = int(group.max()) + 1
        own_cell = group * n_choices + choice
        own = np.bincount(own_cell[counted], minlength=n_groups * n_choices)
        own_votes = own.reshape(n_groups, n_choices)[group]
    else:  # one vote per rater and item: the rater's own vote is the only one to leave out
        own_votes = np.eye(n_choices, dtype=np.int64)[choice]
    others = per_item[item_codes] - own_votes
    label, _ = _majority(others)
    swapped = pl.col("item_consensus").replace({"a": "b", "b": "a"})
    return pl.DataFrame(
        {
            "pair_id": votes.get_column("pair_id"),
            "rater_id": votes.get_column("rater_id"),
            "flipped": votes.get_column("flipped"),
            "item_consensus": choice_names(label),
            "n_others": others.sum(axis=1).astype(np.int64),
        }
    ).select(
        "pair_id",
        "rater_id",
        consensus=pl.when("flipped").then(swapped).otherwise("item_consensus"),
        item_consensus="item_consensus",
        n_others="n_others",
    )


def _counted_rows(judgments: pl.DataFrame, pairs: pl.DataFrame | None) -> npt.NDArray[np.bool_]:
    """Per row of ``judgments``: whether ``agreement.counted_votes`` keeps it."""
    counted = np.zeros(judgments.height, dtype=bool)
    keys = [name for name in ("pair_id", "rater_id", "round") if name in judgments.columns]
    rows = counted_votes(judgments.select(keys).with_row_index("row"), pairs).get_column("row")
    counted[rows.to_numpy()] = True
    return counted


# -- Bradley-Terry -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cells:
    """Votes grouped into cells that share (model i, model j, covariates).

    ``wins``/``losses``/``ties`` count votes for i, for j, and ties in each cell.
    """

    i: IntArray
    j: IntArray
    z: FloatArray  # (cells, covariates)
    wins: FloatArray
    losses: FloatArray
    ties: FloatArray


def _log_sigmoid(x: FloatArray) -> FloatArray:
    return -np.logaddexp(0.0, -x)


@dataclass(frozen=True)
class _CellTerms:
    """Per-cell log-likelihood and its derivatives in (d, tie parameter)."""

    loglik: FloatArray
    g_d: FloatArray
    g_t: FloatArray
    h_dd: FloatArray
    h_dt: FloatArray
    h_tt: FloatArray


def _davidson(d: FloatArray, log_nu: float, cells: _Cells, with_ties: bool) -> _CellTerms:
    """Davidson (1970): P(i) ∝ e^(d/2), P(j) ∝ e^(-d/2), P(tie) ∝ ν; tie parameter log ν.

    With D = e^(d/2) + e^(-d/2) + ν the log-likelihood is (w - l) d/2 + t log ν - n log D,
    concave in (d, log ν) because log D is a log-sum-exp.
    """
    wins, losses, ties = cells.wins, cells.losses, cells.ties
    n = wins + losses + ties
    half = d / 2.0
    terms = np.stack([half, -half, np.full_like(d, log_nu if with_ties else -np.inf)])
    log_d = np.logaddexp.reduce(terms, axis=0)
    pa, pb, pt = np.exp(half - log_d), np.exp(-half - log_d), np.exp(terms[2] - log_d)
    loglik = (wins - losses) * half + (ties * log_nu if with_ties else 0.0) - n * log_d
    diff = pa - pb
    return _CellTerms(
        loglik=loglik,
        g_d=(wins - losses) / 2.0 - n * diff / 2.0,
        g_t=ties - n * pt,
        h_dd=-n * ((pa + pb) / 4.0 - diff**2 / 4.0),
        h_dt=n * diff * pt / 2.0,
        h_tt=-n * pt * (1.0 - pt),
    )


def _rao_kupper(d: FloatArray, eta: float, cells: _Cells, with_ties: bool) -> _CellTerms:
    """Rao-Kupper (1967): P(i) = σ(d - η), P(j) = σ(-d - η), tie the rest; parameter η ≥ 0.

    P(tie) = expm1(2η) P(i) P(j), so the log-likelihood is
    (w + t) log σ(d - η) + (l + t) log σ(-d - η) + t log expm1(2η): concave in (d, η).
    """
    ties = cells.ties
    eta = eta if with_ties else 0.0
    log_a, log_b = _log_sigmoid(d - eta), _log_sigmoid(-d - eta)
    a, b = np.exp(log_a), np.exp(log_b)
    wa, wb = cells.wins + ties, cells.losses + ties
    var_a, var_b = a * (1.0 - a), b * (1.0 - b)
    if with_ties:
        e2 = math.exp(2.0 * eta)
        expm1 = math.expm1(2.0 * eta)
        tie_ll = ties * math.log(expm1)
        g_tie = ties * 2.0 * e2 / expm1
        h_tie = -ties * 4.0 * e2 / expm1**2
    else:
        zero = np.zeros_like(d)
        tie_ll, g_tie, h_tie = zero, zero, zero
    return _CellTerms(
        loglik=wa * log_a + wb * log_b + tie_ll,
        g_d=wa * (1.0 - a) - wb * (1.0 - b),
        g_t=-wa * (1.0 - a) - wb * (1.0 - b) + g_tie,
        h_dd=-wa * var_a - wb * var_b,
        h_dt=wa * var_a - wb * var_b,
        h_tt=-wa * var_a - wb * var_b + h_tie,
    )


def _solve(matrix: FloatArray, vector: FloatArray) -> FloatArray:
    """``matrix⁻¹ vector``; where rounding leaves the matrix singular, the least-squares
    (minimum-norm) step, which moves nothing along the direction the votes cannot see."""
    try:
        return np.asarray(np.linalg.solve(matrix, vector), dtype=np.float64)
    except np.linalg.LinAlgError:
        return np.asarray(np.linalg.lstsq(matrix, vector, rcond=None)[0], dtype=np.float64)


class _PairedComparisons:
    """Penalised maximum likelihood for paired comparisons with covariates and ties.

    Parameters are [θ (one per model), γ (one per covariate), tie parameter (when ties were
    seen)]; d = θ_i - θ_j + z·γ. Fitted by Newton's method with step halving (both tie models
    are concave in these parameters); a tiny ridge on θ and γ keeps an unbeaten model, and a
    covariate that separates the votes (Markdown in two responses, both of which won), finite.
    """

    def __init__(self, ties: str, n_models: int, n_covariates: int, ridge: float) -> None:
        self.ties = ties
        self.n_models = n_models
        self.n_covariates = n_covariates
        self.ridge = ridge

    def _unpack(self, params: FloatArray, with_ties: bool) -> tuple[FloatArray, FloatArray, float]:
        m, c = self.n_models, self.n_covariates
        tie = float(params[m + c]) if with_ties else 0.0
        return params[:m], params[m : m + c], tie

    def _terms(self, params: FloatArray, cells: _Cells, with_ties: bool) -> _CellTerms:
        theta, gamma, tie = self._unpack(params, with_ties)
        d = theta[cells.i] - theta[cells.j] + cells.z @ gamma
        if self.ties == "davidson":
            return _davidson(d, tie, cells, with_ties)
        return _rao_kupper(d, tie, cells, with_ties)

    def _objective(self, params: FloatArray, cells: _Cells, with_ties: bool) -> float:
        penalised = params[: self.n_models + self.n_covariates]
        loglik = self._terms(params, cells, with_ties).loglik.sum()
        return float(loglik - 0.5 * self.ridge * penalised @ penalised)

    def _gradient_hessian(
        self, params: FloatArray, cells: _Cells, with_ties: bool
    ) -> tuple[FloatArray, FloatArray]:
        m, c = self.n_models, self.n_covariates
        size = m + c + int(with_ties)
        terms = self._terms(params, cells, with_ties)
        grad = np.zeros(size)
        hess = np.zeros((size, size))
        grad[:m] = np.bincount(cells.i, terms.g_d, m) - np.bincount(cells.j, terms.g_d, m)
        grad[:m] -= self.ridge * params[:m]
        pair_h = np.bincount(cells.i * m + cells.j, terms.h_dd, m * m).reshape(m, m)
        pair_h = pair_h + pair_h.T
        hess[:m, :m] = np.diag(pair_h.sum(axis=1)) - pair_h - self.ridge * np.eye(m)
        if c:
            grad[m : m + c] = cells.z.T @ terms.g_d - self.ridge * params[m : m + c]
            hz = cells.z * terms.h_dd[:, None]
            cross = np.stack(
                [
                    np.bincount(cells.i, hz[:, k], m) - np.bincount(cells.j, hz[:, k], m)
                    for k in range(c)
                ],
                axis=1,
            )
            hess[:m, m : m + c] = cross
            hess[m : m + c, :m] = cross.T
            hess[m : m + c, m : m + c] = cells.z.T @ hz - self.ridge * np.eye(c)
        if with_ties:
            t = m + c
            grad[t] = terms.g_t.sum()
            cross_t = np.bincount(cells.i, terms.h_dt, m) - np.bincount(cells.j, terms.h_dt, m)
            hess[:m, t] = hess[t, :m] = cross_t
            if c:
                hess[m:t, t] = hess[t, m:t] = cells.z.T @ terms.h_dt
            hess[t, t] = terms.h_tt.sum()
        return grad, hess

    def initial(self, with_ties: bool) -> FloatArray:
        params = np.zeros(self.n_models + self.n_covariates + int(with_ties))
        if with_ties:
            # ν = 1 for Davidson (log ν = 0); η = 0.5 for Rao-Kupper (must start above 0).
            params[-1] = 0.0 if self.ties == "davidson" else 0.5
        return params

    def fit(
        self,
        cells: _Cells,
        with_ties: bool,
        start: FloatArray,
        max_iter: int = 100,
        tol: float = 1e-9,
    ) -> FloatArray:
        """Newton's method from ``start``; the first model's θ stays fixed.

        Fixing one θ removes the direction the likelihood cannot see (adding a constant to
        every θ), where the ridge alone leaves the Newton step dominated by rounding noise.
        """
        params = start.copy()
        value = self._objective(params, cells, with_ties)
        for _ in range(max_iter):
            grad, hess = self._gradient_hessian(params, cells, with_ties)
            step = np.zeros_like(params)
            step[1:] = _solve(hess[1:, 1:], -grad[1:])
            scale = 1.0
            for _ in range(40):
                candidate = params + scale * step
                feasible = not (self.ties == "rao-kupper" and with_ties and candidate[-1] <= 0.0)
                if feasible:
                    new_value = self._objective(candidate, cells, with_ties)
                    if new_value >= value - 1e-12 * abs(value):
                        break
                scale /= 2.0
            else:
                break
            params, value = candidate, new_value
            if np.max(np.abs(scale * step)) < tol:
                break
        return params

    def one_step(
        self,
        params: FloatArray,
        cells: _Cells,
        with_ties: bool,
        rng: np.random.Generator,
        n_boot: int,
    ) -> FloatArray:
        """The linear bootstrap: reweight the votes ``n_boot`` times (an Exp(1) weight each)
        and take one Newton step from the full-data fit ``params`` for each, with the
        full-data Hessian.

        The log-likelihood is a sum over votes, so a replicate's gradient is a weighted sum of
        per-vote scores computed once: each replicate costs one draw and one bincount.
        """
        m, c = self.n_models, self.n_covariates
        n_cells = len(cells.i)
        ones, zeros = np.ones(n_cells), np.zeros(n_cells)
        vote_cell, vote_d, vote_t = [], [], []
        for outcome, count in enumerate((cells.wins, cells.losses, cells.ties)):
            unit = _Cells(
                cells.i, cells.j, cells.z, *[ones if k == outcome else zeros for k in range(3)]
            )
            terms = self._terms(params, unit, with_ties)
            index = np.repeat(np.arange(n_cells), count.astype(np.int64))
            vote_cell.append(index)
            vote_d.append(terms.g_d[index])
            vote_t.append(terms.g_t[index])
        cell_of = np.concatenate(vote_cell)
        score_d, score_t = np.concatenate(vote_d), np.concatenate(vote_t)
        _, hess = self._gradient_hessian(params, cells, with_ties)
        n_votes = len(cell_of)
        replicates = np.empty((n_boot, len(params)))
        for b in range(n_boot):
            weight = rng.standard_exponential(n_votes)
            g_d = np.bincount(cell_of, weight * score_d, n_cells)
            grad = np.zeros(len(params))
            grad[:m] = np.bincount(cells.i, g_d, m) - np.bincount(cells.j, g_d, m)
            grad[:m] -= self.ridge * params[:m]
            grad[m : m + c] = cells.z.T @ g_d - self.ridge * params[m : m + c]
            if with_ties:
                grad[m + c] = float(np.sum(weight * score_t))
            step = np.zeros(len(params))
            step[1:] = _solve(hess[1:, 1:], -grad[1:])
            replicates[b] = params + step
        return replicates


class BradleyTerry:
    """Model strengths from pairwise votes, on an Elo-like scale, with ties and intervals.

    Each counted vote on a pair (``agreement.counted_votes``: no retests, no probe pairs) is
    a game between the pair's ``model_a`` and ``model_b``: ``a`` is a win for model_a, ``b`` a
    win for model_b, ``tie`` and ``both_bad`` are ties (as Chatbot Arena counts "both bad").
    ``ties`` picks the tie model: ``"davidson"`` (a tie is as likely
    as ν·sqrt(π_i π_j)) or ``"rao-kupper"`` (a threshold η on the strength difference).
    Without a single tie both reduce to the plain Bradley-Terry logistic model.

    ``style_covariates`` (names from ``STYLE_FEATURES``, e.g. ``("length",)`` or
    ``("length", "headers", "lists", "bold")``) adds each as a covariate of the log-odds,
    so model scores are what is left after length and Markdown are accounted for. A covariate
    that does not vary over the voted pairs (no response has a header) has nothing to explain
    and cannot be fitted: it is left out and named in ``dropped_covariates_``. Fitting is
    maximum likelihood by Newton's method; a tiny ``ridge`` on log-strengths and covariates
    keeps an unbeaten model finite.

    Intervals: percentile intervals of level ``ci`` over ``n_boot`` bootstrap replicates that
    reweight the votes at random (the Bayesian bootstrap; see ``_bootstrap``).

    After ``fit``: ``scores_`` (``model``, ``score``, ``ci_low``, ``ci_high``, ``rank``,
    ``n_votes``, ``win_rate`` with ties as half a win), sorted best first; ``theta_``
    (log-strengths centred on 0, in ``models_`` order); ``coef_`` (``covariate``, ``coef``,
    ``ci_low``, ``ci_high``, in log-odds per unit, the fitted covariates only);
    ``dropped_covariates_`` (those left out: constant over the voted pairs);
    ``tie_parameter_`` (Davidson ν, or the Rao-Kupper θ = e^η ≥ 1; None without ties);
    ``boot_theta_`` (replicates × models).
    """

    def __init__(
        self,
        ties: Literal["davidson", "rao-kupper"] = "davidson",
        style_covariates: Sequence[str] = (),
        n_boot: int = 100,
        ci: float = 0.95,
        ridge: float = 1e-6,
        seed: int = 0,
    ) -> None:
        self.ties = ties
        self.style_covariates = style_covariates
        self.n_boot = n_boot
        self.ci = ci
        self.ridge = ridge
        self.seed = seed

    @staticmethod
    def _games(
        judgments: pl.DataFrame, pairs: pl.DataFrame, covariates: Sequence[str]
    ) -> pl.DataFrame:
        """Votes joined with their pair's models (and covariates); one row per game."""
        pair_columns = pairs.select("pair_id", "model_a", "model_b")
        if covariates:
            features = response_features(pairs).select("pair_id", *covariates)
            pair_columns = pair_columns.join(
                # A pair without both texts has no covariates: it leaves the style fit only.
                features.filter(pl.all_horizontal(pl.col(name).is_finite() for name in covariates)),
                on="pair_id",
            )
        return (
            counted_votes(judgments, pairs)
            .select("pair_id", "choice")
            .join(pair_columns, on="pair_id", how="inner")
            .filter(
                pl.col("model_a").is_not_null()
                & pl.col("model_b").is_not_null()
                & (pl.col("model_a") != pl.col("model_b"))
            )
        )

    @staticmethod
    def _cells(games: pl.DataFrame, models: list[str], covariates: Sequence[str]) -> _Cells:
        """Group games: by ordered model pair, or by pair when covariates differ per pair."""
        keys = ["pair_id", "model_a", "model_b"] if covariates else ["model_a", "model_b"]
        grouped = games.group_by(keys, maintain_order=True).agg(
            *(pl.col(name).first() for name in covariates),
            (pl.col("choice") == "a").sum().cast(pl.Float64).alias("wins"),
            (pl.col("choice") == "b").sum().cast(pl.Float64).alias("losses"),
            pl.col("choice").is_in(["tie", "both_bad"]).sum().cast(pl.Float64).alias("ties"),
        )
        index = {name: k for k, name in enumerate(models)}
        z = (
            grouped.select(covariates).to_numpy().astype(np.float64)
            if covariates
            else np.zeros((grouped.height, 0))
        )
        return _Cells(
            i=grouped.get_column("model_a").replace_strict(index, return_dtype=pl.Int64).to_numpy(),
            j=grouped.get_column("model_b").replace_strict(index, return_dtype=pl.Int64).to_numpy(),
            z=np.ascontiguousarray(z),
            wins=grouped.get_column("wins").to_numpy(),
            losses=grouped.get_column("losses").to_numpy(),
            ties=grouped.get_column("ties").to_numpy(),
        )

    def fit(self, judgments: pl.DataFrame, pairs: pl.DataFrame) -> Self:
        """Consumes ``frames.JUDGMENTS`` (``pair_id``, ``choice``; ``rater_id``, ``round`` to
        tell retests) and ``frames.PAIRS`` (``pair_id``, ``model_a``, ``model_b``,
        ``probe_kind``, plus the texts when style-controlled).
        """
        if self.ties not in ("davidson", "rao-kupper"):
            raise ValueError(f"ties must be 'davidson' or 'rao-kupper', not {self.ties!r}")
        unknown = set(self.style_covariates) - set(STYLE_FEATURES)
        if unknown:
            raise ValueError(f"unknown style covariates {sorted(unknown)}; use {STYLE_FEATURES}")
        requested = list(self.style_covariates)
        games = self._games(judgments, pairs, requested)
        if games.height == 0:
            raise ValueError("no votes between two different named models to rank")
        covariates = [name for name in requested if games[name].n_unique() > 1]
        self.dropped_covariates_ = [name for name in requested if name not in covariates]
        models = pl.concat([games["model_a"], games["model_b"]]).unique().sort().to_list()
        cells = self._cells(games, models, covariates)
        with_ties = bool(cells.ties.sum() > 0)
        problem = _PairedComparisons(self.ties, len(models), len(covariates), self.ridge)
        params = problem.fit(cells, with_ties, problem.initial(with_ties))

        boot = self._bootstrap(problem, cells, with_ties, params)

        self.models_ = models
        theta = params[: len(models)]
        self.theta_ = theta - theta.mean()
        boot_theta = boot[:, : len(models)]
        self.boot_theta_ = boot_theta - boot_theta.mean(axis=1, keepdims=True)
        self.tie_parameter_ = self._tie_parameter(params, with_ties)
        self.scores_ = self._scores(games, models)
        gamma, boot_gamma = (
            params[len(models) : len(models) + len(covariates)],
            boot[:, len(models) :],
        )
        low, high = self._interval(boot_gamma, gamma)
        self.coef_ = pl.DataFrame(
            {"covariate": covariates, "coef": gamma, "ci_low": low, "ci_high": high},
            schema={
                "covariate": pl.String,
                "coef": pl.Float64,
                "ci_low": pl.Float64,
                "ci_high": pl.Float64,
            },
        )
        return self

    def _bootstrap(
        self, problem: _PairedComparisons, cells: _Cells, with_ties: bool, params: FloatArray
    ) -> FloatArray:
        """Fits on ``n_boot`` reweightings of the votes: (replicates, models + covariates).

        The Bayesian bootstrap (Rubin 1981): every vote gets an independent Exp(1) weight, the
        smooth version of resampling votes with replacement (same mean and variance of each
        vote's weight, never a replicate without some model's games). Without covariates the
        cells are model pairs, a cell's weight is a Gamma(count) draw, and each replicate is
        refitted in full. With covariates the cells are the pairs themselves and each
        replicate takes one Newton step from the full-data fit: a full refit would cost about
        a second per replicate at a million votes, for an interval that differs by a small
        fraction of its width.
        """
        rng = np.random.default_rng(self.seed)
        size = problem.n_models + problem.n_covariates
        if problem.n_covariates:
            return problem.one_step(params, cells, with_ties, rng, self.n_boot)[:, :size]
        counts = np.column_stack([cells.wins, cells.losses, cells.ties])
        replicates = np.empty((self.n_boot, size))
        for b in range(self.n_boot):
            wins, losses, ties = rng.standard_gamma(counts).T  # a sum of `count` Exp(1) weights
            replicate = _Cells(cells.i, cells.j, cells.z, wins, losses, ties)
            replicate_ties = with_ties and bool(ties.sum() > 0)
            start = params if replicate_ties or not with_ties else params[:-1]
            replicates[b] = problem.fit(replicate, replicate_ties, start, max_iter=30)[:size]
        return replicates

    def _tie_parameter(self, params: FloatArray, with_ties: bool) -> float | None:
        if not with_ties:
            return None
        # Davidson's parameter is fitted as log ν; Rao-Kupper's as η = log θ: both exponentiate.
        return math.exp(float(params[-1]))

    def _interval(self, boot: FloatArray, estimate: FloatArray) -> tuple[FloatArray, FloatArray]:
        if boot.shape[0] == 0:
            nan = np.full(estimate.shape, np.nan)
            return nan, nan
        tail = (1.0 - self.ci) / 2.0
        low, high = np.quantile(boot, [tail, 1.0 - tail], axis=0)
        return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)

    def _scores(self, games: pl.DataFrame, models: list[str]) -> pl.DataFrame:
        score = ELO_BASE + ELO_SCALE * self.theta_
        low, high = self._interval(ELO_BASE + ELO_SCALE * self.boot_theta_, score)
        points = pl.col("choice").replace_strict(
            {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}, return_dtype=pl.Float64
        )
        record = (
            pl.concat(
                [
                    games.select(pl.col("model_a").alias("model"), points.alias("points")),
                    games.select(pl.col("model_b").alias("model"), (1.0 - points).alias("points")),
                ]
            )
            .group_by("model")
            .agg(
                pl.len().cast(pl.Int64).alias("n_votes"), pl.col("points").mean().alias("win_rate")
            )
        )
        return (
            pl.DataFrame({"model": models, "score": score, "ci_low": low, "ci_high": high})
            .join(record, on="model", how="left")
            .sort("score", descending=True)
            .with_columns(pl.int_range(1, len(models) + 1).cast(pl.Int64).alias("rank"))
            .select("model", "score", "ci_low", "ci_high", "rank", "n_votes", "win_rate")
        )

    def fit_predict(self, judgments: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
        return self.fit(judgments, pairs).scores_


def leaderboard(
    judgments: pl.DataFrame,
    pairs: pl.DataFrame,
    *,
    ties: Literal["davidson", "rao-kupper"] = "davidson",
    style_covariates: Sequence[str] = ("length", "headers", "lists", "bold"),
    n_boot: int = 100,
    seed: int = 0,
    notes: list[str] | None = None,
) -> pl.DataFrame:
    """The model leaderboard, plain and style-controlled side by side.

    Consumes ``frames.JUDGMENTS`` and ``frames.PAIRS``. Returns ``model``, ``rank``, ``score``,
    ``ci_low``, ``ci_high``, ``n_votes``, ``win_rate`` (plain Bradley-Terry), then
    ``style_rank``, ``style_score``, ``style_ci_low``, ``style_ci_high`` (with the covariates)
    and ``style_shift`` = ``style_score - score``: how many points the model loses (negative)
    or gains once length and Markdown are accounted for. Sorted by the plain score.

    The plain leaderboard is always there (empty, with these columns, when no vote compares
    two named models). Covariates that do not vary over the voted pairs (plain text: no
    headers, lists or bold anywhere) are left out of the style control; when none is left,
    or the style fit fails, the style columns are null. Each such decision is appended to
    ``notes`` as a sentence for the reader.
    """
    said = notes if notes is not None else []
    if BradleyTerry._games(judgments, pairs, ()).is_empty():
        said.append("no vote compares two named models: nothing to rank")
        return pl.DataFrame(schema=LEADERBOARD)
    plain = BradleyTerry(ties=ties, n_boot=n_boot, seed=seed).fit(judgments, pairs).scores_
    style = BradleyTerry(ties=ties, style_covariates=style_covariates, n_boot=n_boot, seed=seed)
    columns = {
        "rank": ("style_rank", pl.Int64),
        "score": ("style_score", pl.Float64),
        "ci_low": ("style_ci_low", pl.Float64),
        "ci_high": ("style_ci_high", pl.Float64),
    }
    fitted = True
    try:
        style.fit(judgments, pairs)
    except np.linalg.LinAlgError as error:  # a safety net: the ridge keeps the fit regular
        said.append(f"the style-controlled leaderboard could not be fitted ({error})")
        fitted = False
    dropped = style.dropped_covariates_ if fitted else []
    if dropped:
        what = ", ".join(dropped)
        said.append(
            f"style control leaves out {what}: the same in every voted pair"
            if len(dropped) < len(style_covariates)
            else f"no style control: {what} are the same in every voted pair"
        )
    if not fitted or len(dropped) == len(style_covariates):
        styled = plain.select(
            "model", *(pl.lit(None, dtype).alias(name) for name, dtype in columns.values())
        )
    else:
        styled = style.scores_.select(
            "model", *(pl.col(old).alias(new) for old, (new, _) in columns.items())
        )
    return (
        plain.select("model", "rank", "score", "ci_low", "ci_high", "n_votes", "win_rate")
        .join(styled, on="model", how="left")
        .with_columns((pl.col("style_score") - pl.col("score")).alias("style_shift"))
        .sort("rank")
        .cast(pl.Schema(LEADERBOARD))
    )
