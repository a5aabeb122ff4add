"""Zeek's ``conn_state`` and ``history`` of connections given as groups of rows.

:func:`zeek_conn_fields` gives the two columns for every stream of a segments table, as
Zeek would log the stream if it were one connection (:mod:`.connections` splits a
stream as Zeek does). Orientation follows Zeek: the originator is the sender of the
connection's first packet, unless that packet is a SYN-ACK or Zeek's port heuristic flips
it (:func:`hskit.direction.zeek_flipped`, logged as ``^``).

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

from hskit.classify.streams import first_rows, first_where, group_ids
from hskit.classify.zeek import state
from hskit.classify.zeek.history import history
from hskit.classify.zeek.ports import DEFAULT_LIKELY_SERVER_PORTS
from hskit.direction import endpoint_keys, zeek_flipped
from hskit.schema import ACK, CONN_STATE_DTYPE, FIN, RST, SYN

_RSTOS0_HISTORY = r"\^?S[^HAFGIQ]*R.*"
#: The segment columns the Zeek fields read (the addresses through ``endpoint_keys``).
FIELD_COLUMNS = ("stream", "flags", "seq", "payload_len", "win", "src_port", "dst_port")

#: Segment columns by name as NumPy arrays, rows sorted by connection (capture order within
#: each); not :class:`hskit.classify.rows.Rows`, the classifier's dataclass.
Columns = dict[str, npt.NDArray[Any]]


def zeek_conn_fields(
    segments: pd.DataFrame, *, likely_server_ports: Collection[int] | None = None
) -> pd.DataFrame:
    """``conn_state`` and ``history`` of every stream, each stream taken as one connection.

    ``likely_server_ports`` defaults to the ports of a plain ``zeek`` run
    (:data:`~hskit.classify.zeek.ports.DEFAULT_LIKELY_SERVER_PORTS`). Returns a frame
    indexed by ``stream`` (uint32, every stream of ``segments``) with columns
    ``conn_state`` (``schema.CONN_STATE_DTYPE``) and ``history`` (``string``).

    >>> zeek_conn_fields(cap.segments).loc[0, "conn_state"]  # doctest: +SKIP
    'SF'
    """
    if len(segments) == 0:
        return pd.DataFrame(
            {"conn_state": pd.Categorical([], dtype=CONN_STATE_DTYPE), "history": []},
            index=pd.Index([], dtype=np.uint32, name="stream"),
        ).astype({"history": "string"})
    _, rows, src_key = by_stream(segments, FIELD_COLUMNS)
    conn = group_ids(rows["stream"])
    first, _, conn_state, histories = conn_fields(
        conn, rows, src_key, server_ports(likely_server_ports)
    )
    index = pd.Index(rows["stream"][first].astype(np.uint32), name="stream")
    return pd.DataFrame({"conn_state": conn_state, "history": histories}, index=index)


def sorted_conn_fields(
    conn: npt.NDArray[np.int64],
    rows: Columns,
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
    _, _, conn_state, histories = conn_fields(conn, rows, sender, server_ports(likely_server_ports))
    return conn_state, histories


def server_ports(likely_server_ports: Collection[int] | None) -> Collection[int]:
    """``likely_server_ports``, or a plain ``zeek`` run's when ``None``."""
    return DEFAULT_LIKELY_SERVER_PORTS if likely_server_ports is None else likely_server_ports


def by_stream(
    segments: pd.DataFrame, columns: tuple[str, ...]
) -> tuple[npt.NDArray[np.intp], Columns, npt.NDArray[np.int64]]:
    """The sort order by stream, the ``columns`` in that order and each row's source key."""
    order = np.argsort(segments["stream"].to_numpy(), kind="stable")
    rows = {name: segments[name].to_numpy()[order] for name in columns}
    src_key, _ = endpoint_keys(segments)
    return order, rows, src_key[order]


def conn_fields(
    conn: npt.NDArray[np.int64], rows: Columns, sender: npt.NDArray[Any], ports: Collection[int]
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.bool_], pd.Categorical, pd.api.extensions.ExtensionArray
]:
    """Each connection's first row, whether Zeek flipped it, its ``conn_state`` and history."""
    first, flipped, is_orig = orientation(conn, rows, sender, ports)
    histories = history(conn, is_orig, rows, flipped)
    flags, payload = rows["flags"], rows["payload_len"]
    classes = state.packet_classes(is_orig, flags, payload)
    joint = state.final_states(conn, classes, len(first))
    no_payload = ~np.logical_or.reduceat((payload > 0) & ((flags & RST) == 0), first)
    syn_then_rst = histories.str.fullmatch(_RSTOS0_HISTORY).fillna(False).to_numpy(bool)
    conn_state = state.conn_state(joint, no_payload, syn_then_rst)
    return first, flipped, conn_state, histories.array


def orientation(
    conn: npt.NDArray[np.int64],
    rows: Columns,
    sender: npt.NDArray[Any],
    ports: Collection[int],
    processed: npt.NDArray[np.bool_] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Each connection's first row and whether Zeek flipped it; each row's ``is_orig``
    (``sender`` tells the two endpoints of a connection apart, see
    :func:`sorted_conn_fields`; ``processed``: the rows Zeek's TCP analysis sees, all by
    default).

    Zeek flips a connection when it creates it from its first packet (the port
    heuristic, :func:`hskit.direction.zeek_flipped`), and, since Zeek 5.1
    (zeek/zeek#2191), one whose history is just the ``H`` of that first packet, a
    SYN-ACK, when the next packet is an ACK or carries data, in either direction (a
    stealth scan's SYN-ACK is answered by a RST or nothing): the history becomes
    ``^h``, as if the flip had been made at once. Zeek's baselines show both sides'
    ACKs flipping (``core.local-flip``, zeek/zeek#5047's one-sided trace) and a packet
    dropped for its checksum in between (a ``c``) preventing it
    (``core.checksums_ignore_nets``).
    """
    first = first_rows(conn)
    flags = rows["flags"].astype(np.int64)
    flipped = zeek_flipped(flags[first], rows["src_port"][first], rows["dst_port"][first], ports)
    lengths = np.diff(np.append(first, len(conn)))
    from_first_sender = sender == np.repeat(sender[first], lengths)
    seen = np.ones(len(conn), dtype=bool) if processed is None else processed
    seq = rows["seq"].astype(np.int64)
    silent_syn_ack = seen & ((flags & (SYN | ACK | RST | FIN)) == (SYN | ACK))
    silent_syn_ack &= rows["win"] != 0  # a zero window adds a W
    opened_by_syn_ack = silent_syn_ack[first] & ~flipped
    # the same SYN-ACK again (same sequence number) adds no letter
    repeated = silent_syn_ack & from_first_sender & (seq == np.repeat(seq[first], lengths))
    after_first = np.arange(len(conn)) > np.repeat(first, lengths)
    answer = first_where(conn, ~repeated & after_first, len(first))
    at = np.maximum(answer, 0)
    answered = (answer >= 0) & seen[at] & ((flags[at] & (SYN | RST)) == 0)
    answered &= ((flags[at] & ACK) != 0) | (rows["payload_len"][at] > 0)
    flipped |= opened_by_syn_ack & answered
    is_orig = from_first_sender ^ np.repeat(flipped, lengths)
    return first, flipped, is_orig
