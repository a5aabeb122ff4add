"""Running counts, sums and maxima within contiguous groups of rows, in NumPy only.

The Zeek fields work on rows sorted by connection (or by connection and direction), so
each group is a run of rows. A group is given by ``start``: for each row, the index of its
group's first row (:func:`group_starts`). Every function here is a few passes over the
rows: no sort, no pandas groupby, no loop per group.

>>> start = group_starts(np.array([3, 3, 3, 8, 8]))
>>> sum_before(np.array([True, False, True, True, True]), start).tolist()
[0, 1, 1, 0, 1]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def group_starts(group: npt.NDArray[np.integer]) -> npt.NDArray[np.int64]:
    """Index of the first row of each row's group; equal neighbours are one group.

    >>> group_starts(np.array([4, 4, 7, 7, 7, 2])).tolist()
    [0, 0, 2, 2, 2, 5]
    """
    firsts = first_rows(group)
    return np.repeat(firsts, np.diff(np.append(firsts, len(group))))


def first_rows(group: npt.NDArray[np.integer]) -> npt.NDArray[np.int64]:
    """Index of each group's first row, in order.

    >>> first_rows(np.array([4, 4, 7, 7, 7, 2])).tolist()
    [0, 2, 5]
    """
    new = np.ones(len(group), dtype=bool)
    np.not_equal(group[1:], group[:-1], out=new[1:])
    return np.flatnonzero(new)


def sum_before(values: npt.NDArray[np.integer], start: npt.NDArray[np.int64]) -> npt.NDArray:
    """Sum of ``values`` over the earlier rows of the same group; of a mask: how many.

    >>> sum_before(np.array([True, True, True, False]), np.array([0, 0, 2, 2])).tolist()
    [0, 1, 0, 1]
    """
    before = np.cumsum(values) - values
    return before - before[start]


def cumsum_in(values: npt.NDArray[np.integer], start: npt.NDArray[np.int64]) -> npt.NDArray:
    """Running sum of ``values`` within each group, this row included.

    >>> cumsum_in(np.array([1, 2, 3, 4]), np.array([0, 0, 2, 2])).tolist()
    [1, 3, 3, 7]
    """
    total = np.cumsum(values)
    return total - (total - values)[start]


def cummax_in(values: npt.NDArray[np.int64], start: npt.NDArray[np.int64]) -> npt.NDArray:
    """Running maximum of ``values`` within each group, this row included.

    Values that never fall within a group are their own running maximum. Otherwise each
    group is lifted so that its first value is at least every lifted value before it; one
    running maximum over all rows then starts afresh at every group. Exact in int64 while
    the sum of the groups' ranges fits.

    >>> cummax_in(np.array([5, 3, 9, 1, 2]), np.array([0, 0, 0, 3, 3])).tolist()
    [5, 5, 9, 1, 2]
    """
    falls = values[1:] < values[:-1]
    if not (falls & (start[1:] != np.arange(1, len(start)))).any():
        return values
    firsts = first_rows(start)
    rise = np.maximum.reduceat(values, firsts) - values[firsts]
    lift = np.zeros(len(firsts), dtype=np.int64)
    np.cumsum(rise[:-1], out=lift[1:])
    shift = np.repeat(lift - values[firsts], np.diff(np.append(firsts, len(values))))
    return np.maximum.accumulate(values + shift) - shift
