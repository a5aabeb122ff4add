"""Wireshark's sequence-number analysis (``tcp_analyze_sequence_number`` in
``packet-tcp.c``, Wireshark 4.0), one whole column at a time.

Wireshark walks the segments in order, keeping per direction the next expected
sequence number, the last window and ACK, and a duplicate-ACK counter. Here each of
those states is a column: "the state before this row" is a running maximum, a previous
row's value or the peer direction's latest value (:mod:`hskit.analysis.groups`). The
checks then run on all rows at once, in Wireshark's order and with its precedence:

1. zero window probe — ends the window checks of this segment;
2. zero window, lost segment, keep-alive, window update, window full;
3. keep-alive ACK, zero window probe ACK — each ends the checks before duplicate ACK;
4. duplicate ACK; then, for every segment, ACKed unseen segment;
5. a segment that does not advance the sequence number (payload, SYN or FIN below the
   next expected one) is, first match wins: nothing more when it is a keep-alive, a
   fast retransmission (≥ 2 duplicate ACKs of its sequence number from the peer, the
   last one < 20 ms ago), out of order (< the connection's initial RTT, or 3 ms without
   one, since the highest segment, and not ending where that one did), a spurious
   retransmission (payload all already ACKed), else a retransmission.

>>> flags = sequence_flags(rows, window)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hskit.analysis.groups import SEQ_SPACE, seq_delta
from hskit.analysis.rows import NOTHING, Rows
from hskit.schema import ACK, FIN, RST, SYN

#: Wireshark's fast-retransmission window after the last duplicate ACK, ns.
FAST_RETRANSMISSION_NS = 20_000_000
#: Wireshark's out-of-order threshold when the initial RTT is unknown, ns.
OUT_OF_ORDER_DEFAULT_NS = 3_000_000
#: Wireshark's window before any segment of a direction: larger than any real window.
NO_WINDOW_YET = SEQ_SPACE - 1
#: fixed-point rounds for zero window probes (which do not advance the next sequence
#: number, while whether a segment is a probe depends on it); real captures settle in 2.
PROBE_ROUNDS = 6


@dataclass(frozen=True)
class Expected:
    """Each direction's next expected sequence number, before and after each row."""

    #: unwrapped; ``NOTHING`` before a direction's first row.
    before: np.ndarray
    after: np.ndarray
    #: capture time (ns) of the row that last raised it, before this row.
    since_ns: np.ndarray


def next_sequence(rows: Rows, probes: np.ndarray) -> Expected:
    """Wireshark's ``nextseq``: the highest ``seq + len`` (+1 for SYN/FIN) seen in the
    direction, zero window probes left out."""
    end = rows.seq_u + rows.seglen + rows.has(SYN | FIN)
    candidate = np.where(probes, NOTHING, end)
    after = rows.direction.cummax(candidate)
    before = rows.direction.previous(after, fill=NOTHING)
    raised = (candidate > before) & ~probes
    since = rows.direction.last_where(rows.ns, raised, fill=0)
    return Expected(before, after, rows.direction.previous(since, fill=0))


def zero_window_probes(rows: Rows, peer_window: np.ndarray) -> tuple[np.ndarray, Expected]:
    """Zero window probes (1 byte at the next expected sequence number while the peer's
    window is 0) and the next expected sequence numbers they leave alone."""
    probes = np.zeros(len(rows), dtype=bool)
    for _ in range(PROBE_ROUNDS):
        expected = next_sequence(rows, probes)
        found = (rows.seglen == 1) & (rows.seq_u == expected.before) & (peer_window == 0)
        if np.array_equal(found, probes):
            break
        probes = found
    return probes, expected


def initial_rtt_ns(rows: Rows) -> np.ndarray:
    """Per row, the connection's initial RTT (the most recent SYN to the first ACK
    without SYN) once that ACK has been seen, else 0 (Wireshark's ``ts_first_rtt``)."""
    syn = rows.has(SYN) & ~rows.has(ACK)
    last_syn = rows.connection.last_where(rows.ns, syn, fill=-1)
    candidates = ((rows.flags & (SYN | ACK)) == ACK) & (last_syn >= 0)
    first = candidates & (rows.connection.cumsum(candidates) == 1)
    return rows.connection.last_where(rows.ns - last_syn, first, fill=0)


