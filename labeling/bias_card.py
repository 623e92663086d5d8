"""What is known to be wrong with a preference set: its bias card.

Every snapshot carries one, as ``bias_card.json`` (``BiasCard.to_dict``) and as a readable
``BIAS_CARD.md`` (``BiasCard.to_markdown``), so a researcher who receives only the Parquet
files also receives what the audit found in them. The card is *built* here, from the votes
and pairs the snapshot was exported from, and *written* by ``data.export``.

Its numbers are the audit's (``labeling.audit.audit_report`` on the same frames, same
``n_boot`` and ``seed``), so the card and ``intentgap audit`` never disagree:

- ``summary``: sizes, bootstrap settings, blind-spot test counts, the audit's notes;
- ``agreement``: percent agreement (with and without ties), Fleiss' kappa and Krippendorff's
  alpha, each with its 95% bootstrap interval;
- ``agreement_by_category``: percent agreement and nominal alpha per category;
- ``self_agreement``: intra-rater consistency, each rater's round-1 retests against their
  first answers (``susceptibility.self_agreement``: agreement, Cohen's kappa, interval; the
  raters together last); empty without retest votes;
- ``blind_spots``: each flagged rater (Benjamini-Hochberg across every rater and check, see
  ``blind_spots.find_blind_spots``) with the evidence of each finding: effect, interval, q,
  votes and the check's own sentence;
- ``pool_blind_spots``: the flagged findings about the raters together
  (``susceptibility.POOL``: a probe edit that sways the pool as a whole), in a list of their
  own: the pool is not a rater, and a reader counting flagged raters must not count it;
- ``probe_susceptibility``: how often each rater, and the raters together, pick the edited
  side of probe pairs, per probe kind (``susceptibility.susceptibility``); empty without
  probe pairs;
- ``style_shifts``: the model leaderboard, plain and with length and Markdown controlled;
- ``rater_weights``: one suggested weight per rater, their Dawid-Skene reliability (the mean
  posterior probability of the choices the rater made, ``reliability.rater_reliability``'s
  ``ds_accuracy``). ``rater_weights(card)`` reads them back; ``intentgap train --weights
  bias_card.json`` weighs each vote with them.

Pure: frames in, a ``BiasCard`` out; its Markdown shows data (rater ids, categories, model
names, the checks' sentences) only inside code spans or fenced text blocks, so a viewer
renders no HTML, image or link from them.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from labeling.audit import audit_report
from labeling.susceptibility import POOL, self_agreement, susceptibility

__all__ = [
    "BIAS_CARD_KEYS",
    "CARD_VERSION",
    "WEIGHT_RULE",
    "BiasCard",
    "build_bias_card",
    "rater_weights",
]

#: Version of the card's JSON layout; ``rater_weights`` refuses newer ones.
#: 2: the raters together's findings left ``blind_spots`` for ``pool_blind_spots``.
CARD_VERSION = 2
#: Keys of ``BiasCard.to_dict``, in order.
BIAS_CARD_KEYS: tuple[str, ...] = (
    "card_version",
    "summary",
    "agreement",
    "agreement_by_category",
    "self_agreement",
    "blind_spots",
    "pool_blind_spots",
    "probe_susceptibility",
    "style_shifts",
    "rater_weights_rule",
    "rater_weights",
)
#: How the suggested weights are made, as the card states it.
WEIGHT_RULE = (
    "weight = the rater's Dawid-Skene reliability: the mean posterior probability of the "
    "choices the rater made, under a Dawid-Skene model fitted on every counted vote of the "
    "set (each rater's first vote on each pair; retests and probe pairs test the raters and "
    "are left out). 1: "
    "each choice is the one the model believes; a rater at chance between two sides comes "
    "near 0.5, so the weights halve such a rater's say rather than silence it. `intentgap "
    "train --weights bias_card.json` counts each vote with its rater's weight."
)
#: The agreement coefficients the card reports, with their names in the Markdown.
AGREEMENT_MEASURES: tuple[tuple[str, str], ...] = (
    ("percent_agreement", "percent agreement"),
    ("percent_agreement_without_ties", "percent agreement, ties left out"),
    ("fleiss_kappa", "Fleiss' kappa"),
    ("krippendorff_alpha_nominal", "Krippendorff's alpha, nominal"),
    ("krippendorff_alpha_ordinal", "Krippendorff's alpha, ordinal"),
)
#: The longest name the Markdown shows whole (the JSON keeps every character).
MAX_NAME_CHARS = 80

Json = dict[str, Any]


@dataclass(frozen=True)
class BiasCard:
    """A preference set's bias card: the sections of the module docstring, JSON-ready."""

    summary: Json
    agreement: Json
    agreement_by_category: list[Json]
    #: ``susceptibility.SELF_AGREEMENT`` rows: raters with retests, then ``POOL``.
    self_agreement: list[Json]
    #: One entry per flagged rater: ``rater_id`` and its ``findings`` (most certain first).
    blind_spots: list[Json]
    #: The flagged findings about the raters together (``POOL``), most certain first.
    pool_blind_spots: list[Json]
    #: ``susceptibility.SUSCEPTIBILITY`` rows: per rater and probe kind, then ``POOL``.
    probe_susceptibility: list[Json]
    style_shifts: list[Json]
    #: One entry per rater: ``rater_id``, ``kind``, ``weight``, ``n`` (votes), ``ds_accuracy``,
    #: ``consensus`` and ``gold`` (accuracy, interval, n) and the kinds of its ``blind_spots``.
    rater_weights: list[Json]

    def to_dict(self) -> Json:
        """The card as ``bias_card.json`` holds it (keys in ``BIAS_CARD_KEYS`` order)."""
        return {
            "card_version": CARD_VERSION,
            "summary": self.summary,
            "agreement": self.agreement,
            "agreement_by_category": self.agreement_by_category,
            "self_agreement": self.self_agreement,
            "blind_spots": self.blind_spots,
            "pool_blind_spots": self.pool_blind_spots,
            "probe_susceptibility": self.probe_susceptibility,
            "style_shifts": self.style_shifts,
            "rater_weights_rule": WEIGHT_RULE,
            "rater_weights": self.rater_weights,
        }

    def to_markdown(self) -> str:
        """The card as ``BIAS_CARD.md``: a short list of what is wrong, then one section each."""
        lines = ["# Bias card", "", *_preamble(self.summary), ""]
        lines += ["## In short", "", *_in_short(self), ""]
        lines += ["## Agreement", "", *_agreement_table(self.agreement), ""]
        lines += ["## Agreement by category", "", *_category_table(self.agreement_by_category)]
        lines += ["", "## Intra-rater consistency", "", *_retest_table(self.self_agreement)]
        lines += ["", "## Blind spots", ""]
        lines += _blind_spot_sections(self.summary, self.blind_spots, self.pool_blind_spots)
        lines += ["", "## Probe susceptibility", "", *_probe_table(self.probe_susceptibility)]
        lines += ["", "## Style shifts", "", *_style_table(self.style_shifts), ""]
        lines += ["## Suggested rater weights", "", WEIGHT_RULE, ""]
        lines += [*_weight_table(self.rater_weights), ""]
        notes = [str(note) for note in self.summary.get("notes", [])]
        lines += ["## Notes", "", *(_fenced(notes) if notes else ["None."])]
        return "\n".join(lines) + "\n"


