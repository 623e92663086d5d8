"""Importers: every format and shape, typed errors at the right line, idempotent re-imports,
and the presets on the real public data."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from itertools import combinations
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from data.importers import InputError, import_file, read_file
from data.shapes import Duplicate, pair_id_for
from data.store import Project, Store

# -- tiny hand-checkable inputs ---------------------------------------------------------------

PAIRS: list[dict[str, Any]] = [
    {"pair_id": "p1", "prompt": "2+2?", "response_a": "4", "response_b": "5",
     "category": "math", "gold": "a", "is_gold": True, "note": "easy"},
    {"pair_id": None, "prompt": "Capital of France?", "response_a": "Paris",
     "response_b": "Lyon", "category": "geo", "gold": None, "is_gold": False, "note": "no id"},
]  # fmt: skip
TRL: list[dict[str, Any]] = [
    {"prompt": f"Q{i}?", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(4)
]
VOTES: list[dict[str, Any]] = [
    {"pair_id": "p000", "rater_id": "r1", "choice": "a", "strength": 2, "shown_left": "b",
     "seconds": 12.5, "created_at": "2024-05-01T12:00:00Z", "rationale": "clearer",
     "principles": "honesty; harmlessness"},
    {"pair_id": "p001", "rater_id": "r2", "choice": "tie", "strength": None, "shown_left": None,
     "seconds": None, "created_at": None, "rationale": None, "principles": None},
]  # fmt: skip
DENORMALISED: list[dict[str, Any]] = [
    {"prompt": "2+2?", "response_a": "4", "response_b": "5", "rater_id": "r1", "choice": "a"},
    {"prompt": "2+2?", "response_a": "4", "response_b": "5", "rater_id": "r2", "choice": "b"},
    {"prompt": "1+1?", "response_a": "2", "response_b": "3", "rater_id": "r1", "choice": "a"},
]
FORMATS = ["jsonl", "jsonl.gz", "csv", "parquet"]


def write(folder: Path, name: str, rows: list[dict[str, Any]]) -> Path:
    """Write rows in the format the file name's extension says."""
    path = folder / name
    if name.endswith(".parquet"):
        pl.DataFrame(rows).write_parquet(path)
    elif name.endswith(".csv"):
        pl.DataFrame(rows).write_csv(path)
    else:
        text = "".join(json.dumps(row) + "\n" for row in rows)
        path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    return path


