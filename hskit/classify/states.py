"""Endpoint state intervals (RFC 9293 states) of every connection, in long format.

Each endpoint passes through each state at most once, and always in the order of
:data:`hskit.schema.TCP_STATES` (the active close FIN_WAIT_1 → FIN_WAIT_2 → TIME_WAIT,
the simultaneous close FIN_WAIT_1 → CLOSING → TIME_WAIT and the passive close
CLOSE_WAIT → LAST_ACK → CLOSED are all subsequences of it). So the table is built as
one *entry time* and *cause frame* per (stream, endpoint, state) — NaN where the
endpoint never enters that state — flattened stream by stream, endpoint by endpoint,
state by state; an interval ends where the next one of its endpoint starts.

Entry times are capture times of the segment that causes the transition; the
capture sees each segment once, at its vantage point:

- client: SYN_SENT at its first SYN; ESTABLISHED at the SYN-ACK that answers it;
- server: LISTEN (zero length, no cause frame) and SYN_RECEIVED at the SYN the
  SYN-ACK answers; ESTABLISHED at the final ACK;
- simultaneous open: SYN_SENT at its own SYN, SYN_RECEIVED at the later of the two
  SYNs, ESTABLISHED when the peer acknowledges its SYN;
- midstream: both ESTABLISHED at the stream's first segment;
- active close: FIN_WAIT_1 at its FIN, FIN_WAIT_2 at the peer's ACK of it, TIME_WAIT
  at the peer's FIN; passive close: CLOSE_WAIT at the peer's FIN, LAST_ACK at its
  FIN, CLOSED at the ACK of its FIN; simultaneous close: CLOSING at the second FIN,
  TIME_WAIT at the ACK of its own FIN;
- TIME_WAIT ends (CLOSED, no cause frame) at ``time_wait_end``;
- a RST closes both endpoints (those not closed already) at the RST; refused: the
  client goes SYN_SENT → CLOSED at the RST and the server is only CLOSED (at the
  RST); no answer: the server is only CLOSED, at the first SYN, without cause frame.

When SYNs or FINs cross (simultaneous open or close), the capture sees the peer's
segment before the endpoint can have received it: SYN_RECEIVED and CLOSING then start
at the later of the two segments, and the cause frame is still the peer's.

The last interval of an endpoint ends at the capture's last time, except CLOSED,
which is a zero-length marker.

>>> STATE_CODE["CLOSED"]
10
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hskit.classify.handshake import HANDSHAKE_CODE, Float, Handshake
from hskit.classify.rows import Rows
from hskit.classify.streams import NONE, Int, StreamIndex, select
from hskit.classify.termination import Termination
from hskit.schema import ENDPOINT_DTYPE, TCP_STATE_DTYPE, TCP_STATES

STATE_CODE: dict[str, int] = {state: code for code, state in enumerate(TCP_STATES)}
#: per state, the segment position causing the entry (time and cause frame are that
#: segment's), or an explicit (time, cause frame) pair
Slots = dict[str, Int | tuple[Float, Int]]


def endpoint_states(
    rows: Rows,
    index: StreamIndex,
    handshake: Handshake,
    termination: Termination,
    capture_end: float,
) -> pd.DataFrame:
    """The states table (schema :data:`hskit.schema.STATE_DTYPES`) of every stream.

    >>> from hskit import schema
    >>> from hskit.classify import handshake as hs, termination as tm
    >>> index = StreamIndex.from_streams([])
    >>> rows = Rows.from_segments(schema.empty_segments(), index)
    >>> h = hs.analyse(rows, index)
    >>> len(endpoint_states(rows, index, h, tm.analyse(rows, index, h, 60.0), 0.0))
    0
    """
    client, server = _both_endpoints(rows, index, handshake, termination)
    count = index.size
    # One position per (stream, endpoint, state) into the segments' times and frames,
    # extended by the explicit (time, cause frame) slots; -1 where the state is not entered.
    positions = np.full((count, 2, len(TCP_STATES)), NONE, dtype=np.int64)
    time_parts, frame_parts = [rows.time_or_nan], [rows.frame_or_none]
    offset = len(rows.time_or_nan)
    streams = np.arange(count, dtype=np.int64)
    for side, slots in enumerate((client, server)):
        for state, slot in slots.items():
            if isinstance(slot, tuple):
                time, frame = slot
                time_parts.append(time)
                frame_parts.append(frame)
                slot = np.where(np.isnan(time), NONE, streams + offset)
                offset += count
            positions[:, side, STATE_CODE[state]] = slot

    flat_positions = positions.reshape(-1)
    kept = np.flatnonzero(flat_positions >= 0)
    row = flat_positions[kept]
    start = np.concatenate(time_parts)[row]
    cause = np.concatenate(frame_parts)[row]
    if len(flat_positions) < 2**31:  # int32 division is cheaper
        kept = kept.astype(np.int32)
    block = kept // len(TCP_STATES)
    state = kept - block * len(TCP_STATES)
    # an interval ends where the next one of its endpoint starts; the last one of an
    # endpoint at the capture's end (CLOSED: zero length)
    last = np.empty(len(start), dtype=bool)
    np.not_equal(block[1:], block[:-1], out=last[:-1])
    last[-1:] = True
    last = np.flatnonzero(last)
    end = np.empty(len(start))
    end[:-1] = start[1:]
    end[last] = np.where(state[last] == STATE_CODE["CLOSED"], start[last], capture_end)
    np.maximum(end, start, out=end)
    table = pd.DataFrame(
        {
            "stream": index.ids[block >> 1],
            "endpoint": pd.Categorical.from_codes(
                (block & 1).astype(np.int8), dtype=ENDPOINT_DTYPE, validate=False
            ),
            "state": pd.Categorical.from_codes(
                state.astype(np.int8), dtype=TCP_STATE_DTYPE, validate=False
            ),
            "start": start,
            "end": end,
            # masked entries (-1) become 2**32 - 1 under the mask: never read
            "cause_frame": pd.arrays.IntegerArray(cause.astype(np.uint32), cause < 0),
        },
        copy=False,
    )
    return table


@dataclass(frozen=True)
class _Side:
    """One endpoint's view of the teardown, per stream."""

    own_fin: Int
    peer_fin: Int
    own_fin_acked: Int
    closed_first: np.ndarray
    time_wait_end: Float
    time_wait_reset: np.ndarray
    #: where it closed before the connection was established (``-1``: it did not)
    early_closed: Int
    #: when it was closed without a segment causing it (a server that never answered)
    silent_closed: Float


