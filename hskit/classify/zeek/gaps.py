"""Zeek's content gaps: ``missed_bytes`` and the ``G``/``g`` history letters.

Zeek reassembles each direction of every TCP connection (``dpd_reassemble_first_packets``
turns reassembly on for all of them). Its reassembler delivers data in order and learns
of a hole only from the peer's acknowledgments: when an ACK covers sequence numbers past
what was delivered, the bytes in between that no captured segment carried are a content
gap (``TCP_Reassembler::Undelivered``), reported as a ``content_gap`` event (which
``missed_bytes`` adds up) and as a ``G`` (data from the originator) or ``g`` in the
history, counted per direction and logged at 1, 10, 100, … gaps, both only while the
two endpoints are established or closing cleanly (``established_or_cleanly_closing``).

Each reveal is computed from the whole connection at once: a segment counts for the
bytes above the highest acknowledgment seen before it (below that the reassembler has
already trimmed), and an acknowledgment at position ``a`` after the previous highest
``m`` reveals the bytes of ``[m, a)`` that no such segment covers; the segments that
arrive later start at or above ``a``, so time drops out and the union of all segments
answers every reveal.

Also as in Zeek's reassembler: a segment whose payload the snap length
cut is not delivered (a gap once acknowledged) -- ``complete`` says which; the
acknowledgment is capped at the FIN; a partial connection's first ACK of one or two
bytes is ignored. Not reproduced: ``tcp_max_above_hole_without_any_acks`` (a direction
that buffers 16 KiB above a hole before anything of it is acknowledged stops
reassembling) and sequence spaces beyond 2 GiB.

>>> import numpy as np
>>> from hskit.classify.zeek.lifecycle import lifecycle
>>> rows = {"flags": np.array([0x02, 0x12, 0x10, 0x18, 0x10]),
...         "seq": np.array([100, 900, 101, 111, 901]),
...         "ack": np.array([0, 101, 901, 901, 121]),
...         "payload_len": np.array([0, 0, 0, 10, 0]),
...         "src_port": np.array([4000, 80, 4000, 4000, 80]),
...         "dst_port": np.array([80, 4000, 80, 80, 4000])}
>>> life = lifecycle(np.zeros(5, dtype=np.int64), rows, np.array([1, 2, 1, 1, 2]), [])
>>> found = content_gaps(life, rows)
>>> found.missed.tolist(), found.letters[0].tolist(), bytes(found.letters[2])
([10], [4], b'G')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hskit.classify.streams import cummax_in, first_where, group_starts
from hskit.classify.zeek import state
from hskit.classify.zeek.fields import Columns
from hskit.classify.zeek.history import GAP_SLOT, Letters
from hskit.classify.zeek.lifecycle import Lifecycle
from hskit.classify.zeek.sizes import endpoint_base, position, segment_end
from hskit.schema import ACK, FIN, RST, SYN

Int = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

_POWERS_OF_TEN = 10 ** np.arange(10, dtype=np.int64)
#: Positions of one direction fit below this (sequence spaces up to 2 GiB and back).
_SPAN = np.int64(2**34)


@dataclass(frozen=True)
class Gaps:
    """Content gaps of connections: bytes missed per connection, history letters."""

    #: bytes Zeek reports as ``content_gap`` (``missed_bytes``), per connection
    missed: Int
    #: the ``G``/``g`` letters, for :func:`hskit.classify.zeek.history.history`
    letters: Letters


def content_gaps(life: Lifecycle, rows: Columns, complete: Bool | None = None) -> Gaps:
    """The content gaps of connections given as a :class:`Lifecycle`.

    ``complete`` marks the segments whose payload was captured whole (all by default).
    """
    whole = np.ones(len(life.conn), dtype=bool) if complete is None else complete
    missed = np.zeros(life.count, dtype=np.int64)
    letter_rows, letter_codes = [], []
    for orig in (True, False):
        lost, rows_with_letters = _direction(life, rows, whole, orig)
        missed += lost
        letter_rows.append(rows_with_letters)
        letter_codes.append(np.full(len(rows_with_letters), ord("G" if orig else "g")))
    marked = np.concatenate(letter_rows)
    order = np.argsort(marked, kind="stable")
    codes = np.concatenate(letter_codes).astype(np.uint8)
    return Gaps(missed=missed, letters=(marked[order], GAP_SLOT, codes[order]))


def _direction(life: Lifecycle, rows: Columns, complete: Bool, orig: bool) -> tuple[Int, Int]:
    """Bytes missed per connection in the data the originator (``orig``) or responder
    sent, and the rows where a ``G`` is logged (a row twice for two letters)."""
    conn, count = life.conn, life.count
    sender = life.is_orig if orig else ~life.is_orig
    flags = rows["flags"].astype(np.int64)
    syn, fin, rst = ((flags & bit) != 0 for bit in (SYN, FIN, RST))
    base = endpoint_base(life, rows, orig)
    start = life.per_row(base.start)
    index = np.arange(len(conn))
    started = (base.row >= 0)[conn] & (index >= life.per_row(base.row))
    orig_before, resp_before = life.endpoint_states(life.joint_before)
    before = orig_before if orig else resp_before

    # the peer's acknowledgments, relative to the data's start, capped at its FIN
    acks = life.processed & ~sender & ((flags & ACK) != 0) & started
    acks &= before != state.INACTIVE
    acked = position(rows["ack"].astype(np.int64), start)
    fin_end = position(segment_end(rows), start)
    fin_row = _running_last(life.processed & sender & fin, group_starts(conn))
    has_fin = fin_row >= 0
    fin_at = fin_end[np.maximum(fin_row, 0)]
    acked = np.where(has_fin & (acked >= fin_at), fin_at - 1, acked)
    acks &= acked > 0
    acks &= ~(_partial(life, flags)[conn] & (acked <= 2))
    # highest acknowledgment so far (1: nothing acknowledged yet)
    group_start = group_starts(conn)
    highest = cummax_in(np.where(acks, acked, 1), group_start)
    before_row = np.r_[1, highest[:-1]]
    before_row[group_start == index] = 1

    # the data the reassembler keeps: captured whole, not a RST's, above what was acked
    data = life.processed & sender & complete & ~rst & started
    payload = rows["payload_len"].astype(np.int64)
    data_start = position(rows["seq"].astype(np.int64), start) + syn
    data &= (payload > 0) & (data_start >= 0)
    kept_start = np.maximum(data_start, before_row)
    data &= kept_start < data_start + payload
    covered = _Coverage(conn[data], kept_start[data], (data_start + payload)[data])

    # reveals: acknowledgments that raise the highest one
    reveals = np.flatnonzero(acks & (acked > before_row))
    low, high = before_row[reveals], acked[reveals]
    reveal_conn = conn[reveals]
    lost = (high - low) - (covered.length(reveal_conn, high) - covered.length(reveal_conn, low))
    holes = covered.holes(reveal_conn, low, high)

    # reported only while both endpoints are established or closing cleanly
    clean = _clean(life, orig)[reveals] & _clean(life, not orig)[reveals]
    missed = np.bincount(reveal_conn[clean], weights=lost[clean], minlength=count)
    counted = np.where(clean, holes, 0)
    running = np.cumsum(counted)
    before_count = running - counted - _group_offsets(running - counted, reveal_conn)
    after_count = before_count + counted
    letters_per_reveal = _thresholds_crossed(before_count, after_count)
    return missed.astype(np.int64), np.repeat(reveals, letters_per_reveal)


def _partial(life: Lifecycle, flags: Int) -> Bool:
    """Connections Zeek calls partial (``SetPartialStatus``): the originator's first
    packet is not a SYN without ACK, or the responder's is not a SYN."""
    count = life.count
    syn, ack = (flags & SYN) != 0, (flags & ACK) != 0
    orig_first = first_where(life.conn, life.processed & life.is_orig, count)
    resp_first = first_where(life.conn, life.processed & ~life.is_orig, count)
    orig_partial = (orig_first >= 0) & ~(syn & ~ack)[np.maximum(orig_first, 0)]
    resp_partial = (resp_first >= 0) & ~syn[np.maximum(resp_first, 0)]
    return orig_partial | resp_partial