def write_text(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# -- formats x shapes -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_pairs_in_every_format(tmp_path: Path, fmt: str) -> None:
    batch = read_file(write(tmp_path, f"pairs.{fmt}", PAIRS))
    assert (batch.format, batch.shape) == (fmt.removesuffix(".gz"), "pairs")
    first, second = batch.pairs.rows(named=True)
    assert first["pair_id"] == "p1"
    assert (first["gold"], first["is_gold"], first["category"]) == ("a", True, "math")
    assert first["metadata"] == '{"note":"easy"}'
    assert first["source"] == f"pairs.{fmt}"
    # No id given: the content hash.
    assert second["pair_id"] == pair_id_for("Capital of France?", "Paris", "Lyon")
    assert (second["gold"], second["is_gold"]) == (None, False)
    assert batch.pair_lines.to_list() == ([1, 2] if fmt != "csv" else [2, 3])
    assert batch.judgments.height == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_trl_in_every_format(tmp_path: Path, fmt: str) -> None:
    batch = read_file(write(tmp_path, f"prefs.{fmt}", TRL))
    assert batch.shape == "trl"
    assert batch.source_raters == ("source:trl",)
    votes = batch.judgments.join(batch.pairs, on="pair_id")
    assert votes.height == 4
    for row in votes.rows(named=True):
        # The source's label points at whichever side now holds `chosen`.
        assert row[f"response_{row['choice']}"].startswith("good")
        assert row["rater_id"] == "source:trl"
        assert row["prompt"] == f"Q{row['response_a'][-1]}?"


@pytest.mark.parametrize("fmt", FORMATS)
def test_judgments_in_every_format(tmp_path: Path, fmt: str) -> None:
    batch = read_file(write(tmp_path, f"votes.{fmt}", VOTES))
    assert batch.shape == "judgments"
    first, second = batch.judgments.rows(named=True)
    assert (first["pair_id"], first["rater_id"], first["choice"]) == ("p000", "r1", "a")
    assert (first["strength"], first["shown_left"], first["seconds"]) == (2, "b", 12.5)
    assert first["created_at"].isoformat() == "2024-05-01T12:00:00+00:00"
    assert first["principles"] == ["honesty", "harmlessness"]
    assert (second["choice"], second["strength"], second["round"]) == ("tie", None, 0)
    assert second["created_at"] is not None  # import time when the file gives none
    assert batch.pairs.height == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_denormalised_rows_in_every_format(tmp_path: Path, fmt: str) -> None:
    batch = read_file(write(tmp_path, f"rows.{fmt}", DENORMALISED))
    assert batch.shape == "denormalised"
    assert batch.pairs["prompt"].to_list() == ["2+2?", "1+1?"]  # deduplicated by pair_id
    assert batch.judgments.select("rater_id", "choice").rows() == [
        ("r1", "a"),
        ("r2", "b"),
        ("r1", "a"),
    ]
    assert batch.judgments["pair_id"][0] == pair_id_for("2+2?", "4", "5")
    assert batch.duplicates == []  # a pair on several rows is the shape, not a duplicate


def test_every_shape_imports_into_the_store(
    tmp_path: Path, toy_store: Store, project: Project
) -> None:
    for name, rows in (
        ("pairs.jsonl", PAIRS),
        ("prefs.csv", TRL),
        ("votes.parquet", VOTES),
        ("rows.jsonl", DENORMALISED),
    ):
        import_file(toy_store, write(tmp_path, name, rows), project.project_id)
    counts = toy_store.counts(project.project_id)
    assert counts["pairs"] == 20 + 2 + 4 + 2
    kinds = dict(toy_store.raters().select("rater_id", "kind").rows())
    assert kinds["source:trl"] == "source"
    assert kinds["r1"] == "human"
    assert toy_store.judgments(rater_id="r1").height == 3


def test_format_comes_from_the_content_not_the_extension(tmp_path: Path) -> None:
    jsonl_named_csv = write_text(tmp_path, "pairs.csv", json.dumps(PAIRS[0]) + "\n")
    assert read_file(jsonl_named_csv).format == "jsonl"
    parquet_named_txt = write(tmp_path, "x.parquet", PAIRS).rename(tmp_path / "x.txt")
    assert read_file(parquet_named_txt).format == "parquet"
    gzipped_csv = tmp_path / "rows.csv.gz"
    gzipped_csv.write_bytes(gzip.compress(b"prompt,response_a,response_b\nq,x,y\n"))
    assert read_file(gzipped_csv).format == "csv"


def test_shape_can_be_forced(tmp_path: Path) -> None:
    path = write(tmp_path, "rows.jsonl", DENORMALISED)
    batch = read_file(path, shape="pairs")
    assert (batch.shape, batch.judgments.height, batch.pairs.height) == ("pairs", 0, 2)
    assert batch.duplicates == [Duplicate(2, 1, pair_id_for("2+2?", "4", "5"))]
    assert json.loads(batch.pairs["metadata"][0]) == {"rater_id": "r1", "choice": "a"}


# -- bad input: one clear error, nothing written (the table is tests/data/bad_inputs.py) -----


def test_an_error_carries_its_parts(tmp_path: Path) -> None:
    path = write_text(tmp_path, "votes.jsonl", '{"pair_id": "p", "rater_id": "r", "choice": "x"}')
    with pytest.raises(InputError) as refused:
        read_file(path)
    error = refused.value
    assert (error.line, error.column, error.message) == (
        1,
        "choice",
        "'x' is not one of a, b, tie, both_bad",
    )


def test_damaged_binary_files_are_refused(tmp_path: Path) -> None:
    broken_parquet = tmp_path / "votes.parquet"
    broken_parquet.write_bytes(b"PAR1" + b"\x07" * 50)
    with pytest.raises(InputError, match=r"^votes.parquet: not a readable Parquet file"):
        read_file(broken_parquet)
    broken_gzip = tmp_path / "test.jsonl.gz"
    broken_gzip.write_bytes(gzip.compress(b'{"chosen": "a"}\n')[:15])
    with pytest.raises(InputError, match=r"^test.jsonl.gz: a damaged gzip file"):
        read_file(broken_gzip)


def test_csv_lines_count_line_breaks_inside_quoted_fields(tmp_path: Path) -> None:
    path = write_text(
        tmp_path,
        "pairs.csv",
        'prompt,response_a,response_b\n"Two\n\nparagraphs",x,y\n\nq,x,""\n',
    )
    with pytest.raises(InputError) as refused:
        read_file(path)
    assert refused.value.line == 6  # header 1, record on 2-4, a blank line 5, then line 6


# -- duplicates, re-import, mapping -----------------------------------------------------------


def test_duplicate_rows_are_reported_not_doubled(tmp_path: Path, toy_store: Store) -> None:
    pairs = write(tmp_path, "pairs.jsonl", [PAIRS[0], PAIRS[1], PAIRS[0]])
    batch = read_file(pairs)
    assert batch.pairs.height == 2
    assert batch.duplicates == [Duplicate(line=3, first_line=1, pair_id="p1")]
    votes = write(tmp_path, "votes.csv", [VOTES[0], VOTES[1], VOTES[0]])
    batch = read_file(votes)
    assert batch.judgments.height == 2
    assert batch.judgment_lines.to_list() == [2, 3]
    assert batch.duplicates == [Duplicate(4, 2, "p000", "r1")]
    report = import_file(toy_store, votes, "toy")
    assert report.counts.judgments_new == 2
    assert "1 duplicate row left out (e.g. line 4 repeats line 2)" in report.summary()


def test_reimporting_the_same_file_changes_nothing(
    tmp_path: Path, toy_store: Store, project: Project
) -> None:
    for name, rows in (("prefs.parquet", TRL), ("rows.csv", DENORMALISED)):
        path = write(tmp_path, name, rows)
        first = import_file(toy_store, path, project.project_id)
        assert first.counts.pairs_new > 0 and first.counts.judgments_new > 0
        again = import_file(toy_store, path, project.project_id)
        assert (again.counts.pairs_new, again.counts.judgments_new, again.counts.raters_new) == (
            0,
            0,
            0,
        )
        assert again.counts.pairs_existing == first.counts.pairs_new
        assert again.counts.judgments_existing == first.counts.judgments_new


def test_report_summary_reads_as_a_sentence(tmp_path: Path, toy_store: Store) -> None:
    report = import_file(toy_store, write(tmp_path, "rows.jsonl", DENORMALISED), "toy")
    assert report.summary() == (
        "rows.jsonl (jsonl, denormalised): 2 new pairs (0 already stored), 3 new judgments"
        " (0 already stored) from 2 raters (0 new)."
    )


def test_mapping_renames_source_columns_before_the_shape_is_detected(tmp_path: Path) -> None:
    path = write_text(tmp_path, "qa.csv", "question,answer_1,answer_2,topic\nWhy?,Because.,No.,x\n")
    mapping = {"question": "prompt", "answer_1": "response_a", "answer_2": "response_b"}
    batch = read_file(path, mapping=mapping)
    assert batch.shape == "pairs"
    assert batch.pairs.select("prompt", "response_a", "response_b", "metadata").row(0) == (
        "Why?",
        "Because.",
        "No.",
        '{"topic":"x"}',
    )


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_conversational_pairs_keep_their_turns(tmp_path: Path, fmt: str) -> None:
    turns = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Yo"},
        {"role": "user", "content": "A joke?"},
    ]
    rows = [{"prompt": turns, "response_a": "No.", "response_b": "Why did...", "extra": {"k": 1}}]
    pair = read_file(write(tmp_path, f"chat.{fmt}", rows)).pairs.row(0, named=True)
    assert pair["prompt"] == "User: Hi\n\nAssistant: Yo\n\nUser: A joke?"
    assert json.loads(pair["prompt_messages"]) == turns
    assert pair["pair_id"] == pair_id_for("", "No.", "Why did...", json.dumps(turns))
    assert json.loads(pair["metadata"]) == {"extra": {"k": 1}}


