"""Zeek's ``orig_bytes``/``resp_bytes``: each endpoint's size from sequence numbers.

Zeek does not add up payload lengths: ``TCP_Endpoint::Size`` is the distance from the
endpoint's initial sequence number to the furthest of the highest sequence number it
sent (``last_seq``) and the highest its peer acknowledged (``ack_seq``), less the SYN's
and the FIN's octets. So data acknowledged but never captured counts, and a
retransmission does not count twice.

The three numbers follow the rules of ``TCPSessionAdapter::Process``:

- ``init_endpoint``: an endpoint's first processed packet sets them (a SYN's sequence
  number, or one less for any other packet, as if a SYN had been seen); a SYN sets them
  again in SYN_SENT/SYN_ACK_SENT (with another sequence number), in ESTABLISHED and
  PARTIAL (any SYN), and in RESET when the endpoint's first packet was its RST;
- ``init_peer``: before that, the peer acknowledging the endpoint while it is inactive
  sets all three to the ack minus one;
- ``update_last_seq``: a packet moves ``last_seq`` forward to its end (payload, SYN and
  FIN octets; a RST's payload is not part of the stream), except from an endpoint in
  RESET, and except a SYN or RST jumping more than 1 MiB;
- ``update_ack_seq``: an ACK (not on a RST) from the peer moves ``ack_seq`` forward,
  unless it lies before the initial sequence number.

The one exception of ``Size``: an endpoint reset straight out of SYN_SENT while its peer
never woke, with data acknowledged, has size 0 (a half-open connection discovered and
aborted).

>>> import numpy as np
>>> from hskit.classify.zeek.lifecycle import lifecycle
>>> rows = {"flags": np.array([0x02, 0x12, 0x10, 0x18, 0x11, 0x11, 0x10]),
...         "seq": np.array([100, 900, 101, 101, 111, 901, 112]),
...         "ack": np.array([0, 101, 901, 901, 901, 112, 902]),
...         "payload_len": np.array([0, 0, 0, 10, 0, 0, 0]),
...         "src_port": np.array([4000, 80, 4000, 4000, 4000, 80, 4000]),
...         "dst_port": np.array([80, 4000, 80, 80, 80, 4000, 80])}
>>> conn = np.zeros(7, dtype=np.int64)
>>> life = lifecycle(conn, rows, np.array([1, 2, 1, 1, 1, 2, 1]), frozenset())
>>> [size.tolist() for size in endpoint_sizes(life, rows)]
[[10], [0]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hskit.classify.streams import cummax_in, first_where, group_starts, last_where
from hskit.classify.zeek import state
from hskit.classify.zeek.fields import Columns
from hskit.classify.zeek.lifecycle import RESET_STATES, Lifecycle
from hskit.schema import ACK, FIN, RST, SYN

Int = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

#: Zeek's limit on sequence jumps it trusts in SYN and RST packets (TOO_LARGE_SEQ_DELTA).
TOO_LARGE_SEQ_DELTA = 1_048_576
_NONE = np.iinfo(np.int64).min


@dataclass(frozen=True)
class Base:
    """Where an endpoint's sequence numbers start, per connection."""

    #: the initial sequence number (``StartSeq``) after its last (re)setting
    start: Int
    #: the row that last set it (-1: never set, the endpoint took part in nothing)
    row: Int
    #: ``last_seq`` as that row set it, relative to ``start``
    last: Int


def endpoint_sizes(life: Lifecycle, rows: Columns) -> tuple[Int, Int]:
    """``(orig_size, resp_size)`` of every connection, as ``TCP_Endpoint::Size``."""
    orig_before, resp_before = life.endpoint_states(life.joint_before)
    orig_final, resp_final = life.endpoint_states(life.joint_after[life.last_rows()])
    orig = _size(life, rows, life.is_orig, orig_before, orig_final, resp_final, life.orig_start)
    resp = _size(life, rows, ~life.is_orig, resp_before, resp_final, orig_final, life.resp_start)
    return orig, resp


def endpoint_base(life: Lifecycle, rows: Columns, orig: bool) -> Base:
    """The :class:`Base` of the originator's (``orig``) or the responder's sequence
    numbers in every connection."""
    side = life.is_orig if orig else ~life.is_orig
    orig_before, resp_before = life.endpoint_states(life.joint_before)
    before = orig_before if orig else resp_before
    return _base(life, rows, side, before, life.orig_start if orig else life.resp_start)


