"""Connections and states of a conversion: on disk bucket by bucket, merged in stream order.

Each bucket's connections and states are written to the staging folder as soon as the
bucket is classified (sorted by stream, stably), so memory does not hold every bucket's
tables to the end. :meth:`StagedTables.write` then merges the buckets' files into the
dataset's ``connections.parquet`` and ``states.parquet``: a stream is in one bucket only,
so the merge by stream, reading each file a row group at a time, gives the table the sort
of their concatenation gives (:func:`hskit.load`'s order), in memory bounded by
:data:`MERGE_ROWS` rows whatever the number of buckets or streams: the staged files have
row groups of ``MERGE_ROWS / buckets`` rows, and no file stays open (a Parquet reader
holds about a megabyte of buffers outside Arrow's pool, which, a reader per bucket, would
grow with the capture).

>>> tables = StagedTables(Path("dataset/.staging/tables"), buckets=32)  # doctest: +SKIP
>>> tables.add(3, connections, states); tables.write(Path("dataset"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hskit import schema
from hskit.dataset.layout import CONNECTIONS, STATES

#: rows held by the merge, shared out among the buckets' files (a row group of each).
MERGE_ROWS = 64 * 1024
#: fewest rows in a staged row group, however many buckets share ``MERGE_ROWS``.
MIN_BATCH_ROWS = 64
#: rows merged before they are written as one row group of the dataset's table.
ROW_GROUP_ROWS = 32 * 1024
#: the column the tables are ordered by.
STREAM = "stream"


class StagedTables:
    """The connections and states of each classified bucket, one Parquet file per bucket
    and table in ``folder``.

    >>> tables = StagedTables(Path("dataset/.staging/tables"), buckets=32)  # doctest: +SKIP
    >>> tables.add(0, connections, states)  # doctest: +SKIP
    """

    def __init__(self, folder: Path, buckets: int) -> None:
        self.folder = folder
        for name in (CONNECTIONS, STATES):
            (folder / name).mkdir(parents=True)
        self._buckets: list[int] = []
        #: rows of a staged row group: the merge holds one of each bucket's file at most
        self.group_rows = max(MIN_BATCH_ROWS, MERGE_ROWS // buckets)

    def add(self, bucket: int, connections: pd.DataFrame, states: pd.DataFrame) -> None:
        """Stage one bucket's tables, each sorted by stream (stably)."""
        for name, table in ((CONNECTIONS, connections), (STATES, states)):
            ordered = table.sort_values(STREAM, kind="stable", ignore_index=True)
            ordered.to_parquet(
                self.folder / name / f"{bucket}.parquet",
                index=False,
                row_group_size=self.group_rows,
            )
        self._buckets.append(bucket)

    def write(self, dataset: Path) -> None:
        """The dataset's connections and states tables, merged from the staged files."""
        empties = {CONNECTIONS: schema.empty_connections(), STATES: schema.empty_states()}
        for name, empty in empties.items():
            files = [self.folder / name / f"{bucket}.parquet" for bucket in self._buckets]
            merge_by_stream(files, dataset / name, empty)


def merge_by_stream(files: Sequence[Path], target: Path, empty: pd.DataFrame) -> None:
    """Write to ``target`` the rows of ``files`` (each sorted by stream, no stream in two)
    in stream order, each file's rows of a stream in their order; ``empty`` if no file.

    >>> merge_by_stream([Path("a.parquet"), Path("b.parquet")], Path("ab.parquet"),
    ...                 schema.empty_states())  # doctest: +SKIP
    """
    if not files:
        empty.to_parquet(target, index=False)
        return
    cursors = [_Cursor(path) for path in files]
    schema_ = pq.read_schema(files[0])
    with pq.ParquetWriter(target, schema_) as writer:
        for table in _row_groups(_merged(cursors, schema_)):
            writer.write_table(table)


def _merged(cursors: list[_Cursor], schema_: pa.Schema) -> Iterator[pa.Table]:
    """Runs of rows in stream order: each time, every file's rows of the streams that every
    file has read past (or all, once read to its end)."""
    while cursors:
        for cursor in cursors:
            cursor.fill()
        bound = min(cursor.complete_through() for cursor in cursors)
        parts = [cursor.take_through(bound) for cursor in cursors]
        parts = [part.cast(schema_) for part in parts if part.num_rows]
        if parts:
            run = pa.concat_tables(parts)
            yield run.take(np.argsort(run.column(STREAM).to_numpy(), kind="stable"))
        cursors = [cursor for cursor in cursors if not cursor.done]


def _row_groups(runs: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """The runs joined up to :data:`ROW_GROUP_ROWS` rows (the last may have fewer)."""
    held: list[pa.Table] = []
    rows = 0
    for run in runs:
        held.append(run)
        rows += run.num_rows
        if rows >= ROW_GROUP_ROWS:
            yield pa.concat_tables(held)
            held, rows = [], 0
    if held:
        yield pa.concat_tables(held)


class _Cursor:
    """A staged file read a row group at a time, opened for each: the rows read and not yet
    merged."""

    def __init__(self, path: Path) -> None:
        self._path = path
        with pq.ParquetFile(path) as file:
            self._groups = file.metadata.num_row_groups
            self._held = file.schema_arrow.empty_table()
        self._next_group = 0
        self._ended = False

    @property
    def done(self) -> bool:
        return self._ended and not self._held.num_rows

    def fill(self) -> None:
        """Read until the held rows span two streams (so the first is whole), or the end."""
        while not self._ended and self._streams_held() < 2:
            if self._next_group == self._groups:
                self._ended = True
                break
            with pq.ParquetFile(self._path) as file:
                group = file.read_row_group(self._next_group, use_threads=False)
            self._held = pa.concat_tables([self._held, group])
            self._next_group += 1

    def complete_through(self) -> int | float:
        """The last stream all of whose rows are held (infinity once read to the end)."""
        if self._ended:
            return np.inf
        return int(self._held.column(STREAM)[-1].as_py()) - 1

    def take_through(self, bound: int | float) -> pa.Table:
        """The held rows of streams up to ``bound``, no longer held."""
        streams = self._held.column(STREAM).to_numpy()
        count = int(np.searchsorted(streams, bound, side="right"))
        taken = self._held.slice(0, count)
        self._held = self._held.slice(count)
        return taken

    def _streams_held(self) -> int:
        if not self._held.num_rows:
            return 0
        column = self._held.column(STREAM)
        return 1 if column[0].as_py() == column[-1].as_py() else 2