def build_bias_card(
    pairs: pl.DataFrame,
    judgments: pl.DataFrame,
    *,
    raters: pl.DataFrame | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> BiasCard:
    """The bias card of these votes.

    Consumes what ``audit.audit_report`` does: ``frames.PAIRS``, ``frames.JUDGMENTS`` and,
    optionally, ``frames.RATERS`` (to tell dataset-label raters from people). ``n_boot``
    resamples every interval (the audit caps some, and says so in ``summary["notes"]``).
    Without votes every section is empty; without retests or probe pairs, theirs.

    >>> from labeling.simulate import RaterProfile, simulate_pairs, simulate_votes
    >>> pairs = simulate_pairs(60, seed=2)
    >>> pool = [RaterProfile("r1"), RaterProfile("r2"), RaterProfile("coin", skill=0.5)]
    >>> card = build_bias_card(pairs, simulate_votes(pairs, pool, 3, seed=2), n_boot=50)
    >>> min(card.rater_weights, key=lambda row: row["weight"])["rater_id"]
    'coin'
    """
    report = audit_report(pairs, judgments, n_boot=n_boot, seed=seed, raters=raters)
    summary, agreement = _mapping(report["summary"]), _mapping(report["agreement"])
    findings = _rows(report["blind_spots"])
    return BiasCard(
        summary={key: summary.get(key) for key in _SUMMARY_KEYS},
        agreement={key: agreement.get(key) for key, _ in AGREEMENT_MEASURES},
        agreement_by_category=list(agreement.get("by_category", [])),
        self_agreement=_json_rows(self_agreement(judgments, n_boot=n_boot, seed=seed)),
        blind_spots=_by_rater([row for row in findings if row["rater_id"] != POOL]),
        pool_blind_spots=_ordered(
            _without_rater(row) for row in findings if row["rater_id"] == POOL
        ),
        probe_susceptibility=_json_rows(susceptibility(judgments, pairs)),
        style_shifts=_rows(report["leaderboard"]),
        rater_weights=[
            {
                "rater_id": row["rater_id"],
                "kind": row["kind"],
                "weight": row["ds_accuracy"],
                "n": row["n"],
                "ds_accuracy": row["ds_accuracy"],
                "consensus": row["consensus"],
                "gold": row["gold"],
                "blind_spots": row["blind_spots"],
            }
            for row in _rows(report["raters"])
        ],
    )


def rater_weights(card: Mapping[str, Any]) -> dict[str, float]:
    """``{rater_id: weight}`` from a card's JSON (``BiasCard.to_dict``, e.g. read from a
    snapshot's ``bias_card.json``; any version up to ``CARD_VERSION``, the weights have not
    changed). ValueError when the card is of a newer version, lacks the weights, or a weight
    is missing, negative or not a finite number.

    >>> rater_weights({"card_version": 1, "rater_weights": [{"rater_id": "r1", "weight": 0.8}]})
    {'r1': 0.8}
    """
    version = card.get("card_version")
    if not isinstance(version, int) or version > CARD_VERSION:
        raise ValueError(
            f"bias card version {version!r} is not one this intentgap reads ({CARD_VERSION})"
        )
    entries = card.get("rater_weights")
    if not isinstance(entries, list):
        raise ValueError("the bias card has no rater_weights list")
    weights: dict[str, float] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise ValueError(f"a bias card weight is not an object: {entry!r}")
        rater, weight = entry.get("rater_id"), entry.get("weight")
        if not isinstance(rater, str):
            raise ValueError(f"a bias card weight names no rater: {entry!r}")
        if rater in weights:
            raise ValueError(f"the bias card weighs rater {rater!r} twice")
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise ValueError(f"the bias card has no weight for rater {rater!r}")
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"rater {rater!r} has weight {weight}: weights are numbers >= 0")
        weights[rater] = float(weight)
    return weights


