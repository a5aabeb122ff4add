"""Wireshark's sequence-number analysis (``tcp_analyze_sequence_number`` in
``packet-tcp.c``, Wireshark 4.0), as one compiled pass over the segments in capture order.

Wireshark walks the segments in order, keeping per direction (``tcpd->fwd``, the peer's
is ``tcpd->rev``) the next expected sequence number (``nextseq``) and when it last rose
(``nextseqtime``), the last window, ACK and segment flags, and a duplicate-ACK counter;
:func:`_analyze` does the same with one state array per field, indexed by direction id.
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
from numba import njit

from hskit.analysis.rows import NOTHING, Rows
from hskit.analysis.window import UNKNOWN_SCALE, calculated_window
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
    first_seq = np.where(first >= 0, rows.seq[np.maximum(first, 0)], -1)
    marks, *numbers = _analyze(
        rows.direction, rows.frame, rows.ns, rows.flags, rows.seq, rows.ack, rows.seglen,
        rows.win, first_seq, scales,
    )  # fmt: skip
    return marks, Numbers(*numbers)


@njit(cache=True, nogil=True)
def seq_delta(later: int, earlier: int) -> int:
    """``later - earlier`` in 32-bit sequence arithmetic (RFC 1982): signed, in ±2^31."""
    return ((later - earlier + HALF_SEQ_SPACE) & SEQ_MASK) - HALF_SEQ_SPACE


@njit(cache=True, nogil=True)
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
    rows, directions = len(direction), len(first_seq)
    marks = np.zeros((FLAG_COUNT, rows), dtype=np.bool_)
    seq_u = np.empty(rows, dtype=np.int64)
    ack_u = np.full(rows, NOTHING, dtype=np.int64)
    nextseq_after = np.empty(rows, dtype=np.int64)
    acked = np.full(rows, NOTHING, dtype=np.int64)
    dup_num = np.zeros(rows, dtype=np.int64)
    dup_frame = np.zeros(rows, dtype=np.int64)
    window = np.empty(rows, dtype=np.int64)

    # Wireshark's per-direction tcp_analyze_seq_info, one array per field
    seen = np.zeros(directions, dtype=np.bool_)
    last_seq = np.zeros(directions, dtype=np.int64)  # raw, and unwrapped below
    last_seq_u = np.zeros(directions, dtype=np.int64)
    acks_seen = np.zeros(directions, dtype=np.bool_)
    last_ack_raw = np.zeros(directions, dtype=np.int64)  # of the last ACK row, to unwrap
    last_ack_u = np.zeros(directions, dtype=np.int64)
    nextseq = np.full(directions, NOTHING, dtype=np.int64)
    nextseqtime = np.zeros(directions, dtype=np.int64)
    last_window = np.full(directions, NO_WINDOW_YET, dtype=np.int64)
    lastack = np.zeros(directions, dtype=np.int64)  # raw ACK field of the last segment
    lastack_ns = np.zeros(directions, dtype=np.int64)
    last_keep_alive = np.zeros(directions, dtype=np.bool_)  # lastsegmentflags
    last_probe = np.zeros(directions, dtype=np.bool_)
    dupacknum = np.zeros(directions, dtype=np.int64)
    lastnondupack = np.zeros(directions, dtype=np.int64)  # frame starting the ACK run
    # per connection: the initial RTT (ts_first_rtt), from the latest SYN (ts_mru_syn)
    last_syn_ns = np.full(directions // 2, -1, dtype=np.int64)
    first_rtt = np.zeros(directions // 2, dtype=np.int64)
    rtt_known = np.zeros(directions // 2, dtype=np.bool_)

    for row in range(rows):
        fwd = direction[row]
        rev = fwd ^ 1
        conn = fwd >> 1
        bits, raw_seq, raw_ack = np.int64(flags[row]), np.int64(seq[row]), np.int64(ack[row])
        length, now = np.int64(seglen[row]), ns[row]
        syn_or_fin = (bits & (SYN | FIN)) != 0
        plain = (bits & (SYN | FIN | RST)) == 0
        has_ack = (bits & ACK) != 0
        win = calculated_window(np.int64(raw_window[row]), scales[fwd], (bits & SYN) != 0)
        window[row] = win
        has_prev = seen[fwd]

        sequence = raw_seq
        if has_prev:
            sequence = last_seq_u[fwd] + seq_delta(raw_seq, last_seq[fwd])
        if has_ack and acks_seen[fwd]:
            ack_u[row] = last_ack_u[fwd] + seq_delta(raw_ack, last_ack_raw[fwd])
        elif has_ack:  # the first ACK: next to the peer's first sequence number, if any
            anchor = first_seq[rev] if first_seq[rev] >= 0 else raw_ack
            ack_u[row] = anchor + seq_delta(raw_ack, anchor)
        if has_ack:
            acks_seen[fwd] = True
            last_ack_raw[fwd], last_ack_u[fwd] = raw_ack, ack_u[row]
        seq_u[row] = sequence
        end = sequence + length + syn_or_fin

        # the initial RTT: the most recent SYN to the first ACK without SYN
        if (bits & (SYN | ACK)) == SYN:
            last_syn_ns[conn] = now
        if (bits & (SYN | ACK)) == ACK and last_syn_ns[conn] >= 0 and not rtt_known[conn]:
            rtt_known[conn] = True
            first_rtt[conn] = now - last_syn_ns[conn]

        expected = nextseq[fwd]  # before this segment
        at_next = has_prev and sequence == expected
        same_ack = raw_ack == lastack[fwd]
        repeat = length == 0 and at_next and same_ack and plain

        # 1. zero window probe: one byte at nextseq into the peer's zero window
        probe = length == 1 and at_next and last_window[rev] == 0
        if probe:
            marks[ZERO_WINDOW_PROBE, row] = True
        else:
            # 2. the window checks
            marks[ZERO_WINDOW, row] = win == 0 and plain
            marks[LOST_SEGMENT, row] = has_prev and sequence > expected and (bits & RST) == 0
            marks[KEEP_ALIVE, row] = has_prev and length <= 1 and sequence == expected - 1 and plain
            marks[WINDOW_UPDATE, row] = repeat and win != 0 and win != last_window[fwd]
            marks[WINDOW_FULL, row] = (
                length > 0
                and plain
                and seen[rev]
                and scales[rev] != UNKNOWN_SCALE
                and ((raw_seq + length) & SEQ_MASK)
                == ((lastack[rev] + last_window[rev]) & SEQ_MASK)
            )
            # 3. the ACK checks, each ending the checks before duplicate ACK
            if repeat and win == last_window[fwd]:
                if win != 0 and last_keep_alive[rev]:
                    marks[KEEP_ALIVE_ACK, row] = True
                elif win == 0:
                    marks[ZERO_WINDOW_PROBE_ACK, row] = last_probe[rev]
                else:
                    # 4. duplicate ACK
                    marks[DUPLICATE_ACK, row] = True
        if not same_ack or not has_prev:  # a new ACK starts a run
            dupacknum[fwd] = 0
        if not same_ack:
            lastnondupack[fwd] = np.int64(frame[row])
        if marks[DUPLICATE_ACK, row]:
            dupacknum[fwd] += 1
            dup_num[row] = dupacknum[fwd]
            dup_frame[row] = lastnondupack[fwd]

        # ACKed unseen segment: beyond the highest the peer was seen to send
        marks[ACK_LOST_SEGMENT, row] = (
            has_ack and nextseq[rev] != NOTHING and ack_u[row] > nextseq[rev]
        )

        # 5. a segment that does not advance the sequence number
        behind = (length > 0 or syn_or_fin) and has_prev and sequence < expected
        if behind and not marks[KEEP_ALIVE, row]:
            threshold = first_rtt[conn] if first_rtt[conn] > 0 else OUT_OF_ORDER_DEFAULT_NS
            if (
                dupacknum[rev] >= 2
                and lastack[rev] == raw_seq
                and now - lastack_ns[rev] < FAST_RETRANSMISSION_NS
            ):
                marks[FAST_RETRANSMISSION, row] = True
            elif now - nextseqtime[fwd] < threshold and expected != end:
                marks[OUT_OF_ORDER, row] = True
            elif (
                length > 0 and lastack[rev] != 0 and seq_delta(raw_seq + length, lastack[rev]) <= 0
            ):
                marks[SPURIOUS_RETRANSMISSION, row] = True
            if not marks[OUT_OF_ORDER, row]:  # tshark marks fast and spurious ones too
                marks[RETRANSMISSION, row] = True

        # this segment becomes the direction's last one
        if not probe and end > expected:
            nextseq[fwd] = end
            nextseqtime[fwd] = now
        nextseq_after[row] = nextseq[fwd]
        if nextseq[rev] != NOTHING:
            acked[row] = nextseq[rev] + seq_delta(raw_ack, nextseq[rev] & SEQ_MASK)
        seen[fwd] = True
        last_seq[fwd], last_seq_u[fwd] = raw_seq, sequence
        last_window[fwd] = win
        lastack[fwd], lastack_ns[fwd] = raw_ack, now
        last_keep_alive[fwd] = marks[KEEP_ALIVE, row]
        last_probe[fwd] = probe
    return marks, seq_u, ack_u, nextseq_after, acked, dup_num, dup_frame, window
