"""Frames and charts for the audit pages: the statistics modules' results, shaped to be shown.

Pure: frames in, frames or Altair charts out, no I/O and no Streamlit. Inputs follow the
``data.frames`` contracts, or ``blind_spots.audit_votes`` where a function says so.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import numpy.typing as npt
import polars as pl
from scipy import stats

from labeling import agreement
from labeling.audit import KAPPA_MAX_BOOT, KAPPA_MIN_OVERLAP
from labeling.susceptibility import (
    POOL,
    probe_susceptibility,
    self_agreement,
    with_findings,
)

__all__ = [
    "COLUMN_LABELS",
    "agreement_by",
    "agreement_table",
    "category_accuracy",
    "column_label",
    "interval_chart",
    "leaderboard_long",
    "length_chart",
    "length_curve",
    "pair_votes",
    "position_rates",
    "probe_rates",
    "rater_consistency",
    "rater_probes",
    "rater_table",
]

#: What a table column is called on the page (the frames keep their snake_case names).
COLUMN_LABELS: dict[str, str] = {
    "rater_id": "Rater",
    "pair_id": "Pair",
    "model": "Model",
    "slice": "Slice",
    "who": "Who",
    "n": "Votes",
    "n_votes": "Votes",
    "n_items": "Pairs",
    "n_raters": "Raters",
    "n_reasons": "Reasons to doubt",
    "consensus_accuracy": "Agrees with the others",
    "gold_accuracy": "Right on gold",
    "ds_accuracy": "Reliability (Dawid-Skene)",
    "tie_rate": "Ties",
    "median_seconds": "Median seconds",
    "flagged": "Blind spots",
    "blind_spots": "Which",
    "estimate": "Estimate",
    "ci_low": "95% from",
    "ci_high": "95% to",
    "score": "Score",
    "rank": "Rank",
    "win_rate": "Wins",
    "style_rank": "Rank, style-controlled",
    "style_score": "Score, style-controlled",
    "style_ci_low": "95% from (style)",
    "style_ci_high": "95% to (style)",
    "style_shift": "Style shift",
    "label": "Majority",
    "agreement": "Agreement",
    "entropy": "Entropy",
    "predicate_low_agreement": "Low agreement",
    "predicate_high_entropy": "High entropy",
    "predicate_lone_dissent": "Lone dissent",
    "predicate_against_gold": "Against gold",
    "predicate_fast_vote": "Fast vote",
    "predicate_flagged_rater": "Flagged rater",
    "shown_left": "Shown left",
    "created_at": "When",
    "probe_kind": "Edit",
    "picked_edited": "For the edited side",
    "rate": "Share for the edited side",
    "base_rate": "Expected unedited",
    "n_paired": "Beside own base vote",
}


def column_label(name: str) -> str:
    """A table column's name in words.

    >>> column_label("consensus_accuracy"), column_label("q_value")
    ('Agrees with the others', 'Q value')
    """
    return COLUMN_LABELS.get(name) or name.replace("_", " ").strip().capitalize()


_INTERVAL = {
    "estimate": pl.Float64(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
    "n": pl.Int64(),
}


def _proportion_interval(
    k: npt.NDArray[np.float64], n: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Clopper-Pearson 95% interval of k successes in n trials (NaN where n is 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(k > 0, stats.beta.ppf(0.025, k, n - k + 1), 0.0)
        high = np.where(k < n, stats.beta.ppf(0.975, k + 1, n - k), 1.0)
    empty = n <= 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


# -- agreement ---------------------------------------------------------------------------------


def agreement_table(
    judgments: pl.DataFrame, pairs: pl.DataFrame, *, n_boot: int = 1000, seed: int = 0
) -> pl.DataFrame:
    """The headline agreement coefficients, one row each with its bootstrap interval.

    Consumes ``frames.JUDGMENTS`` and ``frames.PAIRS``. Returns ``coefficient, estimate,
    ci_low, ci_high, n, n_items, n_raters`` (undefined values null).
    """
    found = [
        agreement.percent_agreement(judgments, pairs, n_boot=n_boot, seed=seed),
        agreement.percent_agreement(judgments, pairs, ties=False, n_boot=n_boot, seed=seed),
        agreement.fleiss_kappa(judgments, pairs, n_boot=n_boot, seed=seed),
        agreement.krippendorff_alpha(judgments, pairs, n_boot=n_boot, seed=seed),
        agreement.krippendorff_alpha(
            judgments, pairs, level_of_measurement="ordinal", n_boot=n_boot, seed=seed
        ),
    ]
    return pl.DataFrame(
        [
            {
                "coefficient": c.name,
                "estimate": c.estimate,
                "ci_low": c.ci_low,
                "ci_high": c.ci_high,
                "n": c.n,
                "n_items": c.n_items,
                "n_raters": c.n_raters,
            }
            for c in found
        ],
        schema={"coefficient": pl.String(), **_INTERVAL, "n_items": pl.Int64, "n_raters": pl.Int64},
    ).with_columns(pl.col("estimate", "ci_low", "ci_high").fill_nan(None))


def agreement_by(
    judgments: pl.DataFrame,
    pairs: pl.DataFrame,
    by: str = "category",
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """Percent agreement and Krippendorff's alpha per slice of ``by``, long format.

    Consumes ``frames.JUDGMENTS`` and ``frames.PAIRS`` (``by`` is a pairs column,
    ``model_pair`` or ``principle``). Returns ``slice, coefficient, estimate, ci_low, ci_high,
    n`` sorted by coefficient and slice; a missing slice value reads ``(none)``.
    """
    tables = {
        "percent_agreement": agreement.percent_agreement(
            judgments, pairs, by=by, n_boot=n_boot, seed=seed
        ),
        "krippendorff_alpha_nominal": agreement.krippendorff_alpha(
            judgments, pairs, by=by, n_boot=n_boot, seed=seed
        ),
    }
    long: pl.DataFrame = pl.concat(
        [
            table.select(
                pl.col(by).cast(pl.String).fill_null("(none)").alias("slice"),
                pl.lit(name).alias("coefficient"),
                *(pl.col(c).cast(t) for c, t in _INTERVAL.items()),
            )
            for name, table in tables.items()
        ]
    )
    return long.with_columns(pl.col("estimate", "ci_low", "ci_high").fill_nan(None))


def interval_chart(
    frame: pl.DataFrame,
    *,
    y: str,
    x: str = "estimate",
    color: str | None = None,
    title: str = "",
    reference: float | None = None,
) -> alt.LayerChart:
    """Points with horizontal interval bars (``ci_low``..``ci_high``), one row per ``y``.

    ``color`` splits the points (e.g. rater vs peers); ``reference`` draws a vertical rule
    (e.g. 0.5 for chance).
    """
    base = alt.Chart(frame, title=title)
    # Points and intervals, no bars: the axis spans the values, not zero to them.
    x_scale = alt.Scale(zero=False)
    y_axis = alt.Y(f"{y}:N", title=None, sort=None, axis=alt.Axis(labelLimit=320))
    offset = {"yOffset": alt.YOffset(f"{color}:N")} if color else {}
    hue = {"color": alt.Color(f"{color}:N", title=None)} if color else {}
    tooltip = [c for c in frame.columns if c in (y, x, "ci_low", "ci_high", "n", color)]
    bars = base.mark_rule().encode(
        x=alt.X("ci_low:Q", title=x, scale=x_scale), x2="ci_high:Q", y=y_axis, **offset, **hue
    )
    points = base.mark_point(filled=True, size=60).encode(
        x=alt.X(f"{x}:Q", scale=x_scale), y=y_axis, tooltip=tooltip, **offset, **hue
    )
    layers: list[alt.Chart] = [bars, points]
    if reference is not None:
        rule = alt.Chart(pl.DataFrame({"reference": [reference]})).mark_rule(strokeDash=[4, 4])
        layers.append(rule.encode(x="reference:Q"))
    return alt.LayerChart(layer=layers)


# -- raters ------------------------------------------------------------------------------------


def rater_table(reliability: pl.DataFrame, findings: pl.DataFrame) -> pl.DataFrame:
    """One row per rater: reliability and the blind spots flagged for them.

    Consumes ``reliability.rater_reliability``'s frame and ``blind_spots.FINDINGS``. Returns
    ``rater_id, n, consensus_accuracy, gold_accuracy, ds_accuracy, tie_rate,
    median_seconds, flagged`` (how many findings) and ``blind_spots`` (their kinds), least
    reliable (lowest Dawid-Skene accuracy) first.
    """
    flagged = (
        findings.filter(pl.col("flagged"))
        .group_by("rater_id")
        .agg(
            pl.len().cast(pl.Int64).alias("flagged"),
            pl.col("kind").unique().sort().str.join(", ").alias("blind_spots"),
        )
    )
    return (
        reliability.join(flagged, on="rater_id", how="left")
        .select(
            "rater_id",
            "n",
            "consensus_accuracy",
            "gold_accuracy",
            "ds_accuracy",
            "tie_rate",
            "median_seconds",
            pl.col("flagged").fill_null(0),
            pl.col("blind_spots").fill_null(""),
        )
        .sort("ds_accuracy", "rater_id", nulls_last=True)
    )


def rater_probes(votes: pl.DataFrame, findings: pl.DataFrame, rater_id: str) -> pl.DataFrame:
    """The rater's probe susceptibility per probe kind, and all raters' together.

    Consumes ``blind_spots.audit_votes`` and ``blind_spots.FINDINGS``. Returns ``who`` (the
    rater's id, then ``susceptibility.POOL``), ``probe_kind``, ``n``, ``picked_edited``,
    ``rate`` with ``ci_low, ci_high`` (Clopper-Pearson 95%), ``base_rate`` (how often the
    rater picks that response unedited), ``n_paired``, ``q_value`` and ``flagged`` (of the
    finding; null and False where too few votes were tested). Empty without probe votes.
    """
    table = probe_susceptibility(votes).filter(pl.col("rater_id").is_in([rater_id, POOL]))
    return (
        with_findings(table, findings)
        .sort(pl.col("rater_id") == POOL, "probe_kind")
        .select(
            pl.col("rater_id").alias("who"),
            "probe_kind",
            "n",
            "picked_edited",
            "rate",
            "ci_low",
            "ci_high",
            "base_rate",
            "n_paired",
            "q_value",
            "flagged",
        )
    )


def probe_rates(probes: pl.DataFrame) -> pl.DataFrame:
    """``rater_probes``' rows for ``interval_chart``: per probe kind the rater's and all
    raters' share for the edited side (with intervals) and the rater's expected share
    without the edit (``who`` = ``expected unedited``, a point). Returns ``probe_kind, who,
    estimate, ci_low, ci_high, n``."""
    shares = probes.select(
        "probe_kind", "who", pl.col("rate").alias("estimate"), "ci_low", "ci_high", "n"
    )
    expected = probes.filter(pl.col("who") != POOL).select(
        "probe_kind",
        pl.lit("expected unedited").alias("who"),
        pl.col("base_rate").alias("estimate"),
        pl.lit(None, pl.Float64).alias("ci_low"),
        pl.lit(None, pl.Float64).alias("ci_high"),
        "n",
    )
    return pl.concat([shares, expected]).sort("probe_kind", "who")


def rater_consistency(
    judgments: pl.DataFrame,
    pairs: pl.DataFrame,
    rater_id: str,
    *,
    n_boot: int = KAPPA_MAX_BOOT,
    seed: int = 0,
) -> pl.DataFrame:
    """The rater's Cohen's kappa with themselves on retests, beside all raters' and beside
    their kappa with each other rater.

    Consumes ``frames.JUDGMENTS`` and ``frames.PAIRS``. Returns ``who``, ``estimate``,
    ``ci_low, ci_high`` (bootstrap 95%) and ``n`` (retested pairs, or shared items): first
    ``<rater>, retests`` and ``all raters, retests`` (``susceptibility.self_agreement``),
    then ``with <other>`` for every rater sharing at least ``audit.KAPPA_MIN_OVERLAP`` of
    the pairs this rater voted on (``agreement.cohen_kappa``), lowest first. A rater whose
    answers change on a second look while their kappa with others holds up is noise.
    """
    schema = {"who": pl.String(), **_INTERVAL}
    retests = self_agreement(judgments, n_boot=n_boot, seed=seed).filter(
        pl.col("rater_id").is_in([rater_id, POOL])
    )
    own = retests.sort(pl.col("rater_id") == POOL).select(
        pl.when(pl.col("rater_id") == POOL)
        .then(pl.lit("all raters, retests"))
        .otherwise(pl.lit(f"{rater_id}, retests"))
        .alias("who"),
        pl.col("kappa").alias("estimate"),
        "ci_low",
        "ci_high",
        "n",
    )
    # Only the pairs this rater voted on: the kappas with them, at a fraction of the cost.
    voted = judgments.filter(pl.col("rater_id") == rater_id).get_column("pair_id").unique()
    kappas = agreement.cohen_kappa(
        judgments.filter(pl.col("pair_id").is_in(voted.implode())),
        pairs,
        min_overlap=KAPPA_MIN_OVERLAP,
        n_boot=n_boot,
        seed=seed,
    ).filter((pl.col("rater_a") == rater_id) | (pl.col("rater_b") == rater_id))
    others = kappas.sort("estimate", nulls_last=True).select(
        pl.concat_str(
            pl.lit("with "),
            pl.when(pl.col("rater_a") == rater_id)
            .then(pl.col("rater_b"))
            .otherwise(pl.col("rater_a")),
        ).alias("who"),
        "estimate",
        "ci_low",
        "ci_high",
        "n",
    )
    return pl.concat([own.cast(pl.Schema(schema)), others.cast(pl.Schema(schema))])


def position_rates(votes: pl.DataFrame, rater_id: str) -> pl.DataFrame:
    """How often the rater, and everyone else together, picked the side shown on the left.

    Consumes ``blind_spots.audit_votes`` (``rater_id, picked_left``). Returns ``who``
    (the rater's id, then ``others``), ``estimate`` (share of decisive votes for the left
    side), ``ci_low, ci_high`` (Clopper-Pearson 95%) and ``n``.
    """
    decisive = votes.filter(pl.col("picked_left").is_not_null())
    who = pl.when(pl.col("rater_id") == rater_id).then(pl.lit(rater_id)).otherwise(pl.lit("others"))
    counts = (
        pl.DataFrame({"who": [rater_id, "others"]})
        .join(
            decisive.group_by(who.alias("who")).agg(
                pl.len().cast(pl.Int64).alias("n"), pl.col("picked_left").sum().alias("k")
            ),
            on="who",
            how="left",
            maintain_order="left",
        )
        .with_columns(pl.col("n", "k").fill_null(0))
    )
    k = counts["k"].to_numpy().astype(np.float64)
    n = counts["n"].to_numpy().astype(np.float64)
    low, high = _proportion_interval(k, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    return pl.DataFrame(
        {"who": counts["who"], "estimate": share, "ci_low": low, "ci_high": high, "n": n},
        schema={"who": pl.String(), **_INTERVAL},
    ).with_columns(pl.col("estimate", "ci_low", "ci_high").fill_nan(None))


def length_curve(votes: pl.DataFrame, rater_id: str, bins: int = 5) -> pl.DataFrame:
    """The rater's choice against the length ratio, beside the consensus on the same pairs.

    Consumes ``blind_spots.audit_votes`` (``rater_id, choice, consensus, length``: log of
    (1 + chars of a) / (1 + chars of b)). The rater's decisive votes are cut into ``bins``
    equal-count bins of ``length``; per bin, ``share_a`` is the share choosing ``a``, for
    ``who`` = the rater and ``who`` = ``consensus`` (the other raters' majority on those
    pairs, where it is decisive). Returns ``bin, length`` (mean log ratio), ``who, share_a,
    n``. A rater swayed by length has a steeper curve than the consensus.
    """
    own = votes.filter(pl.col("rater_id") == rater_id, pl.col("choice").is_in(["a", "b"])).select(
        "length", "choice", "consensus"
    )
    schema = {
        "bin": pl.Int64(),
        "length": pl.Float64(),
        "who": pl.String(),
        "share_a": pl.Float64(),
        "n": pl.Int64(),
    }
    if own.is_empty():
        return pl.DataFrame(schema=schema)
    n_bins = max(1, min(bins, own.height))
    binned = own.with_columns(
        ((pl.col("length").rank("ordinal") - 1) * n_bins // own.height).cast(pl.Int64).alias("bin")
    ).with_columns(pl.col("length").mean().over("bin").alias("length"))
    rater = binned.group_by("bin", "length").agg(
        pl.lit(rater_id).alias("who"),
        (pl.col("choice") == "a").mean().alias("share_a"),
        pl.len().cast(pl.Int64).alias("n"),
    )
    consensus = (
        binned.filter(pl.col("consensus").is_in(["a", "b"]))
        .group_by("bin", "length")
        .agg(
            pl.lit("consensus").alias("who"),
            (pl.col("consensus") == "a").mean().alias("share_a"),
            pl.len().cast(pl.Int64).alias("n"),
        )
    )
    return pl.concat([rater, consensus]).select(list(schema)).sort("who", "bin")


def length_chart(curve: pl.DataFrame) -> alt.Chart:
    """``length_curve``'s frame as lines, one per ``who``."""
    chart: alt.Chart = (
        alt.Chart(curve, title="Share choosing a, by length ratio")
        .mark_line(point=True)
        .encode(
            x=alt.X("length:Q", title="log length ratio (a over b)"),
            y=alt.Y("share_a:Q", title="share choosing a", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("who:N", title=None),
            tooltip=["who", "length", "share_a", "n"],
        )
    )
    return chart


def category_accuracy(votes: pl.DataFrame, rater_id: str) -> pl.DataFrame:
    """Agreement with the reference per category, for the rater and for everyone else.

    Consumes ``blind_spots.audit_votes`` (``rater_id, category, correct``: the vote equals
    gold where known, else the other raters' majority). Returns ``category, who`` (the
    rater's id or ``others``), ``estimate`` (accuracy), ``ci_low, ci_high`` (Clopper-Pearson
    95%) and ``n`` (votes with a reference), for the categories the rater voted in.
    """
    mine = votes.filter(pl.col("rater_id") == rater_id)["category"].unique()
    who = pl.when(pl.col("rater_id") == rater_id).then(pl.lit(rater_id)).otherwise(pl.lit("others"))
    counts = (
        votes.filter(pl.col("correct").is_not_null(), pl.col("category").is_in(mine.implode()))
        .group_by(pl.col("category").fill_null("(none)"), who.alias("who"))
        .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("correct").sum().alias("k"))
        .sort("category", pl.col("who") == "others")
    )
    k = counts["k"].to_numpy().astype(np.float64)
    n = counts["n"].to_numpy().astype(np.float64)
    low, high = _proportion_interval(k, n)
    return counts.select(
        "category",
        "who",
        pl.Series("estimate", k / np.maximum(n, 1)),
        pl.Series("ci_low", low),
        pl.Series("ci_high", high),
        "n",
    )


# -- one pair's votes -------------------------------------------------------------------------


def pair_votes(judgments: pl.DataFrame, pair_id: str) -> pl.DataFrame:
    """Every vote on one pair, oldest first, with what the rater saw and wrote.

    Consumes ``frames.JUDGMENTS``. Returns ``rater_id, round, choice, strength, shown_left,
    seconds, principles, flags, rationale, created_at``.
    """
    return (
        judgments.filter(pl.col("pair_id") == pair_id)
        .sort("created_at", "rater_id")
        .select(
            "rater_id",
            "round",
            "choice",
            "strength",
            "shown_left",
            "seconds",
            pl.col("principles").list.join(", "),
            pl.col("flags").list.join(", "),
            "rationale",
            "created_at",
        )
    )


# -- leaderboard -------------------------------------------------------------------------------


def leaderboard_long(board: pl.DataFrame) -> pl.DataFrame:
    """``aggregation.leaderboard``'s two fits as rows: ``model, fit`` (``plain`` or
    ``style-controlled``), ``estimate, ci_low, ci_high`` (Elo-like score) and ``n``
    (votes), models in the plain ranking's order."""
    plain = board.select(
        "model",
        pl.lit("plain").alias("fit"),
        pl.col("score").alias("estimate"),
        "ci_low",
        "ci_high",
        pl.col("n_votes").cast(pl.Int64).alias("n"),
    )
    styled = board.select(
        "model",
        pl.lit("style-controlled").alias("fit"),
        pl.col("style_score").alias("estimate"),
        pl.col("style_ci_low").alias("ci_low"),
        pl.col("style_ci_high").alias("ci_high"),
        pl.col("n_votes").cast(pl.Int64).alias("n"),
    )
    return pl.concat([plain, styled])
