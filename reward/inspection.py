"""Where a reward model diverges from the votes and from intent: ``intentgap inspect``.

``build_report`` is pure (frames and probe results in, a JSON-ready dict out) with the keys
``accuracy``, ``ceiling``, ``calibration``, ``probes``, ``divergences``, ``side_by_side`` and
``edit_by_edit`` (``reward.edit_by_edit``: the raters and the model, edit by edit);
``inspect_model`` scores a snapshot and runs the probes to feed it; ``main`` is the command.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from data import frames
from reward import metrics
from reward.checkpoint import CheckpointInfo, read_info
from reward.config import InspectConfig
from reward.edit_by_edit import EDIT_BY_EDIT, edit_by_edit, verdict_changes
from reward.inherited import audit_findings, audit_flags, inherited, side_by_side, snapshot_pairs
from reward.model import RewardModelError
from reward.probes import ProbeResult, run_probes
from reward.score import RewardScorer, Scorer, score_pairs
from reward.snapshot import Snapshot, SnapshotError, load_snapshot, pairs_from_preferences

__all__ = [
    "build_report",
    "compare",
    "compare_edits",
    "evaluation_pairs",
    "format_comparison",
    "format_edit_by_edit",
    "format_report",
    "format_verdict_changes",
    "inspect_model",
    "main",
    "named_flags",
]

BREAKDOWNS = {"category": "category", "model_pair": "model_pair", "agreement": "agreement_bin"}


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [_clean(row) for row in frame.to_dicts()]


def _clean(value: Any) -> Any:
    """JSON-ready: NaN becomes null, nested values too."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def build_report(
    preferences: pl.DataFrame,
    scores: pl.DataFrame,
    judgments: pl.DataFrame | None = None,
    probes: Sequence[ProbeResult] = (),
    *,
    confident: float = 0.8,
    flagged_raters: Sequence[str] = (),
    max_divergences: int = 50,
    model_id: str = "model",
    rater_pairs: pl.DataFrame | None = None,
    edits: pl.DataFrame | None = None,
) -> dict[str, Any]:
    """The inspection report from ``frames.PREFERENCES`` rows, their scores (``pair_id,
    reward_a, reward_b``), optionally ``frames.JUDGMENTS`` and probe results.

    ``ceiling`` is the mean agreement (see ``reward.metrics``); ``accuracy`` has ``overall``,
    one table per breakdown (category, model pair, agreement bin, and the principles the
    votes cited) and ``gold``. With
    judgments, ``side_by_side`` tests the model for the raters' blind spots
    (``reward.inherited``); ``rater_pairs`` (``frames.PAIRS``, default: the scored pairs) are
    the pairs whose votes the raters' own tests use. ``edits`` (``reward.edit_by_edit.
    EDIT_BY_EDIT``) becomes ``edit_by_edit``: None where it was not run.
    """
    evaluated = metrics.evaluate_scores(preferences, scores)
    table = metrics.calibration(evaluated)
    found = metrics.divergences(
        evaluated, judgments, confident=confident, flagged_raters=flagged_raters
    )
    per_kind = found.group_by("kind", maintain_order=True).head(max_divergences)
    accuracy: dict[str, Any] = {"overall": _records(metrics.accuracy(evaluated))[0]}
    for name, column in BREAKDOWNS.items():
        accuracy[f"by_{name}"] = _records(metrics.accuracy(evaluated, by=column))
    accuracy["by_principle"] = (
        []
        if judgments is None
        else _records(
            metrics.accuracy_by_principle(evaluated, frames.conform(judgments, frames.JUDGMENTS))
        )
    )
    accuracy["gold"] = _clean(metrics.gold_accuracy(evaluated))
    accuracy["gold_by_principle"] = _records(metrics.gold_accuracy_by_principle(evaluated))
    return {
        "n_pairs": evaluated.height,
        "accuracy": accuracy,
        "ceiling": _clean(evaluated["agreement"].mean()),
        "calibration": {
            "ece": _clean(metrics.expected_calibration_error(table)),
            "bins": _records(table),
        },
        "probes": [_clean(result.as_dict()) for result in probes],
        "divergences": _records(per_kind),
        "divergence_counts": dict(found["kind"].value_counts().iter_rows()),
        "side_by_side": _side_by_side(preferences, scores, judgments, model_id, rater_pairs),
        "edit_by_edit": None if edits is None else _records(edits),
    }


