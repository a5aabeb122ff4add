"""Deterministic conn.log ``uid``s, formatted as Zeek formats its random ones.

Zeek draws a connection's uid at random (96 bits) and writes it as ``C`` followed by
the base-62 digits of its first 64 bits and then of its last 32 (``UID::Base62``).
hskit derives the 96 bits from what identifies a connection in a capture (its flow,
first timestamp and first frame) with the SplitMix64 mixer, so the same capture gives
the same uids on every run and machine, and different connections different ones.

>>> uids(np.array([7, 7]), np.array([1_700_000_000_000_000_000, 1_700_000_000_000_000_000]),
...      np.array([1, 2]))[0][0]
'C'
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

#: Zeek's digits for base 62 (``util::detail::uitoa_n``), as ASCII codes.
DIGITS = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)
_BASE = np.uint64(62)
_WIDTH = 11  # base-62 digits of a 64-bit number
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def uids(
    flow: npt.ArrayLike, ts_ns: npt.ArrayLike, frame: npt.ArrayLike
) -> pd.arrays.ArrowStringArray:
    """One uid per connection from its flow hash (any 64-bit integer per flow), first
    timestamp (nanoseconds) and first frame number."""
    with np.errstate(over="ignore"):
        state = _mix(np.asarray(flow).astype(np.uint64))
        state = _mix(state ^ np.asarray(ts_ns).astype(np.int64).view(np.uint64))
        state = _mix(state ^ np.asarray(frame).astype(np.uint64))
        high = _mix(state + _GOLDEN)
        low = _mix(high + _GOLDEN) >> np.uint64(32)
    prefix = np.full((len(high), 1), ord("C"), dtype=np.uint8)
    characters = np.hstack([prefix, _base62(high), _base62(low)])
    keep = characters != 0
    offsets = np.zeros(len(high) + 1, dtype=np.int32)
    np.cumsum(keep.sum(axis=1), out=offsets[1:])
    strings = pa.StringArray.from_buffers(
        len(high), pa.py_buffer(offsets), pa.py_buffer(characters[keep].tobytes())
    )
    return pd.array(strings, dtype="string")


def _mix(value: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finaliser: a bijection of 64-bit integers that spreads every bit."""
    value = (value ^ (value >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    value = (value ^ (value >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return value ^ (value >> np.uint64(31))


def _base62(value: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint8]:
    """ASCII base-62 digits of each value, most significant first, as one row of 11
    bytes per value with the leading zeros as 0 bytes (``0`` for zero), as Zeek writes
    them without leading zeros.

    >>> bytes(_base62(np.array([61, 62], dtype=np.uint64))[:, -2:].ravel())
    b'\\x00z10'
    """
    digits = np.empty((len(value), _WIDTH), dtype=np.int64)
    remaining = value.copy()
    for column in range(_WIDTH - 1, -1, -1):
        digits[:, column] = (remaining % _BASE).astype(np.int64)
        remaining //= _BASE
    characters = DIGITS[digits]
    leading = np.cumsum(digits != 0, axis=1) == 0
    leading[:, -1] = False  # zero is written as one 0
    characters[leading] = 0
    return characters
