"""Counts in words: ``1 connection``, ``2 connections``, for every message hskit prints.

>>> counted(1, "connection"), counted(2076, "connection"), counted(3, "SYN-ACK")
('1 connection', '2076 connections', '3 SYN-ACKs')
>>> counted(1, "address", "addresses"), counted(0, "address", "addresses")
('1 address', '0 addresses')
>>> counted_each(pd.Series([1, 3]), "connection").tolist()
['1 connection', '3 connections']
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """``count`` and the noun, singular for exactly one, plural (``noun + "s"``) otherwise."""
    noun = singular if count == 1 else (plural or singular + "s")
    return f"{count} {noun}"


def counted_each(counts: pd.Series, singular: str, plural: str | None = None) -> pd.Series:
    """:func:`counted` for each count of ``counts`` (string Series, same index)."""
    numbers = counts.astype("int64")
    nouns = np.where(numbers.to_numpy() == 1, singular, plural or singular + "s")
    return numbers.astype("string") + " " + pd.Series(nouns, index=counts.index, dtype="string")
