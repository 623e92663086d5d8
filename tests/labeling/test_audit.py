"""The whole rater audit as one JSON-ready report, on planted raters, MT-bench and edge cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data import frames
from data.importers import ImportBatch, read_file
from data.presets import PRESETS
from labeling.agreement import percent_agreement
from labeling.audit import REPORT_KEYS, audit_report, format_report
from labeling.rater_probes import make_probe_pairs
from labeling.simulate import RaterProfile, rater_pool, simulate_pairs, simulate_votes


def planted_kind(rater: RaterProfile) -> str | None:
    """The blind spot ``rater_pool`` planted in a rater, named as the audit names it."""
    if rater.position_bias:
        return "position"
    if rater.length_bias:
        return "length"
    if rater.style_bias:
        return "style"
    if rater.weak_category:
        return "category"
    if rater.spam:
        return "speed"  # a spammer clicks without reading
    if rater.tie_rate >= 0.3:
        return "ties"
    if rater.drift:
        return "drift"
    return None


@pytest.fixture(scope="module")
def planted() -> tuple[tuple[RaterProfile, ...], dict[str, object]]:
    # 14 raters, half with one blind spot each (all seven kinds), 2,000 pairs x 5 votes.
    pool = rater_pool(14, seed=1, planted_share=0.5)
    pairs = simulate_pairs(2000, seed=1)
    votes = simulate_votes(pairs, pool, votes_per_pair=5, seed=1)
    return pool, audit_report(pairs, votes, n_boot=100)


def test_report_has_the_documented_sections(
    planted: tuple[tuple[RaterProfile, ...], dict[str, object]],
) -> None:
    _, report = planted
    assert tuple(report) == REPORT_KEYS
    summary = report["summary"]
    assert isinstance(summary, dict)
    assert summary["n_judgments"] == 10_000
    assert summary["n_raters"] == 14
    assert summary["n_models"] == 4


def test_blind_spots_name_exactly_the_planted_raters(
    planted: tuple[tuple[RaterProfile, ...], dict[str, object]],
) -> None:
    pool, report = planted
    expected = {(r.rater_id, kind) for r in pool if (kind := planted_kind(r))}
    assert len(expected) == 7
    # A spammer agrees with the others at chance: far below the pool's accuracy too.
    expected |= {(r.rater_id, "accuracy") for r in pool if r.spam}
    findings = report["blind_spots"]
    assert isinstance(findings, list)
    assert {(f["rater_id"], f["kind"]) for f in findings} == expected
    summary = report["summary"]
    assert isinstance(summary, dict)
    assert summary["n_flagged"] == 8 and summary["n_tests"] > 100
    first = findings[0]
    assert set(first) == {
        "rater_id",
        "kind",
        "slice",
        "effect",
        "ci",
        "p_value",
        "q_value",
        "n",
        "message",
    }
    low, high = first["ci"]
    assert low <= first["effect"] <= high and first["q_value"] < 0.05
    raters = {row["rater_id"]: row for row in report["raters"]}  # type: ignore[attr-defined]
    assert raters["r0001"]["blind_spots"] == ["position"]
    assert raters["r0003"]["blind_spots"] == []


def test_raters_carry_reliability_with_intervals(
    planted: tuple[tuple[RaterProfile, ...], dict[str, object]],
) -> None:
    _, report = planted
    raters = report["raters"]
    assert isinstance(raters, list) and len(raters) == 14
    assert sum(row["n"] for row in raters) == 10_000
    ties = {row["rater_id"]: row["tie_rate"] for row in raters}
    assert ties["r0008"] == pytest.approx(0.3, abs=0.05)  # the planted tie-lover
    for row in raters:
        assert 0.0 <= row["ds_accuracy"] <= 1.0
        low, high = row["consensus"]["ci"]
        assert low <= row["consensus"]["accuracy"] <= high
        assert row["gold"]["n"] > 0  # 10% of simulated pairs carry gold
    # The spammer agrees with peers at chance; the careful raters far above it.
    spammer = next(row for row in raters if row["rater_id"] == "r0005")
    assert spammer["consensus"]["accuracy"] < 0.6 < raters[2]["consensus"]["accuracy"]


def test_leaderboard_and_agreement_sections(
    planted: tuple[tuple[RaterProfile, ...], dict[str, object]],
) -> None:
    _, report = planted
    board = report["leaderboard"]
    assert isinstance(board, list)
    # simulate_pairs' default models, strongest first.
    assert [row["model"] for row in board][:1] == ["atlas-70b"]
    assert [row["rank"] for row in board] == [1, 2, 3, 4]
    for row in board:
        assert row["ci"][0] <= row["score"] <= row["ci"][1]
        assert row["style_shift"] == pytest.approx(row["style_score"] - row["score"])
    agreement = report["agreement"]
    assert isinstance(agreement, dict)
    alpha = agreement["krippendorff_alpha_ordinal"]
    assert alpha is not None and alpha["ci"][0] < alpha["estimate"] < alpha["ci"][1]
    assert agreement["fleiss_kappa"]["raters_per_item"] == 5
    assert len(agreement["by_category"]) == pairs_categories()
    disputed = report["disputed_pairs"]
    assert isinstance(disputed, list) and len(disputed) == 10
    # One ranking with the Disputed pairs page: most reasons to doubt the label first.
    reasons = [row["n_reasons"] for row in disputed]
    assert reasons == sorted(reasons, reverse=True)


def pairs_categories() -> int:
    return simulate_pairs(2000, seed=1)["category"].n_unique()


def test_report_survives_json_without_help(
    planted: tuple[tuple[RaterProfile, ...], dict[str, object]],
) -> None:
    _, report = planted
    text = json.dumps(report, allow_nan=False)  # no default=, no NaN
    assert json.loads(text) == report


def test_the_same_votes_give_the_same_report_every_time() -> None:
    """Sections run on two threads; the report must not depend on which finishes first."""
    pool = rater_pool(6, seed=2, planted_share=0.5)
    pairs = simulate_pairs(300, seed=2)
    votes = simulate_votes(pairs, pool, votes_per_pair=3, seed=2)
    first = json.dumps(audit_report(pairs, votes, n_boot=50))
    assert all(json.dumps(audit_report(pairs, votes, n_boot=50)) == first for _ in range(3))


def test_text_form_prints_every_section(
    planted: tuple[tuple[RaterProfile, ...], dict[str, object]],
) -> None:
    _, report = planted
    text = format_report(report)
    for title in ("Agreement", "Raters", "Blind spots: 8 flagged", "Leaderboard", "disputed"):
        assert title in text
    assert "r0008" in text and "atlas-70b" in text


# -- MT-bench ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mt_bench(datasets: Path) -> ImportBatch:
    return read_file(datasets / "mt-bench-human-judgments", preset="mt-bench")


def test_mt_bench_turn_1_experts_agree_63_and_81_percent(mt_bench: ImportBatch) -> None:
    # The paper's figures (Zheng et al. 2023, §4.2) count expert judges on turn-1 items only.
    turn = pl.col("metadata").str.json_path_match("$.turn").cast(pl.Int64)
    pairs = mt_bench.pairs.filter(turn == 1)
    votes = mt_bench.judgments.filter(pl.col("rater_id").str.starts_with("expert_")).join(
        pairs, on="pair_id", how="semi"
    )
    agreement = audit_report(pairs, votes, n_boot=200)["agreement"]
    assert isinstance(agreement, dict)
    with_ties, without_ties = (
        agreement["percent_agreement"],
        agreement["percent_agreement_without_ties"],
    )
    assert (round(with_ties["estimate"], 2), with_ties["n"]) == (0.63, 721)
    assert (round(without_ties["estimate"], 2), without_ties["n"]) == (0.81, 479)
    assert with_ties["ci"][0] < 0.63 < with_ties["ci"][1]


def test_mt_bench_whole_audit_counts_every_turn_and_judge(mt_bench: ImportBatch) -> None:
    # The audit itself takes every vote: both turns, authors and experts.
    report = audit_report(mt_bench.pairs, mt_bench.judgments, n_boot=0)
    everything = percent_agreement(mt_bench.judgments, mt_bench.pairs, n_boot=0)
    agreement = report["agreement"]
    assert isinstance(agreement, dict)
    assert agreement["percent_agreement"]["estimate"] == pytest.approx(everything.estimate)
    assert agreement["percent_agreement"]["n"] == everything.n == 1525
    assert agreement["percent_agreement"]["ci"] == [None, None]  # no bootstrap asked
    assert agreement["krippendorff_alpha_ordinal"] is None  # MT-bench records no strength
    assert len(agreement["by_category"]) == 8
    assert agreement["by_principle"] == [], "MT-bench votes cite no principles"
    # Six models, every unordered pair of them; each slice counts the votes it holds.
    by_models = {row["model_pair"]: row for row in agreement["by_model_pair"]}
    assert len(by_models) == 15 and "gpt-3.5-turbo vs gpt-4" in by_models
    direct = percent_agreement(mt_bench.judgments, mt_bench.pairs, by="model_pair", n_boot=0)
    assert {row["model_pair"]: row["n"] for row in direct.iter_rows(named=True)} == {
        name: row["percent_agreement"]["n"] for name, row in by_models.items()
    }
    board = report["leaderboard"]
    assert isinstance(board, list)
    assert board[0]["model"] == "gpt-4"
    assert len(board) == 6
    json.dumps(report, allow_nan=False)


# -- edge cases --------------------------------------------------------------------------------


def toy(n: int = 12) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "pair_id": [f"p{i:02d}" for i in range(n)],
            "prompt": [f"Question {i}?" for i in range(n)],
            "response_a": [f"Answer A to {i}." for i in range(n)],
            "response_b": [f"Answer B to {i}." for i in range(n)],
        }
    )


def votes_of(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["pair_id", "rater_id", "choice"], orient="row")


def check_plain(report: dict[str, object]) -> None:
    assert tuple(report) == REPORT_KEYS
    json.dumps(report, allow_nan=False)
    assert format_report(report)


def test_no_votes_gives_empty_sections() -> None:
    report = audit_report(toy(), frames.empty(frames.JUDGMENTS), n_boot=50)
    check_plain(report)
    assert report["raters"] == report["blind_spots"] == report["leaderboard"] == []
    assert report["disputed_pairs"] == []
    agreement = report["agreement"]
    assert isinstance(agreement, dict)
    assert agreement["percent_agreement"] == {
        "estimate": None,
        "ci": [None, None],
        "n": 0,
        "n_items": 0,
        "n_raters": 0,
    }


def test_nothing_at_all() -> None:
    check_plain(audit_report(frames.empty(frames.PAIRS), frames.empty(frames.JUDGMENTS)))


def test_one_rater_has_reliability_but_no_agreement() -> None:
    votes = votes_of([(f"p{i:02d}", "solo", "a" if i % 3 else "b") for i in range(12)])
    report = audit_report(toy(), votes, n_boot=50)
    check_plain(report)
    assert [row["rater_id"] for row in report["raters"]] == ["solo"]  # type: ignore[attr-defined]
    agreement = report["agreement"]
    assert isinstance(agreement, dict)
    assert agreement["percent_agreement"]["estimate"] is None
    assert agreement["cohen_kappa"]["n_rater_pairs"] == 0
    assert report["leaderboard"] == []  # the toy pairs name no models


def test_two_raters_without_models_or_gold() -> None:
    rows = [(f"p{i:02d}", "r1", "a") for i in range(12)]
    rows += [(f"p{i:02d}", "r2", "a" if i < 9 else "b") for i in range(12)]
    report = audit_report(toy(), votes_of(rows), n_boot=50)
    check_plain(report)
    agreement = report["agreement"]
    assert isinstance(agreement, dict)
    assert agreement["percent_agreement"]["estimate"] == pytest.approx(9 / 12)
    # r1 said "a" throughout: their 75% agreement is all chance, so Cohen's kappa is 0.
    (kappa,) = agreement["cohen_kappa"]["lowest"]
    assert (kappa["agreement"], kappa["estimate"]) == (pytest.approx(0.75), pytest.approx(0.0))
    raters = report["raters"]
    assert isinstance(raters, list)
    assert all(row["gold"]["accuracy"] is None for row in raters)
    assert report["leaderboard"] == []


def test_dataset_label_raters_are_marked_and_counted() -> None:
    # A TRL import's own label is a rater named source:<file>; it votes on every pair.
    pairs = toy().with_columns(
        model_a=pl.lit("big"), model_b=pl.lit("small"), category=pl.lit("chat")
    )
    rows = [(f"p{i:02d}", "source:prefs", "a") for i in range(12)]
    rows += [(f"p{i:02d}", "ada", "a" if i % 4 else "b") for i in range(12)]
    report = audit_report(pairs, votes_of(rows), n_boot=50)
    check_plain(report)
    kinds = {row["rater_id"]: row["kind"] for row in report["raters"]}  # type: ignore[attr-defined]
    assert kinds == {"ada": "human", "source:prefs": "source"}
    summary = report["summary"]
    assert isinstance(summary, dict) and summary["n_source_raters"] == 1
    board = report["leaderboard"]
    assert isinstance(board, list) and [row["model"] for row in board] == ["big", "small"]


def test_votes_on_unknown_pairs_are_left_out() -> None:
    votes = votes_of([("p00", "r1", "a"), ("p00", "r2", "a"), ("elsewhere", "r1", "b")])
    report = audit_report(toy(), votes, n_boot=0)
    summary = report["summary"]
    assert isinstance(summary, dict) and summary["n_judgments"] == 2


# -- degenerate raters and pools: the audit always completes -----------------------------------


def llm_judge_votes(datasets: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """LLMFAO's crowd votes plus GPT-4's verdict on every one of its 2,139 pairs as one more
    rater, ``gpt-4`` (left = a, as the crowd saw it)."""
    batch = PRESETS["llmfao"].read(datasets / "llmfao")
    verdicts = pl.read_csv(datasets / "llmfao" / "gpt4-crowd-comparisons.csv")
    judge = verdicts.select(
        pl.format("llmfao-{}", "id").alias("pair_id"),
        pl.lit("gpt-4").alias("rater_id"),
        pl.col("winner").replace_strict({"left": "a", "right": "b", "tie": "tie"}).alias("choice"),
        pl.lit("a").alias("shown_left"),
    )
    votes = frames.conform(
        pl.concat([batch.judgments, judge], how="diagonal_relaxed"), frames.JUDGMENTS
    )
    return batch.pairs, votes


def test_an_llm_judge_as_one_more_rater_leaves_every_section_standing(datasets: Path) -> None:
    # Before: "Singular matrix" from the length and style regressions, and no report at all.
    pairs, votes = llm_judge_votes(datasets)
    assert votes.filter(pl.col("rater_id") == "gpt-4").height == 2139
    report = audit_report(pairs, votes, n_boot=20)
    check_plain(report)
    raters = {row["rater_id"]: row for row in report["raters"]}  # type: ignore[attr-defined]
    assert len(raters) == 125 and raters["gpt-4"]["n"] == 2139
    summary = report["summary"]
    assert isinstance(summary, dict)
    # Raters whose regressions cannot be fitted are named in a note, with the reason.
    notes = " | ".join(summary["notes"])
    assert "length not tested for" in notes and "chose the same side on every vote" in notes
    assert summary["n_tests"] > 400
    board = report["leaderboard"]
    assert isinstance(board, list) and len(board) > 50


def test_a_plain_text_set_keeps_its_leaderboard(datasets: Path) -> None:
    # PandaLM's responses have no bold anywhere: style control leaves it out and says so;
    # before, the whole leaderboard was dropped ("could not be fitted").
    batch = PRESETS["pandalm"].read(datasets / "pandalm-testset")
    report = audit_report(batch.pairs, batch.judgments, n_boot=20)
    board = report["leaderboard"]
    assert isinstance(board, list)
    assert [row["rank"] for row in board] == [1, 2, 3, 4, 5]
    for row in board:
        assert row["ci"][0] < row["score"] < row["ci"][1]
        assert row["style_ci"][0] < row["style_score"] < row["style_ci"][1]
    summary = report["summary"]
    assert isinstance(summary, dict)
    assert "style control leaves out bold: the same in every voted pair" in summary["notes"]


TEXTS = ("Plain answer.", "A much longer plain answer with more words in it.", "# Plan\n- **one**")


@st.composite
def small_pools(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A few pairs (one model, two or none; categories or none; gold or none; texts that may
    all be alike) and a few raters (one vote each, all ties, one side throughout...)."""
    n_pairs = draw(st.integers(1, 70))  # past 20 votes a rater's regressions are fitted
    models = draw(st.sampled_from([(None, None), ("m1", "m1"), ("m1", "m2"), ("m1", None)]))
    text = st.sampled_from(TEXTS)
    same_text = draw(st.booleans())
    pairs = pl.DataFrame(
        {
            "pair_id": [f"p{i}" for i in range(n_pairs)],
            "prompt": ["Why?"] * n_pairs,
            "response_a": [TEXTS[0] if same_text else draw(text) for _ in range(n_pairs)],
            "response_b": [TEXTS[0] if same_text else draw(text) for _ in range(n_pairs)],
            "category": draw(
                st.lists(st.sampled_from([None, "x", "y"]), min_size=n_pairs, max_size=n_pairs)
            ),
            "model_a": [models[0]] * n_pairs,
            "model_b": [models[1]] * n_pairs,
            "gold": draw(
                st.lists(
                    st.sampled_from([None, "a", "b", "tie"]), min_size=n_pairs, max_size=n_pairs
                )
            ),
        }
    )
    choices = draw(st.sampled_from([("a", "b", "tie", "both_bad"), ("tie",), ("a",), ("b", "a")]))
    rows = []
    for rater in range(draw(st.integers(1, 5))):
        voted = (
            range(n_pairs)  # every pair, or a few
            if draw(st.booleans())
            else draw(st.lists(st.integers(0, n_pairs - 1), min_size=1, max_size=3, unique=True))
        )
        for pair in voted:
            rows.append(
                {
                    "pair_id": f"p{pair}",
                    "rater_id": f"r{rater}",
                    "choice": draw(st.sampled_from(choices)),
                    "shown_left": draw(st.sampled_from([None, "a", "b"])),
                    "seconds": draw(st.sampled_from([None, 0.0, 1.5, 60.0])),
                    "principles": draw(st.sampled_from([[], ["honesty"], ["honesty", "honesty"]])),
                }
            )
    return frames.conform(pairs, frames.PAIRS), frames.conform(pl.DataFrame(rows), frames.JUDGMENTS)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_pools())
