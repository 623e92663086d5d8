"""The rater audit in one report: agreement, rater reliability, blind spots, leaderboard.

``audit_report`` runs the statistics of ``labeling.agreement``, ``labeling.reliability``,
``labeling.blind_spots`` and ``labeling.aggregation`` over one set of votes and returns plain
JSON-ready values (floats, ints, strings, None, lists, dicts; NaN becomes None), so the CLI can
print it with ``json.dumps`` and ``format_report`` can lay it out as terminal tables. Missing
pieces (no votes, one rater, no model names, no gold) give empty values, never an exception.

Report keys: ``summary`` (sizes, bootstrap settings, blind-spot test counts, notes on what
was left out), ``agreement``, ``raters`` (each with their probe susceptibilities, their
agreement with themselves on retests and their median kappa with the other raters),
``probes`` (the same for all raters together), ``blind_spots`` (flagged findings only),
``leaderboard`` and ``disputed_pairs``.

Retests and probe pairs test the raters; they are not votes on what is better. Agreement,
reliability, Dawid-Skene, the leaderboard and disputed pairs read the
``agreement.counted_votes`` (each rater's first vote on each ordinary pair); the blind-spot
checks, probe susceptibility and self-agreement read every vote. ``summary`` counts both
(``n_judgments``, ``n_counted_judgments``) and a note says what was left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import Any

import polars as pl

from data import frames
from labeling.aggregation import leaderboard
from labeling.agreement import (
    Coefficient,
    cohen_kappa,
    counted_votes,
    fleiss_kappa,
    item_votes,
    krippendorff_alpha,
    pair_agreement,
    percent_agreement,
)
from labeling.blind_spots import FINDINGS, find_blind_spots
from labeling.disputes import disputed_pairs
from labeling.reliability import DawidSkene, rater_reliability
from labeling.susceptibility import (
    POOL,
    SELF_AGREEMENT,
    SUSCEPTIBILITY,
    self_agreement,
    susceptibility,
    with_findings,
)

__all__ = ["REPORT_KEYS", "audit_report", "format_report"]

#: Top-level keys of ``audit_report``, in order.
REPORT_KEYS: tuple[str, ...] = (
    "summary",
    "agreement",
    "raters",
    "probes",
    "blind_spots",
    "leaderboard",
    "disputed_pairs",
)
#: Rater pairs need this many shared items for a Cohen's kappa.
KAPPA_MIN_OVERLAP = 10
#: Per-rater-pair kappa intervals draw a table per pair and draw: cap their resamples.
KAPPA_MAX_BOOT = 200
#: The style-controlled leaderboard's bootstrap costs a pass over the votes per draw.
LEADERBOARD_MAX_BOOT = 100
#: Style control's covariates (``aggregation.leaderboard``'s default).
STYLE_COVARIATES: tuple[str, ...] = ("length", "headers", "lists", "bold")
#: Agreement is also reported per value of each (``agreement``'s ``by``).
AGREEMENT_SLICES: tuple[str, ...] = ("category", "principle", "model_pair")
#: How many rater pairs, and how many disputed pairs, the report lists.
TOP_N = 10
#: How many untested raters a note names.
TOP_NOTES = 3
#: Importers name a dataset's own label rater ``source:<file>``.
SOURCE_PREFIX = "source:"


def audit_report(
    pairs: pl.DataFrame,
    judgments: pl.DataFrame,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    raters: pl.DataFrame | None = None,
) -> dict[str, object]:
    """Everything the audit knows about these votes, as JSON-ready values.

    Consumes ``frames.PAIRS`` and ``frames.JUDGMENTS`` (missing columns count as null) and,
    optionally, ``frames.RATERS`` (``rater_id, kind``) to mark dataset-label raters; without
    it a rater named ``source:...`` counts as a source. ``n_boot`` resamples every agreement
    interval; the per-rater-pair kappas use at most ``KAPPA_MAX_BOOT`` and the leaderboard at
    most ``LEADERBOARD_MAX_BOOT`` (both said in ``summary.notes``).
    """
    pairs = frames.conform(pairs, frames.PAIRS)
    votes = frames.conform(judgments, frames.JUDGMENTS).filter(pl.col("choice").is_not_null())
    # Votes on pairs the frame lacks would have no item, category or models: leave them out.
    votes = votes.join(pairs.select("pair_id"), on="pair_id", how="semi")
    # The raters' tests (retests, probe pairs) are not votes: the statistics of what the
    # votes say read these; the checks of the raters read every vote.
    counted = counted_votes(votes, pairs)
    agreement_notes: list[str] = _tests_left_out(votes, counted, pairs)
    leaderboard_notes: list[str] = []
    kinds = _rater_kinds(votes, raters)

    item_judgments, item_pairs = _on_items(counted, pairs)
    per_item = pair_agreement(item_judgments) if counted.height else None
    # Agreement reads only the restated votes: it runs beside the rest (numpy and polars
    # release the GIL, so two cores share the work; every section is deterministic).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit") as beside:
        agreement_section = beside.submit(
            _agreement,
            item_judgments,
            item_pairs,
            per_item,
            n_boot=n_boot,
            seed=seed,
            notes=agreement_notes,
        )
        findings = _blind_spots(votes, pairs)
        flagged = findings.filter(pl.col("flagged"))
        # Probe pairs and retests: read right after the checks, from the same per-vote frame.
        probes, retests = frames.empty(SUSCEPTIBILITY), frames.empty(SELF_AGREEMENT)
        if votes.height:
            probes = susceptibility(votes, pairs)
            retests = self_agreement(votes, n_boot=min(n_boot, KAPPA_MAX_BOOT), seed=seed)
        rater_section = _raters(counted, pairs, kinds, findings, probes, retests)
        n_models = _model_count(pairs, counted)
        leaderboard_section = (
            _leaderboard(counted, pairs, n_boot=n_boot, seed=seed, notes=leaderboard_notes)
            if n_models >= 2
            else []
        )
        agreement, kappa_by_rater = agreement_section.result()
    for row in rater_section:
        row["kappa_with_others"] = kappa_by_rater.get(
            str(row["rater_id"]), {"median": None, "n_raters": 0}
        )
    summary: dict[str, object] = {
        "n_pairs": pairs.height,
        "n_judgments": votes.height,
        "n_counted_judgments": counted.height,
        "n_raters": votes["rater_id"].n_unique(),
        "n_source_raters": sum(kind == "source" for kind in kinds.values()),
        "n_items": 0 if per_item is None else per_item.height,
        "n_models": n_models,
        "has_gold": bool(pairs["gold"].is_not_null().any()),
        "n_boot": n_boot,
        "seed": seed,
        "n_tests": findings.filter(pl.col("p_value").is_not_nan()).height,
        "n_flagged": flagged.height,
        "notes": agreement_notes + _untested(findings) + leaderboard_notes,
    }
    report: dict[str, object] = {
        "summary": summary,
        "agreement": agreement,
        "raters": rater_section,
        "probes": {
            "susceptibility": _probe_rows(probes, findings, POOL),
            "self_agreement": _self_agreement_row(retests, findings, POOL),
        },
        "blind_spots": [_finding(row) for row in flagged.iter_rows(named=True)],
        "leaderboard": leaderboard_section,
        "disputed_pairs": _disputed(counted, pairs, findings),
    }
    plain = _plain(report)
    assert isinstance(plain, dict)
    return plain


def _tests_left_out(votes: pl.DataFrame, counted: pl.DataFrame, pairs: pl.DataFrame) -> list[str]:
    """A note on the votes that test the raters, left out of what the votes say."""
    if counted.height == votes.height:
        return []
    probes = pairs.filter(pl.col("probe_kind").is_not_null()).select("pair_id")
    on_probes = votes.join(probes, on="pair_id", how="semi").height
    retests = votes.height - counted.height - on_probes
    parts = []
    if on_probes:
        parts.append(f"{on_probes:,} votes on probe pairs")
    if retests:
        parts.append(f"{retests:,} retests")
    return [
        f"{' and '.join(parts)} test the raters, not the responses: agreement, reliability,"
        " the leaderboard and disputed pairs leave them out"
    ]


def _on_items(votes: pl.DataFrame, pairs: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Counted votes restated on items (``agreement.item_votes``), and the items' categories
    and models.

    Each agreement function would match pairs to items again (the join and text hashes cost
    more than the statistic at a million votes); restated once, ``pair_id`` is the item and
    ``choice`` is read from the item's sides, so the functions need no pairs frame (the
    per-slice ones get ``pair_id, category, model_pair`` of the item's naming pair).
    """
    items = item_votes(votes, pairs)
    restated = items.with_columns(pair_id=pl.col("item_id"), choice=pl.col("item_choice"))
    model_pair = pl.concat_str(
        pl.min_horizontal("model_a", "model_b"),
        pl.max_horizontal("model_a", "model_b"),
        separator=" vs ",
    )
    item_pairs = pairs.select("pair_id", "category", model_pair=model_pair).join(
        restated.select("pair_id").unique(), on="pair_id", how="semi"
    )
    return frames.conform(restated, frames.JUDGMENTS), item_pairs


