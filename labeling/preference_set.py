"""Votes in, a TRL-shaped preference set out: one row per pair with chosen, rejected and
the vote statistics behind them (``frames.PREFERENCES``).

Building is pure (polars in, polars out); ``data.export`` writes the result. The one call the
CLI and the admin page use is ``export_snapshot``: store -> build -> snapshot folder.

By default the set counts what every statistic counts (``agreement.counted_votes``): each
rater's first vote on a pair (a retest is a consistency check, not another vote), and no
probe pair (an artificial test of the raters: a surface edit on the intended loser, with its
intended answer as ``gold``). ``ExportOptions.first_round_only`` and ``with_probes`` turn
either off; the manifest records both. ``judgments.parquet`` keeps every vote, and the
snapshot's ``probes.parquet`` (``probe_rows``) names the probe pairs among their pairs, which
marks the votes on them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import polars as pl

from data import frames
from data.export import PROBES, Manifest, write_snapshot
from labeling.agreement import first_vote, probe_pair_ids
from labeling.bias_card import build_bias_card
from labeling.reliability import DawidSkene

if TYPE_CHECKING:  # reward/ imports this module and must never load the store
    from data.store import Store

__all__ = ["ExportOptions", "build_preferences", "export_snapshot", "kept_votes"]


@dataclass(frozen=True)
class ExportOptions:
    """Which votes count and which pairs leave in the preference set.

    Vote filters (applied first, before counting): ``exclude_raters``, ``only_sources``,
    ``first_round_only``. Pair filters (applied to the counts): ``with_probes``,
    ``min_judgments``, ``min_agreement``, ``ties``, ``both_bad``, ``include_gold``. The
    defaults count what the audit counts (``agreement.counted_votes``).
    """

    #: Pairs with fewer votes (after the vote filters) are left out. At least 1.
    min_judgments: int = 1
    #: Pairs whose ``agreement`` (share of votes equal to the plurality choice) is lower are
    #: left out.
    min_agreement: float = 0.0
    #: ``drop`` leaves tied pairs out; ``soft`` keeps them with ``label = 0.5``, ``is_tie``.
    ties: Literal["drop", "soft"] = "drop"
    #: ``drop`` leaves out pairs where "both bad" outnumbers every other choice: the raters
    #: said neither response deserves to be ``chosen``.
    both_bad: Literal["keep", "drop"] = "keep"
    #: Hidden gold items (``is_gold``) in or out.
    include_gold: bool = True
    #: Votes of these raters are ignored (e.g. raters an audit found unreliable).
    exclude_raters: tuple[str, ...] = ()
    #: Only votes whose ``source`` is listed count (``ui`` = collected in the app); None: all.
    only_sources: tuple[str, ...] | None = None
    #: Count a rater once per pair: their first vote, the lowest ``round``
    #: (``agreement.first_vote``, the house's one rule). Later rounds are retests, served to
    #: measure a rater's consistency; counted, a noisy rater's coin flips would outvote their
    #: first answers. False counts every round as another vote, as exports did before this
    #: was the default (their manifests say ``first_round_only: false``).
    first_round_only: bool = True
    #: Probe pairs (``probe_kind`` set: a surface edit made to test the raters) in or out.
    #: Out by default: they are artificial, and their votes were meant to be swayed. In, they
    #: are counted like any pair (their ``gold`` is the intended side); the snapshot's
    #: ``probes.parquet`` names them either way.
    with_probes: bool = False
    #: Fit Dawid-Skene on the kept votes and fill ``posterior``, a soft label that trusts the
    #: reliable raters more (about 0.7 s at a million votes; off, the column is null).
    posterior: bool = False

    def __post_init__(self) -> None:
        # The CLI hands lists; keep the options hashable and comparable.
        object.__setattr__(self, "exclude_raters", tuple(self.exclude_raters))
        if self.only_sources is not None:
            object.__setattr__(self, "only_sources", tuple(self.only_sources))
        if isinstance(self.min_judgments, bool) or not isinstance(self.min_judgments, int):
            raise TypeError(f"min_judgments must be an int, not {self.min_judgments!r}")
        if self.min_judgments < 1:
            raise ValueError(f"min_judgments must be at least 1, not {self.min_judgments}")
        if not 0.0 <= self.min_agreement <= 1.0:
            raise ValueError(f"min_agreement must lie in [0, 1], not {self.min_agreement}")
        if self.ties not in ("drop", "soft"):
            raise ValueError(f"ties must be 'drop' or 'soft', not {self.ties!r}")
        if self.both_bad not in ("keep", "drop"):
            raise ValueError(f"both_bad must be 'keep' or 'drop', not {self.both_bad!r}")
        for name in ("include_gold", "first_round_only", "with_probes", "posterior"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, not {getattr(self, name)!r}")

    def as_dict(self) -> dict[str, object]:
        """JSON-ready options (tuples as lists), as recorded in a snapshot's manifest."""
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> ExportOptions:
        """Options back from ``as_dict`` (e.g. a manifest's), to export again the same way.

        >>> ExportOptions.from_dict(ExportOptions(ties="soft").as_dict()).ties
        'soft'
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown export option(s): {', '.join(unknown)}")
        return cls(**values)  # type: ignore[arg-type]  # checked in __post_init__


_PAIR_COLUMNS = ("pair_id", "prompt", "response_a", "response_b")


def build_preferences(
    pairs: pl.DataFrame, judgments: pl.DataFrame, options: ExportOptions = ExportOptions()
) -> pl.DataFrame:
    """One preference row per pair (``frames.PREFERENCES``), sorted by ``pair_id``.

    Consumes ``pairs`` (``frames.PAIRS``; needs ``pair_id, prompt, response_a, response_b``,
    other columns are null when absent) and ``judgments`` (``frames.JUDGMENTS``; needs
    ``pair_id, choice`` plus ``rater_id, round, source, strength`` when used; without
    ``round`` every vote is a first one). Votes on pairs absent from ``pairs`` are ignored;
    pairs without (kept) votes are left out, and so are probe pairs unless
    ``options.with_probes``.

    After the vote filters of ``options``, per pair:

    - ``votes_a, votes_b, votes_tie, votes_both_bad`` count ``choice``; ``n_judgments`` is
      their sum.
    - A side wins when it has more votes than the other side and at least as many as
      ``tie``. Otherwise (``votes_a == votes_b``, or ``tie`` has more votes than either side)
      the pair is a tie: ``is_tie``, ``chosen_side = 'a'`` by convention, ``label = 0.5``,
      ``margin = 0.0``. Ties are dropped unless ``options.ties == "soft"``.
    - ``chosen``/``rejected`` and ``model_chosen``/``model_rejected`` follow ``chosen_side``.
    - ``label`` = (votes for the chosen side + 0.5 * tie votes) / (votes_a + votes_b +
      votes_tie): the share preferring ``chosen``, ties counting half, "both bad" left out.
    - ``agreement`` = votes of the plurality choice (any of the four) / ``n_judgments``.
    - ``margin`` = mean of ``frames.STRENGTH_MARGIN[strength]`` over the votes for the chosen
      side that recorded a strength; 0.0 when none did.
    - ``posterior`` (with ``options.posterior``): the Dawid-Skene posterior that ``chosen``
      is the better response, fitted on the kept votes of every pair (of probe pairs only
      ``with_probes``): (P(chosen side) + 0.5 * P(tie)) / (1 - P(both bad)); null otherwise.
    - ``category, gold, gold_principle, is_gold, prompt_messages, metadata`` come from the
      pair.

    >>> pairs = pl.DataFrame({"pair_id": ["p1"], "prompt": ["2+2?"],
    ...                       "response_a": ["5"], "response_b": ["4"]})
    >>> votes = pl.DataFrame({"pair_id": ["p1"] * 3, "choice": ["b", "b", "tie"],
    ...                       "strength": [3, 1, None]})
    >>> build_preferences(pairs, votes).select("chosen", "label", "margin").row(0)
    ('4', 0.8333333333333334, 0.625)
    """
    _require(pairs, _PAIR_COLUMNS, "pairs")
    if pairs["pair_id"].n_unique() != pairs.height:
        raise ValueError("pairs has repeated pair_id values; one row per pair is expected")
    _require(judgments, _vote_columns(options, judgments), "judgments")
    _check_choices(judgments)
    votes = kept_votes(frames.conform(judgments, frames.JUDGMENTS).lazy(), options)
    if not options.with_probes:
        probes = probe_pair_ids(pairs)
        if len(probes):
            votes = votes.filter(~pl.col("pair_id").is_in(probes.implode()))
    counts = _count_votes(votes)
    candidates = frames.conform(pairs, frames.PAIRS).lazy()
    if not options.include_gold:
        candidates = candidates.filter(~pl.col("is_gold").fill_null(False))
    decided = _decide(candidates.join(counts, on="pair_id", how="inner"))
    decided = _with_posterior(decided, votes, fit=options.posterior)
    kept = decided.filter(
        pl.col("n_judgments") >= options.min_judgments,
        pl.col("agreement") >= options.min_agreement,
    )
    if options.ties == "drop":
        kept = kept.filter(~pl.col("is_tie"))
    if options.both_bad == "drop":
        most_other = pl.max_horizontal("votes_a", "votes_b", "votes_tie")
        kept = kept.filter(~(pl.col("votes_both_bad") > most_other))
    conformed = kept.select(pl.col(name).cast(dtype) for name, dtype in frames.PREFERENCES.items())
    return conformed.sort("pair_id").collect()


def export_snapshot(
    store: Store,
    out_dir: Path,
    *,
    project_id: str | None = None,
    options: ExportOptions = ExportOptions(),
    overwrite: bool = False,
) -> Manifest:
    """Build the preference set of one project (or all) and write it as a snapshot folder.

    ``judgments.parquet`` receives every stored vote of the project, also those the options
    left out (retests, votes on probe pairs), so the snapshot can be audited or aggregated
    again; ``probes.parquet`` names the probe pairs among them (``probe_rows``); the
    manifest records the options, and ``judgments_used`` counts the votes behind the
    preference rows.
    """
    pairs = store.pairs(project_id)
    judgments = store.judgments(project_id)
    preferences = build_preferences(pairs, judgments, options)
    source = f"{store.location} project={project_id if project_id is not None else '*'}"
    return write_snapshot(
        Path(out_dir),
        preferences,
        judgments,
        options=options.as_dict(),
        schema_version=store.schema_version,
        source=source,
        overwrite=overwrite,
        bias_card=build_bias_card(pairs, judgments, raters=store.raters()),
        probes=probe_rows(pairs, judgments),
    )


def probe_rows(pairs: pl.DataFrame, judgments: pl.DataFrame) -> pl.DataFrame:
    """A snapshot's ``probes.parquet`` (``data.export.PROBES``): every probe pair with a vote
    in ``judgments``, with its ``probe_kind``, its base pair (``probe_of``) and its intended
    side (``gold``), by ``pair_id``. A vote whose ``pair_id`` is listed is a test of its rater.

    >>> pairs = pl.DataFrame({"pair_id": ["p", "t", "u"], "probe_kind": [None, "pad", "pad"],
    ...     "probe_of": [None, "p", "p"], "gold": ["a", "b", "a"]})
    >>> probe_rows(pairs, pl.DataFrame({"pair_id": ["p", "t", "t"]})).rows()
    [('t', 'pad', 'p', 'b')]
    """
    probes = frames.conform(pairs, frames.PAIRS).filter(pl.col("probe_kind").is_not_null())
    voted = probes.join(judgments.select("pair_id").unique(), on="pair_id", how="semi")
    return voted.select(pl.col(name).cast(dtype) for name, dtype in PROBES.items()).sort("pair_id")


# -- steps -----------------------------------------------------------------------------------


def _require(frame: pl.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks the column(s) {', '.join(missing)}")


def _vote_columns(options: ExportOptions, judgments: pl.DataFrame) -> tuple[str, ...]:
    """The judgment columns these options read (the rest are null when absent). Without
    ``round`` there is no retest to leave out; with it, telling them needs ``rater_id``."""
    needed = ["pair_id", "choice"]
    if options.exclude_raters or (options.first_round_only and "round" in judgments.columns):
        needed.append("rater_id")
    if options.only_sources is not None:
        needed.append("source")
    return tuple(needed)


def _check_choices(judgments: pl.DataFrame) -> None:
    unknown = judgments.filter(~pl.col("choice").is_in(frames.CHOICES).fill_null(False))
    if unknown.height:
        values = sorted({str(v) for v in unknown["choice"].unique().to_list()})
        raise ValueError(
            f"{unknown.height} judgment(s) have a choice outside {frames.CHOICES}: "
            + ", ".join(values[:5])
        )


def kept_votes(votes: pl.LazyFrame, options: ExportOptions) -> pl.LazyFrame:
    """The vote filters: excluded raters, sources, retests (``agreement.first_vote``).

    Consumes the ``frames.JUDGMENTS`` columns these options read (conform first)."""
    if options.exclude_raters:
        votes = votes.filter(~pl.col("rater_id").is_in(options.exclude_raters).fill_null(False))
    if options.only_sources is not None:
        votes = votes.filter(pl.col("source").is_in(options.only_sources).fill_null(False))
    if options.first_round_only:
        votes = votes.filter(first_vote())
    return votes


def _count_votes(votes: pl.LazyFrame) -> pl.LazyFrame:
    """Per pair: vote counts by choice and the mean strength margin of each side's votes."""
    vote_margin = pl.col("strength").replace_strict(
        frames.STRENGTH_MARGIN, default=None, return_dtype=pl.Float64
    )
    choice = pl.col("choice")
    # Plain per-vote columns first, then plain sums and means: about twice as fast as
    # filtering inside the aggregation.
    per_vote = votes.select(
        "pair_id",
        *((choice == c).cast(pl.Int32).alias(f"votes_{c}") for c in frames.CHOICES),
        pl.when(choice == "a").then(vote_margin).alias("_margin_a"),
        pl.when(choice == "b").then(vote_margin).alias("_margin_b"),
    )
    return per_vote.group_by("pair_id").agg(
        pl.len().cast(pl.Int32).alias("n_judgments"),
        *(pl.col(f"votes_{c}").sum() for c in frames.CHOICES),
        pl.col("_margin_a").mean(),  # means skip nulls: votes without a strength
        pl.col("_margin_b").mean(),
    )


