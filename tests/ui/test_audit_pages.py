"""Audit pages on a workspace of simulated votes with one planted position-biased rater."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from data.store import Store
from data.workspace import ENV_VAR, Workspace
from labeling.rater_probes import make_probe_pairs
from labeling.simulate import RaterProfile, rater_pool, simulate_pairs, simulate_votes
from tests.ui.conftest import (
    ADMIN_ONLY,
    ADMIN_PASSWORD,
    BIASED,
    SIMULATED,
    app,
    page_as_rater,
    signed_in_admin,
    texts,
)
from ui import auth, cache

AUDIT_PAGES = [
    "ui/pages/agreement.py",
    "ui/pages/raters_audit.py",
    "ui/pages/disputes.py",
    "ui/pages/leaderboard.py",
]


def admin_on(path: str, **state: object) -> AppTest:
    at = signed_in_admin(app())
    for key, value in state.items():
        at.session_state[key] = value
    return at.switch_page(path).run()


@pytest.mark.parametrize("path", AUDIT_PAGES)
def test_a_rater_session_cannot_render_an_audit_page(sim_workspace: Workspace, path: str) -> None:
    at = page_as_rater(path, BIASED)
    assert not at.exception
    assert [e.value for e in at.error] == ADMIN_ONLY
    assert not at.title and not at.dataframe, "the guard stopped the page"


def test_agreement_overview_shows_coefficients_with_intervals(sim_workspace: Workspace) -> None:
    at = admin_on("ui/pages/agreement.py", audit_n_boot=50)
    assert not at.exception and not at.error
    overall, by_category = (frame.value for frame in at.dataframe)
    assert overall["coefficient"].tolist() == [
        "percent_agreement",
        "percent_agreement_without_ties",
        "fleiss_kappa",
        "krippendorff_alpha_nominal",
        "krippendorff_alpha_ordinal",
    ]
    assert (overall["ci_low"] <= overall["estimate"]).all()
    assert (overall["estimate"] <= overall["ci_high"]).all()
    assert overall["n_items"].tolist()[-2] == 240
    assert sorted(set(by_category["slice"])) == [
        "advice",
        "coding",
        "fabrication",
        "math",
        "safety",
        "writing",
    ]
    assert len(at.get("vega_lite_chart")) == 2

    at.segmented_control(key="audit_slice").set_value("model_pair").run()
    by_models = at.dataframe[1].value
    assert all(" vs " in pair for pair in by_models["slice"])
    at.segmented_control(key="audit_slice").set_value("principle").run()
    by_principle = at.dataframe[1].value
    assert not at.exception and not at.error
    assert {"honesty", "helpfulness"} <= set(by_principle["slice"])


def test_the_planted_position_bias_shows_on_the_raters_page(sim_workspace: Workspace) -> None:
    at = admin_on("ui/pages/raters_audit.py")
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    flagged = dict(zip(table["rater_id"], table["blind_spots"], strict=True))
    assert flagged[BIASED] == "position"
    assert {rater for rater, kinds in flagged.items() if kinds} == {BIASED}

    at.selectbox(key="raters_audit_rater").set_value(BIASED).run()
    page_text = texts(at)
    assert "**position** · decisive votes" in page_text
    assert f"{BIASED} picked the response shown on the left in 69% of 110 decisive votes" in (
        page_text
    )
    assert len(at.get("vega_lite_chart")) == 3, "position, length and category plots"


def test_an_honest_rater_has_no_flagged_blind_spot(sim_workspace: Workspace) -> None:
    at = admin_on("ui/pages/raters_audit.py")
    at.selectbox(key="raters_audit_rater").set_value("r0001").run()
    assert [s.value for s in at.success] == ["No blind spot flagged for r0001."]
    at.toggle(key="raters_audit_all_tests").set_value(True).run()
    assert "**position** · decisive votes" in texts(at), "every test, flagged or not"


def test_disputed_pairs_show_every_vote(sim_workspace: Workspace) -> None:
    at = admin_on("ui/pages/disputes.py")
    assert not at.exception and not at.error
    disputed, votes = (frame.value for frame in at.dataframe)
    assert len(disputed) == 50
    assert disputed["n_reasons"].is_monotonic_decreasing
    first = disputed["pair_id"].iloc[0]
    assert at.selectbox(key="disputes_pair").value == first
    assert at.subheader[0].value == f"Pair {first}"
    assert len(votes) == 3, "every vote on the pair"
    assert set(votes["choice"]) <= {"a", "b", "tie"}


def test_leaderboard_puts_plain_and_style_controlled_side_by_side(
    sim_workspace: Workspace,
) -> None:
    at = admin_on("ui/pages/leaderboard.py", leaderboard_n_boot=10)
    assert not at.exception and not at.error
    board = at.dataframe[0].value
    assert board["model"].tolist()[0] == "atlas-70b", "the strongest simulated model"
    assert set(board["model"]) == {"atlas-70b", "birch-13b", "cedar-13b", "dune-mini"}
    shift = dict(zip(board["model"], board["style_shift"], strict=True))
    assert shift["birch-13b"] == min(shift.values()), "the verbose model loses most to style"
    assert len(at.get("vega_lite_chart")) == 1


def test_plain_text_votes_keep_the_leaderboard_and_say_what_was_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No response has a header, a list or bold: the style fit used to be singular and the page
    # showed a LinAlgError traceback instead of any leaderboard.
    workspace = Workspace(tmp_path / "workspace").create()
    pairs = simulate_pairs(120, seed=2, mean_chars=200).with_columns(
        pl.col("response_a").str.replace_all(r"[#*\-]", ""),
        pl.col("response_b").str.replace_all(r"[#*\-]", ""),
    )
    votes = simulate_votes(pairs, rater_pool(4, seed=2, planted_share=0), 3, seed=2)
    with Store(workspace.database) as store:
        store.save_project(SIMULATED)
        store.import_frames(pairs, votes, SIMULATED.project_id)
    monkeypatch.setenv(ENV_VAR, str(workspace.root))
    monkeypatch.setenv(auth.ADMIN_PASSWORD_ENV, ADMIN_PASSWORD)
    try:
        at = admin_on("ui/pages/leaderboard.py", leaderboard_n_boot=10)
        assert not at.exception and not at.error
        board = at.dataframe[0].value
        assert len(board) == 4 and board["score"].notna().all()
        (note,) = (info.value.replace("\\", "") for info in at.info)  # shown literally
        assert note == (
            "Note: style control leaves out headers, lists, bold: the same in every voted pair."
        )
    finally:
        cache.open_store.clear()


def test_rater_cards_show_probe_susceptibility_and_self_agreement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Gold pairs with flattery and length probes, half the votes served again: "flattered"
    # picks most flattered responses, "noisy" answers retests with a coin flip.
    workspace = Workspace(tmp_path / "workspace").create()
    pairs = simulate_pairs(300, seed=3, gold_share=1.0, mean_chars=200)
    pool = [RaterProfile(f"h{k}", inconsistency=0.05) for k in range(3)]
    pool += [
        RaterProfile("flattered", probe_bias={"flattery": 0.9}),
        RaterProfile("noisy", inconsistency=1.0),
    ]
    votes = simulate_votes(pairs, pool, votes_per_pair=4, seed=3, retest_share=0.5)
    probes = make_probe_pairs(pairs, votes, ["flattery", "length"], seed=3).pairs
    probe_votes = simulate_votes(probes, pool, votes_per_pair=4, seed=4)
    with Store(workspace.database) as store:
        store.save_project(SIMULATED)
        store.import_frames(
            pl.concat([pairs, probes]), pl.concat([votes, probe_votes]), SIMULATED.project_id
        )
    monkeypatch.setenv(ENV_VAR, str(workspace.root))
    monkeypatch.setenv(auth.ADMIN_PASSWORD_ENV, ADMIN_PASSWORD)
    try:
        at = admin_on("ui/pages/raters_audit.py", raters_audit_rater="flattered")
        assert not at.exception and not at.error
        table = at.dataframe[0].value
        flagged = dict(zip(table["rater_id"], table["blind_spots"], strict=True))
        assert "probe" in flagged["flattered"] and "retest" in flagged["noisy"]
        assert "**probe** · flattery" in texts(at)
        probes_shown, kappas = (frame.value for frame in at.dataframe[1:])
        mine = probes_shown[probes_shown["who"] == "flattered"].set_index("probe_kind")
        assert mine.loc["flattery", "rate"] > 0.7 > mine.loc["flattery", "base_rate"]
        assert bool(mine.loc["flattery", "flagged"]) and not bool(mine.loc["length", "flagged"])
        assert set(probes_shown["who"]) == {"flattered", "(all raters)"}
        assert kappas["who"].tolist()[:2] == ["flattered, retests", "all raters, retests"]
        assert len(kappas) > 2, "beside the kappas with the other raters"
        assert len(at.get("vega_lite_chart")) == 4, "position, length, categories and probes"

        at.selectbox(key="raters_audit_rater").set_value("noisy").run()
        assert not at.exception and not at.error
        kappas = at.dataframe[-1].value.set_index("who")
        assert (
            kappas.loc["noisy, retests", "estimate"]
            < 0.3
            < kappas.loc["all raters, retests", "estimate"]
        )
        assert kappas.index.str.startswith("with ").sum() == 4, "every other rater"
        assert "**retest** · retested pairs" in texts(at)
    finally:
        cache.open_store.clear()