# -- sections ----------------------------------------------------------------------------------


def _agreement(
    votes: pl.DataFrame,
    pairs: pl.DataFrame,
    items: pl.DataFrame | None,
    *,
    n_boot: int,
    seed: int,
    notes: list[str],
) -> tuple[dict[str, object], dict[str, dict[str, object]]]:
    """Percent agreement (with and without ties), Fleiss, Krippendorff, per category, kappas,
    and each rater's median Cohen's kappa with the others (``_kappas``).

    Consumes votes and pairs restated on items (``_on_items``).
    """
    options: dict[str, Any] = {"n_boot": n_boot, "seed": seed}
    raters_per_item = _usual_raters_per_item(items)
    has_strength = bool(votes["strength"].is_not_null().any())
    section: dict[str, object] = {
        "percent_agreement": _coefficient(percent_agreement(votes, **options)),
        "percent_agreement_without_ties": _coefficient(
            percent_agreement(votes, ties=False, **options)
        ),
        "fleiss_kappa": {
            **_coefficient(fleiss_kappa(votes, raters_per_item=raters_per_item, **options)),
            "raters_per_item": raters_per_item,
        },
        "krippendorff_alpha_nominal": _coefficient(krippendorff_alpha(votes, **options)),
        "krippendorff_alpha_ordinal": (
            _coefficient(krippendorff_alpha(votes, level_of_measurement="ordinal", **options))
            if has_strength
            else None
        ),
    }
    if not has_strength:
        notes.append("no preference strengths were recorded: ordinal alpha left out")
    for by in AGREEMENT_SLICES:
        section[f"by_{by}"] = _by_slice(votes, pairs, by, options)
    section["cohen_kappa"], by_rater = _kappas(votes, pairs, n_boot=n_boot, seed=seed, notes=notes)
    return section, by_rater


