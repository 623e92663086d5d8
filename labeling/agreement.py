"""How far raters agree on the same item, with bootstrap intervals.

Frames in: judgments in the ``frames.JUDGMENTS`` contract (``pair_id, rater_id, round, choice,
strength, created_at, principles`` are read; missing columns count as null) and, optionally,
pairs in the ``frames.PAIRS`` contract (``pair_id, prompt, prompt_messages, model_a, model_b,
response_a, response_b, probe_kind`` and whatever ``by=`` names).

An *item* is what two votes must share to be compared: the same prompt (and earlier
messages), the same two models and the same two responses, in either order. So votes on
(q, A vs B) and (q, B vs A) are compared after flipping the reversed vote (the MT-bench way),
while the same models answering the same prompt differently (MT-bench's second turn) stay
apart. An item's side ``a`` is its alphabetically first model (FastChat's convention); a pair
without two distinct model names, or without a row in ``pairs``, is an item of its own with
its own sides. An item is named after its smallest ``pair_id``. Chance-corrected coefficients
pool the ``a``/``b`` shares over items, so they depend on which side is called ``a``; percent
agreement does not.

Which votes count is decided here, once, for every statistic of the house (``counted_votes``):

- **Retests are not votes.** A rater's vote on a pair is their first one: the rows of their
  lowest ``round`` (``first_vote``, ``first_votes``). A later round on the same pair is a
  retest, the same judgment asked again (sides swapped) to measure consistency
  (``labeling.susceptibility``); counted as another vote, a noisy rater's coin flips would
  outvote their own first answers. A frame without ``round`` has only first votes.
- **Probe pairs are not data.** A pair with ``probe_kind`` (``labeling.rater_probes``) is an
  artificial test of the raters: its votes say how a surface edit sways them, not which
  response is better. Given the pairs, every agreement coefficient, consensus, label and
  model score leaves them out; without the pairs they cannot be told apart.

Percent agreement pairs every two counted votes of different raters on an item, as MT-bench
does (a rater's votes on both orders of a pair are two votes); the other coefficients keep
each rater's first vote per item (``first_item_votes``). MT-bench imports give a judge's
repeat vote on one ordered pair round 1, so it would be read as a retest; the published human
judgments have none (``tests/labeling/test_mt_bench.py`` checks), so their figures stand.

Every coefficient comes with a percentile bootstrap interval that resamples items: an item
enters a coefficient only through a few additive counts, and items with equal counts are
interchangeable, so drawing how many of each distinct count row from a multinomial is the
same as resampling items and costs ``n_boot`` small matrix products instead of ``n_boot``
passes over the data.
Undefined values (kappa when both raters used one label throughout, an interval without
bootstrap) are NaN in a ``Coefficient`` and null in frames.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal, overload

import numpy as np
import numpy.typing as npt
import polars as pl

from data import frames
from labeling.codes import dense_codes
from labeling.memo import remember_last

__all__ = [
    "Coefficient",
    "cohen_kappa",
    "counted_votes",
    "first_item_votes",
    "first_vote",
    "first_votes",
    "fleiss_kappa",
    "item_votes",
    "krippendorff_alpha",
    "pair_agreement",
    "percent_agreement",
    "probe_pair_ids",
]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

_CHOICE_CODE = {choice: code for code, choice in enumerate(frames.CHOICES)}
_PREFERENCES = (_CHOICE_CODE["a"], _CHOICE_CODE["b"])
#: The signed strength scale of ordinal alpha: -3 (a much better) .. 0 (tie) .. 3 (b much better).
_SCORES = tuple(range(-3, 4))
#: Bootstrap draws are made in chunks of about this many numbers, to bound memory.
_CHUNK = 20_000_000


@dataclass(frozen=True)
class Coefficient:
    """One agreement coefficient with its bootstrap interval.

    ``n`` is what the coefficient averages over: vote pairs for percent agreement, items for
    the others. ``n_items`` counts the items that entered it, ``n_raters`` their raters.
    """

    name: str
    estimate: float
    ci_low: float
    ci_high: float
    n: int
    n_items: int
    n_raters: int


# ----------------------------------------------------------------------------- which votes count


def first_vote() -> pl.Expr:
    """True for each rater's first vote on each pair: the rows of their lowest ``round``.

    The one rule for repeated votes (see the module docstring): later rounds are retests. Reads
    ``rater_id``, ``pair_id`` and ``round`` (a null round counts as 0); a vote without a rater
    is never a retest. An expression, so eager and lazy frames filter with it alike.

    >>> votes = pl.DataFrame({"pair_id": ["p", "p", "q"], "rater_id": ["r", "r", "r"],
    ...     "round": [1, 0, 2]})
    >>> votes.select(first_vote()).to_series().to_list()
    [False, True, True]
    """
    rounds = pl.col("round").fill_null(0)
    return (rounds == rounds.min().over("rater_id", "pair_id")) | pl.col("rater_id").is_null()


def first_votes(votes: pl.DataFrame) -> pl.DataFrame:
    """Each rater's first vote on each pair (``first_vote``), with their retest beside it.

    Consumes votes with ``rater_id, pair_id, round, choice`` (``frames.JUDGMENTS``; a missing
    round counts as 0) and keeps, per rater and pair, the rows of their lowest round, adding
    ``retest_choice``: the rater's round-1 choice on the pair where the kept vote is round 0
    (a retest, served with the sides swapped), else null. A pair is counted once per rater: a
    second round is the same judgment again, and counting it as another vote made every
    estimate look surer than it was (honest raters flagged) and let a noisy rater's coin
    flips outvote their first answers.

    >>> votes = pl.DataFrame({"pair_id": ["p", "p", "q"], "rater_id": ["r", "r", "r"],
    ...     "round": [1, 0, 0], "choice": ["b", "a", "a"]})
    >>> first_votes(votes).select("pair_id", "choice", "retest_choice").rows()
    [('p', 'a', 'b'), ('q', 'a', None)]
    """
    rounds = pl.col("round").fill_null(0) if "round" in votes.columns else pl.lit(0)
    votes = votes.with_columns(rounds.cast(pl.Int32).alias("round"))
    if not _has_retests(votes):  # one pass instead of a window and a join (most votes)
        return votes.with_columns(pl.lit(None, votes.schema["choice"]).alias("retest_choice"))
    key = ["rater_id", "pair_id"]
    retests = (
        votes.filter(pl.col("round") == 1)
        .select(*key, pl.col("choice").alias("retest_choice"))
        .unique(key, keep="first", maintain_order=True)
    )
    return (
        votes.filter(first_vote())
        .join(retests, on=key, how="left", maintain_order="left")
        .with_columns(pl.when(pl.col("round") == 0).then("retest_choice").alias("retest_choice"))
    )


def probe_pair_ids(pairs: pl.DataFrame) -> pl.Series:
    """The ``pair_id`` of every probe pair (``probe_kind`` set) of ``frames.PAIRS``; none when
    the frame has no ``probe_kind`` column."""
    if "probe_kind" not in pairs.columns:
        return pl.Series("pair_id", [], dtype=pl.String)
    return pairs.filter(pl.col("probe_kind").is_not_null()).get_column("pair_id")


def counted_votes(judgments: pl.DataFrame, pairs: pl.DataFrame | None = None) -> pl.DataFrame:
    """The votes every statistic counts: each rater's first vote on each ordinary pair.

    Consumes ``frames.JUDGMENTS`` (any of its columns besides ``pair_id``) and, optionally,
    ``frames.PAIRS``. Returns the rows of ``judgments`` that count, in their order and with
    their columns: retests are left out (``first_vote``; without ``rater_id`` and ``round``
    there are none) and, given ``pairs``, every vote on a probe pair (``probe_pair_ids``).
    Agreement, the leave-one-out consensus, Dawid-Skene, majority labels, the leaderboard,
    disputed pairs and the preference set all read these votes; the blind-spot checks read
    the retests and probe votes beside them. The frame itself comes back when nothing is left
    out.

    >>> votes = pl.DataFrame({"pair_id": ["p", "p", "p", "t"],
    ...     "rater_id": ["r1", "r1", "r2", "r1"], "round": [0, 1, 0, 0],
    ...     "choice": ["a", "b", "a", "b"]})
    >>> pairs = pl.DataFrame({"pair_id": ["p", "t"], "probe_kind": [None, "flattery"]})
    >>> counted_votes(votes, pairs).select("pair_id", "rater_id", "choice").rows()
    [('p', 'r1', 'a'), ('p', 'r2', 'a')]
    """
    keep = _counted(judgments, pairs)
    return judgments if keep is None else judgments.filter(keep)


def _counted(judgments: pl.DataFrame, pairs: pl.DataFrame | None) -> pl.Expr | None:
    """The filter ``counted_votes`` applies to ``judgments`` (None: every row counts)."""
    keep: list[pl.Expr] = []
    if _has_retests(judgments):
        keep.append(first_vote())
    probes = pl.Series([], dtype=pl.String) if pairs is None else probe_pair_ids(pairs)
    if len(probes):
        keep.append(~pl.col("pair_id").is_in(probes.implode()))
    return pl.all_horizontal(keep) if keep else None


def _has_retests(votes: pl.DataFrame) -> bool:
    """Whether some vote is past round 0 (else every vote is a first one); without rater ids
    no vote can be told to be a retest."""
    if "round" not in votes.columns or "rater_id" not in votes.columns:
        return False
    return bool((votes["round"].fill_null(0) > 0).any())


# ----------------------------------------------------------------------------- items


@remember_last  # the audit restates its votes on items and the consensus reads them too
def item_votes(judgments: pl.DataFrame, pairs: pl.DataFrame | None = None) -> pl.DataFrame:
    """Judgments keyed by item, with the choice read from the item's sides.

    Consumes ``frames.JUDGMENTS`` and ``frames.PAIRS`` (``pair_id, prompt, prompt_messages,
    model_a, model_b, response_a, response_b, probe_kind``). Every row is kept (retests and
    probe votes too: ``counted_votes`` decides which count). A probe pair is an item of its
    own, never merged with its base or another pair. Returns the judgments' contract columns plus
    ``item_id`` (the item's smallest ``pair_id``), ``flipped`` (this pair's ``model_a`` is
    the alphabetically later model), ``item_choice`` (``a``/``b`` swapped when flipped) and
    ``item_score`` (signed strength: ``a`` wins -strength, ``b`` wins +strength, a missing
    strength counts 1, tie 0, ``both_bad`` null; negated when flipped).

    >>> pairs = pl.DataFrame({"pair_id": ["p1", "p2"], "prompt": ["q", "q"],
    ...                       "model_a": ["x", "y"], "model_b": ["y", "x"]})
    >>> votes = pl.DataFrame({"pair_id": ["p1", "p2"], "rater_id": ["r1", "r2"],
    ...                       "choice": ["a", "b"]})
    >>> item_votes(votes, pairs).select("item_id", "flipped", "item_choice").rows()
    [('p1', False, 'a'), ('p1', True, 'a')]
    """
    votes = frames.conform(judgments, frames.JUDGMENTS)
    unknown = votes.filter(~pl.col("choice").is_in(frames.CHOICES))
    if unknown.height:
        raise ValueError(f"unknown choice {unknown['choice'][0]!r}; expected {frames.CHOICES}")
    if pairs is not None:
        votes = votes.join(_items(pairs), on="pair_id", how="left", maintain_order="left")
    else:
        votes = votes.with_columns(
            item_id=pl.lit(None, pl.String), flipped=pl.lit(None, pl.Boolean)
        )
    flipped = pl.col("flipped").fill_null(False)
    strength = pl.col("strength").cast(pl.Int8).fill_null(1)
    score = (
        pl.when(pl.col("choice") == "a")
        .then(-strength)
        .when(pl.col("choice") == "b")
        .then(strength)
        .when(pl.col("choice") == "tie")
        .then(pl.lit(0, pl.Int8))
        .otherwise(pl.lit(None, pl.Int8))
    )
    swapped = pl.col("choice").replace({"a": "b", "b": "a"})
    return votes.with_columns(
        item_id=pl.col("item_id").fill_null(pl.col("pair_id")),
        flipped=flipped,
        item_choice=pl.when(flipped).then(swapped).otherwise(pl.col("choice")),
        item_score=pl.when(flipped).then(-score).otherwise(score).cast(pl.Int8),
    )


def _items(pairs: pl.DataFrame) -> pl.DataFrame:
    """``pair_id -> item_id, flipped`` for every pair (texts are compared by their hashes)."""
    known = frames.conform(pairs, frames.PAIRS)
    # A probe pair is a test made from its base, with the same models: it stays an item of
    # its own, with its own sides, like a pair without two model names.
    has_models = (
        pl.col("model_a").is_not_null()
        & pl.col("model_b").is_not_null()
        & (pl.col("model_a") != pl.col("model_b"))
        & pl.col("probe_kind").is_null()
    ).fill_null(False)
    flipped = has_models & (pl.col("model_a") > pl.col("model_b"))
    first, second = (
        pl.when(flipped).then(pl.col(this)).otherwise(pl.col(other)).hash()
        for this, other in (("response_b", "response_a"), ("response_a", "response_b"))
    )
    key = [
        pl.when(has_models).then(pl.min_horizontal("model_a", "model_b")).otherwise("pair_id"),
        pl.when(has_models).then(pl.max_horizontal("model_a", "model_b")),
        pl.col("prompt").hash(),
        pl.col("prompt_messages").hash(),
        first,
        second,
    ]
    return known.select(
        "pair_id",
        item_id=pl.col("pair_id").min().over(key),
        flipped=flipped,
    )


def first_item_votes(judgments: pl.DataFrame, pairs: pl.DataFrame | None = None) -> pl.DataFrame:
    """``item_votes`` of the ``counted_votes``, keeping each rater's first vote per item.

    A rater may have voted on an item more than once without a retest: on both orders of a
    pair (two pairs of one item). The chance-corrected coefficients need one value per rater
    and item, and take the first: lowest ``round``, then earliest ``created_at`` (a vote
    without a time last), then position in the frame, as for retests.
    """
    return _coded(judgments, pairs).first_vote_per_rater().frame.drop(_CODE_COLUMNS)


_CODE_COLUMNS = ("item_code", "rater_code", "label_code", "score_code")


@dataclass(frozen=True)
class _Coded:
    """Item votes with dense integer codes (in the sorted order of the ids), for numpy."""

    frame: pl.DataFrame
    n_items: int
    rater_ids: pl.Series

    @cached_property
    def item_ids(self) -> pl.Series:
        """``item_ids[code]``, looked up only where a result names items."""
        codes = self.codes("item_code")
        first = np.empty(self.n_items, dtype=np.int64)
        first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
        return self.frame["item_id"].gather(first)

    def codes(self, column: str) -> Ints:
        """A code column as int64; null (an ordinal score of ``both_bad``) becomes -1."""
        return self.frame[column].fill_null(-1).to_numpy().astype(np.int64)

    def first_vote_per_rater(self) -> _Coded:
        key = self.codes("item_code") * len(self.rater_ids) + self.codes("rater_code")
        if pl.Series(key).n_unique() == key.size:
            return self
        rounds = pl.col("round").fill_null(0)
        first = self.frame.sort(
            [rounds, pl.col("created_at")], nulls_last=True, maintain_order=True
        )
        first = first.unique(["item_code", "rater_code"], keep="first", maintain_order=True)
        return replace(self, frame=first)


# An audit asks for several coefficients of the same votes: code them once (~0.6 s at a
# million votes).
@remember_last
def _coded(judgments: pl.DataFrame, pairs: pl.DataFrame | None) -> _Coded:
    return _code(judgments, pairs)


def _code(judgments: pl.DataFrame, pairs: pl.DataFrame | None) -> _Coded:
    frame = item_votes(counted_votes(judgments, pairs), pairs)
    item_code = (frame["item_id"].rank("dense") - 1).to_numpy().astype(np.int64)
    rater_code, rater_ids = dense_codes(frame["rater_id"])
    frame = frame.with_columns(
        item_code=pl.Series(item_code),
        rater_code=pl.Series(rater_code),
        label_code=pl.col("item_choice").cast(pl.Enum(frames.CHOICES)).to_physical(),
        score_code=pl.col("item_score").cast(pl.Int64) + 3,
    )
    return _Coded(frame, int(item_code.max(initial=-1)) + 1, rater_ids)


def _factorize(values: Ints, size: int | None = None) -> tuple[Ints, Ints, Ints]:
    """Distinct values (sorted), each value's position among them, and their counts.

    ``np.unique`` does the same, several times slower on large arrays. Values known to lie in
    ``range(size)`` for a moderate ``size`` are counted directly instead of sorted.
    """
    if size is not None and size <= 2**24:
        every = np.bincount(values, minlength=size)
        distinct = np.flatnonzero(every)
        position = np.zeros(size, dtype=np.int64)
        position[distinct] = np.arange(len(distinct))
        return distinct, position[values], every[distinct]
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.ones(len(values), dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    starts = np.flatnonzero(first)
    inverse = np.empty(len(values), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    counts = np.diff(np.r_[starts, len(values)])
    return ordered[starts], inverse, counts


def _distinct_rows(rows: Ints) -> tuple[Ints, Ints]:
    """Distinct rows of a non-negative integer matrix and how often each occurs."""
    dims = tuple(int(d) for d in rows.max(axis=0, initial=0) + 1)
    if math.prod(dims) >= 2**62:  # too many combinations for one integer key
        distinct, counts = np.unique(rows, axis=0, return_counts=True)
        return distinct, counts
    keys = np.ravel_multi_index(tuple(rows.T), dims)
    distinct_keys, _, counts = _factorize(keys)
    return np.stack(np.unravel_index(distinct_keys, dims), axis=1), counts


def _value_counts(coded: _Coded, column: str, n_values: int) -> Ints:
    """``[item, value]``: how many votes of each value every item received."""
    item, value = coded.codes("item_code"), coded.codes(column)
    present = value >= 0
    flat = item[present] * n_values + value[present]
    counts = np.bincount(flat, minlength=coded.n_items * n_values)
    return counts.reshape(coded.n_items, n_values)


def _pairs_of(counts: Ints) -> Ints:
    result: Ints = counts * (counts - 1) // 2
    return result


def _item_slices(coded: _Coded, pairs: pl.DataFrame | None, by: str) -> pl.DataFrame:
    """``item_id, <by>``: the slice(s) each item belongs to.

    ``model_pair`` is the unordered model pair (``"x vs y"``); ``principle`` is every
    principle cited by a vote on the item (an item citing two is in both slices); any other
    name is a ``frames.PAIRS`` column, read from the pair that names the item.
    """
    if by == "principle":
        return (
            coded.frame.select("item_id", principle=pl.col("principles"))
            .explode("principle", empty_as_null=True)
            .unique()
            .filter(pl.col("principle").is_not_null() | (pl.len().over("item_id") == 1))
        )
    if pairs is None:
        raise ValueError(f"by={by!r} needs the pairs frame")
    known = frames.conform(pairs, frames.PAIRS)
    if by == "model_pair":
        value = pl.concat_str(
            pl.min_horizontal("model_a", "model_b"),
            pl.max_horizontal("model_a", "model_b"),
            separator=" vs ",
        )
    elif by in frames.PAIRS:
        value = pl.col(by).cast(pl.String)
    else:
        raise ValueError(
            f"by must be None, 'model_pair', 'principle' or a pairs column, not {by!r}"
        )
    slices = known.select(item_id="pair_id", slice=value).rename({"slice": by})
    return coded.item_ids.to_frame("item_id").join(slices, on="item_id", how="left")


# ----------------------------------------------------------------------------- bootstrap


def _bootstrap(
    units: Ints,
    features: Callable[[Ints], Floats],
    statistic: Callable[[Floats], Floats],
    *,
    n_boot: int,
    seed: int,
    confidence: float,
) -> tuple[float, float, float]:
    """Estimate and percentile interval of ``statistic`` over items resampled with replacement.

    ``units`` holds one row of integer counts per item; ``features`` maps distinct rows to
    additive features; ``statistic`` maps summed features (one row per draw) to values.
    """
    if len(units) == 0:
        return math.nan, math.nan, math.nan
    distinct, counts = _distinct_rows(units)
    table = features(distinct)
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = float(statistic((counts @ table)[np.newaxis])[0])
        if n_boot <= 0:
            return estimate, math.nan, math.nan
        rng = np.random.default_rng(seed)
        shares = counts / counts.sum()
        values = np.empty(n_boot)
        step = max(1, _CHUNK // len(distinct))
        for start in range(0, n_boot, step):
            size = min(step, n_boot - start)
            draws = rng.multinomial(len(units), shares, size=size)
            values[start : start + size] = statistic(draws @ table)
    low, high = _row_percentiles(values[np.newaxis], confidence)
    return estimate, float(low[0]), float(high[0])


def _row_percentiles(values: Floats, confidence: float) -> tuple[Floats, Floats]:
    """Percentile interval of each row, NaN left out (numpy's default linear rule)."""
    ordered = np.sort(values, axis=1)  # NaN sorts last
    valid = np.isfinite(ordered).sum(axis=1)
    bounds = []
    for quantile in ((1 - confidence) / 2, (1 + confidence) / 2):
        position = quantile * np.maximum(valid - 1, 0)
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, np.maximum(valid - 1, 0))
        low = np.take_along_axis(ordered, below[:, np.newaxis], axis=1)[:, 0]
        high = np.take_along_axis(ordered, above[:, np.newaxis], axis=1)[:, 0]
        bounds.append(np.where(valid > 0, low + (high - low) * (position - below), np.nan))
    return bounds[0], bounds[1]


