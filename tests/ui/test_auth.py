"""ui.auth: where the admin password comes from, and the session's role."""

from __future__ import annotations

import json
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


def test_demo_raters_file(tmp_path: Path) -> None:
    path = tmp_path / "demo-raters.json"
    assert auth.demo_raters(path) == {}
    path.write_text(json.dumps({"demo-rater-1": "tok1", "odd": 3}))
    assert auth.demo_raters(path) == {"demo-rater-1": "tok1"}
    path.write_text("[broken")
    assert auth.demo_raters(path) == {}


def test_signing_in_starts_a_fresh_session() -> None:
    session: dict[str, Any] = {"label_choice": "left"}
    auth.sign_in_rater(session, "r1")
    assert (auth.role(session), auth.rater_id(session), auth.is_admin(session)) == (
        auth.Role.RATER,
        "r1",
        False,
    )
    assert "label_choice" not in session, "a previous person's page state is gone"
    auth.sign_in_admin(session)
    assert (auth.role(session), auth.rater_id(session), auth.is_admin(session)) == (
        auth.Role.ADMIN,
        None,
        True,
    )
    auth.sign_out(session)
    assert session == {} and auth.role(session) is None


def test_an_unknown_role_value_is_no_role() -> None:
    assert auth.role({"auth_role": "superuser"}) is None
    assert auth.role({"auth_role": "rater"}) is None, "a rater role needs a rater id"
