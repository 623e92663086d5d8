"""The table of bad inputs: every file an import must refuse, with the one line that says why.

Each case is imported into a store that already holds the seed (``seed_store``: twenty pairs
from ``seed.jsonl`` and one vote from ``seed-votes.csv``) and into a project that does not
exist yet, so "nothing written" covers the project row too. ``tests/data/test_bad_input.py``
runs the table through ``import_file``; ``tests/test_cli_commands.py`` runs it through
``intentgap import``.

In a message, ``{time}`` stands for the minute the seed was imported and ``{n}`` for a number.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from data.importers import import_file
from data.store import Project, Store
from tests.conftest import toy_pairs

#: The project every case imports into; it must not exist afterwards.
TARGET = "new"
SEED_VOTES = (
    "submission_id,pair_id,rater_id,choice,strength,created_at\n"
    "s-1,p000,r1,a,2,2024-05-01T12:00:00Z\n"
)


def seed_store(store: Store) -> None:
    """Twenty pairs ``p000..p019`` (project ``toy``) and r1's vote 'a' (strength 2) on p000."""
    folder = store.path.parent if store.path is not None else Path(".")
    pairs = folder / "seed.jsonl"
    toy_pairs(20).write_ndjson(pairs)
    votes = folder / "seed-votes.csv"
    votes.write_text(SEED_VOTES, encoding="utf-8")
    store.save_project(Project("toy", "Toy"))
    import_file(store, pairs, "toy")
    import_file(store, votes, "toy")
    pairs.unlink()
    votes.unlink()


def seed_database(folder: Path) -> Path:
    """A database file holding the seed, to copy for each case (``copy_database``)."""
    folder.mkdir(parents=True, exist_ok=True)
    with Store(folder / "intentgap.duckdb") as store:
        seed_store(store)
        assert store.path is not None
        return store.path


def copy_database(template: Path, workspace: Path) -> Path:
    """The seeded database as a workspace's own (``workspace/intentgap.duckdb``)."""
    workspace.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(template, workspace / "intentgap.duckdb"))


def state(store: Store) -> dict[str, Any]:
    """Everything an import could add: pairs, votes, raters and projects."""
    return {
        "pairs": store.pairs().height,
        "judgments": store.judgments().height,
        "raters": sorted(store.raters()["rater_id"].to_list()),
        "projects": sorted(p.project_id for p in store.projects()),
    }


@dataclass(frozen=True)
class Bad:
    """A file to import, the options it is imported with, and the message that refuses it."""

    id: str
    make: Callable[[Path], Path]
    message: str
    options: dict[str, Any] = field(default_factory=dict)

    def matches(self, text: str) -> bool:
        pattern = (
            re.escape(self.message)
            .replace(re.escape("{time}"), r"\d{4}-\d\d-\d\d \d\d:\d\d")
            .replace(re.escape("{n}"), r"[\d,]+")
        )
        return re.fullmatch(pattern, text) is not None

    def cli_args(self) -> list[str]:
        """The options as ``intentgap import`` flags."""
        args: list[str] = []
        for name, value in self.options.items():
            if name == "mapping":
                args += [arg for k, v in value.items() for arg in ("--map", f"{k}={v}")]
            else:
                args += ["--" + name.replace("_", "-"), str(value)]
        return args


def text(name: str, content: str) -> Callable[[Path], Path]:
    return raw(name, content.encode("utf-8"))


def raw(name: str, content: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content)
        return path

    return make


