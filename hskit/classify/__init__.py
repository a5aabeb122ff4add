"""``hskit.classify``: a segments table in, the connections and states tables out.

One stable sort by stream, then column operations per stream (first/last/count of a
mask, see :mod:`hskit.classify.streams`): no Python loop per segment or per
connection, cost linear in the segments apart from the sort.

The package is callable, so ``hskit.classify(segments)`` (the public API) and
``import hskit.classify.zeek`` (its modules) both work.

>>> import hskit
>>> connections, states = classify(hskit.schema.empty_segments())
>>> list(connections.columns[:2]), len(states)
(['stream', 'client_ip'], 0)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from types import ModuleType
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from hskit import schema
from hskit.analysis import analyze
from hskit.classify import handshake, termination
from hskit.classify.identity import identity
from hskit.classify.losses import loss_counts
from hskit.classify.options import negotiated
from hskit.classify.rows import Rows
from hskit.classify.states import endpoint_states
from hskit.classify.streams import StreamIndex
from hskit.classify.zeek import sorted_conn_fields
from hskit.direction import from_client
from hskit.errors import SchemaError

__all__ = ["classify"]

#: Tables at least this long get the Zeek fields computed on a second thread.
PARALLEL_MIN_SEGMENTS = 50_000

T = TypeVar("T")


def classify(
    segments: pd.DataFrame,
    *,
    time_wait: float = schema.DEFAULT_TIME_WAIT,
    likely_server_ports: frozenset[int] | None = None,
    analysis: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Classify every connection of ``segments``: ``(connections, states)``.

    ``segments`` needs the columns of :data:`hskit.schema.SEGMENT_DTYPES` (others are
    ignored, dtypes are cast), each stream's rows in capture order, as ``hskit.load``
    gives them; a subset of a capture's rows works too. ``time_wait`` is the TIME_WAIT
    length in seconds. ``likely_server_ports``, when given, re-decides which side is
    the client with Zeek's port heuristic (:func:`hskit.direction.from_client`);
    ``conn_state`` and ``history`` are what :func:`hskit.classify.zeek.zeek_conn_fields`
    gives with the same ports (computed from this function's own sorted rows).
    ``analysis``, when given, is ``segments``' Wireshark analysis (:func:`hskit.analyze`,
    row for row, as ``Capture.analysis`` holds it): its flags give the per-direction
    counts (``retrans_c2s`` …) instead of analysing ``segments`` again.

    On a table of at least :data:`PARALLEL_MIN_SEGMENTS` rows, and with more than one
    CPU, the Zeek fields (and the analysis, when not given) are computed on a second
    thread while this one does the rest (NumPy and the analysis' compiled passes release
    the GIL).

    >>> cap = hskit.load("sample_pcaps/refused.pcap")  # doctest: +SKIP
    >>> classify(cap.segments)[0]["handshake"].tolist()  # doctest: +SKIP
    ['refused']
    """
    try:
        schema.check(segments, schema.SEGMENT_DTYPES, "segments")
    except SchemaError:  # other column order, extra columns or dtypes: cast (or say what's missing)
        segments = schema.conform(segments, schema.SEGMENT_DTYPES)
    if analysis is not None and len(analysis) != len(segments):
        raise SchemaError(f"analysis: {len(analysis)} rows for {len(segments)} segments")
    direction = (
        None
        if likely_server_ports is None
        else from_client(segments, likely_server_ports=likely_server_ports)
    )
    index = StreamIndex.from_streams(segments["stream"].to_numpy())
    rows = Rows.from_segments(segments, index, direction)
    zeek_arguments = (*_zeek_rows(segments, rows, index), likely_server_ports)
    if len(rows.time) < PARALLEL_MIN_SEGMENTS or _cpus() < 2:
        zeek = sorted_conn_fields(*zeek_arguments)
        analysed = analyze(segments) if analysis is None else analysis
        return _tables(segments, rows, index, time_wait, zeek, analysed)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hskit-zeek") as worker:
        zeek = worker.submit(sorted_conn_fields, *zeek_arguments)
        analysed = worker.submit(analyze, segments) if analysis is None else analysis
        return _tables(segments, rows, index, time_wait, zeek, analysed)