# -- building ----------------------------------------------------------------------------------

_SUMMARY_KEYS = (
    "n_pairs",
    "n_judgments",
    "n_counted_judgments",
    "n_raters",
    "n_source_raters",
    "n_models",
    "has_gold",
    "n_boot",
    "seed",
    "n_tests",
    "n_flagged",
    "notes",
)


def _mapping(value: object) -> Json:
    assert isinstance(value, dict)  # audit_report's sections are dicts or lists of dicts
    return value


def _rows(value: object) -> list[Json]:
    assert isinstance(value, list)
    return [_mapping(row) for row in value]


def _json_rows(frame: pl.DataFrame) -> list[Json]:
    """A frame's rows as JSON-ready dicts (NaN becomes None, as in the audit's report)."""
    return frame.with_columns(pl.col(pl.Float64).fill_nan(None)).to_dicts()


def _by_rater(findings: list[Json]) -> list[Json]:
    """Flagged findings grouped by rater (raters in id order, findings by q, then kind)."""
    raters = sorted({str(row["rater_id"]) for row in findings})
    return [
        {
            "rater_id": rater,
            "findings": _ordered(
                _without_rater(row) for row in findings if row["rater_id"] == rater
            ),
        }
        for rater in raters
    ]


def _without_rater(finding: Json) -> Json:
    return {key: value for key, value in finding.items() if key != "rater_id"}


def _ordered(findings: Iterable[Json]) -> list[Json]:
    """Findings most certain first (by q, then kind, then slice)."""
    return sorted(
        findings,
        key=lambda row: (_sortable(row["q_value"]), str(row["kind"]), str(row.get("slice"))),
    )


def _sortable(value: object) -> float:
    return float(value) if isinstance(value, int | float) else math.inf


# -- Markdown ----------------------------------------------------------------------------------


