"""A real PostgreSQL server for the tests: each test gets a database it creates and drops.

The server is found at ``$INTENTGAP_TEST_POSTGRES`` (a URL of a database to connect to for
CREATE DATABASE; default ``postgresql:///postgres``, the local socket). ``.ci/run`` starts
Debian's PostgreSQL 15 when it is installed but down. Without a server the PostgreSQL cases
skip with the reason; under ``CI`` they fail instead, like the browser tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import pytest

ENV_VAR = "INTENTGAP_TEST_POSTGRES"


def admin_url() -> str:
    return os.environ.get(ENV_VAR, "postgresql:///postgres")


@cache
def unavailable() -> str | None:
    """Why no PostgreSQL server can be used, or None when one can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(admin_url(), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"no PostgreSQL server at {admin_url()} ({first}); start one or set {ENV_VAR}"
    return None


def require() -> None:
    """Skip (fail under CI) the calling test when no server can be used."""
    reason = unavailable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}")
        pytest.skip(reason)


def _database_url(name: str) -> str:
    """The admin URL with its database name replaced (query parameters kept)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    return make_conninfo(**{**conninfo_to_dict(admin_url()), "dbname": name})


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty database on the server, dropped afterwards (even if still in use)."""
    import psycopg

    require()
    name = f"intentgap_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url_of(name)
    finally:
        with psycopg.connect(admin_url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def url_of(name: str) -> str:
    """A ``postgresql://`` URL for database ``name`` on the test server (the store needs the
    URL form; the host and port are carried over as query parameters)."""
    from urllib.parse import quote, urlencode

    from psycopg.conninfo import conninfo_to_dict

    parts = {k: str(v) for k, v in conninfo_to_dict(admin_url()).items() if k != "dbname"}
    query = f"?{urlencode(parts)}" if parts else ""
    return f"postgresql:///{quote(name)}{query}"
