"""``conn_log``: a segments table as the rows of the conn.log Zeek would write for it.

Zeek's TCP analysis is reproduced from the segments alone (the
:mod:`hskit.classify.zeek` package): its connection boundaries (a new connection at a
SYN reusing a closed 4-tuple, and wherever its timers expired), its orientation
(``^``), endpoint states (``conn_state``), ``history``, sequence-number byte counts,
content gaps and the packets it drops for a bad checksum. What needs Zeek's
application analyzers is not: ``service`` is left unset, as are ``local_orig`` and
``local_resp`` (Zeek sets them only with ``Site::local_nets``) and ``tunnel_parents``
(tunnels are decoded by tshark, not followed here).

>>> import hskit
>>> log = conn_log(hskit.load("sample_pcaps/refused.pcap").segments,
...                ignore_checksums=True)  # doctest: +SKIP
>>> log[["id.orig_p", "id.resp_p", "conn_state", "history"]]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import numpy.typing as npt
import pandas as pd

from hskit import schema
from hskit.classify.streams import last_where
from hskit.classify.zeek.connections import Timeouts, zeek_view
from hskit.classify.zeek.lifecycle import Lifecycle
from hskit.errors import SchemaError
from hskit.zeek.community_id import community_ids
from hskit.zeek.uid import uids

#: the segments columns conn_log needs beyond those of the Zeek fields.
NEEDED_COLUMNS = ("ip_len", "checksum_ok")


def conn_log(
    segments: pd.DataFrame,
    *,
    ignore_checksums: bool = False,
    likely_server_ports: Collection[int] | None = None,
    inactivity_timeout: float = Timeouts.tcp_inactivity_timeout,
) -> pd.DataFrame:
    """One row per connection Zeek would log for ``segments``, with conn.log's columns
    (:data:`hskit.schema.CONN_LOG_DTYPES`), in order of first packet.

    ``ignore_checksums`` is Zeek's ``-C``: without it the segments whose
    ``checksum_ok`` is False are dropped from everything but a ``C``/``c`` in
    ``history`` (as Zeek drops them), those NA (cut by the snap length, unverifiable)
    are kept. ``likely_server_ports`` is Zeek's port set for its direction heuristic
    (:data:`hskit.classify.zeek.ports.DEFAULT_LIKELY_SERVER_PORTS` by default; a bare
    ``zeek -b`` run's: :func:`hskit.classify.zeek.ports.bare_mode_ports`).
    ``inactivity_timeout`` is Zeek's ``tcp_inactivity_timeout``: a connection silent
    this long ends.

    >>> log = conn_log(cap.segments, ignore_checksums=True)  # doctest: +SKIP
    >>> log.loc[0, "history"]  # doctest: +SKIP
    'ShADadFf'
    """
    missing = [column for column in NEEDED_COLUMNS if column not in segments.columns]
    if missing:
        raise SchemaError(
            f"conn_log needs the segments columns {', '.join(missing)}: load the capture "
            "with hskit.load (both backends give them)"
        )
    if len(segments) == 0:
        return schema.empty_conn_log()
    checksum_ok = segments["checksum_ok"].astype("boolean")
    processed = (
        np.ones(len(segments), dtype=bool)
        if ignore_checksums
        else checksum_ok.fillna(True).to_numpy(bool)
    )
    timeouts = Timeouts(tcp_inactivity_timeout=inactivity_timeout)
    view = zeek_view(
        segments,
        likely_server_ports=likely_server_ports,
        processed=processed,
        complete=checksum_ok.notna().to_numpy(bool),
        timeouts=timeouts,
    )
    life, rows = view.life, view.rows
    first = life.first
    head = view.orig_and_resp(segments)
    ts_ns = segments["ts"].array.asi8[view.order]
    duration = _duration(life, ts_ns)
    timed = duration > 0
    ip_len = segments["ip_len"].to_numpy(np.int64)[view.order]
    orig_rows = life.processed & life.is_orig
    resp_rows = life.processed & ~life.is_orig
    flows = community_ids(head["orig_h"], head["orig_p"], head["resp_h"], head["resp_p"])
    flow_hash = pd.util.hash_array(np.asarray(flows, dtype=object))
    table = {
        "ts": pd.to_datetime(ts_ns[first], unit="ns", utc=True),
        "uid": uids(flow_hash, ts_ns[first], rows["frame"][first]),
        "id.orig_h": _address(head["orig_h"], segments),
        "id.orig_p": head["orig_p"],
        "id.resp_h": _address(head["resp_h"], segments),
        "id.resp_p": head["resp_p"],
        "proto": pd.Categorical(["tcp"] * len(first), dtype=schema.TRANSPORT_PROTO_DTYPE),
        "service": pd.array([pd.NA] * len(first), dtype="string"),
        "duration": pd.arrays.FloatingArray(duration, ~timed),
        "orig_bytes": _when(view.orig_size, timed),
        "resp_bytes": _when(view.resp_size, timed),
        "conn_state": view.conn_state,
        "local_orig": pd.array([pd.NA] * len(first), dtype="boolean"),
        "local_resp": pd.array([pd.NA] * len(first), dtype="boolean"),
        "missed_bytes": view.missed,
        "history": view.history,
        "orig_pkts": _per_connection(life.conn, orig_rows, len(first)),
        "orig_ip_bytes": _per_connection(life.conn, orig_rows, len(first), ip_len),
        "resp_pkts": _per_connection(life.conn, resp_rows, len(first)),
        "resp_ip_bytes": _per_connection(life.conn, resp_rows, len(first), ip_len),
        "tunnel_parents": pd.array([pd.NA] * len(first), dtype="string"),
        "community_id": pd.array(flows, dtype="string"),
        "stream": rows["stream"][first],
    }
    frame = pd.DataFrame(
        {name: pd.Series(values).astype(dtype) for name, (values, dtype) in _typed(table)}
    )
    by_start = np.lexsort((rows["frame"][first], ts_ns[first]))
    frame = frame.iloc[by_start].reset_index(drop=True)
    schema.check(frame, schema.CONN_LOG_DTYPES, "conn_log")
    return frame


def _typed(table: dict[str, object]) -> list[tuple[str, tuple[object, object]]]:
    return [(name, (table[name], dtype)) for name, dtype in schema.CONN_LOG_DTYPES.items()]


def _duration(life: Lifecycle, ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """``last_time - start_time`` in seconds: from the first packet to the last one that
    set ``last_time`` (processed while the two endpoints had not both closed)."""
    setter = last_where(life.conn, life.sets_last_time, life.count)
    start = ts_ns[life.first]
    last = np.where(setter >= 0, ts_ns[np.maximum(setter, 0)], start)
    return (last - start) / 1e9


def _when(values: npt.NDArray[np.int64], present: npt.NDArray[np.bool_]) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(values.astype(np.uint64), ~present)


def _per_connection(
    conn: npt.NDArray[np.int64],
    mask: npt.NDArray[np.bool_],
    count: int,
    weights: npt.NDArray[np.int64] | None = None,
) -> npt.NDArray[np.uint64]:
    """Rows (or the sum of ``weights``) of each connection where ``mask`` holds."""
    chosen = None if weights is None else weights[mask]
    totals = np.bincount(conn[mask], weights=chosen, minlength=count)
    return np.rint(totals).astype(np.uint64)


def _address(values: npt.NDArray, segments: pd.DataFrame) -> pd.Categorical:
    """Addresses as a categorical with the segments' address categories."""
    column = segments["src_ip"]
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = column.cat.categories.union(segments["dst_ip"].cat.categories, sort=False)
        return pd.Categorical(values, categories=categories)
    return pd.Categorical(values)