def sequence_flags(rows: Rows, window: np.ndarray) -> tuple[dict[str, np.ndarray], Expected]:
    """Every ``tcp.analysis`` flag of every row, plus the duplicate-ACK number and frame,
    and the next expected sequence numbers they were judged against.

    ``window`` is the calculated window (:mod:`hskit.analysis.window`).
    """
    has_prev = ~rows.direction.is_first()
    plain = rows.plain
    peer_window = rows.peer_last(window, fill=NO_WINDOW_YET)
    probe, expected = zero_window_probes(rows, peer_window)
    probe &= has_prev
    nextseq = expected.before
    at_next = has_prev & (rows.seq_u == nextseq)
    last_window = rows.direction.previous(window, fill=NO_WINDOW_YET)
    last_ack = rows.direction.previous(rows.ack, fill=0)
    same_ack = rows.ack == last_ack
    repeat = (rows.seglen == 0) & at_next & same_ack & plain
    peer_flags = _peer_segment_flags(rows, probe, expected)
    checked = ~probe  # Wireshark's "goto finished_fwd" after a probe

    flags: dict[str, np.ndarray] = {"zero_window_probe": probe}
    flags["zero_window"] = checked & (window == 0) & plain
    flags["lost_segment"] = checked & has_prev & (rows.seq_u > nextseq) & ~rows.has(RST)
    flags["keep_alive"] = (
        checked & has_prev & (rows.seglen <= 1) & (rows.seq_u == nextseq - 1) & plain
    )
    flags["window_update"] = checked & repeat & (window != 0) & (window != last_window)
    flags["window_full"] = checked & _window_full(rows, window, plain)
    unchanged = checked & repeat & (window == last_window)
    flags["keep_alive_ack"] = unchanged & (window != 0) & peer_flags["keep_alive"]
    flags["zero_window_probe_ack"] = unchanged & (window == 0) & peer_flags["probe"]
    flags["duplicate_ack"] = unchanged & (window != 0) & ~flags["keep_alive_ack"]

    run_start = ~same_ack
    dup_count = rows.direction.cumsum_since(flags["duplicate_ack"], run_start)
    dup_frame = rows.direction.last_where(rows.frame, run_start, fill=0)
    flags["ack_lost_segment"] = _acked_unseen(rows, expected)
    flags.update(_retransmissions(rows, expected, flags["keep_alive"], dup_count, has_prev))
    flags["duplicate_ack_num"] = np.where(flags["duplicate_ack"], dup_count, 0)
    flags["duplicate_ack_frame"] = np.where(flags["duplicate_ack"], dup_frame, 0)
    return flags, expected


def _peer_segment_flags(rows: Rows, probe: np.ndarray, expected: Expected) -> dict[str, np.ndarray]:
    """Whether the peer's latest segment was a keep-alive / a zero window probe
    (Wireshark's ``rev->lastsegmentflags``)."""
    keep_alive = (
        ~probe
        & ~rows.direction.is_first()
        & (rows.seglen <= 1)
        & (rows.seq_u == expected.before - 1)
        & rows.plain
    )
    return {
        "keep_alive": rows.peer_last(keep_alive, fill=False),
        "probe": rows.peer_last(probe, fill=False),
    }


def _window_full(rows: Rows, window: np.ndarray, plain: np.ndarray) -> np.ndarray:
    """Payload reaching exactly the right edge of the peer's advertised window."""
    from hskit.analysis.window import UNKNOWN_SCALE, window_scales

    peer_scale = rows.peer_last(window_scales(rows), fill=UNKNOWN_SCALE)
    peer_ack = rows.peer_last(rows.ack, fill=0)
    peer_window = rows.peer_last(window, fill=NO_WINDOW_YET)
    edge = (peer_ack + peer_window) % SEQ_SPACE
    reaches = (rows.seq + rows.seglen) % SEQ_SPACE == edge
    return (rows.seglen > 0) & (peer_scale != UNKNOWN_SCALE) & reaches & plain


def _acked_unseen(rows: Rows, expected: Expected) -> np.ndarray:
    """An ACK beyond everything the peer has been seen to send (Wireshark's
    ``maxseqtobeacked``, taken here as the peer's highest sequence seen)."""
    peer_highest = rows.peer_last(expected.after, fill=NOTHING)
    return rows.has(ACK) & (peer_highest != NOTHING) & (rows.ack_u > peer_highest)


def _retransmissions(
    rows: Rows,
    expected: Expected,
    keep_alive: np.ndarray,
    dup_count: np.ndarray,
    has_prev: np.ndarray,
) -> dict[str, np.ndarray]:
    """Classify segments that do not advance the sequence number; first match wins."""
    behind = ((rows.seglen > 0) | rows.has(SYN | FIN)) & has_prev & (rows.seq_u < expected.before)
    peer_dups = rows.peer_last(dup_count, fill=0)
    peer_ack = rows.peer_last(rows.ack, fill=0)
    peer_ack_ns = rows.peer_last(rows.ns, fill=0)
    first_rtt = initial_rtt_ns(rows)
    threshold = np.where(first_rtt > 0, first_rtt, OUT_OF_ORDER_DEFAULT_NS)
    end = rows.seq_u + rows.seglen + rows.has(SYN | FIN)
    rules = [
        ("keep_alive_is_not_retransmitted", keep_alive),
        (
            "fast_retransmission",
            (peer_dups >= 2)
            & (peer_ack == rows.seq)
            & (rows.ns - peer_ack_ns < FAST_RETRANSMISSION_NS),
        ),
        (
            "out_of_order",
            (rows.ns - expected.since_ns < threshold) & (expected.before != end),
        ),
        (
            "spurious_retransmission",
            (rows.seglen > 0)
            & (peer_ack != 0)
            & (seq_delta(rows.seq + rows.seglen, peer_ack) <= 0),
        ),
        ("retransmission", np.ones(len(rows), dtype=bool)),
    ]
    result: dict[str, np.ndarray] = {}
    open_ = behind.copy()
    for name, condition in rules:
        hit = open_ & condition
        open_ &= ~hit
        if name != "keep_alive_is_not_retransmitted":
            result[name] = hit
    # tshark marks fast and spurious retransmissions as retransmissions too
    result["retransmission"] = (
        result["retransmission"] | result["fast_retransmission"] | result["spurious_retransmission"]
    )
    return result
