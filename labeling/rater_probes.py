"""Probe pairs: the raters tested for what the reward model is tested for (``reward.probes``).

A probe pair is made from a base pair whose intended answer is known: its ``gold`` (``a`` or
``b``), else a strong consensus of the human votes. The intended loser gets one surface edit
of ``labeling.edits`` (the very objects the model probes apply), the intended winner is left
as it is, and the sides are drawn at random. The edit adds no substance, so the intended
answer stands: a rater who now prefers the edited loser was swayed by the surface.

A probe pair is an ordinary ``frames.PAIRS`` row: ``probe_kind`` names the edit,
``probe_of`` the base pair, ``gold`` the intended side (``is_gold`` stays False: the gold
items are another test), ``source`` is ``"probe"`` and the ``pair_id`` a content hash as an
importer makes it, so making the probes again adds nothing.

>>> base = pl.DataFrame({"pair_id": ["p1"], "prompt": ["Capital of France?"],
...     "response_a": ["Paris."], "response_b": ["Lyon."], "gold": ["a"]})
>>> made = make_probe_pairs(base, frames.empty(frames.JUDGMENTS), ["length"])
>>> probe = made.pairs.row(0, named=True)
>>> probe["probe_kind"], probe["probe_of"], probe["source"]
('length', 'p1', 'probe')
>>> probe[f"response_{probe['gold']}"]  # the intended winner, unchanged
'Paris.'
>>> made.skipped.height
0
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from data import frames
from data.shapes import pair_id_for
from labeling.edits import EDITS, Edit, Skip, carry_prompt_edit

__all__ = [
    "INTENDED",
    "PROBE_KINDS",
    "PROBE_SOURCE",
    "RETEST",
    "SKIPPED",
    "ProbePairs",
    "intended_answers",
    "make_probe_pairs",
]

#: A probe kind that makes no pair: it is a serving feature. A pair a rater has judged is
#: served to the same rater again in round 1 with its sides swapped; a rater who reads the
#: responses answers the same (test-retest and position consistency, the raters' ``ab_swap``).
RETEST = "retest"
#: Every rater probe kind: one per surface edit (``labeling.edits.EDITS``), then ``RETEST``.
PROBE_KINDS: tuple[str, ...] = (*EDITS, RETEST)
#: The ``source`` of every probe pair.
PROBE_SOURCE = "probe"

#: ``ProbePairs.skipped``: per probe kind, why that many base pairs made no probe pair.
SKIPPED: dict[str, pl.DataType] = {"kind": pl.String(), "reason": pl.String(), "n": pl.Int64()}

#: ``intended_answers``: the intended side of each pair (``a``/``b``), whence it comes
#: (``gold`` or ``votes``), the human votes (one per rater) and the share of them for the
#: intended side, or else ``reason``, why there is none.
INTENDED: dict[str, pl.DataType] = {
    "pair_id": pl.String(),
    "intended": pl.String(),
    "intended_from": pl.String(),
    "votes": pl.Int64(),
    "agreement": pl.Float64(),
    "reason": pl.String(),
}


@dataclass(frozen=True)
class ProbePairs:
    """What ``make_probe_pairs`` made: ``pairs`` (``frames.PAIRS``, one row per base pair and
    kind) and ``skipped`` (``SKIPPED``)."""

    pairs: pl.DataFrame
    skipped: pl.DataFrame

    def summary(self, kinds: Sequence[str]) -> list[str]:
        """One line per kind asked for: how many were made, how many bases skipped and why."""
        made = dict(self.pairs.group_by("probe_kind").len().iter_rows())
        lines = []
        for kind in dict.fromkeys(kinds):
            if kind == RETEST:
                lines.append(
                    f"{kind}: served, not made (a judged pair again, sides swapped, round 1)"
                )
                continue
            reasons = self.skipped.filter(pl.col("kind") == kind)
            why = "; ".join(f"{reason}: {n}" for _, reason, n in reasons.iter_rows())
            skipped = int(reasons["n"].sum())
            lines.append(
                f"{kind}: {made.get(kind, 0)} made, {skipped} skipped"
                + (f" ({why})" if why else "")
            )
        return lines


def intended_answers(
    pairs: pl.DataFrame,
    judgments: pl.DataFrame,
    *,
    min_votes: int = 3,
    min_agreement: float = 0.8,
    raters: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The side each pair is meant to win (``INTENDED``, one row per pair, in order).

    ``gold`` decides where it is ``a`` or ``b`` (a ``tie`` gold means no side is meant to
    win). Otherwise the human votes do, counting each rater once (their first round): at
    least ``min_votes`` of them, and at least ``min_agreement`` for one side; ties and "both
    bad" count against it. With ``raters`` (``frames.RATERS``) only raters of kind ``human``
    count; a dataset's own labels (kind ``source``) are no consensus of people.

    >>> pairs = pl.DataFrame({"pair_id": ["p", "q"], "gold": [None, None]})
    >>> votes = pl.DataFrame({"pair_id": ["p"] * 4 + ["q"] * 4,
    ...     "rater_id": ["r1", "r2", "r3", "r4"] * 2,
    ...     "choice": ["b", "b", "b", "b", "a", "a", "a", "tie"]})
    >>> answers = intended_answers(pairs, votes, min_votes=3, min_agreement=0.8)
    >>> answers.select("pair_id", "intended", "agreement", "reason").rows()
    [('p', 'b', 1.0, None), ('q', None, None, 'no side has 80% of the votes')]
    """
    _check_thresholds(min_votes, min_agreement)
    pairs = frames.conform(pairs, frames.PAIRS)
    votes = frames.conform(judgments, frames.JUDGMENTS)
    if raters is not None:
        humans = raters.filter(pl.col("kind") == "human").get_column("rater_id")
        votes = votes.filter(pl.col("rater_id").is_in(humans.implode()))
    # A rater's repeat rounds measure their consistency; they add no weight to a consensus.
    counts = (
        votes.with_columns(pl.col("round").fill_null(0))
        .sort("round", maintain_order=True)
        .unique(["pair_id", "rater_id"], keep="first", maintain_order=True)
        .group_by("pair_id")
        .agg(
            pl.len().cast(pl.Int64).alias("votes"),
            (pl.col("choice") == "a").sum().cast(pl.Int64).alias("votes_a"),
            (pl.col("choice") == "b").sum().cast(pl.Int64).alias("votes_b"),
        )
    )
    gold = pl.col("gold")
    has_gold = gold.is_in(frames.SIDES).fill_null(False)
    n = pl.col("votes")
    strong = n >= min_votes
    # min_agreement > 1/2, so at most one side can reach it.
    share_a, share_b = pl.col("votes_a") / n, pl.col("votes_b") / n
    intended = (
        pl.when(has_gold)
        .then(gold)
        .when(gold.is_null() & strong & (share_a >= min_agreement))
        .then(pl.lit("a"))
        .when(gold.is_null() & strong & (share_b >= min_agreement))
        .then(pl.lit("b"))
    )
    reason = (
        pl.when(pl.col("intended").is_not_null())
        .then(pl.lit(None, pl.String))
        .when(gold.is_not_null())
        .then(pl.lit("its gold is a tie"))
        .when(~strong)
        .then(pl.lit(f"fewer than {min_votes} human votes"))
        .otherwise(pl.lit(f"no side has {min_agreement:.0%} of the votes"))
    )
    return (
        pairs.select("pair_id", "gold")
        .join(counts, on="pair_id", how="left", maintain_order="left")
        .with_columns(n.fill_null(0), pl.col("votes_a", "votes_b").fill_null(0))
        .with_columns(intended.alias("intended"))
        .with_columns(
            pl.when(has_gold)
            .then(pl.lit("gold"))
            .when(pl.col("intended").is_not_null())
            .then(pl.lit("votes"))
            .alias("intended_from"),
            pl.when(pl.col("intended").is_not_null() & (n > 0))
            .then(pl.when(pl.col("intended") == "a").then(share_a).otherwise(share_b))
            .alias("agreement"),
            reason.alias("reason"),
        )
        .select(pl.col(name).cast(dtype) for name, dtype in INTENDED.items())
    )