def _both_endpoints(
    rows: Rows, index: StreamIndex, handshake: Handshake, termination: Termination
) -> tuple[Slots, Slots]:
    """Entry (time, cause frame) of each state, per stream, for the client and the server."""
    code = handshake.code

    def at(positions: Int) -> tuple[Float, Int]:
        return rows.time_at(positions), rows.frame_at(positions)

    answered = np.isin(
        code,
        [HANDSHAKE_CODE[label] for label in ("complete", "no_final_ack", "reset_in_handshake")],
    )
    simultaneous = code == HANDSHAKE_CODE["simultaneous_open"]
    later_syn = np.maximum(handshake.first_client_syn, handshake.first_server_syn)
    listen_time, listen_frame = at(_only(answered, handshake.answered_syn))

    client: Slots = {
        "SYN_SENT": handshake.first_client_syn,
        "SYN_RECEIVED": _only(simultaneous, later_syn),
        "ESTABLISHED": handshake.client_established,
    }
    server: Slots = {
        "LISTEN": (listen_time, np.full(index.size, NONE)),
        "SYN_SENT": _only(simultaneous, handshake.first_server_syn),
        "SYN_RECEIVED": (
            np.where(simultaneous, rows.time_at(later_syn), listen_time),
            np.where(simultaneous, rows.frame_at(handshake.first_client_syn), listen_frame),
        ),
        "ESTABLISHED": handshake.server_established,
    }

    # Closed before establishment: by the refusal, or by the first RST after the SYN-ACK.
    refused = code == HANDSHAKE_CODE["refused"]
    no_answer = code == HANDSHAKE_CODE["no_answer"]
    early_reset = index.first(rows.rst, handshake.synack)
    unestablished = ~handshake.established
    client_reset = index.first(rows.rst & rows.client, handshake.first_client_syn)
    t = termination
    client_side = _Side(
        own_fin=t.client_fin,
        peer_fin=t.server_fin,
        own_fin_acked=t.client_fin_acked,
        closed_first=t.client_first,
        time_wait_end=t.client_time_wait_end,
        time_wait_reset=t.client_time_wait_reset,
        early_closed=select(
            [refused, no_answer, unestablished],
            [handshake.refusal, client_reset, early_reset],
            NONE,
        ),
        silent_closed=np.full(index.size, np.nan),
    )
    server_side = _Side(
        own_fin=t.server_fin,
        peer_fin=t.client_fin,
        own_fin_acked=t.server_fin_acked,
        closed_first=(t.server_fin >= 0) & ~t.client_first,
        time_wait_end=t.server_time_wait_end,
        time_wait_reset=t.server_time_wait_reset,
        early_closed=select(
            [refused, unestablished & ~no_answer], [handshake.refusal, early_reset], NONE
        ),
        silent_closed=np.where(no_answer, rows.time_at(handshake.first_client_syn), np.nan),
    )
    _teardown(client, rows, t, client_side)
    _teardown(server, rows, t, server_side)
    return client, server