def _side_by_side(
    preferences: pl.DataFrame,
    scores: pl.DataFrame,
    judgments: pl.DataFrame | None,
    model_id: str,
    rater_pairs: pl.DataFrame | None,
) -> dict[str, Any] | None:
    if judgments is None or judgments.is_empty():
        return None
    model_rater = f"model:{model_id}"
    pairs = pairs_from_preferences(preferences) if rater_pairs is None else rater_pairs
    findings = side_by_side(pairs, judgments, scores, model_rater)
    return {
        "model_rater_id": model_rater,
        "model": _records(findings.filter(pl.col("is_model")).drop("is_model")),
        "raters": _records(
            findings.filter(~pl.col("is_model") & pl.col("flagged")).drop("is_model")
        ),
        "inherited": _clean(inherited(findings, model_rater)),
    }


def evaluation_pairs(info: CheckpointInfo, snapshot: Snapshot) -> tuple[list[str] | None, str]:
    """The pairs to inspect and how to describe them: the pairs held out in training when
    ``snapshot`` is the one the model was trained on, else every pair (None)."""
    if info.snapshot_hash != snapshot.content_hash:
        return None, "all pairs (not the snapshot the model was trained on)"
    held = info.split().filter(pl.col("is_eval"))["pair_id"].to_list()
    return held, "pairs held out in training"


def inspect_model(
    scorer: Scorer,
    snapshot: Snapshot,
    model_id: str,
    *,
    pair_ids: Sequence[str] | None = None,
    probe_pairs: int = 64,
    confident: float = 0.8,
    flagged_raters: Sequence[str] | None = None,
    findings: pl.DataFrame | None = None,
) -> dict[str, Any]:
    """Score ``snapshot`` (only ``pair_ids`` when given), run the probes on the first
    ``probe_pairs`` non-tied pairs, and build the report. ``flagged_raters`` defaults to the
    raters the audit flags on the snapshot (``reward.inherited.audit_flags``); the report
    names them under ``flagged_raters``. ``findings`` are the audit's on the snapshot
    (default: ``reward.inherited.audit_findings``, run when needed).

    ``edit_by_edit`` covers every probe pair of the snapshot the raters voted on, and its
    base, held out in training or not (the probe pairs test the raters; the model is scored
    on the same bases); it is None with ``probe_pairs`` 0 (the probes are skipped) or without
    votes, an empty list when the snapshot holds no probe pair.
    """
    rater_pairs = snapshot_pairs(snapshot)
    if findings is None and (flagged_raters is None or probe_pairs > 0):
        findings = audit_findings(snapshot, rater_pairs)
    if flagged_raters is None:
        flags = {rater: kinds for rater, kinds in audit_flags(snapshot, findings).items() if kinds}
    else:
        flags = {rater: [] for rater in flagged_raters}
    preferences = snapshot.preferences
    if pair_ids is not None:
        preferences = preferences.filter(pl.col("pair_id").is_in(list(pair_ids)))
    pairs = pairs_from_preferences(preferences)
    scores = score_pairs(scorer, pairs, model_id)
    probe_set = pairs.filter(
        pl.col("pair_id").is_in(preferences.filter(~pl.col("is_tie"))["pair_id"].to_list())
    )
    probes = (
        run_probes(scorer, probe_set.head(probe_pairs))
        if probe_pairs > 0 and probe_set.height
        else []
    )
    edits = (
        edit_by_edit(rater_pairs, snapshot.judgments, scorer, findings)
        if probe_pairs > 0 and not snapshot.judgments.is_empty()
        else None
    )
    report = build_report(
        preferences,
        scores,
        snapshot.judgments,
        probes,
        confident=confident,
        flagged_raters=list(flags),
        model_id=model_id,
        rater_pairs=rater_pairs,
        edits=edits,
    )
    return {
        "model_id": model_id,
        "snapshot_hash": snapshot.content_hash,
        **report,
        "flagged_raters": flags,
    }


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def compare(first: dict[str, Any], second: dict[str, Any]) -> list[dict[str, Any]]:
    """Two reports' shared measures side by side: ``measure, first, second, difference``
    (second minus first). Accuracy against the votes and gold, calibration error, every
    probe's mean reward change and flip rate, and every blind-spot effect of the model: what
    changed when, say, the second model was trained without a flagged rater."""
    ours, theirs = _measures(first), _measures(second)
    rows = []
    for name, before in ours.items():
        if name not in theirs:
            continue
        after = theirs[name]
        change = None if before is None or after is None else after - before
        rows.append({"measure": name, "first": before, "second": after, "difference": change})
    return rows


def _measures(report: dict[str, Any]) -> dict[str, float | None]:
    found: dict[str, float | None] = {
        "accuracy vs votes": report["accuracy"]["overall"]["accuracy"],
        "agrees with votes": report["accuracy"]["overall"]["vote_agreement"],
        "accuracy vs gold": report["accuracy"]["gold"]["model"],
        "calibration error (ECE)": report["calibration"]["ece"],
    }
    for probe in report["probes"]:
        found[f"{probe['name']} probe: mean reward change"] = probe["mean_delta"]
        found[f"{probe['name']} probe: flip rate"] = probe["flip_rate"]
    for row in (report.get("side_by_side") or {}).get("model", []):
        found[f"{row['kind']} blind spot ({row['slice']}): effect"] = row["effect"]
    for row in report.get("edit_by_edit") or []:
        found[f"{row['probe_kind']} edit: the model's pull"] = row["model_pull"]
    return found


