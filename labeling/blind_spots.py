"""Which raters have which blind spots: small named checks, one multiple-testing correction.

Every check reads the same per-vote frame (``audit_votes``: each rater's first vote on each
pair, its retest beside it, with the pair's category, length and Markdown covariates, and its
*reference*, the pair's gold where known, else the leave-one-out consensus of the other
raters) and returns findings in ``FINDINGS``:
one row per rater (and slice) it could test, with an effect size (0 means no blind spot), a
95% interval, a p-value, the number of votes and one plain sentence. ``find_blind_spots`` runs
the checks and applies Benjamini-Hochberg across all raters x checks at once. A rater a
regression cannot be fitted for (one side on every vote, no length difference in their
pairs) gets a row with a NaN p-value whose message says why it was not tested: one
degenerate rater never takes down the others' tests.

The checks, each a function ``check_<kind>(votes) -> findings``:

- position: picks the side shown on the left more (or less) than chance; exact binomial
  test on decisive votes, using the stored, randomised ``shown_left``.
- length / style: logistic regression of choosing a on the reference label, the log length
  ratio and the Markdown difference; Wald test of the length (or Markdown) slope.
- ties: tie rate above ``TIE_RATIO`` times the pooled rate of the other raters; exact
  binomial test.
- speed: votes faster than a reading floor (seconds per 1,000 characters) that agree with
  the reference less than the other (normal-speed or untimed) votes do; one-sided Fisher
  exact test.
- accuracy: agreement with the reference on decisive votes closer to chance than to the
  other raters' (``ACCURACY_SHARE``); exact binomial test. Needs no times, so it also finds
  a rater who is fast on every vote.
- category / principle / gold: agreement in one slice below what the rater's agreement
  elsewhere and the slice's difficulty for the other raters predict (the additive logistic
  model of agreement on rater and slice); a one-sided beta-binomial predictive p-value.
  ``gold`` looks only at gold items, by category.
- drift: agreement with the reference falling over the rater's working span; logistic
  regression on time, one-sided Wald test.
- probe / retest: picks the surface-edited side of probe pairs more than the response
  unedited (slice: the probe kind), and agrees with themselves on pairs served again far
  less than the other raters do; ``labeling.susceptibility`` has both, with their tables.

The per-pair view, reasons to doubt a pair's label, is ``labeling.disputes``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy import special, stats

from data import frames
from labeling.aggregation import leave_one_out_consensus, response_features
from labeling.agreement import first_votes  # the one rule, re-exported for the checks
from labeling.codes import dense_codes
from labeling.memo import remember_last

__all__ = [
    "ACCURACY_SHARE",
    "ALL_CHECKS",
    "FAST_SECONDS_PER_KCHAR",
    "FINDINGS",
    "KINDS",
    "MIN_SLICE",
    "MIN_VOTES",
    "TIE_RATIO",
    "audit_votes",
    "benjamini_hochberg",
    "check_accuracy",
    "check_category",
    "check_drift",
    "check_gold",
    "check_length",
    "check_position",
    "check_principle",
    "check_probe",
    "check_retest",
    "check_speed",
    "check_style",
    "check_ties",
    "find_blind_spots",
    "first_votes",
    "flag_findings",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Check = Callable[[pl.DataFrame], pl.DataFrame]

KINDS: tuple[str, ...] = (
    "position",
    "length",
    "style",
    "ties",
    "speed",
    "accuracy",
    "category",
    "principle",
    "gold",
    "drift",
    "probe",
    "retest",
)

#: One row per finding. ``effect`` is 0 when there is no blind spot; its unit depends on the
#: kind (see each check). ``q_value`` and ``flagged`` are filled by ``find_blind_spots``.
FINDINGS: dict[str, pl.DataType] = {
    "rater_id": pl.String(),
    "kind": pl.String(),
    "slice": pl.String(),
    "effect": pl.Float64(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
    "p_value": pl.Float64(),
    "q_value": pl.Float64(),
    "n": pl.Int64(),
    "flagged": pl.Boolean(),
    "message": pl.String(),
}

#: Fewest votes for a rater-level test, and fewest votes in a slice (and in its comparisons).
MIN_VOTES = 20
MIN_SLICE = 10
#: Reading floor: nobody reads 1,000 characters of prompt and responses in under 5 seconds.
FAST_SECONDS_PER_KCHAR = 5.0
#: "Far more ties than peers" means more than this many times their pooled tie rate.
TIE_RATIO = 2.0

#: "Far below the other raters' agreement" means below the point this share of the way from
#: chance (1/2) up to it: with 1/2, closer to a coin flip than to the pool.
ACCURACY_SHARE = 0.5
_Z95 = float(stats.norm.ppf(0.975))
_RIDGE = 1e-6
_MAX_STEP = 3.0
#: A slope past this many log-odds per standard deviation of its covariate is separation.
_SEPARATED = 10.0


# -- the per-vote frame ------------------------------------------------------------------------


# The audit reads it for the checks and again for the probe table (``susceptibility``).
@remember_last
def audit_votes(judgments: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """Each rater's first vote on each pair (``first_votes``, the house's one rule for
    repeated votes, from ``labeling.agreement``) with what the checks need.

    Consumes ``frames.JUDGMENTS`` and ``frames.PAIRS``. Returns the judgment columns ``pair_id``,
    ``rater_id``, ``round``, ``choice``, ``shown_left``, ``seconds``, ``created_at``, ``principles``
    and ``retest_choice``; the pair's ``category``, ``gold``, ``probe_kind`` and ``probe_of``;
    ``consensus`` (the other raters' majority over their counted votes,
    ``aggregation.leave_one_out_consensus``: null on a probe pair, whose reference is its gold);
    ``reference`` (gold where known, else ``consensus``) and ``reference_kind``
    (``gold``/``consensus``/null); ``correct`` (choice equals the reference; null without one);
    ``reference_sign`` (+1 a, -1 b, 0 otherwise); ``picked_left`` (on decisive votes with a known
    side); ``length``, ``markdown`` and ``chars`` from ``aggregation.response_features``;
    ``seconds_per_kchar``.
    """
    features = response_features(pairs).select("pair_id", "length", "markdown", "chars")
    # Conformed here, so frames made before probes and rounds existed still read as null.
    pair_part = (
        frames.conform(pairs, frames.PAIRS)
        .select("pair_id", "category", "gold", "probe_kind", "probe_of")
        .join(features, on="pair_id")
    )
    consensus = leave_one_out_consensus(judgments, pairs).get_column("consensus")
    decisive = pl.col("choice").is_in(["a", "b"])
    voted = (
        frames.conform(judgments, frames.JUDGMENTS)
        .select(
            "pair_id",
            "rater_id",
            "round",
            "choice",
            "shown_left",
            "seconds",
            "created_at",
            "principles",
        )
        .with_columns(consensus)
    )
    return (
        first_votes(voted)
        .join(pair_part, on="pair_id", how="left")
        .with_columns(
            pl.coalesce("gold", "consensus").alias("reference"),
            pl.when(pl.col("gold").is_not_null())
            .then(pl.lit("gold"))
            .when(pl.col("consensus").is_not_null())
            .then(pl.lit("consensus"))
            .alias("reference_kind"),
        )
        .with_columns(
            (pl.col("choice") == pl.col("reference")).alias("correct"),
            pl.when(pl.col("reference") == "a")
            .then(1.0)
            .when(pl.col("reference") == "b")
            .then(-1.0)
            .otherwise(0.0)
            .alias("reference_sign"),
            pl.when(decisive & pl.col("shown_left").is_not_null())
            .then(pl.col("choice") == pl.col("shown_left"))
            .alias("picked_left"),
            (pl.col("seconds") / (pl.col("chars") / 1000.0)).alias("seconds_per_kchar"),
        )
    )


# -- statistics shared by the checks -----------------------------------------------------------


def benjamini_hochberg(p_values: npt.ArrayLike) -> FloatArray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN stays NaN and is not counted.

    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.5]).round(4).tolist()
    [0.04, 0.0533, 0.0533, 0.5]
    """
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    if tested.size == 0:
        return q
    order = tested[np.argsort(p[tested], kind="stable")]
    ranked = p[order] * tested.size / np.arange(1, tested.size + 1)
    q[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    return q


def flag_findings(found: pl.DataFrame, alpha: float = 0.05) -> pl.DataFrame:
    """The one multiple-testing correction: ``q_value`` (Benjamini-Hochberg across every row
    of ``found``) and ``flagged`` = ``q_value < alpha``. Consumes and returns ``FINDINGS``."""
    q_value = benjamini_hochberg(found.get_column("p_value").fill_null(np.nan).to_numpy())
    return found.with_columns(pl.Series("q_value", q_value)).with_columns(
        (pl.col("q_value") < alpha).fill_null(False).alias("flagged")
    )


def _clopper_pearson(k: FloatArray, n: FloatArray) -> tuple[FloatArray, FloatArray]:
    low = np.where(k > 0, stats.beta.ppf(0.025, k, n - k + 1), 0.0)
    high = np.where(k < n, stats.beta.ppf(0.975, k + 1, n - k), 1.0)
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)