def _usual_raters_per_item(items: pl.DataFrame | None) -> int:
    """The most common number of raters on items with two or more (the larger on a draw).

    Fleiss' kappa's own default rule, computed here so the report can say which it used.
    """
    if items is None:
        return 2
    counts = items.filter(pl.col("n_raters") >= 2)["n_raters"].value_counts()
    if counts.is_empty():
        return 2
    return int(counts.sort(["count", "n_raters"], descending=True)["n_raters"][0])


def _by_slice(
    votes: pl.DataFrame, pairs: pl.DataFrame, by: str, options: dict[str, Any]
) -> list[dict[str, object]]:
    """Percent agreement and nominal alpha per slice (``agreement``'s ``by``), keyed ``by``."""
    if votes.is_empty():
        return []
    column = by
    if by == "model_pair":
        # Given model_a/model_b, the functions would match pairs to items again (and the
        # restated pairs have no texts to match on): the label travels as the slice column.
        pairs, column = pairs.select("pair_id", category="model_pair"), "category"
    percent = percent_agreement(votes, pairs, by=column, **options).rename({column: by})
    if percent.is_empty() or percent[by].is_null().all():
        return []
    alpha = krippendorff_alpha(votes, pairs, by=column, **options).rename({column: by})
    alphas = {row[by]: row for row in alpha.iter_rows(named=True)}
    return [
        {
            by: row[by],
            "percent_agreement": _coefficient_row(row),
            "krippendorff_alpha_nominal": _coefficient_row(alphas.get(row[by])),
        }
        for row in percent.iter_rows(named=True)
    ]


