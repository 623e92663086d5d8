"""The rater and the model, edit by edit: for every surface edit of ``labeling.edits``, the
raters' pooled susceptibility beside the reward model's probe result on the same base pairs,
and a verdict.

**Raters** (``raters_side``): the ``POOL`` row of ``labeling.susceptibility`` for the edit
(the share of the raters' decisive votes on its probe pairs that picked the edited side, with
its Clopper-Pearson interval, and ``base_rate``, how often they pick that response unedited),
and whether the pool's probe finding is flagged after the audit's one Benjamini-Hochberg
correction (``blind_spots.find_blind_spots``: every check, every rater). The raters whose own
probe finding of that edit is flagged are named.

**Model** (``model_side``), on the bases (``probe_of``) of the probe pairs the raters voted
on, with the same edit:

- ``reward.probes``' probe of that name (``PROBES``: the same edit objects): the mean reward
  change of the model's own loser, with its 95% interval, the flip rate (Clopper-Pearson
  interval added here) and ``flagged``. The model counts as *moved* when the probe flags
  it, as the inspection's probe table does.
- the model as a voter on the raters' very probe pairs: its probability for the edited side,
  ``sigmoid(reward_edited - reward_intended_winner)`` (``reward.metrics``' reading of a reward
  gap as a vote share), and on the base pair the same for the response unedited.

**One scale: the pull.** ``pull = (rate - base) / (1 - base)``: of the choices that went
against the response unedited, the share the edit turned toward it (0: no effect, 1: the
edited response always wins). For the raters ``rate`` is their share of votes for the edited
side and ``base`` their ``base_rate`` (its interval is the Clopper-Pearson interval of the
share through the same map, the base held fixed, as in ``susceptibility.probe_findings``);
a simulated rater swayed with chance p (``RaterProfile.probe_bias``) has pull p. For the
model ``rate`` and ``base`` are its mean probabilities on the probe pairs and on their bases
(percentile bootstrap interval over the probe pairs). A reward model is trained to predict
the vote share, so one that learned the raters' pull faithfully shows the same pull. Its flip
rate is not compared with the raters' votes: the argmax of a reward turns any consistent pull
into a rule (trained on votes 90% swayed, it flips every preference), which would call every
faithful copy "amplified".

Verdicts (``VERDICTS``): *inherited* (raters and model both moved), *amplified* (both moved
and the model's pull above the raters' beyond both intervals: its lower bound over their
upper), *learned elsewhere* (the raters resist, the model does not), *resisted* (the raters
are moved, the model is not), *none* (neither), *not measured* (fewer than
``blind_spots.MIN_SLICE`` decisive pool votes, or fewer than two bases the model could be
probed on).

A snapshot names its probe pairs in ``probes.parquet`` and, by default, leaves their texts
out of ``pairs.parquet``: ``mark_probes`` marks them among the pairs and rebuilds their texts
from their bases (the edits are deterministic; the content id confirms them).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy import stats

from data import frames
from data.shapes import pair_id_for
from labeling.blind_spots import MIN_SLICE, audit_votes, find_blind_spots
from labeling.edits import EDITS, Edited, carry_prompt_edit
from labeling.rater_probes import PROBE_SOURCE
from labeling.susceptibility import POOL, susceptibility
from reward.probes import PROBES, ProbeResult, run_probes
from reward.score import Scorer, score_pairs

__all__ = [
    "EDIT_BY_EDIT",
    "MODEL_SIDE",
    "RATERS_SIDE",
    "VERDICTS",
    "VERDICT_CHANGES",
    "edit_by_edit",
    "mark_probes",
    "model_side",
    "pull",
    "raters_side",
    "verdict",
    "verdict_changes",
    "voted_probes",
]

FloatArray = npt.NDArray[np.float64]

#: Each verdict and what it says.
VERDICTS: dict[str, str] = {
    "inherited": "the raters and the model are both moved by the edit",
    "amplified": "both are moved, the model more than the raters beyond both intervals",
    "learned elsewhere": "the raters resist the edit, the model does not",
    "resisted": "the raters are moved by the edit, the model is not",
    "none": "neither the raters nor the model is moved",
    "not measured": "too few probe votes, or too few base pairs to probe the model on",
}

#: ``raters_side``: per probe kind, the ``POOL`` susceptibility (``raters_n`` decisive votes,
#: ``raters_rate`` for the edited side with its interval, ``raters_base_rate``), its pull with
#: the interval, the pool finding's ``raters_q`` and ``raters_moved`` (flagged), and the
#: ``flagged_raters`` of that kind.
RATERS_SIDE: dict[str, pl.DataType] = {
    "probe_kind": pl.String(),
    "raters_n": pl.Int64(),
    "raters_rate": pl.Float64(),
    "raters_rate_low": pl.Float64(),
    "raters_rate_high": pl.Float64(),
    "raters_base_rate": pl.Float64(),
    "raters_pull": pl.Float64(),
    "raters_pull_low": pl.Float64(),
    "raters_pull_high": pl.Float64(),
    "raters_q": pl.Float64(),
    "raters_moved": pl.Boolean(),
    "flagged_raters": pl.List(pl.String()),
}

#: ``model_side``: per probe kind, ``n_bases`` (bases of the voted probe pairs), the model's
#: mean probability for the edited side on ``model_pairs`` probe pairs (``model_rate``) and
#: for that response unedited on their bases (``model_base_rate``), its pull with a bootstrap
#: interval, and the probe result on the bases: ``model_n`` pairs the edit applied to,
#: ``model_delta`` (mean reward change of the loser) with its interval, ``model_flip_rate``
#: with a Clopper-Pearson interval, ``model_moved`` (the probe flags the model).
MODEL_SIDE: dict[str, pl.DataType] = {
    "probe_kind": pl.String(),
    "n_bases": pl.Int64(),
    "model_pairs": pl.Int64(),
    "model_rate": pl.Float64(),
    "model_base_rate": pl.Float64(),
    "model_pull": pl.Float64(),
    "model_pull_low": pl.Float64(),
    "model_pull_high": pl.Float64(),
    "model_n": pl.Int64(),
    "model_delta": pl.Float64(),
    "model_delta_low": pl.Float64(),
    "model_delta_high": pl.Float64(),
    "model_flip_rate": pl.Float64(),
    "model_flip_low": pl.Float64(),
    "model_flip_high": pl.Float64(),
    "model_moved": pl.Boolean(),
}

#: ``edit_by_edit``: one row per probe kind (in ``labeling.edits.EDITS`` order) with a probe
#: pair among the pairs: ``verdict`` (a key of ``VERDICTS``), both sides and a ``message``.
EDIT_BY_EDIT: dict[str, pl.DataType] = {
    "probe_kind": pl.String(),
    "verdict": pl.String(),
    **{name: dtype for name, dtype in RATERS_SIDE.items() if name != "probe_kind"},
    **{name: dtype for name, dtype in MODEL_SIDE.items() if name != "probe_kind"},
    "message": pl.String(),
}

#: ``verdict_changes``: per probe kind, both models' verdicts, pulls and flip rates, and the
#: ``change``: ``closed`` (the first model is moved, the second not), ``opened`` (the other
#: way), ``unchanged`` or ``not measured``.
VERDICT_CHANGES: dict[str, pl.DataType] = {
    "probe_kind": pl.String(),
    "first": pl.String(),
    "second": pl.String(),
    "change": pl.String(),
    "raters_pull": pl.Float64(),
    "first_pull": pl.Float64(),
    "second_pull": pl.Float64(),
    "first_flip_rate": pl.Float64(),
    "second_flip_rate": pl.Float64(),
    "flagged_raters": pl.List(pl.String()),
    "message": pl.String(),
}

_PROBES = {probe.name: probe for probe in PROBES}
_KIND_ORDER = {name: i for i, name in enumerate(EDITS)}
_SIDES = list(frames.SIDES)


def pull(rate: npt.ArrayLike, base: npt.ArrayLike) -> FloatArray:
    """``(rate - base) / (1 - base)``: the share of the choices against a response that an
    edit turned toward it (NaN where ``base`` is 1: nothing was left to turn).

    >>> pull([0.91, 0.15], [0.1, 0.15]).round(2).tolist()
    [0.9, 0.0]
    """
    rate, base = np.asarray(rate, dtype=np.float64), np.asarray(base, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(base < 1.0, (rate - base) / (1.0 - base), np.nan)


# -- the probe pairs of a snapshot ------------------------------------------------------------


def mark_probes(pairs: pl.DataFrame, probes: pl.DataFrame) -> pl.DataFrame:
    """``frames.PAIRS`` with the probe pairs of ``probes`` (``data.export.PROBES``: a
    snapshot's ``probes.parquet``) marked: ``probe_kind``, ``probe_of`` and ``gold`` set.

    A snapshot exported without its probe pairs (the default) has their votes and their
    bases but not their texts: each is rebuilt from its base, as
    ``labeling.rater_probes.make_probe_pairs`` made it (the edit of ``probe_kind`` on the
    base's intended loser, the winner left as it is on the ``gold`` side), and kept where its
    content id (``data.shapes.pair_id_for``) is the probe's ``pair_id``, which confirms every
    text. A probe that cannot be confirmed (its base is not among ``pairs``, or its id is not
    a content id) is added without texts: its votes still count for the raters.
    """
    pairs = frames.conform(pairs, frames.PAIRS)
    if probes.is_empty():
        return pairs
    marks = probes.select("pair_id", "probe_kind", "probe_of", "gold")
    named = marks.rename({"probe_kind": "_kind", "probe_of": "_of", "gold": "_gold"})
    is_probe = pl.col("_kind").is_not_null()
    marked = (
        pairs.join(named, on="pair_id", how="left", maintain_order="left")
        .with_columns(
            pl.when(is_probe).then(pl.col(f"_{name}")).otherwise(pl.col(column)).alias(column)
            for name, column in (("kind", "probe_kind"), ("of", "probe_of"), ("gold", "gold"))
        )
        .select(list(frames.PAIRS))
    )
    present = pairs.join(marks.select("pair_id"), on="pair_id", how="semi")
    missing = marks.join(present, on="pair_id", how="anti")
    wanted = pairs.filter(pl.col("pair_id").is_in(missing.get_column("probe_of").implode()))
    bases = {row["pair_id"]: row for row in wanted.iter_rows(named=True)}
    rebuilt = [_rebuild(probe, bases.get(probe["probe_of"])) for probe in missing.to_dicts()]
    added = pl.DataFrame(rebuilt, schema=frames.PAIRS) if rebuilt else frames.empty(frames.PAIRS)
    return pl.concat([marked, added])


def _rebuild(probe: dict[str, Any], base: dict[str, Any] | None) -> dict[str, Any]:
    """The ``frames.PAIRS`` row of a probe pair from its base, or its marks alone."""
    bare = {
        "pair_id": probe["pair_id"],
        "probe_kind": probe["probe_kind"],
        "probe_of": probe["probe_of"],
        "gold": probe["gold"],
        "is_gold": False,
        "source": PROBE_SOURCE,
    }
    edit = EDITS.get(probe["probe_kind"])
    if base is None or edit is None or probe["gold"] not in _SIDES:
        return bare
    gold = probe["gold"]
    for winner_side in _SIDES:
        outcome = edit(base["prompt"], base[f"response_{_other(winner_side)}"])
        if not isinstance(outcome, Edited):
            continue
        messages = carry_prompt_edit(base["prompt_messages"], outcome.prompt, base["prompt"])
        shown = {gold: winner_side, _other(gold): _other(winner_side)}
        texts = {gold: base[f"response_{winner_side}"], _other(gold): outcome.response}
        if pair_id_for(outcome.prompt, texts["a"], texts["b"], messages) == probe["pair_id"]:
            return {
                **bare,
                "project_id": base["project_id"],
                "prompt": outcome.prompt,
                "prompt_messages": messages,
                "response_a": texts["a"],
                "response_b": texts["b"],
                "category": base["category"],
                "model_a": base[f"model_{shown['a']}"],
                "model_b": base[f"model_{shown['b']}"],
            }
    return bare


def voted_probes(judgments: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """The probe pairs the raters' susceptibility counts (a decisive first vote, ``gold`` a
    or b) whose base is among ``pairs``: ``pair_id, probe_kind, probe_of``, kinds in
    ``EDITS`` order."""
    present = pairs.get_column("pair_id").implode()
    return (
        audit_votes(judgments, pairs)
        .filter(
            pl.col("probe_kind").is_not_null()
            & pl.col("choice").is_in(_SIDES)
            & pl.col("gold").is_in(_SIDES)
            & pl.col("probe_of").is_in(present)
        )
        .select("pair_id", "probe_kind", "probe_of")
        .unique("pair_id")
        .sort(pl.col("probe_kind").replace_strict(_KIND_ORDER, default=len(EDITS)), "pair_id")
    )


def _with_bases_present(
    pairs: pl.DataFrame, judgments: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Both frames without the probe pairs (and their votes) whose base is not among the
    pairs: the model could not be probed on those, so neither side counts them."""
    pairs = frames.conform(pairs, frames.PAIRS)
    ids = pairs.get_column("pair_id").implode()
    orphan = pl.col("probe_kind").is_not_null() & ~pl.col("probe_of").is_in(ids)
    orphans = pairs.filter(orphan).get_column("pair_id")
    if orphans.is_empty():
        return pairs, judgments
    return pairs.filter(~orphan), judgments.filter(~pl.col("pair_id").is_in(orphans.implode()))


# -- the two sides -----------------------------------------------------------------------------


def raters_side(
    pairs: pl.DataFrame,
    judgments: pl.DataFrame,
    findings: pl.DataFrame | None = None,
    *,
    alpha: float = 0.05,
) -> pl.DataFrame:
    """``RATERS_SIDE``: the raters' pooled susceptibility per probe kind.

    Consumes ``frames.PAIRS`` (probe pairs with ``probe_kind``, ``probe_of``), ``frames.
    JUDGMENTS`` and optionally the audit's findings (``blind_spots.FINDINGS``, corrected
    together; default: ``find_blind_spots`` of these votes at ``alpha``).
    """
    pool = susceptibility(judgments, pairs).filter(pl.col("rater_id") == POOL)
    if findings is None:
        findings = find_blind_spots(judgments, pairs, alpha=alpha)
    probe = findings.filter(pl.col("kind") == "probe").rename({"slice": "probe_kind"})
    tested = probe.filter(pl.col("rater_id") == POOL).select(
        "probe_kind", pl.col("q_value").alias("raters_q"), pl.col("flagged").alias("raters_moved")
    )
    named = (
        probe.filter(pl.col("flagged") & (pl.col("rater_id") != POOL) & (pl.col("effect") > 0))
        .group_by("probe_kind")
        .agg(pl.col("rater_id").sort().alias("flagged_raters"))
    )
    base = pool.get_column("base_rate").to_numpy()
    rate, low, high = (pool.get_column(name).to_numpy() for name in ("rate", "ci_low", "ci_high"))
    return (
        pool.select(
            "probe_kind",
            pl.col("n").alias("raters_n"),
            pl.col("rate").alias("raters_rate"),
            pl.col("ci_low").alias("raters_rate_low"),
            pl.col("ci_high").alias("raters_rate_high"),
            pl.col("base_rate").alias("raters_base_rate"),
            pl.Series("raters_pull", pull(rate, base)),
            pl.Series("raters_pull_low", pull(low, base)),
            pl.Series("raters_pull_high", pull(high, base)),
        )
        .join(tested, on="probe_kind", how="left")
        .join(named, on="probe_kind", how="left")
        .with_columns(
            pl.col("raters_moved").fill_null(False),
            pl.col("flagged_raters").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        )
        .select(pl.col(name).cast(dtype) for name, dtype in RATERS_SIDE.items())
    )


def model_side(
    scorer: Scorer,
    pairs: pl.DataFrame,
    judgments: pl.DataFrame,
    *,
    flip_threshold: float = 0.1,
    n_boot: int = 2000,
    seed: int = 0,
) -> pl.DataFrame:
    """``MODEL_SIDE``: the reward model on the bases of the probe pairs the raters voted on
    (``voted_probes``), per probe kind.

    ``reward.probes.run_probes`` runs the probe of the kind's name on its bases (kinds with
    the same bases in one run); ``score_pairs`` scores the probe pairs and their bases for the
    model's probabilities. The pull's interval is a percentile bootstrap (``n_boot`` draws of
    the probe pairs from ``seed``).
    """
    probes = voted_probes(judgments, pairs)
    if probes.is_empty():
        return frames.empty(MODEL_SIDE)
    bases_of = {
        str(kind): sorted(set(group.get_column("probe_of").to_list()))
        for (kind,), group in probes.group_by("probe_kind", maintain_order=True)
    }
    results = _probe_results(scorer, pairs, bases_of, flip_threshold)
    needed = pl.concat([probes.get_column("pair_id"), probes.get_column("probe_of")]).unique()
    scored = pairs.filter(pl.col("pair_id").is_in(needed.implode()))
    rewards = {
        row["pair_id"]: (row["reward_a"], row["reward_b"])
        for row in score_pairs(scorer, scored, "model").iter_rows(named=True)
    }
    texts = {row["pair_id"]: row for row in scored.iter_rows(named=True)}
    rng = np.random.default_rng(seed)
    rows = []
    for kind, bases in bases_of.items():
        ids = probes.filter(pl.col("probe_kind") == kind).select("pair_id", "probe_of").rows()
        edited, unedited = _probabilities(ids, texts, rewards)
        result = results[kind]
        flips = round(result.flip_rate * result.n) if result.n else 0
        flip_low, flip_high = _clopper_pearson(flips, result.n)
        rate, base = float(np.mean(edited)), float(np.mean(unedited))
        low, high = _bootstrap_pull(edited, unedited, n_boot, rng)
        rows.append(
            {
                "probe_kind": kind,
                "n_bases": len(bases),
                "model_pairs": len(edited),
                "model_rate": rate,
                "model_base_rate": base,
                "model_pull": float(pull(rate, base)),
                "model_pull_low": low,
                "model_pull_high": high,
                "model_n": result.n,
                "model_delta": result.mean_delta,
                "model_delta_low": result.ci_low,
                "model_delta_high": result.ci_high,
                "model_flip_rate": result.flip_rate,
                "model_flip_low": flip_low,
                "model_flip_high": flip_high,
                "model_moved": result.flagged,
            }
        )
    return pl.DataFrame(rows, schema=MODEL_SIDE)


def _probe_results(
    scorer: Scorer, pairs: pl.DataFrame, bases_of: dict[str, list[str]], flip_threshold: float
) -> dict[str, ProbeResult]:
    """``run_probes`` per set of bases: kinds made from the same bases share one run."""
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for kind, bases in bases_of.items():
        groups[tuple(bases)].append(kind)
    results: dict[str, ProbeResult] = {}
    for shared, kinds in groups.items():
        chosen = pairs.filter(pl.col("pair_id").is_in(list(shared))).sort("pair_id")
        found = run_probes(
            scorer, chosen, [_PROBES[kind] for kind in kinds], flip_threshold=flip_threshold
        )
        results |= {result.name: result for result in found if result.name in kinds}
    return results


def _probabilities(
    ids: Sequence[tuple[str, str]],
    texts: dict[str, dict[str, Any]],
    rewards: dict[str, tuple[float, float]],
) -> tuple[FloatArray, FloatArray]:
    """Per probe pair (``pair_id, probe_of``): the model's probability for its edited side,
    and on its base for the same response unedited (the base's side that is not the intended
    winner, found by its text)."""
    edited, unedited = [], []
    for probe_id, base_id in ids:
        probe, base = texts[probe_id], texts[base_id]
        winner = probe[f"response_{probe['gold']}"]
        base_winner = [side for side in _SIDES if base[f"response_{side}"] == winner]
        if len(base_winner) != 1:
            continue  # the base's sides are the same text, or the winner is not among them
        reward = dict(zip(_SIDES, rewards[probe_id], strict=True))
        base_reward = dict(zip(_SIDES, rewards[base_id], strict=True))
        loser_side, base_loser = _other(probe["gold"]), _other(base_winner[0])
        edited.append(_sigmoid(reward[loser_side] - reward[probe["gold"]]))
        unedited.append(_sigmoid(base_reward[base_loser] - base_reward[base_winner[0]]))
    return np.array(edited, dtype=np.float64), np.array(unedited, dtype=np.float64)


def _other(side: str) -> str:
    return "b" if side == "a" else "a"


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _bootstrap_pull(
    edited: FloatArray, unedited: FloatArray, n_boot: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile 95% interval of the pull, redrawing the probe pairs (NaN under two)."""
    n = edited.size
    if n < 2 or n_boot < 1:
        return math.nan, math.nan
    draws = rng.integers(0, n, size=(n_boot, n))
    pulls = pull(edited[draws].mean(axis=1), unedited[draws].mean(axis=1))
    if np.isnan(pulls).all():
        return math.nan, math.nan
    low, high = np.nanpercentile(pulls, [2.5, 97.5])
    return float(low), float(high)


def _clopper_pearson(k: int, n: int) -> tuple[float, float]:
    if n < 1:
        return math.nan, math.nan
    interval = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
    return float(interval.low), float(interval.high)


# -- verdicts ----------------------------------------------------------------------------------


def verdict(
    *,
    raters_moved: bool,
    model_moved: bool,
    raters_pull_high: float | None,
    model_pull_low: float | None,
    measured: bool = True,
) -> str:
    """The key of ``VERDICTS`` for one edit.

    >>> verdict(raters_moved=True, model_moved=True, raters_pull_high=0.6, model_pull_low=0.8)
    'amplified'
    >>> verdict(raters_moved=False, model_moved=True, raters_pull_high=0.1, model_pull_low=0.3)
    'learned elsewhere'
    """
    if not measured:
        return "not measured"
    if raters_moved and model_moved:
        beyond = (
            model_pull_low is not None
            and raters_pull_high is not None
            and model_pull_low > raters_pull_high
        )
        return "amplified" if beyond else "inherited"
    if model_moved:
        return "learned elsewhere"
    return "resisted" if raters_moved else "none"


def edit_by_edit(
    pairs: pl.DataFrame,
    judgments: pl.DataFrame,
    scorer: Scorer,
    findings: pl.DataFrame | None = None,
    *,
    alpha: float = 0.05,
    flip_threshold: float = 0.1,
    n_boot: int = 2000,
    seed: int = 0,
) -> pl.DataFrame:
    """``EDIT_BY_EDIT``: per probe kind among ``pairs``, the raters (``raters_side``) beside
    the model (``model_side``) and the verdict.

    ``pairs`` follows ``frames.PAIRS`` with the probe pairs marked (``mark_probes`` marks a
    snapshot's) and their bases; probe pairs whose base is missing are left out of both
    sides. ``findings`` are the audit's over these votes (default: ``find_blind_spots``).
    """
    pairs, judgments = _with_bases_present(pairs, judgments)
    kinds = [kind for kind in EDITS if kind in set(pairs.get_column("probe_kind").drop_nulls())]
    if not kinds:
        return frames.empty(EDIT_BY_EDIT)
    raters = raters_side(pairs, judgments, findings, alpha=alpha)
    model = model_side(
        scorer, pairs, judgments, flip_threshold=flip_threshold, n_boot=n_boot, seed=seed
    )
    table = (
        pl.DataFrame({"probe_kind": kinds}, schema={"probe_kind": pl.String()})
        .join(raters, on="probe_kind", how="left", maintain_order="left")
        .join(model, on="probe_kind", how="left", maintain_order="left")
        .with_columns(
            pl.col("raters_n", "n_bases", "model_pairs", "model_n").fill_null(0),
            pl.col("raters_moved", "model_moved").fill_null(False),
            pl.col("flagged_raters").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        )
    )
    rows = []
    for row in table.iter_rows(named=True):
        measured = row["raters_n"] >= MIN_SLICE and row["model_n"] >= 2
        found = verdict(
            raters_moved=row["raters_moved"],
            model_moved=row["model_moved"],
            raters_pull_high=row["raters_pull_high"],
            model_pull_low=row["model_pull_low"],
            measured=measured,
        )
        rows.append({**row, "verdict": found, "message": _message({**row, "verdict": found})})
    return pl.DataFrame(rows).select(
        pl.col(name).cast(dtype) for name, dtype in EDIT_BY_EDIT.items()
    )


def _share(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{round(100 * value)}%"  # round() first: no "-0%"


def _interval(low: float | None, high: float | None) -> str:
    return f"[{_share(low)}, {_share(high)}]"


def _message(row: dict[str, Any]) -> str:
    kind, found = row["probe_kind"], row["verdict"]
    if found == "not measured":
        return (
            f"{kind}: not measured ({row['raters_n']} decisive rater votes on its probe pairs, "
            f"{MIN_SLICE} needed; the model probed on {row['model_n']} base pairs, 2 needed)."
        )
    raters = (
        f"the raters' pull {_share(row['raters_pull'])} "
        f"{_interval(row['raters_pull_low'], row['raters_pull_high'])} "
        f"({_share(row['raters_rate'])} of {row['raters_n']} votes for the edited side, "
        f"{_share(row['raters_base_rate'])} expected without the edit)"
    )
    model = (
        f"the model's {_share(row['model_pull'])} "
        f"{_interval(row['model_pull_low'], row['model_pull_high'])} "
        f"(it flips {_share(row['model_flip_rate'])} of its preferences on "
        f"{row['model_n']} base pairs)"
    )
    text = f"{kind}: {found}, {VERDICTS[found]}: {raters}; {model}."
    named = list(row["flagged_raters"] or [])
    if named:
        verb = "share" if row["model_moved"] else "carry"
        text += f" Flagged raters who {verb} it: {', '.join(named)}."
    return text


def verdict_changes(first: pl.DataFrame, second: pl.DataFrame) -> pl.DataFrame:
    """``VERDICT_CHANGES``: two models' ``edit_by_edit`` tables on the same pairs and votes,
    kind by kind (the first's kinds, in order): did the second, say trained without the
    flagged raters, close what the first picked up?"""
    other = {row["probe_kind"]: row for row in second.iter_rows(named=True)}
    rows = []
    for row in first.iter_rows(named=True):
        kind = row["probe_kind"]
        then = other.get(kind)
        after = then["verdict"] if then else "not measured"
        if "not measured" in (row["verdict"], after):
            change = "not measured"
        elif row["model_moved"] and not then["model_moved"]:  # type: ignore[index]
            change = "closed"
        elif then["model_moved"] and not row["model_moved"]:  # type: ignore[index]
            change = "opened"
        else:
            change = "unchanged"
        rows.append(
            {
                "probe_kind": kind,
                "first": row["verdict"],
                "second": after,
                "change": change,
                "raters_pull": row["raters_pull"],
                "first_pull": row["model_pull"],
                "second_pull": then["model_pull"] if then else None,
                "first_flip_rate": row["model_flip_rate"],
                "second_flip_rate": then["model_flip_rate"] if then else None,
                "flagged_raters": row["flagged_raters"],
                "message": f"{kind}: {row['verdict']} -> {after} ({change}).",
            }
        )
    return pl.DataFrame(rows, schema=VERDICT_CHANGES)
