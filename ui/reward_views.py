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
from reward.inspection import named_flags

__all__ = [
    "attribution_markdown",
    "calibration_chart",
    "divergence_table",
    "divergence_votes",
    "field_help",
    "flagged_sentence",
    "probe_table",
    "side_by_side_table",
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