def _kappas(
    votes: pl.DataFrame, pairs: pl.DataFrame, *, n_boot: int, seed: int, notes: list[str]
) -> tuple[dict[str, object], dict[str, dict[str, object]]]:
    """Cohen's kappa of every rater pair with enough shared items: a summary and the lowest;
    and per rater, the median of their kappas with the others (``median``, ``n_raters``), to
    read beside their kappa with themselves on retests."""
    kappa_boot = min(n_boot, KAPPA_MAX_BOOT)
    if kappa_boot < n_boot:
        notes.append(f"per-rater-pair Cohen's kappa intervals use {kappa_boot} resamples")
    table = cohen_kappa(votes, min_overlap=KAPPA_MIN_OVERLAP, n_boot=kappa_boot, seed=seed).sort(
        "estimate", "rater_a", "rater_b", nulls_last=True
    )
    estimates = table["estimate"].drop_nulls()
    each_side = pl.concat(
        [table.select(rater_id=side, estimate="estimate") for side in ("rater_a", "rater_b")]
    ).drop_nulls("estimate")
    per_rater = each_side.group_by("rater_id").agg(
        median=pl.col("estimate").median(), n_raters=pl.len()
    )
    by_rater: dict[str, dict[str, object]] = {
        row["rater_id"]: {"median": row["median"], "n_raters": row["n_raters"]}
        for row in per_rater.iter_rows(named=True)
    }
    return {
        "min_overlap": KAPPA_MIN_OVERLAP,
        "n_rater_pairs": table.height,
        "median": estimates.median() if len(estimates) else None,
        "lowest": [
            {
                "rater_a": row["rater_a"],
                "rater_b": row["rater_b"],
                "n": row["n"],
                "agreement": row["agreement"],
                "estimate": row["estimate"],
                "ci": [row["ci_low"], row["ci_high"]],
            }
            for row in table.head(TOP_N).iter_rows(named=True)
        ],
    }, by_rater


def _raters(
    votes: pl.DataFrame,
    pairs: pl.DataFrame,
    kinds: Mapping[str, str],
    findings: pl.DataFrame,
    probes: pl.DataFrame,
    retests: pl.DataFrame,
) -> list[dict[str, object]]:
    """One object per rater with counted votes: volume, ties, speed, accuracy against gold,
    peers and DS (of the counted ``votes``), the probe susceptibilities (``susceptibility``)
    and agreement with themselves on retests (``self_agreement``), each with the q-value of
    its finding."""
    if votes.is_empty():
        return []
    posteriors = DawidSkene().fit(votes).probas_
    reliability = rater_reliability(votes, pairs, posteriors)
    spots = findings.filter("flagged").group_by("rater_id").agg(pl.col("kind").unique().sort())
    kinds_found = {row[0]: row[1] for row in spots.iter_rows()}
    return [
        {
            "rater_id": row["rater_id"],
            "kind": kinds.get(row["rater_id"], "human"),
            "n": row["n"],
            "share": row["share"],
            "tie_rate": row["tie_rate"],
            "median_seconds": row["median_seconds"],
            "ds_accuracy": row["ds_accuracy"],
            "gold": _accuracy(row, "gold"),
            "consensus": _accuracy(row, "consensus"),
            "blind_spots": kinds_found.get(row["rater_id"], []),
            "probes": _probe_rows(probes, findings, row["rater_id"]),
            "self_agreement": _self_agreement_row(retests, findings, row["rater_id"]),
        }
        for row in reliability.iter_rows(named=True)
    ]


