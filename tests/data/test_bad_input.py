"""Bad input, refused whole: every case of the table (``tests/data/bad_inputs.py``) raises one
``InputError`` whose message names the file and, where there is one, its line and column, and
the store is left exactly as it was, without even the project the import would have created.
Then what must be accepted: the same content again (renamed, gzip'd, as CSV) changes nothing,
look-alike rater ids are one rater, UTF-16 that says so is read."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from data.formats import InputError
from data.importers import import_file, read_file
from data.store import Project, Store
from tests.data.bad_inputs import (
    BAD_INPUTS,
    LOCKED,
    TARGET,
    Bad,
    case_id,
    copy_database,
    seed_database,
    state,
)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_database(tmp_path_factory.mktemp("seed"))


@pytest.mark.parametrize("case", [*BAD_INPUTS, LOCKED], ids=case_id)
def test_bad_input_is_refused_whole_and_nothing_is_written(
    seeded: Path, tmp_path: Path, case: Bad
) -> None:
    with Store(copy_database(seeded, tmp_path / "ws")) as store:
        before = state(store)
        path = case.make(tmp_path)
        with pytest.raises(InputError) as refused:
            import_file(store, path, TARGET, create_project=True, **case.options)
        assert case.matches(str(refused.value)), str(refused.value)
        assert state(store) == before


# -- the same content again changes nothing ---------------------------------------------------

TRL = [
    {"prompt": f"Question {i}?", "chosen": f"Good answer {i}.", "rejected": f"Bad answer {i}."}
    for i in range(50)
]


def counts(store: Store) -> tuple[int, int, int]:
    return store.pairs().height, store.judgments().height, store.raters().height


def test_trl_content_under_any_name_gzipped_or_as_csv_adds_nothing(
    tmp_path: Path, store: Store, project: Project
) -> None:
    store.save_project(project)
    text = "".join(json.dumps(row) + "\n" for row in TRL)
    first = tmp_path / "prefs.jsonl"
    first.write_text(text)
    import_file(store, first, project.project_id)
    after_first = counts(store)
    assert after_first == (50, 50, 1)
    renamed = tmp_path / "ultrafeedback-copy.jsonl"
    renamed.write_text(text)
    gzipped = tmp_path / "prefs-2.jsonl.gz"
    gzipped.write_bytes(gzip.compress(text.encode()))
    as_csv = tmp_path / "prefs.csv"
    pl.DataFrame(TRL).write_csv(as_csv)
    for again in (renamed, gzipped, as_csv):
        report = import_file(store, again, project.project_id)
        assert (report.counts.pairs_new, report.counts.judgments_new) == (0, 0), again.name
        assert counts(store) == after_first, again.name


def test_hh_rlhf_file_under_another_name_adds_nothing(
    datasets: Path, tmp_path: Path, store: Store, project: Project
) -> None:
    source = datasets / "hh-rlhf-test" / "helpful-base" / "test.jsonl.gz"
    store.save_project(project)
    import_file(store, source, project.project_id, preset="hh-rlhf")
    after_first = counts(store)
    copy = tmp_path / "elsewhere" / "hh-helpful.jsonl"  # renamed, unzipped, in another folder
    copy.parent.mkdir()
    copy.write_bytes(gzip.decompress(source.read_bytes()))
    import_file(store, copy, project.project_id, preset="hh-rlhf")
    assert counts(store) == after_first


def test_identical_repeats_stay_idempotent(tmp_path: Path, store: Store, project: Project) -> None:
    store.save_project(project)
    row = {"pair_id": "p1", "prompt": "q", "response_a": "x", "response_b": "y"}
    votes = [{**row, "rater_id": "r1", "choice": "a", "strength": 2}]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(v) + "\n" for v in votes * 2))
    batch = read_file(path)
    assert (batch.pairs.height, batch.judgments.height, len(batch.duplicates)) == (1, 1, 1)
    import_file(store, path, project.project_id)
    again = import_file(store, path, project.project_id)
    assert (again.counts.pairs_existing, again.counts.judgments_existing) == (1, 1)
    assert counts(store) == (1, 1, 1)


# -- what is accepted -------------------------------------------------------------------------


def test_look_alike_rater_ids_are_one_rater(tmp_path: Path, store: Store, project: Project) -> None:
    pairs = [
        {"pair_id": f"p{i}", "prompt": "q", "response_a": f"x{i}", "response_b": "y"}
        for i in range(3)
    ]
    spellings = ["ada", "ａｄａ", " ada "]  # plain, full-width, padded: NFKC makes them one
    rows: list[dict[str, Any]] = [
        {**pair, "rater_id": rater, "choice": "a"}
        for pair, rater in zip(pairs, spellings, strict=True)
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    store.save_project(project)
    import_file(store, path, project.project_id)
    assert store.raters()["rater_id"].to_list() == ["ada"]
    assert store.judgments(rater_id="ada").height == 3


def test_a_source_rater_option_is_normalised_or_refused(tmp_path: Path) -> None:
    path = tmp_path / "prefs.jsonl"
    path.write_text(json.dumps(TRL[0]) + "\n")
    assert read_file(path, source_rater="ｕｆ").source_raters == ("uf",)
    with pytest.raises(ValueError, match=r"^source rater: 'u\u200bf' has an invisible"):
        read_file(path, source_rater="u\u200bf")


def test_utf16_that_says_so_is_read(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_bytes("prompt,response_a,response_b\nq,café,naïve\n".encode("utf-16"))  # BOM
    batch = read_file(path)
    assert batch.pairs.select("response_a", "response_b").row(0) == ("café", "naïve")


def test_a_quoted_field_may_span_lines_and_hold_doubled_quotes(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text('prompt,response_a,response_b\n"Say ""hi""\nplease",x,y\n')
    assert read_file(path).pairs["prompt"].to_list() == ['Say "hi"\nplease']


def test_json_lines_columns_keep_their_type_across_chunks(tmp_path: Path) -> None:
    """A column whose type changes after the first chunk of rows is read as one column."""
    rows: list[dict[str, Any]] = [
        {"pair_id": f"p{i}", "rater_id": "r1", "choice": "a", "seconds": 3} for i in range(20_001)
    ]
    rows[-1]["seconds"] = 2.5  # an int column becomes a float one in the second chunk
    rows[-1]["note"] = "late"  # a column first seen in the second chunk
    path = tmp_path / "votes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    batch = read_file(path)
    assert batch.judgments["seconds"].dtype == pl.Float64
    assert batch.judgments["seconds"][-1] == 2.5
    assert batch.judgment_lines[-1] == 20_001
