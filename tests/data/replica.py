"""One app replica's share of the labeling, as a real process (``python -m tests.data.replica``).

It opens its own ``Store`` on the database URL and lets each rater it is given ask for the
next pair and vote until ``votes`` of theirs are saved, on ``threads`` threads (as a replica's
sessions do; a rater given to two replicas is a rater with a tab on each). Each
acknowledged vote (``submit`` returned) is printed as ``ack <submission_id>`` at once, so a
test that kills the process knows exactly which votes it was told were saved. ``ready`` is
printed once the store is open; ``done`` at the end.
"""

from __future__ import annotations

import argparse
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from data.store import Store, Submission
from labeling.assignment import Assigner

_print_lock = threading.Lock()


def say(line: str) -> None:
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def label(store: Store, assigner: Assigner, rater_id: str, project_id: str, votes: int) -> None:
    project = store.project(project_id)
    assert project is not None
    saved = 0
    while saved < votes:
        assignment = assigner.next_pair(rater_id, project)
        if assignment is None:
            say(f"none {rater_id}")
            return
        submission_id = uuid.uuid4().hex
        choice = "a" if hash((rater_id, assignment.pair_id)) % 2 else "b"
        # False: the rater's tab on the other replica voted on this pair first.
        if store.submit(Submission(submission_id, rater_id, assignment.pair_id, choice)):
            say(f"ack {submission_id}")
            saved += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("database")
    parser.add_argument("project")
    parser.add_argument("raters", help="comma-separated rater ids")
    parser.add_argument("--votes", type=int, default=100, help="votes per rater")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    with Store(args.database) as store:
        assigner = Assigner(store)
        say("ready")
        with ThreadPoolExecutor(args.threads) as pool:
            jobs = [
                pool.submit(label, store, assigner, rater, args.project, args.votes)
                for rater in args.raters.split(",")
            ]
            for job in jobs:
                job.result()
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