def test_the_audit_always_completes(pool: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    pairs, votes = pool
    check_plain(audit_report(pairs, votes, n_boot=3))


def test_the_audit_completes_on_degenerate_raters_at_scale() -> None:
    # Enough votes for every regression and slice test, with a rater on one side throughout,
    # one who only ties, one with a single vote and plain texts: each is skipped or tested alone.
    pairs = simulate_pairs(600, seed=7).with_columns(
        pl.col("response_a").str.replace_all(r"[#*\-]", ""),
        pl.col("response_b").str.replace_all(r"[#*\-]", ""),
    )
    votes = simulate_votes(pairs, [RaterProfile(f"h{k}") for k in range(5)], 3, seed=7)
    odd = [(p, "always-a", "a") for p in pairs["pair_id"].head(80)]
    odd += [(p, "always-tie", "tie") for p in pairs["pair_id"].head(40)]
    odd += [("sim7-000000", "once", "b")]
    votes = frames.conform(
        pl.concat([votes, votes_of(odd)], how="diagonal_relaxed"), frames.JUDGMENTS
    )
    report = audit_report(pairs, votes, n_boot=10)
    check_plain(report)
    assert len(report["raters"]) == 8  # type: ignore[arg-type]
    summary = report["summary"]
    assert isinstance(summary, dict)
    assert summary["notes"] == [
        "length not tested for 1 rater (always-a: chose the same side on every vote "
        "(80 decisive votes))",
        "style not tested for 6 raters (always-a: chose the same side on every vote "
        "(80 decisive votes); h0: no Markdown difference in their votes (343 decisive votes); "
        "h1: no Markdown difference in their votes (330 decisive votes); and 3 more)",
        "style control leaves out headers, lists, bold: the same in every voted pair",
    ]
    assert [(row["rater_id"], row["kind"]) for row in report["blind_spots"]] == [  # type: ignore[attr-defined]
        ("always-tie", "ties")
    ]


# -- probe pairs and retests -------------------------------------------------------------------


@pytest.fixture(scope="module")
def probed_and_retested() -> dict[str, Any]:
    """Six honest raters, one swayed by flattery and one who answers retests at random, on
    300 gold pairs with flattery and length probes, 30% of votes served again."""
    pairs = simulate_pairs(300, seed=3, gold_share=1.0)
    pool = [RaterProfile(f"h{k}", inconsistency=0.05) for k in range(6)]
    pool += [
        RaterProfile("flattered", probe_bias={"flattery": 0.8}, inconsistency=0.05),
        RaterProfile("noisy", inconsistency=1.0),
    ]
    votes = simulate_votes(pairs, pool, votes_per_pair=4, seed=3, retest_share=0.3)
    probes = make_probe_pairs(pairs, votes, ["flattery", "length"], seed=3).pairs
    probe_votes = simulate_votes(probes, pool, votes_per_pair=4, seed=4)
    return audit_report(pl.concat([pairs, probes]), pl.concat([votes, probe_votes]), n_boot=50)


def test_rater_cards_carry_probe_susceptibility_and_self_agreement(
    probed_and_retested: dict[str, Any],
) -> None:
    report = probed_and_retested
    check_plain(report)
    raters = {row["rater_id"]: row for row in report["raters"]}
    flattered = {row["kind"]: row for row in raters["flattered"]["probes"]}
    assert set(flattered) == {"flattery", "length"}
    swayed = flattered["flattery"]
    assert swayed["flagged"] and swayed["rate"] > 0.6 > swayed["base_rate"]
    assert swayed["ci"][0] <= swayed["rate"] <= swayed["ci"][1]
    assert swayed["q_value"] < 0.05 and swayed["n"] >= 10
    assert not flattered["length"]["flagged"]
    noisy, steady = raters["noisy"]["self_agreement"], raters["h0"]["self_agreement"]
    assert noisy["flagged"] and not steady["flagged"]
    assert noisy["kappa"] < 0.3 < steady["kappa"]
    assert noisy["ci"][0] <= noisy["kappa"] <= noisy["ci"][1]
    # Beside it, the kappa with the other raters: the noisy rater's first answers are fine.
    assert raters["noisy"]["kappa_with_others"]["median"] > noisy["kappa"]
    assert raters["noisy"]["kappa_with_others"]["n_raters"] == 7
    flagged = {(row["rater_id"], row["kind"]) for row in report["blind_spots"]}
    assert {("flattered", "probe"), ("noisy", "retest")} <= flagged
    assert raters["flattered"]["blind_spots"] == ["probe"]
    assert "probe" not in raters["h0"]["blind_spots"]


def test_the_pool_has_its_own_probe_and_retest_rows(probed_and_retested: dict[str, Any]) -> None:
    report = probed_and_retested
    pool = report["probes"]
    assert [row["kind"] for row in pool["susceptibility"]] == ["flattery", "length"]
    assert sum(row["n"] for row in pool["susceptibility"]) == sum(
        probe["n"] for rater in report["raters"] for probe in rater["probes"]
    )
    assert pool["self_agreement"]["n"] == sum(
        rater["self_agreement"]["n"] for rater in report["raters"]
    )
    text = format_report(report)
    assert "Probe pairs: share of decisive votes for the surface-edited side" in text
    assert "Retests: the same pair again, sides swapped" in text
    assert "(all raters)" in text


def test_what_the_votes_say_is_read_without_the_raters_tests() -> None:
    # Retests and probe pairs test the raters: agreement, reliability, the leaderboard and the
    # disputed pairs read the same votes as an audit of the ordinary pairs' first answers.
    pairs = simulate_pairs(200, seed=5, gold_share=1.0)
    pool = [RaterProfile(f"h{k}", inconsistency=0.05) for k in range(5)]
    pool += [RaterProfile("noisy", inconsistency=1.0, probe_bias={"flattery": 0.9})]
    votes = simulate_votes(pairs, pool, votes_per_pair=3, seed=5, retest_share=0.3)
    probes = make_probe_pairs(pairs, votes, ["flattery"], seed=5).pairs
    probe_votes = simulate_votes(probes, pool, votes_per_pair=3, seed=6)
    tested = audit_report(pl.concat([pairs, probes]), pl.concat([votes, probe_votes]), n_boot=20)
    plain = audit_report(pairs, votes.filter(pl.col("round") == 0), n_boot=20)

    assert tested["agreement"] == plain["agreement"]
    assert tested["leaderboard"] == plain["leaderboard"]
    # Disputed pairs: ordinary pairs, their first answers counted. (Which raters are flagged,
    # one reason to doubt a pair, rightly depends on the tests.)
    first_answers = votes.filter(pl.col("round") == 0)
    for row in tested["disputed_pairs"]:  # type: ignore[attr-defined]
        assert row["pair_id"] not in probes["pair_id"]
        on_pair = first_answers.filter(pl.col("pair_id") == row["pair_id"])
        assert row["n_votes"] == on_pair.height
        assert {c: n for c, n in row["votes"].items() if n} == dict(
            on_pair["choice"].value_counts().iter_rows()
        )
    keep = ("rater_id", "n", "share", "tie_rate", "ds_accuracy", "consensus", "gold")
    assert [{k: row[k] for k in keep} for row in tested["raters"]] == [  # type: ignore[attr-defined]
        {k: row[k] for k in keep}
        for row in plain["raters"]  # type: ignore[attr-defined]
    ]
    summary, plain_summary = tested["summary"], plain["summary"]
    assert isinstance(summary, dict) and isinstance(plain_summary, dict)
    n_retests = votes.filter(pl.col("round") == 1).height
    assert summary["n_judgments"] == votes.height + probe_votes.height
    assert (
        summary["n_counted_judgments"] == plain_summary["n_judgments"] == votes.height - n_retests
    )
    assert summary["n_items"] == plain_summary["n_items"]
    assert (
        f"{probe_votes.height:,} votes on probe pairs and {n_retests:,} retests test the raters,"
        " not the responses: agreement, reliability, the leaderboard and disputed pairs leave"
        " them out"
    ) in summary["notes"]
    # ... while the checks of the raters read every vote.
    flagged = {(row["rater_id"], row["kind"]) for row in tested["blind_spots"]}  # type: ignore[attr-defined]
    assert ("noisy", "probe") in flagged


def test_a_report_without_probes_or_retests_says_none() -> None:
    pairs = simulate_pairs(60, seed=1)
    votes = simulate_votes(pairs, [RaterProfile(f"r{k}") for k in range(3)], 3, seed=1)
    report = audit_report(pairs, votes, n_boot=10)
    assert report["probes"] == {"susceptibility": [], "self_agreement": None}
    assert all(row["probes"] == [] for row in report["raters"])  # type: ignore[attr-defined]
    assert all(row["self_agreement"] is None for row in report["raters"])  # type: ignore[attr-defined]
