"""``read_segments``: captures as a Dask DataFrame of segments, one partition per file.

A single file is one partition, exactly ``hskit.load(path).segments``. A capture set (a
list of files, a folder or a glob) is ordered by each file's first timestamp, the
order ``dumpcap -b`` / ``tcpdump -C`` rotation gives; ``frame`` counts across the set
and ``time`` is seconds since the set's first frame, as in ``mergecap -a`` of the files
in that order, and a ``source`` column (categorical file name) says where each row
came from. Each file is read by a Dask task; only its frame count and first timestamp
are gathered first (a walk of its record headers), to number frames across the set.

``stream``, ``rel_seq``, ``rel_ack`` and ``from_client`` are each file's own: a
connection that continues into the next file is joined up by
:func:`hskit.dask.by_connection`, which ``hskit.dask.classify`` runs.

>>> import hskit.dask as hd
>>> segments = hd.read_segments("sample_pcaps/refused.pcap")  # doctest: +SKIP
>>> segments.npartitions, len(segments.compute())  # doctest: +SKIP
(1, 2)
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

import hskit
from hskit import schema
from hskit.errors import CaptureNotFound
from hskit.native.records import NO_TIMESTAMP, read_records

#: the column naming each row's file in a capture set (issue 12's capture sets).
SOURCE = "source"
#: file name patterns taken from a folder.
CAPTURE_PATTERNS = ("*.pcap", "*.pcapng", "*.pcap.gz", "*.pcapng.gz", "*.cap")

Paths = str | os.PathLike[str] | list[str | os.PathLike[str]]


@dataclass(frozen=True)
class FilePart:
    """One file of a capture set and where it sits in the set.

    >>> FilePart(Path("a.pcap"), frame_offset=10, set_first_ns=0, names=("a.pcap",)).name
    'a.pcap'
    """

    path: Path
    #: frames of the files before this one.
    frame_offset: int
    #: the set's first frame's timestamp, ns since the epoch (``NO_TIMESTAMP`` if unknown).
    set_first_ns: int
    #: every file name of the set, in set order (the ``source`` categories); empty for
    #: a single file, which gets no ``source`` column.
    names: tuple[str, ...]

    @property
    def name(self) -> str:
        """The file's name, as the ``source`` column spells it."""
        return self.path.name


def capture_files(paths: Paths) -> list[Path]:
    """The files ``paths`` names: a file, a list of files, a folder or a glob pattern.

    >>> [p.name for p in capture_files("sample_pcaps/refused.pcap")]
    ['refused.pcap']
    """
    items = list(paths) if isinstance(paths, list | tuple) else [paths]
    files: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if Path(text).is_dir():
            found = sorted({p for pattern in CAPTURE_PATTERNS for p in Path(text).glob(pattern)})
        elif glob.has_magic(text):
            found = sorted(Path(p) for p in glob.glob(text))
        else:
            found = [Path(text)]
        if not found:
            raise CaptureNotFound(f"no capture files in {text}")
        files.extend(found)
    for file in files:
        if not file.is_file():
            raise CaptureNotFound(f"{file} does not exist")
    return files


def read_segments(paths: Paths, *, backend: str = "auto") -> dd.DataFrame:
    """The segments of ``paths`` (a capture file, a list, a folder or a glob) as a Dask
    DataFrame with one partition per file: the segments schema, plus ``source`` for
    more than one file.

    >>> hd.read_segments(["ring_1.pcap", "ring_2.pcap"]).npartitions  # doctest: +SKIP
    2
    """
    files = capture_files(paths)
    if len(files) == 1:
        parts = [FilePart(files[0], frame_offset=0, set_first_ns=NO_TIMESTAMP, names=())]
    else:
        parts = _set_parts(files)
    meta = _meta(parts[0].names)
    return dd.from_map(
        _read_part, parts, backend=backend, meta=meta, label="hskit-read", enforce_metadata=False
    )


def _set_parts(files: list[Path]) -> list[FilePart]:
    """Files ordered by first timestamp (ties: the order given), with their offsets."""
    heads = dask.compute(*(dask.delayed(_head)(file) for file in files))
    order = sorted(range(len(files)), key=lambda i: (heads[i][1], i))
    names = tuple(files[i].name for i in order)
    set_first_ns = heads[order[0]][1]
    offsets = np.concatenate([[0], np.cumsum([heads[i][0] for i in order])[:-1]])
    return [
        FilePart(files[i], int(offset), set_first_ns, names)
        for i, offset in zip(order, offsets, strict=True)
    ]


def _head(path: Path) -> tuple[int, int]:
    """``(frames, first frame's timestamp in ns)`` of one capture file."""
    records = read_records(path, progress=False)
    first = int(records.ts_ns[0]) if len(records.ts_ns) else NO_TIMESTAMP
    return len(records.ts_ns), first


def _read_part(part: FilePart, backend: str) -> pd.DataFrame:
    """One file's segments, numbered within the capture set ``part`` belongs to."""
    segments = hskit.load(part.path, backend=backend, progress=False).segments  # type: ignore[arg-type]
    if not part.names:
        return segments
    ts_ns = segments["ts"].array.asi8
    unknown = segments["time"].isna().to_numpy() | (part.set_first_ns == NO_TIMESTAMP)
    segments["frame"] = (segments["frame"].to_numpy(np.int64) + part.frame_offset).astype(np.uint32)
    segments["time"] = np.where(unknown, np.nan, (ts_ns - part.set_first_ns) / 1e9)
    segments[SOURCE] = pd.Categorical.from_codes(
        np.full(len(segments), part.names.index(part.name), dtype=np.int32), categories=part.names
    )
    return segments


def _meta(names: tuple[str, ...]) -> pd.DataFrame:
    """The empty table a partition looks like: addresses' categories unknown until read."""
    meta = schema.empty_segments()
    if names:
        meta[SOURCE] = pd.Categorical([], categories=names)
    return dd.utils.clear_known_categories(meta, cols=["src_ip", "dst_ip"])
