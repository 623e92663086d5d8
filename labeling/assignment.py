"""Which pair a rater sees next, and on which side each response is shown.

The policy lives here; the store does the atomic claim. Work pairs go least-covered first
until each has ``overlap_k`` votes; hidden gold items are mixed in at the project's rate;
an assignment left open past the project's limit is expired so someone else can take it.
"""

from __future__ import annotations

import hashlib
import random
import time

from data.store import Assignment, Project, Store

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

    ``rng`` decides only whether a gold item comes next, so tests can seed it.
    """

    #: Seconds between sweeps for abandoned assignments (a sweep is a write transaction).
    reclaim_interval = 10.0

    def __init__(self, store: Store, rng: random.Random | None = None) -> None:
        self.store = store
        self.rng = rng or random.SystemRandom()
        self._last_reclaim: dict[str, float] = {}

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
        current = self.store.open_assignment(rater_id, project.project_id)
        if current is not None:
            return current
        if project.gold_rate > 0 and self.rng.random() < project.gold_rate:
            gold = self.store.claim_next(rater_id, project, gold=True, choose_side=choose_side)
            if gold is not None:
                return gold
        return self.store.claim_next(rater_id, project, gold=False, choose_side=choose_side)