def _coefficient(
    name: str,
    coded: _Coded,
    unit_items: Ints,
    units: Ints,
    features: Callable[[Ints], Floats],
    statistic: Callable[[Floats], Floats],
    *,
    unit_n: Ints | None,
    pairs: pl.DataFrame | None,
    by: str | None,
    n_boot: int,
    seed: int,
    confidence: float,
) -> Coefficient | pl.DataFrame:
    """Run ``_bootstrap`` over all items, or per slice of ``by``.

    ``units[i]`` are the counts of item ``unit_items[i]``; ``n`` sums ``unit_n`` (or counts
    items when None).
    """
    item_code, rater_code = coded.codes("item_code"), coded.codes("rater_code")
    n_items = coded.n_items

    def one(selected: npt.NDArray[np.bool_]) -> Coefficient:
        estimate, low, high = _bootstrap(
            units[selected],
            features,
            statistic,
            n_boot=n_boot,
            seed=seed,
            confidence=confidence,
        )
        n_units = int(selected.sum())
        n = n_units if unit_n is None else int(unit_n[selected].sum())
        member = np.zeros(n_items, dtype=bool)
        member[unit_items[selected]] = True
        raters = int(np.count_nonzero(np.bincount(rater_code[member[item_code]])))
        return Coefficient(name, estimate, low, high, n, n_units, raters)

    if by is None:
        return one(np.ones(len(unit_items), dtype=bool))
    rows: list[dict[str, object]] = []
    for value, codes in _slice_items(coded, pairs, by):
        member = np.zeros(n_items, dtype=bool)
        member[codes] = True
        rows.append({by: value, **_as_row(one(member[unit_items]))})
    return _rows_frame(rows, by)