def jsonl(name: str, *rows: dict[str, Any]) -> Callable[[Path], Path]:
    return text(name, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def gzipped(name: str, content: bytes) -> Callable[[Path], Path]:
    return raw(name, gzip.compress(content))


def parquet(name: str, frame: pl.DataFrame) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        frame.write_parquet(path, compression="zstd")
        return path

    return make


def folder_named(name: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.mkdir()
        return path

    return make


def missing(name: str) -> Callable[[Path], Path]:
    return lambda folder: folder / name


def unreadable(folder: Path) -> Path:
    """A file the system will not read (root reads every file, so this one errs on read)."""
    return Path("/proc/self/mem")


def vote(**fields: Any) -> dict[str, Any]:
    return {"pair_id": "p001", "rater_id": "r2", "choice": "a", **fields}


PAIR = {"pair_id": "p1", "prompt": "q", "response_a": "x", "response_b": "y"}
LONG_VOTES = "pair_id,rater_id,choice\n" + "p000,r1,a\n" * 8000  # past the 64 KiB sniffed

BAD_INPUTS: list[Bad] = [
    # -- columns and shapes
    Bad(
        "missing-column",
        text("pairs.jsonl", '{"prompt": "q", "response_a": "x"}\n'),
        "pairs.jsonl, column 'response_b': required column is missing"
        " (the file has prompt, response_a)",
    ),
    Bad(
        "bad-choice",
        jsonl("votes.jsonl", vote(pair_id="p000"), vote(choice="maybe")),
        "votes.jsonl, line 2, column 'choice': 'maybe' is not one of a, b, tie, both_bad",
    ),
    Bad(
        "empty-response",
        text("pairs.csv", 'prompt,response_a,response_b\nq1,x,y\nq2,x,""\n'),
        "pairs.csv, line 3, column 'response_b': the response is empty",
    ),
    Bad(
        "blank-response",
        text("pairs.csv", "prompt,response_a,response_b\nq1,x,y\nq2,   ,y\n"),
        "pairs.csv, line 3, column 'response_a': the response is empty",
    ),
    Bad(
        "invisible-response",
        jsonl("pairs.jsonl", {**PAIR, "response_b": "\u200b\u2060\ufeff\u200d \u3164"}),
        "pairs.jsonl, line 1, column 'response_b': the response is empty",
    ),
    Bad(
        "nul-character-in-a-response",
        jsonl("pairs.jsonl", PAIR, {**PAIR, "response_a": "fine until\u0000here"}),
        "pairs.jsonl, line 2, column 'response_a': the text holds a NUL character (U+0000),"
        " which no database stores",
    ),
    Bad(
        "invisible-trl-response",
        jsonl("prefs.jsonl", {"prompt": "q", "chosen": "\u200b\u200c", "rejected": "no"}),
        "prefs.jsonl, line 1, column 'chosen': the response is empty",
    ),
    Bad(
        "bad-json",
        text(
            "votes.jsonl",
            '{"pair_id": "p000", "rater_id": "r1", "choice": "a"}\n\n'
            '{"pair_id": "p001", "rater_id": "r1" "choice": "b"}\n',
        ),
        "votes.jsonl, line 3: not valid JSON (Expecting ',' delimiter at character 38)",
    ),
    Bad(
        "json-array",
        text("votes.json", '[\n  {"pair_id": "p000", "rater_id": "r1", "choice": "a"}\n]\n'),
        "votes.json, line 1: a JSON array, not JSON Lines: write one object per line",
    ),
    Bad(
        "json-list-row",
        text("votes.jsonl", '["p000", "r1", "a"]\n'),
        "votes.jsonl, line 1: expected a JSON object, found a list",
    ),
    Bad(
        "number-for-text",
        jsonl("pairs.jsonl", {**PAIR, "pair_id": None}, {**PAIR, "response_a": 5}),
        "pairs.jsonl, line 2, column 'response_a': 5 is a number, expected text",
    ),
    Bad(
        "strength-out-of-range",
        text(
            "votes.csv", "pair_id,rater_id,choice,strength\np000,r1,a,2\np001,r1,b,4\np002,r1,b,7\n"
        ),
        "votes.csv, line 3, column 'strength': 4 is not 1, 2 or 3 (1 more row like this)",
    ),
    Bad(
        "strength-not-a-number",
        text("votes.csv", "pair_id,rater_id,choice,strength\np000,r1,a,strong\n"),
        "votes.csv, line 2, column 'strength': 'strong' is not a whole number",
    ),
    Bad(
        "strength-on-a-tie",
        text("votes.csv", "pair_id,rater_id,choice,strength\np000,r1,tie,2\n"),
        "votes.csv, line 2, column 'strength': a tie or both_bad vote has no strength (found 2)",
    ),
    Bad(
        "bad-date",
        text("votes.csv", "pair_id,rater_id,choice,created_at\np000,r1,a,yesterday\n"),
        "votes.csv, line 2, column 'created_at': 'yesterday' is not a date and time"
        " (use ISO 8601, e.g. 2024-05-01T12:00:00Z)",
    ),
    Bad(
        "bad-gold",
        jsonl("pairs.jsonl", {**PAIR, "gold": "maybe"}),
        "pairs.jsonl, line 1, column 'gold': 'maybe' is not one of a, b, tie",
    ),
    Bad(
        "gold-without-answer",
        jsonl("pairs.jsonl", {**PAIR, "is_gold": True}),
        "pairs.jsonl, line 1, column 'gold': a gold item needs a gold answer (a, b or tie)",
    ),
    Bad(
        "not-parquet",
        jsonl("votes.jsonl", vote()),
        "votes.jsonl: not a Parquet file (Parquet files start with the bytes PAR1)",
        {"format": "parquet"},
    ),
    Bad(
        "unknown-columns",
        text("notes.csv", "title,body\nhello,world\n"),
        "notes.csv: cannot tell what this file holds from its columns (title, body): expected"
        " prompt, response_a, response_b (pairs); chosen, rejected (TRL); pair_id, rater_id,"
        " choice (judgments); or pairs plus votes. Rename columns with a mapping.",
    ),
    Bad(
        "mapping-of-a-missing-column",
        text("qa.csv", "question,answer_1,answer_2\nq,x,y\n"),
        "qa.csv, column 'answer_3': the mapping renames 'answer_3', which is not a column of"
        " this file (it has question, answer_1, answer_2)",
        {"mapping": {"question": "prompt", "answer_3": "response_b"}},
    ),
    Bad(
        "bad-role",
        jsonl(
            "chat.jsonl",
            {"prompt": [{"role": "narrator", "content": "Hi"}], "chosen": "a", "rejected": "b"},
        ),
        "chat.jsonl, line 1, column 'prompt': message 1: role 'narrator' is not user,"
        " assistant or system",
    ),
    Bad(
        "unknown-pair",
        jsonl("votes.jsonl", vote(pair_id="p000"), vote(pair_id="nope")),
        "votes.jsonl, line 2, column 'pair_id': pair_id 'nope' is neither in this file nor in"
        " the store",
    ),
    # -- conflicts: never keep one version and drop the other quietly
    Bad(
        "pair-conflict-in-the-file",
        jsonl("pairs.jsonl", PAIR, {**PAIR, "response_b": "z"}),
        "pairs.jsonl, line 2, column 'response_b': pair_id 'p1' is on line 1 too, with another"
        " response_b ('y' there, 'z' here): one pair_id names one pair",
    ),
    Bad(
        "pair-conflict-with-the-store",
        jsonl("pairs.jsonl", {**PAIR, "pair_id": "p000", "prompt": "Question 0?"}),
        "pairs.jsonl, line 1, column 'response_a': pair_id 'p000' is stored since {time} UTC"
        " (from seed.jsonl) with another response_a ('Answer A to 0.' there, 'x' here): one"
        " pair_id names one pair",
    ),
    Bad(
        "vote-conflict-in-the-file",
        text("votes.csv", "pair_id,rater_id,choice\np001,r2,a\np001,r2,b\n"),
        "votes.csv, line 3, column 'choice': rater 'r2' voted 'a' on pair 'p001' (round 0) on"
        " line 2, and 'b' here: one vote per rater, pair and round (give a later vote its own"
        " round)",
    ),
    Bad(
        "vote-conflict-with-the-store",
        jsonl("votes.jsonl", vote(), vote(pair_id="p000", rater_id="r1", choice="b")),
        "votes.jsonl, line 2, column 'choice': rater 'r1' has a vote on pair 'p000' (round 0)"
        " stored since 2024-05-01 12:00 UTC (from seed-votes.csv): 'a' (strength 2), and 'b'"
        " here: one vote per rater, pair and round (give a later vote its own round)",
    ),
    Bad(
        "strength-conflict-with-the-store",
        jsonl("votes.jsonl", vote(pair_id="p000", rater_id="r1", strength=3)),
        "votes.jsonl, line 1, column 'strength': rater 'r1' has a vote on pair 'p000' (round 0)"
        " stored since 2024-05-01 12:00 UTC (from seed-votes.csv): 'a' (strength 2), and 'a'"
        " (strength 3) here: one vote per rater, pair and round (give a later vote its own"
        " round)",
    ),
    Bad(
        "submission-id-twice-in-the-file",
        jsonl("votes.jsonl", vote(submission_id="x"), vote(submission_id="x", pair_id="p002")),
        "votes.jsonl, line 2, column 'submission_id': submission_id 'x' is on line 1 too, for"
        " another vote: a submission id names one vote",
    ),
    Bad(
        "submission-id-of-a-stored-vote",
        jsonl("votes.jsonl", vote(submission_id="s-1")),
        "votes.jsonl, line 1, column 'submission_id': submission_id 's-1' is stored since"
        " 2024-05-01 12:00 UTC (from seed-votes.csv) for another vote (rater 'r1' on pair"
        " 'p000'): a submission id names one vote",
    ),
    Bad(
        "choice-the-project-does-not-allow",
        jsonl("votes.jsonl", vote(), vote(pair_id="p002", choice="both_bad")),
        "votes.jsonl, line 2, column 'choice': 'both_bad' is not a choice project 'new' allows"
        " (it allows a, b, tie; its settings can change that)",
    ),
    # -- numbers that no statistic survives
    Bad(
        "nan-seconds",
        text(
            "votes.jsonl", '{"pair_id": "p001", "rater_id": "r2", "choice": "a", "seconds": NaN}\n'
        ),
        "votes.jsonl, line 1, column 'seconds': NaN is not a finite number",
    ),
    Bad(
        "infinite-seconds",
        text("votes.csv", "pair_id,rater_id,choice,seconds\np001,r2,a,4.5\np002,r2,a,inf\n"),
        "votes.csv, line 3, column 'seconds': 'inf' is not a finite number",
    ),
    Bad(
        "seconds-past-a-double",
        text("votes.csv", "pair_id,rater_id,choice,seconds\np001,r2,a,1e400\n"),
        "votes.csv, line 2, column 'seconds': '1e400' is not a finite number",
    ),
    Bad(
        "strength-past-a-double",
        text(
            "votes.jsonl",
            '{"pair_id": "p001", "rater_id": "r2", "choice": "a", "strength": 1e400}\n',
        ),
        "votes.jsonl, line 1, column 'strength': Infinity is not a finite number",
    ),
    Bad(
        "round-past-int32",
        jsonl("votes.jsonl", vote(round=2**31)),
        "votes.jsonl, line 1, column 'round': 2147483648 is not a round (0 to 2147483647)",
    ),
    Bad(
        "round-past-int64",
        jsonl("votes.jsonl", vote(round=10**30)),
        "votes.jsonl, line 1, column 'round': 1e+30 is not a round (0 to 2147483647)",
    ),
    Bad(
        "nan-in-metadata",
        text(
            "pairs.jsonl", '{"prompt": "q", "response_a": "x", "response_b": "y", "score": NaN}\n'
        ),
        "pairs.jsonl, line 1, column 'score': NaN is not a finite number",
    ),
    # -- rater ids: look-alikes are one rater or an error
    Bad(
        "zero-width-in-a-rater-id",
        jsonl("votes.jsonl", vote(), vote(rater_id="r2\u200b")),
        "votes.jsonl, line 2, column 'rater_id': 'r2\u200b' has an invisible or"
        " direction-changing character (U+200B)",
    ),
    Bad(
        "bidi-control-in-a-rater-id",
        jsonl("votes.jsonl", vote(rater_id="\u202er2")),
        "votes.jsonl, line 1, column 'rater_id': '\u202er2' has an invisible or"
        " direction-changing character (U+202E)",
    ),
    Bad(
        "mixed-scripts-in-a-rater-id",
        jsonl("votes.jsonl", vote(rater_id="r\u0430ter")),  # Cyrillic a
        "votes.jsonl, line 1, column 'rater_id': 'r\u0430ter' mixes Cyrillic and Latin letters:"
        " a look-alike of another id?",
    ),
    Bad(
        "invisible-rater-id",
        jsonl("votes.jsonl", vote(rater_id="\u200b\u2060")),
        "votes.jsonl, line 1, column 'rater_id': the value is empty",
    ),
    # -- encodings
    Bad(
        "latin-1-past-64-kib",
        raw("votes.csv", (LONG_VOTES + "p001,ren\xe9,b\n").encode("latin-1")),
        "votes.csv, line 8002: not UTF-8 text (byte 0xE9); it looks like Latin-1 or"
        " Windows-1252: convert it, e.g. iconv -f WINDOWS-1252 -t UTF-8 votes.csv >"
        " votes-utf8.csv",
    ),
    Bad(
        "invalid-utf-8-in-json-lines",
        raw(
            "votes.jsonl",
            b'{"pair_id": "p001", "rater_id": "r2", "choice": "a"}\n' * 2000
            + b'{"pair_id": "p\xff"}\n',
        ),
        "votes.jsonl, line 2001: not UTF-8 text (byte 0xFF); it looks like Latin-1 or"
        " Windows-1252: convert it, e.g. iconv -f WINDOWS-1252 -t UTF-8 votes.jsonl >"
        " votes-utf8.jsonl",
    ),
    Bad(
        "utf-16-without-a-mark",
        raw("pairs.csv", "prompt,response_a,response_b\nq,x,y\n".encode("utf-16-le")),
        "pairs.csv: UTF-16LE text without a byte-order mark, not UTF-8: convert it, e.g."
        " iconv -f UTF-16LE -t UTF-8 pairs.csv > pairs-utf8.csv",
    ),
    Bad(
        "binary",
        text("junk.jsonl", "\x00\x01\x02 binary"),
        "junk.jsonl: binary content: not a JSONL, CSV or Parquet file",
    ),
    Bad(
        "quote-inside-a-field",
        text("pairs.csv", 'prompt,response_a,response_b\nq1,x,y\nq2,say "hi,y\nq3,x,"y"\n'),
        "pairs.csv, line 3: not a readable CSV file (a quote inside a field that does not start"
        ' with one: quote the field and double its quotes (""))',
    ),
    Bad(
        "quote-never-closed",
        text("pairs.csv", 'prompt,response_a,response_b\nq1,x,y\nq2,"x,y\nq3,x,y\n'),
        "pairs.csv, line 3: not a readable CSV file (a quote opens a field that never closes)",
    ),
    Bad(
        "ragged-csv",
        text("ragged.csv", "pair_id,rater_id,choice\np000,r1,a\np001,r1,b,extra\n"),
        "ragged.csv, line 3: not a readable CSV file (found more fields than defined in 'Schema')",
    ),
    Bad("empty", text("empty.jsonl", ""), "empty.jsonl: the file is empty"),
    Bad("blank", text("blank.csv", "\n  \n"), "blank.csv: the file is empty"),
    Bad(
        "header-only",
        text("header.csv", "pair_id,rater_id,choice\n"),
        "header.csv: the file has no rows",
    ),
    # -- paths
    Bad(
        "a-folder",
        folder_named("votes"),
        "votes: a folder, not a file (only presets read folders)",
    ),
    Bad("a-missing-file", missing("gone.jsonl"), "gone.jsonl: no such file"),
    Bad("an-unreadable-file", unreadable, "mem: cannot be read (Input/output error)"),
    Bad(
        "deep-json",
        text("deep.jsonl", '{"prompt": ' + "[" * 100_000 + "]" * 100_000 + "}\n"),
        "deep.jsonl, line 1: JSON nested too deeply to read",
    ),
    # -- memory: refused before it is read whole
    Bad(
        "gzip-bomb",
        gzipped("bomb.jsonl.gz", b'{"prompt": "q", "chosen": "a", "rejected": "b"}\n' * 40_000),
        "bomb.jsonl.gz: when decompressed, expands past the import limit of 100,000 bytes"
        " (raise it with --max-bytes)",
        {"max_bytes": 100_000},
    ),
    Bad(
        "too-large",
        text("votes.csv", LONG_VOTES),
        "votes.csv: larger than the import limit of 10,000 bytes (raise it with --max-bytes)",
        {"max_bytes": 10_000},
    ),
    Bad(
        "parquet-that-expands",
        parquet("pairs.parquet", pl.DataFrame({**PAIR, "response_a": "x" * 200_000})),
        "pairs.parquet: holds {n} bytes uncompressed, past the import limit of 100,000"
        " bytes (raise it with --max-bytes)",
        {"max_bytes": 100_000},
    ),
]


def case_id(case: Bad) -> str:
    return case.id


def chmod_unreadable(folder: Path) -> Path:
    path = folder / "locked.csv"
    path.write_text("pair_id,rater_id,choice\np001,r2,a\n", encoding="utf-8")
    path.chmod(0)
    return path


#: Only where permissions bind (not as root): a file its owner may not read.
LOCKED = pytest.param(
    Bad(
        "a-file-without-permission",
        chmod_unreadable,
        "locked.csv: cannot be read (Permission denied)",
    ),
    marks=pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file"),
    id="a-file-without-permission",
)
