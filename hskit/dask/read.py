"""``read_segments``: captures as a Dask DataFrame of segments, one partition per file.

A single file is one partition, exactly ``hskit.load(path).segments``. A capture set (a
list of files, a folder or a glob) is read in the order ``hskit.load`` reads it
(:func:`hskit.loader.capture_set`: by first timestamp, the order ``dumpcap -b`` /
``tcpdump -C`` rotation gives); ``frame`` counts across the set and ``time`` is seconds
since the set's first frame, as in ``mergecap -a`` of the files in that order, and the
``source`` column names each row's file, as in ``hskit.load``. Each file is read by a
Dask task; only its frame count is gathered first (one task per file walking its record
headers), to number frames across the set.

``stream``, ``rel_seq``, ``rel_ack`` and ``from_client`` are each file's own: a
connection that continues into the next file is joined up by
:func:`hskit.dask.by_connection`, which ``hskit.dask.classify`` runs.

>>> import hskit.dask as hd
>>> segments = hd.read_segments("sample_pcaps/refused.pcap")  # doctest: +SKIP
>>> segments.npartitions, len(segments.compute())  # doctest: +SKIP
(1, 2)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

import hskit
from hskit import schema
from hskit.capture import LoadReport
from hskit.dataset.convert import read_segments as read_bucket
from hskit.dataset.layout import META, SEGMENTS, Meta
from hskit.loader import capture_set
from hskit.native.chunks import count_frames, first_timestamp, source_names
from hskit.native.records import NO_TIMESTAMP
from hskit.schema import SOURCE

Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


@dataclass(frozen=True)
class FilePart:
    """One file of a capture set and where it sits in the set.

    >>> FilePart(Path("a.pcap"), frame_offset=10, set_first_ns=0, names=("a.pcap",)).frame_offset
    10
    """

    path: Path
    #: frames of the files before this one.
    frame_offset: int
    #: the set's first frame's timestamp, ns since the epoch (``NO_TIMESTAMP`` if unknown).
    set_first_ns: int
    #: every file name of the set, in set order (the ``source`` categories); empty for
    #: a single file, which gets no ``source`` column.
    names: tuple[str, ...]
    #: this file's ``source`` category.
    name: str = ""


def read_segments(paths: Paths, *, backend: str = "auto") -> dd.DataFrame:
    """The segments of ``paths`` (a capture file, a list, a folder or a glob) as a Dask
    DataFrame with one partition per file: the segments schema, plus ``source`` for
    more than one file. A dataset folder of ``hskit.convert`` gives one partition per
    Parquet file of its segments (one connection bucket each).

    >>> hd.read_segments(["ring_1.pcap", "ring_2.pcap"]).npartitions  # doctest: +SKIP
    2
    """
    if isinstance(paths, str | os.PathLike) and (Path(paths) / META).is_file():
        return _read_dataset(Path(paths))
    files, _, _ = capture_set(paths)
    parts = file_parts(files)
    return dd.from_map(
        _read_part,
        parts,
        backend=backend,
        meta=segments_meta(parts[0].names),
        label="hskit-read",
        enforce_metadata=False,
    )


def file_parts(files: list[Path]) -> list[FilePart]:
    """The files of a capture set in reading order (as :func:`hskit.loader.capture_set`
    gives them), each with its place in the set; one file is a set of its own.

    >>> file_parts([Path("sample_pcaps/refused.pcap")])[0].frame_offset  # doctest: +SKIP
    0
    """
    if len(files) == 1:
        return [FilePart(files[0], frame_offset=0, set_first_ns=NO_TIMESTAMP, names=())]
    return _set_parts(files)


def _read_dataset(dataset: Path) -> dd.DataFrame:
    """A dataset of ``hskit.convert``: one partition per Parquet file of its segments (a
    connection bucket), read as ``hskit.load_dataset`` reads them."""
    layout = Meta.read(dataset)
    files = sorted((dataset / SEGMENTS).glob("*/*.parquet"))
    empty = schema.empty_segments()
    for column in ("src_ip", "dst_ip"):
        empty[column] = empty[column].cat.set_categories(layout.addresses)
    if layout.sources:
        empty[SOURCE] = pd.Categorical([], categories=layout.sources)
    if not files:
        return dd.from_pandas(empty, npartitions=1)
    return dd.from_map(
        partial(read_bucket, meta=layout),
        files,
        meta=empty,
        label="hskit-read-dataset",
        enforce_metadata=False,
    )


def _set_parts(files: list[Path]) -> list[FilePart]:
    """The files (in reading order, as :func:`hskit.loader.capture_set` gives them) with
    their frame offsets, from frame counts taken by one Dask task per file."""
    frames = dask.compute(*(dask.delayed(count_frames, pure=True)(file) for file in files))
    offsets = np.concatenate([[0], np.cumsum(frames)[:-1]])
    first = first_timestamp(files[0])
    names = tuple(source_names(files))
    return [
        FilePart(file, int(offset), NO_TIMESTAMP if first is None else first, names, name)
        for file, offset, name in zip(files, offsets, names, strict=True)
    ]


def _read_part(part: FilePart, backend: str) -> pd.DataFrame:
    """One file's segments, numbered within the capture set ``part`` belongs to."""
    return load_part(part, backend)[0]


def load_part(part: FilePart, backend: str) -> tuple[pd.DataFrame, LoadReport]:
    """One file's segments, numbered within the capture set ``part`` belongs to, and the
    file's own load report.

    >>> segments, report = load_part(file_parts([Path("a.pcap")])[0], "native")  # doctest: +SKIP
    """
    cap = hskit.load(part.path, backend=backend, progress=False)  # type: ignore[arg-type]
    segments = cap.segments
    if not part.names:
        return segments, cap.load_report
    ts_ns = segments["ts"].array.asi8
    unknown = segments["time"].isna().to_numpy() | (part.set_first_ns == NO_TIMESTAMP)
    segments["frame"] = (segments["frame"].to_numpy(np.int64) + part.frame_offset).astype(np.uint32)
    segments["time"] = np.where(unknown, np.nan, (ts_ns - part.set_first_ns) / 1e9)
    segments[SOURCE] = pd.Categorical.from_codes(
        np.full(len(segments), part.names.index(part.name), dtype=np.int32), categories=part.names
    )
    return segments, cap.load_report


def segments_meta(names: tuple[str, ...]) -> pd.DataFrame:
    """The empty table a partition looks like: addresses' categories unknown until read,
    ``source`` with the set's file ``names`` (none for a single file)."""
    meta = schema.empty_segments()
    if names:
        meta[SOURCE] = pd.Categorical([], categories=names)
    return dd.utils.clear_known_categories(meta, cols=["src_ip", "dst_ip"])