def test_judgment_extras_are_named_as_not_imported(tmp_path: Path) -> None:
    rows = [{**VOTES[1], "worker_country": "NZ"}]
    batch = read_file(write(tmp_path, "votes.jsonl", rows))
    assert batch.ignored_columns == ("worker_country",)


def test_json_values_in_their_own_types(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"pair_id": 7, "rater_id": 42, "choice": "B", "strength": 3.0, "seconds": 4,
         "principles": ["honesty", " "], "flags": [], "is_gold": "yes"},
        {"pair_id": "p8", "rater_id": "r2", "choice": " a ", "strength": None, "seconds": 2.5,
         "principles": [], "flags": ["unsafe"], "is_gold": "0"},
    ]  # fmt: skip
    batch = read_file(write(tmp_path, "votes.jsonl", rows))
    assert batch.judgments.select(
        "pair_id", "rater_id", "choice", "strength", "seconds", "principles", "flags", "is_gold"
    ).rows() == [
        ("7", "42", "b", 3, 4.0, ["honesty"], [], True),
        ("p8", "r2", "a", None, 2.5, [], ["unsafe"], False),
    ]


def test_huge_fields_are_accepted(tmp_path: Path) -> None:
    huge = "word " * 1_000_000
    for name in ("big.jsonl", "big.csv", "big.parquet"):
        rows = [{"prompt": "Say a lot.", "response_a": huge, "response_b": "No."}]
        batch = read_file(write(tmp_path, name, rows))
        assert batch.pairs["response_a"].str.len_chars()[0] == len(huge)