def compare_edits(first: dict[str, Any], second: dict[str, Any]) -> list[dict[str, Any]]:
    """Two reports' ``edit_by_edit`` tables kind by kind (``reward.edit_by_edit.
    verdict_changes``): whether the second model, e.g. trained without the flagged raters,
    closes what the first picked up. Empty when either has none."""
    if not first.get("edit_by_edit") or not second.get("edit_by_edit"):
        return []

    def table(report: dict[str, Any]) -> pl.DataFrame:
        return pl.DataFrame(report["edit_by_edit"], schema=EDIT_BY_EDIT)

    return _records(verdict_changes(table(first), table(second)))


def format_comparison(
    rows: list[dict[str, Any]],
    first: str,
    second: str,
    edits: Sequence[dict[str, Any]] = (),
) -> str:
    """``compare``'s rows as an aligned text table, then ``compare_edits``' ``edits``."""
    width = max([len(row["measure"]) for row in rows] + [7])

    def number(value: float | None, sign: bool = False) -> str:
        return "n/a" if value is None else f"{value:+.3f}" if sign else f"{value:.3f}"

    lines = [
        f"{first} (first) against {second} (second):",
        f"  {'measure':<{width}}  {'first':>8}  {'second':>8}  {'change':>8}",
    ]
    lines += [
        f"  {row['measure']:<{width}}  {number(row['first']):>8}  {number(row['second']):>8}"
        f"  {number(row['difference'], sign=True):>8}"
        for row in rows
    ]
    if edits:
        lines += ["", format_verdict_changes(edits, first, second)]
    return "\n".join(lines)


def format_edit_by_edit(rows: Sequence[dict[str, Any]]) -> str:
    """A report's ``edit_by_edit`` rows as lines: per edit the verdict, the raters' pull and
    the model's, each with its 95% interval, the model's flip rate, and who is flagged."""
    if not rows:
        return "edit by edit: no probe pairs with votes in the snapshot"
    lines = [
        "edit by edit (pull: share of the choices against a response that the edit turned to"
        " it; 95% intervals):"
    ]
    for row in rows:
        named = ", ".join(row["flagged_raters"] or [])
        lines.append(
            f"  {row['probe_kind']:<11} {row['verdict']:<17}"
            f" raters {_pull(row, 'raters')} (n={row['raters_n']})"
            f"  model {_pull(row, 'model')} flips {_percent(row['model_flip_rate'])}"
            f" (n={row['model_n']})" + (f"  flagged: {named}" if named else "")
        )
    return "\n".join(lines)


def _pull(row: dict[str, Any], side: str) -> str:
    def share(value: float | None) -> str:
        return "n/a" if value is None else f"{round(100 * value):+d}%"  # no "-0%"

    low, high = row[f"{side}_pull_low"], row[f"{side}_pull_high"]
    return f"{share(row[f'{side}_pull'])} [{share(low)}, {share(high)}]"


def format_verdict_changes(rows: Sequence[dict[str, Any]], first: str, second: str) -> str:
    """``compare_edits``' rows as lines: each edit's verdict for both models."""
    lines = [f"edit by edit, {first} (first) -> {second} (second):"]
    lines += [
        f"  {row['probe_kind']:<11} {row['first']} -> {row['second']}: {row['change']}"
        + (f" (flagged: {', '.join(row['flagged_raters'])})" if row["flagged_raters"] else "")
        for row in rows
    ]
    return "\n".join(lines)


def named_flags(flags: dict[str, list[str]]) -> str:
    """``r05 (length, position), r07``: raters with the blind-spot kinds flagged for them."""
    return ", ".join(
        f"{rater} ({', '.join(kinds)})" if kinds else rater for rater, kinds in flags.items()
    )