def _zeek_rows(
    segments: pd.DataFrame, rows: Rows, index: StreamIndex
) -> tuple[npt.NDArray[np.int64], dict[str, npt.NDArray], npt.NDArray[np.bool_]]:
    """What :func:`~hskit.classify.zeek.sorted_conn_fields` reads: connection numbers,
    columns in stream order (``win`` and the ports gathered by the caller, not read
    from the table on another thread) and the sender of each row."""
    win, src_port, dst_port = (
        segments[name].to_numpy() for name in ("win", "src_port", "dst_port")
    )
    columns = {
        "flags": rows.flags,
        "seq": rows.seq,
        "payload_len": rows.payload_len,
        "win": win[index.order],
        "src_port": src_port[index.order],
        "dst_port": dst_port[index.order],
    }
    return index.group, columns, rows.client


def _cpus() -> int:
    """CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _tables(
    segments: pd.DataFrame,
    rows: Rows,
    index: StreamIndex,
    time_wait: float,
    zeek: tuple[pd.Categorical, pd.api.extensions.ExtensionArray]
    | Future[tuple[pd.Categorical, pd.api.extensions.ExtensionArray]],
    analysis: pd.DataFrame | Future[pd.DataFrame],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The connections and states tables; ``zeek`` (``conn_state``, ``history``) and
    ``analysis``, or the futures of them, are waited for last."""
    opened = handshake.analyse(rows, index)
    closed = termination.analyse(rows, index, opened, time_wait)
    capture_end = float(rows.time.max()) if len(rows.time) else 0.0
    states = endpoint_states(rows, index, opened, closed, capture_end)

    columns: dict[str, object] = identity(segments, rows, index)
    columns.update(
        handshake=pd.Categorical.from_codes(
            opened.code, dtype=schema.HANDSHAKE_DTYPE, validate=False
        ),
        syn_count=opened.syn_count,
        synack_count=opened.synack_count,
        isn_client=pd.arrays.IntegerArray(opened.isn_client, ~opened.has_isn_client),
        isn_server=pd.arrays.IntegerArray(opened.isn_server, ~opened.has_isn_server),
        rtt_syn_synack=opened.rtt_syn_synack,
        rtt_synack_ack=opened.rtt_synack_ack,
        handshake_time=opened.handshake_time,
    )
    columns.update(negotiated(segments, rows, index, opened))
    columns.update(
        termination=pd.Categorical.from_codes(
            closed.code, dtype=schema.TERMINATION_DTYPE, validate=False
        ),
        closer=pd.Categorical.from_codes(closed.closer, dtype=schema.CLOSER_DTYPE, validate=False),
        reset_by=pd.Categorical.from_codes(
            closed.reset_by, dtype=schema.RESET_BY_DTYPE, validate=False
        ),
        time_wait_end=closed.time_wait_end,
    )
    states_table = _table(
        {name: states[name] for name in states.columns}, schema.STATE_DTYPES, "states"
    )
    columns.update(loss_counts(_result(analysis), rows, index))
    conn_state, history = _result(zeek)
    columns.update(conn_state=conn_state, history=history)
    return _table(columns, schema.CONNECTION_DTYPES, "connections"), states_table


def _result(value: T | Future[T]) -> T:
    """``value``, or what its future gives."""
    return value.result() if isinstance(value, Future) else value


def _table(columns: Mapping[str, object], dtypes: Mapping[str, object], name: str) -> pd.DataFrame:
    """``columns`` as one table with ``dtypes``' columns, order and dtypes, checked: what
    :func:`hskit.schema.conform` of a DataFrame of them gives, without the intermediate
    tables and copying only the columns a cast changes.

    >>> _table({"b": [1], "a": [2.0]}, {"a": "float64"}, "t").to_dict("list")
    {'a': [2.0]}
    """
    missing = [column for column in dtypes if column not in columns]
    if missing:
        raise SchemaError(f"{name}: missing columns: {', '.join(missing)}")
    table = pd.DataFrame(
        {
            column: pd.Series(columns[column], copy=False).astype(dtype)
            for column, dtype in dtypes.items()
        },
        copy=False,
    )
    schema.check(table, dtypes, name)
    return table


class _CallablePackage(ModuleType):
    """This package, callable as :func:`classify`."""

    def __call__(
        self, segments: pd.DataFrame, **options: object
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        return classify(segments, **options)  # type: ignore[arg-type]


sys.modules[__name__].__class__ = _CallablePackage
