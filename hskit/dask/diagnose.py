"""``diagnose`` and ``summary`` of a capture on Dask: the in-memory findings and counts.

The findings read the connections and states tables and, of the segments, only their
evidence reduced per stream (:mod:`hskit.diagnose.evidence`: counts per stream and
direction, the SYN-ACKs' options, repeated SYNs, stall candidates). The segments are
regrouped so that every connection is whole in one partition
(:func:`hskit.dask.by_connection`); each worker runs Wireshark's analysis
(:func:`hskit.analyze`, which needs each connection whole) and reduces its partition
to evidence, and classifies it. The driver gathers the connections, the states and the
evidence, a few rows per connection, never a segment, and runs the findings on them
(:func:`hskit.diagnose.diagnose_evidence`): they equal the in-memory ones.

The summary's label counts are Dask aggregations (count and first stream per label);
the handshake-time percentiles read one float per complete handshake.

>>> import hskit.dask as hd
>>> segments = hd.read_segments("sample_pcaps/syn_flood.pcap")  # doctest: +SKIP
>>> hd.diagnose(segments)[["kind", "endpoint"]]  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dask
import dask.dataframe as dd
import pandas as pd

import hskit
from hskit.dask.classify import classify, in_stream_order, open_until
from hskit.dask.regroup import Catalog, conversations, numbered
from hskit.diagnose import Evidence, Thresholds, diagnose_evidence
from hskit.diagnose.evidence import concat_evidence, stream_evidence
from hskit.label_counts import COUNTED, MISSING


def diagnose(
    segments: dd.DataFrame,
    thresholds: Thresholds | None = None,
    *,
    npartitions: int | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """The findings of ``segments`` (a Dask DataFrame, e.g. :func:`hskit.dask.read_segments`),
    equal to ``hskit.load(...).diagnose(...)``; ``overrides`` as there.

    >>> hd.diagnose(hd.read_segments("ring/"), stall_time=5.0)  # doctest: +SKIP
    """
    local, catalog = conversations(segments, npartitions)
    parts = [
        dask.delayed(reduced, pure=True)(part, catalog)
        for part in local.to_delayed(optimize_graph=False)
    ]
    (parts,) = dask.compute(parts)
    connections, states = (
        in_stream_order(pd.concat([part[index] for part in parts], ignore_index=True))
        for index in range(2)
    )
    return diagnose_evidence(
        concat_evidence([part[2] for part in parts]), connections, states, thresholds, **overrides
    )


def reduced(part: pd.DataFrame, catalog: Catalog) -> tuple[pd.DataFrame, pd.DataFrame, Evidence]:
    """One shuffled partition numbered, classified, analysed and reduced to evidence:
    its ``(connections, states, evidence)``.

    >>> reduced(shuffled_partition, catalog)[2].directions  # doctest: +SKIP
    """
    segments = numbered(part, catalog)
    connections, states = hskit.classify(segments)
    evidence = stream_evidence(segments, hskit.analyze(segments))
    return connections, open_until(states, catalog.capture_end), evidence


@dataclass(frozen=True)
class Summary:
    """What ``hskit summary`` prints: sizes, label counts, complete handshakes' times.

    >>> Summary(segments=2, connections=1, counts={}, handshake_times=pd.Series([])).connections
    1
    """

    segments: int
    connections: int
    #: per counted column (``hskit.label_counts.COUNTED``): count per label, most
    #: frequent first, ties in order of first stream, as ``count_labels`` gives.
    counts: dict[str, pd.Series]
    #: ``handshake_time`` of every complete handshake, in stream order.
    handshake_times: pd.Series


def summary(segments: dd.DataFrame, *, npartitions: int | None = None) -> Summary:
    """The summary of ``segments`` with Dask aggregations over the classified connections.

    >>> hd.summary(hd.read_segments("ring/")).counts["handshake"]  # doctest: +SKIP
    """
    connections, _ = classify(segments, npartitions=npartitions)
    columns = connections[["stream", *COUNTED, "handshake_time"]]
    per_label = {column: _label_table(columns, column) for column in COUNTED}
    complete = columns[columns["handshake"] == "complete"][["stream", "handshake_time"]]
    size, count, tables, times = dask.compute(
        segments.map_partitions(len).sum(), columns.shape[0], per_label, complete
    )
    return Summary(
        segments=int(size),
        connections=int(count),
        counts={column: _ordered(table, column) for column, table in tables.items()},
        handshake_times=in_stream_order(times)["handshake_time"],
    )


def _label_table(connections: dd.DataFrame, column: str) -> dd.DataFrame:
    """Per label of ``column`` (missing as ``NA``): connections and the first stream."""
    labels = connections[column].astype("string").fillna(MISSING)
    keyed = connections[["stream"]].assign(label=labels)
    return keyed.groupby("label").stream.agg(["count", "min"])


def _ordered(table: pd.DataFrame, column: str) -> pd.Series:
    """Counts most frequent first, ties by first stream (``value_counts`` on a table in
    stream order); the result named after ``column``, as ``count_labels`` gives."""
    table = table.sort_values(["count", "min"], ascending=[False, True], kind="stable")
    counts = table["count"].astype("int64")
    counts.index = counts.index.astype(object)
    return counts.rename(column).rename_axis(None)
