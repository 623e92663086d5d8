"""A temporary workspace the real app runs on: real Store file, one project, two raters.

``INTENTGAP_HOME`` points the app at it. The app keeps its one Store in streamlit's
resource cache; ``released()`` empties that cache (closing the file) so a test can open the
database itself and read what the app wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from data.store import Project, Store
from data.workspace import ENV_VAR, Workspace
from labeling.simulate import rater_pool, simulate_pairs, simulate_votes
from tests.conftest import toy_pairs
from ui import auth, cache

REPO = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "correct horse battery staple"
TOY = Project(
    "toy",
    "Toy project",
    guidelines="Prefer the **honest** answer.",
    principles=("honesty", "harmlessness"),
    overlap_k=2,
    gold_rate=0.0,
)


SIMULATED = Project("sim", "Simulated project", overlap_k=3, gold_rate=0.0)
#: rater_pool(6, seed=1) plants one blind spot, a position bias, in this rater.
BIASED = "r0003"


def simulated_workspace(root: Path) -> Workspace:
    """240 short simulated pairs, 3 votes each from 6 raters, r0003 favouring the left side."""
    workspace = Workspace(root).create()
    pool = rater_pool(6, seed=1, planted_share=1 / 6)
    assert [r.rater_id for r in pool if r.position_bias] == [BIASED]
    pairs = simulate_pairs(240, seed=1, mean_chars=200)
    votes = simulate_votes(pairs, pool, votes_per_pair=3, seed=1)
    with Store(workspace.database) as store:
        store.save_project(SIMULATED)
        store.import_frames(pairs, votes, SIMULATED.project_id)
    return workspace


@pytest.fixture
def sim_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """The simulated project (``simulated_workspace``), served to the pages."""
    workspace = simulated_workspace(tmp_path / "workspace")
    monkeypatch.setenv(ENV_VAR, str(workspace.root))
    monkeypatch.setenv(auth.ADMIN_PASSWORD_ENV, ADMIN_PASSWORD)
    yield workspace
    cache.open_store.clear()


@dataclass(frozen=True)
class AppWorkspace:
    workspace: Workspace
    tokens: dict[str, str]

    def released(self) -> Store:
        """The database, opened by the test after the app let go of it (use ``with``)."""
        cache.open_store.clear()
        return Store(self.workspace.database)


@pytest.fixture
def app_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppWorkspace]:
    """The toy project with 3 pairs (``p000``..``p002``) and raters r1, r2 with tokens."""
    workspace = Workspace(tmp_path / "workspace").create()
    monkeypatch.setenv(ENV_VAR, str(workspace.root))
    monkeypatch.setenv(auth.ADMIN_PASSWORD_ENV, ADMIN_PASSWORD)
    with Store(workspace.database) as store:
        store.save_project(TOY)
        store.import_frames(toy_pairs(3), None, TOY.project_id)
        tokens = {rater: store.add_rater(rater) for rater in ("r1", "r2")}
    yield AppWorkspace(workspace, tokens)
    cache.open_store.clear()


def app() -> AppTest:
    """The real entry file, as ``streamlit run app.py`` would start it."""
    return AppTest.from_file(str(REPO / "app.py"), default_timeout=30)


def page(path: str) -> AppTest:
    """One page file on its own, as someone who guessed its URL would reach it."""
    return AppTest.from_file(str(REPO / path), default_timeout=30)


def click(at: AppTest, label: str) -> AppTest:
    """Click the button (form submit buttons included) with this label, and rerun."""
    matches = [button for button in at.button if button.label == label]
    assert len(matches) == 1, f"expected one button {label!r}, got {[b.label for b in at.button]}"
    return matches[0].click().run()


def texts(at: AppTest) -> str:
    """Everything the page wrote as text (markdown, alerts, captions, titles), one string."""
    elements = [
        *at.title,
        *at.subheader,
        *at.markdown,
        *at.caption,
        *at.success,
        *at.error,
        *at.info,
        *at.warning,
        *at.code,
    ]
    return "\n".join(str(element.value) for element in elements)


def page_as_rater(path: str, rater_id: str) -> AppTest:
    """One page file run in a session where ``rater_id`` signed in (no admin role)."""
    rater_session: dict[str, object] = {}
    auth.sign_in_rater(rater_session, rater_id, "a rater's session secret")
    at = page(path)
    for key, value in rater_session.items():
        at.session_state[key] = value
    return at.run()


#: What every admin page shows a rater instead of itself.
ADMIN_ONLY = ["This page is for admins. Sign in as admin to open it."]


def signed_in_rater(at: AppTest, token: str) -> AppTest:
    """Open the app through a personal link."""
    at.query_params["token"] = token
    return at.run()


def signed_in_admin(at: AppTest) -> AppTest:
    at.run()
    at.text_input(key="signin_password").input(ADMIN_PASSWORD)
    return click(at, "Sign in as admin")
