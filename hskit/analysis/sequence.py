"""Wireshark's sequence-number analysis (``tcp_analyze_sequence_number`` in
``packet-tcp.c``, Wireshark 4.0), as one compiled pass over the segments in capture order.

Wireshark walks the segments in order, keeping per direction (``tcpd->fwd``, the peer's
is ``tcpd->rev``) the next expected sequence number (``nextseq``) and when it last rose
(``nextseqtime``), the last window, ACK and segment flags, and a duplicate-ACK counter;
:func:`_analyze` does the same with an array of :data:`DIRECTION` records indexed by
direction id (the fields of one direction side by side, as Wireshark's struct).
The checks run in Wireshark's order and with its precedence:

1. zero window probe — ends the window checks of this segment (``goto finished_fwd``);
2. zero window, lost segment, keep-alive, window update, window full;
3. keep-alive ACK, zero window probe ACK — each ends the checks before duplicate ACK;
4. duplicate ACK; then, for every segment, ACKed unseen segment;
5. a segment that does not advance the sequence number (payload, SYN or FIN below the
   next expected one) is, first match wins: nothing more when it is a keep-alive, a
   fast retransmission (≥ 2 duplicate ACKs of its sequence number from the peer, the
   last one < 20 ms ago), out of order (< the connection's initial RTT, or 3 ms without
   one, since the next expected sequence number last rose, and not ending where it
   does), a spurious retransmission (payload all already ACKed), else a retransmission.

Sequence and acknowledgement numbers are unwrapped on the way (each the previous one of
its direction plus the signed 32-bit difference), so they compare across a wrap.

>>> marks, numbers = sequence_flags(rows, window_scales(rows))  # doctest: +SKIP
>>> marks[RETRANSMISSION].sum()  # doctest: +SKIP
3
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hskit.analysis.rows import NOTHING, Rows
from hskit.analysis.window import UNKNOWN_SCALE, calculated_window
from hskit.compiled import exported, inlined
from hskit.schema import ACK, ANALYSIS_FLAGS, FIN, RST, SYN

#: the bits of a TCP sequence number.
SEQ_MASK = (1 << 32) - 1
HALF_SEQ_SPACE = 1 << 31
#: Wireshark's fast-retransmission window after the last duplicate ACK, ns.
FAST_RETRANSMISSION_NS = 20_000_000
#: Wireshark's out-of-order threshold when the initial RTT is unknown, ns.
OUT_OF_ORDER_DEFAULT_NS = 3_000_000
#: Wireshark's window before any segment of a direction: larger than any real window.
NO_WINDOW_YET = SEQ_MASK

#: rows of the ``marks`` array :func:`sequence_flags` returns, one per analysis flag
#: (``reused_ports`` is left to :mod:`hskit.analysis.reused`).
RETRANSMISSION = ANALYSIS_FLAGS.index("retransmission")
FAST_RETRANSMISSION = ANALYSIS_FLAGS.index("fast_retransmission")
SPURIOUS_RETRANSMISSION = ANALYSIS_FLAGS.index("spurious_retransmission")
OUT_OF_ORDER = ANALYSIS_FLAGS.index("out_of_order")
LOST_SEGMENT = ANALYSIS_FLAGS.index("lost_segment")
ACK_LOST_SEGMENT = ANALYSIS_FLAGS.index("ack_lost_segment")
DUPLICATE_ACK = ANALYSIS_FLAGS.index("duplicate_ack")
ZERO_WINDOW = ANALYSIS_FLAGS.index("zero_window")
ZERO_WINDOW_PROBE = ANALYSIS_FLAGS.index("zero_window_probe")
ZERO_WINDOW_PROBE_ACK = ANALYSIS_FLAGS.index("zero_window_probe_ack")
WINDOW_FULL = ANALYSIS_FLAGS.index("window_full")
WINDOW_UPDATE = ANALYSIS_FLAGS.index("window_update")
KEEP_ALIVE = ANALYSIS_FLAGS.index("keep_alive")
KEEP_ALIVE_ACK = ANALYSIS_FLAGS.index("keep_alive_ack")
FLAG_COUNT = len(ANALYSIS_FLAGS)

#: Wireshark's per-direction state (``tcp_flow_t`` and its ``tcp_analyze_seq_info``), one
#: record per direction id; named as packet-tcp.c names them where it has the field.
DIRECTION = np.dtype(
    [
        ("first_seq", np.int64),  # raw sequence number of its first segment, -1 for none
        ("win_scale", np.int64),  # window scale (hskit.analysis.window)
        ("last_seq", np.int64),  # raw sequence number of the last segment
        ("last_seq_u", np.int64),  # ... unwrapped
        ("last_ack_raw", np.int64),  # raw ACK number of the last ACK segment
        ("last_ack_u", np.int64),  # ... unwrapped (in the peer's sequence space)
        ("nextseq", np.int64),  # highest seq + len seen, NOTHING before any segment
        ("nextseqtime", np.int64),  # when nextseq last rose, ns
        ("window", np.int64),  # calculated window of the last segment
        ("lastack", np.int64),  # raw ACK field of the last segment
        ("lastacktime", np.int64),  # time of the last segment, ns
        ("dupacknum", np.int64),  # duplicate ACKs since the ACK number changed
        ("lastnondupack", np.int64),  # frame where it last changed
        ("seen", np.bool_),  # a segment of this direction was seen
        ("acks_seen", np.bool_),  # an ACK segment of this direction was seen
        ("keep_alive", np.bool_),  # lastsegmentflags: the last segment was a keep-alive
        ("probe", np.bool_),  # ... a zero window probe
    ],
    align=True,
)
#: per connection: the initial RTT (``ts_first_rtt``), from the latest SYN (``ts_mru_syn``).
CONNECTION = np.dtype(
    [("ts_mru_syn", np.int64), ("ts_first_rtt", np.int64), ("rtt_known", np.bool_)],
    align=True,
)


@dataclass(frozen=True)
class Numbers:
    """Per row, the sequence-space values the ACK analysis (:mod:`hskit.analysis.acks`)
    and the duplicate-ACK columns read, all int64."""

    #: sequence number, unwrapped inside the direction.
    seq_u: np.ndarray
    #: acknowledgement number in the peer's unwrapped sequence space (ACK rows only).
    ack_u: np.ndarray
    #: the direction's next expected sequence number after this row (``nextseq``).
    nextseq: np.ndarray
    #: the acknowledgement number read next to the peer's ``nextseq`` (what Wireshark
    #: compares with the peer's unacknowledged segments); ``NOTHING`` before the peer sent.
    acked: np.ndarray
    #: the duplicate-ACK number and the frame of the ACK it repeats, 0 where not a duplicate.
    duplicate_ack_num: np.ndarray
    duplicate_ack_frame: np.ndarray
    #: the calculated window (``tcp.window_size``).
    window: np.ndarray


def sequence_flags(rows: Rows, scales: np.ndarray) -> tuple[np.ndarray, Numbers]:
    """Every ``tcp.analysis`` flag but ``reused_ports`` of every row, as a boolean array
    ``marks[FLAG, row]`` (flags in :data:`hskit.schema.ANALYSIS_FLAGS` order), and the
    :class:`Numbers` they were judged with.

    ``scales`` is each direction's window scale (:func:`hskit.analysis.window.window_scales`).
    """
    first = rows.firsts.of_direction
    # int64: -1 marks a direction without rows (NumPy 2 would keep uint32 and wrap it)
    first_seq = np.where(first >= 0, rows.seq[np.maximum(first, 0)].astype(np.int64), -1)
    marks, *numbers = _analyze(
        rows.direction, rows.frame, rows.ns, rows.flags, rows.seq, rows.ack, rows.seglen,
        rows.win, first_seq, scales,
    )  # fmt: skip
    return marks, Numbers(*numbers)


@inlined
def seq_delta(later: int, earlier: int) -> int:
    """``later - earlier`` in 32-bit sequence arithmetic (RFC 1982): signed, in ±2^31."""
    return ((later - earlier + HALF_SEQ_SPACE) & SEQ_MASK) - HALF_SEQ_SPACE


@exported(
    "Tuple((boolean[:, ::1], int64[::1], int64[::1], int64[::1], int64[::1], int64[::1], "
    "int64[::1], int64[::1]))(int64[::1], uint32[::1], int64[::1], uint16[::1], uint32[::1], "
    "uint32[::1], uint32[::1], uint16[::1], int64[::1], int64[::1])"
)
def _analyze(
    direction: np.ndarray,
    frame: np.ndarray,
    ns: np.ndarray,
    flags: np.ndarray,
    seq: np.ndarray,
    ack: np.ndarray,
    seglen: np.ndarray,
    raw_window: np.ndarray,
    first_seq: np.ndarray,
    scales: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """The pass over all rows: ``marks[FLAG, row]`` and the per-row numbers of
    :class:`Numbers`, in its field order. ``first_seq`` is each direction's first raw
    sequence number (-1 for a direction without rows), ``scales`` its window scale. The
    header fields come in the segments schema's unsigned dtypes: each is read as int64."""
    rows = len(direction)
    state = np.zeros(len(first_seq), dtype=DIRECTION)
    for one in range(len(first_seq)):
        state[one].first_seq = first_seq[one]
        state[one].win_scale = scales[one]
        state[one].nextseq = NOTHING
        state[one].window = NO_WINDOW_YET
    connections = np.zeros(len(first_seq) // 2, dtype=CONNECTION)
    for one in range(len(connections)):
        connections[one].ts_mru_syn = -1
    marks = np.zeros((FLAG_COUNT, rows), dtype=np.bool_)
    seq_u = np.empty(rows, dtype=np.int64)
    ack_u = np.full(rows, NOTHING, dtype=np.int64)
    nextseq_after = np.empty(rows, dtype=np.int64)
    acked = np.full(rows, NOTHING, dtype=np.int64)
    dup_num = np.zeros(rows, dtype=np.int64)
    dup_frame = np.zeros(rows, dtype=np.int64)
    window = np.empty(rows, dtype=np.int64)

    for row in range(rows):
        fwd, rev = state[direction[row]], state[direction[row] ^ 1]
        conn = connections[direction[row] >> 1]
        bits, raw_seq, raw_ack = np.int64(flags[row]), np.int64(seq[row]), np.int64(ack[row])
        length, now = np.int64(seglen[row]), ns[row]
        syn_or_fin = (bits & (SYN | FIN)) != 0
        plain = (bits & (SYN | FIN | RST)) == 0
        has_ack = (bits & ACK) != 0
        win = calculated_window(np.int64(raw_window[row]), fwd.win_scale, (bits & SYN) != 0)
        window[row] = win
        has_prev = fwd.seen

        # unwrapped sequence and ACK numbers: the last one's plus the 32-bit difference
        sequence = raw_seq
        if has_prev:
            sequence = fwd.last_seq_u + seq_delta(raw_seq, fwd.last_seq)
        if has_ack and fwd.acks_seen:
            ack_u[row] = fwd.last_ack_u + seq_delta(raw_ack, fwd.last_ack_raw)
        elif has_ack:  # the first ACK: next to the peer's first sequence number, if any
            anchor = rev.first_seq if rev.first_seq >= 0 else raw_ack
            ack_u[row] = anchor + seq_delta(raw_ack, anchor)
        if has_ack:
            fwd.acks_seen = True
            fwd.last_ack_raw, fwd.last_ack_u = raw_ack, ack_u[row]
        seq_u[row] = sequence
        end = sequence + length + syn_or_fin

        # the initial RTT: the most recent SYN to the first ACK without SYN
        if (bits & (SYN | ACK)) == SYN:
            conn.ts_mru_syn = now
        if (bits & (SYN | ACK)) == ACK and conn.ts_mru_syn >= 0 and not conn.rtt_known:
            conn.rtt_known = True
            conn.ts_first_rtt = now - conn.ts_mru_syn

        expected = fwd.nextseq  # before this segment
        at_next = has_prev and sequence == expected
        same_ack = raw_ack == fwd.lastack
        repeat = length == 0 and at_next and same_ack and plain

        # 1. zero window probe: one byte at nextseq into the peer's zero window
        probe = length == 1 and at_next and rev.window == 0
        if probe:
            marks[ZERO_WINDOW_PROBE, row] = True
        else:
            # 2. the window checks
            marks[ZERO_WINDOW, row] = win == 0 and plain
            marks[LOST_SEGMENT, row] = has_prev and sequence > expected and (bits & RST) == 0
            marks[KEEP_ALIVE, row] = has_prev and length <= 1 and sequence == expected - 1 and plain
            marks[WINDOW_UPDATE, row] = repeat and win != 0 and win != fwd.window
            marks[WINDOW_FULL, row] = (
                length > 0
                and plain
                and rev.seen
                and rev.win_scale != UNKNOWN_SCALE
                and ((raw_seq + length) & SEQ_MASK) == ((rev.lastack + rev.window) & SEQ_MASK)
            )
            # 3. the ACK checks, each ending the checks before duplicate ACK
            if repeat and win == fwd.window:
                if win != 0 and rev.keep_alive:
                    marks[KEEP_ALIVE_ACK, row] = True
                elif win == 0:
                    marks[ZERO_WINDOW_PROBE_ACK, row] = rev.probe
                else:
                    # 4. duplicate ACK
                    marks[DUPLICATE_ACK, row] = True
        if not same_ack or not has_prev:  # a new ACK starts a run
            fwd.dupacknum = 0
        if not same_ack:
            fwd.lastnondupack = np.int64(frame[row])
        if marks[DUPLICATE_ACK, row]:
            fwd.dupacknum += 1
            dup_num[row] = fwd.dupacknum
            dup_frame[row] = fwd.lastnondupack

        # ACKed unseen segment: beyond the highest the peer was seen to send
        marks[ACK_LOST_SEGMENT, row] = (
            has_ack and rev.nextseq != NOTHING and ack_u[row] > rev.nextseq
        )

        # 5. a segment that does not advance the sequence number
        behind = (length > 0 or syn_or_fin) and has_prev and sequence < expected
        if behind and not marks[KEEP_ALIVE, row]:
            threshold = conn.ts_first_rtt if conn.ts_first_rtt > 0 else OUT_OF_ORDER_DEFAULT_NS
            if (
                rev.dupacknum >= 2
                and rev.lastack == raw_seq
                and now - rev.lastacktime < FAST_RETRANSMISSION_NS
            ):
                marks[FAST_RETRANSMISSION, row] = True
            elif now - fwd.nextseqtime < threshold and expected != end:
                marks[OUT_OF_ORDER, row] = True
            elif length > 0 and rev.lastack != 0 and seq_delta(raw_seq + length, rev.lastack) <= 0:
                marks[SPURIOUS_RETRANSMISSION, row] = True
            if not marks[OUT_OF_ORDER, row]:  # tshark marks fast and spurious ones too
                marks[RETRANSMISSION, row] = True

        # this segment becomes the direction's last one
        if not probe and end > expected:
            fwd.nextseq = end
            fwd.nextseqtime = now
        nextseq_after[row] = fwd.nextseq
        if rev.nextseq != NOTHING:
            acked[row] = rev.nextseq + seq_delta(raw_ack, rev.nextseq & SEQ_MASK)
        fwd.seen = True
        fwd.last_seq, fwd.last_seq_u = raw_seq, sequence
        fwd.window = win
        fwd.lastack, fwd.lastacktime = raw_ack, now
        fwd.keep_alive = marks[KEEP_ALIVE, row]
        fwd.probe = probe
    return marks, seq_u, ack_u, nextseq_after, acked, dup_num, dup_frame, window
