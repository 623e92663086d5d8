"""What the reward-model pages show, without Streamlit: training settings' help texts, and the
inspection report shaped into frames, charts and safe highlighted text."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import altair as alt
import polars as pl

from reward.config import TrainConfig
from reward.edit_by_edit import VERDICT_CHANGES
from reward.inspection import named_flags

__all__ = [
    "EDIT_BY_EDIT_CAPTION",
    "PULL_FORMATS",
    "attribution_markdown",
    "calibration_chart",
    "divergence_table",
    "divergence_votes",
    "edit_by_edit_chart",
    "edit_by_edit_messages",
    "edit_by_edit_table",
    "field_help",
    "flagged_sentence",
    "probe_table",
    "side_by_side_table",
    "verdict_change_table",
]


def field_help(name: str) -> str:
    """The help text a ``TrainConfig`` field carries (the CLI shows the same)."""
    for spec in TrainConfig.__dataclass_fields__.values():
        if spec.name == name:
            return str(spec.metadata.get("help", ""))
    raise KeyError(name)


# -- inspection --------------------------------------------------------------------------------


def calibration_chart(bins: Sequence[dict[str, Any]]) -> alt.LayerChart:
    """Reliability diagram of a report's ``calibration.bins``: mean predicted P(a wins)
    against the observed vote share for a, point size by pairs, with the diagonal."""
    frame = pl.DataFrame(
        list(bins),
        schema={
            "lower": pl.Float64,
            "n": pl.Int64,
            "predicted": pl.Float64,
            "observed": pl.Float64,
        },
    )
    diagonal = alt.Chart(pl.DataFrame({"p": [0.0, 1.0]})).mark_line(strokeDash=[4, 4], color="gray")
    unit = alt.Scale(domain=[0, 1])
    points = (
        alt.Chart(frame, title="Reliability: predicted vs observed")
        .mark_line(point=True)
        .encode(
            x=alt.X("predicted:Q", title="model's P(a wins)", scale=unit),
            y=alt.Y("observed:Q", title="share of votes for a", scale=unit),
            size=alt.Size("n:Q", title="pairs"),
            tooltip=["predicted", "observed", "n"],
        )
    )
    return alt.LayerChart(layer=[diagonal.encode(x="p:Q", y="p:Q"), points])


def probe_table(report: dict[str, Any]) -> pl.DataFrame:
    """One row per probe: ``name, mean_delta, ci_low, ci_high, flip_rate, n, flagged``."""
    schema = {
        "name": pl.String(),
        "mean_delta": pl.Float64(),
        "ci_low": pl.Float64(),
        "ci_high": pl.Float64(),
        "flip_rate": pl.Float64(),
        "n": pl.Int64(),
        "flagged": pl.Boolean(),
    }
    rows = [{k: probe.get(k) for k in schema} for probe in report["probes"]]
    return pl.DataFrame(rows, schema=schema)


_DIVERGENCE_COLUMNS = {
    "pair_id": pl.String(),
    "kind": pl.String(),
    "p_a": pl.Float64(),
    "vote_share_a": pl.Float64(),
    "agreement": pl.Float64(),
    "chosen_side": pl.String(),
    "gold": pl.String(),
    "category": pl.String(),
}


def divergence_table(report: dict[str, Any]) -> pl.DataFrame:
    """A report's ``divergences`` without texts and votes: ``pair_id, kind, p_a`` (the
    model's P(a wins)), ``vote_share_a, agreement, chosen_side, gold, category``."""
    rows = [{k: row.get(k) for k in _DIVERGENCE_COLUMNS} for row in report["divergences"]]
    return pl.DataFrame(rows, schema=_DIVERGENCE_COLUMNS)


def flagged_sentence(report: dict[str, Any]) -> str:
    """Which raters the divergence table treats as flagged, and why, in one sentence."""
    flags: dict[str, list[str]] = report.get("flagged_raters") or {}
    if not flags:
        return "No rater is flagged, so no pair is listed for siding with one."
    return (
        f"Flagged raters: {named_flags(flags)}; pairs where the model sides with them are listed."
    )


def divergence_votes(row: dict[str, Any]) -> pl.DataFrame:
    """The votes of one divergence row: ``rater_id, choice, rationale``."""
    schema = {"rater_id": pl.String(), "choice": pl.String(), "rationale": pl.String()}
    return pl.DataFrame(list(row.get("votes") or []), schema=schema)