def _probe_rows(
    probes: pl.DataFrame, findings: pl.DataFrame, rater_id: str
) -> list[dict[str, object]]:
    """``susceptibility``'s rows of one rater (or ``POOL``), one per probe kind, with the
    q-value of the finding (null where too few votes were tested)."""
    mine = with_findings(probes.filter(pl.col("rater_id") == rater_id), findings)
    return [
        {
            "kind": row["probe_kind"],
            "n": row["n"],
            "picked_edited": row["picked_edited"],
            "rate": row["rate"],
            "ci": [row["ci_low"], row["ci_high"]],
            "base_rate": row["base_rate"],
            "n_paired": row["n_paired"],
            "p_value": row["p_value"],
            "q_value": row["q_value"],
            "flagged": row["flagged"],
        }
        for row in mine.iter_rows(named=True)
    ]


def _self_agreement_row(
    retests: pl.DataFrame, findings: pl.DataFrame, rater_id: str
) -> dict[str, object] | None:
    """``self_agreement``'s row of one rater (or ``POOL``) with the q-value of the retest
    finding; None without retests."""
    mine = with_findings(retests.filter(pl.col("rater_id") == rater_id), findings)
    if mine.is_empty():
        return None
    row = mine.row(0, named=True)
    return {
        "n": row["n"],
        "agreement": row["agreement"],
        "kappa": row["kappa"],
        "ci": [row["ci_low"], row["ci_high"]],
        "q_value": row["q_value"],
        "flagged": row["flagged"],
    }


def _accuracy(row: Mapping[str, Any], name: str) -> dict[str, object]:
    return {
        "accuracy": row[f"{name}_accuracy"],
        "ci": [row[f"{name}_ci_low"], row[f"{name}_ci_high"]],
        "n": row[f"{name}_n"],
    }