def _only(condition: np.ndarray, positions: Int) -> Int:
    return np.where(condition, positions, NONE)


def _teardown(slots: Slots, rows: Rows, termination: Termination, side: _Side) -> None:
    """Add one endpoint's closing states to ``slots``."""
    reset = termination.reset
    own_fin, peer_fin = side.own_fin, side.peer_fin
    own_fin_acked = np.where((reset >= 0) & (side.own_fin_acked > reset), NONE, side.own_fin_acked)
    simultaneous = termination.simultaneous
    active = side.closed_first & ~simultaneous
    passive = (peer_fin >= 0) & ~side.closed_first & ~simultaneous
    second_fin = np.maximum(termination.client_fin, termination.server_fin)

    def at(positions: Int) -> tuple[Float, Int]:
        return rows.time_at(positions), rows.frame_at(positions)

    slots["FIN_WAIT_1"] = _only(active | (simultaneous & (own_fin >= 0)), own_fin)
    slots["FIN_WAIT_2"] = _only(active, own_fin_acked)
    slots["CLOSING"] = (
        np.where(simultaneous, rows.time_at(second_fin), np.nan),
        rows.frame_at(_only(simultaneous, peer_fin)),
    )
    slots["TIME_WAIT"] = select(
        [active & (own_fin_acked >= 0), simultaneous], [peer_fin, own_fin_acked], NONE
    )
    slots["CLOSE_WAIT"] = _only(passive, peer_fin)
    slots["LAST_ACK"] = _only(passive, own_fin)
    passive_closed = _only(passive & (own_fin >= 0), own_fin_acked)
    timer = ~np.isnan(side.time_wait_end)
    closed_time, closed_frame = at(
        select(
            [passive_closed >= 0, timer, reset >= 0],
            [passive_closed, NONE, reset],
            side.early_closed,
        )
    )
    reset_frame = rows.frame_at(reset)
    slots["CLOSED"] = (
        np.where(timer, side.time_wait_end, np.fmax(closed_time, side.silent_closed)),
        np.where(timer, np.where(side.time_wait_reset, reset_frame, NONE), closed_frame),
    )