def _preamble(summary: Json) -> list[str]:
    judged, counted = summary.get("n_judgments"), summary.get("n_counted_judgments")
    tests = (
        f" ({_count(counted)} of them votes; the others are retests and votes on probe pairs,"
        " which test the raters)"
        if isinstance(counted, int) and counted != judged
        else ""
    )
    return [
        "What is known to be wrong with this preference set, found by the rater audit on the "
        f"votes it was exported from: {_count(judged)} judgments{tests} by "
        f"{_count(summary.get('n_raters'))} raters on {_count(summary.get('n_pairs'))} pairs. "
        f"Intervals are 95% ({_count(summary.get('n_boot'))} bootstrap resamples, seed "
        f"{summary.get('seed')}); `bias_card.json` holds the same numbers unrounded."
    ]


def _in_short(card: BiasCard) -> list[str]:
    """One line per section: what a reader should know before training on the set."""
    flagged = [
        f"{_code(spot['rater_id'])} ({', '.join(_kinds(spot))})" for spot in card.blind_spots
    ]
    n_raters = _count(card.summary.get("n_raters"))
    lines = [f"- Blind spots: {len(flagged)} of {n_raters} raters flagged{_listing(flagged)}"]
    if card.pool_blind_spots:
        found = [
            f"{finding['kind']} ({_code(finding['slice'])})"
            if finding.get("slice")
            else finding["kind"]
            for finding in card.pool_blind_spots
        ]
        together = ", ".join(found)
        lines.append(f"- Blind spots of the raters together, not of one rater: {together}.")
    percent = card.agreement.get("percent_agreement") or {}
    alpha = card.agreement.get("krippendorff_alpha_nominal") or {}
    if percent.get("estimate") is not None and alpha.get("estimate") is not None:
        lines.append(
            f"- Agreement: raters agree on {_share(percent['estimate'])} of vote pairs "
            f"{_interval(percent['ci'], share=True)}; Krippendorff's alpha "
            f"{_number(alpha['estimate'])} {_interval(alpha['ci'])}."
        )
    categories = [row for row in card.agreement_by_category if _estimate(row) is not None]
    if categories:
        lowest = min(categories, key=lambda row: _estimate(row) or 0.0)
        interval = _interval(lowest["percent_agreement"]["ci"], share=True)
        lines.append(
            f"- Lowest agreement by category: {_code(lowest['category'])}, "
            f"{_share(_estimate(lowest))} {interval}."
        )
    lines += _in_short_retests(card.self_agreement)
    lines += _in_short_probes(card.probe_susceptibility)
    if card.style_shifts:
        moved = [
            f"{_code(row['model'])} {row['rank']} -> {row['style_rank']}"
            for row in card.style_shifts
            if row.get("style_rank") not in (None, row["rank"])
        ]
        lines.append(
            f"- Style control (length and Markdown) changes the rank of {len(moved)} of "
            f"{len(card.style_shifts)} models{_listing(moved)}"
        )
    weighed = [row for row in card.rater_weights if row.get("weight") is not None]
    if weighed:
        low = min(weighed, key=lambda row: (row["weight"], row["rater_id"]))
        high = max(weighed, key=lambda row: (row["weight"], row["rater_id"]))
        lines.append(
            f"- Suggested weights run from {_number(low['weight'])} ({_code(low['rater_id'])}) "
            f"to {_number(high['weight'])} ({_code(high['rater_id'])})."
        )
    return lines


def _in_short_retests(rows: Sequence[Json]) -> list[str]:
    together = next((row for row in rows if row["rater_id"] == POOL), None)
    if together is None:
        return ["- Intra-rater consistency: not measured (no retest votes)."]
    line = (
        f"- Intra-rater consistency: raters gave the same answer again on "
        f"{_share(together['agreement'])} of {_count(together['n'])} retested pairs "
        f"(self-kappa {_number(together['kappa'])} {_interval(_ci(together))})"
    )
    raters = [row for row in rows if row["rater_id"] != POOL and row["kappa"] is not None]
    if len(raters) > 1:
        least = min(raters, key=lambda row: (row["kappa"], row["rater_id"]))
        line += f"; least consistent: {_code(least['rater_id'])}, {_number(least['kappa'])}"
    return [line + "."]


