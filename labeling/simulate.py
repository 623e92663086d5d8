"""A seeded simulator of pairs and of a rater pool with planted blind spots.

For tests, benchmarks and the demo: ``simulate_pairs`` writes pairs whose two responses come
from models of known strength, verbosity and Markdown habit, with a latent true preference per
pair; ``simulate_votes`` lets a pool of ``RaterProfile`` raters vote on them. Every blind spot
the audit looks for can be planted in a profile (position, length, style, ties, speed, a weak
category or principle, drift, a pull toward surface edits on probe pairs, inconsistency on
retests), so the audit can be checked against the truth.

How a rater votes: with probability ``tie_rate`` a tie; otherwise response a with probability
σ(±logit(skill) + position_bias·(+1 if a is shown left, else -1) + length_bias·length +
style_bias·markdown), the sign being + when a is truly better, and ``length``/``markdown`` the
covariates of ``aggregation.response_features``. So an unbiased rater agrees with the truth
with probability ``skill``. On a probe pair (``labeling.rater_probes``) the truth is its
intended side (``gold``), and a rater swayed by its edit (``probe_bias``) picks the edited side
instead. A retest (round 1, sides swapped) repeats the first answer, or is a coin flip with
probability ``inconsistency``. Everything is vectorised: a million votes take a few seconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from data import frames
from labeling.aggregation import response_features
from labeling.rater_probes import make_probe_pairs

__all__ = [
    "DEFAULT_CATEGORIES",
    "DEFAULT_MODELS",
    "DEFAULT_PRINCIPLES",
    "DETECTION_SCENARIOS",
    "PLANTED_RATER",
    "STUDY_PROBE_SHARE",
    "STUDY_RETEST_SHARE",
    "ModelProfile",
    "RaterProfile",
    "detection_study",
    "latent_truth",
    "rater_pool",
    "simulate_pairs",
    "simulate_votes",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ModelProfile:
    """A source model: ``strength`` (latent quality, in log-odds), ``verbosity`` (length
    multiplier) and ``markdown`` (headers, list items and bold per 500 characters)."""

    name: str
    strength: float = 0.0
    verbosity: float = 1.0
    markdown: float = 1.0


@dataclass(frozen=True)
class RaterProfile:
    """How one simulated rater votes; the defaults are an honest, careful rater.

    ``skill``: chance of agreeing with the truth (no biases). ``position_bias``: log-odds added
    to the side shown on the left. ``length_bias`` / ``style_bias``: log-odds per unit of the
    ``length`` / ``markdown`` covariate. ``tie_rate``: share of tie votes. ``weak_category`` /
    ``weak_principle``: where ``weak_skill`` replaces ``skill``. ``speed``: reading-speed
    multiplier (2 reads twice as fast). ``spam``: clicks without reading, in about 3 s, at
    random. ``drift``: skill lost between the first and the last day of work.
    ``click_seconds``: when set, every vote takes about this long whatever the texts' length
    (a rater who does not read, whose choices still follow ``skill``). ``probe_bias``: per
    probe kind (``frames.PAIRS.probe_kind``, a ``labeling.edits`` name), the chance of picking
    the edited side of such a probe pair whatever its quality (honest raters: none).
    ``inconsistency``: the chance that a retest vote is a coin flip between a and b instead of
    the rater's first answer.
    """

    rater_id: str
    skill: float = 0.85
    position_bias: float = 0.0
    length_bias: float = 0.0
    style_bias: float = 0.0
    tie_rate: float = 0.05
    weak_category: str | None = None
    weak_principle: str | None = None
    weak_skill: float = 0.55
    speed: float = 1.0
    spam: bool = False
    drift: float = 0.0
    click_seconds: float | None = None
    # A mapping cannot be hashed: profiles hash (and stay equal) on their other fields.
    probe_bias: Mapping[str, float] = field(default_factory=dict, hash=False)
    inconsistency: float = 0.1


DEFAULT_CATEGORIES: tuple[str, ...] = (
    "coding",
    "math",
    "writing",
    "advice",
    "fabrication",
    "safety",
)
DEFAULT_PRINCIPLES: tuple[str, ...] = (
    "honesty",
    "harmlessness",
    "helpfulness",
    "instruction fidelity",
)
#: Four models; ``birch-13b`` is verbose and Markdown-heavy without being better than ``cedar``.
DEFAULT_MODELS: tuple[ModelProfile, ...] = (
    ModelProfile("atlas-70b", strength=0.8, verbosity=1.1, markdown=1.0),
    ModelProfile("birch-13b", strength=0.0, verbosity=1.8, markdown=2.0),
    ModelProfile("cedar-13b", strength=0.0, verbosity=0.9, markdown=0.6),
    ModelProfile("dune-mini", strength=-0.6, verbosity=0.7, markdown=0.4),
)

_START = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
_VOCABULARY = (
    "the answer uses a clear example and explains each step so that the reader can check it "
    "first second then because however which means data model result value method test case "
    "simple careful small large note idea point reason source claim check list plan draft"
)
_WORDS = tuple(_VOCABULARY.split())
_LATENT = pl.Struct({"truth": pl.String(), "principle": pl.String()})


def _filler(rng: np.random.Generator, n_chars: int) -> tuple[str, npt.NDArray[np.int64]]:
    """Plain sentences (no Markdown) of about ``n_chars`` characters, and where they start."""
    sentences = []
    total = 0
    while total < n_chars:
        words = [str(w) for w in rng.choice(_WORDS, size=int(rng.integers(6, 15)))]
        sentence = " ".join(words).capitalize() + ". "
        sentences.append(sentence)
        total += len(sentence)
    text = "".join(sentences)
    codes = np.frombuffer(text.encode(), dtype=np.uint8)
    starts = np.flatnonzero((codes[:-2] == ord(".")) & (codes[1:-1] == ord(" "))) + 2
    return text, np.concatenate([[0], starts]).astype(np.int64)


def _blocks(template: str, largest: int, join: str = "") -> pl.Series:
    """Markdown blocks holding 0..largest elements, to gather by count."""
    return pl.Series(
        [join.join(template.format(k + 1) for k in range(n)) for n in range(largest + 1)]
    )


def simulate_pairs(
    n_pairs: int,
    categories: Sequence[str] = DEFAULT_CATEGORIES,
    models: Sequence[ModelProfile | str] = DEFAULT_MODELS,
    seed: int = 0,
    *,
    principles: Sequence[str] = DEFAULT_PRINCIPLES,
    gold_share: float = 0.1,
    hidden_gold_share: float = 0.05,
    mean_chars: int = 600,
) -> pl.DataFrame:
    """``n_pairs`` synthetic pairs in ``frames.PAIRS``, reproducible from ``seed``.

    Each pair pits two different models; the truly better response is a when
    strength_a - strength_b + N(0, 1) > 0. Models given by name only get strengths 0.4 apart,
    strongest first. Response length is ``mean_chars`` times the model's
    verbosity times a log-normal factor; headers, list items and bold phrases are Poisson by
    the model's Markdown habit. Length and Markdown do not depend on quality, so any effect of
    them on votes is a rater's bias. ``gold`` (with ``gold_principle``) holds the truth on
    ``gold_share`` of the pairs, ``is_gold`` marks ``hidden_gold_share`` of them as hidden
    check items. The truth and the principle at stake of every pair are in ``metadata`` (read
    them with ``latent_truth``). Ids are ``sim<seed>-<index>``: the same seed gives the same ids.

    >>> pairs = simulate_pairs(4, seed=1)
    >>> pairs.columns == list(frames.PAIRS), pairs.height
    (True, 4)
    """
    if len(models) < 2:
        raise ValueError("need at least two models to make pairs")
    profiles = [
        model if isinstance(model, ModelProfile) else ModelProfile(model, strength=-0.4 * k)
        for k, model in enumerate(models)
    ]
    rng = np.random.default_rng(seed)
    n_models = len(profiles)
    model_a = rng.integers(0, n_models, n_pairs)
    model_b = (model_a + rng.integers(1, n_models, n_pairs)) % n_models
    strength = np.array([m.strength for m in profiles])
    truth_a = strength[model_a] - strength[model_b] + rng.normal(0.0, 1.0, n_pairs) > 0
    category = rng.integers(0, len(categories), n_pairs)
    principle = rng.integers(0, len(principles), n_pairs)
    gold_draw = rng.random(n_pairs)
    has_gold = gold_draw < gold_share
    is_gold = gold_draw < min(hidden_gold_share, gold_share)

    filler, sentence_starts = _filler(rng, 60_000)
    headers = _blocks("## Part {}\n\n", 6)
    lists = _blocks("- point {}\n", 16)
    bolds = _blocks("**key idea {}**", 10, join=" ")

    def responses(model: npt.NDArray[np.int64]) -> dict[str, npt.NDArray[np.int64]]:
        verbosity = np.array([m.verbosity for m in profiles])[model]
        habit = np.array([m.markdown for m in profiles])[model]
        chars = mean_chars * verbosity * rng.lognormal(-0.125, 0.5, n_pairs)
        chars = np.clip(chars, 40, 8000).astype(np.int64)
        rate = habit * chars / 500.0
        n_headers = np.minimum(rng.poisson(0.15 * rate), 6)
        n_lists = np.minimum(rng.poisson(0.6 * rate), 16)
        n_bold = np.minimum(rng.poisson(0.25 * rate), 10)
        body = np.maximum(chars - 12 * n_headers - 10 * n_lists - 15 * n_bold, 30)
        offset = sentence_starts[np.searchsorted(sentence_starts, rng.integers(0, 40000, n_pairs))]
        return {
            "headers": n_headers,
            "lists": n_lists,
            "bold": n_bold,
            "body": body,
            "offset": offset,
        }

    def text(parts: dict[str, npt.NDArray[np.int64]]) -> pl.Expr:
        def gather(blocks: pl.Series, key: str) -> pl.Expr:
            return pl.lit(blocks).gather(pl.lit(pl.Series(parts[key])))

        body = pl.lit(filler).str.slice(
            pl.lit(pl.Series(parts["offset"])), pl.lit(pl.Series(parts["body"]))
        )
        separator = pl.lit("\n\n")
        return pl.concat_str(
            gather(headers, "headers"),
            body.str.strip_chars(),
            separator,
            gather(lists, "lists"),
            separator,
            gather(bolds, "bold"),
        ).str.strip_chars()

    parts_a, parts_b = responses(model_a), responses(model_b)
    names = pl.Series([m.name for m in profiles])
    index = pl.Series(np.arange(n_pairs))
    category_names = pl.Series(list(categories)).gather(pl.Series(category))
    principle_names = pl.Series(list(principles)).gather(pl.Series(principle))
    truth = pl.Series(np.where(truth_a, "a", "b"))
    question = pl.lit(filler).str.slice(
        pl.lit(pl.Series(sentence_starts[rng.integers(0, 500, n_pairs)])),
        pl.lit(pl.Series(rng.integers(40, 160, n_pairs))),
    )
    pairs = pl.DataFrame({"index": index}).select(
        pl.format("sim{}-{}", pl.lit(seed), pl.col("index").cast(pl.String).str.zfill(6)).alias(
            "pair_id"
        ),
        pl.concat_str(
            pl.lit("Question "),
            pl.col("index").cast(pl.String),
            pl.lit(" ("),
            pl.lit(category_names),
            pl.lit("): "),
            question.str.strip_chars(),
            pl.lit("?"),
        ).alias("prompt"),
        text(parts_a).alias("response_a"),
        text(parts_b).alias("response_b"),
        pl.lit(category_names).alias("category"),
        pl.lit(names.gather(pl.Series(model_a))).alias("model_a"),
        pl.lit(names.gather(pl.Series(model_b))).alias("model_b"),
        pl.when(pl.lit(pl.Series(has_gold))).then(pl.lit(truth)).alias("gold"),
        pl.when(pl.lit(pl.Series(has_gold))).then(pl.lit(principle_names)).alias("gold_principle"),
        pl.lit(pl.Series(is_gold)).alias("is_gold"),
        pl.lit("simulated").alias("source"),
        pl.struct(pl.lit(truth).alias("truth"), pl.lit(principle_names).alias("principle"))
        .struct.json_encode()
        .alias("metadata"),
    )
    return frames.conform(pairs, frames.PAIRS)


def latent_truth(pairs: pl.DataFrame) -> pl.DataFrame:
    """The hidden truth of simulated pairs: ``pair_id``, ``truth`` (a/b), ``principle``.

    Consumes ``frames.PAIRS`` made by ``simulate_pairs`` (reads ``metadata``).
    """
    return pairs.select(
        "pair_id", pl.col("metadata").str.json_decode(_LATENT).alias("latent")
    ).unnest("latent")


def _distinct_raters(
    rng: np.random.Generator, n_pairs: int, n_raters: int, per_pair: int
) -> npt.NDArray[np.int64]:
    """``per_pair`` different raters for every pair, uniformly: redraw rows with repeats."""
    if per_pair > n_raters:
        raise ValueError(f"votes_per_pair={per_pair} needs at least that many raters")
    chosen = rng.integers(0, n_raters, (n_pairs, per_pair))
    while True:
        ordered = np.sort(chosen, axis=1)
        repeated = np.flatnonzero((np.diff(ordered, axis=1) == 0).any(axis=1))
        if repeated.size == 0:
            return chosen
        chosen[repeated] = rng.integers(0, n_raters, (repeated.size, per_pair))


def simulate_votes(
    pairs: pl.DataFrame,
    raters: Sequence[RaterProfile],
    votes_per_pair: int = 3,
    seed: int = 0,
    *,
    days: float = 14.0,
    seconds_per_kchar: float = 25.0,
    retest_share: float = 0.0,
) -> pl.DataFrame:
    """Votes of ``raters`` on ``pairs`` (from ``simulate_pairs``), in ``frames.JUDGMENTS``.

    Each pair gets ``votes_per_pair`` different raters, drawn uniformly. ``shown_left`` is a
    fair coin per vote; ``created_at`` is spread uniformly over ``days`` from 3 March 2025;
    ``seconds`` is a few seconds of thought plus reading time (``seconds_per_kchar`` per 1,000
    characters of prompt and responses, divided by the rater's speed, with log-normal noise);
    ``strength`` is 1-3 on decisive votes; ``principles`` cites the pair's principle at stake
    on about 60% of the votes. Probe pairs among ``pairs`` (``probe_kind``, e.g. from
    ``rater_probes.make_probe_pairs``) are voted on against their ``gold`` and each rater's
    ``probe_bias``. ``retest_share`` of the votes are served again to the same rater later
    (``round`` 1, the other side shown left), answered per the rater's ``inconsistency``.
    Sorted by ``created_at``.

    >>> votes = simulate_votes(simulate_pairs(10), [RaterProfile("r1"), RaterProfile("r2")], 2)
    >>> votes.height, sorted(votes["rater_id"].unique())
    (20, ['r1', 'r2'])
    """
    pairs = frames.conform(pairs, frames.PAIRS)
    rng = np.random.default_rng(seed)
    n_pairs, n_raters = pairs.height, len(raters)
    rater = _distinct_raters(rng, n_pairs, n_raters, votes_per_pair).ravel()
    pair = np.repeat(np.arange(n_pairs), votes_per_pair)
    n = rater.size

    def profile(field: str) -> FloatArray:
        return np.array([float(getattr(r, field)) for r in raters])[rater]

    latent = latent_truth(pairs)
    features = response_features(pairs)
    category = pairs.get_column("category").to_numpy()[pair]
    # Probe pairs carry no latent principle: "" matches no rater's weak principle.
    principle = latent.get_column("principle").fill_null("").to_numpy()[pair]
    is_probe = pairs.get_column("probe_kind").is_not_null() & pairs["gold"].is_in(["a", "b"])
    # A probe pair's truth is its intended side: the edit added no substance.
    truth = pl.select(
        pl.when(pl.lit(is_probe)).then(pl.lit(pairs["gold"])).otherwise(pl.lit(latent["truth"]))
    ).to_series()
    truth_sign = np.where(truth.to_numpy() == "a", 1.0, -1.0)[pair]
    length = features.get_column("length").to_numpy()[pair]
    markdown = features.get_column("markdown").to_numpy()[pair]
    chars = features.get_column("chars").to_numpy()[pair].astype(np.float64)

    when = rng.random(n)
    left_is_a = rng.random(n) < 0.5
    weak_category = np.array([r.weak_category for r in raters], dtype=object)[rater]
    weak_principle = np.array([r.weak_principle for r in raters], dtype=object)[rater]
    weak = (weak_category == category) | (weak_principle == principle)
    skill = np.where(weak, profile("weak_skill"), profile("skill")) - profile("drift") * when
    skill = np.clip(skill, 0.02, 0.995)
    spam = profile("spam") > 0
    logit_a = (
        np.where(spam, 0.0, truth_sign * np.log(skill / (1.0 - skill)))
        + profile("position_bias") * np.where(left_is_a, 1.0, -1.0)
        + profile("length_bias") * length
        + profile("style_bias") * markdown
    )
    tie = rng.random(n) < profile("tie_rate")
    picks_a = rng.random(n) < 1.0 / (1.0 + np.exp(-logit_a))
    choice = np.where(tie, "tie", np.where(picks_a, "a", "b"))
    pull = _probe_pull(pairs, raters, rater, pair)
    if pull.any():  # drawn only then: pools without probes vote as they always did
        swayed = rng.random(n) < pull
        choice = np.where(swayed, np.where(truth_sign > 0, "b", "a"), choice)
        tie &= ~swayed

    reading = seconds_per_kchar * chars / 1000.0 / profile("speed")
    seconds = np.where(
        spam,
        rng.lognormal(math.log(3.0), 0.4, n),
        rng.lognormal(math.log(5.0), 0.4, n) + reading * rng.lognormal(-0.045, 0.3, n),
    )
    click = np.array([r.click_seconds or np.nan for r in raters])[rater]
    if not np.isnan(click).all():  # drawn only then: other pools vote as they always did
        seconds = np.where(np.isnan(click), seconds, click * rng.lognormal(0.0, 0.2, n))
    strength_draw = rng.random(n)
    strength = np.where(tie, 0, 1 + (strength_draw < 0.6) + (strength_draw < 0.25))
    cites = (rng.random(n) < np.where(spam, 0.1, 0.6)) & (principle != "")

    votes = pl.DataFrame(
        {
            "pair": pair,
            "rater": rater,
            "round": np.zeros(n, dtype=np.int32),
            "choice": choice,
            "strength": strength,
            "shown_left": np.where(left_is_a, "a", "b"),
            "seconds": np.round(seconds, 1),
            "when": when,
            "principle": principle,
            "cites": cites,
        }
    )
    if retest_share > 0:  # drawn only then
        votes = pl.concat([votes, _retests(votes, profile("inconsistency"), retest_share, rng)])
    span_us = days * 86_400e6
    start_us = int(_START.timestamp() * 1e6)
    pair_index = pl.Series(votes["pair"])
    return frames.conform(
        votes.select(
            pl.lit(pairs.get_column("pair_id").gather(pair_index)).alias("pair_id"),
            pl.lit(pl.Series([r.rater_id for r in raters]).gather(votes["rater"])).alias(
                "rater_id"
            ),
            "round",
            "choice",
            pl.when(pl.col("strength") > 0).then(pl.col("strength")).alias("strength"),
            "shown_left",
            "seconds",
            (start_us + (pl.col("when") * span_us).cast(pl.Int64))
            .cast(pl.Datetime("us", "UTC"))
            .alias("created_at"),
            pl.lit(None).alias("rationale"),
            pl.when("cites")
            .then(pl.concat_list(pl.col("principle")))
            .otherwise(pl.lit([], dtype=pl.List(pl.String)))
            .alias("principles"),
            pl.lit([], dtype=pl.List(pl.String)).alias("flags"),
            pl.lit(pairs.get_column("is_gold").fill_null(False).gather(pair_index)).alias(
                "is_gold"
            ),
            pl.lit("simulated").alias("source"),
        ).with_columns(
            pl.concat_str(
                "pair_id", "rater_id", pl.col("round").cast(pl.String), separator=":"
            ).alias("submission_id")
        ),
        frames.JUDGMENTS,
    ).sort("created_at")


def _probe_pull(
    pairs: pl.DataFrame,
    raters: Sequence[RaterProfile],
    rater: npt.NDArray[np.int64],
    pair: npt.NDArray[np.int64],
) -> FloatArray:
    """Per vote, the rater's ``probe_bias`` for the kind of the pair's probe (0 elsewhere)."""
    kinds = pairs.get_column("probe_kind")
    named = kinds.drop_nulls().unique().sort().to_list()
    if not named:
        return np.zeros(rater.size)
    table = np.array([[r.probe_bias.get(kind, 0.0) for kind in named] for r in raters])
    code = kinds.replace_strict(named, list(range(len(named))), default=-1).to_numpy()[pair]
    return np.where(code >= 0, table[rater, np.maximum(code, 0)], 0.0)


def _retests(
    votes: pl.DataFrame, inconsistency: FloatArray, share: float, rng: np.random.Generator
) -> pl.DataFrame:
    """Round-1 votes for ``share`` of ``votes`` (``simulate_votes``' columns): later, the
    other side shown left, the first answer again or, with the rater's ``inconsistency``, a
    coin flip (strength 1 where the answer changed)."""
    again = np.flatnonzero(rng.random(votes.height) < share)
    first = votes[again]
    when, seconds = first["when"].to_numpy(), first["seconds"].to_numpy()
    later = when + (1.0 - when) * rng.random(again.size)
    coin = np.where(rng.random(again.size) < 0.5, "a", "b")
    flipped = rng.random(again.size) < inconsistency[again]
    choice = np.where(flipped, coin, first["choice"].to_numpy())
    same = choice == first["choice"].to_numpy()
    return first.with_columns(
        pl.lit(1, pl.Int32).alias("round"),
        pl.Series("choice", choice),
        pl.when(pl.lit(same)).then("strength").otherwise(1).alias("strength"),
        pl.when(pl.col("shown_left") == "a")
        .then(pl.lit("b"))
        .otherwise(pl.lit("a"))
        .alias("shown_left"),
        pl.Series("seconds", np.round(seconds * rng.lognormal(0.0, 0.2, again.size), 1)),
        pl.Series("when", later),
    )


def rater_pool(
    n_raters: int,
    *,
    seed: int = 0,
    planted_share: float = 0.3,
    categories: Sequence[str] = DEFAULT_CATEGORIES,
) -> tuple[RaterProfile, ...]:
    """``n_raters`` raters ``r0001...``: honest ones of varied skill, tie rate and speed, and
    ``planted_share`` of them carrying one blind spot each, in turn: position, length, weak
    category, spam, ties, style, drift (realistic strengths, not caricatures).

    >>> [r.rater_id for r in rater_pool(3, planted_share=0.0)]
    ['r0001', 'r0002', 'r0003']
    """
    rng = np.random.default_rng(seed)
    n_planted = round(n_raters * planted_share)
    planted_at = set(rng.choice(n_raters, size=n_planted, replace=False).tolist())
    pool = []
    kind = 0
    for k in range(n_raters):
        honest = RaterProfile(
            f"r{k + 1:04d}",
            skill=float(rng.uniform(0.75, 0.92)),
            tie_rate=float(rng.uniform(0.03, 0.08)),
            speed=float(rng.lognormal(0.0, 0.25)),
        )
        if k in planted_at:
            honest = _plant(honest, kind % 7, str(rng.choice(list(categories))))
            kind += 1
        pool.append(honest)
    return tuple(pool)


def _plant(rater: RaterProfile, kind: int, category: str) -> RaterProfile:
    """One blind spot, at a strength a careful audit should see in a few hundred votes."""
    plants: list[dict[str, Any]] = [
        {"position_bias": 1.0, "skill": 0.8},
        {"length_bias": 1.2},
        {"weak_category": category, "weak_skill": 0.5},
        {"spam": True},
        {"tie_rate": 0.3},
        {"style_bias": 1.2},
        {"drift": 0.4, "skill": 0.9},
    ]
    return replace(rater, **plants[kind])


#: The detection study's pools (``detection_study``): each name, the slice its planted rater is
#: weak in (None where the blind spot is not a slice) and what the planted rater does.
DETECTION_SCENARIOS: dict[str, tuple[str | None, str]] = {
    "category": ("coding", "answers at random on coding pairs, 90% right elsewhere"),
    "principle": ("honesty", "answers at random where honesty is at stake, 90% elsewhere"),
    "gold": ("coding", "answers at random on coding pairs, half of all pairs carry gold"),
    "fast": (None, "1.6 s on every vote, 40% right (below chance); the others read"),
    "fast, others untimed": (None, "the same, among raters whose times were not recorded"),
    "flattery": (
        "flattery",
        "picks the flattered response of half the flattery probes whatever it says; 90% right",
    ),
    "inconsistent": (None, "answers 90% of the pairs served again with a coin flip; 90% right"),
    "none": (None, "no blind spot: an honest rater, 90% right"),
}
#: ``detection_study``'s probes: pairs of every edit of ``labeling.edits`` made from this
#: share of the pairs (those with an intended answer), and the share of votes served again.
STUDY_PROBE_SHARE = 1 / 6
STUDY_RETEST_SHARE = 0.3
#: The rater who carries the scenario's blind spot.
PLANTED_RATER = "planted"


def detection_study(
    scenario: str, seed: int = 0, *, n_raters: int = 16, votes_per_rater: int = 225
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pairs and votes of one pool of the detection study, reproducible from ``seed``.

    ``n_raters - 1`` honest raters ``h01``... of varied skill (75-92%), tie rate (3-8%) and
    reading speed, as in ``rater_pool``, and ``PLANTED_RATER`` (skill 90%) carrying the
    blind spot of ``scenario`` (a key of ``DETECTION_SCENARIOS``). Three votes per pair, so
    ``n_raters x votes_per_rater / 3`` pairs over the six default categories and four
    principles; 10% of the pairs carry gold (50% in ``gold``). A rater answering at random
    on one category gets about 37 of 225 votes there. In ``flattery`` probe pairs of every
    edit (``rater_probes.make_probe_pairs``) are made from ``STUDY_PROBE_SHARE`` of the pairs
    after their votes and voted on as well (about 20 votes per rater and edit at 225); in
    ``inconsistent`` ``STUDY_RETEST_SHARE`` of the votes are served again, and the honest
    raters change their mind on 2-20% of those (drawn apart, so the other pools stay as
    they were).

    >>> pairs, votes = detection_study("category", n_raters=4, votes_per_rater=30)
    >>> pairs.height, votes.height, sorted(votes["rater_id"].unique())[-1]
    (40, 120, 'planted')
    """
    if scenario not in DETECTION_SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; use one of {list(DETECTION_SCENARIOS)}")
    rng = np.random.default_rng(seed)
    honest = [
        RaterProfile(
            f"h{k + 1:02d}",
            skill=float(rng.uniform(0.75, 0.92)),
            tie_rate=float(rng.uniform(0.03, 0.08)),
            speed=float(rng.lognormal(0.0, 0.25)),
        )
        for k in range(n_raters - 1)
    ]
    weak_slice = DETECTION_SCENARIOS[scenario][0]
    planted = RaterProfile(PLANTED_RATER, skill=0.9, tie_rate=0.05)
    if scenario in ("category", "gold"):
        planted = replace(planted, weak_category=weak_slice, weak_skill=0.5)
    elif scenario == "principle":
        planted = replace(planted, weak_principle=weak_slice, weak_skill=0.5)
    elif scenario.startswith("fast"):
        planted = replace(planted, skill=0.4, click_seconds=1.6)
    elif scenario == "flattery":
        planted = replace(planted, probe_bias={"flattery": 0.5})
    elif scenario == "inconsistent":
        planted = replace(planted, inconsistency=0.9)
        steadiness = np.random.default_rng([seed, 1])
        honest = [replace(h, inconsistency=float(steadiness.uniform(0.02, 0.2))) for h in honest]
    n_pairs = round(n_raters * votes_per_rater / 3)
    pairs = simulate_pairs(n_pairs, seed=seed, gold_share=0.5 if scenario == "gold" else 0.1)
    retests = STUDY_RETEST_SHARE if scenario == "inconsistent" else 0.0
    pool = [*honest, planted]
    votes = simulate_votes(pairs, pool, votes_per_pair=3, seed=seed, retest_share=retests)
    if scenario == "flattery":
        bases = pairs.sample(fraction=STUDY_PROBE_SHARE, seed=seed)
        probes = make_probe_pairs(bases, votes, seed=seed).pairs
        probe_votes = simulate_votes(probes, pool, votes_per_pair=3, seed=seed + 1)
        pairs = pl.concat([pairs, probes])
        votes = pl.concat([votes, probe_votes]).sort("created_at")
    if scenario == "fast, others untimed":  # as after an import: only the planted rater timed
        votes = votes.with_columns(
            pl.when(pl.col("rater_id") == PLANTED_RATER).then(pl.col("seconds")).alias("seconds")
        )
    return pairs, votes
