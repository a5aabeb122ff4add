"""One segments table from the ring files of a live capture, as if they were one file.

Each ring file is loaded on its own (``hskit.load``), so its ``frame``, ``time``,
``stream``, relative numbers and ``from_client`` start afresh. :func:`merge` renumbers
them across the files the way a load of the files concatenated (``mergecap -a``) does:
frames count on across files, times count from the first frame of the first file,
conversations and relative sequence numbers are computed again over all the rows
(``hskit.native.streams``, the native reader's own rules), and the client of every
stream is decided again (``hskit.direction``).

When ``hskit.load`` accepts a list of files (a capture set) this module's job is
its job, and :func:`merge` can give way to it.

>>> parts = [hskit.load(p, progress=False) for p in ring_files]  # doctest: +SKIP
>>> segments, report = merge(parts)  # doctest: +SKIP
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hskit import schema
from hskit.capture import Capture, LoadReport
from hskit.direction import from_client
from hskit.native.records import read_records
from hskit.native.streams import streams

if TYPE_CHECKING:
    import numpy.typing as npt

#: endpoint key = address code * PORTS + port (as the native reader builds it).
PORTS = 65536


def merge(parts: Sequence[Capture], *, name: str | None = None) -> tuple[pd.DataFrame, LoadReport]:
    """The segments table and load report of ``parts`` (captures of consecutive ring files,
    in order) as one capture; ``name`` becomes the report's ``path``.

    >>> segments, report = merge([hskit.load(p) for p in sorted(ring)])  # doctest: +SKIP
    >>> report.frames == sum(p.load_report.frames for p in parts)  # doctest: +SKIP
    True
    """
    reports = [part.load_report for part in parts]
    report = _merged_report(reports, name)
    with_rows = [part.segments for part in parts if len(part.segments)]
    if not with_rows:
        return schema.empty_segments(), report
    addresses = _address_dtype(with_rows)
    segments = pd.concat(
        [_frames_counted_on(part, offset, addresses) for part, offset in _frame_offsets(parts)],
        ignore_index=True,
    )
    _times_from_first_frame(segments, parts)
    _conversations(segments)
    segments["from_client"] = from_client(segments)
    schema.check(segments, schema.SEGMENT_DTYPES, "segments")
    return segments, report


def _frame_offsets(parts: Sequence[Capture]) -> list[tuple[pd.DataFrame, int]]:
    """Each part's segments with the number of frames in the files before it."""
    counts = np.cumsum([0] + [part.load_report.frames for part in parts[:-1]])
    return [
        (part.segments, int(offset))
        for part, offset in zip(parts, counts, strict=True)
        if len(part.segments)
    ]


def _frames_counted_on(
    segments: pd.DataFrame, offset: int, addresses: pd.CategoricalDtype
) -> pd.DataFrame:
    """``segments`` with ``frame`` counted on from ``offset`` and addresses recoded to
    the shared categories ``addresses`` (codes only, no text)."""
    part = segments.copy()
    part["frame"] = (part["frame"].to_numpy(np.int64) + offset).astype(np.uint32)
    for column in ("src_ip", "dst_ip"):
        part[column] = part[column].cat.set_categories(addresses.categories)
    return part


def _address_dtype(parts: list[pd.DataFrame]) -> pd.CategoricalDtype:
    """One categorical over every part's addresses, in the native reader's order (IPv4
    by value, then IPv6 by value)."""
    seen = set().union(*(set(p["src_ip"].cat.categories) for p in parts))
    seen |= set().union(*(set(p["dst_ip"].cat.categories) for p in parts))
    return pd.CategoricalDtype(sorted(seen, key=_address_order))


def _address_order(text: str) -> tuple[int, int]:
    address = ipaddress.ip_address(text)
    return address.version, int(address)


def _times_from_first_frame(segments: pd.DataFrame, parts: Sequence[Capture]) -> None:
    """``time`` in seconds since the first frame of the first file that has frames."""
    first = next((part for part in parts if part.load_report.frames), None)
    if first is None:
        return
    ts_ns = segments["ts"].array.asi8
    segments["time"] = (ts_ns - _first_frame_ns(first)) / 1e9


def _first_frame_ns(part: Capture) -> int:
    """The timestamp (ns) of ``part``'s first frame: from its first segment's ``ts`` and
    ``time`` when that is known, else read from the file (a ring file whose first frame
    is not a TCP segment)."""
    rows = part.segments
    if len(rows) and not np.isnan(rows["time"].iloc[0]):
        return int(rows["ts"].array.asi8[0]) - round(float(rows["time"].iloc[0]) * 1e9)
    return int(read_records(Path(part.load_report.path), progress=False).ts_ns[0])


def _conversations(segments: pd.DataFrame) -> None:
    """``stream``, ``rel_seq`` and ``rel_ack`` over all rows, by the native reader's rules."""
    src_key = _endpoint_key(segments, "src")
    dst_key = _endpoint_key(segments, "dst")
    flags, seq, ack = (segments[c].to_numpy(np.int64) for c in ("flags", "seq", "ack"))
    numbered = streams(src_key, dst_key, flags, seq, ack)
    segments["stream"] = numbered.stream.astype(np.uint32)
    segments["rel_seq"] = numbered.rel_seq.astype(np.uint32)
    segments["rel_ack"] = numbered.rel_ack.astype(np.uint32)


def _endpoint_key(segments: pd.DataFrame, side: str) -> npt.NDArray[np.int64]:
    codes = segments[f"{side}_ip"].cat.codes.to_numpy(np.int64)
    return codes * PORTS + segments[f"{side}_port"].to_numpy(np.int64)


def _merged_report(reports: list[LoadReport], name: str | None) -> LoadReport:
    skipped: Counter[str] = Counter()
    for report in reports:
        skipped.update(report.skipped)
    return LoadReport(
        path=name if name is not None else (reports[0].path if reports else ""),
        backend=reports[0].backend if reports else "native",
        frames=sum(r.frames for r in reports),
        tcp_segments=sum(r.tcp_segments for r in reports),
        skipped=dict(skipped),
        link_types=sorted({t for r in reports for t in r.link_types}),
        bytes_lost=sum(r.bytes_lost for r in reports),
        notes=[note for r in reports for note in r.notes],
    )
