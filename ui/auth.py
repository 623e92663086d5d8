"""Who is signed in: the admin password, rater sign-in links, the session's role, and the
back-off after failed sign-ins.

No streamlit here: the session helpers take any mutable mapping (``st.session_state`` in the
app, a plain dict in tests). A session's rater id is set only by ``sign_in_rater``, with the
secret of a session the store opened (for a link, the admin password or a demo rater);
nothing the browser sends names a rater. ``ui.session`` checks that secret with the store on
every page run, so a session ended elsewhere (sign-out, link reset, deactivation) ends here.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, urlsplit

__all__ = [
    "ADMIN_PASSWORD_ENV",
    "ADMIN_PASSWORD_SECRET",
    "LOG",
    "PasswordSource",
    "Role",
    "SessionState",
    "Throttle",
    "admin_password",
    "is_admin",
    "password_matches",
    "rater_id",
    "role",
    "secret",
    "sign_in_admin",
    "sign_in_link",
    "sign_in_rater",
    "sign_out",
    "token_from_input",
]

ADMIN_PASSWORD_ENV = "INTENTGAP_ADMIN_PASSWORD"
ADMIN_PASSWORD_SECRET = "admin_password"
#: Failed and refused sign-ins are logged here, one line each, never with the secret.
LOG = logging.getLogger("intentgap.auth")
#: Session keys owned by this module.
_ROLE_KEY = "auth_role"
_RATER_KEY = "auth_rater_id"
_SECRET_KEY = "auth_secret"
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


# -- the session -----------------------------------------------------------------------------


def sign_in_rater(session: SessionState, rater: str, secret: str) -> None:
    """Start a fresh rater session; ``rater`` and ``secret`` come from a store ``SignIn``."""
    session.clear()
    session[_ROLE_KEY] = Role.RATER.value
    session[_RATER_KEY] = rater
    session[_SECRET_KEY] = secret


def sign_in_admin(session: SessionState, secret: str) -> None:
    """Start a fresh admin session; call only after ``password_matches``, with the secret of
    the admin session the store opened."""
    session.clear()
    session[_ROLE_KEY] = Role.ADMIN.value
    session[_SECRET_KEY] = secret


def sign_out(session: SessionState) -> None:
    """Forget everything, page state included, so the next person starts clean."""
    session.clear()


def secret(session: SessionState) -> str | None:
    """The secret of the store session this browser session stands on, or None."""
    value = session.get(_SECRET_KEY)
    return str(value) if value else None


def role(session: SessionState) -> Role | None:
    """The signed-in role, or None (a role without a session secret is no role).

    >>> session = {}
    >>> sign_in_rater(session, "r1", "s3cret")
    >>> role(session), rater_id(session), is_admin(session)
    (<Role.RATER: 'rater'>, 'r1', False)
    """
    if secret(session) is None:
        return None
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


# -- failed sign-ins -------------------------------------------------------------------------


@dataclass
class _Failures:
    count: int = 0
    last_at: float = 0.0
    locked_until: float = 0.0


class Throttle:
    """Backs off sign-in attempts after failures, per client and for the whole server.

    After ``client_free`` failures a client is locked out for ``client_delay`` seconds, and
    each failure after the lock-out doubles that, up to ``max_delay``. The server as a whole
    backs off the same way after ``server_free`` failures from anyone, for shorter times
    (``server_delay``, at most ``server_max_delay``): clients that rotate their address gain
    little, and a lock-out of everyone stays brief. An attempt during a lock-out is refused
    before its secret is looked at, so guessing then learns nothing, not even with the right
    secret. Failures are forgotten ``forget_after`` seconds after the last one; a success
    clears its client's count. Thread-safe: one per process.

    >>> clock = [0.0]
    >>> throttle = Throttle(client_free=2, client_delay=10, clock=lambda: clock[0])
    >>> throttle.failed("10.0.0.1"); throttle.failed("10.0.0.1")
    >>> throttle.wait("10.0.0.1"), throttle.wait("10.0.0.2")
    (10.0, 0.0)
    >>> clock[0] = 10.0
    >>> throttle.wait("10.0.0.1")
    0.0
    """

    def __init__(
        self,
        *,
        client_free: int = 5,
        client_delay: float = 30.0,
        max_delay: float = 900.0,
        server_free: int = 20,
        server_delay: float = 2.0,
        server_max_delay: float = 60.0,
        forget_after: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client_free = client_free
        self.client_delay = client_delay
        self.max_delay = max_delay
        self.server_free = server_free
        self.server_delay = server_delay
        self.server_max_delay = server_max_delay
        self.forget_after = forget_after
        self.clock = clock
        self._clients: dict[str, _Failures] = {}
        self._server = _Failures()
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Seconds until ``client`` may try again (0.0: now)."""
        with self._lock:
            now = self.clock()
            failures = self._clients.get(client, _Failures())
            return max(failures.locked_until - now, self._server.locked_until - now, 0.0)

    def failed(self, client: str) -> None:
        """Count a wrong secret from ``client``."""
        with self._lock:
            now = self.clock()
            self._forget_old(now)
            failures = self._clients.setdefault(client, _Failures())
            self._count(failures, now, self.client_free, self.client_delay, self.max_delay)
            self._count(
                self._server, now, self.server_free, self.server_delay, self.server_max_delay
            )

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)

    def failures(self, client: str) -> int:
        """Failures of ``client`` not yet forgotten (for the log)."""
        with self._lock:
            return self._clients.get(client, _Failures()).count

    def _forget_old(self, now: float) -> None:
        for client in [c for c, f in self._clients.items() if now - f.last_at > self.forget_after]:
            del self._clients[client]
        if now - self._server.last_at > self.forget_after:
            self._server = _Failures()

    @staticmethod
    def _count(failures: _Failures, now: float, free: int, delay: float, cap: float) -> None:
        failures.count += 1
        failures.last_at = now
        past_free = failures.count - free
        if past_free >= 0:
            failures.locked_until = now + min(delay * 2.0**past_free, cap)