# -- TRL preference sets ----------------------------------------------------------------------


def read_one(tmp_path: Path, row: dict[str, Any]) -> dict[str, Any]:
    """The single pair of a one-row TRL file, with `chosen`/`rejected` put back by the vote."""
    batch = read_file(write(tmp_path, "one.jsonl", [row]))
    pair = batch.pairs.row(0, named=True)
    side = batch.judgments["choice"][0]
    other = "b" if side == "a" else "a"
    return {**pair, "chosen": pair[f"response_{side}"], "rejected": pair[f"response_{other}"]}


def test_trl_conversational_explicit_prompt(tmp_path: Path) -> None:
    pair = read_one(
        tmp_path,
        {
            "prompt": [{"role": "user", "content": "Hi"}],
            "chosen": [{"role": "assistant", "content": "Hello!"}],
            "rejected": [{"role": "assistant", "content": "Go away."}],
        },
    )
    assert (pair["prompt"], pair["prompt_messages"]) == ("Hi", None)  # one user turn is text
    assert (pair["chosen"], pair["rejected"]) == ("Hello!", "Go away.")


def test_trl_conversational_implicit_prompt_with_a_system_turn(tmp_path: Path) -> None:
    system = {"role": "system", "content": "Be brief."}
    user = {"role": "human", "content": "Hi"}  # roles are normalised
    pair = read_one(
        tmp_path,
        {
            "chosen": [system, user, {"role": "gpt", "content": "Hello!"}],
            "rejected": [system, user, {"role": "assistant", "content": "Go away."}],
        },
    )
    assert pair["prompt"] == "System: Be brief.\n\nUser: Hi"
    assert json.loads(pair["prompt_messages"]) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert (pair["chosen"], pair["rejected"]) == ("Hello!", "Go away.")


def test_trl_hh_rlhf_dialogue_strings(tmp_path: Path) -> None:
    shared = "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: A joke?"
    pair = read_one(
        tmp_path,
        {"chosen": shared + "\n\nAssistant: Why did...", "rejected": shared + "\n\nAssistant: No."},
    )
    assert pair["prompt"] == "User: Hi\n\nAssistant: Hello\n\nUser: A joke?"
    assert [turn["role"] for turn in json.loads(pair["prompt_messages"])] == [
        "user",
        "assistant",
        "user",
    ]
    assert (pair["chosen"], pair["rejected"]) == ("Why did...", "No.")


def test_trl_plain_strings_share_their_leading_text_as_prompt(tmp_path: Path) -> None:
    pair = read_one(tmp_path, {"chosen": "The answer is 4", "rejected": "The answer is 5"})
    assert (pair["prompt"], pair["chosen"], pair["rejected"]) == ("The answer is", " 4", " 5")


def test_trl_source_rater_can_be_named(tmp_path: Path) -> None:
    batch = read_file(write(tmp_path, "prefs.jsonl", TRL), source_rater="ultrafeedback")
    assert batch.source_raters == ("ultrafeedback",)
    assert set(batch.judgments["rater_id"]) == {"ultrafeedback"}