def _difference_interval(
    k1: FloatArray, n1: FloatArray, k2: FloatArray, n2: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Difference of two proportions k1/n1 - k2/n2 with a Wald 95% interval."""
    p1, p2 = k1 / n1, k2 / n2
    se = np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    diff = p1 - p2
    return diff, diff - _Z95 * se, diff + _Z95 * se


def _fisher_less(k1: FloatArray, n1: FloatArray, k2: FloatArray, n2: FloatArray) -> FloatArray:
    """One-sided Fisher exact p-value that proportion 1 is below proportion 2 (vectorised)."""
    return np.asarray(stats.hypergeom.cdf(k1, n1 + n2, k1 + k2, n1), dtype=np.float64)


@dataclass(frozen=True)
class _LogitFit:
    """``_batched_logit``'s answer, each row one group: coefficients and standard errors
    (groups, p), and what says whether a coefficient can be tested at all: ``outcome_varies``
    (both outcomes occur in the group) and ``spread`` (the standard deviation of each design
    column within the group; 0: the column is constant there)."""

    beta: FloatArray
    se: FloatArray
    outcome_varies: npt.NDArray[np.bool_]
    spread: FloatArray

    def untestable(self, column: int, what: str, same: str) -> list[str | None]:
        """Per group, why the slope of ``column`` cannot be tested (None: it can); ``what``
        names the column, ``same`` the outcome that never varies ("chose one side").

        A group whose outcome never varies, or whose ``column`` never varies, has no slope to
        estimate; one whose slope runs past ``_SEPARATED`` log-odds per standard deviation of
        the column is separated (the outcome follows the column perfectly, the estimate and
        its Wald test mean nothing).
        """
        spread = self.spread[:, column]
        runs_off = np.abs(self.beta[:, column]) * spread > _SEPARATED
        reasons: list[str | None] = []
        for varies, sd, off in zip(self.outcome_varies, spread, runs_off, strict=True):
            if not varies:
                reasons.append(f"{same} on every vote")
            elif sd == 0:
                reasons.append(f"no {what} difference in their votes")
            elif off:
                reasons.append(f"their votes follow the {what} perfectly: no slope to estimate")
            else:
                reasons.append(None)
        return reasons


def _batched_logit(
    groups: IntArray, design: FloatArray, y: FloatArray, n_groups: int, max_iter: int = 50
) -> _LogitFit:
    """One logistic regression per group, fitted together by Newton's method.

    ``design`` is (rows, p) with the intercept first; every group 0..n_groups-1 must have
    rows. Rows are sorted by group once, so each iteration's per-group sums are two
    ``np.add.reduceat`` calls: a thousand raters cost about what one does. A step longer than
    ``_MAX_STEP`` is shortened, which keeps a (nearly) separated group from running off; a
    tiny ridge on every coefficient, the intercept too, keeps every Hessian invertible even
    for a group whose outcome never varies (its fitted probabilities reach exactly 0 or 1,
    where the likelihood alone has no curvature left).
    """
    p = design.shape[1]
    if n_groups == 0:
        empty = np.zeros((0, p))
        return _LogitFit(empty, empty, np.zeros(0, dtype=bool), empty)
    order = pl.Series(groups).arg_sort().to_numpy()  # multi-threaded; numpy's is 5x slower
    groups, design, y = groups[order], design[order], y[order]
    starts = np.searchsorted(groups, np.arange(n_groups))
    upper = np.triu_indices(p)
    products = design[:, upper[0]] * design[:, upper[1]]
    penalty = np.full(p, _RIDGE)
    beta = np.zeros((n_groups, p))

    def information(coef: FloatArray) -> tuple[FloatArray, FloatArray]:
        mu = special.expit(np.einsum("ij,ij->i", design, coef[groups]))
        grad = np.add.reduceat(design * (y - mu)[:, None], starts) - coef * penalty
        packed = np.add.reduceat(products * (mu * (1.0 - mu))[:, None], starts)
        hess = np.empty((n_groups, p, p))
        hess[:, upper[0], upper[1]] = packed
        hess[:, upper[1], upper[0]] = packed
        return grad, hess + np.diag(penalty)

    for _ in range(max_iter):
        grad, hess = information(beta)
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        # The Newton decrement: the log-likelihood still to gain. It vanishes for a separated
        # group too, whose coefficient keeps growing while nothing changes.
        if np.max(np.einsum("gp,gp->g", grad, step)) < 1e-14:
            break
        longest = np.abs(step).max(axis=1, keepdims=True)
        beta = beta + step * np.minimum(1.0, _MAX_STEP / np.maximum(longest, 1e-300))
    _, hess = information(beta)
    covariance = np.linalg.inv(hess)
    se = np.sqrt(np.clip(np.diagonal(covariance, axis1=1, axis2=2), 0.0, None))
    count = np.bincount(groups, minlength=n_groups).astype(np.float64)
    positives = np.add.reduceat(y, starts)
    mean = np.add.reduceat(design, starts) / count[:, None]
    variance = np.add.reduceat(design**2, starts) / count[:, None] - mean**2
    # Relative to the column's scale, so rounding in the sums does not pass for variation.
    constant = variance <= 1e-12 * np.maximum(mean**2, 1.0)
    spread = np.where(constant, 0.0, np.sqrt(np.clip(variance, 0.0, None)))
    return _LogitFit(beta, se, (positives > 0) & (positives < count), spread)


def _findings(
    kind: str,
    rater_id: pl.Series | Sequence[str],
    slice_: pl.Series | Sequence[str] | str,
    effect: FloatArray,
    ci: tuple[FloatArray, FloatArray],
    p_value: FloatArray,
    n: npt.ArrayLike,
    messages: Sequence[str],
) -> pl.DataFrame:
    raters = pl.Series(rater_id, dtype=pl.String)
    slices = (
        pl.Series([slice_] * len(raters), dtype=pl.String)
        if isinstance(slice_, str)
        else pl.Series(slice_, dtype=pl.String)
    )
    return pl.DataFrame(
        {
            "rater_id": raters,
            "kind": [kind] * len(raters),
            "slice": slices,
            "effect": np.asarray(effect, dtype=np.float64),
            "ci_low": np.asarray(ci[0], dtype=np.float64),
            "ci_high": np.asarray(ci[1], dtype=np.float64),
            "p_value": np.clip(np.asarray(p_value, dtype=np.float64), 0.0, 1.0),
            "q_value": np.full(len(raters), np.nan),
            "n": np.asarray(n, dtype=np.int64),
            "flagged": np.zeros(len(raters), dtype=bool),
            "message": list(messages),
        },
        schema=FINDINGS,
    )


def _pct(x: float) -> str:
    return f"{x:.0%}"


# -- the checks --------------------------------------------------------------------------------


def check_position(votes: pl.DataFrame) -> pl.DataFrame:
    """Picks the side shown on the left more (or less) than half the time.

    Consumes ``audit_votes`` (``rater_id``, ``picked_left``). Decisive votes only; exact
    two-sided binomial test against 1/2. Effect: share of left picks minus 1/2, with a
    Clopper-Pearson interval.
    """
    per_rater = (
        votes.select("rater_id", "picked_left")
        .filter(pl.col("picked_left").is_not_null())
        .group_by("rater_id")
        .agg(pl.len().alias("n"), pl.col("picked_left").sum().alias("k"))
        .filter(pl.col("n") >= MIN_VOTES)
        .sort("rater_id")
    )
    n = per_rater.get_column("n").to_numpy().astype(np.float64)
    k = per_rater.get_column("k").to_numpy().astype(np.float64)
    # Symmetric null: the two-sided exact p is twice the smaller tail.
    p_value = 2.0 * stats.binom.cdf(np.minimum(k, n - k), n, 0.5)
    low, high = _clopper_pearson(k, n)
    messages = [
        f"{rater} picked the response shown on the left in {_pct(ki / ni)} of {ni:.0f} "
        "decisive votes (50% expected by chance)"
        for rater, ki, ni in zip(per_rater.get_column("rater_id"), k, n, strict=True)
    ]
    return _findings(
        "position",
        per_rater.get_column("rater_id"),
        "decisive votes",
        k / n - 0.5,
        (low - 0.5, high - 0.5),
        p_value,
        n,
        messages,
    )


@dataclass(frozen=True)
class _ChoiceModel:
    """Per rater (``raters``): coefficients and standard errors of
    logit P(choose a) = b0 + b1·reference sign + b2·length + b3·markdown, and decisive votes."""

    raters: pl.Series
    fit: _LogitFit
    n: IntArray


# check_length and check_style read the same regression: running both costs one fit.
@remember_last
def _choice_model(votes: pl.DataFrame) -> _ChoiceModel:
    return _fit_choice_model(votes)


def _fit_choice_model(votes: pl.DataFrame) -> _ChoiceModel:
    decisive = (
        votes.select("rater_id", "choice", "reference_sign", "length", "markdown")
        .filter(
            pl.col("choice").is_in(["a", "b"])
            & pl.col("length").is_not_null()
            & pl.col("markdown").is_not_null()
        )
        .filter(pl.len().over("rater_id") >= MIN_VOTES)
    )
    groups, raters = dense_codes(decisive.get_column("rater_id"))
    design = np.column_stack(
        [
            np.ones(decisive.height),
            decisive.get_column("reference_sign").to_numpy(),
            decisive.get_column("length").to_numpy(),
            decisive.get_column("markdown").to_numpy(),
        ]
    )
    y = (decisive.get_column("choice") == "a").to_numpy().astype(np.float64)
    fit = _batched_logit(groups, design, y, len(raters))
    return _ChoiceModel(raters, fit, np.bincount(groups, minlength=len(raters)))


def _slope_findings(
    votes: pl.DataFrame, kind: str, column: int, more: str, less: str, what: str
) -> pl.DataFrame:
    model = _choice_model(votes)
    raters, n = model.raters, model.n
    slope, error = model.fit.beta[:, column], model.fit.se[:, column]
    reasons = model.fit.untestable(column, what, "chose the same side")
    messages = [
        f"{kind} not tested for {rater}: {reason} ({ni} decisive votes)"
        if reason
        else f"{rater} favours the {more if b > 0 else less} beyond what the reference "
        f"explains: odds x{2.0 ** abs(b):.2f} per doubling ({ni} decisive votes)"
        for rater, b, ni, reason in zip(raters, slope, n, reasons, strict=True)
    ]
    tested = np.array([reason is None for reason in reasons], dtype=bool)
    slope, error = np.where(tested, slope, np.nan), np.where(tested, error, np.nan)
    p_value = 2.0 * stats.norm.sf(np.abs(slope / error))
    ci = (slope - _Z95 * error, slope + _Z95 * error)
    return _findings(kind, raters, "decisive votes", slope, ci, p_value, n, messages)


def check_length(votes: pl.DataFrame) -> pl.DataFrame:
    """Prefers the longer (or shorter) response beyond what the reference label explains.

    Consumes ``audit_votes``. Per rater, a logistic regression of choosing a on the reference
    sign, the log length ratio and the Markdown difference (so style is not mistaken for
    length); Wald test of the length slope. Effect: that slope, in log-odds per unit of
    log length ratio (x2^slope in odds per doubling).
    """
    return _slope_findings(votes, "length", 2, "longer response", "shorter response", "length")


def check_style(votes: pl.DataFrame) -> pl.DataFrame:
    """Prefers more (or less) Markdown structure (headers, list items, bold) beyond the
    reference label and length. Same regression as ``check_length``; effect: the Markdown
    slope, in log-odds per unit of log1p(count_a) - log1p(count_b)."""
    more, less = (
        f"response with {word} Markdown (headers, lists, bold)" for word in ("more", "less")
    )
    return _slope_findings(votes, "style", 3, more, less, "Markdown")


def check_ties(votes: pl.DataFrame) -> pl.DataFrame:
    """Uses tie far more than the other raters.

    Consumes ``audit_votes`` (``rater_id``, ``choice``). Exact one-sided binomial test of the
    rater's tie count against ``TIE_RATIO`` times the pooled tie rate of everyone else:
    honest raters differ somewhat in how readily they call a tie, and with enough votes any
    difference is significant, so "far more" is what is tested. Effect: the rater's tie rate
    minus the others' rate, with a Clopper-Pearson interval.
    """
    per_rater = (
        votes.select("rater_id", "choice")
        .group_by("rater_id")
        .agg(pl.len().alias("n"), (pl.col("choice") == "tie").sum().alias("k"))
        .sort("rater_id")
    )
    n_all = float(per_rater.get_column("n").sum())
    k_all = float(per_rater.get_column("k").sum())
    per_rater = per_rater.filter(pl.col("n") >= MIN_VOTES)
    n = per_rater.get_column("n").to_numpy().astype(np.float64)
    k = per_rater.get_column("k").to_numpy().astype(np.float64)
    others = np.divide(k_all - k, n_all - n, out=np.zeros_like(n), where=n_all - n > 0)
    p_value = stats.binom.sf(k - 1, n, np.minimum(TIE_RATIO * others, 1.0))
    low, high = _clopper_pearson(k, n)
    messages = [
        f"{rater} called {_pct(ki / ni)} of {ni:.0f} votes a tie vs {_pct(oi)} for the other raters"
        for rater, ki, ni, oi in zip(per_rater.get_column("rater_id"), k, n, others, strict=True)
    ]
    return _findings(
        "ties",
        per_rater.get_column("rater_id"),
        "all votes",
        k / n - others,
        (low - others, high - others),
        p_value,
        n,
        messages,
    )


def check_speed(votes: pl.DataFrame, floor: float = FAST_SECONDS_PER_KCHAR) -> pl.DataFrame:
    """Votes too fast to have read the texts, which also agree less with the reference.

    Consumes ``audit_votes`` (``seconds_per_kchar``, ``correct``). A vote is fast below
    ``floor`` seconds per 1,000 characters of prompt and responses. One-sided Fisher exact
    test: the rater's fast votes agree with the reference less than all other votes
    (everyone's, normal-speed or untimed) do. Effect: that difference in agreement, with a
    Wald interval.
    """
    scored = votes.select("rater_id", "correct", "seconds_per_kchar").filter(
        pl.col("correct").is_not_null()
    )
    fast = (pl.col("seconds_per_kchar") < floor).fill_null(False)
    # Votes without a time (imported ones) were not seen to be fast: a rater fast on every vote,
    # with no normal-speed vote of their own, is compared with the raters who were not timed.
    normal = scored.filter(~fast)
    n_normal = float(normal.height)
    k_normal = float(normal.get_column("correct").sum())
    untimed = normal.get_column("seconds_per_kchar").null_count()
    versus = "normal-speed and untimed votes" if untimed else "normal-speed votes"
    timed = scored.filter(pl.col("seconds_per_kchar").is_not_null())
    per_rater = (
        timed.group_by("rater_id")
        .agg(
            pl.len().alias("n_rater"),
            fast.sum().alias("n"),
            (fast & pl.col("correct")).sum().alias("k"),
        )
        .filter(pl.col("n") >= MIN_SLICE)
        .sort("rater_id")
    )
    n = per_rater.get_column("n").to_numpy().astype(np.float64)
    k = per_rater.get_column("k").to_numpy().astype(np.float64)
    n_rater = per_rater.get_column("n_rater").to_numpy()
    if n_normal == 0:  # every vote was fast: nothing to compare with
        return pl.DataFrame(schema=FINDINGS)
    normal_n, normal_k = np.full_like(n, n_normal), np.full_like(n, k_normal)
    effect, low, high = _difference_interval(k, n, normal_k, normal_n)
    p_value = _fisher_less(k, n, normal_k, normal_n)
    messages = [
        f"{rater} judged {ni:.0f} of {nr} pairs faster than {floor:g} s per 1,000 characters "
        f"and agreed with the reference on {_pct(ki / ni)} of those vs "
        f"{_pct(k_normal / n_normal)} of {versus}"
        for rater, ki, ni, nr in zip(per_rater.get_column("rater_id"), k, n, n_rater, strict=True)
    ]
    return _findings(
        "speed",
        per_rater.get_column("rater_id"),
        f"< {floor:g} s per 1k chars",
        effect,
        (low, high),
        p_value,
        n,
        messages,
    )


def check_accuracy(votes: pl.DataFrame) -> pl.DataFrame:
    """Agrees with the reference far less often than the other raters do.

    Consumes ``audit_votes`` (``choice``, ``reference``, ``correct``, ``seconds``). Decisive
    votes on pairs whose reference is decisive (a or b), so a coin flip agrees half the time
    and ties are ``check_ties``' business. Exact one-sided binomial test that the rater's
    agreement is below the point ``ACCURACY_SHARE`` of the way from chance (1/2) up to the
    other raters' pooled agreement: the rater is closer to chance than to the pool. Honest
    raters differ in skill and with enough votes any gap is significant, so "far below" is
    what is tested. It needs no times: a rater fast on every vote, who has no normal-speed
    votes of their own to compare with, is found here too (the message gives their median
    seconds per vote beside the raters' median). Effect: the rater's agreement minus the
    others', with a Clopper-Pearson interval.
    """
    decisive = votes.filter(
        pl.col("choice").is_in(["a", "b"]) & pl.col("reference").is_in(["a", "b"])
    ).select("rater_id", "correct", "seconds")
    per_rater = (
        decisive.group_by("rater_id")
        .agg(
            pl.len().alias("n"),
            pl.col("correct").cast(pl.Int64).sum().alias("k"),
            pl.col("seconds").median().alias("seconds"),
        )
        .sort("rater_id")
    )
    n_all = float(per_rater.get_column("n").sum())
    k_all = float(per_rater.get_column("k").sum())
    medians = per_rater.get_column("seconds").drop_nulls()
    typical = float(np.median(medians.to_numpy())) if len(medians) else None
    # A rater needs votes of their own to test, and other raters' to compare with.
    per_rater = per_rater.filter((pl.col("n") >= MIN_VOTES) & (pl.col("n") < n_all))
    n = per_rater.get_column("n").to_numpy().astype(np.float64)
    k = per_rater.get_column("k").to_numpy().astype(np.float64)
    others = (k_all - k) / (n_all - n)
    floor = 0.5 + ACCURACY_SHARE * (others - 0.5)
    p_value = stats.binom.cdf(k, n, floor)
    low, high = _clopper_pearson(k, n)

    def pace(seconds: float | None) -> str:
        if seconds is None or typical is None:
            return ""
        return f"; a median {seconds:.3g} s per vote vs {typical:.3g} s for all raters"

    messages = [
        f"{rater} agreed with the reference on {_pct(ki / ni)} of {ni:.0f} decisive votes vs "
        f"{_pct(oi)} for the other raters (a coin flip: 50%){pace(si)}"
        for rater, ki, ni, oi, si in zip(
            per_rater.get_column("rater_id"),
            k,
            n,
            others,
            per_rater.get_column("seconds"),
            strict=True,
        )
    ]
    return _findings(
        "accuracy",
        per_rater.get_column("rater_id"),
        "decisive votes",
        k / n - others,
        (low - others, high - others),
        p_value,
        n,
        messages,
    )


def _slice_findings(
    scored: pl.DataFrame, sliced: pl.DataFrame, column: str, kind: str, describe: str, versus: str
) -> pl.DataFrame:
    """Agreement in each (rater, slice) against what the rater's agreement elsewhere and the
    slice's difficulty for the other raters predict.

    ``scored``: the votes with a reference; ``sliced``: the same votes with one row per slice
    they belong to (a vote citing two principles is in both), slice in ``column``. Each cell
    needs ``MIN_SLICE`` votes, as do the rater elsewhere, the others in the slice and the
    others elsewhere. The test is ``_slice_deficit``'s.
    """
    agree = pl.col("correct").cast(pl.Int64)
    n_all, k_all = scored.height, int(scored.get_column("correct").sum())
    by_rater = scored.group_by("rater_id").agg(
        pl.len().alias("n_rater"), agree.sum().alias("k_rater")
    )
    by_slice = sliced.group_by(column).agg(pl.len().alias("n_slice"), agree.sum().alias("k_slice"))
    cells = (
        sliced.group_by("rater_id", column)
        .agg(pl.len().alias("n"), agree.sum().alias("k"))
        .join(by_rater, on="rater_id")
        .join(by_slice, on=column)
        .with_columns(
            (pl.col("n_rater") - pl.col("n")).alias("n_else"),
            (pl.col("k_rater") - pl.col("k")).alias("k_else"),
            (pl.col("n_slice") - pl.col("n")).alias("n_peers"),
            (pl.col("k_slice") - pl.col("k")).alias("k_peers"),
        )
        .with_columns(
            (n_all - pl.col("n_rater") - pl.col("n_peers")).alias("n_rest"),
            (k_all - pl.col("k_rater") - pl.col("k_peers")).alias("k_rest"),
        )
        .filter(
            (pl.col("n") >= MIN_SLICE)
            & (pl.col("n_else") >= MIN_SLICE)
            & (pl.col("n_peers") >= MIN_SLICE)
            & (pl.col("n_rest") >= MIN_SLICE)
        )
        .sort("rater_id", column)
    )

    def values(name: str) -> FloatArray:
        return cells.get_column(name).to_numpy().astype(np.float64)

    n, k = values("n"), values("k")
    n_else, k_else, n_peers, k_peers = (
        values("n_else"),
        values("k_else"),
        values("n_peers"),
        values("k_peers"),
    )
    n_rest, k_rest = values("n_rest"), values("k_rest")
    deficit = _slice_deficit(k, n, (k_else, n_else), (k_peers, n_peers), (k_rest, n_rest))
    messages = [
        f"{rater} agrees with {describe} {where} {_pct(ki / ni)} vs {_pct(ke / ne)} {versus} "
        f"(other raters: {_pct(kp / np_)} there, {_pct(kr / nr)} elsewhere; "
        f"{_pct(mu)} expected; n={ni:.0f})"
        for rater, where, ki, ni, ke, ne, kp, np_, kr, nr, mu in zip(
            cells.get_column("rater_id"),
            cells.get_column(column),
            k,
            n,
            k_else,
            n_else,
            k_peers,
            n_peers,
            k_rest,
            n_rest,
            deficit.expected,
            strict=True,
        )
    ]
    return _findings(
        kind,
        cells.get_column("rater_id"),
        cells.get_column(column),
        deficit.effect,
        (deficit.ci_low, deficit.ci_high),
        deficit.p_value,
        n,
        messages,
    )


@dataclass(frozen=True)
class _Deficit:
    """Per cell: agreement expected there, observed minus expected with a 95% interval, and
    the one-sided p-value of agreeing this rarely."""

    expected: FloatArray
    effect: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    p_value: FloatArray


Counts = tuple[FloatArray, FloatArray]


def _slice_deficit(
    k: FloatArray, n: FloatArray, rater_else: Counts, peers_there: Counts, peers_else: Counts
) -> _Deficit:
    """The rater's deficit in a slice beyond the slice's own difficulty.

    The agreement the rater would have in the slice if their odds of agreeing changed there as
    much as the other raters' odds do: logit(expected) = logit(rater elsewhere) + logit(others
    in the slice) - logit(others elsewhere), the additive logistic model of agreement on rater
    and slice, fitted to the other three cells of the 2 x 2 table (rater / others x slice /
    elsewhere). Each log-odds is smoothed by a half count (finite at 0% and 100%); its
    variance is 1/(k + 1/2) + 1/(n - k + 1/2) and the three add up.

    The p-value is predictive: the chance of fewer than k agreements (plus half the chance of
    exactly k: the mid-p) in n votes when the rater's rate there is drawn from the beta
    distribution with the expectation's mean and variance (a beta-binomial tail), so the
    uncertainty of the expectation counts. One test of the rater against the pool in that
    slice, where the conjunction of two Fisher tests (below the rater elsewhere *and* below
    the others there) paid for both uncertainties twice: 18 right of 30 where 87% is
    expected gets p ~ 7e-4 instead of ~ 6e-3.
    """

    def log_odds(counts: Counts) -> tuple[FloatArray, FloatArray]:
        agreed, total = counts
        return (
            np.log(agreed + 0.5) - np.log(total - agreed + 0.5),
            1.0 / (agreed + 0.5) + 1.0 / (total - agreed + 0.5),
        )

    (rater, rater_var), (there, there_var), (rest, rest_var) = (
        log_odds(rater_else),
        log_odds(peers_there),
        log_odds(peers_else),
    )
    expected = special.expit(rater + there - rest)
    spread = expected * (1.0 - expected)
    # Beta(a, b) with that mean and the delta-method variance spread^2 * var of the log-odds.
    concentration = np.maximum(1.0 / (spread * (rater_var + there_var + rest_var)) - 1.0, 1e-3)
    a, b = expected * concentration, (1.0 - expected) * concentration
    # The mid-p tail (half the chance of exactly k): a discrete tail in full is conservative.
    p_value = stats.betabinom.cdf(k, n, a, b) - 0.5 * stats.betabinom.pmf(k, n, a, b)
    observed = (k + 0.5) / (n + 1.0)
    # The observed share's binomial variance plus the expectation's (the beta's) variance.
    se = np.sqrt(observed * (1.0 - observed) / n + spread / (concentration + 1.0))
    effect = k / n - expected
    return _Deficit(
        expected=expected,
        effect=effect,
        ci_low=effect - _Z95 * se,
        ci_high=effect + _Z95 * se,
        p_value=np.asarray(p_value, dtype=np.float64),
    )


def check_category(votes: pl.DataFrame) -> pl.DataFrame:
    """Agreement with the reference in one category far below the rater's elsewhere and
    below the other raters' in that category. Consumes ``audit_votes`` (``category``,
    ``correct``). Effect: agreement in the category minus agreement elsewhere."""
    scored = votes.select("rater_id", "category", "correct").filter(pl.col("correct").is_not_null())
    sliced = scored.filter(pl.col("category").is_not_null())
    return _slice_findings(scored, sliced, "category", "category", "the reference on", "elsewhere")


def check_principle(votes: pl.DataFrame) -> pl.DataFrame:
    """Agreement with the reference on the votes citing one principle far below the rater's
    other votes and the other raters' votes citing it. Consumes ``audit_votes``
    (``principles``, ``correct``). Effect: agreement citing it minus agreement otherwise."""
    scored = votes.select("rater_id", "principles", "correct").filter(
        pl.col("correct").is_not_null()
    )
    sliced = (
        # A principle cited twice in one vote counts once.
        scored.select("rater_id", "correct", pl.col("principles").list.unique().alias("principle"))
        .explode("principle")
        .filter(pl.col("principle").is_not_null())
    )
    return _slice_findings(
        scored, sliced, "principle", "principle", "the reference when citing", "otherwise"
    )


def check_gold(votes: pl.DataFrame) -> pl.DataFrame:
    """Misses gold items of one kind: agreement with gold on one category of gold items far
    below the rater's other gold items and the other raters' on that category. Consumes
    ``audit_votes`` (``reference_kind``, ``category``, ``correct``)."""
    scored = votes.filter(pl.col("reference_kind") == "gold").select(
        "rater_id", "category", "correct"
    )
    sliced = scored.filter(pl.col("category").is_not_null())
    return _slice_findings(scored, sliced, "category", "gold", "gold on", "on other gold items")


def check_drift(votes: pl.DataFrame) -> pl.DataFrame:
    """Agreement with the reference falls over time.

    Consumes ``audit_votes`` (``created_at``, ``correct``). Per rater, a logistic regression
    of agreeing on time scaled to [0, 1] over the rater's own working span; one-sided Wald
    test that the slope is negative. Effect: the slope, in log-odds from first to last vote.
    Raters whose votes all carry one timestamp (imported labels) are not tested.
    """
    scored = (
        votes.select("rater_id", "created_at", "correct")
        .filter(pl.col("correct").is_not_null() & pl.col("created_at").is_not_null())
        .with_columns(pl.col("created_at").dt.epoch("us").cast(pl.Float64).alias("t"))
        .with_columns((pl.col("t").max() - pl.col("t").min()).over("rater_id").alias("span"))
        # Votes stamped all at once (an import) say nothing about time.
        .filter((pl.len().over("rater_id") >= MIN_VOTES) & (pl.col("span") > 0))
        .with_columns((pl.col("t") - pl.col("t").min().over("rater_id")) / pl.col("span"))
    )
    groups, raters = dense_codes(scored.get_column("rater_id"))
    design = np.column_stack([np.ones(scored.height), scored.get_column("t").to_numpy()])
    y = scored.get_column("correct").to_numpy().astype(np.float64)
    fit = _batched_logit(groups, design, y, len(raters))
    slope, error = fit.beta[:, 1], fit.se[:, 1]
    start, end = special.expit(fit.beta[:, 0]), special.expit(fit.beta[:, 0] + slope)
    n = np.bincount(groups, minlength=len(raters))
    reasons = fit.untestable(1, "time", "the same agreement with the reference")
    messages = [
        f"drift not tested for {rater}: {reason} ({ni} votes)"
        if reason
        else f"{rater}'s agreement with the reference went from {_pct(s)} at their first vote "
        f"to {_pct(e)} at their last (fitted over {ni} votes)"
        for rater, s, e, ni, reason in zip(raters, start, end, n, reasons, strict=True)
    ]
    tested = np.array([reason is None for reason in reasons], dtype=bool)
    slope, error = np.where(tested, slope, np.nan), np.where(tested, error, np.nan)
    p_value = stats.norm.cdf(slope / error)
    ci = (slope - _Z95 * error, slope + _Z95 * error)
    return _findings("drift", raters, "over time", slope, ci, p_value, n, messages)


def check_probe(votes: pl.DataFrame) -> pl.DataFrame:
    """Picks the surface-edited side of probe pairs more often than they pick that response
    unedited; one finding per rater (and for all raters together) and probe kind (the
    slice). ``labeling.susceptibility.probe_findings`` explains the test."""
    # susceptibility builds on this module, so it is imported when the check runs.
    from labeling.susceptibility import probe_findings

    return probe_findings(votes)


def check_retest(votes: pl.DataFrame) -> pl.DataFrame:
    """Agrees with themselves on pairs served again (round 1, sides swapped) far less than
    the other raters do. ``labeling.susceptibility.retest_findings`` explains the test."""
    from labeling.susceptibility import retest_findings

    return retest_findings(votes)


ALL_CHECKS: tuple[Check, ...] = (
    check_position,
    check_length,
    check_style,
    check_ties,
    check_speed,
    check_accuracy,
    check_category,
    check_principle,
    check_gold,
    check_drift,
    check_probe,
    check_retest,
)


def find_blind_spots(
    judgments: pl.DataFrame,
    pairs: pl.DataFrame,
    *,
    alpha: float = 0.05,
    checks: Sequence[Check] = ALL_CHECKS,
) -> pl.DataFrame:
    """Run ``checks`` for every rater and correct for multiple testing in one place.

    Consumes ``frames.JUDGMENTS`` and ``frames.PAIRS``. Returns ``FINDINGS``, every test
    made (flagged or not), with ``q_value`` the Benjamini-Hochberg adjusted p-value across
    all raters x checks x slices and ``flagged`` = ``q_value < alpha``; flagged first, then by
    q-value.
    """
    votes = audit_votes(judgments, pairs)
    found = pl.concat([check(votes) for check in checks], how="vertical")
    return flag_findings(found, alpha).sort(
        ["q_value", "p_value", "rater_id", "kind"], nulls_last=True
    )
