"""The bundled demo set in ``data/demo``, loaded by ``intentgap demo`` (``make run``).

The pairs are hand-written to show the gap between what raters reward and what was meant.
Besides the file contract, these tests keep the set honest as a teaching example: the intended
answer (``gold``) must not be predictable from the side, the length or the model name.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import re
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from data import frames
from data.store import Project, Store

DEMO = Path(str(resources.files("data").joinpath("demo")))
PAIRS_FILE = DEMO / "pairs.jsonl"

#: Every line carries exactly these keys; ``prompt_messages`` is null unless multi-turn.
PAIR_KEYS = {
    "pair_id",
    "prompt",
    "prompt_messages",
    "response_a",
    "response_b",
    "category",
    "model_a",
    "model_b",
    "gold",
    "gold_principle",
    "is_gold",
    "note",
}
CATEGORIES = {
    "fabrication",
    "sycophancy",
    "flattery",
    "length",
    "refusal",
    "harmlessness",
    "instruction-following",
    "coding",
    "formatting",
    "multi-turn",
}
XSS_PAYLOADS = ("<script>alert(1)</script>", "<img src=x onerror=alert(2)>")

Pair = dict[str, Any]


@pytest.fixture(scope="module")
def pairs() -> list[Pair]:
    with PAIRS_FILE.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def settings() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DEMO / "project.json").read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def guidelines() -> str:
    return (DEMO / "guidelines.md").read_text(encoding="utf-8")


def demo_project(settings: dict[str, Any], guidelines: str) -> Project:
    """The project as ``intentgap demo`` builds it: project.json plus guidelines.md."""
    as_tuples = {key: tuple(settings[key]) for key in ("principles", "flags")}
    return Project(**{**settings, **as_tuples}, guidelines=guidelines)


def without_ties(pairs: list[Pair]) -> list[Pair]:
    return [p for p in pairs if p["gold"] != "tie"]


def gold_response(pair: Pair) -> str:
    return str(pair[f"response_{pair['gold']}"])


def other_response(pair: Pair) -> str:
    return str(pair["response_b" if pair["gold"] == "a" else "response_a"])


# -- the pairs file ------------------------------------------------------------------------------


def test_every_line_is_a_complete_pair(pairs: list[Pair]) -> None:
    assert len(pairs) >= 72
    for pair in pairs:
        assert set(pair) == PAIR_KEYS, pair["pair_id"]
        for text in ("prompt", "response_a", "response_b", "note", "model_a", "model_b"):
            assert isinstance(pair[text], str) and pair[text].strip(), (pair["pair_id"], text)
        assert pair["response_a"] != pair["response_b"]
        assert isinstance(pair["is_gold"], bool)


def test_pair_ids_are_unique_short_and_name_their_category(pairs: list[Pair]) -> None:
    ids = [p["pair_id"] for p in pairs]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"demo-[a-z]+-\d{2}", i) for i in ids)
    # One id prefix per category, e.g. demo-fab-01 is always a fabrication pair.
    prefixes = {(p["pair_id"].split("-")[1], p["category"]) for p in pairs}
    assert len(prefixes) == len({c for _, c in prefixes}) == len({k for k, _ in prefixes})


def test_every_category_has_at_least_six_pairs(pairs: list[Pair]) -> None:
    counts = Counter(p["category"] for p in pairs)
    assert set(counts) == CATEGORIES | {"security"}
    assert min(counts[c] for c in CATEGORIES) >= 6
    assert counts["security"] == 1


def test_gold_is_a_b_or_tie_and_balanced_between_sides(pairs: list[Pair]) -> None:
    golds = Counter(p["gold"] for p in pairs)
    assert set(golds) == set(frames.GOLD_CHOICES)
    decided = golds["a"] + golds["b"]
    assert golds["a"] / decided <= 0.6
    assert golds["b"] / decided <= 0.6
    assert 3 <= golds["tie"] <= 0.1 * len(pairs)  # a few ties, so "tie" is a real option


def test_the_longer_response_is_not_the_answer_key(pairs: list[Pair]) -> None:
    decided = without_ties(pairs)
    longer_wins = sum(len(gold_response(p)) > len(other_response(p)) for p in decided)
    assert 0.35 <= longer_wins / len(decided) <= 0.65
    # And within the length category both directions are represented.
    length_pairs = [p for p in decided if p["category"] == "length"]
    assert {len(gold_response(p)) > len(other_response(p)) for p in length_pairs} == {True, False}


def test_models_are_fictional_varied_and_not_the_answer_key(pairs: list[Pair]) -> None:
    models = {m for p in pairs for m in (p["model_a"], p["model_b"])}
    assert 4 <= len(models) <= 6
    assert all(p["model_a"] != p["model_b"] for p in pairs)
    wins: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for pair in without_ties(pairs):
        wins[pair[f"model_{pair['gold']}"]] += 1
        seen.update([pair["model_a"], pair["model_b"]])
    assert all(0.2 <= wins[m] / seen[m] <= 0.8 for m in models)


def test_gold_principles_are_the_project_principles(
    pairs: list[Pair], settings: dict[str, Any]
) -> None:
    used = {p["gold_principle"] for p in pairs}
    assert used <= set(settings["principles"])
    assert len(used) >= 5  # the set exercises most principles, not just one


def test_hidden_gold_items_are_few_unambiguous_and_on_both_sides(
    pairs: list[Pair], settings: dict[str, Any]
) -> None:
    hidden = [p for p in pairs if p["is_gold"]]
    assert 8 <= len(hidden) <= 16
    assert abs(len(hidden) / len(pairs) - settings["gold_rate"]) < 0.05
    sides = Counter(p["gold"] for p in hidden)
    assert set(sides) == {"a", "b"}  # a gold check never hinges on a tie
    assert min(sides.values()) >= len(hidden) // 3
    assert len({p["category"] for p in hidden}) >= 6


def test_multi_turn_prompts_are_conversations_rendered_as_plain_text(pairs: list[Pair]) -> None:
    conversations = [p for p in pairs if p["prompt_messages"] is not None]
    assert {p["category"] for p in conversations} == {"multi-turn"}
    assert len(conversations) == sum(p["category"] == "multi-turn" for p in pairs)
    for pair in conversations:
        turns = json.loads(pair["prompt_messages"])
        assert isinstance(turns, list) and len(turns) >= 3
        assert all(set(turn) == {"role", "content"} and turn["content"].strip() for turn in turns)
        # User and assistant alternate, and the user speaks last: the responses answer them.
        assert [t["role"] for t in turns] == ["user", "assistant"] * (len(turns) // 2) + ["user"]
        rendered = "\n\n".join(f"{t['role'].capitalize()}: {t['content']}" for t in turns)
        assert pair["prompt"] == rendered


def test_the_xss_pair_carries_literal_payloads_for_the_app_to_show_as_text(
    pairs: list[Pair],
) -> None:
    (security,) = [p for p in pairs if p["category"] == "security"]
    both = security["response_a"] + security["response_b"]
    assert all(payload in both for payload in XSS_PAYLOADS)
    # At least one payload sits in running prose, outside a code block, where escaping matters.
    prose = re.sub(r"```.*?```|`[^`]*`", "", both, flags=re.DOTALL)
    assert any(payload in prose for payload in XSS_PAYLOADS)


def test_polars_reads_the_file_into_the_pairs_contract() -> None:
    frame = pl.read_ndjson(PAIRS_FILE)
    # Only the note is extra: it is kept as metadata, every other column is a PAIRS column.
    assert set(frame.columns) - set(frames.PAIRS) == {"note"}
    conformed = frames.conform(frame, frames.PAIRS)
    assert conformed.schema == pl.Schema(frames.PAIRS)
    assert conformed["is_gold"].sum() == frame["is_gold"].sum()


# -- the project ---------------------------------------------------------------------------------


def test_project_json_has_every_project_field_except_the_guidelines_text(
    settings: dict[str, Any],
) -> None:
    fields = {f.name for f in dataclasses.fields(Project)}
    # The guidelines live in guidelines.md, so they can be read and edited as Markdown.
    assert set(settings) == fields - {"guidelines"}
    assert settings["project_id"] == "demo"
    assert settings["is_demo"] is True
    assert 5 <= len(settings["principles"]) <= 7
    assert settings["flags"] == ["fabrication", "unsafe", "refuses needlessly"]


def test_guidelines_explain_every_principle_flag_and_choice(
    settings: dict[str, Any], guidelines: str
) -> None:
    text = guidelines.lower()
    for word in [*settings["principles"], *settings["flags"], "tie", "both bad"]:
        assert word in text, word
    for label in frames.STRENGTH_LABELS.values():
        assert label.split()[0] in text  # slightly / clearly / much
    assert 300 <= len(guidelines.split()) <= 700  # half a page to a page


def test_the_demo_project_round_trips_through_the_store(
    store: Store, settings: dict[str, Any], guidelines: str
) -> None:
    project = demo_project(settings, guidelines)
    store.save_project(project)
    assert store.project("demo") == project


# -- the importer (data/importers.py, written separately) ----------------------------------------


def _importers() -> Any:
    if importlib.util.find_spec("data.importers") is None:
        pytest.skip("data/importers.py does not exist yet; it is written by another engineer")
    return importlib.import_module("data.importers")


def test_the_importer_reads_the_demo_file_without_duplicates(pairs: list[Pair]) -> None:
    batch = _importers().read_file(PAIRS_FILE)
    assert batch.duplicates == []
    assert batch.pairs.height == len(pairs)
    # The file's readable ids are kept, not replaced by content hashes.
    assert batch.pairs["pair_id"].to_list() == [p["pair_id"] for p in pairs]
    assert batch.pairs["gold"].to_list() == [p["gold"] for p in pairs]
    assert batch.pairs["is_gold"].sum() == sum(p["is_gold"] for p in pairs)
    conversation = batch.pairs.filter(pl.col("pair_id") == "demo-mt-02").row(0, named=True)
    (original,) = [p for p in pairs if p["pair_id"] == "demo-mt-02"]
    assert json.loads(conversation["prompt_messages"]) == json.loads(original["prompt_messages"])
    assert json.loads(conversation["metadata"])["note"] == original["note"]


def test_loading_the_demo_twice_adds_nothing_the_second_time(
    store: Store, pairs: list[Pair], settings: dict[str, Any], guidelines: str
) -> None:
    importers = _importers()
    store.save_project(demo_project(settings, guidelines))
    first = importers.import_file(store, PAIRS_FILE, "demo").counts
    again = importers.import_file(store, PAIRS_FILE, "demo").counts
    assert (first.pairs_new, again.pairs_new, again.pairs_existing) == (len(pairs), 0, len(pairs))
    assert store.pairs("demo").height == len(pairs)


# -- the simulated rater pool (pool.json), whose votes the demo loads ----------------------------

POOL_FILE = DEMO / "pool.json"
#: Raters in pool.json carrying a planted blind spot, and the check that should flag each.
PLANTED = {
    "sim-dev": "position",
    "sim-eve": "length",
    "sim-finn": "speed",
    "sim-gia": "style",
    "sim-hal": "ties",
    "sim-ivy": "probe",
}


@pytest.fixture(scope="module")
def pool_rows() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads(POOL_FILE.read_text(encoding="utf-8"))
    return loaded


def test_every_pool_rater_is_a_rater_profile_with_a_note(pool_rows: list[dict[str, Any]]) -> None:
    from labeling.demo import pool_from
    from labeling.simulate import RaterProfile

    fields = {f.name for f in dataclasses.fields(RaterProfile)}
    for row in pool_rows:
        assert set(row) - {"note"} <= fields, row["rater_id"]
        assert row["note"].strip() and row["rater_id"].startswith("sim-")
    assert [r.rater_id for r in pool_from(pool_rows)] == [row["rater_id"] for row in pool_rows]


def test_the_audit_flags_every_planted_blind_spot_and_no_careful_rater(
    pairs: list[Pair], pool_rows: list[dict[str, Any]]
) -> None:
    from labeling.blind_spots import find_blind_spots
    from labeling.demo import demo_probe_pairs, demo_votes, pool_from
    from labeling.susceptibility import POOL

    frame = frames.conform(pl.read_ndjson(PAIRS_FILE), frames.PAIRS)
    frame = pl.concat([frame, demo_probe_pairs(frame)])
    votes = demo_votes(frame, pool_from(pool_rows))
    assert votes.height == frame.height * len(pool_rows), "every rater votes on every pair"
    assert frame.height > len(pairs), "and on the probe pairs"
    flagged = find_blind_spots(votes, frame).filter("flagged")
    found = set(flagged.select("rater_id", "kind").iter_rows())
    assert {(rater, kind) for rater, kind in PLANTED.items()} <= found
    # The pool as a whole may lean toward an edit (one of nine raters swayed): a finding of
    # "(all raters)", not of a careful rater.
    assert set(flagged["rater_id"]) - {POOL} == set(PLANTED), "the careful raters are not flagged"
