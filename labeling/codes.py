"""Integer codes for ids and choices, so the statistics can count with numpy.

One definition each: ``dense_codes`` (ids to 0..k-1 in sorted order), ``choice_codes`` and
``choice_names`` (choices to and from their position in ``frames.CHOICES``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from data import frames

__all__ = ["choice_codes", "choice_names", "dense_codes"]

IntArray = npt.NDArray[np.int64]


def dense_codes(values: pl.Series) -> tuple[IntArray, pl.Series]:
    """Codes 0..k-1 in the sorted order of the distinct values, and those values.

    Casting to an Enum of the sorted distinct values hashes instead of sorting every row,
    which is five times faster than a dense rank at a million strings.

    >>> codes, distinct = dense_codes(pl.Series(["r2", "r1", "r2"]))
    >>> codes.tolist(), distinct.to_list()
    ([1, 0, 1], ['r1', 'r2'])
    """
    distinct = values.cast(pl.String).unique().sort()
    codes = values.cast(pl.String).cast(pl.Enum(distinct)).to_physical()
    return codes.to_numpy().astype(np.int64), distinct


def choice_codes(choices: pl.Series, labels: tuple[str, ...] = frames.CHOICES) -> IntArray:
    """The position of each choice in ``labels`` (by default ``frames.CHOICES``)."""
    return choices.cast(pl.Enum(list(labels))).to_physical().to_numpy().astype(np.int64)


def choice_names(codes: IntArray) -> pl.Series:
    """Choice names of codes into ``frames.CHOICES``; -1 becomes null.

    >>> choice_names(np.array([0, -1, 1])).to_list()
    ['a', None, 'b']
    """
    names = dict(enumerate(frames.CHOICES))
    return pl.Series(codes).replace_strict(names, default=None, return_dtype=pl.String)
