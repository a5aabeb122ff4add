"""Compiled loops of the native reader's numbering: a hash table of key pairs, stream
numbers with relative sequence numbers, and each stream's client.

Every loop walks its rows once, in capture order, and keeps its state in arrays that the
caller reserves (and grows) beforehand: :class:`~hskit.native.keys.KeyIds`,
:class:`~hskit.native.streams.StreamCarry` and the native reader's table. Compiled code
does not check indices, so every index read from a state array is checked against its bounds; a
kernel that finds one out of bounds returns :data:`BROKEN` rather than touch memory.

The loops are compiled ahead of time (:mod:`hskit.compiled`); the modules that use
them import this module on first use (where the loops are not built, numba: half a second).

>>> import numpy as np
>>> slots, first, second = np.full(8, EMPTY, np.int32), np.zeros(4, np.int64), np.zeros(4, np.int64)
>>> ids = np.empty(3, np.int64)
>>> pair_ids(np.array([5, 6, 5]), np.array([1, 1, 1]), slots, first, second, 0, ids)
2
>>> ids.tolist()
[0, 1, 0]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hskit.compiled import exported, inlined
from hskit.schema import ACK, SYN

Int = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
#: hash table slots: key ids (:data:`EMPTY` for none)
Slots = npt.NDArray[np.int32]
#: sequence numbers kept per endpoint pair and direction
Seq = npt.NDArray[np.uint32]

#: a free slot of a hash table
EMPTY = -1
#: what a kernel returns when it finds an index out of bounds (a bug, never the input's)
BROKEN = -1
#: sequence numbers are 32-bit: relative numbers are taken modulo 2**32
_SEQ_MASK = (1 << 32) - 1
#: a pair's stream before its first conversation
NO_STREAM = -1
#: the kinds of row that decide a stream's client, best first (:mod:`hskit.direction`)
SYN_ONLY, SYN_ACK, ANY = 0, 1, 2
#: a stream's kind before any of its rows is seen
NO_KIND = ANY + 1
#: odd 64-bit constants of the splitmix64 finalizer, as signed integers
_GOLDEN, _MIX_1, _MIX_2 = -7046029254386353131, -4658895280553007687, -7723592293110705685


@inlined
def _slot(first: int, second: int, mask: int) -> int:
    """The first slot to probe for ``(first, second)``: splitmix64 of the pair."""
    h = first * _GOLDEN + second
    h = (h ^ (h >> 30)) * _MIX_1
    h = (h ^ (h >> 27)) * _MIX_2
    return (h ^ (h >> 31)) & mask


@exported("int64(int64[::1], int64[::1], int32[::1], int64[::1], int64[::1], int64, int64[::1])")
def pair_ids(
    first: Int, second: Int, slots: Slots, key_first: Int, key_second: Int, count: int, out: Int
) -> int:
    """Write the id of each ``(first[i], second[i])`` to ``out[i]``, registering new pairs
    as ids ``count, count + 1, ...`` in ``key_first``/``key_second``; return the new count.

    ``slots`` (a power of two long, at least twice the keys' capacity, so open addressing
    always finds a free slot) holds the id of the pair in each slot, or :data:`EMPTY`.
    """
    mask = len(slots) - 1
    capacity = min(len(key_first), len(key_second))
    if len(slots) < 2 * capacity or len(out) < len(first) or len(second) < len(first):
        return BROKEN
    # The ids of the last two pairs met (most recent first), with their keys: rows that
    # repeat one of them (runs of one key, two keys taking turns) skip the table.
    recent, recent_a, recent_b = EMPTY, np.int64(0), np.int64(0)
    before, before_a, before_b = EMPTY, np.int64(0), np.int64(0)
    for row in range(len(first)):
        a, b = first[row], second[row]
        if recent != EMPTY and a == recent_a and b == recent_b:
            out[row] = recent
            continue
        if before != EMPTY and a == before_a and b == before_b:
            out[row] = before
            recent, recent_a, recent_b, before, before_a, before_b = (
                before, before_a, before_b, recent, recent_a, recent_b
            )  # fmt: skip
            continue
        slot = _slot(a, b, mask)
        while True:
            found = slots[slot]
            if found == EMPTY:
                if count >= capacity:
                    return BROKEN
                slots[slot] = found = count
                key_first[count], key_second[count] = a, b
                count += 1
                break
            if found < 0 or found >= count:
                return BROKEN
            if key_first[found] == a and key_second[found] == b:
                break
            slot = (slot + 1) & mask
        out[row] = found
        before, before_a, before_b = recent, recent_a, recent_b
        recent, recent_a, recent_b = found, a, b
    return count


@exported("int64(int64[::1], int64[::1], int64, int32[::1])")
def rehash(key_first: Int, key_second: Int, count: int, slots: Slots) -> int:
    """Fill empty ``slots`` with the ``count`` registered pairs; return ``count``."""
    mask = len(slots) - 1
    if len(slots) < 2 * count or count > min(len(key_first), len(key_second)):
        return BROKEN
    for key in range(count):
        slot = _slot(key_first[key], key_second[key], mask)
        while slots[slot] != EMPTY:
            slot = (slot + 1) & mask
        slots[slot] = key
    return count


@exported(
    "int64(int64[::1], boolean[::1], int64[::1], int64[::1], int64[::1], boolean[::1], "
    "int64[::1], boolean[:, ::1], uint32[:, ::1], uint32[:, ::1], int64, int64[::1], int64[::1], "
    "int64[::1])"
)
def number_streams(
    pair: Int, direction: Bool, flags: Int, seq: Int, ack: Int, analyzed: Bool,
    pair_stream: Int, base_set: Bool, base: Seq, rel_base: Seq, count: int,
    stream: Int, rel_seq: Int, rel_ack: Int,
) -> int:  # fmt: skip
    """Number the conversations of rows in capture order, as Wireshark's TCP dissector does;
    return the streams numbered so far.

    Per endpoint pair (``pair`` ids, ``direction`` 0/1 within the pair) the state of its
    latest conversation is kept: ``pair_stream`` (:data:`NO_STREAM` before the first),
    per direction whether the base sequence number is set (``base_set``), to what
    (``base``) and what relative numbers subtract (``rel_base``: the base, or the sequence
    number of that direction's latest SYN-ACK). A pair's first row starts a conversation,
    and so does a SYN without ACK whose sequence number differs from its direction's base
    (a reused 4-tuple). A direction's base is set by the first of: its first analyzed row
    (``seq`` for a SYN, else ``seq - 1``) or the first analyzed row with ACK from the other
    side (``ack - 1``). Rows not ``analyzed`` keep raw numbers; ``ack`` is relative only
    with the ACK flag.
    """
    rows = len(pair)
    pairs = len(pair_stream)
    if (
        min(len(direction), len(flags), len(seq), len(ack), len(analyzed)) < rows
        or min(len(stream), len(rel_seq), len(rel_ack)) < rows
        or min(base_set.shape[0], base.shape[0], rel_base.shape[0]) < pairs
    ):
        return BROKEN
    for row in range(rows):
        p = pair[row]
        if p < 0 or p >= pairs:
            return BROKEN
        side = 1 if direction[row] else 0
        other = 1 - side
        f, s, a = flags[row], seq[row], ack[row]
        syn_only = (f & (SYN | ACK)) == SYN
        if pair_stream[p] == NO_STREAM or (syn_only and base_set[p, side] and base[p, side] != s):
            pair_stream[p] = count
            count += 1
            base_set[p, 0] = base_set[p, 1] = False
        stream[row] = pair_stream[p]
        if not analyzed[row]:
            rel_seq[row], rel_ack[row] = s, a
            continue
        if not base_set[p, side]:
            base_set[p, side] = True
            base[p, side] = rel_base[p, side] = (s if f & SYN else s - 1) & _SEQ_MASK
        if f & ACK and not base_set[p, other]:
            base_set[p, other] = True
            base[p, other] = rel_base[p, other] = (a - 1) & _SEQ_MASK
        if (f & (SYN | ACK)) == (SYN | ACK):
            rel_base[p, side] = s & _SEQ_MASK
        rel_seq[row] = (s - rel_base[p, side]) & _SEQ_MASK
        rel_ack[row] = (a - rel_base[p, other]) & _SEQ_MASK if f & ACK else a
    return count


@exported("int64(int64[::1], int64[::1], int64[::1], int64[::1], int8[::1], int64[::1])")
def update_clients(
    stream: Int, flags: Int, src_key: Int, dst_key: Int, kind: npt.NDArray[np.int8],
    client_key: Int,
) -> int:  # fmt: skip
    """Take rows (capture order) into each stream's client: the sender of its earliest SYN
    without ACK, else the receiver of its earliest SYN-ACK, else the sender of its first
    row. ``kind`` is the best kind met so far per stream (:data:`NO_KIND` for none);
    return the rows taken, or :data:`BROKEN`.
    """
    streams = min(len(kind), len(client_key))
    if min(len(flags), len(src_key), len(dst_key)) < len(stream):
        return BROKEN
    for row in range(len(stream)):
        number = stream[row]
        if number < 0 or number >= streams:
            return BROKEN
        f = flags[row] & (SYN | ACK)
        this = SYN_ONLY if f == SYN else SYN_ACK if f == SYN | ACK else ANY
        if this < kind[number]:
            kind[number] = this
            client_key[number] = dst_key[row] if this == SYN_ACK else src_key[row]
    return len(stream)


@exported("int64(int32[::1], uint16[::1], uint32[::1], int64[::1], boolean[::1])")
def from_client(
    src_ip: npt.NDArray[np.int32], src_port: npt.NDArray[np.uint16],
    stream: npt.NDArray[np.uint32], client_key: Int, out: Bool,
) -> int:  # fmt: skip
    """``out[i]``: row ``i`` is sent by its stream's client (endpoint key ``address id *
    65536 + port``); return the rows written, or :data:`BROKEN`."""
    rows = len(stream)
    if min(len(src_ip), len(src_port), len(out)) < rows:
        return BROKEN
    for row in range(rows):
        number = np.int64(stream[row])
        if number >= len(client_key):
            return BROKEN
        out[row] = np.int64(src_ip[row]) * 65536 + np.int64(src_port[row]) == client_key[number]
    return rows
