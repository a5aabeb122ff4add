"""Per-stream group operations on a segments table sorted once by stream.

:class:`StreamIndex` sorts the rows by stream with a stable argsort, so each stream is
one contiguous block in capture order. Every group-wise question the classifier asks
("the first client FIN of each stream", "the last client SYN before this SYN-ACK") is
then an operation on the ascending positions where a mask holds and on its running
count (:class:`Hits`: how many hits come before each row, so "the first hit at or after
a row" and "the last hit at or before it" are lookups, not binary searches): no Python
loop per stream or per segment, and the cost of each question is linear in the rows.

Positions are indices into the sorted order; ``-1`` stands for "no such row".

The functions after :class:`StreamIndex` work on any contiguous groups of rows (the
Zeek fields group by connection, and by connection and direction). A group is given
by ``start``, for each row the index of its group's first row (:func:`group_starts`);
each is a few passes over the rows: no sort, no pandas groupby, no loop per group.

>>> import numpy as np
>>> index = StreamIndex.from_streams(np.array([1, 0, 1, 0], dtype=np.uint32))
>>> index.ids.tolist(), index.first(np.array([False, True, True, False])).tolist()
([0, 1], [1, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

Int = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
NONE = -1
_HALF = np.uint32(2**31)


class Hits(NamedTuple):
    """Where a mask holds: its ascending positions, and ``counts[p]``, how many of
    them come before position ``p`` (``p`` from 0 to the mask's length)."""

    positions: Int
    counts: npt.NDArray[np.signedinteger]


@dataclass(frozen=True)
class StreamIndex:
    """The rows of a segments table grouped by stream, each group in capture order."""

    #: sorted position -> row of the original table
    order: Int
    #: stream id of each group, ascending
    ids: npt.NDArray[np.uint32]
    #: first sorted position of each group
    starts: Int
    #: one past the last sorted position of each group
    ends: Int
    #: group of each sorted position
    group: Int

    @classmethod
    def from_streams(cls, stream: npt.ArrayLike) -> StreamIndex:
        """Group rows by their stream id (stable: capture order is kept inside a stream).

        >>> StreamIndex.from_streams([2, 2, 5]).starts.tolist()
        [0, 2]
        """
        stream = np.asarray(stream, dtype=np.uint32)
        order = np.argsort(stream, kind="stable").astype(np.int64, copy=False)
        ordered = stream[order]
        change = np.ones(len(ordered), dtype=bool)
        change[1:] = ordered[1:] != ordered[:-1]
        starts = np.flatnonzero(change).astype(np.int64)
        ends = np.append(starts[1:], len(ordered)).astype(np.int64)
        group = np.repeat(np.arange(len(starts), dtype=np.int64), ends - starts)
        return cls(order=order, ids=ordered[starts], starts=starts, ends=ends, group=group)

    @property
    def size(self) -> int:
        """Number of streams."""
        return len(self.starts)

    @staticmethod
    def hits(mask: Bool) -> Hits:
        """``mask``'s positions and running count, for asking :meth:`first` and
        :meth:`last_before` about one mask several times.

        >>> StreamIndex.hits(np.array([False, True])).counts.tolist()
        [0, 0, 1]
        """
        return Hits(np.flatnonzero(mask), _hits_before(mask))

    def first(self, mask: Bool | Hits, after: Int | None = None, before: Int | None = None) -> Int:
        """Per stream, the first position where ``mask`` holds (``-1`` where none).

        ``after``/``before`` (one position per stream, ``-1`` = unbounded for ``after``)
        keep only positions strictly between them.

        >>> index = StreamIndex.from_streams([0, 0, 0])
        >>> index.first(np.array([True, False, True]), after=np.array([0])).tolist()
        [2]
        """
        hits, counts = mask if isinstance(mask, Hits) else self.hits(mask)
        if len(hits) == 0:
            return np.full(self.size, NONE, dtype=np.int64)
        # hits ascend: each stream's answer is the first hit at or beyond its lower bound,
        # found by counting the hits before that bound
        lower = self.starts if after is None else np.maximum(after + 1, self.starts)
        slot = counts[lower]
        found = hits[np.minimum(slot, len(hits) - 1)].astype(np.int64, copy=False)
        valid = (slot < len(hits)) & (found < self.ends)
        if before is not None:
            valid &= (before < 0) | (found < before)
        return np.where(valid, found, NONE)

    def count(self, mask: Bool) -> Int:
        """Per stream, the number of rows where ``mask`` holds."""
        before = _hits_before(mask)
        return (before[self.ends] - before[self.starts]).astype(np.int64, copy=False)

    def last_before(self, mask: Bool | Hits, positions: Int) -> Int:
        """For each position, the last position at or before it, in its stream, where
        ``mask`` holds (``-1`` where none; also ``-1`` for a ``positions`` entry of ``-1``).

        >>> index = StreamIndex.from_streams([0, 0, 1, 1])
        >>> index.last_before(np.array([True, False, False, True]), np.array([1, 2])).tolist()
        [0, -1]
        """
        hits, counts = mask if isinstance(mask, Hits) else self.hits(mask)
        if len(hits) == 0:
            return np.full(len(positions), NONE, dtype=np.int64)
        safe = np.maximum(positions, 0)
        slot = counts[safe + 1] - 1
        found = np.where(slot >= 0, hits[np.maximum(slot, 0)], NONE)
        valid = (positions >= 0) & (found >= self.starts[self.group[safe]])
        return np.where(valid, found, NONE)

    def per_row(self, values: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
        """Broadcast one value per stream to every sorted row of that stream."""
        return np.repeat(values, self.ends - self.starts)


def _hits_before(mask: Bool) -> npt.NDArray[np.signedinteger]:
    """``result[p]`` = how many rows before position ``p`` ``mask`` holds on, for ``p``
    from 0 to ``len(mask)`` (one running count: linear, unlike a binary search per query).

    >>> _hits_before(np.array([True, False, True])).tolist()
    [0, 1, 1, 2]
    """
    counts = np.zeros(len(mask) + 1, dtype=np.int32 if len(mask) < 2**31 else np.int64)
    np.cumsum(mask, dtype=counts.dtype, out=counts[1:])
    return counts


def select(
    conditions: Sequence[Bool], choices: Sequence[npt.ArrayLike], default: npt.ArrayLike
) -> npt.NDArray:
    """:func:`numpy.select` (the choice of the first condition that holds) as a chain of
    :func:`numpy.where`, cheaper for the few conditions the classifier has.

    >>> select([np.array([True, False]), np.array([True, True])], [1, 2], 0).tolist()
    [1, 2]
    """
    result = np.where(conditions[-1], choices[-1], default)
    for condition, choice in zip(conditions[-2::-1], choices[-2::-1], strict=True):
        result = np.where(condition, choice, result)
    return result


def take(values: npt.NDArray[np.generic], positions: Int, fill: float | int) -> npt.NDArray:
    """``values[positions]`` with ``fill`` where the position is ``-1``.

    >>> take(np.array([5.0, 6.0]), np.array([1, -1]), np.nan).tolist()
    [6.0, nan]
    """
    if len(values) == 0:
        return np.full(len(positions), fill)
    return np.where(positions >= 0, values[np.maximum(positions, 0)], fill)


def covers(ack: npt.NDArray[np.uint32], target: npt.NDArray[np.uint32]) -> Bool:
    """True where ``ack`` is at or beyond ``target`` in sequence space (modulo 2^32).

    >>> covers(np.array([5, 2], dtype=np.uint32), np.array([4, 2**32 - 1], dtype=np.uint32))
    array([ True,  True])
    """
    return (ack - target).astype(np.uint32) < _HALF


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


def group_ids(values: npt.NDArray[np.generic]) -> Int:
    """0, 1, 2, … for each run of equal ``values`` (sorted: one run per value).

    >>> group_ids(np.array([3, 3, 5, 9, 9])).tolist()
    [0, 0, 1, 2, 2]
    """
    ids = np.zeros(len(values), dtype=np.int64)
    ids[first_rows(values)[1:]] = 1
    return np.cumsum(ids)


def first_where(group: Int, mask: Bool, count: int) -> Int:
    """Row index of each group's first row with ``mask`` set, -1 where none; ``group``
    holds group numbers ``0 … count - 1``, ascending with the rows.

    >>> first_where(np.array([0, 0, 1, 2]), np.array([False, True, False, True]), 3).tolist()
    [1, -1, 3]
    """
    result = np.full(count, NONE, dtype=np.int64)
    rows = np.flatnonzero(mask)  # ascending, and group ascends with the rows
    firsts = rows[np.r_[True, group[rows][1:] != group[rows][:-1]]] if len(rows) else rows
    result[group[firsts]] = firsts
    return result


def last_where(group: Int, mask: Bool, count: int) -> Int:
    """Row index of each group's last row with ``mask`` set, -1 where none; ``group``
    holds group numbers ``0 … count - 1``, ascending with the rows.

    >>> last_where(np.array([0, 0, 1, 2]), np.array([True, True, False, True]), 3).tolist()
    [1, -1, 3]
    """
    result = np.full(count, NONE, dtype=np.int64)
    rows = np.flatnonzero(mask)
    if len(rows):
        lasts = rows[np.r_[group[rows][1:] != group[rows][:-1], True]]
        result[group[lasts]] = lasts
    return result