def _slice_items(
    coded: _Coded, pairs: pl.DataFrame | None, by: str
) -> list[tuple[str | None, Ints]]:
    """Every slice of ``by`` (sorted, null last) with the codes of its items."""
    codes = coded.item_ids.to_frame("item_id").with_row_index("item_code")
    grouped = (
        _item_slices(coded, pairs, by)
        .join(codes, on="item_id")
        .group_by(by)
        .agg(pl.col("item_code"))
        .sort(by, nulls_last=True)
    )
    return [
        (None if value is None else str(value), np.asarray(members, dtype=np.int64))
        for value, members in grouped.iter_rows()
    ]


def _as_row(coefficient: Coefficient) -> dict[str, float | int | None]:
    def clean(value: float) -> float | None:
        return None if math.isnan(value) else value

    return {
        "estimate": clean(coefficient.estimate),
        "ci_low": clean(coefficient.ci_low),
        "ci_high": clean(coefficient.ci_high),
        "n": coefficient.n,
        "n_items": coefficient.n_items,
        "n_raters": coefficient.n_raters,
    }


def _rows_frame(rows: list[dict[str, object]], by: str) -> pl.DataFrame:
    schema = {
        by: pl.String(),
        "estimate": pl.Float64(),
        "ci_low": pl.Float64(),
        "ci_high": pl.Float64(),
        "n": pl.Int64(),
        "n_items": pl.Int64(),
        "n_raters": pl.Int64(),
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _identity(units: Ints) -> Floats:
    return units.astype(np.float64)


# ----------------------------------------------------------------------------- percent agreement


@overload
def percent_agreement(
    judgments: pl.DataFrame,
    pairs: pl.DataFrame | None = ...,
    *,
    ties: bool = ...,
    by: None = ...,
    n_boot: int = ...,
    seed: int = ...,
    confidence: float = ...,
) -> Coefficient: ...
@overload
def percent_agreement(
    judgments: pl.DataFrame,
    pairs: pl.DataFrame | None = ...,
    *,
    ties: bool = ...,
    by: str,
    n_boot: int = ...,
    seed: int = ...,
    confidence: float = ...,
) -> pl.DataFrame: ...
def percent_agreement(
    judgments: pl.DataFrame,
    pairs: pl.DataFrame | None = None,
    *,
    ties: bool = True,
    by: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Coefficient | pl.DataFrame:
    """Share of agreeing pairs among all pairs of votes by different raters on the same item.

    Consumes ``frames.JUDGMENTS`` and ``frames.PAIRS`` (see the module docstring for items).
    Two ties agree (MT-bench's S1). ``ties=False`` drops every vote pair that holds a vote
    without a preference (``tie`` or ``both_bad``), MT-bench's S2. Every counted vote counts
    (``counted_votes``: no retests, no probe pairs), so a rater's votes on both orders of a
    pair are each compared with the other raters' (never with each other). ``n`` is the number
    of vote pairs; the interval resamples items.

    >>> votes = pl.DataFrame({"pair_id": ["p1"] * 3, "rater_id": ["r1", "r2", "r3"],
    ...                       "choice": ["a", "a", "tie"]})
    >>> result = percent_agreement(votes, n_boot=0)
    >>> round(result.estimate, 3), result.n
    (0.333, 3)
    >>> percent_agreement(votes, ties=False, n_boot=0).estimate
    1.0
    """
    coded = _coded(judgments, pairs)
    unit_items, units = _agreement_units(coded, ties=ties)
    return _coefficient(
        "percent_agreement" if ties else "percent_agreement_without_ties",
        coded,
        unit_items,
        units,
        _identity,
        _ratio,
        unit_n=units[:, 1],
        pairs=pairs,
        by=by,
        n_boot=n_boot,
        seed=seed,
        confidence=confidence,
    )


def _agreement_units(coded: _Coded, *, ties: bool) -> tuple[Ints, Ints]:
    """Items with a vote pair, and their (agreeing vote pairs, vote pairs) of different raters."""
    item, rater, label = (coded.codes(c) for c in ("item_code", "rater_code", "label_code"))
    if not ties:
        preference = np.isin(label, _PREFERENCES)
        item, rater, label = item[preference], rater[preference], label[preference]
    n_items, n_raters, n_labels = coded.n_items, len(coded.rater_ids), len(frames.CHOICES)
    counts = np.bincount(item * n_labels + label, minlength=n_items * n_labels)
    counts = counts.reshape(n_items, n_labels)
    same, total = _pairs_of(counts).sum(axis=1), _pairs_of(counts.sum(axis=1))
    # A rater's own votes on one item (both orders of a pair) are not compared.
    key = item * n_raters + rater
    if pl.Series(key).n_unique() < key.size:
        keys, _, key_counts = _factorize(key)
        own = np.bincount(keys // n_raters, weights=_pairs_of(key_counts), minlength=n_items)
        label_keys, _, label_counts = _factorize(key * n_labels + label)
        owner = label_keys // n_labels // n_raters
        own_same = np.bincount(owner, weights=_pairs_of(label_counts), minlength=n_items)
        total, same = total - own.astype(np.int64), same - own_same.astype(np.int64)
    kept = np.flatnonzero(total > 0)
    return kept, np.stack([same[kept], total[kept]], axis=1)


def _ratio(totals: Floats) -> Floats:
    result: Floats = totals[:, 0] / totals[:, 1]
    return result


# ----------------------------------------------------------------------------- Fleiss' kappa


@overload
def fleiss_kappa(
    judgments: pl.DataFrame,
    pairs: pl.DataFrame | None = ...,
    *,
    raters_per_item: int | None = ...,
    by: None = ...,
    n_boot: int = ...,
    seed: int = ...,
    confidence: float = ...,
) -> Coefficient: ...
@overload
def fleiss_kappa(
    judgments: pl.DataFrame,
    pairs: pl.DataFrame | None = ...,
    *,
    raters_per_item: int | None = ...,
    by: str,
    n_boot: int = ...,
    seed: int = ...,
    confidence: float = ...,
) -> pl.DataFrame: ...
def fleiss_kappa(
    judgments: pl.DataFrame,
    pairs: pl.DataFrame | None = None,
    *,
    raters_per_item: int | None = None,
    by: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Coefficient | pl.DataFrame:
    """Fleiss' kappa over the items that have exactly ``raters_per_item`` raters.

    Consumes ``frames.JUDGMENTS`` and ``frames.PAIRS``; each rater's first counted vote per item
    counts (``first_item_votes``), categories are the four choices. Fleiss' kappa assumes the same
    number of raters on every item, so items with another number are left out; ``raters_per_item``
    defaults to the most common number among items with at least two raters (the larger on a draw).
    Use ``krippendorff_alpha`` to count every item. ``n`` is the number of items used.

    >>> votes = pl.DataFrame({"pair_id": ["p1", "p1", "p2", "p2"],
    ...                       "rater_id": ["r1", "r2", "r1", "r2"], "choice": ["a", "a", "b", "b"]})
    >>> fleiss_kappa(votes, n_boot=0).estimate
    1.0
    """
    coded = _coded(judgments, pairs).first_vote_per_rater()
    counts = _value_counts(coded, "label_code", len(frames.CHOICES))
    sizes = counts.sum(axis=1)
    if raters_per_item is None:
        frequency = np.bincount(sizes[sizes >= 2], minlength=3)
        raters_per_item = int(np.flatnonzero(frequency == frequency.max()).max())
    m = raters_per_item
    unit_items = np.flatnonzero(sizes == m)

    def features(rows: Ints) -> Floats:
        # Per item: the label counts and the sum of their squares.
        values = rows.astype(np.float64)
        return np.hstack([values, (values**2).sum(axis=1, keepdims=True)])

    def statistic(totals: Floats) -> Floats:
        label_totals, squares = totals[:, :-1], totals[:, -1]
        votes = label_totals.sum(axis=1)  # items x m
        observed = (squares - votes) / (votes * (m - 1))
        expected = ((label_totals / votes[:, np.newaxis]) ** 2).sum(axis=1)
        result: Floats = (observed - expected) / (1 - expected)
        return result

    return _coefficient(
        "fleiss_kappa",
        coded,
        unit_items,
        counts[unit_items],
        features,
        statistic,
        unit_n=None,
        pairs=pairs,
        by=by,
        n_boot=n_boot,
        seed=seed,
        confidence=confidence,
    )


# ----------------------------------------------------------------------------- Krippendorff


@overload
def krippendorff_alpha(
    judgments: pl.DataFrame,
    pairs: pl.DataFrame | None = ...,
    *,
    level_of_measurement: Literal["nominal", "ordinal"] = ...,
    by: None = ...,
    n_boot: int = ...,
    seed: int = ...,
    confidence: float = ...,
) -> Coefficient: ...
@overload
def krippendorff_alpha(
    judgments: pl.DataFrame,
    pairs: pl.DataFrame | None = ...,
    *,
    level_of_measurement: Literal["nominal", "ordinal"] = ...,
    by: str,
    n_boot: int = ...,
    seed: int = ...,
    confidence: float = ...,
) -> pl.DataFrame: ...
def krippendorff_alpha(
    judgments: pl.DataFrame,
    pairs: pl.DataFrame | None = None,
    *,
    level_of_measurement: Literal["nominal", "ordinal"] = "nominal",
    by: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Coefficient | pl.DataFrame:
    """Krippendorff's alpha for any overlap, missing votes allowed.

    Consumes ``frames.JUDGMENTS`` and ``frames.PAIRS``; each rater's first counted vote per item
    counts (``first_item_votes``). ``nominal`` compares the four choices; ``ordinal`` compares the
    signed strength scale -3 (a much better) .. 0 (tie) .. 3 (b much better), leaving ``both_bad``
    votes out. The coincidence matrix is summed from per-item value counts (one ``bincount`` over
    the long votes), never from a raters x items matrix. ``n`` counts the items with two or more
    votes.

    >>> votes = pl.DataFrame({"pair_id": ["p1", "p1", "p2", "p2", "p3", "p3"],
    ...                       "rater_id": ["r1", "r2"] * 3,
    ...                       "choice": ["a", "a", "b", "b", "a", "b"]})
    >>> round(krippendorff_alpha(votes, n_boot=0).estimate, 4)  # 1 - 2 / 3.6
    0.4444
    """
    if level_of_measurement not in ("nominal", "ordinal"):
        raise ValueError(
            f"level_of_measurement must be nominal or ordinal, not {level_of_measurement!r}"
        )
    coded = _coded(judgments, pairs).first_vote_per_rater()
    if level_of_measurement == "nominal":
        n_values = len(frames.CHOICES)
        counts = _value_counts(coded, "label_code", n_values)
    else:
        n_values = len(_SCORES)
        counts = _value_counts(coded, "score_code", n_values)
    unit_items = np.flatnonzero(counts.sum(axis=1) >= 2)

    def features(rows: Ints) -> Floats:
        # The item's share of the coincidence matrix: (n n' - diag n) / (m - 1), flattened.
        values = rows.astype(np.float64)
        pairable = values.sum(axis=1)[:, np.newaxis, np.newaxis] - 1
        outer = values[:, :, np.newaxis] * values[:, np.newaxis, :]
        diagonal = values[:, :, np.newaxis] * np.eye(n_values)
        shares: Floats = ((outer - diagonal) / pairable).reshape(len(rows), -1)
        return shares

    def statistic(totals: Floats) -> Floats:
        coincidences = totals.reshape(-1, n_values, n_values)
        value_totals = coincidences.sum(axis=1)
        n = value_totals.sum(axis=1)[:, np.newaxis, np.newaxis]
        expected = (
            value_totals[:, :, np.newaxis] * value_totals[:, np.newaxis, :]
            - value_totals[:, :, np.newaxis] * np.eye(n_values)
        ) / (n - 1)
        if level_of_measurement == "nominal":
            distance = np.broadcast_to(1.0 - np.eye(n_values), coincidences.shape)
        else:
            distance = _ordinal_distances(value_totals)
        observed_disagreement = (coincidences * distance).sum(axis=(1, 2))
        result: Floats = 1 - observed_disagreement / (expected * distance).sum(axis=(1, 2))
        return result

    return _coefficient(
        f"krippendorff_alpha_{level_of_measurement}",
        coded,
        unit_items,
        counts[unit_items],
        features,
        statistic,
        unit_n=None,
        pairs=pairs,
        by=by,
        n_boot=n_boot,
        seed=seed,
        confidence=confidence,
    )


def _ordinal_distances(value_totals: Floats) -> Floats:
    """Krippendorff's ordinal metric per draw: (sum of n_g for g in [c, k] - (n_c + n_k)/2)^2."""
    cumulative = np.cumsum(value_totals, axis=1)
    below = cumulative - value_totals  # sum of n_g for g < c
    index = np.arange(value_totals.shape[1])
    lower, upper = np.minimum.outer(index, index), np.maximum.outer(index, index)
    between = cumulative[:, upper] - below[:, lower]
    halves = (value_totals[:, :, np.newaxis] + value_totals[:, np.newaxis, :]) / 2
    result: Floats = (between - halves) ** 2
    return result


# ----------------------------------------------------------------------------- Cohen's kappa


def cohen_kappa(
    judgments: pl.DataFrame,
    pairs: pl.DataFrame | None = None,
    *,
    min_overlap: int = 10,
    by: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Cohen's kappa for every pair of raters sharing at least ``min_overlap`` items.

    Consumes ``frames.JUDGMENTS`` and ``frames.PAIRS``; each rater's first counted vote per item
    counts (``first_item_votes``). Returns one row per rater pair (``rater_a < rater_b``; per slice
    with ``by=``): ``rater_a, rater_b, n`` (shared items), ``agreement`` (observed share equal),
    ``estimate, ci_low, ci_high``. All pairs are counted in one pass: the votes of each item are
    paired by offset, cross-tables are one ``bincount``, and the bootstrap draws every pair's table
    from a multinomial over its cells (the same as resampling its shared items).

    >>> votes = pl.DataFrame({"pair_id": ["p1", "p2", "p3", "p1", "p2", "p3"],
    ...                       "rater_id": ["r1"] * 3 + ["r2"] * 3,
    ...                       "choice": ["a", "b", "a", "a", "b", "b"]})
    >>> kappa = cohen_kappa(votes, min_overlap=3, n_boot=0)
    >>> kappa["rater_a"][0], kappa["n"][0], round(kappa["estimate"][0], 4)
    ('r1', 3, 0.4)
    """
    coded = _coded(judgments, pairs).first_vote_per_rater()
    slice_names: list[str | None] = [None]
    if by is None:
        item, rater, label = (coded.codes(c) for c in ("item_code", "rater_code", "label_code"))
        slice_code = np.zeros_like(item)
    else:
        frame = coded.frame.join(_item_slices(coded, pairs, by), on="item_id")
        slice_names += frame[by].drop_nulls().cast(pl.String).unique().sort().to_list()
        rank = pl.col(by).cast(pl.String).rank("dense")  # null stays null: slice 0
        frame = frame.with_columns(slice_code=rank.fill_null(0).cast(pl.Int64))
        item, rater, label, slice_code = (
            frame[column].to_numpy().astype(np.int64)
            for column in ("item_code", "rater_code", "label_code", "slice_code")
        )
    present = np.flatnonzero(np.bincount(label, minlength=1))
    label = np.searchsorted(present, label)  # observed labels only: smaller tables
    n_items, n_raters, n_labels = coded.n_items, len(coded.rater_ids), max(len(present), 1)

    # Sort by slice, item, rater: the votes of one item are adjacent, each followed by those of
    # raters with larger codes. Pair them by offset (an item has few votes).
    group = slice_code * n_items + item
    order = np.argsort(group * n_raters + rater)
    group, rater, label = group[order], rater[order], label[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True])
    longest = int(np.diff(starts).max(initial=1))
    left_rows, right_rows = [], []
    for offset in range(1, longest):
        same = np.flatnonzero(group[:-offset] == group[offset:])
        left_rows.append(same)
        right_rows.append(same + offset)
    left = np.concatenate(left_rows) if left_rows else np.empty(0, np.int64)
    right = np.concatenate(right_rows) if right_rows else np.empty(0, np.int64)
    slice_of = group[left] // max(n_items, 1)
    key = (slice_of * n_raters + rater[left]) * n_raters + rater[right]
    pair_keys, pair_index, _ = _factorize(key, size=len(slice_names) * n_raters**2)
    cells = (pair_index * n_labels + label[left]) * n_labels + label[right]
    tables = np.bincount(cells, minlength=len(pair_keys) * n_labels**2)
    tables = tables.reshape(-1, n_labels, n_labels)
    kept = tables.sum(axis=(1, 2)) >= min_overlap
    tables, pair_keys = tables[kept], pair_keys[kept]

    estimates, agreement = _kappa(tables.astype(np.float64))
    low, high = _kappa_intervals(tables, n_boot=n_boot, seed=seed, confidence=confidence)
    result = pl.DataFrame(
        {
            "slice": pl.Series(slice_names, dtype=pl.String).gather(
                pair_keys // (n_raters * n_raters)
            ),
            "rater_a": coded.rater_ids.gather((pair_keys // n_raters) % n_raters),
            "rater_b": coded.rater_ids.gather(pair_keys % n_raters),
            "n": tables.sum(axis=(1, 2)).astype(np.int64),
            "agreement": agreement,
            "estimate": estimates,
            "ci_low": low,
            "ci_high": high,
        },
    ).with_columns(pl.col("estimate", "ci_low", "ci_high").fill_nan(None))
    if by is None:
        return result.drop("slice")
    return result.rename({"slice": by}).sort(by, "rater_a", "rater_b", nulls_last=True)


def _kappa(tables: Floats) -> tuple[Floats, Floats]:
    """Cohen's kappa and observed agreement of cross-tables ``(..., K, K)``."""
    n = tables.sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = np.einsum("...ii->...", tables) / n
        chance = np.einsum("...i,...i->...", tables.sum(axis=-1), tables.sum(axis=-2)) / n**2
        kappa: Floats = (observed - chance) / (1 - chance)
    # Both raters used one single label throughout: chance agreement is 1, kappa undefined.
    kappa[chance > 1 - 1e-12] = np.nan
    return kappa, observed


def _kappa_intervals(
    tables: Ints, *, n_boot: int, seed: int, confidence: float
) -> tuple[Floats, Floats]:
    """Percentile intervals of every table's kappa, redrawing its cells from a multinomial."""
    n_pairs = len(tables)
    low, high = np.full(n_pairs, np.nan), np.full(n_pairs, np.nan)
    if n_boot <= 0 or n_pairs == 0:
        return low, high
    rng = np.random.default_rng(seed)
    flat = tables.reshape(n_pairs, -1)
    sizes = flat.sum(axis=1)
    shares = flat / sizes[:, np.newaxis]
    step = max(1, _CHUNK // (n_boot * flat.shape[1]))
    for start in range(0, n_pairs, step):
        stop = min(start + step, n_pairs)
        draws = rng.multinomial(
            np.repeat(sizes[start:stop, np.newaxis], n_boot, axis=1),
            shares[start:stop, np.newaxis, :],
        )
        kappas, _ = _kappa(draws.reshape(*draws.shape[:2], *tables.shape[1:]).astype(np.float64))
        low[start:stop], high[start:stop] = _row_percentiles(kappas, confidence)
    return low, high


# ----------------------------------------------------------------------------- per item


def pair_agreement(judgments: pl.DataFrame, pairs: pl.DataFrame | None = None) -> pl.DataFrame:
    """How disputed each item is: one row per item, every counted vote counted.

    Consumes ``frames.JUDGMENTS`` and ``frames.PAIRS`` (``counted_votes``: retests and probe
    pairs are not votes). Returns ``item_id`` (its smallest ``pair_id``), ``n_pairs`` (pairs
    merged into the item), ``n_votes``, ``n_raters``, ``votes_a, votes_b, votes_tie,
    votes_both_bad`` (from the item's sides: ``a`` is the
    alphabetically first model when the pairs name two models), ``majority`` (null on a
    draw), ``majority_share``, ``agreement`` (share of agreeing vote pairs of different
    raters; null with fewer than two raters) and ``entropy`` (of the vote distribution, in
    bits: 0 unanimous, log2(3) for an even a/b/tie split).

    >>> votes = pl.DataFrame({"pair_id": ["p1"] * 3, "rater_id": ["r1", "r2", "r3"],
    ...                       "choice": ["a", "a", "b"]})
    >>> pair_agreement(votes).select("majority", "agreement").row(0)
    ('a', 0.3333333333333333)
    """
    coded = _coded(judgments, pairs)
    counts = _value_counts(coded, "label_code", len(frames.CHOICES))
    n_votes = counts.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = counts / n_votes[:, np.newaxis]
        entropy = -np.where(counts > 0, shares * np.log2(shares), 0.0).sum(axis=1)
    top = counts.max(axis=1)
    unique_top = (counts == top[:, np.newaxis]).sum(axis=1) == 1
    agreement = np.full(len(counts), np.nan)
    unit_items, units = _agreement_units(coded, ties=True)
    agreement[unit_items] = units[:, 0] / units[:, 1]
    distinct = (
        coded.frame.group_by("item_code")
        .agg(n_pairs=pl.col("pair_id").n_unique(), n_raters=pl.col("rater_id").n_unique())
        .sort("item_code")
    )
    return pl.DataFrame(
        {
            "item_id": coded.item_ids,
            "n_pairs": distinct["n_pairs"].cast(pl.Int64),
            "n_votes": n_votes,
            "n_raters": distinct["n_raters"].cast(pl.Int64),
            **{f"votes_{choice}": counts[:, k] for k, choice in enumerate(frames.CHOICES)},
            "majority": pl.Series(np.where(unique_top, counts.argmax(axis=1), -1)).replace_strict(
                dict(enumerate(frames.CHOICES)), default=None, return_dtype=pl.String
            ),
            "majority_share": top / n_votes,
            "agreement": agreement,
            "entropy": entropy,
        }
    ).with_columns(pl.col("agreement").fill_nan(None))