def _with_posterior(decided: pl.LazyFrame, votes: pl.LazyFrame, *, fit: bool) -> pl.LazyFrame:
    """``posterior`` from a Dawid-Skene fit of ``votes`` (see build_preferences), or null."""
    if not fit:
        return decided.with_columns(pl.lit(None, pl.Float64).alias("posterior"))
    probas = DawidSkene().fit(votes.collect()).probas_
    share = {c: pl.col(c) if c in probas.columns else pl.lit(0.0) for c in frames.CHOICES}
    chosen = pl.when(pl.col("chosen_side") == "b").then(share["b"]).otherwise(share["a"])
    judged = 1.0 - share["both_bad"]  # "both bad" left out, as in ``label``
    posterior = pl.when(judged > 0).then((chosen + 0.5 * share["tie"]) / judged)
    return decided.join(probas.lazy(), on="pair_id", how="left").with_columns(
        posterior.alias("posterior")
    )


def _decide(counted: pl.LazyFrame) -> pl.LazyFrame:
    """Chosen side, tie, label, agreement and margin from the counts (see build_preferences)."""
    a, b, tie = pl.col("votes_a"), pl.col("votes_b"), pl.col("votes_tie")
    b_wins = (b > a) & (b >= tie)
    is_tie = ~(((a > b) & (a >= tie)) | b_wins)

    def by_side(if_a: str, if_b: str) -> pl.Expr:
        return pl.when(b_wins).then(pl.col(if_b)).otherwise(pl.col(if_a))

    plurality = pl.max_horizontal("votes_a", "votes_b", "votes_tie", "votes_both_bad")
    share = (pl.when(b_wins).then(b).otherwise(a) + 0.5 * tie) / (a + b + tie)
    return counted.with_columns(
        is_tie.alias("is_tie"),
        pl.when(b_wins).then(pl.lit("b")).otherwise(pl.lit("a")).alias("chosen_side"),
        by_side("response_a", "response_b").alias("chosen"),
        by_side("response_b", "response_a").alias("rejected"),
        by_side("model_a", "model_b").alias("model_chosen"),
        by_side("model_b", "model_a").alias("model_rejected"),
        pl.when(is_tie).then(0.5).otherwise(share).alias("label"),
        (plurality / pl.col("n_judgments")).alias("agreement"),
        pl.when(is_tie)
        .then(0.0)
        .otherwise(by_side("_margin_a", "_margin_b").fill_null(0.0))
        .alias("margin"),
    )