def _clean(life: Lifecycle, orig: bool) -> Bool:
    """After each row: the endpoint is ESTABLISHED, or CLOSED coming from ESTABLISHED."""
    orig_before, resp_before = life.endpoint_states(life.joint_before)
    orig_after, resp_after = life.endpoint_states(life.joint_after)
    before, after = (orig_before, orig_after) if orig else (resp_before, resp_after)
    closing = (after == state.CLOSED) & (before != state.CLOSED)
    closed_at = _running_last(closing, group_starts(life.conn))
    came_from = before[np.maximum(closed_at, 0)]
    return (after == state.ESTABLISHED) | (
        (after == state.CLOSED) & (closed_at >= 0) & (came_from == state.ESTABLISHED)
    )


def _running_last(mask: Bool, start: Int) -> Int:
    """For each row, the last row at or before it in its group where ``mask`` holds."""
    marked = np.where(mask, np.arange(len(mask)), -1)
    latest = np.maximum.accumulate(marked) if len(marked) else marked
    return np.where(latest >= start, latest, -1)


def _group_offsets(values: Int, group: Int) -> Int:
    """Each row's value at its group's first row (rows of a group contiguous)."""
    if len(group) == 0:
        return values
    new = np.r_[True, group[1:] != group[:-1]]
    return np.repeat(values[new], np.diff(np.append(np.flatnonzero(new), len(group))))


