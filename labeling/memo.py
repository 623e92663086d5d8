"""Remember the last result of an analysis step over frames.

An audit asks several statistics of the same votes, and each would otherwise recompute the
same coding, features or regression (each costs a fraction of a second at a million votes).
The result is kept for the last call only (per thread, so steps running side by side do not
evict each other's), keyed on the *identity* of the frames passed, held weakly: a frame that
is gone can never match, and nothing is kept alive. Polars frames are not changed in place by
this code base, so the same object means the same data.

A step is called as its signature allows, positionally or by keyword; the arguments are bound
to its parameters with the defaults applied, so ``step(frame)``, ``step(frame, None)`` and
``step(frame, other=None)`` are one call when ``other`` defaults to ``None``.
"""

from __future__ import annotations

import functools
import inspect
import threading
import weakref
from collections.abc import Callable
from typing import Any, ParamSpec, TypeAlias, TypeVar

__all__ = ["remember_last"]

P = ParamSpec("P")
R = TypeVar("R")

# One weak reference per bound argument, ``None`` where the argument was ``None``.
_Key: TypeAlias = tuple[weakref.ref[Any] | None, ...]


def remember_last(step: Callable[P, R]) -> Callable[P, R]:
    """``step(...)`` computed once for the same frame objects in a row in one thread
    (``None`` allowed), however the call spells its arguments."""
    signature = inspect.signature(step)
    local = threading.local()

    def bound_frames(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return tuple(bound.arguments.values())

    def same(refs: _Key, frames: tuple[Any, ...]) -> bool:
        return len(refs) == len(frames) and all(
            frame is None if ref is None else ref() is frame
            for ref, frame in zip(refs, frames, strict=True)
        )

    @functools.wraps(step)
    def remembered(*args: P.args, **kwargs: P.kwargs) -> R:
        frames = bound_frames(args, kwargs)
        last: list[tuple[_Key, R]] = local.__dict__.setdefault("last", [])
        for refs, result in last:
            if same(refs, frames):
                return result
        result = step(*args, **kwargs)
        last[:] = [(tuple(None if f is None else weakref.ref(f) for f in frames), result)]
        return result

    return remembered
