"""Connections and states of a conversion: on disk a few buckets at a time, then put in
stream order.

Each classified bucket's connections and states are held until :data:`MERGE_ROWS` rows
are, then written to the staging folder as one Parquet file per table, a row group per
range of streams (:attr:`StagedTables.range_streams` consecutive stream numbers, rows in
the order they came). :meth:`StagedTables.write` then makes the dataset's
``connections.parquet`` and ``states.parquet`` a range at a time: its row group of each
staged file, sorted by stream (stably). A stream is in one bucket only, and a bucket's
rows are staged together and in their order, so this gives the table the stable sort of
the buckets' concatenation gives (:func:`hskit.load`'s order), in memory bounded by a
range and the held rows whatever the number of buckets or streams. Files and write calls
grow with the capture (one per :data:`MERGE_ROWS` rows), not with the capture times the
bucket count as a merge of one file per bucket, read a few rows of each at a time, did.

>>> tables = StagedTables(Path("dataset/.staging/tables"))  # doctest: +SKIP
>>> tables.add(connections, states); tables.write(Path("dataset"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hskit import schema
from hskit.dataset.layout import CONNECTIONS, STATES

#: rows of staged tables held before they are written; a range holds about as many.
MERGE_ROWS = 64 * 1024
#: fewest streams in a range, whatever ``MERGE_ROWS``.
MIN_BATCH_ROWS = 64
#: rows per stream of the larger table assumed to size a range (states: 10.7 per stream in
#: the benchmark capture, so its ranges hold about 1.3x ``MERGE_ROWS``).
ROWS_PER_STREAM = 8
#: rows merged before they are written as one row group of the dataset's table.
ROW_GROUP_ROWS = 32 * 1024
#: the column the tables are ordered by.
STREAM = "stream"


class StagedTables:
    """The connections and states of the classified buckets, in Parquet files of
    ``folder``: one per table each time :data:`MERGE_ROWS` rows are held.

    >>> tables = StagedTables(Path("dataset/.staging/tables"))  # doctest: +SKIP
    >>> tables.add(connections, states)  # doctest: +SKIP
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        for name in (CONNECTIONS, STATES):
            (folder / name).mkdir(parents=True)
        #: stream numbers in a range: a range of the larger table holds about MERGE_ROWS rows
        self.range_streams = max(MIN_BATCH_ROWS, MERGE_ROWS // ROWS_PER_STREAM)
        #: each table's schema: the first bucket's, widened (every bucket is cast to it)
        self._schemas: dict[str, pa.Schema] = {}
        self._held: dict[str, list[pa.Table]] = {CONNECTIONS: [], STATES: []}
        self._held_rows = 0
        #: per table, its staged files: the row group of each range they hold
        self._files: dict[str, list[dict[int, int]]] = {CONNECTIONS: [], STATES: []}

    def add(self, connections: pd.DataFrame, states: pd.DataFrame) -> None:
        """Stage one bucket's tables."""
        for name, frame in ((CONNECTIONS, connections), (STATES, states)):
            table = pa.Table.from_pandas(frame, preserve_index=False)
            expected = self._schemas.setdefault(name, _wide_dictionaries(table.schema))
            self._held[name].append(table.cast(expected))
            self._held_rows += table.num_rows
        if self._held_rows >= MERGE_ROWS:
            self._write_held()

    def _write_held(self) -> None:
        """Write each table's held rows as one file, a row group per range of streams."""
        for name, held in self._held.items():
            table = pa.concat_tables(held) if held else None
            if table is None or not table.num_rows:
                continue
            ranges = table.column(STREAM).to_numpy() // self.range_streams
            order = np.argsort(ranges, kind="stable")
            table, ranges = table.take(order), ranges[order]
            starts = np.flatnonzero(np.r_[True, ranges[1:] != ranges[:-1]])
            ends = np.r_[starts[1:], len(ranges)]
            groups: dict[int, int] = {}
            path = self.folder / name / f"{len(self._files[name])}.parquet"
            with pq.ParquetWriter(path, self._schemas[name]) as writer:
                for group, (start, end) in enumerate(
                    zip(starts.tolist(), ends.tolist(), strict=True)
                ):
                    writer.write_table(table.slice(start, end - start), row_group_size=end - start)
                    groups[int(ranges[start])] = group
            self._files[name].append(groups)
        self._held = {CONNECTIONS: [], STATES: []}
        self._held_rows = 0

    def write(self, dataset: Path) -> None:
        """The dataset's connections and states tables, in stream order."""
        self._write_held()
        empties = {CONNECTIONS: schema.empty_connections(), STATES: schema.empty_states()}
        for name, empty in empties.items():
            if name not in self._schemas:  # no bucket was classified
                empty.to_parquet(dataset / name, index=False)
                continue
            with pq.ParquetWriter(dataset / name, self._schemas[name]) as writer:
                for table in _row_groups(self._in_stream_order(name)):
                    writer.write_table(table)

    def _in_stream_order(self, name: str) -> Iterator[pa.Table]:
        """Table ``name``'s rows a range at a time, each sorted by stream (stably)."""
        files = self._files[name]
        last = max((max(groups) for groups in files if groups), default=-1)
        for number in range(last + 1):
            parts = []
            for index, groups in enumerate(files):
                if number in groups:
                    with pq.ParquetFile(self.folder / name / f"{index}.parquet") as file:
                        part = file.read_row_group(groups[number], use_threads=False)
                    parts.append(part.cast(self._schemas[name]))
            if parts:
                run = pa.concat_tables(parts)
                yield run.take(np.argsort(run.column(STREAM).to_numpy(), kind="stable"))


def _wide_dictionaries(schema_: pa.Schema) -> pa.Schema:
    """``schema_`` with 32-bit dictionary indices (pandas gives the narrowest that holds a
    table's categories, which a later bucket's may not fit).

    >>> narrow = pa.schema([("a", pa.dictionary(pa.int8(), pa.string()))])
    >>> _wide_dictionaries(narrow).field("a").type
    DictionaryType(dictionary<values=string, indices=int32, ordered=0>)
    """
    fields = [
        field.with_type(pa.dictionary(pa.int32(), field.type.value_type, field.type.ordered))
        if pa.types.is_dictionary(field.type)
        else field
        for field in schema_
    ]
    return pa.schema(fields, metadata=schema_.metadata)


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
