"""What an ACK tells about the segments it covers: ``ack_rtt`` and ``bytes_in_flight``.

Wireshark keeps, per direction, the list of segments not yet acknowledged. An ACK
removes every segment it covers; when it ends exactly at a segment's end it reports
that segment's frame and the time since it was sent (``tcp.analysis.ack_rtt``), the
oldest such segment when there are several (a retransmitted SYN is timed from the
first SYN). After each segment with payload Wireshark reports the bytes between the
first unacknowledged byte and the highest sequence number sent
(``tcp.analysis.bytes_in_flight``), unless the direction lost a segment since the
peer's last ACK.

>>> ack_rtt(rows)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from hskit.analysis.groups import SEQ_SPACE, Groups, seq_delta
from hskit.analysis.rows import NOTHING, Rows
from hskit.analysis.sequence import Expected
from hskit.schema import ACK, FIN, SYN

#: Wireshark reports bytes in flight only below this many (larger is an artefact).
MAX_IN_FLIGHT = 2_000_000_000
#: bits for a sequence-number span inside one direction in the combined search keys.
SPAN_BITS = 36


def _sent(rows: Rows) -> np.ndarray:
    """Segments Wireshark puts on the unacknowledged list: payload, SYN or FIN."""
    return (rows.seglen > 0) | rows.has(SYN | FIN)


def ack_rtt(rows: Rows, expected: Expected) -> np.ndarray:
    """Seconds from the segment an ACK acknowledges exactly to the ACK; NaN elsewhere.

    Like Wireshark, every segment's acknowledgement number removes what it covers, the
    ACK flag or not (a RST with ACK number 0 can empty the peer's list).
    """
    result = np.full(len(rows), np.nan)
    segments = np.flatnonzero(_sent(rows))
    if not len(segments):
        return result
    acked = _acked_position(rows, expected)
    acking = np.arange(len(rows))
    # rows grouped by direction, capture order kept; running highest ACK in each
    key = rows.stream * 2 + rows.from_client
    groups = Groups.of(key)
    ordered = acking[groups.order]
    highest = groups.cummax(acked)[groups.order]
    rank = groups.rank
    seen = highest[highest != NOTHING]
    low = int(seen.min()) if len(seen) else 0
    by_row = (rank << 40) | ordered
    by_ack = (rank << SPAN_BITS) + np.clip(highest - low, 0, (1 << SPAN_BITS) - 1)
    # each segment is removed by the first later ACK of the other direction covering it
    target_key = rows.stream[segments] * 2 + ~rows.from_client[segments]
    group_rank = _rank_of(key[groups.order], rank, target_key)
    known = group_rank >= 0
    segments, group_rank = segments[known], group_rank[known]
    end = rows.seq_u[segments] + rows.seglen[segments] + rows.has(SYN | FIN)[segments]
    after_row = np.searchsorted(by_row, (group_rank << 40) | segments, side="right")
    wanted = (group_rank << SPAN_BITS) + np.clip(end - low, 0, (1 << SPAN_BITS) - 1)
    covering = np.searchsorted(by_ack, wanted, side="left")
    position = np.maximum(after_row, covering)
    inside = position < len(ordered)
    position = np.where(inside, position, 0)
    inside &= rank[position] == group_rank
    remover = ordered[position]
    exact = inside & (acked[remover] == end)
    oldest = np.full(len(rows), np.iinfo(np.int64).max)
    np.minimum.at(oldest, remover[exact], segments[exact])
    timed = oldest < len(rows)
    delay = rows.ns[timed] - rows.ns[oldest[timed]]
    result[np.flatnonzero(timed)[delay != 0]] = delay[delay != 0] / 1e9
    return result


def _acked_position(rows: Rows, expected: Expected) -> np.ndarray:
    """Each row's acknowledgement number in the peer's unwrapped sequence space, read
    (as Wireshark compares) relative to the peer's highest sequence number so far;
    ``NOTHING`` before the peer sent anything (its list is empty then)."""
    peer_next = rows.peer_last(expected.after, fill=NOTHING)
    near_peer = peer_next + seq_delta(rows.ack, peer_next % SEQ_SPACE)
    return np.where(peer_next != NOTHING, near_peer, NOTHING)


def _rank_of(sorted_keys: np.ndarray, rank: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The group rank of each ``wanted`` key, -1 where no group has it."""
    at = np.searchsorted(sorted_keys, wanted)
    at_clipped = np.minimum(at, len(sorted_keys) - 1)
    found = sorted_keys[at_clipped] == wanted
    return np.where(found, rank[at_clipped], -1)


def bytes_in_flight(rows: Rows, expected: Expected, lost: np.ndarray) -> np.ndarray:
    """Unacknowledged bytes after each segment with payload; 0 where Wireshark shows none.

    The first unacknowledged byte is the peer's highest ACK so far (or the direction's
    first sequence number sent); a segment resent after everything was acknowledged
    counts alone.
    """
    has_ack = rows.has(ACK)
    highest_ack = rows.direction.last_where(_ack_running_max(rows), has_ack, fill=NOTHING)
    peer_acked = rows.peer_last(highest_ack, fill=NOTHING)
    sent = _sent(rows)
    first_sent = -rows.direction.cummax(np.where(sent, -rows.seq_u, NOTHING))
    start = np.maximum(peer_acked, first_sent)
    end = rows.seq_u + rows.seglen + rows.has(SYN | FIN)
    in_flight = np.where(peer_acked < expected.after, expected.after - start, end - rows.seq_u)
    # a SYN's or FIN's sequence number is not a byte in flight
    in_flight -= rows.has(SYN | FIN) & (end == expected.after)
    valid = _valid(rows, lost)
    shown = (rows.seglen > 0) & valid & (in_flight > 0) & (in_flight < MAX_IN_FLIGHT)
    return np.where(shown, in_flight, 0)


def _ack_running_max(rows: Rows) -> np.ndarray:
    """The highest ACK (peer-unwrapped) of each direction up to each row, ACK rows only."""
    has_ack = rows.has(ACK)
    return rows.direction.cummax(np.where(has_ack, rows.ack_u, NOTHING))


def _valid(rows: Rows, lost: np.ndarray) -> np.ndarray:
    """Wireshark's ``valid_bif``: set by an ACK from the peer, cleared by a lost segment
    of this direction (this row's included), set at the start."""
    has_ack = rows.has(ACK)
    client, server = rows.from_client, ~rows.from_client
    for_client = rows.connection.last_where(
        server & has_ack, (server & has_ack) | (client & lost), fill=True
    )
    for_server = rows.connection.last_where(
        client & has_ack, (client & has_ack) | (server & lost), fill=True
    )
    return np.where(client, for_client, for_server)
