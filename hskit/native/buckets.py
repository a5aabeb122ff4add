"""A capture's segments kept on disk by connection bucket while it is read, then handed
out one bucket at a time: work that needs whole connections but not the whole capture at
once (``hskit summary``) runs in memory bounded by a chunk and a bucket.

A row's bucket is its stream number modulo the bucket count, so every segment of a
connection is in one bucket. Each chunk's raw columns (:meth:`_Table.take`) are appended
to their bucket's file; once the whole capture is read, each bucket's table is made with
the final address categories and clients (:meth:`_Table.frame`): its rows are exactly
``hskit.load``'s rows of those streams, in capture order, with the same stream numbers.

>>> for segments in bucket_segments([Path("big.pcapng")], buckets=16):  # doctest: +SKIP
...     connections, _ = hskit.classify(segments)
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import pandas as pd

from hskit.native.chunks import LOAD_CHUNK_SIZE, MIN_SEGMENT_BYTES, ChunkedLoad, rows_at_most

#: capture bytes per bucket when the count is chosen from the capture's size: a bucket's
#: segments then take about a third of this in memory (pcapng, ~110 bytes a segment).
BUCKET_BYTES = 32 * 1024 * 1024


def bucket_count(paths: Sequence[Path]) -> int:
    """One bucket per :data:`BUCKET_BYTES` of capture (gzip counted as decompressed).

    >>> bucket_count([Path("sample_pcaps/refused.pcap")])  # doctest: +SKIP
    1
    """
    rows = sum(rows_at_most(p) for p in paths)
    return max(1, math.ceil(rows * MIN_SEGMENT_BYTES / BUCKET_BYTES))


def bucket_segments(
    paths: Sequence[Path],
    *,
    buckets: int,
    chunk_size: int = LOAD_CHUNK_SIZE,
    progress: bool | None = None,
) -> Iterator[pd.DataFrame]:
    """The segments table of each bucket of streams in turn (``stream % buckets``), read
    from ``paths`` (one capture, or a capture set in reading order) through a temporary
    folder; empty buckets are left out.

    >>> sum(len(s) for s in bucket_segments([Path("a.pcap")], buckets=4))  # doctest: +SKIP
    """
    if buckets < 1:
        raise ValueError(f"buckets must be at least 1, not {buckets}")
    load = ChunkedLoad(paths, chunk_size=chunk_size)
    load.table.capacity = chunk_size // MIN_SEGMENT_BYTES
    with tempfile.TemporaryDirectory(prefix="hskit-buckets-") as folder:
        store = BucketStore(Path(folder))
        try:
            for _ in load.decode(progress):
                parts = load.table.take()
                if parts:
                    store.add(parts, parts["stream"] % buckets)
        finally:
            store.close()
        load.finish_report()
        for number in range(buckets):
            parts = store.read(number)
            if parts is not None:
                yield load.table.frame(parts)


class BucketStore:
    """Raw columns kept on disk by bucket: one file per bucket, each :meth:`add` appends its
    rows there column after column. Memory holds only the row counts, whatever the size
    of the capture (a Parquet writer, by contrast, keeps metadata for every row group).

    >>> store = BucketStore(Path(folder))  # doctest: +SKIP
    >>> store.add(load.table.take(), bucket_of_each_row)  # doctest: +SKIP
    >>> segments = load.table.frame(store.read(3))  # doctest: +SKIP
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._files: dict[int, BinaryIO] = {}
        #: each column's dtype, in the order a chunk's columns are written
        self._dtypes: dict[str, np.dtype] = {}
        #: rows of each chunk appended to each bucket's file
        self._rows: dict[int, list[int]] = {}

    def add(self, parts: dict[str, npt.NDArray], bucket: npt.NDArray[np.integer]) -> None:
        """Append one chunk's raw columns, each row to its ``bucket``, in their order."""
        if not len(bucket):
            return
        if not self._dtypes:
            self._dtypes = {name: values.dtype for name, values in parts.items()}
        order = np.argsort(bucket, kind="stable")
        sorted_bucket = bucket[order]
        starts = np.flatnonzero(np.r_[True, sorted_bucket[1:] != sorted_bucket[:-1]])
        ends = np.r_[starts[1:], len(order)]
        columns = {name: parts[name][order] for name in self._dtypes}
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            number = int(sorted_bucket[start])
            if number not in self._files:
                self._files[number] = (self.folder / f"{number}.bin").open("wb")
                self._rows[number] = []
            file = self._files[number]
            for values in columns.values():
                file.write(values[start:end].tobytes())
            self._rows[number].append(end - start)

    def close(self) -> None:
        """Close the bucket files (before :meth:`read`)."""
        for file in self._files.values():
            file.close()

    def read(self, number: int) -> dict[str, npt.NDArray] | None:
        """The raw columns of bucket ``number`` (``None`` when it has no rows), each read
        straight into its final array."""
        if number not in self._rows:
            return None
        chunk_rows = self._rows[number]
        total = sum(chunk_rows)
        parts = {name: np.empty(total, dtype=dtype) for name, dtype in self._dtypes.items()}
        with (self.folder / f"{number}.bin").open("rb") as file:
            start = 0
            for rows in chunk_rows:
                for values in parts.values():
                    file.readinto(values[start : start + rows].view(np.uint8))
                start += rows
        (self.folder / f"{number}.bin").unlink()
        return parts
