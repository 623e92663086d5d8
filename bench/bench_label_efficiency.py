"""Label efficiency: majority-label accuracy per vote when each policy picks the next pair.

A simulated labeling loop (not a timing): ``labeling.simulate`` makes the pairs (with a
latent truth) and a pool of 16 raters (``rater_pool``: skill 75-92%, 30% of them with a
planted blind spot: position, length, a weak category, spam, ties). Every rater's vote on
every pair is drawn up front (``simulate_votes``, one rater at a time), and the loop reveals
a vote when the rater is given the pair, so all policies face the same raters and the same
votes. Four raters work at once: each claims a pair, the oldest claim is voted, that rater
or another one claims the next. A claim goes as the store's would:

- with probability ``GOLD_RATE`` a hidden gold pair (``is_gold``), least covered first,
  while the rater still has work (``labeling.assignment.Assigner``'s rule);
- else a work pair the rater has not seen, with fewer than ``OVERLAP_K`` votes done and
  open, by the policy's priority (``labeling.policies``), then least covered, then the
  rater's own shuffle. The policy is called on every claim, with open claims in
  ``n_open``.

The loop stops claiming at ``MAX_BUDGET`` votes per work pair (gold votes not counted).
The ``model`` policy reads simulated reward-model scores: ``reward_a - reward_b`` is
+-``mu`` (the truth's sign) plus normal noise of variance 2 mu, a margin that is exactly
calibrated as a Bradley-Terry log-odds and picks the better side with probability
``MODEL_ACCURACY`` (75%: mu = 0.91, sd 1.35). A second row gives it a worse and
over-confident model: 65% accurate, margins three times too large. Either model's errors
are independent of the raters' (a real checkpoint learns some of their blind spots, see
``reward.inherited``, which makes its disagreement with them less telling).

Measured over ``SEEDS`` worlds (each policy on the same world; intervals are 95% t
intervals over seeds):

- accuracy at a budget: over the work pairs, the share whose majority label
  (``aggregation.MajorityVote``) is the simulated truth; a pair with no majority (no
  votes, a shared top) counts one half, a coin flip; a tie label counts wrong;
- votes to match: the votes per work pair a policy needs to reach the accuracy that
  ``uniform`` reaches at ``MAX_BUDGET`` in the same world (read off a grid of
  ``GRID_STEP`` votes per pair, interpolated), and the saving ``1 - votes / MAX_BUDGET``
  (issue 12's goal: at least ``GOAL_SAVING``);
- planted raters found: ``blind_spots.find_blind_spots`` (its one correction,
  ``flag_findings``, at q < 0.05) flags the rater for the planted kind, at budgets 2 and 3;
  honest raters flagged for anything is the false-positive rate.

    .venv/bin/python -m bench.bench_label_efficiency [--quick] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy import stats

from bench.__main__ import table
from bench.bench_blind_spots import rate
from labeling.aggregation import MajorityVote
from labeling.blind_spots import find_blind_spots
from labeling.policies import POLICIES, Policy
from labeling.simulate import RaterProfile, latent_truth, rater_pool, simulate_pairs, simulate_votes

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

N_PAIRS = 1000
N_RATERS = 16
SEEDS = 5
OVERLAP_K = 5
GOLD_RATE = 0.1
CONCURRENT_RATERS = 4
MAX_BUDGET = 3.0
GRID_STEP = 0.05
#: Budgets (votes per work pair) the table shows accuracy at, and audits at.
SHOWN_BUDGETS = (1.0, 1.5, 2.0, 3.0)
AUDITED_BUDGETS = (2.0, 3.0)
MODEL_ACCURACY = 0.75
GOAL_SAVING = 0.30


@dataclass(frozen=True)
class ScoreModel:
    """Simulated reward-model margins: right with probability ``accuracy``, calibrated when
    ``overconfidence`` is 1 (margins that many times too large otherwise)."""

    accuracy: float
    overconfidence: float = 1.0

    def margins(self, truth_sign: FloatArray, rng: np.random.Generator) -> FloatArray:
        # margin | truth ~ N(±mu, 2 mu) makes the log-odds of the truth exactly the margin,
        # and P(right side) = Φ(mu / sqrt(2 mu)) = Φ(sqrt(mu / 2)).
        mu = 2.0 * float(stats.norm.ppf(self.accuracy)) ** 2
        noisy = truth_sign * mu + rng.normal(0.0, math.sqrt(2.0 * mu), truth_sign.size)
        return np.asarray(noisy * self.overconfidence, dtype=np.float64)


#: The rows of the table: (label, policy name, scores the policy reads).
ARMS: tuple[tuple[str, str, ScoreModel | None], ...] = (
    ("uniform", "uniform", None),
    ("disputed", "disputed", None),
    ("model (75%, calibrated)", "model", ScoreModel(MODEL_ACCURACY)),
    ("model (65%, margins x3)", "model", ScoreModel(0.65, overconfidence=3.0)),
)


@dataclass(frozen=True)
class World:
    """One seed's pairs, raters and every rater's vote on every pair (row ``rater * n +
    pair`` of ``votes``), and the truth of each pair (``+1`` a, ``-1`` b)."""

    pairs: pl.DataFrame
    raters: tuple[RaterProfile, ...]
    votes: pl.DataFrame
    truth: pl.DataFrame
    truth_sign: FloatArray
    is_gold: npt.NDArray[np.bool_]

    @property
    def n_work(self) -> int:
        return int((~self.is_gold).sum())


def simulate_world(seed: int, n_pairs: int, n_raters: int) -> World:
    pairs = simulate_pairs(n_pairs, seed=seed)
    raters = rater_pool(n_raters, seed=seed)
    index = pairs.select("pair_id").with_row_index("pair_index")
    # One rater at a time, so each pair gets every rater's vote (drawn as the rater would).
    per_rater = [
        simulate_votes(pairs, [rater], votes_per_pair=1, seed=seed * 1000 + k)
        .join(index, on="pair_id")
        .sort("pair_index")
        .drop("pair_index")
        for k, rater in enumerate(raters)
    ]
    truth = latent_truth(pairs).select("pair_id", "truth")
    return World(
        pairs=pairs,
        raters=raters,
        votes=pl.concat(per_rater),
        truth=truth,
        truth_sign=np.where(truth.get_column("truth").to_numpy() == "a", 1.0, -1.0),
        is_gold=pairs.get_column("is_gold").fill_null(False).to_numpy(),
    )


def label_loop(
    world: World,
    policy: Policy,
    scores: pl.DataFrame | None,
    *,
    seed: int,
    budget: float,
    overlap_k: int,
) -> IntArray:
    """Rows of ``world.votes`` in the order the loop collected them (gold votes included)."""
    rng = np.random.default_rng(seed)
    n_pairs, n_raters = world.pairs.height, len(world.raters)
    pair_ids = world.pairs.get_column("pair_id")
    is_gold = world.is_gold
    shuffle = np.argsort(rng.random((n_raters, n_pairs)), axis=1).argsort(axis=1)
    seen = np.zeros((n_raters, n_pairs), dtype=bool)
    n_done = np.zeros(n_pairs, dtype=np.int64)
    n_open = np.zeros(n_pairs, dtype=np.int64)
    collected: list[int] = []
    work_claims, work_budget = 0, round(budget * world.n_work)

    def work_pair(rater: int) -> int | None:
        open_to_rater = ~is_gold & ~seen[rater] & (n_done + n_open < overlap_k)
        candidates = np.flatnonzero(open_to_rater)
        if candidates.size == 0:
            return None
        coverage = pl.DataFrame(
            {"pair_id": pair_ids, "is_gold": is_gold, "n_done": n_done, "n_open": n_open}
        )
        # The policies read pair_id and choice only: gathering the other columns per claim
        # would slow the loop down, not change it.
        judgments = world.votes.select("pair_id", "choice")[collected]
        priority = policy(coverage, judgments, scores, pairs=world.pairs)
        values = priority.get_column("priority").to_numpy()
        order = np.lexsort(
            (
                shuffle[rater, candidates],
                (n_done + n_open)[candidates],
                -values[candidates],
            )
        )
        return int(candidates[order[0]])

    def gold_pair(rater: int) -> int | None:
        candidates = np.flatnonzero(is_gold & ~seen[rater])
        if candidates.size == 0:
            return None
        order = np.lexsort((shuffle[rater, candidates], (n_done + n_open)[candidates]))
        return int(candidates[order[0]])

    def claim(rater: int) -> int | None:
        nonlocal work_claims
        if work_claims >= work_budget:
            return None
        if rng.random() < GOLD_RATE and np.any(
            ~is_gold & ~seen[rater] & (n_done + n_open < overlap_k)
        ):
            pair = gold_pair(rater)
            if pair is not None:
                return pair
        pair = work_pair(rater)
        if pair is not None:
            work_claims += 1
        return pair

    open_claims: deque[tuple[int, int]] = deque()

    def refill() -> None:
        busy = {rater for rater, _ in open_claims}
        for rater in rng.permutation(n_raters):
            if int(rater) in busy:
                continue
            pair = claim(int(rater))
            if pair is not None:
                seen[rater, pair] = True
                n_open[pair] += 1
                open_claims.append((int(rater), pair))
                return

    for _ in range(CONCURRENT_RATERS):
        refill()
    while open_claims:
        rater, pair = open_claims.popleft()
        n_open[pair] -= 1
        n_done[pair] += 1
        collected.append(rater * n_pairs + pair)
        refill()
    return np.asarray(collected, dtype=np.int64)


def majority_accuracy(judgments: pl.DataFrame, truth: pl.DataFrame) -> float:
    """Share of ``truth``'s pairs whose majority label is the truth; no label counts 1/2."""
    labels = MajorityVote().fit(judgments).labels_.select("pair_id", "label")
    right = (
        pl.when(pl.col("label").is_null())
        .then(0.5)
        .otherwise((pl.col("label") == pl.col("truth")).cast(pl.Float64))
    )
    return float(truth.join(labels, on="pair_id", how="left").select(right.mean()).item())


