"""Group-wise NumPy operations over rows kept in capture order.

A :class:`Groups` sorts rows once by a group key (a direction of a connection, or a
connection), keeping capture order inside each group, and then answers the questions the
analysis asks of every row at once: the previous row's value, a running maximum, the
last value where a mask held, a running sum.

>>> groups = Groups.of(np.array([1, 0, 1, 0]))
>>> groups.previous(np.array([10, 20, 30, 40]), fill=-1).tolist()
[-1, -1, 10, 20]
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

#: the bits of a TCP sequence number.
SEQ_SPACE = 1 << 32
HALF_SEQ_SPACE = 1 << 31


def seq_delta(later: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    """``later - earlier`` in sequence-number arithmetic (RFC 1982): signed, in ±2^31.

    >>> seq_delta(np.array([5]), np.array([2**32 - 3])).tolist()
    [8]
    """
    difference = later.astype(np.int64) - earlier.astype(np.int64)
    return (difference + HALF_SEQ_SPACE) % SEQ_SPACE - HALF_SEQ_SPACE


def take(values: np.ndarray, rows: np.ndarray, fill: object) -> np.ndarray:
    """``values`` at row positions ``rows``, ``fill`` where a position is -1."""
    return np.where(rows >= 0, values[np.maximum(rows, 0)], fill)


@dataclass(frozen=True)
class Groups:
    """Rows grouped by ``key``, capture order kept inside each group."""

    #: row positions sorted by group, capture order inside a group.
    order: np.ndarray
    #: for each sorted position, the sorted position of its group's first row.
    first: np.ndarray
    #: for each sorted position, the group's rank (0, 1, …).
    rank: np.ndarray

    @classmethod
    def of(cls, key: np.ndarray) -> Groups:
        """Group rows by ``key`` (any integer array).

        >>> Groups.of(np.array([3, 3, 1])).order.tolist()
        [2, 0, 1]
        """
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        starts = np.ones(len(key), dtype=bool)
        starts[1:] = sorted_key[1:] != sorted_key[:-1]
        positions = np.arange(len(key))
        first = np.maximum.accumulate(np.where(starts, positions, 0)) if len(key) else positions
        return cls(order=order, first=first, rank=np.cumsum(starts) - 1)

    def _unsort(self, sorted_values: np.ndarray) -> np.ndarray:
        result = np.empty_like(sorted_values)
        result[self.order] = sorted_values
        return result

    def is_first(self) -> np.ndarray:
        """True for the first row of each group (in row order)."""
        return self._unsort(self.first == np.arange(len(self.order)))

    @cached_property
    def previous_row(self) -> np.ndarray:
        """Each row's previous row in its group (a row position), -1 for a first row."""
        ordered = np.empty(len(self.order), dtype=np.int64)
        if len(ordered):
            ordered[0] = -1
            ordered[1:] = self.order[:-1]
            ordered[self.first == np.arange(len(ordered))] = -1
        return self._unsort(ordered)

    def previous(self, values: np.ndarray, fill: object) -> np.ndarray:
        """The value of the previous row of the same group; ``fill`` for a first row."""
        return take(values, self.previous_row, fill)

    def latest_row(self, mask: np.ndarray) -> np.ndarray:
        """Each row's latest row up to and including it (same group) where ``mask``
        holds, as a row position; -1 where there is none."""
        positions = np.arange(len(self.order))
        latest = np.where(mask[self.order], positions, -1)
        latest = np.maximum.accumulate(latest) if len(latest) else latest
        found = latest >= self.first
        return self._unsort(np.where(found, self.order[np.where(found, latest, 0)], -1))

    def last_where(self, values: np.ndarray, mask: np.ndarray, fill: object) -> np.ndarray:
        """The value of the latest row up to and including this one (same group) where
        ``mask`` holds; ``fill`` where there is none."""
        positions = np.arange(len(self.order))
        latest = np.where(mask[self.order], positions, -1)
        latest = np.maximum.accumulate(latest) if len(latest) else latest
        found = latest >= self.first
        picked = values[self.order][np.where(found, latest, 0)] if len(latest) else values
        return self._unsort(np.where(found, picked, fill))

    def cumsum(self, values: np.ndarray) -> np.ndarray:
        """Running sum inside each group (this row included)."""
        ordered = values[self.order].astype(np.int64)
        total = np.cumsum(ordered)
        before_group = total[self.first] - ordered[self.first]
        return self._unsort(total - before_group)

    def cumsum_since(self, values: np.ndarray, restart: np.ndarray) -> np.ndarray:
        """Running sum inside each group that starts again (from this row's value) at
        rows where ``restart`` holds."""
        total = np.cumsum(values[self.order].astype(np.int64))
        ordered = values[self.order].astype(np.int64)
        base = total - ordered
        starts = restart[self.order] | (self.first == np.arange(len(ordered)))
        positions = np.arange(len(ordered))
        latest = np.where(starts, positions, 0)
        latest = np.maximum.accumulate(latest) if len(ordered) else latest
        return self._unsort(total - base[latest])

    def cummax(self, values: np.ndarray) -> np.ndarray:
        """Running maximum (int64) inside each group, this row included."""
        ordered = values[self.order].astype(np.int64)
        if not len(ordered):
            return ordered
        low = int(ordered.min())
        span = int(ordered.max()) - low + 1
        if span * (int(self.rank[-1]) + 1) < (1 << 62):
            lifted = (ordered - low) + self.rank * span
            return self._unsort(np.maximum.accumulate(lifted) - self.rank * span + low)
        by_group = pd.Series(ordered).groupby(self.rank).cummax().to_numpy()
        return self._unsort(by_group)

    def unwrap(self, raw: np.ndarray, anchor: np.ndarray) -> np.ndarray:
        """32-bit sequence numbers made monotone-comparable (int64) inside each group:
        each row is the previous one plus the signed sequence difference; a group's
        first row is placed nearest ``anchor`` (int64, per row)."""
        ordered = raw[self.order].astype(np.int64)
        steps = np.empty_like(ordered)
        if len(ordered):
            steps[1:] = seq_delta(ordered[1:], ordered[:-1])
            starts = self.first == np.arange(len(ordered))
            anchors = anchor[self.order]
            steps[starts] = anchors[starts] + seq_delta(ordered[starts], anchors[starts])
        total = np.cumsum(steps)
        return self._unsort(total - (total[self.first] - steps[self.first]))
