"""``hskit.convert``: a capture (or capture set) to a Parquet dataset, in bounded memory.

Two passes. First the native reader hands out the segments chunk by chunk
(:class:`hskit.native.chunks.ChunkedLoad`); each chunk's rows go to their connection's
bucket in a staging folder (held in memory up to ``STAGING_BYTES``, then written as one
Arrow IPC file, a batch per bucket). Then each bucket in turn is read back, its ``from_client``
settled (:func:`hskit.direction.from_client` over whole streams), classified
(:func:`hskit.classify.classify`) and written out; its connections and states go to
staging files too (:mod:`hskit.dataset.tables`), put in stream order at the end. The
files written and read grow with the capture, not with its square. Peak memory
is about a chunk and the held rows in the first pass and one bucket (its segments and
their classification) in the second, whatever the size of the capture; the conversion
runs on allocators that give freed memory back (:mod:`hskit.dataset.memory`), else
they would keep each bucket's peak and the process would grow bucket after bucket.

>>> convert(["ring_1.pcapng", "ring_2.pcapng"], "dataset/", buckets=32)  # doctest: +SKIP
PosixPath('dataset')
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from hskit import schema
from hskit.classify import classify
from hskit.dataset.layout import (
    BUCKET,
    STAGED_TABLES,
    STAGING,
    STREAMS,
    Meta,
    bucket_folder,
    bucket_of,
)
from hskit.dataset.memory import give_back, returning_memory
from hskit.dataset.tables import StagedTables
from hskit.direction import from_client
from hskit.loader import CaptureSource, capture_set
from hskit.native.chunks import DEFAULT_CHUNK_SIZE, ChunkedLoad
from hskit.progress import BAR_DELAY
from hskit.zeek.community_id import community_ids

#: capture bytes per bucket when the bucket count is chosen from the capture's size: a
#: bucket's segments then take about this much memory when it is classified.
BUCKET_BYTES = 4 * 1024 * 1024
#: the fewest buckets chosen (Dask gets that many partitions to share out).
MIN_BUCKETS = 8
#: bytes of staged segments held in memory before they are written to the staging files.
STAGING_BYTES = 16 * 1024 * 1024
#: staged segments are compressed (cheaply: they are read back once).
_IPC_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")


def convert(
    path: CaptureSource,
    dataset: str | os.PathLike[str],
    *,
    buckets: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: bool | None = None,
) -> Path:
    """Convert a capture, or a capture set (as :func:`hskit.load` takes it), to a Parquet
    dataset in the new or empty folder ``dataset``; return its path.

    ``buckets`` (default: one per 4 MB of capture, at least 8) is the number of segment
    partitions. Captures are read by the native reader, ``chunk_size`` bytes at a time.

    >>> convert("big.pcapng", "big-dataset/")  # doctest: +SKIP
    PosixPath('big-dataset')
    """
    folder = new_dataset_folder(dataset)
    paths, label, notes = capture_set(path)
    buckets = bucket_count(paths, buckets)
    folder.mkdir(parents=True, exist_ok=True)
    load = ChunkedLoad(paths, chunk_size=chunk_size, label=label)
    staging = _Staging(folder / STAGING, buckets)
    try:
        with returning_memory():
            for chunk in load.segments(progress):
                staging.add(chunk)
            staging.close()
            give_back()
            report = load.report
            report.notes[:0] = notes
            meta = Meta(
                report=report,
                buckets=buckets,
                addresses=load.address_categories(),
                sources=list(load.table.sources or []),
                capture_end=staging.capture_end,
            )
            _classify_buckets(folder, staging, meta, progress)
            pd.DataFrame(
                {"stream": np.arange(len(staging.stream_bucket), dtype=np.uint32),
                 BUCKET: staging.stream_bucket}
            ).to_parquet(folder / STREAMS, index=False)  # fmt: skip
            meta.write(folder)
    finally:
        shutil.rmtree(folder / STAGING, ignore_errors=True)
    return folder


def new_dataset_folder(dataset: str | os.PathLike[str]) -> Path:
    """``dataset`` as a path, if it is new or an empty folder (else ``FileExistsError``).

    >>> new_dataset_folder("fresh-dataset/")  # doctest: +SKIP
    PosixPath('fresh-dataset')
    """
    folder = Path(dataset)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise FileExistsError(f"{folder} exists and is not an empty folder: choose a new one")
    return folder


def bucket_count(paths: Sequence[Path], buckets: int | None) -> int:
    """``buckets``, checked; or, if ``None``, one per ``BUCKET_BYTES`` of the files (at
    least ``MIN_BUCKETS``).

    >>> bucket_count([], None), bucket_count([], 3)
    (8, 3)
    """
    if buckets is None:
        total = sum(p.stat().st_size for p in paths)
        buckets = max(MIN_BUCKETS, math.ceil(total / BUCKET_BYTES))
    if buckets < 1:
        raise ValueError(f"buckets must be at least 1, not {buckets}")
    return buckets


class _Staging:
    """The segments of each bucket, on disk until their bucket is classified.

    Chunks are held in memory until they add up to :data:`STAGING_BYTES`, then written as
    one Arrow IPC file whose record batches are the held rows of each bucket, in bucket
    order. So the files and write calls grow with the capture (one per flush), not with
    the capture times the bucket count (a file per bucket and flush made both grow with
    the square of the capture, each small write costing the same few milliseconds), and a
    bucket is read back as its batch of each file: a seek, no Parquet footer to parse.
    Addresses are staged as ids into the staging's own list of addresses (a chunk's
    categories are those met so far, in an order that changes from chunk to chunk), and
    ``source`` as its codes; :meth:`read` gives back the dataset's categories. No writer
    stays open, so memory does not grow with the number of chunks.

    >>> staging = _Staging(Path("dataset/.staging"), buckets=8)  # doctest: +SKIP
    >>> staging.add(chunk); staging.close(); staging.buckets_written()  # doctest: +SKIP
    [0, 3, 5]
    """

    def __init__(self, folder: Path, buckets: int) -> None:
        folder.mkdir()
        self.folder, self.buckets = folder, buckets
        self._schema: pa.Schema | None = None
        #: slices of the chunks not yet written, by bucket
        self._held: dict[int, list[pa.Table]] = {}
        self._held_bytes = 0
        #: per staged file, the first batch and the batch count of each bucket
        self._batches: list[tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]] = []
        #: address of each staged address id
        self._addresses = pd.Index([], dtype=object)
        #: see :meth:`_dataset_addresses`
        self._read_addresses: tuple[npt.NDArray[np.int32], pd.CategoricalDtype] | None = None
        #: bucket of each stream seen so far
        self.stream_bucket = np.zeros(0, dtype=np.int32)
        self.capture_end = 0.0

    def add(self, chunk: pd.DataFrame) -> None:
        if not len(chunk):
            return
        stream = chunk["stream"].to_numpy(np.int64)
        self._new_streams(chunk, stream)
        self.capture_end = max(self.capture_end, float(np.nanmax(chunk["time"].to_numpy())))
        bucket = self.stream_bucket[stream]
        order = np.argsort(bucket, kind="stable")
        table = pa.Table.from_pandas(self._as_staged(chunk.take(order)), preserve_index=False)
        if self._schema is None:
            self._schema = table.schema
        table = table.cast(self._schema)
        sorted_bucket = bucket[order]
        starts = np.flatnonzero(np.r_[True, sorted_bucket[1:] != sorted_bucket[:-1]])
        ends = np.r_[starts[1:], len(order)]
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            number = int(sorted_bucket[start])
            self._held.setdefault(number, []).append(table.slice(start, end - start))
        self._held_bytes += table.nbytes
        if self._held_bytes >= STAGING_BYTES:
            self._write_held()

    def _as_staged(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """``chunk`` with staged address ids for its addresses and codes for ``source``."""
        categories = chunk["src_ip"].cat.categories
        ids = self._addresses.get_indexer(categories)
        if (ids < 0).any():
            self._addresses = self._addresses.append(categories[ids < 0])
            ids = self._addresses.get_indexer(categories)
        # a missing address (code -1) keeps id -1: the appended last element
        ids = np.append(ids, -1).astype(np.int32)
        for column in ("src_ip", "dst_ip"):
            chunk[column] = ids[chunk[column].cat.codes.to_numpy()]
        if schema.SOURCE in chunk.columns:
            chunk[schema.SOURCE] = chunk[schema.SOURCE].cat.codes.to_numpy(np.int32)
        return chunk

    def _write_held(self) -> None:
        """Write the held slices: one new file, a batch of each bucket, in bucket order."""
        if not self._held:
            return
        first = np.zeros(self.buckets, dtype=np.int32)
        count = np.zeros(self.buckets, dtype=np.int32)
        path = self.folder / f"{len(self._batches)}.arrow"
        with pa.ipc.new_file(str(path), self._schema, options=_IPC_OPTIONS) as writer:
            for number in sorted(self._held):
                first[number] = writer.stats.num_record_batches
                # one batch, not one per chunk: a batch costs the same fixed time to write
                # and read whatever its size, and a flush has a slice of each chunk
                writer.write_table(pa.concat_tables(self._held[number]).combine_chunks())
                count[number] = writer.stats.num_record_batches - first[number]
        self._batches.append((first, count))
        self._held.clear()
        self._held_bytes = 0

    def _new_streams(self, chunk: pd.DataFrame, stream: np.ndarray) -> None:
        """Buckets of the streams that start in ``chunk`` (streams are numbered in order)."""
        known = len(self.stream_bucket)
        new = stream >= known
        if not new.any():
            return
        first = pd.Series(np.flatnonzero(new)).groupby(stream[new]).first()
        rows = chunk.iloc[first.to_numpy()]
        ids = community_ids(
            rows["src_ip"].astype("string"), rows["src_port"].to_numpy(),
            rows["dst_ip"].astype("string"), rows["dst_port"].to_numpy(),
        )  # fmt: skip
        grown = np.zeros(int(stream.max()) + 1, dtype=np.int32)
        grown[:known] = self.stream_bucket
        grown[first.index.to_numpy()] = bucket_of(ids, self.buckets)
        self.stream_bucket = grown

    def close(self) -> None:
        """Write what is still held."""
        self._write_held()

    def buckets_written(self) -> list[int]:
        counts = sum((count for _, count in self._batches), np.zeros(self.buckets, np.int32))
        return np.flatnonzero(counts).tolist()

    def read(self, number: int, meta: Meta) -> pd.DataFrame:
        """Bucket ``number``'s segments, as :func:`read_segments` reads them from the
        dataset (``from_client`` as the chunks had it)."""
        batches = []
        for index, (first, count) in enumerate(self._batches):
            if count[number]:
                with pa.OSFile(str(self.folder / f"{index}.arrow")) as source:
                    reader = pa.ipc.open_file(source)
                    stop = first[number] + count[number]
                    batches += [reader.get_batch(i) for i in range(first[number], stop)]
        segments = pa.Table.from_batches(batches, schema=self._schema).to_pandas()
        codes, addresses = self._dataset_addresses(meta)
        for column in ("src_ip", "dst_ip"):
            values = codes[segments[column].to_numpy()]
            segments[column] = pd.Categorical.from_codes(values, dtype=addresses)
        if meta.sources:
            segments[schema.SOURCE] = pd.Categorical.from_codes(
                segments[schema.SOURCE].to_numpy(), categories=meta.sources
            )
        return in_capture_order(segments, meta)

    def _dataset_addresses(self, meta: Meta) -> tuple[npt.NDArray[np.int32], pd.CategoricalDtype]:
        """The dataset's address code of each staged id (id -1, the last, stays -1) and
        its address categories: made on the first read, once every address is known."""
        if self._read_addresses is None:
            codes = pd.Index(meta.addresses).get_indexer(self._addresses)
            self._read_addresses = (
                np.append(codes, -1).astype(np.int32),
                pd.CategoricalDtype(meta.addresses),
            )
        return self._read_addresses


def _classify_buckets(folder: Path, staging: _Staging, meta: Meta, progress: bool | None) -> None:
    """Each bucket: settle ``from_client``, classify, write segments, stage its tables and
    give the freed memory back; then the tables, merged from the staged ones."""
    tables = StagedTables(staging.folder / STAGED_TABLES)
    written = staging.buckets_written()
    bar = tqdm(written, desc="classifying buckets", unit="bucket", delay=BAR_DELAY,
               disable=progress is False, leave=False)  # fmt: skip
    for number in bar:
        tables.add(*_classify_bucket(folder, staging, meta, number))
        give_back()
    tables.write(folder)


def _classify_bucket(
    folder: Path, staging: _Staging, meta: Meta, number: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bucket ``number``'s connections and states; its segments written to the dataset and
    freed on return, before the next bucket is read."""
    segments = staging.read(number, meta)
    segments["from_client"] = from_client(segments)
    connections, states = classify(segments)
    states = _states_to_capture_end(states, segments, meta.capture_end)
    target = bucket_folder(folder, number)
    target.mkdir(parents=True)
    segments.to_parquet(target / "part-0.parquet", index=False)
    return connections, states


