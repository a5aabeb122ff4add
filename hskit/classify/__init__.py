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

import sys
from collections.abc import Mapping
from types import ModuleType

import pandas as pd

from hskit import schema
from hskit.classify import handshake, termination
from hskit.classify.identity import identity
from hskit.classify.options import negotiated
from hskit.classify.rows import Rows
from hskit.classify.states import endpoint_states
from hskit.classify.streams import StreamIndex
from hskit.classify.zeek import zeek_conn_fields
from hskit.direction import from_client
from hskit.errors import SchemaError

__all__ = ["classify"]


def classify(
    segments: pd.DataFrame,
    *,
    time_wait: float = schema.DEFAULT_TIME_WAIT,
    likely_server_ports: frozenset[int] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Classify every connection of ``segments``: ``(connections, states)``.

    ``segments`` needs the columns of :data:`hskit.schema.SEGMENT_DTYPES` (others are
    ignored, dtypes are cast), each stream's rows in capture order, as ``hskit.load``
    gives them; a subset of a capture's rows works too. ``time_wait`` is the TIME_WAIT
    length in seconds. ``likely_server_ports``, when given, re-decides which side is
    the client with Zeek's port heuristic (:func:`hskit.direction.from_client`);
    ``conn_state`` and ``history`` come from
    :func:`hskit.classify.zeek.zeek_conn_fields` with the same ports.

    >>> cap = hskit.load("sample_pcaps/refused.pcap")  # doctest: +SKIP
    >>> classify(cap.segments)[0]["handshake"].tolist()  # doctest: +SKIP
    ['refused']
    """
    try:
        schema.check(segments, schema.SEGMENT_DTYPES, "segments")
    except SchemaError:  # other column order, extra columns or dtypes: cast (or say what's missing)
        segments = schema.conform(segments, schema.SEGMENT_DTYPES)
    direction = (
        None
        if likely_server_ports is None
        else from_client(segments, likely_server_ports=likely_server_ports)
    )
    index = StreamIndex.from_streams(segments["stream"].to_numpy())
    rows = Rows.from_segments(segments, index, direction)
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
    zeek = zeek_conn_fields(segments, likely_server_ports=likely_server_ports).reindex(index.ids)
    columns.update(conn_state=zeek["conn_state"].array, history=zeek["history"].array)
    connections = _table(columns, schema.CONNECTION_DTYPES, "connections")
    states = _table({name: states[name] for name in states.columns}, schema.STATE_DTYPES, "states")
    return connections, states


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
