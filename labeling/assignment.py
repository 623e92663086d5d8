"""Which pair a rater sees next, and on which side each response is shown.

The policy lives here; the store does the atomic claim. Work pairs go least-covered first
until each has ``overlap_k`` votes; hidden gold items are mixed in at the project's
``gold_rate``, hidden checks of the rater (probe pairs and retests, half each while both are
available) at its ``probe_rate``; an assignment left open past the project's limit is
expired so someone else can take it. A project whose ``policy`` is not ``uniform`` has its
work pairs ranked again every ``rank_interval`` seconds (``labeling.policies``), in the
background: a ranking reads every vote of the project.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time

from data.store import Assignment, Project, Store
from labeling.policies import POLICIES

_log = logging.getLogger(__name__)

__all__ = ["Assigner", "choose_side"]


def choose_side(rater_id: str, pair_id: str) -> str:
    """Which response (``a`` or ``b``) this rater sees on the left of this pair.

    A keyed hash: independent across raters and pairs, balanced (about half ``a``), and the
    same on a reload. The answer is stored with every assignment, so analysis never
    recomputes it.

    >>> choose_side("r1", "p1") in ("a", "b")
    True
    """
    digest = hashlib.blake2b(f"{rater_id}\x00{pair_id}".encode(), digest_size=8).digest()
    return "a" if digest[0] & 1 == 0 else "b"


class Assigner:
    """Hands out pairs for one store.

    ``rng`` decides only whether a hidden item comes next (and which), so tests can seed it.
    """

    #: Of the hidden checks of a rater, the share that are retests (the rest: probe pairs).
    retest_share = 0.5

    #: Seconds between sweeps for abandoned assignments (a sweep is a write transaction).
    reclaim_interval = 10.0
    #: Seconds between rankings of a project's pairs by its policy.
    rank_interval = 30.0

    def __init__(self, store: Store, rng: random.Random | None = None) -> None:
        self.store = store
        self.rng = rng or random.SystemRandom()
        self._last_reclaim: dict[str, float] = {}
        self._ranked: dict[str, tuple[float, str]] = {}  # project: (when, by which policy)
        self._ranking = threading.Lock()

    def next_pair(self, rater_id: str, project: Project) -> Assignment | None:
        """The rater's current pair: the one still open, else a newly claimed one.

        None when nothing is left for this rater.
        """
        now = time.monotonic()
        if now - self._last_reclaim.get(project.project_id, -self.reclaim_interval) >= (
            self.reclaim_interval
        ):
            self.store.reclaim_abandoned(project)
            self._last_reclaim[project.project_id] = now
        self._rank_if_due(project, now)
        current = self.store.open_assignment(rater_id, project.project_id)
        if current is not None:
            return current
        for kind in self._hidden_kinds(project):
            hidden = self.store.claim_next(rater_id, project, kind=kind, choose_side=choose_side)
            if hidden is not None:
                return hidden
        return self.store.claim_next(rater_id, project, kind="work", choose_side=choose_side)

    def _rank_if_due(self, project: Project, now: float) -> None:
        """Start ranking the project's pairs in the background when its policy asks for it
        (and no ranking is running): at once after the policy changed, then every
        ``rank_interval`` seconds. ``uniform`` needs none (the store then keeps every
        priority equal)."""
        if project.policy == "uniform":
            return
        when, policy = self._ranked.get(project.project_id, (-self.rank_interval, ""))
        due = policy != project.policy or now - when >= self.rank_interval
        if not due or not self._ranking.acquire(blocking=False):
            return
        self._ranked[project.project_id] = (now, project.policy)
        threading.Thread(target=self._rank, args=(project,), daemon=True).start()

    def _rank(self, project: Project) -> None:
        try:
            self.rank(project)
        except Exception:  # a failed ranking leaves the last one; the next is tried later
            _log.exception(
                "ranking the pairs of %s by %s failed", project.project_id, project.policy
            )
        finally:
            self._ranking.release()

    def rank(self, project: Project) -> int:
        """Rank the project's pairs by its policy now; returns the pairs whose rank changed."""
        policy = POLICIES.get(project.policy)
        if policy is None:
            raise ValueError(f"unknown policy {project.policy!r}; one of {', '.join(POLICIES)}")
        store, project_id = self.store, project.project_id
        scores = store.scores(project_id)
        ranked = policy(
            store.coverage(project_id),
            store.judgments(project_id),
            None if scores.is_empty() else scores,
            pairs=store.pairs(project_id),
        )
        return store.set_priorities(project_id, ranked)

    def _hidden_kinds(self, project: Project) -> list[str]:
        """The hidden items to try before a work pair, in order (often none): one draw for
        gold at ``gold_rate``, then one for a check of the rater at ``probe_rate``."""
        if project.gold_rate > 0 and self.rng.random() < project.gold_rate:
            return ["gold"]
        if project.probe_rate > 0 and self.rng.random() < project.probe_rate:
            first_retest = self.rng.random() < self.retest_share
            return ["retest", "probe"] if first_retest else ["probe", "retest"]
        return []