def _in_short_probes(rows: Sequence[Json]) -> list[str]:
    together = [row for row in rows if row["rater_id"] == POOL]
    if not together:
        return ["- Probes: not measured (no probe pairs)."]
    return [
        f"- Probes: the raters together picked the edited side of {_code(row['probe_kind'])} "
        f"probes on {_share(row['rate'])} {_interval(_ci(row), share=True)} of "
        f"{_count(row['n'])} decisive votes ({_share(row['base_rate'])} without the edit)."
        for row in together
    ]


def _kinds(spot: Json) -> list[str]:
    """The checks that flagged a rater, each once, in order."""
    return sorted({str(finding["kind"]) for finding in spot["findings"]})


def _listing(items: Sequence[str]) -> str:
    """``": a, b."`` after a count, or ``"."`` when there is nothing to list."""
    return f": {', '.join(items)}." if items else "."


def _agreement_table(agreement: Json) -> list[str]:
    rows = [
        [label, _number(c["estimate"]), _interval(c["ci"]), _count(c["n"]), _count(c["n_items"])]
        for key, label in AGREEMENT_MEASURES
        if (c := agreement.get(key)) is not None
    ]
    return _table(["measure", "estimate", "95% CI", "n", "items"], rows)


def _category_table(by_category: Sequence[Json]) -> list[str]:
    rows = []
    for row in by_category:
        percent, alpha = row["percent_agreement"], row.get("krippendorff_alpha_nominal") or {}
        rows.append(
            [
                _code(row["category"], in_table=True),
                _share(percent["estimate"]),
                _interval(percent["ci"], share=True),
                _number(alpha.get("estimate")),
                _interval(alpha.get("ci", [None, None])),
                _count(percent["n"]),
            ]
        )
    header = ["category", "agreement", "95% CI", "alpha", "95% CI", "vote pairs"]
    return _table(header, rows)


def _retest_table(rows: Sequence[Json]) -> list[str]:
    if not rows:
        return [
            "Not measured: no retest votes (a rater's round-1 vote on a pair they answered"
            " before, sides swapped)."
        ]
    table = [
        [
            _rater(row["rater_id"]),
            _count(row["n"]),
            _share(row["agreement"]),
            _number(row["kappa"]),
            _interval(_ci(row)),
        ]
        for row in rows
    ]
    header = ["rater", "retested pairs", "same answer", "self-kappa", "95% CI"]
    return _table(header, table)


def _probe_table(rows: Sequence[Json]) -> list[str]:
    if not rows:
        return ["Not measured: no probe pairs (a surface edit on the intended loser)."]
    table = [
        [
            _rater(row["rater_id"]),
            _code(row["probe_kind"], in_table=True),
            _count(row["n"]),
            _share(row["rate"]),
            _interval(_ci(row), share=True),
            _share(row["base_rate"]),
            _significance(row["p_value"]),
        ]
        for row in rows
    ]
    header = ["rater", "probe", "votes", "picked the edited side", "95% CI", "without edit", "p"]
    return [
        *_table(header, table),
        "",
        "p: one-sided, that the edit moved the rater toward the edited side (before the "
        "multiple-testing correction; flagged raters are under Blind spots).",
    ]


def _blind_spot_sections(
    summary: Json, blind_spots: Sequence[Json], pool: Sequence[Json]
) -> list[str]:
    lines = [
        f"Flagged: {_count(summary.get('n_flagged'))} of {_count(summary.get('n_tests'))} tests"
        " (Benjamini-Hochberg q < 0.05 across every rater and check)."
    ]
    together = [{"rater_id": POOL, "findings": list(pool)}] if pool else []
    for spot in [*blind_spots, *together]:
        rows = [
            [
                _code(finding["kind"], in_table=True),
                _code(finding["slice"], in_table=True),
                _number(finding["effect"]),
                _interval(finding["ci"]),
                _significance(finding["q_value"]),
                _count(finding["n"]),
            ]
            for finding in spot["findings"]
        ]
        who = "All raters together" if spot["rater_id"] == POOL else _code(spot["rater_id"])
        lines += ["", f"### {who}", ""]
        lines += _table(["check", "slice", "effect", "95% CI", "q", "votes"], rows)
        lines += ["", "Evidence:", "", *_fenced(str(f["message"]) for f in spot["findings"])]
    return lines