def make_probe_pairs(
    pairs: pl.DataFrame,
    judgments: pl.DataFrame,
    kinds: Sequence[str] = tuple(EDITS),
    *,
    min_votes: int = 3,
    min_agreement: float = 0.8,
    seed: int = 0,
    raters: pl.DataFrame | None = None,
) -> ProbePairs:
    """One probe pair per base pair and kind in ``kinds`` (``PROBE_KINDS``; ``RETEST`` makes
    none, it is served, not made).

    ``pairs`` follows ``frames.PAIRS`` (probe pairs among them are never bases),
    ``judgments`` ``frames.JUDGMENTS``; the intended answer is that of ``intended_answers``
    (same ``min_votes``, ``min_agreement``, ``raters``). Which side the intended winner is
    shown on is drawn from ``seed``, the base pair and the kind alone, so making probes again,
    from a set that has grown meanwhile, gives the same pairs and ids.

    Skipped, and counted in ``skipped``: a base without an intended answer (with the reason),
    a loser the edit cannot apply to (``labeling.edits.Skip``), an edit that would make the
    loser the same as the winner, and a probe that is another pair already (an ordinary pair
    of ``pairs``, or the probe of another base).
    """
    unknown = [kind for kind in kinds if kind not in PROBE_KINDS]
    if unknown:
        raise ValueError(
            f"unknown probe kind {unknown[0]!r}; the kinds are {', '.join(PROBE_KINDS)}"
        )
    edits = [EDITS[kind] for kind in dict.fromkeys(kinds) if kind != RETEST]
    pairs = frames.conform(pairs, frames.PAIRS)
    bases = pairs.filter(pl.col("probe_kind").is_null())
    answers = intended_answers(
        bases, judgments, min_votes=min_votes, min_agreement=min_agreement, raters=raters
    )
    skipped: Counter[tuple[str, str]] = Counter()
    for reason, n in answers.group_by("reason").len().drop_nulls("reason").iter_rows():
        for edit in edits:
            skipped[(edit.name, reason)] += n
    known = bases.join(
        answers.filter(pl.col("intended").is_not_null()), on="pair_id", maintain_order="left"
    )
    ordinary = set(bases.get_column("pair_id").to_list())
    made: dict[str, dict[str, Any]] = {}
    for base in known.iter_rows(named=True):
        for edit in edits:
            probe = _probe_pair(base, edit, seed)
            if isinstance(probe, Skip):
                skipped[(edit.name, probe.reason)] += 1
            elif probe["pair_id"] in ordinary:
                skipped[(edit.name, "the probe is a pair of the set already")] += 1
            elif probe["pair_id"] in made:
                skipped[(edit.name, "the probe is another pair's probe already")] += 1
            else:
                made[probe["pair_id"]] = probe
    order = {edit.name: i for i, edit in enumerate(edits)}
    skipped_rows = sorted(
        skipped.items(), key=lambda item: (order[item[0][0]], -item[1], item[0][1])
    )
    return ProbePairs(
        pairs=pl.DataFrame(list(made.values()), schema=frames.PAIRS),
        skipped=pl.DataFrame(
            [(kind, reason, n) for (kind, reason), n in skipped_rows],
            schema=SKIPPED,
            orient="row",
        ),
    )


