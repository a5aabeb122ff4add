"""What Zeek's TCP analyzer knows after each packet of a connection, as columns.

For rows grouped by connection (capture order within each), :func:`lifecycle` gives
every row the joint endpoint state before and after it (:func:`.state.row_states`),
which endpoint sent it, whether each endpoint has closed (``did_close``), the
connection's ``last_time`` and its inactivity timeout, and the endpoints' initial
sequence numbers: the facts Zeek's timers, its connection reuse test, its byte counts
and its content-gap reports read (``TCPSessionAdapter`` in
src/packet_analysis/protocol/tcp/TCPSessionAdapter.cc).

Rows Zeek does not process (a bad checksum without ``-C``) take part in nothing but the
connection's first packet and its reuse test, as in Zeek, where the checksum is checked
after the connection is looked up.

One event turns a connection round midway: a SYN/SYN-ACK reversal (a SYN-ACK captured
before its SYN, ``UpdateInactiveState``): the originator's first packet was a SYN-ACK
Zeek did not flip, and the responder, still inactive, sends a SYN without ACK. Zeek
then swaps the roles (``Connection::FlipRoles``, a ``^`` in the history) and both
endpoints are established. Everything here is given in the roles the connection ends
with (as conn.log reports it: each endpoint keeps its own state, sizes and letters
across the swap); :meth:`Lifecycle.at_the_time` gives what Zeek's timers saw before it.

>>> import numpy as np
>>> rows = {"flags": np.array([0x02, 0x12, 0x10]), "seq": np.array([7, 50, 8]),
...         "ack": np.array([0, 8, 51]), "payload_len": np.zeros(3, dtype=np.int64),
...         "src_port": np.array([4000, 80, 4000]), "dst_port": np.array([80, 4000, 80]),
...         "time": np.array([0.0, 0.1, 0.2])}
>>> life = lifecycle(np.zeros(3, dtype=np.int64), rows, np.array([1, 2, 1]), frozenset())
>>> life.orig_start.tolist(), life.resp_start.tolist()
([7], [50])
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hskit.classify.streams import first_where, group_starts, sum_before
from hskit.classify.zeek import state
from hskit.classify.zeek.fields import Columns, orientation
from hskit.schema import ACK, FIN, RST, SYN

Int = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
Float = npt.NDArray[np.float64]

#: Endpoint states in which Zeek still counts a connection as in its handshake
#: (``is_handshake`` in TCP_Endpoint.cc): the inactivity timeout is the short one.
HANDSHAKE_STATES = (state.INACTIVE, state.SYN_SENT, state.SYN_ACK_SENT)
RESET_STATES = (state.RESET, state.RESET_AFTER_CLOSE)


@dataclass(frozen=True)
class Lifecycle:
    """Per-row and per-connection facts of connections given as groups of rows."""

    #: connection number of each row (ascending)
    conn: Int
    #: first row of each connection
    first: Int
    #: whether Zeek flipped each connection (``^``)
    flipped: Bool
    #: each row sent by its connection's originator
    is_orig: Bool
    #: each row processed by Zeek's TCP analysis
    processed: Bool
    #: joint state (``orig * 8 + resp``) before and after each row
    joint_before: npt.NDArray[np.uint8]
    joint_after: npt.NDArray[np.uint8]
    #: each endpoint has closed (sent a FIN or RST Zeek processed) before each row
    orig_closed_before: Bool
    resp_closed_before: Bool
    #: rows that set ``last_time`` (processed while not both endpoints had closed)
    sets_last_time: Bool
    #: each endpoint's initial sequence number as first set (0 when never) and the row
    #: that set it (-1 when none)
    orig_start: Int
    orig_start_row: Int
    resp_start: Int
    resp_start_row: Int
    #: the row of each connection's SYN/SYN-ACK reversal (-1: none)
    reversed_at: Int
    #: rows up to and including their connection's reversal: sent when the roles were
    #: the other way round
    before_reversal: Bool

    @property
    def count(self) -> int:
        return len(self.first)

    def lengths(self) -> Int:
        return np.diff(np.append(self.first, len(self.conn)))

    def last_rows(self) -> Int:
        """The last row of each connection."""
        return np.append(self.first[1:], len(self.conn)) - 1

    def per_row(self, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """One value per connection broadcast to its rows."""
        return np.repeat(values, self.lengths())

    def endpoint_states(self, joint: npt.NDArray[np.uint8]) -> tuple[Int, Int]:
        """``(orig, resp)`` endpoint states of joint states."""
        return np.divmod(joint.astype(np.int64), state.ENDPOINT_COUNT)

    def at_the_time(self, orig: Int, resp: Int) -> tuple[Int, Int]:
        """Per-row ``(orig, resp)`` values (states, initial sequence numbers …) in the
        roles of the time, before a reversal swapped them."""
        swap = self.before_reversal
        return np.where(swap, resp, orig), np.where(swap, orig, resp)

    def named_flipped(self) -> Bool:
        """Connections whose originator is the receiver of their first packet."""
        return self.flipped ^ (self.reversed_at >= 0)

    def sender_states(self, joint: npt.NDArray[np.uint8]) -> tuple[Int, Int]:
        """``(sender, peer)`` endpoint states of each row's joint state."""
        orig, resp = self.endpoint_states(joint)
        return np.where(self.is_orig, orig, resp), np.where(self.is_orig, resp, orig)