def _style_table(style_shifts: Sequence[Json]) -> list[str]:
    rows = [
        [
            _count(row["rank"]),
            _code(row["model"], in_table=True),
            _number(row["score"], digits=0),
            _interval(row["ci"], digits=0),
            _count(row.get("style_rank")),
            _number(row.get("style_score"), digits=0),
            _number(row.get("style_shift"), digits=0, sign=True),
        ]
        for row in style_shifts
    ]
    header = ["rank", "model", "score", "95% CI", "style rank", "style score", "shift"]
    lines = _table(header, rows)
    if rows:
        lines += [
            "",
            "Bradley-Terry scores; the style columns control for length and Markdown. A negative "
            "shift is a model the votes favoured for its style, not its content.",
        ]
    return lines


def _weight_table(weights: Sequence[Json]) -> list[str]:
    rows = [
        [
            _code(row["rater_id"], in_table=True)
            + (" (source)" if row["kind"] == "source" else ""),
            _number(row["weight"]),
            _count(row["n"]),
            _accuracy(row["consensus"]),
            _accuracy(row["gold"]),
            ", ".join(_code(kind, in_table=True) for kind in row["blind_spots"]) or "-",
        ]
        for row in weights
    ]
    return _table(["rater", "weight", "votes", "vs peers", "vs gold", "blind spots"], rows)


def _rater(rater_id: object) -> str:
    """A rater's id as code in a table; the raters together (``POOL``) in words."""
    return "*all raters*" if rater_id == POOL else _code(rater_id, in_table=True)


def _ci(row: Json) -> list[object]:
    return [row["ci_low"], row["ci_high"]]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A GitHub-flavoured Markdown table (cells are escaped by their makers), or "None."."""
    if not rows:
        return ["None."]
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


# -- safe text ---------------------------------------------------------------------------------

_BACKTICKS = re.compile(r"`+")


def _one_line(value: object) -> str:
    """``value`` as one line of visible text: line breaks become spaces, control and format
    characters (bidi overrides, zero-width ones) become U+FFFD, long names are shortened."""
    shown = _visible(str(value))
    return shown if len(shown) <= MAX_NAME_CHARS else shown[: MAX_NAME_CHARS - 1] + "…"


def _visible(text: str) -> str:
    """One line: line breaks become spaces; control and format characters U+FFFD."""
    return "".join(
        "\ufffd" if unicodedata.category(char) in ("Cc", "Cf") else char
        for char in " ".join(text.splitlines())
    )


def _code(value: object, *, in_table: bool = False) -> str:
    """A name as an inline code span: Markdown shows its characters, never markup, HTML or a
    link. In a table a ``|`` would end the cell, even in a code span: it is escaped there.

    >>> _code("<img src=x>"), _code("a`b"), _code(None)
    ('`<img src=x>`', '``a`b``', '(none)')
    """
    if value is None:
        return "(none)"
    text = _one_line(value)
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    if text.startswith(("`", " ")) or text.endswith(("`", " ")) or not text:
        text = f" {text} "
    if in_table:
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


def _fenced(lines: Iterable[str]) -> list[str]:
    """Sentences that quote data (the checks' messages, the audit's notes) as a fenced text
    block, one per line: shown as written, nothing in them is parsed."""
    shown = [_visible(line) for line in lines]
    longest = max((len(run) for line in shown for run in _BACKTICKS.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", *shown, fence]


# -- numbers -----------------------------------------------------------------------------------


def _estimate(row: Json) -> float | None:
    value = row["percent_agreement"]["estimate"]
    return float(value) if isinstance(value, int | float) else None


def _number(value: object, digits: int = 3, sign: bool = False) -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value:+,.{digits}f}" if sign else f"{value:,.{digits}f}"


def _significance(value: object) -> str:
    if isinstance(value, int | float) and value < 1e-4:
        return "< 0.0001"
    return _number(value, digits=4)


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else "-"


def _share(value: object) -> str:
    return f"{value:.0%}" if isinstance(value, int | float) else "-"


def _interval(ci: Sequence[object], digits: int = 3, share: bool = False) -> str:
    low, high = ci
    if not isinstance(low, int | float) or not isinstance(high, int | float):
        return "-"
    if share:
        return f"[{low:.0%}, {high:.0%}]"
    return f"[{low:,.{digits}f}, {high:,.{digits}f}]"


def _accuracy(accuracy: Json) -> str:
    if accuracy["accuracy"] is None:
        return "-"
    interval = _interval(accuracy["ci"], share=True)
    return f"{_share(accuracy['accuracy'])} {interval} of {_count(accuracy['n'])}"
