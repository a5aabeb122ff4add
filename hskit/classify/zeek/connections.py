"""Zeek's connection boundaries within a stream: one row per connection Zeek would log.

Zeek may log one stream (tshark's ``tcp.stream``) as several connections: it ends a
connection when its timers expire (a SYN unanswered for 5 s, 5 s after a close, 5 min of
silence) or when a SYN reuses a closed 4-tuple; :func:`zeek_connections` reproduces that
split.

>>> zeek_connections(cap.segments)[["orig_p", "resp_p", "conn_state"]]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from hskit.classify.streams import cumsum_in, first_where, group_ids, group_starts, sum_before
from hskit.classify.zeek import state
from hskit.classify.zeek.fields import FIELD_COLUMNS, Columns, by_stream, server_ports
from hskit.classify.zeek.gaps import content_gaps
from hskit.classify.zeek.history import REVERSAL_SLOT, Letters, history
from hskit.classify.zeek.lifecycle import HANDSHAKE_STATES, RESET_STATES, Lifecycle, lifecycle
from hskit.classify.zeek.sizes import endpoint_sizes
from hskit.schema import ACK, CONN_STATE_DTYPE, FIN, RST, SYN

Int = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

#: The segment columns Zeek's view reads (the addresses through ``endpoint_keys``).
VIEW_COLUMNS = (*FIELD_COLUMNS, "ack", "frame", "time")
_RSTOS0_HISTORY = r"\^?S[^HAFGIQ]*R.*"


def zeek_connections(
    segments: pd.DataFrame,
    *,
    likely_server_ports: Collection[int] | None = None,
    split: bool = True,
) -> pd.DataFrame:
    """One row per connection Zeek would log, in order of first packet.

    Columns: ``stream, first_frame, orig_h, orig_p, resp_h, resp_p, conn_state,
    history``. With ``split=False`` each stream is one connection. Every segment counts
    as processed (as Zeek's ``-C``); :func:`hskit.zeek.conn_log` gives the whole conn.log.

    >>> zeek_connections(cap.segments)[["orig_p", "resp_p", "conn_state"]]  # doctest: +SKIP
    """
    if len(segments) == 0:
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
    view = zeek_view(segments, likely_server_ports=likely_server_ports, split=split)
    head = view.orig_and_resp(segments)
    return pd.DataFrame(
        {
            "stream": view.rows["stream"][view.life.first].astype(np.uint32),
            "first_frame": view.rows["frame"][view.life.first].astype(np.uint32),
            **{name: head[name].astype(str) for name in ("orig_h", "orig_p")},
            **{name: head[name].astype(str) for name in ("resp_h", "resp_p")},
            "conn_state": view.conn_state,
            "history": view.history,
        }
    ).astype({"orig_p": np.uint16, "resp_p": np.uint16, "history": "string"})


@dataclass(frozen=True)
class ZeekView:
    """A segments table as Zeek's TCP analysis sees it: rows sorted by stream (capture
    order within), grouped into Zeek's connections, with the facts conn.log reports."""

    #: segments row of each sorted row
    order: Int
    rows: Columns
    life: Lifecycle
    conn_state: pd.Categorical
    history: pd.api.extensions.ExtensionArray
    #: ``orig_bytes``/``resp_bytes`` (``TCP_Endpoint::Size``)
    orig_size: Int
    resp_size: Int
    #: ``missed_bytes``: content gaps Zeek reported
    missed: Int

    def orig_and_resp(self, segments: pd.DataFrame) -> dict[str, npt.NDArray[Any]]:
        """``orig_h, orig_p, resp_h, resp_p`` of each connection (address columns as in
        ``segments``)."""
        first = self.life.first
        at = self.order[first]
        src_ip = segments["src_ip"].to_numpy()[at]
        dst_ip = segments["dst_ip"].to_numpy()[at]
        src_port, dst_port = self.rows["src_port"][first], self.rows["dst_port"][first]
        keep = ~self.life.named_flipped()
        return {
            "orig_h": np.where(keep, src_ip, dst_ip),
            "orig_p": np.where(keep, src_port, dst_port),
            "resp_h": np.where(keep, dst_ip, src_ip),
            "resp_p": np.where(keep, dst_port, src_port),
        }