def test_trl_sides_are_balanced_stable_and_stored(
    tmp_path: Path, toy_store: Store, project: Project
) -> None:
    rows = [
        {"prompt": f"Question {i}?", "chosen": f"Good {i}.", "rejected": f"Bad {i}."}
        for i in range(400)
    ]
    path = write(tmp_path, "prefs.parquet", rows)
    batch = read_file(path)
    chosen_is_a = int((batch.judgments["choice"] == "a").sum())
    assert 170 <= chosen_is_a <= 230  # about half
    again = read_file(path).judgments.drop("created_at")
    assert again.equals(batch.judgments.drop("created_at"))  # same sides on every read
    import_file(toy_store, path, project.project_id)
    stored = toy_store.judgments(rater_id="source:trl").join(toy_store.pairs(), on="pair_id")
    assert stored.height == 400
    winners = stored.select(
        pl.when(pl.col("choice") == "a").then("response_a").otherwise("response_b")
    ).to_series()
    assert winners.str.starts_with("Good").all()


# -- ids --------------------------------------------------------------------------------------


def test_pair_id_is_a_stable_content_hash() -> None:
    assert pair_id_for("2+2?", "4", "5") == "541b15c1d8e4527c"
    assert pair_id_for("2+2?", "5", "4") != pair_id_for("2+2?", "4", "5")
    messages = '[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]'
    spaced = json.dumps(json.loads(messages), indent=2)
    assert pair_id_for("x", "a", "b", messages) == pair_id_for("y", "a", "b", spaced)


# -- presets on the real public data ----------------------------------------------------------


def test_hh_rlhf_helpful_base(datasets: Path, store: Store, project: Project) -> None:
    path = datasets / "hh-rlhf-test" / "helpful-base" / "test.jsonl.gz"
    batch = read_file(path, preset="hh-rlhf")
    assert (batch.pairs.height, batch.judgments.height, batch.duplicates) == (2354, 2354, [])
    assert set(batch.pairs["category"]) == {"helpful-base"}
    assert batch.source_raters == ("hh-rlhf",)
    # The README's data-quality cases are kept: 4 empty rejected replies, 0 identical pairs.
    empty = (batch.pairs["response_a"] == "") | (batch.pairs["response_b"] == "")
    assert int(empty.sum()) == 4
    share_a = float((batch.judgments["choice"] == "a").mean())  # type: ignore[arg-type]
    assert 0.45 < share_a < 0.55
    store.save_project(project)
    report = import_file(store, path, project.project_id, preset="hh-rlhf")
    assert (report.counts.pairs_new, report.counts.judgments_new) == (2354, 2354)
    assert store.raters().filter(pl.col("rater_id") == "hh-rlhf")["kind"].to_list() == ["source"]
    again = import_file(store, path, project.project_id, preset="hh-rlhf")
    assert (again.counts.pairs_new, again.counts.judgments_new) == (0, 0)


@pytest.mark.slow
def test_hh_rlhf_whole_test_folder(datasets: Path) -> None:
    batch = read_file(datasets / "hh-rlhf-test", preset="hh-rlhf")
    assert batch.pairs.height == 8552
    assert batch.pairs.group_by("category").len().sort("category").rows() == [
        ("harmless-base", 2312),
        ("helpful-base", 2354),
        ("helpful-online", 1137),
        ("helpful-rejection-sampled", 2749),
    ]
    same = batch.pairs.filter(pl.col("response_a") == pl.col("response_b"))
    assert same.group_by("category").len().sort("category").rows() == [
        ("helpful-base", 2),
        ("helpful-online", 2),
        ("helpful-rejection-sampled", 32),
    ]


def test_mt_bench_keeps_every_vote(datasets: Path, store: Store, project: Project) -> None:
    folder = datasets / "mt-bench-human-judgments"
    batch = read_file(folder, preset="mt-bench")
    votes = with_turns(batch)
    assert votes.group_by("turn").len().sort("turn").rows() == [(1, 1689), (2, 869)]
    assert votes.filter(pl.col("turn") == 1)["rater_id"].n_unique() == 65
    assert batch.pairs.height == 1204 + 612  # ordered (question, turn, model_a, model_b)
    assert batch.duplicates == []
    first = batch.pairs.row(0, named=True)
    assert first["pair_id"] == "mtb-q081-t1-alpaca-13b-vs-gpt-3.5-turbo"
    assert (first["model_a"], first["model_b"], first["category"]) == (
        "alpaca-13b",
        "gpt-3.5-turbo",
        "writing",
    )
    turn_two = batch.pairs.filter(pl.col("pair_id").str.contains("-t2-")).row(0, named=True)
    assert turn_two["prompt"].startswith("Compose an engaging travel blog post")
    assert "\n\nUser: Rewrite your previous response." in turn_two["response_a"]
    assert set(batch.judgments["source"]) == {"mt-bench:expert", "mt-bench:author"}
    store.save_project(project)
    report = import_file(store, folder, project.project_id, preset="mt-bench")
    assert (report.counts.pairs_new, report.counts.judgments_new) == (1816, 2558)


