"""Stream numbers and relative sequence numbers, computed the way Wireshark's TCP dissector does.

Wireshark keeps one conversation per address/port pair and starts a new one when a SYN
(without ACK) arrives whose sequence number differs from the base sequence number that
conversation already holds for that direction (a reused 4-tuple). Conversations are
numbered (``tcp.stream``) in order of first appearance. Each direction's base sequence
number is set by the first of: its first segment (``seq`` for a SYN, else ``seq - 1``)
or the first segment with ACK from the other side (``ack - 1``). ``tcp.ack`` is relative
only when the ACK flag is set, and the raw field otherwise.

>>> import numpy as np
>>> keys = np.array([1, 2, 1]), np.array([2, 1, 2])
>>> flags, seq, ack = np.array([2, 0x12, 0x10]), np.array([100, 500, 101]), np.array([0, 101, 501])
>>> streams(*keys, flags, seq, ack).rel_ack.tolist()
[0, 1, 1]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from hskit.native.keys import KeyIds
from hskit.schema import ACK, SYN

Int = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
_NEVER = np.iinfo(np.int64).max
_MOD = 1 << 32


@dataclass
class StreamColumns:
    stream: Int
    rel_seq: Int
    rel_ack: Int


def tuple_ids(src_key: Int, dst_key: Int) -> tuple[Int, Int]:
    """``(id of the unordered endpoint pair, direction 0/1)`` for each segment."""
    low, high = np.minimum(src_key, dst_key), np.maximum(src_key, dst_key)
    if len(low) and int(low.min()) >= 0 and int(high.max()) < 1 << 31:
        # Both keys fit in one 64-bit integer: a single hashing pass.
        pair, _ = pd.factorize((low << 32) | high)
        return pair.astype(np.int64, copy=False), (src_key > dst_key).astype(np.int64)
    low_code, _ = pd.factorize(low)
    high_code, high_uniques = pd.factorize(high)
    pair, _ = pd.factorize(low_code.astype(np.int64) * len(high_uniques) + high_code)
    return pair.astype(np.int64), (src_key > dst_key).astype(np.int64)


@dataclass
class _Bases:
    """Per conversation and direction: when (sorted position) and to what the base is set."""

    when: Int  # shape (conversations, 2)
    value: Int


def _bases(
    conv: Int, direction: Int, flags: Int, seq: Int, ack: Int, analyzed: Bool, count: int
) -> _Bases:
    when = np.full((count, 2), _NEVER, dtype=np.int64)
    value = np.zeros((count, 2), dtype=np.int64)
    own_value = np.where(flags & SYN, seq, seq - 1)
    for side in (0, 1):
        # The side's first own segment, and the other side's first segment with ACK.
        for mask, candidate in (
            (analyzed & (direction == side), own_value),
            (analyzed & (direction != side) & ((flags & ACK) != 0), ack - 1),
        ):
            at = np.flatnonzero(mask)
            convs = conv[at]
            first = np.ones(len(at), dtype=bool)
            first[1:] = convs[1:] != convs[:-1]
            at, convs = at[first], convs[first]
            earlier = at < when[convs, side]
            when[convs[earlier], side] = at[earlier]
            value[convs[earlier], side] = candidate[at[earlier]] % _MOD
    return _Bases(when, value)


def _predicted_starts(
    boundary: Bool, pair_first: Bool, direction: Int, flags: Int, seq: Int, ack: Int,
    analyzed: Bool,
) -> tuple[Bool, Int, _Bases]:  # fmt: skip
    """Where Wireshark would start a conversation, given conversations split at ``boundary``.

    Also returns the conversation of each row and the bases for that split.
    """
    conv = np.cumsum(boundary) - 1
    count = int(conv[-1]) + 1
    bases = _bases(conv, direction, flags, seq, ack, analyzed, count)
    predicted = pair_first.copy()
    syn = np.flatnonzero(((flags & (SYN | ACK)) == SYN) & ~pair_first)
    side = direction[syn]
    # A SYN that starts a conversation is judged against the previous one (all of it).
    current = conv[syn] - boundary[syn]
    when = bases.when[current, side]
    known = np.where(boundary[syn], when != _NEVER, when < syn)
    predicted[syn] = known & (bases.value[current, side] != seq[syn])
    return predicted, conv, bases


def streams(
    src_key: Int, dst_key: Int, flags: Int, seq: Int, ack: Int, analyzed: Bool | None = None
) -> StreamColumns:
    """``tcp.stream``, relative ``tcp.seq`` and ``tcp.ack`` for segments in capture order.

    ``src_key``/``dst_key`` identify endpoints (address and port) as integers. Rows not
    ``analyzed`` (TCP headers quoted in ICMP errors, first IP fragments) take part in
    conversation numbering only: they set no base and keep raw sequence numbers.
    """
    count = len(flags)
    if count == 0:
        empty = np.zeros(0, dtype=np.int64)
        return StreamColumns(empty, empty, empty)
    if analyzed is None:
        analyzed = np.ones(count, dtype=bool)
    pair, direction = tuple_ids(src_key, dst_key)
    split = _split(pair, direction, flags, seq, ack, analyzed)
    first_row = split.order[np.flatnonzero(split.boundary)]
    number = np.empty(len(first_row), dtype=np.int64)
    number[np.argsort(first_row, kind="stable")] = np.arange(len(first_row))
    return StreamColumns(split.in_row_order(number[split.conv]), split.rel_seq, split.rel_ack)


class StreamCarry:
    """Stream numbering continued chunk after chunk, as if the chunks were one capture.

    What a conversation carries into the next chunk is its stream number and, per
    direction, its base sequence number once set. Each chunk is numbered with two
    leading rows per conversation met before, which set exactly those bases, so the
    rules of :func:`streams` apply unchanged.

    >>> carry = StreamCarry()
    >>> keys = np.array([1, 2]), np.array([2, 1])
    >>> first = carry.streams(*keys, np.array([2, 0x12]), np.array([100, 500]), np.array([0, 101]))
    >>> later = carry.streams(*keys, np.array([0x10, 0x10]), np.array([101, 501]),
    ...                       np.array([501, 101]))
    >>> later.stream.tolist(), later.rel_seq.tolist(), later.rel_ack.tolist()
    ([0, 0], [1, 1], [1, 1])
    """

    def __init__(self) -> None:
        self._pairs = KeyIds()
        #: per endpoint pair: stream number of its latest conversation
        self._stream = np.zeros(0, dtype=np.int64)
        #: per endpoint pair and direction: is the latest conversation's base set, and to what
        self._base_set = np.zeros((0, 2), dtype=bool)
        self._base = np.zeros((0, 2), dtype=np.int64)
        #: streams numbered so far
        self.count = 0

    def streams(
        self, src_key: Int, dst_key: Int, flags: Int, seq: Int, ack: Int,
        analyzed: Bool | None = None,
    ) -> StreamColumns:  # fmt: skip
        """:func:`streams` of the next chunk, continuing the conversations of earlier ones."""
        count = len(flags)
        if count == 0:
            empty = np.zeros(0, dtype=np.int64)
            return StreamColumns(empty, empty, empty)
        if analyzed is None:
            analyzed = np.ones(count, dtype=bool)
        known = len(self._pairs)
        pair = self._pairs.ids(np.minimum(src_key, dst_key), np.maximum(src_key, dst_key))
        self._grow(len(self._pairs))
        carried = np.unique(pair[pair < known])
        lead = 2 * len(carried)
        # Two leading rows per carried conversation: a SYN per direction whose base is set.
        base_set = self._base_set[carried].ravel()
        columns = [
            (np.repeat(carried, 2), pair),
            (np.tile(np.array([0, 1], dtype=np.int64), len(carried)),
             (src_key > dst_key).astype(np.int64)),
            (np.where(base_set, SYN, 0), flags.astype(np.int64)),
            (self._base[carried].ravel(), seq.astype(np.int64)),
            (np.zeros(lead, dtype=np.int64), ack.astype(np.int64)),
            (base_set, analyzed),
        ]  # fmt: skip
        pair_all, direction, flags_all, seq_all, ack_all, analyzed_all = (
            np.concatenate(parts) for parts in columns
        )
        split = _split(pair_all, direction, flags_all, seq_all, ack_all, analyzed_all)

        # A conversation starting at a leading row continues a carried stream; the others
        # are numbered on from the streams already counted, in order of first appearance.
        first_row = split.order[np.flatnonzero(split.boundary)]
        continued = first_row < lead
        number = np.empty(len(first_row), dtype=np.int64)
        number[continued] = self._stream[pair_all[first_row[continued]]]
        new = np.flatnonzero(~continued)
        new = new[np.argsort(first_row[new], kind="stable")]
        number[new] = self.count + np.arange(len(new))
        self.count += len(new)

        # Each pair's latest conversation is what the next chunk continues.
        pair_sorted = pair_all[split.order]
        last = np.ones(len(pair_sorted), dtype=bool)
        last[:-1] = pair_sorted[1:] != pair_sorted[:-1]
        last_conv, last_pair = split.conv[last], pair_sorted[last]
        self._stream[last_pair] = number[last_conv]
        self._base_set[last_pair] = split.bases.when[last_conv] != _NEVER
        self._base[last_pair] = split.base[np.flatnonzero(last)]

        stream = split.in_row_order(number[split.conv])
        return StreamColumns(stream[lead:], split.rel_seq[lead:], split.rel_ack[lead:])

    def _grow(self, pairs: int) -> None:
        extra = pairs - len(self._stream)
        if extra:
            self._stream = np.concatenate([self._stream, np.zeros(extra, dtype=np.int64)])
            self._base_set = np.concatenate([self._base_set, np.zeros((extra, 2), dtype=bool)])
            self._base = np.concatenate([self._base, np.zeros((extra, 2), dtype=np.int64)])


@dataclass
class _Split:
    """Rows split into conversations: sorted by pair (capture order inside) and numbered."""

    order: Int  # row of each sorted position
    conv: Int  # conversation of each sorted position, 0-based in sorted order
    boundary: Bool  # the sorted position starts a conversation
    bases: _Bases
    rel_seq: Int  # in row order
    rel_ack: Int
    base: Int  # per sorted position, both directions' base then (SYN-ACKs re-base)

    def in_row_order(self, sorted_values: Int) -> Int:
        """Values given per sorted position, put back in row order."""
        values = np.empty(len(sorted_values), dtype=np.int64)
        values[self.order] = sorted_values
        return values


def _split(pair: Int, direction: Int, flags: Int, seq: Int, ack: Int, analyzed: Bool) -> _Split:
    """Conversations of the rows of each endpoint pair, and their relative numbers."""
    count = len(pair)
    order = np.argsort(pair, kind="stable")  # rows grouped by pair, capture order inside
    pair_s, dir_s, flags_s, seq_s, ack_s, analyzed_s = (
        a[order] for a in (pair, direction, flags, seq, ack, analyzed)
    )
    flags_s, seq_s, ack_s = (a.astype(np.int64) for a in (flags_s, seq_s, ack_s))
    pair_first = np.ones(count, dtype=bool)
    pair_first[1:] = pair_s[1:] != pair_s[:-1]
    boundary = pair_first | _syn_seq_changes(pair_s, dir_s, flags_s, seq_s)

    # Fix the first disagreement of every pair until the split is self-consistent: the
    # decision at a SYN depends only on the conversation before it, so this converges.
    while True:
        predicted, conv, bases = _predicted_starts(
            boundary, pair_first, dir_s, flags_s, seq_s, ack_s, analyzed_s
        )
        wrong = np.flatnonzero(predicted != boundary)
        if len(wrong) == 0:
            break
        first_of_pair = np.ones(len(wrong), dtype=bool)
        first_of_pair[1:] = pair_s[wrong[1:]] != pair_s[wrong[:-1]]
        boundary[wrong[first_of_pair]] = predicted[wrong[first_of_pair]]

    # The last prediction agreed with ``boundary``: its conversations and bases are final.
    base = _rebased(conv, dir_s, flags_s, seq_s, analyzed_s, bases)
    rows = np.arange(count)
    rel_seq_s = np.where(analyzed_s, (seq_s - base[rows, dir_s]) % _MOD, seq_s)
    relative_ack = analyzed_s & ((flags_s & ACK) != 0)
    rel_ack_s = np.where(relative_ack, (ack_s - base[rows, 1 - dir_s]) % _MOD, ack_s)
    rel_seq, rel_ack = np.empty(count, np.int64), np.empty(count, np.int64)
    rel_seq[order] = rel_seq_s
    rel_ack[order] = rel_ack_s
    return _Split(order, conv, boundary, bases, rel_seq, rel_ack, base)


def _rebased(conv: Int, direction: Int, flags: Int, seq: Int, analyzed: Bool, bases: _Bases) -> Int:
    """Each sorted row's base sequence number of both directions, ``(rows, 2)``.

    A SYN-ACK whose sequence number differs from its sender's base re-bases that
    direction from there on (Wireshark marks it ``tcp.analysis.reused_ports``, and keeps
    the stream): after any SYN-ACK, its sender's base is that SYN-ACK's sequence number.
    Rows are grouped by conversation, capture order inside.
    """
    count = len(conv)
    base = bases.value[conv].copy()
    conv_start = np.flatnonzero(np.r_[True, conv[1:] != conv[:-1]])
    first_row = conv_start[np.cumsum(np.r_[True, conv[1:] != conv[:-1]]) - 1]
    synack = analyzed & ((flags & (SYN | ACK)) == (SYN | ACK))
    for side in (0, 1):
        at = np.where(synack & (direction == side), np.arange(count), -1)
        latest = np.maximum.accumulate(at)
        after = latest >= first_row  # a SYN-ACK of this side earlier in the conversation
        base[after, side] = seq[latest[after]] % _MOD
    return base


def _syn_seq_changes(pair: Int, direction: Int, flags: Int, seq: Int) -> Bool:
    """SYNs whose sequence number differs from the previous SYN of their pair and direction.

    These are the usual reuses of a 4-tuple, a good first guess for the conversation split.
    """
    changes = np.zeros(len(pair), dtype=bool)
    syn = np.flatnonzero((flags & (SYN | ACK)) == SYN)
    syn = syn[np.lexsort((syn, direction[syn], pair[syn]))]
    same_group = (pair[syn][1:] == pair[syn][:-1]) & (direction[syn][1:] == direction[syn][:-1])
    changes[syn[1:][same_group & (seq[syn][1:] != seq[syn][:-1])]] = True
    return changes
