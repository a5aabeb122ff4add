"""Ids for keys met chunk after chunk: the same key gets the same id in every chunk.

The streaming reader numbers addresses and endpoint pairs across the chunks of a
capture (and across the files of a capture set) with these registries; lookups are
hash-table column operations, never a Python loop per key.

>>> import numpy as np
>>> ids = KeyIds()
>>> ids.ids(np.array([7, 1, 7]), np.array([0, 2, 0])).tolist()
[0, 1, 0]
>>> ids.ids(np.array([1, 9]), np.array([2, 9])).tolist()
[1, 2]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

Int = npt.NDArray[np.int64]


class Int64Ids:
    """0-based ids of int64 values, in order of first registration.

    >>> ids = Int64Ids()
    >>> ids.ids(np.array([5, 3, 5])).tolist(), ids.ids(np.array([3, 4])).tolist()
    ([0, 1, 0], [1, 2])
    """

    def __init__(self) -> None:
        self._index = pd.Index(np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self._index)

    def ids(self, values: Int) -> Int:
        """The id of each value, registering the values not seen before."""
        codes, uniques = pd.factorize(values)
        found = self._index.get_indexer(uniques).astype(np.int64)
        new = found == -1
        if new.any():
            found[new] = len(self._index) + np.arange(int(new.sum()))
            self._index = self._index.append(pd.Index(np.asarray(uniques)[new]))
        return found[codes]

    def values(self) -> Int:
        """Every registered value, by id."""
        return self._index.to_numpy(dtype=np.int64)


class KeyIds:
    """0-based ids of ``(first, second)`` int64 pairs, in order of first registration."""

    def __init__(self) -> None:
        self._first, self._second, self._pairs = Int64Ids(), Int64Ids(), Int64Ids()

    def __len__(self) -> int:
        return len(self._pairs)

    def ids(self, first: Int, second: Int) -> Int:
        """The id of each ``(first[i], second[i])``, registering the pairs not seen before."""
        combined = (self._first.ids(first) << 32) | self._second.ids(second)
        return self._pairs.ids(combined)

    def keys(self) -> tuple[Int, Int]:
        """``(first, second)`` of every registered pair, by id."""
        combined = self._pairs.values()
        return self._first.values()[combined >> 32], self._second.values()[combined & 0xFFFFFFFF]