def with_turns(batch: Any) -> pl.DataFrame:
    """Votes with the question, turn and models of their pair."""
    pairs = batch.pairs.with_columns(
        pl.col("metadata").str.json_path_match("$.question_id").cast(pl.Int64).alias("question"),
        pl.col("metadata").str.json_path_match("$.turn").cast(pl.Int64).alias("turn"),
    ).select("pair_id", "question", "turn", "model_a", "model_b")
    result: pl.DataFrame = batch.judgments.join(pairs, on="pair_id", maintain_order="left")
    return result


def test_mt_bench_reproduces_the_papers_expert_agreement(datasets: Path) -> None:
    """Zheng et al. 2023 §4.2, turn 1, experts: 63% over 721 vote pairs with ties, 81% over
    479 without (FastChat's compute_agreement: items are (question, unordered models))."""
    votes = with_turns(read_file(datasets / "mt-bench-human-judgments", preset="mt-bench"))
    experts = votes.filter(pl.col("turn") == 1, pl.col("rater_id").str.starts_with("expert"))
    flip = {"a": "b", "b": "a", "tie": "tie"}
    items: dict[tuple[Any, ...], list[str]] = {}
    for row in experts.iter_rows(named=True):
        ordered = row["model_a"] < row["model_b"]
        key = (row["question"], *sorted((row["model_a"], row["model_b"])))
        items.setdefault(key, []).append(row["choice"] if ordered else flip[row["choice"]])

    def agreement(keep: Callable[[str], bool]) -> tuple[int, int]:
        pairs = [
            (x, y) for v in items.values() for x, y in combinations(v, 2) if keep(x) and keep(y)
        ]
        return sum(x == y for x, y in pairs), len(pairs)

    assert agreement(lambda vote: True) == (454, 721)
    assert agreement(lambda vote: vote != "tie") == (388, 479)


def test_pandalm_matches_the_long_table(datasets: Path) -> None:
    folder = datasets / "pandalm-testset"
    batch = read_file(folder, preset="pandalm")
    assert (batch.pairs.height, batch.judgments.height) == (999, 2997)
    assert batch.judgments["rater_id"].unique().sort().to_list() == [
        "pandalm:annotator1",
        "pandalm:annotator2",
        "pandalm:annotator3",
    ]
    long = pl.read_csv(folder / "judgments_long.csv").select(
        ("pandalm-" + pl.col("idx").cast(pl.String)).alias("pair_id"),
        ("pandalm:" + pl.col("rater_id")).alias("rater_id"),
        pl.col("label").replace_strict({0: "tie", 1: "a", 2: "b"}).alias("choice"),
    )
    ours = batch.judgments.select("pair_id", "rater_id", "choice")
    assert ours.sort("pair_id", "rater_id").equals(long.sort("pair_id", "rater_id"))
    first = batch.pairs.row(0, named=True)
    assert (first["model_a"], first["model_b"], first["category"]) == (
        "bloom-7b",
        "llama-7b",
        "Grammarly",
    )
    # Four answers are JSON `true` in the source: kept as the text the model wrote.
    assert batch.pairs.filter(pl.col("pair_id") == "pandalm-157")["response_a"].to_list() == [
        "true"
    ]


def test_llmfao_records_the_shown_order(datasets: Path) -> None:
    batch = read_file(datasets / "llmfao", preset="llmfao")
    assert (batch.pairs.height, batch.judgments.height) == (2139, 8931)
    assert batch.judgments["rater_id"].n_unique() == 124
    assert batch.judgments["choice"].value_counts().sort("choice").rows() == [
        ("a", 2911),
        ("b", 2549),
        ("tie", 3471),
    ]
    assert set(batch.judgments["shown_left"]) == {"a"}
    first = batch.pairs.row(0, named=True)
    assert (first["pair_id"], first["model_a"], first["model_b"]) == (
        "llmfao-0",
        "Airoboros L2 70B",
        "Weaver 12k",
    )


def test_presets_refuse_a_wrong_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"human_judgments.jsonl is missing"):
        read_file(tmp_path, preset="mt-bench")
    with pytest.raises(ValueError, match=r"unknown preset 'nope'"):
        read_file(tmp_path, preset="nope")
