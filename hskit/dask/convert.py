"""``convert`` on Dask: a capture set to the Parquet dataset of :func:`hskit.convert`.

The recipe, each step Dask tasks:

1. each file is read by a task (:func:`hskit.dask.read.load_part`, the native reader),
   which also hands back the file's load report;
2. every row is keyed by its connection's dataset bucket (the Community ID of its
   4-tuple modulo the bucket count, :func:`hskit.dataset.layout.bucket_of`) and the rows
   are shuffled on it: each bucket is whole in one partition;
3. each partition is split into conversations and numbered globally as
   :func:`hskit.dask.by_connection` does, classified by :func:`hskit.classify`, and its
   buckets' segments are written by the worker to ``segments/bucket=K/part-0.parquet``;
4. the driver gathers the partitions' connections, states and stream → bucket tables
   (one row per connection or state interval, no segments) and writes them with
   ``dataset.json``.

The folder is the one the in-memory :func:`hskit.convert` writes, and reads back with
:func:`hskit.load_dataset` to the same tables. Workers write the segments themselves:
on a real cluster the dataset folder must be on a file system every worker and the
driver see (NFS, a shared volume).

>>> import hskit.dask as hd
>>> hd.convert(["ring_1.pcap", "ring_2.pcap"], "dataset/", buckets=16)  # doctest: +SKIP
PosixPath('dataset')
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

import hskit
from hskit.capture import LoadReport
from hskit.dask.classify import in_stream_order, open_until
from hskit.dask.read import Paths, file_parts, load_part, segments_meta
from hskit.dask.regroup import PAIR, Catalog, conversations, numbered, with_pair
from hskit.dataset.convert import bucket_count, new_dataset_folder
from hskit.dataset.layout import (
    BUCKET,
    CONNECTIONS,
    STATES,
    STREAMS,
    Meta,
    bucket_folder,
    bucket_of,
)
from hskit.loader import capture_set
from hskit.zeek.community_id import community_ids

#: the file each bucket's segments are written to, as the in-memory convert names it.
PART_FILE = "part-0.parquet"


def convert(paths: Paths, dataset: str | os.PathLike[str], *, buckets: int | None = None) -> Path:
    """Convert a capture or capture set (as :func:`hskit.load` takes it) to a Parquet
    dataset in the new or empty folder ``dataset`` on the current Dask scheduler (e.g. a
    ``dask.distributed.Client``); return its path. ``buckets`` as in :func:`hskit.convert`.

    >>> hd.convert("ring/", "ring-dataset/")  # doctest: +SKIP
    PosixPath('ring-dataset')
    """
    folder = new_dataset_folder(dataset)
    files, label, notes = capture_set(paths)
    count = bucket_count(files, buckets)
    folder.mkdir(parents=True, exist_ok=True)
    parts = file_parts(files)
    loaded = [dask.delayed(load_part, pure=True, nout=2)(part, "native") for part in parts]
    segments = dd.from_delayed(
        [file[0] for file in loaded], meta=segments_meta(parts[0].names), verify_meta=False
    )
    local, catalog = conversations(segments, count, key=partial(with_bucket, buckets=count))
    written = [
        dask.delayed(write_buckets, pure=True)(part, catalog, folder, count)
        for part in local.to_delayed(optimize_graph=False)
    ]
    tables, reports, catalog = dask.compute(written, [file[1] for file in loaded], catalog)
    connections, states, streams = (
        in_stream_order(pd.concat([table[index] for table in tables], ignore_index=True))
        for index in range(3)
    )
    connections.to_parquet(folder / CONNECTIONS, index=False)
    states.to_parquet(folder / STATES, index=False)
    streams.to_parquet(folder / STREAMS, index=False)
    Meta(
        report=merged_report(reports, label=label, notes=notes, files=files),
        buckets=count,
        addresses=list(catalog.addresses),
        sources=list(parts[0].names),
        capture_end=catalog.capture_end,
    ).write(folder)
    return folder


def with_bucket(part: pd.DataFrame, buckets: int) -> pd.DataFrame:
    """Step 2's key: each row's dataset bucket in :data:`PAIR`, from the Community ID of
    each distinct endpoint pair of the partition (one hash per pair, not per row).

    >>> with_bucket(segments_of_one_file, 8)[PAIR].unique()  # doctest: +SKIP
    """
    keyed = with_pair(part)
    _, first, inverse = np.unique(keyed[PAIR].to_numpy(), return_index=True, return_inverse=True)
    keyed[PAIR] = buckets_of(keyed.iloc[first], buckets)[inverse]
    return keyed


def buckets_of(rows: pd.DataFrame, buckets: int) -> np.ndarray:
    """The bucket of each row's 4-tuple (the Community ID is direction-independent).

    >>> buckets_of(hskit.load("sample_pcaps/refused.pcap").segments, 8).tolist()  # doctest: +SKIP
    [5, 5]
    """
    if not len(rows):
        return np.zeros(0, dtype=np.int64)
    ids = community_ids(
        rows["src_ip"].astype("string"), rows["src_port"].to_numpy(),
        rows["dst_ip"].astype("string"), rows["dst_port"].to_numpy(),
    )  # fmt: skip
    return bucket_of(ids, buckets)


def write_buckets(
    part: pd.DataFrame, catalog: Catalog, folder: Path, buckets: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Step 3 on one partition (whole buckets): number, classify, write each bucket's
    segments; return its ``(connections, states, streams)``."""
    segments = numbered(part, catalog)
    connections, states = hskit.classify(segments)
    stream = segments["stream"].to_numpy(np.int64)
    firsts = segments.drop_duplicates("stream")
    bucket = pd.Series(buckets_of(firsts, buckets), index=firsts["stream"].to_numpy(np.int64))
    row_bucket = bucket.reindex(stream).to_numpy()
    for number in np.unique(row_bucket).tolist():
        target = bucket_folder(folder, number)
        target.mkdir(parents=True, exist_ok=True)
        segments[row_bucket == number].to_parquet(target / PART_FILE, index=False)
    streams = pd.DataFrame(
        {"stream": bucket.index.to_numpy(np.uint32), BUCKET: bucket.to_numpy(np.int32)}
    )
    return connections, open_until(states, catalog.capture_end), streams


def merged_report(
    reports: Sequence[LoadReport], *, label: str, notes: list[str], files: Sequence[Path]
) -> LoadReport:
    """The load report of a capture set from its files' reports (read in order): counts
    added up, link types joined, each file's notes after the set's own ``notes``.

    >>> merged_report([LoadReport("a", "native", 2, 1)], label="a", notes=[], files=[]).frames
    2
    """
    if len(reports) == 1:
        report = reports[0]
        report.notes[:0] = notes
        return report
    skipped: dict[str, int] = {}
    for report in reports:
        for reason, count in report.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + count
    return LoadReport(
        path=label,
        backend="native",
        frames=sum(report.frames for report in reports),
        tcp_segments=sum(report.tcp_segments for report in reports),
        skipped=skipped,
        link_types=sorted(set().union(*(report.link_types for report in reports))),
        bytes_lost=sum(report.bytes_lost for report in reports),
        notes=[*notes, *(note for report in reports for note in report.notes)],
        sources=[str(file) for file in files],
    )
