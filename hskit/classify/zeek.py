"""Zeek-compatible ``conn_state`` and ``history`` (Zeek's conn.log vocabulary).

:func:`zeek_conn_fields` gives the two columns for every stream of a segments table, as
Zeek would log the stream if it were one connection. Zeek itself may log a stream as
several connections: it ends a connection when its timers expire (a SYN unanswered for
5 s, 5 s after a close, 5 min of silence) or when a SYN reuses a closed 4-tuple;
:func:`zeek_connections` reproduces that split, one row per connection Zeek would log.

Orientation follows Zeek: the originator is the sender of the connection's first packet,
unless that packet is a SYN-ACK or Zeek's port heuristic flips it
(:func:`hskit.direction.zeek_flipped`, logged as ``^``).

>>> import hskit
>>> cap = hskit.load("sample_pcaps/refused.pcap")  # doctest: +SKIP
>>> zeek_conn_fields(cap.segments)  # doctest: +SKIP
       conn_state history
stream
0             REJ      Sr
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from hskit.classify import zeek_state
from hskit.classify.zeek_groups import cumsum_in, first_rows, group_starts, sum_before
from hskit.classify.zeek_history import history
from hskit.classify.zeek_ports import DEFAULT_LIKELY_SERVER_PORTS
from hskit.direction import endpoint_keys, zeek_flipped
from hskit.schema import ACK, CONN_STATE_DTYPE, FIN, RST, SYN

#: Zeek's defaults: ``tcp_attempt_delay``, ``tcp_close_delay``, ``tcp_inactivity_timeout``.
ATTEMPT_DELAY = 5.0
CLOSE_DELAY = 5.0
INACTIVITY_TIMEOUT = 300.0

_RSTOS0_HISTORY = r"\^?S[^HAFGIQ]*R.*"
#: The segment columns the Zeek fields read (the addresses through ``endpoint_keys``).
_FIELD_COLUMNS = ("stream", "flags", "seq", "payload_len", "win", "src_port", "dst_port")
_CONNECTION_COLUMNS = (*_FIELD_COLUMNS, "frame", "time")

#: Segment columns as NumPy arrays, rows sorted by stream (capture order within it).
Rows = dict[str, npt.NDArray[Any]]


def zeek_conn_fields(
    segments: pd.DataFrame, *, likely_server_ports: Collection[int] | None = None
) -> pd.DataFrame:
    """``conn_state`` and ``history`` of every stream, each stream taken as one connection.

    ``likely_server_ports`` defaults to the ports of a plain ``zeek`` run
    (:data:`~hskit.classify.zeek_ports.DEFAULT_LIKELY_SERVER_PORTS`). Returns a frame
    indexed by ``stream`` (uint32, every stream of ``segments``) with columns
    ``conn_state`` (``schema.CONN_STATE_DTYPE``) and ``history`` (``string``).

    >>> zeek_conn_fields(cap.segments).loc[0, "conn_state"]  # doctest: +SKIP
    'SF'
    """
    if len(segments) == 0:
        fields = _empty_connections().set_index("stream")[["conn_state", "history"]]
        fields.index = fields.index.astype(np.uint32)
        return fields
    _, rows, src_key = _by_stream(segments, _FIELD_COLUMNS)
    conn = _group_ids(rows["stream"])
    first, _, conn_state, histories = _fields(conn, rows, src_key, _ports(likely_server_ports))
    index = pd.Index(rows["stream"][first].astype(np.uint32), name="stream")
    return pd.DataFrame({"conn_state": conn_state, "history": histories}, index=index)


def sorted_conn_fields(
    conn: npt.NDArray[np.int64],
    rows: Rows,
    sender: npt.NDArray[Any],
    likely_server_ports: Collection[int] | None = None,
) -> tuple[pd.Categorical, pd.api.extensions.ExtensionArray]:
    """``conn_state`` and ``history`` of connections ``0 … conn[-1]``, from rows already
    sorted by connection (capture order within each): what :func:`zeek_conn_fields`
    computes after its sort, for a caller that has sorted the rows already.

    ``rows`` holds the columns ``flags, seq, payload_len, win, src_port, dst_port`` in
    that order; ``sender`` anything equal for the rows of one endpoint of a connection
    and different for the other's (an endpoint key, or ``from_client``).

    >>> rows = {"flags": np.array([2, 0x12]), "seq": np.array([7, 9]),
    ...         "payload_len": np.array([0, 0]), "win": np.array([5, 5]),
    ...         "src_port": np.array([40000, 80]), "dst_port": np.array([80, 40000])}
    >>> state, history = sorted_conn_fields(np.array([0, 0]), rows, np.array([True, False]))
    >>> list(state), list(history)
    (['S1'], ['Sh'])
    """
    _, _, conn_state, histories = _fields(conn, rows, sender, _ports(likely_server_ports))
    return conn_state, histories


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
    ports = _ports(likely_server_ports)
    order, rows, src_key = _by_stream(segments, _CONNECTION_COLUMNS)
    conn = _connection_ids(rows, src_key, ports) if split else _group_ids(rows["stream"])
    first, flipped, conn_state, histories = _fields(conn, rows, src_key, ports)
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


def _ports(likely_server_ports: Collection[int] | None) -> Collection[int]:
    return DEFAULT_LIKELY_SERVER_PORTS if likely_server_ports is None else likely_server_ports


def _by_stream(
    segments: pd.DataFrame, columns: tuple[str, ...]
) -> tuple[npt.NDArray[np.intp], Rows, npt.NDArray[np.int64]]:
    """The sort order by stream, the ``columns`` in that order and each row's source key."""
    order = np.argsort(segments["stream"].to_numpy(), kind="stable")
    rows = {name: segments[name].to_numpy()[order] for name in columns}
    src_key, _ = endpoint_keys(segments)
    return order, rows, src_key[order]


