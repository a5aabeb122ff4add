"""Ids for keys met chunk after chunk: the same key gets the same id in every chunk.

The streaming reader numbers addresses and endpoint pairs across the chunks of a
capture (and across the files of a capture set) with these registries: an open-addressing
hash table of ``(first, second)`` int64 pairs, looked up by a compiled loop
(:func:`hskit.native.numbering.pair_ids`).

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

Int = npt.NDArray[np.int64]

#: keys reserved at first
_FIRST_CAPACITY = 16
#: the most keys a registry holds: its hash table's slots are int32 ids (half the memory
#: of int64 slots; the table has at least twice as many slots as keys)
_MOST_KEYS = 2**30


class KeyIds:
    """0-based ids of ``(first, second)`` int64 pairs, in order of first registration.

    >>> ids = KeyIds()
    >>> ids.ids(np.array([5, 3]), np.array([0, 0])).tolist(), len(ids)
    ([0, 1], 2)
    """

    def __init__(self) -> None:
        self._first = np.zeros(_FIRST_CAPACITY, dtype=np.int64)
        self._second = np.zeros(_FIRST_CAPACITY, dtype=np.int64)
        self._slots = np.full(2 * _FIRST_CAPACITY, -1, dtype=np.int32)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def ids(self, first: Int, second: Int) -> Int:
        """The id of each ``(first[i], second[i])``, registering the pairs not seen before."""
        from hskit.native import numbering  # loaded on first use, not on import

        first = np.ascontiguousarray(first, dtype=np.int64)
        second = np.ascontiguousarray(second, dtype=np.int64)
        if len(first) != len(second):
            raise ValueError(f"{len(first)} first keys but {len(second)} second keys")
        self._reserve(self._count + len(first))
        ids = np.empty(len(first), dtype=np.int64)
        count = numbering.pair_ids(
            first, second, self._slots, self._first, self._second, self._count, ids
        )
        if count == numbering.BROKEN:
            raise RuntimeError("key table out of bounds (a bug in hskit.native.keys)")
        self._count = count
        return ids

    def keys(self) -> tuple[Int, Int]:
        """``(first, second)`` of every registered pair, by id."""
        return self._first[: self._count].copy(), self._second[: self._count].copy()

    def _reserve(self, keys: int) -> None:
        """Room for ``keys`` keys, doubling the capacity (and rehashing) when short."""
        from hskit.native import numbering

        if keys <= len(self._first):
            return
        if keys > _MOST_KEYS:
            raise OverflowError(f"room for more than {_MOST_KEYS} keys: ids are 32-bit")
        capacity = min(max(keys, 2 * len(self._first)), _MOST_KEYS)
        first, second = np.empty(capacity, np.int64), np.empty(capacity, np.int64)
        first[: self._count] = self._first[: self._count]
        second[: self._count] = self._second[: self._count]
        self._first, self._second = first, second
        self._slots = np.full(1 << (2 * capacity - 1).bit_length(), -1, dtype=np.int32)
        if numbering.rehash(self._first, self._second, self._count, self._slots) != self._count:
            raise RuntimeError("key table out of bounds (a bug in hskit.native.keys)")
