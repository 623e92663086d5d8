"""Who is signed in: the admin password, rater sign-in links and the session's role.

No streamlit here: the session helpers take any mutable mapping (``st.session_state`` in the
app, a plain dict in tests). A session's rater id is set only by ``sign_in_rater``, which the
app calls with the id the store found for a token; nothing the browser sends names a rater.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, urlsplit

__all__ = [
    "ADMIN_PASSWORD_ENV",
    "ADMIN_PASSWORD_SECRET",
    "PasswordSource",
    "Role",
    "SessionState",
    "admin_password",
    "demo_raters",
    "is_admin",
    "password_matches",
    "rater_id",
    "role",
    "sign_in_admin",
    "sign_in_link",
    "sign_in_rater",
    "sign_out",
    "token_from_input",
]

ADMIN_PASSWORD_ENV = "INTENTGAP_ADMIN_PASSWORD"
ADMIN_PASSWORD_SECRET = "admin_password"
#: Session keys owned by this module.
_ROLE_KEY = "auth_role"
_RATER_KEY = "auth_rater_id"
#: Where links point when the app cannot tell its own address (tests, scripts).
_DEFAULT_APP_URL = "http://localhost:8501/"


class Role(StrEnum):
    RATER = "rater"
    ADMIN = "admin"


class SessionState(Protocol):
    """What the helpers need of a session: ``st.session_state`` or a plain dict."""

    def __contains__(self, key: str) -> bool: ...
    def get(self, key: str, /) -> Any: ...
    def __getitem__(self, key: str) -> Any: ...
    def __setitem__(self, key: str, value: Any) -> None: ...
    def clear(self) -> None: ...


@dataclass(frozen=True)
class PasswordSource:
    """The configured admin password and where it was found (shown, never the value)."""

    password: str
    where: str


def admin_password(
    env: Mapping[str, str], secret: str | None, password_file: Path
) -> PasswordSource | None:
    """The admin password from, in order: ``$INTENTGAP_ADMIN_PASSWORD``, the Streamlit secret
    ``admin_password``, the file ``intentgap demo`` writes. Blank values count as unset.

    >>> admin_password({"INTENTGAP_ADMIN_PASSWORD": "s3"}, "other", Path("/none")).where
    'the environment variable INTENTGAP_ADMIN_PASSWORD'
    """
    from_env = env.get(ADMIN_PASSWORD_ENV, "").strip()
    if from_env:
        return PasswordSource(from_env, f"the environment variable {ADMIN_PASSWORD_ENV}")
    if secret and secret.strip():
        return PasswordSource(
            secret.strip(), f"the Streamlit secret {ADMIN_PASSWORD_SECRET!r} (secrets.toml)"
        )
    try:
        from_file = password_file.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return None
    return PasswordSource(from_file, f"the file {password_file}") if from_file else None


def password_matches(given: str, expected: PasswordSource | None) -> bool:
    """Constant-time comparison, so response time does not leak how much of a guess was right.

    >>> password_matches("s3", PasswordSource("s3", "test"))
    True
    >>> password_matches("s3", None)
    False
    """
    if expected is None or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), expected.password.encode())


def token_from_input(text: str) -> str:
    """A pasted token, or the token inside a pasted sign-in link.

    >>> token_from_input(" http://host:8501/?token=abc-1 ")
    'abc-1'
    >>> token_from_input("abc-1")
    'abc-1'
    """
    text = text.strip()
    if "token=" in text:
        values = parse_qs(urlsplit(text).query).get("token")
        if values:
            return values[0].strip()
    return text


def sign_in_link(app_url: str | None, token: str) -> str:
    """The personal link that signs a rater in (``app_url`` is the app's address, or None).

    >>> sign_in_link("http://host:8501/label", "t0k")
    'http://host:8501/?token=t0k'
    """
    parts = urlsplit(app_url or _DEFAULT_APP_URL)
    return f"{parts.scheme}://{parts.netloc}/?token={quote(token, safe='')}"


def demo_raters(path: Path) -> dict[str, str]:
    """The demo raters' tokens (rater_id -> token) written by ``intentgap demo``; {} if none."""
    try:
        loaded: Any = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError, PermissionError, ValueError):
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {str(rater): str(token) for rater, token in loaded.items() if isinstance(token, str)}


# -- the session -----------------------------------------------------------------------------


def sign_in_rater(session: SessionState, rater: str) -> None:
    """Start a fresh rater session; ``rater`` must come from ``Store.rater_for_token``."""
    session.clear()
    session[_ROLE_KEY] = Role.RATER.value
    session[_RATER_KEY] = rater


def sign_in_admin(session: SessionState) -> None:
    """Start a fresh admin session; call only after ``password_matches``."""
    session.clear()
    session[_ROLE_KEY] = Role.ADMIN.value


def sign_out(session: SessionState) -> None:
    """Forget everything, page state included, so the next person starts clean."""
    session.clear()


def role(session: SessionState) -> Role | None:
    """The signed-in role, or None.

    >>> session = {}
    >>> sign_in_rater(session, "r1")
    >>> role(session), rater_id(session), is_admin(session)
    (<Role.RATER: 'rater'>, 'r1', False)
    """
    value = session.get(_ROLE_KEY)
    if value == Role.ADMIN.value:
        return Role.ADMIN
    if value == Role.RATER.value and session.get(_RATER_KEY):
        return Role.RATER
    return None


def rater_id(session: SessionState) -> str | None:
    """The signed-in rater, or None for an admin or a signed-out session."""
    if role(session) is not Role.RATER:
        return None
    return str(session[_RATER_KEY])


def is_admin(session: SessionState) -> bool:
    return role(session) is Role.ADMIN
