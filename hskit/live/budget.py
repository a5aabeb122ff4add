"""Whether the memory a whole computation needs is there, before it starts.

A live capture classifies its long connections whole once it has ended (and computes
their evidence whole), which takes a few hundred bytes per segment beyond the table: a
20-minute capture of one busy connection at 65,000 packets/s is 77 million segments,
about 23 GB. Where the system has less available than that, the capture keeps the rows
it grew from windows instead of being killed for memory.

>>> affordable(rows=1_000, per_row=300)
True
"""

from __future__ import annotations

import warnings
from pathlib import Path

from hskit.errors import NotExactWarning

#: bytes per row ``hskit.classify`` of one long connection takes beyond its rows (213
#: measured on a 3.9M-segment connection), plus the copy of the rows it is given (73).
CLASSIFY_BYTES_PER_ROW = 300
#: bytes per row its evidence takes (``analyze`` and ``stream_evidence``: 176 measured
#: on the same connection), plus the copy of the rows.
EVIDENCE_BYTES_PER_ROW = 260
#: where the kernel says how much memory can be had without swapping, and a cgroup's
#: limit and use (cgroup v2: a container's).
MEMINFO = Path("/proc/meminfo")
CGROUP = Path("/sys/fs/cgroup")


def available_memory() -> int | None:
    """Bytes the system can give without swapping: ``MemAvailable``, or less where this
    process's cgroup (v2) has a limit; None where neither is known (not Linux).

    >>> available_memory() is None or available_memory() > 0
    True
    """
    amounts = []
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                amounts.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        limit = (CGROUP / "memory.max").read_text().strip()
        if limit != "max":
            amounts.append(int(limit) - int((CGROUP / "memory.current").read_text()))
    except (OSError, ValueError):
        pass
    return min(amounts) if amounts else None


def affordable(rows: int, per_row: int) -> bool:
    """Whether ``rows * per_row`` bytes fit in :func:`available_memory` (True where it
    is not known).

    >>> affordable(rows=10**12, per_row=300)
    False
    """
    available = available_memory()
    return available is None or rows * per_row <= available


def needed_text(rows: int, per_row: int) -> str:
    """How much a whole computation of ``rows`` needs against what is available.

    >>> needed_text(77_000_000, 300).startswith("about 23.1 GB for 77,000,000 segments")
    True
    """
    available = available_memory()
    have = "unknown" if available is None else f"{available / 1e9:.1f} GB"
    return f"about {rows * per_row / 1e9:.1f} GB for {rows:,} segments, {have} available"


def fits_whole(rows: int, per_row: int, *, skipped: str, kept: str) -> bool:
    """Whether a whole computation of ``rows`` fits (:func:`affordable`); where it does
    not, a :class:`~hskit.errors.NotExactWarning` to the caller's caller: ``skipped``,
    what it needs and has, then ``kept``.

    >>> fits_whole(10, 300, skipped="the tables were not computed", kept="kept")
    True
    """
    if affordable(rows, per_row):
        return True
    warnings.warn(
        f"{skipped}: that needs {needed_text(rows, per_row)}; {kept}",
        NotExactWarning,
        stacklevel=3,
    )
    return False
