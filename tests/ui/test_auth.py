"""ui.auth: where the admin password comes from, the session's role, and the back-off after
failed sign-ins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ui import auth


def test_the_admin_password_comes_from_env_then_secret_then_file(tmp_path: Path) -> None:
    file = tmp_path / "admin-password.txt"
    file.write_text("from-file\n")
    env = {auth.ADMIN_PASSWORD_ENV: "from-env"}
    assert auth.admin_password(env, "from-secret", file) == auth.PasswordSource(
        "from-env", "the environment variable INTENTGAP_ADMIN_PASSWORD"
    )
    assert auth.admin_password({}, "from-secret", file).password == "from-secret"  # type: ignore[union-attr]
    assert auth.admin_password({auth.ADMIN_PASSWORD_ENV: " "}, None, file) == (
        auth.PasswordSource("from-file", f"the file {file}")
    )
    assert auth.admin_password({}, None, tmp_path / "missing.txt") is None
    (tmp_path / "blank.txt").write_text("\n")
    assert auth.admin_password({}, "", tmp_path / "blank.txt") is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [("s3cret", True), (" s3cret\n", True), ("s3cre", False), ("S3CRET", False), ("", False)],
)
def test_password_matches(given: str, expected: bool) -> None:
    assert auth.password_matches(given, auth.PasswordSource("s3cret", "test")) is expected


def test_no_password_configured_lets_nobody_in() -> None:
    assert not auth.password_matches("anything", None)


def test_links_and_pasted_tokens() -> None:
    link = auth.sign_in_link("http://10.0.0.5:8501/label", "a/b+c")
    assert link == "http://10.0.0.5:8501/?token=a%2Fb%2Bc"
    assert auth.token_from_input(link) == "a/b+c"
    assert auth.sign_in_link(None, "t") == "http://localhost:8501/?token=t"


def test_signing_in_starts_a_fresh_session() -> None:
    session: dict[str, Any] = {"label_choice": "left"}
    auth.sign_in_rater(session, "r1", "secret-1")
    assert (auth.role(session), auth.rater_id(session), auth.is_admin(session)) == (
        auth.Role.RATER,
        "r1",
        False,
    )
    assert auth.secret(session) == "secret-1"
    assert "label_choice" not in session, "a previous person's page state is gone"
    auth.sign_in_admin(session, "secret-2")
    assert (auth.role(session), auth.rater_id(session), auth.is_admin(session)) == (
        auth.Role.ADMIN,
        None,
        True,
    )
    auth.sign_out(session)
    assert session == {} and auth.role(session) is None


def test_an_unknown_role_value_is_no_role() -> None:
    assert auth.role({"auth_role": "superuser", "auth_secret": "s"}) is None
    assert auth.role({"auth_role": "rater", "auth_secret": "s"}) is None, "needs a rater id"


def test_a_role_without_a_session_secret_is_no_role() -> None:
    assert auth.role({"auth_role": "admin"}) is None
    assert auth.role({"auth_role": "rater", "auth_rater_id": "r1"}) is None


# -- the throttle: a clock the test moves, instead of waiting ---------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_is_locked_out_after_a_few_failures_for_doubling_times() -> None:
    clock = Clock()
    throttle = auth.Throttle(client_free=5, client_delay=30, clock=clock)
    for _ in range(4):
        throttle.failed("10.0.0.1")
    assert throttle.wait("10.0.0.1") == 0.0, "four failures: the fifth try is still free"
    throttle.failed("10.0.0.1")
    assert throttle.wait("10.0.0.1") == 30.0
    assert throttle.wait("10.0.0.2") == 0.0, "other clients are not held back"
    clock.now += 30
    assert throttle.wait("10.0.0.1") == 0.0
    throttle.failed("10.0.0.1")
    assert throttle.wait("10.0.0.1") == 60.0, "each failure after a lock-out doubles it"
    assert throttle.failures("10.0.0.1") == 6


def test_the_lock_out_has_a_ceiling_and_failures_are_forgotten() -> None:
    clock = Clock()
    throttle = auth.Throttle(client_free=1, client_delay=30, max_delay=100, clock=clock)
    for _ in range(6):
        clock.now += throttle.wait("c")  # each try once the lock-out is over
        throttle.failed("c")
    assert throttle.wait("c") == 100.0, "30, 60, then at most 100 seconds"
    clock.now += 900.0 + 1
    throttle.failed("other")  # any failure sweeps out the forgotten ones
    assert throttle.failures("c") == 0 and throttle.wait("c") == 0.0


def test_a_success_clears_its_clients_count() -> None:
    throttle = auth.Throttle(client_free=3, clock=Clock())
    throttle.failed("c")
    throttle.failed("c")
    throttle.succeeded("c")
    throttle.failed("c")
    assert throttle.failures("c") == 1 and throttle.wait("c") == 0.0


def test_clients_that_rotate_their_address_meet_the_server_wide_back_off() -> None:
    clock = Clock()
    throttle = auth.Throttle(client_free=5, server_free=20, server_delay=2, clock=clock)
    for k in range(20):
        throttle.failed(f"10.0.0.{k}")  # one failure each: no client is locked out itself
    assert throttle.wait("10.0.0.99") == 2.0, "a fresh address waits too"
    clock.now += 2
    throttle.failed("10.0.1.1")
    assert throttle.wait("10.0.1.2") == 4.0