def zeek_view(
    segments: pd.DataFrame,
    *,
    likely_server_ports: Collection[int] | None = None,
    processed: Bool | None = None,
    complete: Bool | None = None,
    timeouts: Timeouts | None = None,
    split: bool = True,
) -> ZeekView:
    """Zeek's connections of a non-empty ``segments`` table (:class:`ZeekView`).

    ``processed`` marks the segments (in table order) Zeek's TCP analysis processes,
    ``complete`` those whose payload was captured whole (all by default);
    ``split=False`` takes each stream as one connection.
    """
    ports = server_ports(likely_server_ports)
    order, rows, src_key = by_stream(segments, VIEW_COLUMNS)
    # Zeek's timers follow network time, which never goes back.
    rows["net_time"] = np.maximum.accumulate(segments["time"].to_numpy(np.float64))[order]
    seen = np.ones(len(order), dtype=bool) if processed is None else processed[order]
    if split:
        conn = connection_ids(rows, src_key, ports, seen, timeouts or Timeouts())
    else:
        conn = group_ids(rows["stream"])
    life = lifecycle(conn, rows, src_key, ports, seen)
    orig_size, resp_size = endpoint_sizes(life, rows)
    gaps = content_gaps(life, rows, None if complete is None else complete[order])
    histories = history(
        conn, life.is_orig, rows, life.flipped, seen, [gaps.letters, _reversal_marks(life)],
        recased=life.before_reversal,
    )  # fmt: skip
    last = np.append(life.first[1:], len(conn)) - 1
    no_bytes = (orig_size == 0) & (resp_size == 0)
    syn_then_rst = histories.str.fullmatch(_RSTOS0_HISTORY).fillna(False).to_numpy(bool)
    conn_state = state.conn_state(life.joint_after[last], no_bytes, syn_then_rst)
    return ZeekView(
        order=order,
        rows=rows,
        life=life,
        conn_state=conn_state,
        history=histories.array,
        orig_size=orig_size,
        resp_size=resp_size,
        missed=gaps.missed,
    )


@dataclass(frozen=True)
class Timeouts:
    """Zeek's TCP timers (seconds), named as in Zeek's init-bare.zeek, with its defaults.

    >>> Timeouts(tcp_inactivity_timeout=10.0).tcp_attempt_delay
    5.0
    """

    #: silence that ends an established connection
    tcp_inactivity_timeout: float = 300.0
    #: silence that ends a connection still in its handshake (Zeek starts every TCP
    #: connection with ``udp_inactivity_timeout`` and switches when the handshake ends)
    udp_inactivity_timeout: float = 60.0
    #: an originator's SYN unanswered this long ends the attempt
    tcp_attempt_delay: float = 5.0
    #: a completed close (both FINs, a RST, or a FIN to a silent peer) ends the
    #: connection this long after it
    tcp_close_delay: float = 5.0
    #: first check, after the first packet, of a connection that processed nothing
    tcp_SYN_timeout: float = 5.0
    #: interval of the later checks
    tcp_session_timer: float = 6.0
    #: silence the checks require
    tcp_connection_linger: float = 5.0

    def longest_silence(self) -> float:
        """A silence this long ends any connection."""
        return max(self.tcp_inactivity_timeout, self.udp_inactivity_timeout)


