"""Sign-in sessions in the store: single-use links, sessions that reset and deactivation end,
expiry, the one-time handoff to the cookie, and raters kept to one project."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from data.store import (
    HANDOFF_TTL,
    MIGRATIONS,
    RATER_SESSION_IDLE,
    SESSION_MAX_AGE,
    Project,
    Store,
)
from tests.conftest import toy_pairs

LATER = timedelta(minutes=10)


def soon(delta: timedelta) -> datetime:
    return datetime.now(UTC) + delta


def test_the_migration_is_named_and_recorded(store: Store) -> None:
    assert "0002_rater_sessions" in [name for name, _ in MIGRATIONS]
    assert store.migrate() == [], "nothing left to apply"


def test_a_link_signs_in_once(store: Store) -> None:
    token = store.add_rater("r1")
    first = store.sign_in_with_token(token)
    assert first is not None and first.session.rater_id == "r1"
    assert store.sign_in_with_token(token) is None, "the link is used up"
    assert store.rater_for_token(token) is None
    assert store.session(first.secret) == first.session, "the session it opened lives on"


@pytest.mark.parametrize("token", ["", "   ", "not-a-token"])
def test_a_wrong_token_signs_nobody_in(store: Store, token: str) -> None:
    store.add_rater("r1")
    assert store.sign_in_with_token(token) is None


def test_sign_out_ends_the_session_and_only_it(store: Store) -> None:
    store.add_rater("r1")
    phone = store.sign_in_with_token(store.reset_token("r1"))
    laptop = store.sign_in_admin()
    assert phone is not None
    store.end_session(phone.secret)
    assert store.session(phone.secret) is None
    assert store.session(laptop.secret) is not None


def test_a_reset_ends_every_open_session_of_that_rater_at_once(store: Store) -> None:
    first = store.sign_in_with_token(store.add_rater("r1"))
    second = store.sign_in_with_token(store.reset_token("r1"))
    other = store.sign_in_with_token(store.add_rater("r2"))
    assert first is not None and second is not None and other is not None
    assert store.session(first.secret) is None, "ended by the reset that made the second link"
    new_link = store.reset_token("r1")
    assert store.session(second.secret) is None
    assert store.session(other.secret) is not None, "another rater's session is untouched"
    assert store.sign_in_with_token(new_link) is not None, "the new link works, once"


def test_deactivation_ends_the_sessions_and_reactivation_does_not_revive_them(
    store: Store,
) -> None:
    signed_in = store.sign_in_with_token(store.add_rater("r1"))
    assert signed_in is not None
    store.set_rater_active("r1", False)
    assert store.session(signed_in.secret) is None
    store.set_rater_active("r1", True)
    assert store.session(signed_in.secret) is None, "a new link is needed"


def test_a_session_expires_when_idle_and_each_use_slides_it_on(store: Store) -> None:
    signed_in = store.sign_in_with_token(store.add_rater("r1"))
    assert signed_in is not None
    assert store.session(signed_in.secret, now=soon(RATER_SESSION_IDLE - LATER)) is not None
    # That use moved the expiry a whole idle period on from then.
    assert store.session(signed_in.secret, now=soon(2 * RATER_SESSION_IDLE - 2 * LATER))
    assert store.session(signed_in.secret, now=soon(4 * RATER_SESSION_IDLE)) is None


def test_no_session_outlives_its_maximum_age(store: Store) -> None:
    signed_in = store.sign_in_admin()
    day = timedelta(hours=7)  # used within every idle period of an admin session (8 hours)
    moment = timedelta(0)
    while moment < SESSION_MAX_AGE - day:
        moment += day
        assert store.session(signed_in.secret, now=soon(moment)) is not None
    assert store.session(signed_in.secret, now=soon(SESSION_MAX_AGE + LATER)) is None


def test_the_handoff_code_trades_once_for_a_new_secret(store: Store) -> None:
    signed_in = store.sign_in_admin()
    cookie = store.redeem_handoff(signed_in.handoff)
    assert cookie is not None and cookie != signed_in.secret
    assert store.session(cookie) == signed_in.session
    assert store.session(signed_in.secret) is None, "the secret is rotated"
    assert store.redeem_handoff(signed_in.handoff) is None, "the code is used up"


def test_a_stale_handoff_code_or_one_of_an_ended_session_trades_for_nothing(
    store: Store,
) -> None:
    stale = store.sign_in_admin()
    assert store.redeem_handoff(stale.handoff, now=soon(HANDOFF_TTL + LATER)) is None
    ended = store.sign_in_admin()
    store.end_session(ended.secret)
    assert store.redeem_handoff(ended.handoff) is None
    assert store.redeem_handoff("") is None


def test_the_database_holds_hashes_only(file_store: Store) -> None:
    token = file_store.add_rater("r1")
    signed_in = file_store.sign_in_with_token(token)
    assert signed_in is not None and file_store.path is not None
    file_store.close()
    with duckdb.connect(str(file_store.path), read_only=True) as db:
        stored = str(db.sql("SELECT * FROM raters").fetchall())
        stored += str(db.sql("SELECT * FROM sessions").fetchall())
    assert "r1" in stored
    for secret in (token, signed_in.secret, signed_in.handoff):
        assert secret not in stored


# -- raters kept to one project: the demo's ---------------------------------------------------


@pytest.fixture
def demo_and_real(store: Store) -> Store:
    """A demo project and a real one, two pairs each; demo-rater-1 is kept to the demo."""
    store.save_project(Project("demo", "Demo", is_demo=True, gold_rate=0.0))
    store.save_project(Project("real", "Real", gold_rate=0.0))
    demo_pairs = toy_pairs(2).with_columns(pair_id="demo-" + toy_pairs(2)["pair_id"])
    store.import_frames(demo_pairs, None, "demo")
    store.import_frames(toy_pairs(2), None, "real")
    store.add_rater("demo-rater-1", only_project="demo")
    store.add_rater("alice")
    return store


def claim(store: Store, rater: str, project_id: str) -> str | None:
    project = store.project(project_id)
    assert project is not None
    assignment = store.claim_next(rater, project, kind="work", choose_side=lambda r, p: "a")
    return None if assignment is None else assignment.pair_id


def test_a_demo_rater_gets_demo_pairs_and_never_a_pair_of_another_project(
    demo_and_real: Store,
) -> None:
    store = demo_and_real
    assert claim(store, "demo-rater-1", "real") is None
    assert claim(store, "demo-rater-1", "demo") is not None
    assert not store.rater_may_label("demo-rater-1", "real")
    assert claim(store, "alice", "real") is not None, "other raters may label anything"


def test_only_raters_kept_to_a_demo_project_sign_in_without_a_link(demo_and_real: Store) -> None:
    store = demo_and_real
    assert store.demo_raters() == ["demo-rater-1"]
    assert store.sign_in_demo_rater("alice") is None
    signed_in = store.sign_in_demo_rater("demo-rater-1")
    assert signed_in is not None and signed_in.session.rater_id == "demo-rater-1"
    store.limit_rater_to("alice", "real")
    assert store.sign_in_demo_rater("alice") is None, "kept to a project that is no demo"
    store.set_rater_active("demo-rater-1", False)
    assert store.demo_raters() == [] and store.sign_in_demo_rater("demo-rater-1") is None