def _blind_spots(votes: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    if votes.is_empty():
        return frames.empty(FINDINGS)
    return find_blind_spots(votes, pairs)


def _untested(findings: pl.DataFrame) -> list[str]:
    """One note per check that some raters could not be tested by (``blind_spots``' rows
    with a NaN p-value), naming the first few and why."""
    skipped = findings.filter(pl.col("p_value").is_nan())
    notes = []
    for (kind,), rows in skipped.group_by("kind", maintain_order=True):
        # Each message reads "<kind> not tested for <rater>: <why>".
        reasons = [
            f"{rater}: {message.split(': ', 1)[-1]}"
            for rater, message in rows.sort("rater_id").select("rater_id", "message").rows()
        ]
        more = f"; and {len(reasons) - TOP_NOTES} more" if len(reasons) > TOP_NOTES else ""
        notes.append(
            f"{kind} not tested for {len(reasons)} rater{'s' if len(reasons) > 1 else ''} "
            f"({'; '.join(reasons[:TOP_NOTES])}{more})"
        )
    return notes


def _finding(row: Mapping[str, Any]) -> dict[str, object]:
    return {
        "rater_id": row["rater_id"],
        "kind": row["kind"],
        "slice": row["slice"],
        "effect": row["effect"],
        "ci": [row["ci_low"], row["ci_high"]],
        "p_value": row["p_value"],
        "q_value": row["q_value"],
        "n": row["n"],
        "message": row["message"],
    }


def _leaderboard(
    votes: pl.DataFrame, pairs: pl.DataFrame, *, n_boot: int, seed: int, notes: list[str]
) -> list[dict[str, object]]:
    """Bradley-Terry scores, plain and style-controlled (for two named models or more)."""
    boot = min(n_boot, LEADERBOARD_MAX_BOOT)
    if boot < n_boot:
        notes.append(f"leaderboard intervals use {boot} resamples")
    # The plain leaderboard always stands; covariates that do not vary are left out (a note).
    table = leaderboard(
        votes, pairs, style_covariates=STYLE_COVARIATES, n_boot=boot, seed=seed, notes=notes
    )
    return [
        {
            "model": row["model"],
            "rank": row["rank"],
            "score": row["score"],
            "ci": [row["ci_low"], row["ci_high"]],
            "n_votes": row["n_votes"],
            "win_rate": row["win_rate"],
            "style_rank": row["style_rank"],
            "style_score": row["style_score"],
            "style_ci": [row["style_ci_low"], row["style_ci_high"]],
            "style_shift": row["style_shift"],
        }
        for row in table.iter_rows(named=True)
    ]


def _disputed(
    votes: pl.DataFrame, pairs: pl.DataFrame, findings: pl.DataFrame
) -> list[dict[str, object]]:
    """The ``TOP_N`` pairs of ``disputes.disputed_pairs`` (what the Disputed pairs page lists)."""
    if votes.is_empty():
        return []
    top = disputed_pairs(votes, pairs, findings, TOP_N)
    counts = (
        votes.join(top.select("pair_id"), on="pair_id", how="semi")
        .group_by("pair_id")
        .agg(pl.col("choice").value_counts())
    )
    votes_of = {
        row["pair_id"]: {entry["choice"]: entry["count"] for entry in row["choice"]}
        for row in counts.iter_rows(named=True)
    }
    return [
        {
            "pair_id": row["pair_id"],
            "category": row["category"],
            "prompt": _shorten(row["prompt"], 80),
            "n_votes": row["n"],
            "votes": {c: votes_of[row["pair_id"]].get(c, 0) for c in frames.CHOICES},
            "majority": row["label"],
            "agreement": row["agreement"],
            "entropy": row["entropy"],
            "n_reasons": row["n_reasons"],
            "reasons": [
                name.removeprefix("predicate_")
                for name in top.columns
                if name.startswith("predicate_") and row[name]
            ],
        }
        for row in top.iter_rows(named=True)
    ]


# -- helpers -----------------------------------------------------------------------------------


def _rater_kinds(votes: pl.DataFrame, raters: pl.DataFrame | None) -> dict[str, str]:
    names = votes["rater_id"].unique().sort().to_list()
    known: dict[str, str] = {}
    if raters is not None and "kind" in raters.columns:
        known = {row[0]: row[1] for row in raters.select("rater_id", "kind").iter_rows()}
    return {
        name: known.get(name) or ("source" if name.startswith(SOURCE_PREFIX) else "human")
        for name in names
    }


def _model_count(pairs: pl.DataFrame, votes: pl.DataFrame) -> int:
    """Distinct models in voted pairs that pit two different named models."""
    named = pairs.join(votes.select("pair_id").unique(), on="pair_id", how="semi").filter(
        pl.col("model_a").is_not_null()
        & pl.col("model_b").is_not_null()
        & (pl.col("model_a") != pl.col("model_b"))
    )
    return pl.concat([named["model_a"], named["model_b"]]).n_unique() if named.height else 0


def _coefficient(value: Coefficient) -> dict[str, object]:
    return {
        "estimate": value.estimate,
        "ci": [value.ci_low, value.ci_high],
        "n": value.n,
        "n_items": value.n_items,
        "n_raters": value.n_raters,
    }


def _coefficient_row(row: Mapping[str, Any] | None) -> dict[str, object] | None:
    if row is None:
        return None
    return {
        "estimate": row["estimate"],
        "ci": [row["ci_low"], row["ci_high"]],
        "n": row["n"],
        "n_items": row["n_items"],
        "n_raters": row["n_raters"],
    }


def _shorten(text: str | None, width: int) -> str | None:
    if text is None:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _plain(value: object) -> object:
    """JSON-ready copy: NaN and infinities become None, dates ISO strings, tuples lists."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "item"):  # a numpy scalar
        return _plain(value.item())
    return str(value)


# -- text --------------------------------------------------------------------------------------


def format_report(report: Mapping[str, Any]) -> str:
    """The report as plain-text tables for the terminal."""
    summary = report.get("summary", {})
    agreement = report.get("agreement", {})
    lines = [
        "Rater audit",
        f"{summary.get('n_judgments', 0):,} judgments by {summary.get('n_raters', 0):,} raters "
        f"on {summary.get('n_pairs', 0):,} pairs ({summary.get('n_items', 0):,} items); "
        f"intervals: 95%, {summary.get('n_boot', 0):,} bootstrap resamples",
    ]
    lines += [f"note: {note}" for note in summary.get("notes", [])]

    coefficients = [
        ("percent agreement", "percent_agreement"),
        ("percent agreement, ties left out", "percent_agreement_without_ties"),
        ("Fleiss' kappa", "fleiss_kappa"),
        ("Krippendorff's alpha, nominal", "krippendorff_alpha_nominal"),
        ("Krippendorff's alpha, ordinal", "krippendorff_alpha_ordinal"),
    ]
    rows = [
        [label, _num(c["estimate"]), _interval(c["ci"]), _int(c["n"]), _int(c["n_items"])]
        for label, key in coefficients
        if (c := agreement.get(key)) is not None
    ]
    lines += _section("Agreement", ["measure", "estimate", "95% CI", "n", "items"], rows)

    for by in AGREEMENT_SLICES:
        name = by.replace("_", " ")
        rows = [
            [
                "(none)" if row[by] is None else str(row[by]),
                _num(row["percent_agreement"]["estimate"]),
                _interval(row["percent_agreement"]["ci"]),
                _num((row.get("krippendorff_alpha_nominal") or {}).get("estimate")),
                _int(row["percent_agreement"]["n"]),
            ]
            for row in agreement.get(f"by_{by}", [])
        ]
        lines += _section(
            f"Agreement by {name}", [name, "agreement", "95% CI", "alpha", "vote pairs"], rows
        )

    kappa = agreement.get("cohen_kappa") or {}
    rows = [
        [
            row["rater_a"],
            row["rater_b"],
            _int(row["n"]),
            _num(row["estimate"]),
            _interval(row["ci"]),
        ]
        for row in kappa.get("lowest", [])
    ]
    title = (
        f"Cohen's kappa: {kappa.get('n_rater_pairs', 0):,} rater pairs share "
        f">= {kappa.get('min_overlap', KAPPA_MIN_OVERLAP)} items, median "
        f"{_num(kappa.get('median'))}; lowest"
    )
    lines += _section(title, ["rater a", "rater b", "shared", "kappa", "95% CI"], rows)

    rows = [
        [
            row["rater_id"] + (" (source)" if row.get("kind") == "source" else ""),
            _int(row["n"]),
            _pct(row["tie_rate"]),
            _num(row["ds_accuracy"]),
            _share(row["consensus"]),
            _share(row["gold"]),
            ", ".join(row.get("blind_spots", [])) or "-",
        ]
        for row in report.get("raters", [])
    ]
    lines += _section(
        "Raters",
        ["rater", "votes", "ties", "DS acc.", "vs peers", "vs gold", "blind spots"],
        rows,
    )

    probe_rows = [
        [
            who,
            row["kind"],
            _int(row["n"]),
            _pct(row["rate"]),
            _interval(row["ci"], pct=True),
            _pct(row["base_rate"]),
            _num(row["q_value"], digits=4),
            "yes" if row["flagged"] else "",
        ]
        for who, probes in [
            *((row["rater_id"], row.get("probes") or []) for row in report.get("raters", [])),
            (POOL, (report.get("probes") or {}).get("susceptibility", [])),
        ]
        for row in probes
    ]
    lines += _section(
        "Probe pairs: share of decisive votes for the surface-edited side",
        ["rater", "edit", "votes", "edited", "95% CI", "unedited", "q", "flagged"],
        probe_rows,
    )
    kappas = {
        row["rater_id"]: (row.get("kappa_with_others") or {}).get("median")
        for row in report.get("raters", [])
    }
    retest_rows = [
        [
            who,
            _int(agree["n"]),
            _pct(agree["agreement"]),
            _num(agree["kappa"]),
            _interval(agree["ci"]),
            _num(kappas.get(who)),
            "yes" if agree["flagged"] else "",
        ]
        for who, agree in [
            *((row["rater_id"], row.get("self_agreement")) for row in report.get("raters", [])),
            (POOL, (report.get("probes") or {}).get("self_agreement")),
        ]
        if agree is not None
    ]
    lines += _section(
        "Retests: the same pair again, sides swapped (kappa with self beside the median "
        "kappa with the other raters)",
        ["rater", "retests", "same", "self kappa", "95% CI", "with others", "flagged"],
        retest_rows,
    )

    rows = [
        [
            row["rater_id"],
            row["kind"],
            str(row["slice"]),
            _num(row["effect"]),
            _interval(row["ci"]),
            _num(row["q_value"], digits=4),
            _int(row["n"]),
        ]
        for row in report.get("blind_spots", [])
    ]
    title = (
        f"Blind spots: {summary.get('n_flagged', 0)} flagged of "
        f"{summary.get('n_tests', 0):,} tests (Benjamini-Hochberg q < 0.05)"
    )
    lines += _section(title, ["rater", "kind", "slice", "effect", "95% CI", "q", "n"], rows)
    lines += [f"  - {row['message']}" for row in report.get("blind_spots", [])]

    rows = [
        [
            _int(row["rank"]),
            row["model"],
            _num(row["score"], digits=0),
            _interval(row["ci"], digits=0),
            _pct(row["win_rate"]),
            _int(row["style_rank"]),
            _num(row["style_score"], digits=0),
            _num(row["style_shift"], digits=0, sign=True),
        ]
        for row in report.get("leaderboard", [])
    ]
    lines += _section(
        "Leaderboard (Bradley-Terry; style = length and Markdown controlled)",
        ["rank", "model", "score", "95% CI", "win rate", "style rank", "style score", "shift"],
        rows,
    )

    rows = [
        [
            row["pair_id"],
            str(row["category"]),
            " ".join(f"{k}:{v}" for k, v in row["votes"].items() if v),
            _num(row["agreement"]),
            ", ".join(row["reasons"]),
        ]
        for row in report.get("disputed_pairs", [])
    ]
    lines += _section(
        "Most disputed pairs", ["pair", "category", "votes", "agreement", "reasons"], rows
    )
    return "\n".join(lines) + "\n"


def _section(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["", title, "-" * len(title)]
    if not rows:
        return [*lines, "(none)"]
    return lines + _table(header, rows)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned text columns, right-aligned numeric ones, two spaces apart."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    numeric = [
        all(_looks_numeric(str(row[k])) for row in rows) and k > 0 for k in range(len(header))
    ]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(cell).rjust(width) if right else str(cell).ljust(width)
            for cell, width, right in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    return [line(header), line(["-" * width for width in widths]), *map(line, rows)]


def _looks_numeric(text: str) -> bool:
    return text == "-" or text.lstrip("+-").replace(",", "").replace(".", "").rstrip("%").isdigit()


def _num(value: float | None, digits: int = 3, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+,.{digits}f}" if sign else f"{value:,.{digits}f}"


def _int(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _share(accuracy: Mapping[str, Any]) -> str:
    if accuracy["accuracy"] is None:
        return "-"
    return f"{_pct(accuracy['accuracy'])} {_interval(accuracy['ci'], pct=True)}"


def _interval(ci: Sequence[float | None], digits: int = 3, pct: bool = False) -> str:
    low, high = ci
    if low is None or high is None:
        return "-"
    if pct:
        return f"[{low:.0%}, {high:.0%}]"
    return f"[{low:,.{digits}f}, {high:,.{digits}f}]"