def connection_ids(
    rows: Columns,
    src_key: Int,
    ports: Collection[int],
    processed: Bool,
    timeouts: Timeouts,
) -> Int:
    """Zeek's connection number for each row (rows sorted by stream, capture order;
    ``rows`` as :func:`first_cuts` reads them).

    Streams are first cut at silences that end any connection; then each round cuts
    every undecided connection at its first packet that Zeek gives a new connection
    (:func:`first_cuts`). Only the parts after a cut are looked at again, so a round
    costs the rows still undecided; rounds: one more than the most cuts in a stream.
    """
    stream = rows["stream"].astype(np.int64)
    new = np.r_[True, stream[1:] != stream[:-1]]
    new[1:] |= np.diff(rows["net_time"]) >= timeouts.longest_silence()
    undecided = np.arange(len(stream))
    while len(undecided):
        conn = group_ids((np.cumsum(new) - 1)[undecided])
        part = {name: column[undecided] for name, column in rows.items()}
        life = lifecycle(conn, part, src_key[undecided], ports, processed[undecided])
        cut = first_cuts(life, part, timeouts)
        new[undecided[cut]] = True
        undecided = undecided[cumsum_in(cut, group_starts(conn)) > 0]
    return np.cumsum(new) - 1


def first_cuts(life: Lifecycle, rows: Columns, timeouts: Timeouts = Timeouts()) -> Bool:
    """Each connection's first row that Zeek gives a new connection (at most one each).

    A row starts a new connection when, before it is processed, one of Zeek's timers has
    removed the connection (timers fire before a packet stamped at or after their
    time, against Zeek's network time: ``rows["net_time"]``, the running maximum of
    the capture's timestamps), or when it is a SYN that ``IsReuse`` calls a reuse:

    - inactivity: no ``last_time`` update for the timeout in effect
      (``Session::InactivityTimer``);
    - a completed close, ``tcp_close_delay`` after the latest one
      (``ConnectionClosed`` → ``ConnDeleteTimer``);
    - an attempt: ``tcp_attempt_delay`` after the originator's first SYN, if the
      originator is still in SYN_SENT/SYN_ACK_SENT and the responder inactive
      (``AttemptTimer``);
    - nothing processed (every packet had a bad checksum): the first
      ``ExpireTimer`` check after ``tcp_connection_linger`` of silence;
    - reuse: a SYN (a SYN-ACK only while the originator is inactive) after either
      endpoint closed, or, before that, with another sequence number than the
      originator's (responder's, for a SYN-ACK) initial one, unless it is the SYN of a
      SYN/SYN-ACK pair captured in reverse order.
    """
    conn, first, count = life.conn, life.first, life.count
    start = group_starts(conn)
    time = rows["time"].astype(np.float64)
    net = rows["net_time"].astype(np.float64)
    flags = rows["flags"].astype(np.int64)
    index = np.arange(len(conn))
    is_first = start == index
    orig_before, resp_before = life.endpoint_states(life.joint_before)
    orig_after, resp_after = life.endpoint_states(life.joint_after)

    # last_time and the inactivity timeout in effect after each row
    start_time = life.per_row(time[first])
    last_setter = _running_last(life.sets_last_time, start)
    last_time = np.where(last_setter >= 0, time[np.maximum(last_setter, 0)], start_time)
    settled = ~np.isin(orig_after, HANDSHAKE_STATES) | ~np.isin(resp_after, HANDSHAKE_STATES)
    timeout = np.where(
        cumsum_in(settled, start) > 0,
        timeouts.tcp_inactivity_timeout,
        timeouts.udp_inactivity_timeout,
    )
    inactive = ~is_first & (net >= _before(last_time + timeout, is_first))

    # completed closes: an endpoint's first close, when it was a RST, the peer had
    # closed, or the peer is inactive
    closes = life.processed & ((flags & (FIN | RST)) != 0)
    sender_after, peer_after = life.sender_states(life.joint_after)
    sender_closed = np.where(life.is_orig, life.orig_closed_before, life.resp_closed_before)
    peer_closed = np.where(life.is_orig, life.resp_closed_before, life.orig_closed_before)
    completes = closes & ~sender_closed
    completes &= np.isin(sender_after, RESET_STATES) | peer_closed | (peer_after == state.INACTIVE)
    completed = _running_last(completes, start)
    delete_at = np.where(completed >= 0, time[np.maximum(completed, 0)], np.inf)
    deleted = ~is_first & (net >= _before(delete_at + timeouts.tcp_close_delay, is_first))

    # the attempt timer of the originator's first SYN (in the roles of the time)
    orig_before, resp_before = life.at_the_time(orig_before, resp_before)
    from_orig = life.is_orig ^ life.before_reversal
    opens = life.processed & from_orig & ((flags & SYN) != 0) & (orig_before == state.INACTIVE)
    opened = first_where(conn, opens, count)
    attempt_at = np.where(opened >= 0, time[np.maximum(opened, 0)], np.inf)
    attempt_at = life.per_row(attempt_at + timeouts.tcp_attempt_delay)
    waiting = np.isin(orig_before, (state.SYN_SENT, state.SYN_ACK_SENT))
    attempted = ~is_first & waiting & (resp_before == state.INACTIVE) & (net >= attempt_at)

    # nothing processed: ExpireTimer checks at start + tcp_SYN_timeout, then every
    # tcp_session_timer, and removes a connection silent for tcp_connection_linger
    first_check = net[first] + timeouts.tcp_SYN_timeout
    late = time[first] + timeouts.tcp_connection_linger >= first_check
    expire_at = life.per_row(first_check + np.where(late, timeouts.tcp_session_timer, 0.0))
    untouched = ~is_first & (sum_before(life.processed, start) == 0) & (net >= expire_at)

    reused = ~is_first & _reuses(life, rows, orig_before, resp_before)
    cut_row = first_where(conn, inactive | deleted | attempted | untouched | reused, count)
    cut = np.zeros(len(conn), dtype=bool)
    cut[cut_row[cut_row >= 0]] = True
    return cut