def collected_by(world: World, order: IntArray, budget: float) -> pl.DataFrame:
    """The votes collected until ``budget`` work votes per work pair were in."""
    is_work = ~world.is_gold[order % world.pairs.height]
    within = np.cumsum(is_work) <= round(budget * world.n_work)
    return world.votes[order[within]]


def accuracy_curve(world: World, order: IntArray, grid: FloatArray) -> FloatArray:
    work_truth = world.truth.filter(pl.Series(~world.is_gold))
    return np.array(
        [majority_accuracy(collected_by(world, order, budget), work_truth) for budget in grid]
    )


def votes_to_reach(curve: FloatArray, grid: FloatArray, target: float) -> float:
    """The budget at which ``curve`` first reaches ``target`` (linear between grid points);
    NaN when it never does."""
    reached = np.flatnonzero(curve >= target)
    if reached.size == 0:
        return math.nan
    k = int(reached[0])
    if k == 0:
        return float(grid[0])
    low, high = curve[k - 1], curve[k]
    return float(grid[k - 1] + (grid[k] - grid[k - 1]) * (target - low) / (high - low))


def planted_kinds(rater: RaterProfile) -> tuple[str, ...]:
    """The finding kinds that name ``rater``'s planted blind spot; () for an honest rater."""
    if rater.spam:
        return ("accuracy", "speed")
    plants = {
        "position": rater.position_bias != 0.0,
        "length": rater.length_bias != 0.0,
        "style": rater.style_bias != 0.0,
        "category": rater.weak_category is not None,
        "principle": rater.weak_principle is not None,
        "ties": rater.tie_rate >= 0.3,
        "drift": rater.drift > 0.0,
    }
    return tuple(kind for kind, planted in plants.items() if planted)