_SIDE_COLUMNS = {
    "who": pl.String(),
    "kind": pl.String(),
    "slice": pl.String(),
    "effect": pl.Float64(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
    "q_value": pl.Float64(),
    "n": pl.Int64(),
    "flagged": pl.Boolean(),
}


def side_by_side_table(report: dict[str, Any]) -> pl.DataFrame:
    """The model's blind-spot tests, then the raters' flagged findings of the same kinds:
    ``who, kind, slice, effect, ci_low, ci_high, q_value, n, flagged`` (``who`` is
    ``model`` or the rater's id); empty without judgments."""
    side = report.get("side_by_side") or {"model": [], "raters": []}
    rows = [{**row, "who": "model"} for row in side["model"]] + [
        {**row, "who": row["rater_id"]} for row in side["raters"]
    ]
    picked = [{k: row.get(k) for k in _SIDE_COLUMNS} for row in rows]
    return pl.DataFrame(picked, schema=_SIDE_COLUMNS)


#: What the edit-by-edit section's numbers mean, in a few lines.
EDIT_BY_EDIT_CAPTION = (
    "Each probe pair is a base pair whose intended loser got one surface edit. The raters' "
    "pull: of their votes that would have gone against that response unedited, the share the "
    "edit turned to it (from their share for the edited side and their rate without the "
    "edit). The model's pull: the same from its probability for the edited side "
    "(sigmoid of the reward gap) on those probe pairs and their bases. The model is moved "
    "when its probe on the same bases is flagged, the raters when their pooled probe "
    "finding is (one Benjamini-Hochberg correction with the audit). Amplified: the model's "
    "pull above the raters' beyond both 95% intervals. Every probe pair counts, held out in "
    "training or not."
)

#: How each verdict is shown: the model picked up a pull (warning), resisted one or none
#: was found (success), or there was too little to say (info).
_TONES = {
    "inherited": "warning",
    "amplified": "warning",
    "learned elsewhere": "warning",
    "resisted": "success",
    "none": "success",
    "not measured": "info",
}

#: Number formats of the edit-by-edit tables' shares (``ui.widgets.table``).
PULL_FORMATS: dict[str, str] = {
    name: "percent"
    for name in (
        "raters_pull",
        "raters_low",
        "raters_high",
        "model_pull",
        "model_low",
        "model_high",
        "model_flip_rate",
        "first_pull",
        "second_pull",
        "first_flip_rate",
        "second_flip_rate",
    )
}

_EDIT_COLUMNS = {
    "edit": pl.String(),
    "verdict": pl.String(),
    "raters_pull": pl.Float64(),
    "raters_low": pl.Float64(),
    "raters_high": pl.Float64(),
    "raters_votes": pl.Int64(),
    "model_pull": pl.Float64(),
    "model_low": pl.Float64(),
    "model_high": pl.Float64(),
    "model_flip_rate": pl.Float64(),
    "model_pairs": pl.Int64(),
    "flagged_raters": pl.String(),
}


def edit_by_edit_table(report: dict[str, Any]) -> pl.DataFrame:
    """A report's ``edit_by_edit`` rows, one per edit: ``edit, verdict``, the raters' pull
    with its interval and decisive votes, the model's with its interval, flip rate and base
    pairs probed, and the ``flagged_raters`` of that edit (comma-separated)."""
    rows = [
        {
            "edit": row["probe_kind"],
            "verdict": row["verdict"],
            "raters_pull": row["raters_pull"],
            "raters_low": row["raters_pull_low"],
            "raters_high": row["raters_pull_high"],
            "raters_votes": row["raters_n"],
            "model_pull": row["model_pull"],
            "model_low": row["model_pull_low"],
            "model_high": row["model_pull_high"],
            "model_flip_rate": row["model_flip_rate"],
            "model_pairs": row["model_n"],
            "flagged_raters": ", ".join(row["flagged_raters"] or []),
        }
        for row in report.get("edit_by_edit") or []
    ]
    return pl.DataFrame(rows, schema=_EDIT_COLUMNS)


def edit_by_edit_messages(report: dict[str, Any]) -> list[tuple[str, str]]:
    """``(tone, message)`` per edit: ``warning`` where the model picked up a pull
    (inherited, amplified, learned elsewhere), ``success`` where it did not, ``info`` where
    nothing could be measured. Messages name raters: render them as literal text."""
    return [
        (_TONES.get(row["verdict"], "info"), str(row["message"]))
        for row in report.get("edit_by_edit") or []
    ]


def edit_by_edit_chart(report: dict[str, Any]) -> alt.LayerChart:
    """Per edit, the raters' pull and the model's as points with their 95% intervals."""
    rows = [
        {
            "edit": row["probe_kind"],
            "who": who,
            "pull": row[f"{who}_pull"],
            "low": row[f"{who}_pull_low"],
            "high": row[f"{who}_pull_high"],
            "verdict": row["verdict"],
        }
        for row in report.get("edit_by_edit") or []
        for who in ("raters", "model")
    ]
    schema = {
        "edit": pl.String(),
        "who": pl.String(),
        "pull": pl.Float64(),
        "low": pl.Float64(),
        "high": pl.Float64(),
        "verdict": pl.String(),
    }
    base = alt.Chart(pl.DataFrame(rows, schema=schema), title="Pull of each edit").encode(
        y=alt.Y("edit:N", title=None),
        yOffset=alt.YOffset("who:N"),
        color=alt.Color("who:N", title=None),
    )
    intervals = base.mark_rule().encode(
        x=alt.X("low:Q", title="pull (share of choices the edit turned)"), x2="high:Q"
    )
    points = base.mark_point(filled=True).encode(
        x="pull:Q", tooltip=["edit", "who", "pull", "low", "high", "verdict"]
    )
    return alt.LayerChart(layer=[intervals, points])


def verdict_change_table(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """``reward.inspection.compare_edits``' rows: ``edit, first, second, change``, the raters'
    pull, both models' pulls and flip rates, and the flagged raters (comma-separated)."""
    schema = {  # VERDICT_CHANGES as a table shows it: the edit by name, raters as text
        "edit" if name == "probe_kind" else name: pl.String() if name == "flagged_raters" else dtype
        for name, dtype in VERDICT_CHANGES.items()
        if name != "message"
    }
    picked = [
        {
            **{k: row.get(k) for k in schema if k not in ("edit", "flagged_raters")},
            "edit": row["probe_kind"],
            "flagged_raters": ", ".join(row.get("flagged_raters") or []),
        }
        for row in rows
    ]
    return pl.DataFrame(picked, schema=schema)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|:~$&=\"'])")


def _escaped(word: str) -> str:
    """A word as literal Markdown text: every ASCII punctuation mark that Markdown or a
    Streamlit directive could read is backslash-escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", word)


def attribution_markdown(attribution: pl.DataFrame, share: float = 0.25) -> str:
    """Streamlit Markdown of a response with its words highlighted by attribution.

    Consumes ``reward.attribution.occlusion``'s frame (``word`` with its trailing
    whitespace, ``attribution``). Words whose attribution is at least ``share`` of the largest
    absolute attribution get ``:green-background[...]`` (they raise the reward) or
    ``:red-background[...]`` (they lower it). Every word is escaped, so the text can hold no
    HTML, link, image or directive of its own.

    >>> frame = pl.DataFrame({"word": ["Good ", "[x](y) ", "bad"],
    ...                       "attribution": [1.0, 0.0, -0.5]})
    >>> attribution_markdown(frame)
    ':green-background[Good] \\\\[x\\\\]\\\\(y\\\\) :red-background[bad]'
    """
    largest = attribution["attribution"].abs().max()
    threshold = share * float(largest) if isinstance(largest, int | float) else math.inf
    pieces = []
    for word, value in attribution.select("word", "attribution").iter_rows():
        text = str(word)
        core = text.rstrip()
        space = text[len(core) :]
        escaped = _escaped(core)
        if threshold > 0 and value >= threshold:
            escaped = f":green-background[{escaped}]"
        elif threshold > 0 and value <= -threshold:
            escaped = f":red-background[{escaped}]"
        # Keep paragraph breaks; any other whitespace run becomes one space.
        pieces.append(escaped + ("\n\n" if space.count("\n") > 1 else " " if space else ""))
    return "".join(pieces).rstrip()
