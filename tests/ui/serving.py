"""Serving the real app to a browser test: a workspace, a process, a port of its own, a log.

``serve(workspace, how=...)`` starts ``streamlit run app.py`` (as ``tests/ui/test_browser.py``
does) or ``intentgap serve`` (server.py: the app with its sign-in routes, security headers and
error page), waits until it answers, and stops it afterwards. Everything the server prints goes
to ``Served.log``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from playwright.sync_api import Page, expect

from data.workspace import DATABASE_ENV_VAR, ENV_VAR, Workspace
from tests.conftest import INTENTGAP
from tests.ui.conftest import ADMIN_PASSWORD, REPO
from tests.ui.test_browser import Served, free_port, press_until, settled, wait_until_up
from ui import auth


@dataclass
class Logged(Served):
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _command(how: Literal["streamlit", "intentgap"], workspace: Workspace, port: int) -> list[str]:
    if how == "intentgap":
        return [
            *INTENTGAP, "serve", "--workspace", str(workspace.root), "--port", str(port),
            "--address", "127.0.0.1",
        ]  # fmt: skip
    return [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip


@contextmanager
def serve(
    workspace: Workspace,
    tokens: dict[str, str],
    log: Path,
    how: Literal["streamlit", "intentgap"] = "streamlit",
    database_url: str | None = None,
) -> Iterator[Logged]:
    """The app on ``workspace`` (its database: ``database_url``, a PostgreSQL database that
    other servers may share, else the workspace's DuckDB file)."""
    port = free_port()
    env = {**os.environ, ENV_VAR: str(workspace.root), auth.ADMIN_PASSWORD_ENV: ADMIN_PASSWORD}
    env.pop(DATABASE_ENV_VAR, None)
    if database_url is not None:
        env[DATABASE_ENV_VAR] = database_url
    with log.open("wb") as out:
        process = subprocess.Popen(
            _command(how, workspace, port), cwd=REPO, env=env, stdout=out, stderr=out
        )
        served = Logged(f"http://127.0.0.1:{port}", workspace, tokens, process, log)
        try:
            wait_until_up(served)
            yield served
        finally:
            served.stop()


def sign_in_as_admin(page: Page, url: str) -> None:
    page.goto(url)
    page.get_by_label("Admin password").fill(ADMIN_PASSWORD, timeout=30_000)  # a cold start
    page.get_by_role("button", name="Sign in as admin").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def open_page(page: Page, title: str) -> None:
    """Follow the sidebar link to a page and wait for its heading."""
    page.get_by_role("link", name=title, exact=True).click()
    heading = page.get_by_role("heading", name=re.compile(title, re.IGNORECASE)).first
    expect(heading).to_be_visible()


__all__ = ["Logged", "open_page", "press_until", "serve", "settled", "sign_in_as_admin"]
