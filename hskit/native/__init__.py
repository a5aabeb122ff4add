"""The native NumPy capture reader: pcap/pcapng (optionally gzip) to the segments table.

``records`` walks the record headers, ``decode`` turns link/IP/TCP headers into columns,
``streams`` numbers conversations and computes relative sequence numbers like tshark,
``chunks`` drives them over a file (or a capture set) one bounded chunk at a time.

>>> segments, report = read(Path("capture.pcap"), progress=False)  # doctest: +SKIP
>>> report.backend, list(segments.columns[:3])  # doctest: +SKIP
('native', ['frame', 'ts', 'time'])
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from hskit.capture import LoadReport
from hskit.native import chunks
from hskit.native.chunks import DEFAULT_CHUNK_SIZE, LOAD_CHUNK_SIZE

__all__ = ["DEFAULT_CHUNK_SIZE", "LOAD_CHUNK_SIZE", "read"]


def read(
    path: Path | Sequence[Path],
    *,
    progress: bool | None,
    chunk_size: int = LOAD_CHUNK_SIZE,
    label: str | None = None,
) -> tuple[pd.DataFrame, LoadReport]:
    """Read a capture (or a capture set, files in the order given) into
    ``(segments, load_report)`` with NumPy only, ``chunk_size`` bytes at a time.

    Raises :class:`~hskit.errors.NotACapture` for a file that is not a capture and
    :class:`~hskit.errors.UnsupportedLinkType` for what only tshark decodes; warns with
    :class:`~hskit.errors.TruncatedCaptureWarning` when a file ends inside a record and
    :class:`~hskit.errors.CorruptTimestampWarning` on time stamps out of range.
    """
    paths = [path] if isinstance(path, Path) else list(path)
    return chunks.read(paths, progress=progress, chunk_size=chunk_size, label=label)