def audit_outcome(world: World, judgments: pl.DataFrame) -> tuple[int, int, int, int]:
    """(planted raters flagged for their kind, planted raters, honest raters flagged for
    anything, honest raters)."""
    flagged = find_blind_spots(judgments, world.pairs).filter("flagged")
    found = honest_flagged = planted = honest = 0
    for rater in world.raters:
        kinds = planted_kinds(rater)
        own = flagged.filter(pl.col("rater_id") == rater.rater_id)
        if kinds:
            planted += 1
            found += own.filter(pl.col("kind").is_in(kinds)).height > 0
        else:
            honest += 1
            honest_flagged += own.height > 0
    return found, planted, honest_flagged, honest


def mean_interval(values: Sequence[float], percent: bool = True) -> str:
    """``mean [95% t interval]`` over seeds, or in how many seeds a value is missing (NaN:
    the target was not reached)."""
    array = np.asarray(values, dtype=np.float64)
    if np.isnan(array).any():
        reached = int((~np.isnan(array)).sum())
        return f"not reached in {len(array) - reached} of {len(array)} seeds"
    mean = float(array.mean())
    half = (
        float(stats.t.ppf(0.975, len(array) - 1) * array.std(ddof=1) / math.sqrt(len(array)))
        if len(array) > 1
        else math.nan
    )
    if percent:
        return f"{mean:.1%} [{mean - half:.1%}, {mean + half:.1%}]"
    return f"{mean:.2f} [{mean - half:.2f}, {mean + half:.2f}]"


