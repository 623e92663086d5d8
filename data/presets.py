"""Known public preference datasets (presets) and ``PRESETS``, the one registry of them.

Each reader takes the dataset's file or folder and returns an ``ImportBatch``; ids are stable
(``mtb-q081-t1-alpaca-13b-vs-claude-v1``, ``pandalm-17``, ``llmfao-42`` or content hashes), so
a re-import changes nothing. Published data keeps what it has: empty responses (a model that
said nothing) are imported, not refused, and every vote is one judgment.

``PRESETS`` (name -> ``Preset``) is what the importer, the CLI's ``--preset`` choices and the
app's import page read; a new dataset is one reader plus one entry there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import polars as pl

from data.columns import Columns
from data.formats import LINE, MAX_BYTES, InputError, Table, import_limit, load_table
from data.shapes import ImportBatch, assemble, require_columns, trl_frames

__all__ = [
    "PRESETS",
    "Preset",
    "read_hh_rlhf",
    "read_llmfao",
    "read_mt_bench",
    "read_pandalm",
]


def read_hh_rlhf(
    path: Path, source_rater: str | None = None, max_bytes: int = MAX_BYTES
) -> ImportBatch:
    """Anthropic HH-RLHF: one ``*.jsonl.gz`` (or ``.jsonl``) of ``chosen, rejected`` dialogue
    strings, or a folder holding such files in split folders.

    The shared leading turns are the prompt; ``category`` is the split (the file's folder,
    e.g. ``helpful-base``); the crowdworker's label is a vote by ``source_rater`` (default
    ``hh-rlhf``). ``max_bytes`` bounds the files together, not each one.
    """
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.name.endswith((".jsonl.gz", ".jsonl")))
        if not files:
            raise InputError(path, "no *.jsonl.gz or *.jsonl file in this folder (hh-rlhf)")
    else:
        files = [path]
    rater = source_rater or "hh-rlhf"
    now = datetime.now(UTC)
    tables, pair_parts, vote_parts = [], [], []
    budget = max_bytes
    for file in files:
        if budget <= 0:
            raise InputError(path, f"its files hold more than {import_limit(max_bytes)}")
        table = load_table(file, "jsonl", max_bytes=budget)
        budget -= int(table.frame.estimated_size())
        require_columns(table, ("chosen", "rejected"))
        split = file.parent.name
        pairs, votes = trl_frames(
            Columns(table), rater=rater, source=f"hh-rlhf/{split}", now=now, allow_empty=True
        )
        tables.append(table)
        pair_parts.append(pairs.with_columns(pl.lit(split).alias("category")))
        vote_parts.append(votes)
    return assemble(
        tables[0],
        "hh-rlhf",
        pl.concat(pair_parts),
        pl.concat(vote_parts),
        source_raters=(rater,),
        path=path,
    )


def read_mt_bench(
    path: Path, source_rater: str | None = None, max_bytes: int = MAX_BYTES
) -> ImportBatch:
    """MT-Bench human judgments (folder with ``human_judgments.jsonl``, ``question.jsonl``,
    ``model_answers.jsonl``; or any file in it).

    One pair per (question, turn, model_a, model_b) in the file's model order, id
    ``mtb-q081-t1-alpaca-13b-vs-claude-v1``; one judgment per vote, rater = ``judge``, choice
    from ``winner``; ``source`` is ``mt-bench:<judge_type>``; pair metadata holds
    ``question_id`` and ``turn``. A judge voting twice on one ordered pair gets rounds 0, 1, ...

    Turn 2 was judged as each model's own two-turn conversation, and the two models' first
    answers differ, so the pair's prompt is the first question and each response is that
    model's conversation from its first answer on (``Assistant: ...\\n\\nUser: <question
    2>\\n\\nAssistant: ...``), which is also what TRL's ``extract_prompt`` makes of the two
    conversations.
    """
    _no_source_rater("mt-bench", source_rater)
    folder = path if path.is_dir() else path.parent
    votes_table = _load(folder, "human_judgments.jsonl", "mt-bench", max_bytes)
    questions = _mt_bench_turns(
        _load(folder, "question.jsonl", "mt-bench", max_bytes), ["question_id"]
    )
    answers = _mt_bench_turns(
        _load(folder, "model_answers.jsonl", "mt-bench", max_bytes), ["question_id", "model"]
    )
    require_columns(votes_table, ("question_id", "turn", "judge", "model_a", "model_b", "winner"))
    cols = Columns(votes_table)
    votes = pl.DataFrame(
        [
            cols.integer("question_id", 0, None, "is negative"),
            cols.integer("turn", 1, 2, "is not 1 or 2"),
            cols.text("category"),
            cols.rater_ids("judge"),
            cols.text("judge_type"),
            cols.text("model_a", required=True, nonempty=True),
            cols.text("model_b", required=True, nonempty=True),
            cols.choice("winner", ("model_a", "model_b", "tie"), required=True),
            cols.lines,
        ]
    )
    joined = (
        votes.join(
            questions.rename({"first": "q1", "second": "q2"}),
            on="question_id",
            how="left",
            maintain_order="left",
        )
        .join(
            answers.rename({"model": "model_a", "first": "a1", "second": "a2"}),
            on=["question_id", "model_a"],
            how="left",
            maintain_order="left",
        )
        .join(
            answers.rename({"model": "model_b", "first": "b1", "second": "b2"}),
            on=["question_id", "model_b"],
            how="left",
            maintain_order="left",
        )
    )
    cols.fail(
        "question_id", joined["q1"].is_null(), lambda v: f"question {v} is not in question.jsonl"
    )
    for side, answer in (("model_a", "a1"), ("model_b", "b1")):
        cols.fail(
            side,
            joined[answer].is_null(),
            lambda v: f"no answer by {v!r} to this question in model_answers.jsonl",
        )
    turn_two = pl.col("turn") == 2
    pair_id = pl.format(
        "mtb-q{}-t{}-{}-vs-{}",
        pl.col("question_id").cast(pl.String).str.zfill(3),
        pl.col("turn"),
        pl.col("model_a"),
        pl.col("model_b"),
    )
    in_context = "Assistant: {}\n\nUser: {}\n\nAssistant: {}"
    pairs = joined.select(
        pair_id.alias("pair_id"),
        pl.col("q1").alias("prompt"),
        pl.when(turn_two)
        .then(pl.format(in_context, "a1", "q2", "a2"))
        .otherwise(pl.col("a1"))
        .alias("response_a"),
        pl.when(turn_two)
        .then(pl.format(in_context, "b1", "q2", "b2"))
        .otherwise(pl.col("b1"))
        .alias("response_b"),
        "category",
        "model_a",
        "model_b",
        pl.lit("mt-bench").alias("source"),
        pl.struct("question_id", "turn").struct.json_encode().alias("metadata"),
        LINE,
    )
    judgments = joined.select(
        pair_id.alias("pair_id"),
        pl.col("judge").alias("rater_id"),
        pl.int_range(pl.len()).over(["judge", pair_id]).cast(pl.Int32).alias("round"),
        pl.col("winner")
        .replace_strict({"model_a": "a", "model_b": "b", "tie": "tie"})
        .alias("choice"),
        pl.lit(datetime.now(UTC)).alias("created_at"),
        pl.format("mt-bench:{}", "judge_type").fill_null("mt-bench").alias("source"),
        LINE,
    )
    return assemble(
        votes_table, "mt-bench", pairs, judgments, report_pair_duplicates=False, path=folder
    )


def _mt_bench_turns(table: Table, key: list[str]) -> pl.DataFrame:
    """``key`` columns plus the first and second entry of ``turns``."""
    require_columns(table, [*key, "turns"])
    cols = Columns(table)
    turns = table.frame["turns"]
    if turns.dtype != pl.List(pl.String):
        cols.fail("turns", turns.is_not_null(), lambda v: f"{v!r} is not a list of texts")
    return pl.DataFrame(
        [
            *(
                cols.integer(name, 0, None, "is negative")
                if name == "question_id"
                else cols.text(name, required=True)
                for name in key
            ),
            turns.list.get(0, null_on_oob=True).alias("first"),
            turns.list.get(1, null_on_oob=True).alias("second"),
        ]
    ).unique(subset=key, keep="first", maintain_order=True)


def read_pandalm(
    path: Path, source_rater: str | None = None, max_bytes: int = MAX_BYTES
) -> ImportBatch:
    """PandaLM's human test set (``testset-v1.jsonl``, or its folder): 999 pairs, three votes
    each by ``pandalm:annotator1..3``; labels 0 = tie, 1 = response1 (a), 2 = response2 (b).

    The prompt is the instruction, then the input (if any) after a blank line; the models come
    from ``cmp_key`` (``<model of response1>_<model of response2>``); ``category`` is
    ``motivation_app``.
    """
    _no_source_rater("pandalm", source_rater)
    file = path / "testset-v1.jsonl" if path.is_dir() else path
    if not file.is_file():
        raise InputError(path, "testset-v1.jsonl is missing (pandalm)")
    table = load_table(file, "jsonl", max_bytes=max_bytes)
    annotators = ("annotator1", "annotator2", "annotator3")
    require_columns(table, ("idx", "instruction", "response1", "response2", "cmp_key", *annotators))
    cols = Columns(table)
    instruction = cols.text("instruction", required=True)
    given_input = cols.text("input").fill_null("")
    models = cols.text("cmp_key", required=True).str.split("_")
    cols.fail("cmp_key", models.list.len() != 2, lambda v: f"{v!r} is not '<model a>_<model b>'")
    idx = cols.integer("idx", 0, None, "is negative")
    pairs = pl.DataFrame(
        [
            ("pandalm-" + idx.cast(pl.String)).alias("pair_id"),
            pl.select(
                pl.when(given_input.str.strip_chars() == "")
                .then(instruction)
                .otherwise(pl.format("{}\n\n{}", instruction, given_input))
            )
            .to_series()
            .alias("prompt"),
            cols.text("response1", required=True, scalars=True).alias("response_a"),
            cols.text("response2", required=True, scalars=True).alias("response_b"),
            cols.text("motivation_app").alias("category"),
            models.list.first().alias("model_a"),
            models.list.last().alias("model_b"),
            pl.repeat("pandalm", table.frame.height, eager=True).alias("source"),
            pl.DataFrame([idx, cols.text("cmp_key")])
            .select(pl.struct("idx", "cmp_key").struct.json_encode())
            .to_series()
            .alias("metadata"),
            cols.lines,
        ]
    )
    labels = []
    for name in annotators:
        label = cols.integer(name, 0, 2, "is not 0 (tie), 1 or 2")
        cols.fail(name, label.is_null(), lambda _: "the label is missing")
        labels.append(
            pl.DataFrame(
                [
                    pairs["pair_id"],
                    pl.repeat(f"pandalm:{name}", label.len(), eager=True).alias("rater_id"),
                    label.replace_strict({0: "tie", 1: "a", 2: "b"}, return_dtype=pl.String).alias(
                        "choice"
                    ),
                    cols.lines,
                ]
            )
        )
    votes = pl.concat(labels).sort(LINE, "rater_id", maintain_order=True)
    votes = votes.with_columns(
        pl.lit(0, pl.Int32).alias("round"),
        pl.lit(datetime.now(UTC)).alias("created_at"),
        pl.lit("pandalm").alias("source"),
    )
    return assemble(table, "pandalm", pairs, votes, path=path)


def read_llmfao(
    path: Path, source_rater: str | None = None, max_bytes: int = MAX_BYTES
) -> ImportBatch:
    """LLMFAO crowd comparisons (its folder, or a file in it): pairs from ``pairs-crowd.jsonl``
    (``result_x`` is ``a`` and was shown on the left), votes from ``crowd-comparisons.csv``
    by ``llmfao:worker-<n>`` (left = a, right = b, tie; ``shown_left`` = a).

    Model names come from ``models.jsonl`` when present; pair metadata keeps the source ids.
    """
    _no_source_rater("llmfao", source_rater)
    folder = path if path.is_dir() else path.parent
    pairs_table = _load(folder, "pairs-crowd.jsonl", "llmfao", max_bytes)
    votes_table = _load(folder, "crowd-comparisons.csv", "llmfao", max_bytes)
    require_columns(pairs_table, ("id", "text", "model_x", "result_x", "model_y", "result_y"))
    require_columns(votes_table, ("id", "model_x", "model_y", "worker", "winner"))
    names = _llmfao_model_names(folder, max_bytes)
    p = Columns(pairs_table)
    source_ids = pl.DataFrame(
        [
            p.integer("id", 0, None, "is negative"),
            p.integer("prompt", 0, None, "is negative"),
            p.integer("model_x", 0, None, "is negative"),
            p.integer("model_y", 0, None, "is negative"),
            p.text("slug"),
            p.text("note"),
        ]
    )
    pairs = pl.DataFrame(
        [
            ("llmfao-" + source_ids["id"].cast(pl.String)).alias("pair_id"),
            p.text("text", required=True).alias("prompt"),
            p.text("result_x", required=True).alias("response_a"),
            p.text("result_y", required=True).alias("response_b"),
            p.text("type").alias("category"),
            _model_names(source_ids["model_x"], names).alias("model_a"),
            _model_names(source_ids["model_y"], names).alias("model_b"),
            pl.repeat("llmfao", pairs_table.frame.height, eager=True).alias("source"),
            source_ids.select(pl.struct(pl.all()).struct.json_encode())
            .to_series()
            .alias("metadata"),
            p.lines,
        ]
    )
    v = Columns(votes_table)
    votes = pl.DataFrame(
        [
            v.integer("id", 0, None, "is negative").alias("id"),
            v.integer("model_x", 0, None, "is negative").alias("vote_x"),
            v.integer("model_y", 0, None, "is negative").alias("vote_y"),
            v.rater_ids("worker").alias("worker"),
            v.choice("winner", ("left", "right", "tie"), required=True).alias("winner"),
            v.lines,
        ]
    ).join(
        source_ids.select("id", "model_x", "model_y"), on="id", how="left", maintain_order="left"
    )
    v.fail("id", votes["model_x"].is_null(), lambda i: f"pair {i} is not in pairs-crowd.jsonl")
    v.fail(
        "model_x",
        (votes["vote_x"] != votes["model_x"]) | (votes["vote_y"] != votes["model_y"]),
        lambda m: f"model {m} is not the pair's model_x in pairs-crowd.jsonl",
    )
    judgments = votes.select(
        pl.format("llmfao-{}", "id").alias("pair_id"),
        pl.format("llmfao:worker-{}", "worker").alias("rater_id"),
        pl.lit(0, pl.Int32).alias("round"),
        pl.col("winner").replace_strict({"left": "a", "right": "b", "tie": "tie"}).alias("choice"),
        pl.lit("a").alias("shown_left"),
        pl.lit(datetime.now(UTC)).alias("created_at"),
        pl.lit("llmfao").alias("source"),
        LINE,
    )
    return assemble(pairs_table, "llmfao", pairs, judgments, path=folder)


def _llmfao_model_names(folder: Path, max_bytes: int) -> dict[int, str]:
    file = folder / "models.jsonl"
    if not file.is_file():
        return {}
    table = load_table(file, "jsonl", max_bytes=max_bytes)
    cols = Columns(table)
    ids = cols.integer("id", 0, None, "is negative")
    return dict(zip(ids.to_list(), cols.text("name", required=True).to_list(), strict=True))


def _model_names(ids: pl.Series, names: Mapping[int, str]) -> pl.Series:
    return ids.replace_strict(names, default=ids.cast(pl.String), return_dtype=pl.String)


def _load(folder: Path, name: str, preset: str, max_bytes: int) -> Table:
    file = folder / name
    if not file.is_file():
        raise InputError(folder, f"{name} is missing (not a {preset} folder?)")
    return load_table(file, max_bytes=max_bytes)


def _no_source_rater(preset: str, source_rater: str | None) -> None:
    if source_rater is not None:
        raise ValueError(f"the {preset} preset has human raters; source_rater does not apply")


@dataclass(frozen=True)
class Preset:
    """A known public dataset: its name, a line that says what it reads, and its reader
    (``reader(path, source_rater, max_bytes)``)."""

    name: str
    description: str
    reader: Callable[[Path, str | None, int], ImportBatch]

    def read(
        self,
        path: str | os.PathLike[str],
        source_rater: str | None = None,
        *,
        max_bytes: int = MAX_BYTES,
    ) -> ImportBatch:
        """The dataset's file or folder at ``path`` as one batch; nothing is written. No
        file is read past ``max_bytes`` (after decompression)."""
        return self.reader(Path(path), source_rater, max_bytes)


PRESETS: Mapping[str, Preset] = MappingProxyType(
    {
        preset.name: preset
        for preset in (
            Preset(
                "hh-rlhf",
                "Anthropic HH-RLHF: a *.jsonl.gz of chosen/rejected dialogues, or a folder of"
                " them; category = the split folder; source rater 'hh-rlhf'.",
                read_hh_rlhf,
            ),
            Preset(
                "mt-bench",
                "MT-Bench human judgments folder: one pair per (question, turn, model_a,"
                " model_b), one judgment per vote, rater = judge.",
                read_mt_bench,
            ),
            Preset(
                "pandalm",
                "PandaLM test set folder: 999 pairs from testset-v1.jsonl, 3 annotators"
                " (0 = tie, 1 = response1, 2 = response2).",
                read_pandalm,
            ),
            Preset(
                "llmfao",
                "LLMFAO folder: pairs-crowd.jsonl and crowd-comparisons.csv; left is always"
                " model_x (shown_left = a).",
                read_llmfao,
            ),
        )
    }
)
