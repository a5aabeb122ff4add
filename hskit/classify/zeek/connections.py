"""Zeek's connection boundaries within a stream: one row per connection Zeek would log.

Zeek may log one stream (tshark's ``tcp.stream``) as several connections: it ends a
connection when its timers expire (a SYN unanswered for 5 s, 5 s after a close, 5 min of
silence) or when a SYN reuses a closed 4-tuple; :func:`zeek_connections` reproduces that
split.

>>> zeek_connections(cap.segments)[["orig_p", "resp_p", "conn_state"]]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import numpy.typing as npt
import pandas as pd

from hskit.classify.streams import cumsum_in, first_where, group_ids, group_starts, sum_before
from hskit.classify.zeek.fields import (
    FIELD_COLUMNS,
    Columns,
    by_stream,
    conn_fields,
    orientation,
    server_ports,
)
from hskit.schema import ACK, CONN_STATE_DTYPE, FIN, RST, SYN

#: Zeek's defaults: ``tcp_attempt_delay``, ``tcp_close_delay``, ``tcp_inactivity_timeout``.
ATTEMPT_DELAY = 5.0
CLOSE_DELAY = 5.0
INACTIVITY_TIMEOUT = 300.0

_CONNECTION_COLUMNS = (*FIELD_COLUMNS, "frame", "time")


def zeek_connections(
    segments: pd.DataFrame,
    *,
    likely_server_ports: Collection[int] | None = None,
    split: bool = True,
) -> pd.DataFrame:
    """One row per connection Zeek would log, in order of first packet.

    Columns: ``stream, first_frame, orig_h, orig_p, resp_h, resp_p, conn_state,
    history``. With ``split=False`` each stream is one connection.

    >>> zeek_connections(cap.segments)[["orig_p", "resp_p", "conn_state"]]  # doctest: +SKIP
    """
    if len(segments) == 0:
        return _empty_connections()
    ports = server_ports(likely_server_ports)
    order, rows, src_key = by_stream(segments, _CONNECTION_COLUMNS)
    conn = _connection_ids(rows, src_key, ports) if split else group_ids(rows["stream"])
    first, flipped, conn_state, histories = conn_fields(conn, rows, src_key, ports)
    head = segments[["src_ip", "dst_ip"]].iloc[order[first]]
    src_port, dst_port = rows["src_port"][first], rows["dst_port"][first]
    orig_is_src = ~flipped
    return pd.DataFrame(
        {
            "stream": rows["stream"][first].astype(np.uint32),
            "first_frame": rows["frame"][first].astype(np.uint32),
            "orig_h": np.where(orig_is_src, head["src_ip"].astype(str), head["dst_ip"].astype(str)),
            "orig_p": np.where(orig_is_src, src_port, dst_port).astype(np.uint16),
            "resp_h": np.where(orig_is_src, head["dst_ip"].astype(str), head["src_ip"].astype(str)),
            "resp_p": np.where(orig_is_src, dst_port, src_port).astype(np.uint16),
            "conn_state": conn_state,
            "history": histories,
        }
    ).astype({"conn_state": CONN_STATE_DTYPE, "history": "string"})


def _empty_connections() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "stream": pd.Series([], dtype=np.uint32),
            "first_frame": pd.Series([], dtype=np.uint32),
            "orig_h": pd.Series([], dtype=object),
            "orig_p": pd.Series([], dtype=np.uint16),
            "resp_h": pd.Series([], dtype=object),
            "resp_p": pd.Series([], dtype=np.uint16),
            "conn_state": pd.Series([], dtype=CONN_STATE_DTYPE),
            "history": pd.Series([], dtype="string"),
        }
    )


def _connection_ids(
    rows: Columns, src_key: npt.NDArray[np.int64], ports: Collection[int]
) -> npt.NDArray[np.int64]:
    """Zeek's connection number for each row (rows sorted by stream, capture order).

    Streams are first cut at silences of ``INACTIVITY_TIMEOUT``; then each round cuts
    every undecided connection at its first packet that Zeek would give a new connection
    (after an expired timer, or a reusing SYN). Only the parts after a cut are looked at
    again, so a round costs the rows still undecided; rounds: one more than the most cuts
    in a stream.
    """
    stream = rows["stream"].astype(np.int64)
    time = rows["time"].astype(np.float64)
    new = np.r_[True, stream[1:] != stream[:-1]]
    new[1:] |= np.diff(time) >= INACTIVITY_TIMEOUT
    undecided = np.arange(len(stream))
    while len(undecided):
        conn = group_ids((np.cumsum(new) - 1)[undecided])
        part = {name: column[undecided] for name, column in rows.items()}
        cut = _first_cut(conn, part, src_key[undecided], ports)
        new[undecided[cut]] = True
        undecided = undecided[cumsum_in(cut, group_starts(conn)) > 0]
    return np.cumsum(new) - 1


def _first_cut(
    conn: npt.NDArray[np.int64],
    rows: Columns,
    src_key: npt.NDArray[np.int64],
    ports: Collection[int],
) -> npt.NDArray[np.bool_]:
    """Each connection's first row that starts a new Zeek connection (at most one each)."""
    time = rows["time"].astype(np.float64)
    flags = rows["flags"].astype(np.int64)
    seq = rows["seq"].astype(np.int64)
    payload = rows["payload_len"].astype(np.int64)
    count = int(conn[-1]) + 1
    first, _, is_orig = orientation(conn, rows, src_key, ports)
    syn, fin, rst = (flags & SYN) != 0, (flags & FIN) != 0, (flags & RST) != 0
    is_first = np.zeros(len(conn), dtype=bool)
    is_first[first] = True

    # The originator's first packet: a SYN there starts the attempt timer.
    orig_first = first_where(conn, is_orig, count)
    orig_syn_time = np.full(count, np.inf)
    has_orig = orig_first >= 0
    opened = has_orig & syn[np.maximum(orig_first, 0)]
    orig_syn_time[opened] = time[orig_first[opened]]
    # A responder's pure ACK of a pending SYN leaves it inactive; anything else wakes it.
    resp_wakes = ~is_orig & (((flags & (SYN | FIN | RST)) != 0) | (payload > 0) | ~opened[conn])
    orig_leaves_syn_sent = is_orig & (fin | rst)
    attempt_end = orig_syn_time + ATTEMPT_DELAY
    spoiled = _first_time(conn, resp_wakes | orig_leaves_syn_sent, time, count) < attempt_end
    attempt_end[spoiled] = np.inf

    # Close: a RST; a FIN after the peer closed; a FIN while the peer is still inactive.
    closes = fin | rst
    start = group_starts(conn)
    resp_closed_before = sum_before(closes & ~is_orig, start)
    orig_closed_before = sum_before(closes & is_orig, start)
    peer_closed_before = np.where(is_orig, resp_closed_before, orig_closed_before)
    resp_awake_before = sum_before(~is_orig & resp_wakes, start)
    peer_awake_before = np.where(is_orig, resp_awake_before, sum_before(is_orig, start))
    complete = rst | (fin & ((peer_closed_before > 0) | (peer_awake_before == 0)))
    close_end = _first_time(conn, complete, time, count) + CLOSE_DELAY

    # Reuse: a SYN after a close, or with another initial sequence number.
    orig_start = np.where(syn[np.maximum(orig_first, 0)], 0, -1) + seq[np.maximum(orig_first, 0)]
    pure_syn = syn & ((flags & ACK) == 0)
    closed_before = sum_before(closes, start) > 0
    other_isn = has_orig[conn] & ((seq - orig_start[conn]) % 2**32 != 0)
    reuse = pure_syn & ~is_first & (closed_before | other_isn)

    expired = (time >= np.minimum(attempt_end, close_end)[conn]) & ~is_first
    candidate = expired | reuse
    cut_row = first_where(conn, candidate, count)
    cut = np.zeros(len(conn), dtype=bool)
    cut[cut_row[cut_row >= 0]] = True
    return cut


def _first_time(
    conn: npt.NDArray[np.int64],
    mask: npt.NDArray[np.bool_],
    time: npt.NDArray[np.float64],
    count: int,
) -> npt.NDArray[np.float64]:
    """Time of each connection's first row with ``mask`` set, inf where none."""
    row = first_where(conn, mask, count)
    return np.where(row >= 0, time[np.maximum(row, 0)], np.inf)