def _group_ids(values: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """0, 1, 2, … for each run of equal ``values`` (sorted: one run per value).

    >>> _group_ids(np.array([3, 3, 5, 9, 9])).tolist()
    [0, 0, 1, 2, 2]
    """
    ids = np.zeros(len(values), dtype=np.int64)
    ids[first_rows(values)[1:]] = 1
    return np.cumsum(ids)


def _fields(
    conn: npt.NDArray[np.int64], rows: Rows, sender: npt.NDArray[Any], ports: Collection[int]
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.bool_], pd.Categorical, pd.api.extensions.ExtensionArray
]:
    """Each connection's first row, whether Zeek flipped it, its ``conn_state`` and history."""
    first, flipped, is_orig = _orientation(conn, rows, sender, ports)
    histories = history(conn, is_orig, rows, flipped)
    flags, payload = rows["flags"], rows["payload_len"]
    classes = zeek_state.packet_classes(is_orig, flags, payload)
    joint = zeek_state.final_states(conn, classes, len(first))
    no_payload = ~np.logical_or.reduceat((payload > 0) & ((flags & RST) == 0), first)
    syn_then_rst = histories.str.fullmatch(_RSTOS0_HISTORY).fillna(False).to_numpy(bool)
    conn_state = zeek_state.conn_state(joint, no_payload, syn_then_rst)
    return first, flipped, conn_state, histories.array


def _orientation(
    conn: npt.NDArray[np.int64],
    rows: Rows,
    sender: npt.NDArray[Any],
    ports: Collection[int],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Each connection's first row and whether Zeek flipped it; each row's ``is_orig``
    (``sender`` tells the two endpoints of a connection apart, see
    :func:`sorted_conn_fields`)."""
    first = first_rows(conn)
    flipped = zeek_flipped(
        rows["flags"][first], rows["src_port"][first], rows["dst_port"][first], ports
    )
    lengths = np.diff(np.append(first, len(conn)))
    is_orig = (sender == np.repeat(sender[first], lengths)) ^ np.repeat(flipped, lengths)
    return first, flipped, is_orig


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
    rows: Rows, src_key: npt.NDArray[np.int64], ports: Collection[int]
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
        conn = _group_ids((np.cumsum(new) - 1)[undecided])
        part = {name: column[undecided] for name, column in rows.items()}
        cut = _first_cut(conn, part, src_key[undecided], ports)
        new[undecided[cut]] = True
        undecided = undecided[cumsum_in(cut, group_starts(conn)) > 0]
    return np.cumsum(new) - 1


def _first_cut(
    conn: npt.NDArray[np.int64],
    rows: Rows,
    src_key: npt.NDArray[np.int64],
    ports: Collection[int],
) -> npt.NDArray[np.bool_]:
    """Each connection's first row that starts a new Zeek connection (at most one each)."""
    time = rows["time"].astype(np.float64)
    flags = rows["flags"].astype(np.int64)
    seq = rows["seq"].astype(np.int64)
    payload = rows["payload_len"].astype(np.int64)
    count = int(conn[-1]) + 1
    first, _, is_orig = _orientation(conn, rows, src_key, ports)
    syn, fin, rst = (flags & SYN) != 0, (flags & FIN) != 0, (flags & RST) != 0
    is_first = np.zeros(len(conn), dtype=bool)
    is_first[first] = True

    # The originator's first packet: a SYN there starts the attempt timer.
    orig_first = _first_where(conn, is_orig, count)
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
    cut_row = _first_where(conn, candidate, count)
    cut = np.zeros(len(conn), dtype=bool)
    cut[cut_row[cut_row >= 0]] = True
    return cut


def _first_where(
    conn: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_], count: int
) -> npt.NDArray[np.int64]:
    """Row index of each connection's first row with ``mask`` set, -1 where none."""
    result = np.full(count, -1, dtype=np.int64)
    rows = np.flatnonzero(mask)  # ascending, and conn ascends with the rows
    firsts = rows[np.r_[True, conn[rows][1:] != conn[rows][:-1]]] if len(rows) else rows
    result[conn[firsts]] = firsts
    return result


def _first_time(
    conn: npt.NDArray[np.int64],
    mask: npt.NDArray[np.bool_],
    time: npt.NDArray[np.float64],
    count: int,
) -> npt.NDArray[np.float64]:
    """Time of each connection's first row with ``mask`` set, inf where none."""
    row = _first_where(conn, mask, count)
    return np.where(row >= 0, time[np.maximum(row, 0)], np.inf)
