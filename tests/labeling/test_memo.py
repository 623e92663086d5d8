"""``remember_last``: the same frame objects in a row compute once; anything else recomputes."""

from __future__ import annotations

import gc
import inspect
import threading
import weakref
from collections.abc import Callable

import polars as pl
import pytest

from labeling.memo import remember_last


def counting() -> tuple[list[int], Callable[..., int]]:
    calls: list[int] = []

    @remember_last
    def height(frame: pl.DataFrame, other: pl.DataFrame | None = None) -> int:
        calls.append(1)
        return frame.height + (0 if other is None else other.height)

    return calls, height


def test_the_same_frames_in_a_row_compute_once() -> None:
    calls, height = counting()
    frame, other = pl.DataFrame({"x": [1, 2]}), pl.DataFrame({"x": [3]})
    assert height(frame, other) == height(frame, other) == 3
    assert len(calls) == 1
    assert height(frame, None) == 2
    assert height(frame, None) == 2
    assert len(calls) == 2


def test_an_equal_but_other_frame_recomputes_and_only_the_last_is_kept() -> None:
    calls, height = counting()
    first, second = pl.DataFrame({"x": [1]}), pl.DataFrame({"x": [1]})
    height(first)
    height(second)
    height(first)
    assert len(calls) == 3


def test_a_frame_that_is_gone_is_not_kept_alive() -> None:
    calls, height = counting()
    frame = pl.DataFrame({"x": [1, 2, 3]})
    height(frame)
    collected: list[bool] = []
    watcher = weakref.ref(frame, lambda _: collected.append(True))
    del frame
    gc.collect()
    assert collected and watcher() is None
    assert height(pl.DataFrame({"x": [1]})) == 1
    assert len(calls) == 2


def test_each_thread_keeps_its_own_last_result() -> None:
    """Steps running side by side (the audit's agreement thread) never evict each other's."""
    calls, height = counting()
    mine, theirs = pl.DataFrame({"x": [1]}), pl.DataFrame({"x": [1, 2]})
    height(mine)
    other = threading.Thread(target=lambda: [height(theirs), height(theirs)])
    other.start()
    other.join()
    height(mine)
    assert len(calls) == 2, "one computation per thread"


def test_a_keyword_call_is_the_same_call_as_the_positional_one() -> None:
    """The wrapper accepts what the step's signature advertises, keywords included."""
    calls, height = counting()
    frame, other = pl.DataFrame({"x": [1, 2]}), pl.DataFrame({"x": [3]})
    assert height(frame, other) == 3
    assert height(frame, other=other) == 3
    assert height(frame=frame, other=other) == 3
    assert height(other=other, frame=frame) == 3
    assert len(calls) == 1


def test_a_default_argument_is_the_same_call_as_passing_it() -> None:
    calls, height = counting()
    frame = pl.DataFrame({"x": [1, 2]})
    assert height(frame) == 2
    assert height(frame, None) == 2
    assert height(frame, other=None) == 2
    assert height(frame=frame) == 2
    assert len(calls) == 1


def test_the_wrapper_keeps_the_step_signature_and_refuses_what_it_refuses() -> None:
    _, height = counting()
    assert list(inspect.signature(height).parameters) == ["frame", "other"]
    frame = pl.DataFrame({"x": [1]})
    with pytest.raises(TypeError):
        height(frame, unknown=frame)
    with pytest.raises(TypeError):
        height()
