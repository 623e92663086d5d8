"""Raters tested for what the reward model is tested for: probe pairs and retests.

Two checks the other blind spots cannot make, with their tables for the audit:

- **probe**: a probe pair (``labeling.rater_probes``) is a base pair whose intended loser got
  one surface edit that adds no substance (``labeling.edits``: padding, flattery, a confident
  opener...); its ``gold`` is the intended side, the edited side is the other one.
  ``susceptibility`` counts how often each rater, and the pool of raters as a whole
  (``POOL``), picks the edited side, per probe kind, against how often they would pick that
  response without the edit; ``probe_findings`` tests whether the edit moved them.
- **retest**: a pair served again to the same rater later, sides swapped (``round`` 1).
  ``self_agreement`` is each rater's intra-rater Cohen's kappa (round 0 against round 1),
  to read beside the inter-rater kappas of ``labeling.agreement``; ``retest_findings``
  flags a rater whose answers do not survive a second look: noise, not a minority view.

Both return findings in ``blind_spots.FINDINGS`` (kinds ``probe``, with the probe kind as
slice, and ``retest``); ``blind_spots.check_probe`` and ``blind_spots.check_retest`` run them
among the other checks, so they share the one multiple-testing correction. Like every check
they read each rater's first vote on a pair (``blind_spots.first_votes``), its retest beside.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy import stats

from data import frames
from labeling.agreement import _kappa, _kappa_intervals
from labeling.blind_spots import (
    FINDINGS,
    MIN_SLICE,
    _clopper_pearson,
    _findings,
    _pct,
    audit_votes,
    first_votes,
)
from labeling.codes import choice_codes, dense_codes

__all__ = [
    "POOL",
    "RETEST_SHARE",
    "SELF_AGREEMENT",
    "SUSCEPTIBILITY",
    "probe_findings",
    "probe_susceptibility",
    "retest_findings",
    "self_agreement",
    "susceptibility",
    "with_findings",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The ``rater_id`` of the rows about all raters together (no real rater id has parentheses
#: and a space: ``data.importers`` keeps ids as given, and people pick handles).
POOL = "(all raters)"
#: "Far below the other raters' self-agreement" means below this share of their self-kappa:
#: with 1/2, closer to chance (kappa 0) than to the pool, as ``blind_spots.ACCURACY_SHARE``.
RETEST_SHARE = 0.5

#: ``susceptibility``: one row per rater (and ``POOL``) and probe kind. ``n`` decisive votes
#: on probe pairs of that kind, ``picked_edited`` of them for the edited side, ``rate`` their
#: share with a Clopper-Pearson 95% interval, ``base_rate`` how often the rater would pick
#: that response without the edit (see ``probe_susceptibility``), ``n_paired`` votes beside
#: the rater's own vote on a base pair with gold, ``moved`` / ``moved_back`` of those right
#: on the base and wrong on the probe / the other way round, and ``p_value`` (one-sided:
#: the edit moved them toward the edited side).
SUSCEPTIBILITY: dict[str, pl.DataType] = {
    "rater_id": pl.String(),
    "probe_kind": pl.String(),
    "n": pl.Int64(),
    "picked_edited": pl.Int64(),
    "rate": pl.Float64(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
    "base_rate": pl.Float64(),
    "n_paired": pl.Int64(),
    "moved": pl.Int64(),
    "moved_back": pl.Int64(),
    "p_value": pl.Float64(),
}

#: ``self_agreement``: one row per rater with retests (and ``POOL``): ``n`` retested pairs,
#: ``agreement`` (share answered the same), Cohen's ``kappa`` of round 0 against round 1 with
#: the house's bootstrap 95% interval (``agreement.cohen_kappa``'s; null where undefined).
SELF_AGREEMENT: dict[str, pl.DataType] = {
    "rater_id": pl.String(),
    "n": pl.Int64(),
    "agreement": pl.Float64(),
    "kappa": pl.Float64(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
}

_SIDES = list(frames.SIDES)
_N_CHOICES = len(frames.CHOICES)


# -- probes ------------------------------------------------------------------------------------


def susceptibility(judgments: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """How often each rater picks the edited side of probe pairs, per probe kind.

    Consumes ``frames.JUDGMENTS`` and ``frames.PAIRS`` (probe pairs carry ``probe_kind`` and
    ``probe_of``). Returns ``SUSCEPTIBILITY``: ``probe_susceptibility`` of
    ``blind_spots.audit_votes``, raters by id, then ``POOL``.
    """
    return probe_susceptibility(audit_votes(judgments, pairs))


def probe_susceptibility(votes: pl.DataFrame) -> pl.DataFrame:
    """``susceptibility`` from ``blind_spots.audit_votes`` (``rater_id, pair_id, round,
    choice, gold, reference, correct, probe_kind, probe_of``).

    Decisive first votes only (a tie neither picks the edited side nor resists it). The
    question is whether the edit moved the rater toward the edited response, so each probe
    vote is set against how often that rater picks that response unedited:

    - **paired**: the rater voted on the base pair and it carries gold. The probe's intended
      answer is then that gold (``rater_probes.intended_answers``), so both votes have the
      same right answer: the McNemar pairing. ``moved`` counts right on the base and wrong
      on the probe, ``moved_back`` the reverse; without an effect of the edit both are
      equally likely, whatever the rater's skill.
    - **otherwise**: the rater's error rate on ordinary (non-probe) pairs against the
      reference (gold, else the other raters' majority). Not the votes on the base pair
      itself: where its intended answer came from the votes, they were picked *because*
      they agree (a strong consensus), so the raters' error there reads as about zero and
      every honest rater would look swayed. Ordinary pairs are harder on average than
      those bases, which makes this baseline cautious: it finds a strong pull, not a slight
      one. It is the rater's own rate, so a less careful rater is not mistaken for a
      susceptible one.

    ``base_rate`` averages the two baselines over the votes. The p-value is exact for the
    sum T = moved + (edited picks among the other votes): under "no effect" the discordant
    paired votes are fair coins (Binomial(moved + moved_back, 1/2), the exact McNemar test)
    and the other picks follow the rater's error rate, itself estimated from their ordinary
    votes, so they are beta-binomial (the rate drawn from Beta(errors + 1/2, right + 1/2)):
    the baseline's own uncertainty counts, as in ``blind_spots``' slice tests. P(T >= t)
    sums over the discordant votes' outcomes. With paired votes alone it is the one-sided
    exact McNemar test; with none, a beta-binomial tail that tends to the exact binomial
    test as the ordinary votes grow. ``POOL`` rows pool every rater's votes the same way.
    """
    decisive = pl.col("choice").is_in(_SIDES)
    probes = votes.filter(
        pl.col("probe_kind").is_not_null() & decisive & pl.col("gold").is_in(_SIDES)
    ).select(
        "rater_id",
        "probe_kind",
        "probe_of",
        (pl.col("choice") != pl.col("gold")).alias("edited"),
    )
    bases = votes.filter(
        pl.col("probe_kind").is_null() & decisive & pl.col("gold").is_in(_SIDES)
    ).select(
        "rater_id",
        pl.col("pair_id").alias("probe_of"),
        base_wrong=pl.col("choice") != pl.col("gold"),
    )
    ordinary = (
        votes.filter(pl.col("probe_kind").is_null() & decisive & pl.col("reference").is_in(_SIDES))
        .group_by("rater_id")
        .agg(
            (~pl.col("correct")).sum().cast(pl.Int64).alias("errors"),
            pl.col("correct").sum().cast(pl.Int64).alias("right"),
        )
    )
    paired = pl.col("base_wrong").is_not_null()
    edited, base_wrong = pl.col("edited"), pl.col("base_wrong").fill_null(False)
    counts = [
        pl.len().cast(pl.Int64).alias("n"),
        edited.sum().cast(pl.Int64).alias("picked_edited"),
        paired.sum().cast(pl.Int64).alias("n_paired"),
        (paired & base_wrong).sum().cast(pl.Int64).alias("base_wrong"),
        (paired & ~base_wrong & edited).sum().cast(pl.Int64).alias("moved"),
        (paired & base_wrong & ~edited).sum().cast(pl.Int64).alias("moved_back"),
        (~paired & edited).sum().cast(pl.Int64).alias("edited_unpaired"),
    ]
    voted = probes.join(bases, on=["rater_id", "probe_of"], how="left")
    per_rater = (
        voted.group_by("rater_id", "probe_kind")
        .agg(counts)
        .join(ordinary, on="rater_id", how="left")
        .with_columns(pl.col("errors", "right").fill_null(0))
        .sort("rater_id", "probe_kind")
    )
    pool = (
        voted.group_by("probe_kind")
        .agg(counts)
        .with_columns(
            pl.lit(POOL).alias("rater_id"),
            pl.lit(ordinary.get_column("errors").sum(), pl.Int64).alias("errors"),
            pl.lit(ordinary.get_column("right").sum(), pl.Int64).alias("right"),
        )
        .sort("probe_kind")
    )
    table = pl.concat([per_rater, pool.select(per_rater.columns)])

    def column(name: str) -> IntArray:
        return table.get_column(name).to_numpy().astype(np.int64)

    n, k, n_paired = column("n"), column("picked_edited"), column("n_paired")
    moved, moved_back = column("moved"), column("moved_back")
    # The error rate's Jeffreys posterior: half a count each way, finite with no votes.
    errors, right = column("errors") + 0.5, column("right") + 0.5
    error_rate = errors / (errors + right)
    base_rate = (column("base_wrong") + (n - n_paired) * error_rate) / np.maximum(n, 1)
    p_value = np.array(
        [
            _edit_p_value(int(m), int(m + b), int(u), int(nu), float(e), float(r))
            for m, b, u, nu, e, r in zip(
                moved,
                moved_back,
                column("edited_unpaired"),
                n - n_paired,
                errors,
                right,
                strict=True,
            )
        ],
        dtype=np.float64,
    )
    low, high = _clopper_pearson(k.astype(np.float64), n.astype(np.float64))
    return table.select(
        "rater_id",
        "probe_kind",
        "n",
        "picked_edited",
        pl.Series("rate", k / np.maximum(n, 1)),
        pl.Series("ci_low", low),
        pl.Series("ci_high", high),
        pl.Series("base_rate", base_rate),
        "n_paired",
        "moved",
        "moved_back",
        pl.Series("p_value", p_value),
    ).cast(pl.Schema(SUSCEPTIBILITY))


def _edit_p_value(
    moved: int, discordant: int, edited_unpaired: int, n_unpaired: int, errors: float, right: float
) -> float:
    """P(T >= moved + edited_unpaired) for T = Binomial(discordant, 1/2) +
    BetaBinomial(n_unpaired, errors, right): ``probe_susceptibility``'s test."""
    outcomes = np.arange(discordant + 1)
    weights = stats.binom.pmf(outcomes, discordant, 0.5)
    # For each number j of discordant votes going the edit's way, the unpaired picks must
    # make up the rest: P(K >= t - j) = sf(t - j - 1).
    rest = stats.betabinom.sf(moved + edited_unpaired - outcomes - 1, n_unpaired, errors, right)
    return float(np.clip(weights @ rest, 0.0, 1.0))


def probe_findings(votes: pl.DataFrame) -> pl.DataFrame:
    """Picks the edited side of probe pairs more often than the response unedited.

    Consumes ``blind_spots.audit_votes``. One finding of kind ``probe`` per rater (and
    ``POOL``) and probe kind (the slice) with at least ``blind_spots.MIN_SLICE`` decisive
    probe votes; the test is ``probe_susceptibility``'s. Effect: the share picking the
    edited side minus ``base_rate``, with the share's Clopper-Pearson interval.
    """
    table = probe_susceptibility(votes).filter(pl.col("n") >= MIN_SLICE)
    rows = table.to_dicts()
    messages = [
        f"{_who(row['rater_id'])} picked the response with the {row['probe_kind']} edit in "
        f"{_pct(row['rate'])} of {row['n']} decisive votes on {row['probe_kind']} probes vs "
        f"{_pct(row['base_rate'])} expected without the edit "
        + (
            f"({row['n_paired']} paired with their own vote on the base pair, which has gold: "
            f"{row['moved']} moved toward the edit, {row['moved_back']} away; the rest set "
            "against their errors on ordinary pairs)"
            if row["n_paired"]
            else "(from their errors on ordinary pairs)"
        )
        for row in rows
    ]
    base_rate = table.get_column("base_rate").to_numpy()
    return _findings(
        "probe",
        table.get_column("rater_id"),
        table.get_column("probe_kind"),
        table.get_column("rate").to_numpy() - base_rate,
        (
            table.get_column("ci_low").to_numpy() - base_rate,
            table.get_column("ci_high").to_numpy() - base_rate,
        ),
        table.get_column("p_value").to_numpy(),
        table.get_column("n").to_numpy(),
        messages,
    )


def _who(rater_id: str) -> str:
    return "The raters together" if rater_id == POOL else rater_id


# -- retests -----------------------------------------------------------------------------------


def _retest_tables(votes: pl.DataFrame) -> tuple[pl.Series, IntArray]:
    """Rater ids (sorted) and each rater's (choices x choices) table of their first answer
    (rows) against their retest (columns), from ``blind_spots.first_votes``' columns."""
    both = votes.filter(pl.col("choice").is_not_null() & pl.col("retest_choice").is_not_null())
    raters, names = dense_codes(both.get_column("rater_id"))
    cells = (
        raters * _N_CHOICES + choice_codes(both.get_column("choice"))
    ) * _N_CHOICES + choice_codes(both.get_column("retest_choice"))
    tables = np.bincount(cells, minlength=len(names) * _N_CHOICES**2)
    return names, tables.reshape(len(names), _N_CHOICES, _N_CHOICES).astype(np.int64)


def self_agreement(
    judgments: pl.DataFrame, *, n_boot: int = 1000, seed: int = 0, confidence: float = 0.95
) -> pl.DataFrame:
    """Each rater's agreement with themselves on retests, and the pool's.

    Consumes ``frames.JUDGMENTS`` (``rater_id, pair_id, round, choice``). A retest is the
    rater's round-1 vote on a pair they answered in round 0 (``blind_spots.first_votes``);
    choices are stored on the pair's own sides, so the swapped display does not count.
    Returns ``SELF_AGREEMENT``, raters by id, then ``POOL`` (every retest together). Kappa
    and its interval are ``labeling.agreement``'s (the bootstrap redraws the cells of each
    rater's round-0 x round-1 table), as for the inter-rater kappas beside it.

    >>> votes = pl.DataFrame({"pair_id": ["p1", "p2", "p1", "p2"], "rater_id": ["r"] * 4,
    ...     "round": [0, 0, 1, 1], "choice": ["a", "b", "a", "a"]})
    >>> self_agreement(votes, n_boot=0).select("rater_id", "n", "agreement").rows()
    [('r', 2, 0.5), ('(all raters)', 2, 0.5)]
    """
    names, tables = _retest_tables(first_votes(frames.conform(judgments, frames.JUDGMENTS)))
    if len(names):
        names = pl.concat([names, pl.Series([POOL])])
        tables = np.concatenate([tables, tables.sum(axis=0, keepdims=True)])
    kappa, observed = _kappa(tables.astype(np.float64))
    low, high = _kappa_intervals(tables, n_boot=n_boot, seed=seed, confidence=confidence)
    return pl.DataFrame(
        {
            "rater_id": names,
            "n": tables.sum(axis=(1, 2)),
            "agreement": observed,
            "kappa": kappa,
            "ci_low": low,
            "ci_high": high,
        },
        schema=SELF_AGREEMENT,
    ).with_columns(pl.col("kappa", "ci_low", "ci_high").fill_nan(None))


def retest_findings(votes: pl.DataFrame, *, n_boot: int = 1000, seed: int = 0) -> pl.DataFrame:
    """Agrees with themselves far less than the other raters do.

    Consumes ``blind_spots.audit_votes`` (``choice``, ``retest_choice``). Raters with at least
    ``blind_spots.MIN_SLICE`` retested pairs. Honest raters differ in how often they change
    their mind on a close pair, so "far below" is what is tested, as in ``check_accuracy``:
    an exact one-sided binomial test that the rater's agreement with themselves is below
    what a self-kappa of ``RETEST_SHARE`` times the other raters' (pooled) self-kappa gives
    with the rater's own answer shares: chance agreement p_e from their table, expected
    agreement p_e + floor x (1 - p_e). The test is conditional on those shares (kappa's
    usual large-sample reading); the interval is ``self_agreement``'s bootstrap one. Effect:
    the rater's self-kappa minus the others'. A rater whose kappa is undefined (one answer on
    every retest) or whose peers have none gets a NaN p-value and a message saying why.
    """
    names, tables = _retest_tables(votes)
    enough = tables.sum(axis=(1, 2)) >= MIN_SLICE
    others = tables.sum(axis=0, keepdims=True) - tables
    own_kappa, _ = _kappa(tables.astype(np.float64))
    others_kappa, _ = _kappa(others.astype(np.float64))
    low, high = _kappa_intervals(tables, n_boot=n_boot, seed=seed, confidence=0.95)
    n = tables.sum(axis=(1, 2)).astype(np.float64)
    agreed = np.einsum("rii->r", tables).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        chance = np.einsum("ri,ri->r", tables.sum(axis=2), tables.sum(axis=1)) / n**2
    floor = RETEST_SHARE * others_kappa
    expected = chance + floor * (1.0 - chance)
    others_n = others.sum(axis=(1, 2))
    testable = np.isfinite(own_kappa) & np.isfinite(others_kappa) & (others_kappa > 0)
    with np.errstate(invalid="ignore"):
        p_value = np.where(testable, stats.binom.cdf(agreed, n, expected), np.nan)
    effect = own_kappa - others_kappa
    # A percentile interval of a discrete statistic can miss its own estimate in a small
    # table: widen it to hold the estimate.
    ci_low = np.fmin(low, own_kappa) - others_kappa
    ci_high = np.fmax(high, own_kappa) - others_kappa

    def message(
        rater: str, k: float, m: float, own: float, peers: float, peers_n: int, ok: bool
    ) -> str:
        if not ok:
            if not np.isfinite(own):
                why = "the same answer on every retest"
            elif peers_n == 0:
                why = "no other rater was retested"
            else:
                why = "the other raters' retests agree no more than chance"
            return f"retest not tested for {rater}: {why} ({m:.0f} retested pairs)"
        return (
            f"{rater} gave the same answer again on {_pct(k / m)} of {m:.0f} pairs served a "
            f"second time with the sides swapped (self-kappa {own:.2f} vs {peers:.2f} for "
            "the other raters)"
        )

    keep = np.flatnonzero(enough)
    ids = names.to_list()
    messages = [
        message(ids[i], agreed[i], n[i], own_kappa[i], others_kappa[i], others_n[i], testable[i])
        for i in keep
    ]
    if keep.size == 0:
        return frames.empty(FINDINGS)
    return _findings(
        "retest",
        names.gather(keep),
        "retested pairs",
        effect[keep],
        (ci_low[keep], ci_high[keep]),
        p_value[keep],
        n[keep],
        messages,
    )


# -- both --------------------------------------------------------------------------------------


def with_findings(table: pl.DataFrame, findings: pl.DataFrame) -> pl.DataFrame:
    """``SUSCEPTIBILITY`` or ``SELF_AGREEMENT`` rows with the ``q_value`` and ``flagged`` of
    their finding in ``findings`` (``blind_spots.FINDINGS``, corrected): null and False
    where the row was not tested (too few votes)."""
    if "probe_kind" in table.columns:
        kind, on = "probe", ["rater_id", "probe_kind"]
        tested = findings.filter(pl.col("kind") == kind).rename({"slice": "probe_kind"})
    else:
        kind, on = "retest", ["rater_id"]
        tested = findings.filter(pl.col("kind") == kind)
    return table.join(
        tested.select(*on, "q_value", "flagged"), on=on, how="left", maintain_order="left"
    ).with_columns(pl.col("flagged").fill_null(False))
