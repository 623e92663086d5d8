"""Property: frames -> store -> preference set -> snapshot -> read back loses nothing.

Generated pairs and votes go through the real store (``import_frames``), are read back with
``store.pairs()``/``store.judgments()``, built and written as a snapshot, and read again. The
votes must come back identical, and every pair's texts (unicode, quotes, newlines, very long
text) must survive as ``prompt``/``chosen``/``rejected``.
"""

from __future__ import annotations

import itertools
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from data import frames
from data.export import read_snapshot, write_snapshot
from data.store import Project, Store
from labeling.preference_set import ExportOptions, build_preferences

# Empty or blank responses are invalid input, so every text has a visible character; NUL
# (U+0000) is refused on import (no database stores it: test_store_engines.py).
short_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip() != "")
tricky_text = st.sampled_from(["\"quoted\" 'both'", "line\nbreak\r\n\ttab", "ünï 中文 🙂", "\\n"])
long_text = st.builds(lambda piece, n: piece * n, short_text, st.integers(500, 3000))
texts = st.one_of(short_text, tricky_text, long_text)
maybe_text = st.none() | short_text
labels = st.lists(short_text, max_size=3)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@st.composite
def pairs_and_votes(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Between 1 and 5 pairs, and 0 to 4 raters who vote on some of them, in up to 2 rounds."""
    n_pairs = draw(st.integers(1, 5))
    pairs = [
        {
            "pair_id": f"p{i}",
            "prompt": draw(texts),
            "response_a": draw(texts),
            "response_b": draw(texts),
            "category": draw(maybe_text),
            "model_a": draw(maybe_text),
            "model_b": draw(maybe_text),
            "is_gold": draw(st.booleans()),
            "metadata": draw(st.none() | st.just('{"note": "ünï"}')),
        }
        for i in range(n_pairs)
    ]
    raters = draw(st.lists(short_text, max_size=4, unique=True))
    votes = []
    for rater, pair, round_ in itertools.product(raters, range(n_pairs), (0, 1)):
        if not draw(st.booleans()):
            continue
        choice = draw(st.sampled_from(frames.CHOICES))
        votes.append(
            {
                "pair_id": f"p{pair}",
                "rater_id": rater,
                "round": round_,
                "choice": choice,
                "strength": draw(st.none() | st.integers(1, 3)) if choice in frames.SIDES else None,
                "shown_left": draw(st.none() | st.sampled_from(frames.SIDES)),
                "seconds": draw(st.none() | st.floats(0, 1e6, allow_nan=False)),
                "created_at": draw(moments),
                "rationale": draw(st.none() | texts),
                "principles": draw(st.none() | labels),
                "flags": draw(st.none() | labels),
                "is_gold": draw(st.booleans()),
                "source": draw(maybe_text),
            }
        )
    return pairs, votes


examples = itertools.count()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(generated=pairs_and_votes(), ties=st.sampled_from(["drop", "soft"]))
def test_votes_and_texts_survive_store_and_snapshot(
    store: Store,
    generated: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    ties: Literal["drop", "soft"],
) -> None:
    # One store serves every example: each gets its own project and its own ids.
    project_id = f"prop{next(examples)}"
    store.save_project(Project(project_id, project_id))
    pair_rows, vote_rows = generated
    for row in [*pair_rows, *vote_rows]:
        row["pair_id"] = f"{project_id}:{row['pair_id']}"
    for number, row in enumerate(vote_rows):
        row["submission_id"] = f"{project_id}:s{number}"
    pairs = frames.conform(pl.DataFrame(pair_rows, infer_schema_length=None), frames.PAIRS)
    votes = (
        pl.DataFrame(vote_rows, schema=frames.JUDGMENTS)
        if vote_rows
        else frames.empty(frames.JUDGMENTS)
    )
    store.import_frames(pairs, votes, project_id)

    stored_pairs = store.pairs(project_id)
    stored_votes = store.judgments(project_id)
    assert_frame_equal(stored_votes, votes.sort("created_at", "submission_id"))

    options = ExportOptions(ties=ties)
    preferences = build_preferences(stored_pairs, stored_votes, options)
    with tempfile.TemporaryDirectory() as folder:
        manifest = write_snapshot(
            Path(folder) / "snap",
            preferences,
            stored_votes,
            options=options.as_dict(),
            schema_version=store.schema_version,
            source=project_id,
        )
        read_preferences, read_votes, read_manifest = read_snapshot(Path(folder) / "snap")

    assert read_manifest == manifest
    assert_frame_equal(read_votes, stored_votes)
    assert_frame_equal(read_preferences, preferences)
    originals = {row["pair_id"]: row for row in pair_rows}
    for row in read_preferences.iter_rows(named=True):
        pair = originals[row["pair_id"]]
        assert row["prompt"] == pair["prompt"]
        other_side = "b" if row["chosen_side"] == "a" else "a"
        assert row["chosen"] == pair[f"response_{row['chosen_side']}"]
        assert row["rejected"] == pair[f"response_{other_side}"]
        assert row["metadata"] == pair["metadata"]
    voted = {row["pair_id"] for row in vote_rows}
    if ties == "soft":
        assert set(read_preferences["pair_id"]) == voted
    assert manifest.counts["judgments"] == len(vote_rows)