def _reuses(life: Lifecycle, rows: Columns, orig_before: Int, resp_before: Int) -> Bool:
    """Rows ``TCPSessionAdapter::IsReuse`` calls a reuse of the connection
    (``orig_before``, ``resp_before``: the endpoint states in the roles of the time)."""
    flags = rows["flags"].astype(np.int64)
    seq = rows["seq"].astype(np.int64)
    index = np.arange(len(life.conn))
    syn = (flags & SYN) != 0
    ack = (flags & ACK) != 0
    orig_start = life.per_row(life.orig_start)
    orig_start = np.where(life.per_row(life.orig_start_row) < index, orig_start, 0)
    resp_start = life.per_row(life.resp_start)
    resp_start = np.where(life.per_row(life.resp_start_row) < index, resp_start, 0)
    orig_start, resp_start = life.at_the_time(orig_start, resp_start)
    # the endpoint whose initial sequence number a SYN (SYN-ACK) is compared with
    compared = np.where(ack, resp_start, orig_start)
    candidate = syn & (~ack | (orig_before == state.INACTIVE))
    closed = life.orig_closed_before | life.resp_closed_before
    reversed_pair = (
        ~ack
        & (orig_before == state.SYN_ACK_SENT)
        & (resp_before == state.INACTIVE)
        & (seq == resp_start)
    )
    return candidate & (closed | ((seq != compared) & ~reversed_pair))


def _reversal_marks(life: Lifecycle) -> Letters:
    """The ``^`` Zeek adds when a SYN/SYN-ACK reversal swaps the roles, after the letters
    of that SYN (``Connection::FlipRoles`` runs in the state machine, after
    ``update_history``; the content gaps an ACK reveals come later still)."""
    rows = life.reversed_at[life.reversed_at >= 0]
    return rows, REVERSAL_SLOT, np.full(len(rows), ord("^"), dtype=np.uint8)


def _running_last(mask: Bool, start: Int) -> Int:
    """For each row, the last row at or before it in its group where ``mask`` holds (-1
    where none)."""
    marked = np.where(mask, np.arange(len(mask)), -1)
    latest = np.maximum.accumulate(marked) if len(marked) else marked
    return np.where(latest >= start, latest, -1)


def _before(values: npt.NDArray[Any], is_first: Bool) -> npt.NDArray[Any]:
    """Each row's value of the previous row (inf on a group's first row)."""
    shifted = np.empty_like(values, dtype=np.float64)
    shifted[1:] = values[:-1]
    shifted[is_first] = np.inf
    return shifted
