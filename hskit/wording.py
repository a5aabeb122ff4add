"""Counts in words: ``1 connection``, ``2 connections``, for every message hskit prints.

>>> counted(1, "connection"), counted(2076, "connection"), counted(3, "SYN-ACK")
('1 connection', '2076 connections', '3 SYN-ACKs')
>>> counted(1, "address", "addresses"), counted(0, "address", "addresses")
('1 address', '0 addresses')
"""

from __future__ import annotations


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """``count`` and the noun, singular for exactly one, plural (``noun + "s"``) otherwise."""
    noun = singular if count == 1 else (plural or singular + "s")
    return f"{count} {noun}"