def _probe_pair(base: dict[str, Any], edit: Edit, seed: int) -> dict[str, Any] | Skip:
    """The probe pair of ``base`` (a ``frames.PAIRS`` row with ``intended``) for ``edit``."""
    winner_side = base["intended"]
    loser_side = "b" if winner_side == "a" else "a"
    winner = base[f"response_{winner_side}"]
    outcome = edit(base["prompt"], base[f"response_{loser_side}"])
    if isinstance(outcome, Skip):
        return outcome
    if outcome.response == winner:
        return Skip("the edited loser is the winner")
    messages = carry_prompt_edit(base["prompt_messages"], outcome.prompt, base["prompt"])
    # A generator seeded with a string is the same on every run and every machine.
    draw = random.Random(f"{seed}\x1f{base['pair_id']}\x1f{edit.name}").random()
    shown = (
        {"a": winner_side, "b": loser_side} if draw < 0.5 else {"a": loser_side, "b": winner_side}
    )
    texts = {winner_side: winner, loser_side: outcome.response}
    response_a, response_b = texts[shown["a"]], texts[shown["b"]]
    evidence: dict[str, Any] = {"intended_from": base["intended_from"]}
    if base["intended_from"] == "votes":
        evidence |= {"votes": base["votes"], "agreement": base["agreement"]}
    return {
        "pair_id": pair_id_for(outcome.prompt, response_a, response_b, messages),
        "project_id": base["project_id"],
        "prompt": outcome.prompt,
        "prompt_messages": messages,
        "response_a": response_a,
        "response_b": response_b,
        "category": base["category"],
        "model_a": base[f"model_{shown['a']}"],
        "model_b": base[f"model_{shown['b']}"],
        "gold": "a" if shown["a"] == winner_side else "b",
        "gold_principle": None,
        "is_gold": False,
        "source": PROBE_SOURCE,
        "metadata": json.dumps(evidence, sort_keys=True),
        "probe_kind": edit.name,
        "probe_of": base["pair_id"],
    }


def _check_thresholds(min_votes: int, min_agreement: float) -> None:
    if isinstance(min_votes, bool) or not isinstance(min_votes, int) or min_votes < 1:
        raise ValueError(f"min_votes must be a whole number of at least 1, not {min_votes!r}")
    # At a half or below, both sides of a split could reach it: that is no consensus.
    if not 0.5 < min_agreement <= 1.0:
        raise ValueError(f"min_agreement must lie in (0.5, 1], not {min_agreement!r}")