def read_segments(path: Path, meta: Meta, filters: list | None = None) -> pd.DataFrame:
    """Segments from Parquet, in capture order, with the dataset's categories."""
    segments = pq.read_table(path, filters=filters).to_pandas()
    if BUCKET in segments.columns:
        segments = segments.drop(columns=BUCKET)
    return in_capture_order(segments, meta)


def in_capture_order(segments: pd.DataFrame, meta: Meta) -> pd.DataFrame:
    """``segments`` in capture order, with the dataset's dtypes and categories."""
    segments = segments.sort_values("frame", kind="stable", ignore_index=True)
    for column, dtype in schema.SEGMENT_DTYPES.items():
        if column in ("src_ip", "dst_ip"):
            segments[column] = segments[column].cat.set_categories(meta.addresses)
        elif segments[column].dtype != dtype:  # a folder of files loses pandas' metadata
            segments[column] = segments[column].astype(dtype)  # type: ignore[call-overload]
    if meta.sources:
        segments[schema.SOURCE] = segments[schema.SOURCE].cat.set_categories(meta.sources)
    return segments


def _states_to_capture_end(
    states: pd.DataFrame, segments: pd.DataFrame, capture_end: float
) -> pd.DataFrame:
    """The last state of each endpoint lasts to the capture's end, not the bucket's
    (:func:`hskit.classify.states.endpoint_states`; CLOSED has zero length)."""
    if not len(states):
        return states
    last = ~states.duplicated(["stream", "endpoint"], keep="last").to_numpy()
    still_open = last & (states["state"] != "CLOSED").to_numpy()
    states.loc[still_open, "end"] = capture_end
    return states