def _thresholds_crossed(before: Int, after: Int) -> Int:
    """How many of 1, 10, 100, … lie in ``(before, after]``."""
    return np.searchsorted(_POWERS_OF_TEN, after, side="right") - np.searchsorted(
        _POWERS_OF_TEN, before, side="right"
    )


class _Coverage:
    """The union of intervals ``[start, end)`` per group, as sorted disjoint runs, for
    covered-length and hole-count queries (``group`` a non-negative integer)."""

    def __init__(self, group: Int, start: Int, end: Int) -> None:
        order = np.lexsort((start, group))
        group, start, end = group[order], start[order], end[order]
        # an interval starts a new run unless it begins within the earlier ones' reach
        reach = cummax_in(end, group_starts(group)) if len(end) else end
        runs = np.ones(len(start), dtype=bool)
        runs[1:] = (group[1:] != group[:-1]) | (start[1:] > reach[:-1])
        heads = np.flatnonzero(runs)
        self.group, self.start = group[heads], start[heads]
        self.end = np.maximum.reduceat(end, heads) if len(heads) else end
        self.key = self.group * _SPAN + self.start
        lengths = self.end - self.start
        #: covered length of the runs before each run, and at each group's first run
        self.before = np.cumsum(lengths) - lengths

    def _run_at_or_before(self, group: Int, point: Int) -> Int:
        """The last run of ``group`` starting at or before ``point`` (-1: none)."""
        at = np.searchsorted(self.key, group * _SPAN + point, side="right") - 1
        valid = (at >= 0) & (self.group[np.maximum(at, 0)] == group)
        return np.where(valid, at, -1)

    def length(self, group: Int, point: Int) -> Int:
        """Covered length below ``point`` in ``group``."""
        if len(self.key) == 0:
            return np.zeros(len(group), dtype=np.int64)
        run = self._run_at_or_before(group, point)
        at = np.maximum(run, 0)
        group_first = np.searchsorted(self.key, group * _SPAN + np.iinfo(np.int32).min)
        earlier = self.before[at] - self.before[np.minimum(group_first, len(self.key) - 1)]
        inside = np.minimum(point, self.end[at]) - self.start[at]
        return np.where(run >= 0, earlier + inside, 0)

    def holes(self, group: Int, low: Int, high: Int) -> Int:
        """Uncovered runs of ``[low, high)`` in ``group``."""
        if len(self.key) == 0:
            return (high > low).astype(np.int64)
        starting_inside = np.searchsorted(
            self.key, group * _SPAN + high, side="left"
        ) - np.searchsorted(self.key, group * _SPAN + low, side="right")
        at_low = self._run_at_or_before(group, low)
        covers_low = (at_low >= 0) & (self.end[np.maximum(at_low, 0)] > low)
        at_high = self._run_at_or_before(group, high - 1)
        covers_high = (at_high >= 0) & (self.end[np.maximum(at_high, 0)] >= high)
        meeting = starting_inside + covers_low
        uncovered = meeting + 1 - covers_low - covers_high
        return np.where(meeting == 0, 1, uncovered)
