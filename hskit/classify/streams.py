"""Per-stream group operations on a segments table sorted once by stream.

:class:`StreamIndex` sorts the rows by stream with a stable argsort, so each stream is
one contiguous block in capture order. Every group-wise question the classifier asks
("the first client FIN of each stream", "the last client SYN before this SYN-ACK") is
then an operation on the ascending positions where a mask holds (where the group
number changes, or a :func:`numpy.searchsorted` into them): no Python loop per stream
or per segment, and the cost of each question is linear in the rows.

Positions are indices into the sorted order; ``-1`` stands for "no such row".

>>> import numpy as np
>>> index = StreamIndex.from_streams(np.array([1, 0, 1, 0], dtype=np.uint32))
>>> index.ids.tolist(), index.first(np.array([False, True, True, False])).tolist()
([0, 1], [1, 2])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Int = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
NONE = -1
_HALF = np.uint32(2**31)


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
        group = np.cumsum(change, dtype=np.int64) - 1
        return cls(order=order, ids=ordered[starts], starts=starts, ends=ends, group=group)

    @property
    def size(self) -> int:
        """Number of streams."""
        return len(self.starts)

    def first(self, mask: Bool, after: Int | None = None, before: Int | None = None) -> Int:
        """Per stream, the first position where ``mask`` holds (``-1`` where none).

        ``after``/``before`` (one position per stream, ``-1`` = unbounded for ``after``)
        keep only positions strictly between them.

        >>> index = StreamIndex.from_streams([0, 0, 0])
        >>> index.first(np.array([True, False, True]), after=np.array([0])).tolist()
        [2]
        """
        hits = np.flatnonzero(mask)
        group = self.group[hits]
        if after is not None:
            keep = hits > after[group]
            hits, group = hits[keep], group[keep]
        if before is not None:
            bound = before[group]
            keep = (bound < 0) | (hits < bound)
            hits, group = hits[keep], group[keep]
        # hits ascend, so each group's first hit is where the group number changes
        starts_group = np.ones(len(group), dtype=bool)
        starts_group[1:] = group[1:] != group[:-1]
        first = np.full(self.size, NONE, dtype=np.int64)
        first[group[starts_group]] = hits[starts_group]
        return first

    def count(self, mask: Bool) -> Int:
        """Per stream, the number of rows where ``mask`` holds."""
        return np.bincount(self.group[mask], minlength=self.size).astype(np.int64)

    def last_before(self, mask: Bool, positions: Int) -> Int:
        """For each position, the last position at or before it, in its stream, where
        ``mask`` holds (``-1`` where none; also ``-1`` for a ``positions`` entry of ``-1``).

        >>> index = StreamIndex.from_streams([0, 0, 1, 1])
        >>> index.last_before(np.array([True, False, False, True]), np.array([1, 2])).tolist()
        [0, -1]
        """
        hits = np.flatnonzero(mask)
        if len(hits) == 0:
            return np.full(len(positions), NONE, dtype=np.int64)
        safe = np.maximum(positions, 0)
        slot = np.searchsorted(hits, safe, side="right") - 1
        found = np.where(slot >= 0, hits[np.maximum(slot, 0)], NONE)
        valid = (positions >= 0) & (found >= self.starts[self.group[safe]])
        return np.where(valid, found, NONE)

    def per_row(self, values: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
        """Broadcast one value per stream to every sorted row of that stream."""
        return values[self.group]


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