def _base(life: Lifecycle, rows: Columns, side: Bool, before: Int, first_start: Int) -> Base:
    """The rows that (re)set one endpoint's initial sequence number, and the last one."""
    conn, first = life.conn, life.first
    flags = rows["flags"].astype(np.int64)
    seq = rows["seq"].astype(np.int64)
    ack = rows["ack"].astype(np.int64)
    syn, rst = (flags & SYN) != 0, (flags & RST) != 0
    own = life.processed & side
    peer = life.processed & ~side
    own_start = np.where(syn, seq, seq - 1) % 2**32
    inits_inactive = own & (before == state.INACTIVE)
    acked_inactive = peer & ((flags & ACK) != 0) & (before == state.INACTIVE)
    first_reset = first_where(conn, own & rst & ~np.isin(before, RESET_STATES), len(first))
    reset_when_inactive = (first_reset >= 0) & (
        before[np.maximum(first_reset, 0)] == state.INACTIVE
    )
    resyn = own & syn
    resyn &= (
        np.isin(before, (state.ESTABLISHED, state.PARTIAL))
        | (
            np.isin(before, (state.SYN_SENT, state.SYN_ACK_SENT))
            & (seq != life.per_row(first_start))
        )
        | ((before == state.RESET) & life.per_row(reset_when_inactive))
    )
    init_row = last_where(conn, inits_inactive | acked_inactive | resyn, len(first))
    at = np.maximum(init_row, 0)
    start = np.where(acked_inactive[at], ack[at] - 1, own_start[at]) % 2**32
    end = segment_end(rows)
    own_last = position(np.where(syn[at], end[at], seq[at]), start)
    return Base(start=start, row=init_row, last=np.where(acked_inactive[at], 0, own_last))


def segment_end(rows: Columns) -> Int:
    """The sequence number after each segment: payload (not a RST's), SYN and FIN."""
    flags = rows["flags"].astype(np.int64)
    payload = np.where((flags & RST) != 0, 0, rows["payload_len"].astype(np.int64))
    syn, fin = (flags & SYN) != 0, (flags & FIN) != 0
    return (rows["seq"].astype(np.int64) + payload + syn + fin) % 2**32


def _size(
    life: Lifecycle,
    rows: Columns,
    side: Bool,
    before: Int,
    final: Int,
    peer_final: Int,
    first_start: Int,
) -> Int:
    """The size of one endpoint (``side``: the rows it sends) of every connection."""
    conn, first = life.conn, life.first
    flags = rows["flags"].astype(np.int64)
    ack = rows["ack"].astype(np.int64)
    syn, fin, rst = ((flags & bit) != 0 for bit in (SYN, FIN, RST))
    own = life.processed & side
    peer = life.processed & ~side
    index = np.arange(len(conn))
    base = _base(life, rows, side, before, first_start)
    position_start = life.per_row(base.start)
    after_init = index >= life.per_row(base.row)

    # last_seq: the furthest end of the endpoint's own packets since
    last_position = position(segment_end(rows), position_start)
    candidates = own & after_init & ~np.isin(before, RESET_STATES)
    running = cummax_in(np.where(candidates, last_position, 0), group_starts(conn))
    previous = np.maximum(np.r_[0, running[:-1]], 0)
    jump = (syn | rst) & (np.abs(last_position - previous) > TOO_LARGE_SEQ_DELTA)
    candidates &= ~jump
    last = np.maximum(_group_max(np.where(candidates, last_position, _NONE), first), base.last)

    # ack_seq: the furthest acknowledgment from the peer since
    ack_position = position(ack, position_start)
    acks = peer & ((flags & ACK) != 0) & ~rst & (index > life.per_row(base.row))
    acks &= (before != state.INACTIVE) & (ack_position >= 0)
    acks &= ~((ack == 0) & (ack_position > TOO_LARGE_SEQ_DELTA))
    acked = np.maximum(_group_max(np.where(acks, ack_position, _NONE), first), 0)

    size = np.maximum(np.maximum(last, acked) - 1, 0)
    fins = np.add.reduceat((own & fin).astype(np.int64), first) if len(first) else size
    size = np.where((fins > 0) & (size > 0), size - 1, size)
    size = np.where(base.row >= 0, size, 0)

    # Size's exception: reset straight out of SYN_SENT, the peer never woke, data acked
    first_reset = first_where(conn, own & rst & ~np.isin(before, RESET_STATES), len(first))
    reset_row = np.maximum(first_reset, 0)
    aborted = (first_reset >= 0) & (before[reset_row] == state.SYN_SENT)
    aborted &= np.isin(final, RESET_STATES) & (peer_final == state.INACTIVE) & (acked > 1)
    return np.where(aborted, 0, size)


def position(value: Int, start: Int) -> Int:
    """``value`` in the sequence space from ``start`` (a signed 32-bit distance)."""
    return ((value - start + 2**31) % 2**32) - 2**31


def _group_max(values: Int, first: Int) -> Int:
    """Maximum of ``values`` over each group (groups start at ``first``)."""
    if len(first) == 0:
        return values[:0]
    return np.maximum.reduceat(values, first)
