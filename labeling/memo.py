"""Remember the last result of an analysis step over frames.

An audit asks several statistics of the same votes, and each would otherwise recompute the
same coding, features or regression (each costs a fraction of a second at a million votes).
The result is kept for the last call only (per thread, so steps running side by side do not
evict each other's), keyed on the *identity* of the frames passed, held weakly: a frame that
is gone can never match, and nothing is kept alive. Polars frames are not changed in place by
this code base, so the same object means the same data.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar, cast

import polars as pl

__all__ = ["remember_last"]

Step = TypeVar("Step", bound=Callable[..., Any])


def remember_last(step: Step) -> Step:
    """``step(*frames)`` computed once for the same frame objects in a row in one thread
    (``None`` allowed)."""
    local = threading.local()

    def same(refs: tuple[weakref.ref[pl.DataFrame] | None, ...], frames: tuple[Any, ...]) -> bool:
        return len(refs) == len(frames) and all(
            frame is None if ref is None else ref() is frame
            for ref, frame in zip(refs, frames, strict=True)
        )

    @functools.wraps(step)
    def remembered(*frames: pl.DataFrame | None) -> Any:
        last: list[tuple[tuple[weakref.ref[pl.DataFrame] | None, ...], Any]] = (
            local.__dict__.setdefault("last", [])
        )
        for refs, result in last:
            if same(refs, frames):
                return result
        result = step(*frames)
        last[:] = [(tuple(None if f is None else weakref.ref(f) for f in frames), result)]
        return result

    return cast(Step, remembered)
