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
    conversations = int(conv[-1]) + 1
    first_row = order[np.flatnonzero(boundary)]
    number = np.empty(conversations, dtype=np.int64)
    number[np.argsort(first_row, kind="stable")] = np.arange(conversations)

    rel_seq_s = np.where(analyzed_s, (seq_s - bases.value[conv, dir_s]) % _MOD, seq_s)
    relative_ack = analyzed_s & ((flags_s & ACK) != 0)
    rel_ack_s = np.where(relative_ack, (ack_s - bases.value[conv, 1 - dir_s]) % _MOD, ack_s)
    result = StreamColumns(
        np.empty(count, np.int64), np.empty(count, np.int64), np.empty(count, np.int64)
    )
    result.stream[order] = number[conv]
    result.rel_seq[order] = rel_seq_s
    result.rel_ack[order] = rel_ack_s
    return result


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