def run(
    scale: float = 1.0, quick: bool = False, overlap_k: int = OVERLAP_K
) -> list[dict[str, Any]]:
    n_pairs = 400 if quick else max(200, round(N_PAIRS * scale))
    seeds = 2 if quick else max(SEEDS, round(SEEDS * scale))
    grid = np.round(np.arange(GRID_STEP, MAX_BUDGET + GRID_STEP / 2, GRID_STEP), 10)
    shown = [int(np.argmin(np.abs(grid - budget))) for budget in SHOWN_BUDGETS]
    curves: dict[str, list[FloatArray]] = {label: [] for label, _, _ in ARMS}
    audits: dict[tuple[str, float], list[tuple[int, int, int, int]]] = {}
    seconds: dict[str, float] = dict.fromkeys(curves, 0.0)
    for seed in range(seeds):
        world = simulate_world(seed, n_pairs, N_RATERS)
        for label, name, score_model in ARMS:
            scores = None
            if score_model is not None:
                # Its own stream: the same margins whatever the loops drew before.
                rng = np.random.default_rng([seed, 99])
                margin = score_model.margins(world.truth_sign, rng)
                scores = world.pairs.select(
                    "pair_id",
                    pl.Series("reward_a", margin / 2.0),
                    pl.Series("reward_b", -margin / 2.0),
                )
            started = time.perf_counter()
            order = label_loop(
                world, POLICIES[name], scores, seed=seed, budget=MAX_BUDGET, overlap_k=overlap_k
            )
            seconds[label] += time.perf_counter() - started
            curves[label].append(accuracy_curve(world, order, grid))
            for budget in AUDITED_BUDGETS:
                outcome = audit_outcome(world, collected_by(world, order, budget))
                audits.setdefault((label, budget), []).append(outcome)
        print(f"seed {seed} done", flush=True)

    targets = [curve[-1] for curve in curves["uniform"]]
    rows = []
    for label, _, _ in ARMS:
        needed = [
            votes_to_reach(curve, grid, target)
            for curve, target in zip(curves[label], targets, strict=True)
        ]
        saving = [1.0 - votes / MAX_BUDGET for votes in needed]
        row: dict[str, Any] = {"policy": label}
        for budget, k in zip(SHOWN_BUDGETS, shown, strict=True):
            row[f"accuracy at {budget:g} votes/pair"] = mean_interval(
                [curve[k] for curve in curves[label]]
            )
        row[f"votes/pair to reach uniform's accuracy at {MAX_BUDGET:g}"] = mean_interval(
            needed, percent=False
        )
        row["fewer votes than uniform"] = mean_interval(saving)
        row["goal"] = f">= {GOAL_SAVING:.0%} fewer"
        row["met"] = bool(not np.isnan(saving).any() and np.mean(saving) >= GOAL_SAVING)
        for budget in AUDITED_BUDGETS:
            outcomes = np.array(audits[(label, budget)]).sum(axis=0)
            row[f"planted raters found at {budget:g}"] = rate(int(outcomes[0]), int(outcomes[1]))
            row[f"honest raters flagged at {budget:g}"] = rate(int(outcomes[2]), int(outcomes[3]))
        row["loop seconds per seed"] = f"{seconds[label] / seeds:.1f}"
        row["data"] = f"{n_pairs} pairs, {N_RATERS} raters, k = {overlap_k}, {seeds} seeds"
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--quick", action="store_true", help="400 pairs, 2 seeds: a smoke run")
    parser.add_argument("--overlap", type=int, default=OVERLAP_K, help="overlap k")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = run(args.scale, quick=args.quick, overlap_k=args.overlap)
    print(table(rows))
    print(f"\n(whole benchmark: {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