def lifecycle(
    conn: Int,
    rows: Columns,
    sender: npt.NDArray[Any],
    ports: Collection[int],
    processed: Bool | None = None,
) -> Lifecycle:
    """The :class:`Lifecycle` of connections ``0 … conn[-1]`` (rows sorted by connection).

    ``rows`` holds ``flags, seq, ack, payload_len, src_port, dst_port``; ``sender`` is
    equal for the rows of one endpoint of a connection; ``processed`` marks the rows
    Zeek processes (all by default).
    """
    seen = np.ones(len(conn), dtype=bool) if processed is None else processed
    first, flipped, is_orig = orientation(conn, rows, sender, ports, seen)
    flags = rows["flags"].astype(np.int64)
    classes = state.packet_classes(is_orig, flags, rows["payload_len"], seen)
    joint_after = state.row_states(conn, classes)
    joint_before = np.zeros_like(joint_after)
    joint_before[1:] = joint_after[:-1]
    joint_before[first] = 0
    reversed_at, before_reversal, turned = _reversals(
        conn, first, flags, is_orig, seen, joint_before
    )
    if turned.any():
        is_orig = is_orig ^ turned
        joint_before = np.where(turned, _swapped(joint_before), joint_before)
        joint_after = np.where(turned, _swapped(joint_after), joint_after)
    start = group_starts(conn)
    closes = seen & ((flags & (FIN | RST)) != 0)
    orig_closed_before = sum_before(closes & is_orig, start) > 0
    resp_closed_before = sum_before(closes & ~is_orig, start) > 0
    sets_last_time = seen & ~(orig_closed_before & resp_closed_before)
    (orig_start, orig_start_row), (resp_start, resp_start_row) = _initial_sequence_numbers(
        conn, first, rows, is_orig, seen, joint_before
    )
    return Lifecycle(
        conn=conn,
        first=first,
        flipped=flipped,
        is_orig=is_orig,
        processed=seen,
        joint_before=joint_before,
        joint_after=joint_after,
        orig_closed_before=orig_closed_before,
        resp_closed_before=resp_closed_before,
        sets_last_time=sets_last_time,
        orig_start=orig_start,
        orig_start_row=orig_start_row,
        resp_start=resp_start,
        resp_start_row=resp_start_row,
        reversed_at=reversed_at,
        before_reversal=before_reversal,
    )


def _reversals(
    conn: Int, first: Int, flags: Int, is_orig: Bool, seen: Bool, joint_before: npt.NDArray
) -> tuple[Int, Bool, Bool]:
    """Each connection's SYN/SYN-ACK reversal row (-1: none); the rows up to it; the rows
    of connections with one.

    The states were computed in the first roles throughout: after the reversal both
    endpoints are established and Zeek's rules from there on treat the two alike, so the
    final roles' states are those with the two endpoints exchanged."""
    orig, resp = np.divmod(joint_before.astype(np.int64), state.ENDPOINT_COUNT)
    pure_syn = (flags & (SYN | ACK | FIN | RST)) == SYN
    reversal = seen & ~is_orig & pure_syn & (orig == state.SYN_ACK_SENT) & (resp == state.INACTIVE)
    reversed_at = first_where(conn, reversal, len(first))
    lengths = np.diff(np.append(first, len(conn)))
    turned = np.repeat(reversed_at >= 0, lengths)
    before_reversal = turned & (np.arange(len(conn)) <= np.repeat(reversed_at, lengths))
    return reversed_at, before_reversal, turned


def _swapped(joint: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Joint states with the two endpoints exchanged."""
    orig, resp = np.divmod(joint, np.uint8(state.ENDPOINT_COUNT))
    return (resp * np.uint8(state.ENDPOINT_COUNT) + orig).astype(np.uint8)


def _initial_sequence_numbers(
    conn: Int, first: Int, rows: Columns, is_orig: Bool, seen: Bool, joint_before: npt.NDArray
) -> tuple[tuple[Int, Int], tuple[Int, Int]]:
    """Each endpoint's ``StartSeq`` as first set: by its own first processed packet (its
    sequence number for a SYN, one less otherwise, as if a SYN had been seen), or
    earlier by the peer acknowledging it while it was inactive (the ack minus one)."""
    flags = rows["flags"].astype(np.int64)
    seq = rows["seq"].astype(np.int64)
    ack = rows["ack"].astype(np.int64)
    own_start = np.where((flags & SYN) != 0, seq, seq - 1) % 2**32
    peer_start = (ack - 1) % 2**32
    acks = seen & ((flags & ACK) != 0)
    orig_state, resp_state = np.divmod(joint_before.astype(np.int64), state.ENDPOINT_COUNT)
    starts = []
    for side, peer_inactive in ((is_orig, orig_state), (~is_orig, resp_state)):
        own = seen & side
        acked_inactive = acks & ~side & (peer_inactive == state.INACTIVE)
        setter = own | acked_inactive
        row = first_where(conn, setter, len(first))
        value = np.where(own, own_start, peer_start)
        starts.append((np.where(row >= 0, value[np.maximum(row, 0)], 0), row))
    return starts[0], starts[1]
