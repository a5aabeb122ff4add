"""What an ACK tells about the segments it covers: ``ack_rtt`` and ``bytes_in_flight``,
each a compiled pass over the segments in capture order.

Wireshark keeps, per direction, the list of segments not yet acknowledged
(``tcp_analyze_get_acked_struct`` / ``tcp_unacked``). An ACK removes every segment it
covers; when it ends exactly at a segment's end it reports that segment's frame and the
time since it was sent (``tcp.analysis.ack_rtt``), the oldest such segment when there
are several (a retransmitted SYN is timed from the first SYN). After each segment with
payload Wireshark reports the bytes between the first unacknowledged byte and the
highest sequence number sent (``tcp.analysis.bytes_in_flight``), unless the direction
lost a segment since the peer's last ACK (``valid_bif``).

>>> seconds = ack_rtt(rows, numbers)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from hskit.analysis.rows import NOTHING, Rows
from hskit.analysis.sequence import Numbers
from hskit.compiled import exported, inlined
from hskit.schema import ACK, FIN, SYN

#: Wireshark reports bytes in flight only below this many (larger is an artefact).
MAX_IN_FLIGHT = 2_000_000_000


def ack_rtt(rows: Rows, numbers: Numbers) -> np.ndarray:
    """Seconds from the segment an ACK acknowledges exactly to the ACK; NaN elsewhere.

    Like Wireshark, every segment's acknowledgement number removes what it covers, the
    ACK flag or not (a RST with ACK number 0 can empty the peer's list).
    """
    end = numbers.seq_u + rows.seq_space
    sent = end != numbers.seq_u  # payload, SYN or FIN: on the unacknowledged list
    return _ack_rtt(rows.direction, rows.directions, sent, end, numbers.acked, rows.ns)


@exported("float64[::1](int64[::1], int64, boolean[::1], int64[::1], int64[::1], int64[::1])")
def _ack_rtt(
    direction: np.ndarray,
    directions: int,
    sent: np.ndarray,
    end: np.ndarray,
    acked: np.ndarray,
    ns: np.ndarray,
) -> np.ndarray:
    """A segment (``sent``, ending at ``end``) leaves its direction's unacknowledged
    list at the first later segment of the other direction whose highest ``acked`` so
    far reaches its end; that segment's ACK times it when its own ``acked`` is exactly
    the end. A direction's highest ``acked`` only grows, so the remover is found by a
    search forward from the first segment of the other direction after this one, in a
    copy of each direction's rows (and running highest ``acked``) laid out together."""
    rows = len(direction)
    start = np.zeros(directions + 1, dtype=np.int64)
    for row in range(rows):
        start[direction[row] + 1] += 1
    start = np.cumsum(start)
    members = np.empty(rows, dtype=np.int64)  # each direction's rows, capture order
    highest = np.empty(rows, dtype=np.int64)  # its running highest acked, likewise
    next_after = np.empty(rows, dtype=np.int64)  # per row, where the other one goes on
    filled = start[:-1].copy()
    top = np.full(directions, NOTHING, dtype=np.int64)
    for row in range(rows):
        own = direction[row]
        top[own] = max(top[own], acked[row])
        next_after[row] = filled[own ^ 1]
        members[filled[own]] = row
        highest[filled[own]] = top[own]
        filled[own] += 1

    oldest = np.full(rows, -1, dtype=np.int64)  # per remover, the oldest segment it times
    for segment in range(rows):
        if not sent[segment]:
            continue
        at = _first_reaching(
            highest, next_after[segment], start[(direction[segment] ^ 1) + 1], end[segment]
        )
        if at < 0:
            continue
        remover = members[at]
        if acked[remover] == end[segment] and oldest[remover] < 0:
            oldest[remover] = segment  # segments come in capture order: the first is oldest

    seconds = np.full(rows, np.nan)
    for row in range(rows):
        if oldest[row] >= 0 and ns[row] != ns[oldest[row]]:
            seconds[row] = (ns[row] - ns[oldest[row]]) / 1e9
    return seconds


@inlined
def _first_reaching(highest: np.ndarray, low: int, high: int, value: int) -> int:
    """The first position in ``low ≤ at < high`` where the non-decreasing ``highest``
    reaches ``value``, -1 where none does: steps doubling from ``low`` (the answer is
    usually near), then a binary search."""
    step, before = 1, low
    at = low
    while at < high and highest[at] < value:
        before = at + 1
        at += step
        step *= 2
    at = min(at, high)
    found = before + np.searchsorted(highest[before:at], value, side="left")
    return found if found < high else -1


def bytes_in_flight(rows: Rows, numbers: Numbers, lost: np.ndarray) -> np.ndarray:
    """Unacknowledged bytes after each segment with payload; 0 where Wireshark shows none.

    The first unacknowledged byte is the peer's highest ACK so far (or the direction's
    first sequence number sent); a segment resent after everything was acknowledged
    counts alone.
    """
    return _bytes_in_flight(
        rows.direction, rows.directions, rows.flags, rows.seglen, numbers.seq_u,
        numbers.ack_u, numbers.nextseq, lost,
    )  # fmt: skip


@exported(
    "int64[::1](int64[::1], int64, uint16[::1], uint32[::1], int64[::1], int64[::1], "
    "int64[::1], boolean[::1])"
)
def _bytes_in_flight(
    direction: np.ndarray,
    directions: int,
    flags: np.ndarray,
    seglen: np.ndarray,
    seq_u: np.ndarray,
    ack_u: np.ndarray,
    nextseq: np.ndarray,
    lost: np.ndarray,
) -> np.ndarray:
    """The pass: per direction the highest ACK sent, the lowest sequence number sent and
    ``valid_bif`` (set by an ACK from the peer, cleared by a lost segment, set at first)."""
    rows = len(direction)
    result = np.zeros(rows, dtype=np.int64)
    highest_ack = np.full(directions, NOTHING, dtype=np.int64)
    lowest_sent = np.full(directions, -NOTHING, dtype=np.int64)
    valid = np.ones(directions, dtype=np.bool_)
    for row in range(rows):
        fwd = direction[row]
        rev = fwd ^ 1
        length = np.int64(seglen[row])
        syn_or_fin = (flags[row] & (SYN | FIN)) != 0
        if flags[row] & ACK:
            highest_ack[fwd] = max(highest_ack[fwd], ack_u[row])
            valid[rev] = True
        if lost[row]:
            valid[fwd] = False
        if length > 0 or syn_or_fin:
            lowest_sent[fwd] = min(lowest_sent[fwd], seq_u[row])
        acked = highest_ack[rev]
        end = seq_u[row] + length + syn_or_fin
        if acked < nextseq[row]:
            in_flight = nextseq[row] - max(acked, lowest_sent[fwd])
        else:  # everything was acknowledged: a resent segment counts alone
            in_flight = end - seq_u[row]
        if syn_or_fin and end == nextseq[row]:  # its sequence number is not a byte
            in_flight -= 1
        if length > 0 and valid[fwd] and 0 < in_flight < MAX_IN_FLIGHT:
            result[row] = in_flight
    return result