def format_report(report: dict[str, Any]) -> str:
    """The report as a few readable lines for the terminal."""
    overall = report["accuracy"]["overall"]
    gold = report["accuracy"]["gold"]
    lines = [
        f"{report.get('model_id', 'model')} on {report['n_pairs']} pairs"
        f" ({report.get('split', '')})",
        f"accuracy vs votes {_percent(overall['accuracy'])} of {overall['n_decided']} decided"
        " pairs;"
        f" agrees with {_percent(overall['vote_agreement'])} of votes, ceiling "
        f"{_percent(report['ceiling'])} (mean agreement)",
        f"accuracy vs gold {_percent(gold['model'])} on {gold['n']} gold pairs"
        f" (the votes: {_percent(gold['votes'])})",
    ]
    lines += [
        f"  resting on {row['gold_principle']}: {_percent(row['model'])} (n={row['n']},"
        f" the votes {_percent(row['votes'])})"
        for row in report["accuracy"]["gold_by_principle"]
    ]
    ece = report["calibration"]["ece"]
    lines.append(f"calibration: ECE {'n/a' if ece is None else f'{ece:.3f}'}")
    for name, column in {**BREAKDOWNS, "principle": "principle"}.items():
        rows = report["accuracy"][f"by_{name}"]
        if len(rows) > 1:
            lines.append(f"by {name}:")
            lines += [
                f"  {row[column]}: {_percent(row['accuracy'])} (n={row['n']},"
                f" ceiling {_percent(row['ceiling'])})"
                for row in rows[:10]
            ]
    if report["probes"]:
        lines.append("probes (reward change of the edited loser, share of flipped preferences):")
        lines += [
            f"  {p['name']:<11} delta {p['mean_delta']:+.3f}  flips {_percent(p['flip_rate'])}"
            f"  n={p['n']}{'  FLAGGED' if p['flagged'] else ''}"
            for p in report["probes"]
        ]
    lines.append(f"divergences: {report['divergence_counts'] or 'none'}")
    flags = report.get("flagged_raters") or {}
    if flags:
        lines.append(f'flagged raters (for "sides with a flagged rater"): {named_flags(flags)}')
    side = report.get("side_by_side")
    if side:
        lines.append("the raters' blind spots, tested on the model (q: BH-adjusted p):")
        lines += [
            f"  {row['kind']:<9} {row['slice']:<16} effect {row['effect']:+.3f}"
            f"  q {row['q_value']:.2g}"
            f"  n={row['n']}{'  FLAGGED' if row['flagged'] else ''}"
            for row in side["model"]
            if row["effect"] is not None and row["q_value"] is not None
        ]
        lines += [f"  {shared['message']}" for shared in side["inherited"]]
    if report.get("edit_by_edit") is not None:
        lines.append(format_edit_by_edit(report["edit_by_edit"]))
    return "\n".join(lines)


def _scorer(model: str, config: InspectConfig) -> RewardScorer:
    return RewardScorer.from_checkpoint(
        model,
        device=config.device,
        precision=config.precision,
        batch_size=config.batch_size,
        progress_bar=config.progress_bar,
    )


def main(argv: list[str] | None = None) -> int:
    """``intentgap inspect MODEL SNAPSHOT [--json] [--compare OTHER_MODEL]``."""
    config = InspectConfig.from_args(argv)
    try:
        info = read_info(config.model)
        snapshot = load_snapshot(config.snapshot)
        scorer = _scorer(config.model, config)
        other = read_info(config.compare) if config.compare else None
        other_scorer = _scorer(config.compare, config) if config.compare else None
    except (SnapshotError, RewardModelError, ValueError) as error:
        print(f"intentgap inspect: {error}", file=sys.stderr)
        return 2
    pair_ids, split = (
        evaluation_pairs(info, snapshot) if config.split == "eval" else (None, "all pairs")
    )
    settings: dict[str, Any] = {
        "pair_ids": pair_ids,  # the same pairs for a compared model: differences are the models'
        "probe_pairs": config.probe_pairs,
        "confident": config.confident,
        "flagged_raters": config.flagged_raters or None,
        # The audit of the votes is the same for both models: run it once.
        "findings": audit_findings(snapshot) if config.compare else None,
    }
    report = inspect_model(scorer, snapshot, info.model_id, **settings)
    report["split"] = split
    if other is not None and other_scorer is not None:
        settings["flagged_raters"] = list(report["flagged_raters"])
        second = inspect_model(other_scorer, snapshot, other.model_id, **settings)
        report["comparison"] = {
            "model_id": other.model_id,
            "rows": compare(report, second),
            "edit_by_edit": second["edit_by_edit"],
            "edit_changes": compare_edits(report, second),
        }
    text = json.dumps(report, indent=2, default=str)
    if config.out:
        Path(config.out).write_text(text + "\n", encoding="utf-8")
    if config.json:
        print(text)
        return 0
    print(format_report(report))
    if config.compare:
        comparison = report["comparison"]
        print()
        if comparison["edit_by_edit"] is not None:
            print(f"{comparison['model_id']}, {format_edit_by_edit(comparison['edit_by_edit'])}")
        print(
            format_comparison(
                comparison["rows"],
                info.model_id,
                comparison["model_id"],
                comparison["edit_changes"],
            )
        )
    return 0
