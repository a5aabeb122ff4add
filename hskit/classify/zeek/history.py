"""Zeek's ``history`` letters, computed from TCP headers with column masks.

Per packet Zeek (``update_history`` in TCPSessionAdapter.cc) records at most one of
``S H A D F R I Q``, then ``W`` (zero window, ``update_window``), then ``T``
(retransmitted payload, ``update_last_seq``); upper case from the originator, lower
case from the responder:

- ``I`` FIN+RST, ``Q`` another multi-flag packet (SYN+FIN, SYN+RST), ``D`` payload,
  ``A`` pure ACK: the first of each kind per direction only;
- ``S`` SYN, ``H`` SYN-ACK, ``F`` FIN, ``R`` RST: the first, then again whenever the
  sequence number differs from the previous such packet in that direction (for FIN the
  sequence number after its payload). Zeek measures a SYN's sequence number from the
  endpoint's initial one, which a SYN resets unless the endpoint has closed or reset, so
  a SYN repeats its letter only after its sender's FIN or RST;
- ``W``, ``T``: when their count in that direction reaches 1, 10, 100, …
- ``C``: a packet Zeek dropped for its bad checksum (the segments' ``checksum_ok``
  False, without Zeek's ``-C``), counted like ``W`` and ``T``; such a packet gets no
  other letter;
- ``G``: a content gap, given by :mod:`.gaps` (through ``extras``).

Not derived: ``X`` (an application analyzer's limits; hskit runs no application
analyzer).

>>> import numpy as np, pandas as pd
>>> rows = pd.DataFrame({"flags": [0x02, 0x12, 0x10, 0x18, 0x11, 0x11], "seq": [0, 5, 1, 1, 4, 6],
...                      "payload_len": [0, 0, 0, 3, 0, 0], "win": [9] * 6})
>>> history(np.zeros(6, dtype=np.int64), np.array([1, 0, 1, 1, 1, 0], dtype=bool), rows,
...         np.zeros(1, dtype=bool)).tolist()
['ShADFf']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from hskit.classify.streams import cummax_in, first_rows, group_starts
from hskit.schema import ACK, FIN, RST, SYN

#: Zeek's limit on sequence jumps it trusts in SYN and RST packets (TOO_LARGE_SEQ_DELTA).
TOO_LARGE_SEQ_DELTA = 1_048_576
_POWERS_OF_TEN = 10 ** np.arange(10, dtype=np.int64)
_HEADER_BITS = SYN | ACK | FIN | RST
_DATA, _ORIG = 0x20, 0x40  # above the header bits in a row's letter index


def _letter_tables() -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """By letter index (header bits, payload, direction): the flag letter in ASCII (0 for
    none, lower case for the responder) and its dedup group ``kind * 2 + is_orig`` with
    ``kind`` the upper-case letter, H counted as S: Zeek's SYN and SYN-ACK share one "last
    SYN" per direction."""
    letters = np.zeros(_ORIG * 2, dtype=np.uint8)
    groups = np.zeros(_ORIG * 2, dtype=np.uint8)
    for index in range(_ORIG * 2):
        syn, ack, fin, rst = (bool(index & bit) for bit in (SYN, ACK, FIN, RST))
        bits = syn + fin + rst
        if bits > 1:
            letter = "I" if fin and rst else "Q"
        elif bits == 1:
            letter = ("H" if ack else "S") if syn else "F" if fin else "R"
        else:
            letter = "D" if index & _DATA else "A" if ack else ""
        if letter:
            is_orig = bool(index & _ORIG)
            letters[index] = ord(letter if is_orig else letter.lower())
            groups[index] = ord("S" if letter == "H" else letter) * 2 + is_orig
    return letters, groups


_FLAG_LETTERS, _FLAG_GROUPS = _letter_tables()

#: Letters placed around rows' own letters: ``(rows, slot, ASCII letters)``; slot 0
#: comes before a row's flag letter, the others after it in slot order.
Letters = tuple[npt.NDArray[np.int64], int, npt.NDArray[np.uint8]]
#: The slot of content-gap letters: after a row's ``W`` and ``T``, as Zeek learns of a
#: gap from an acknowledgment only after the packet's other letters.
#: Slot of the ``^`` of a SYN/SYN-ACK reversal (after the row's own letters).
REVERSAL_SLOT = 4
GAP_SLOT = 5
_GROUP_F, _GROUP_R, _GROUP_S = (ord(kind) * 2 for kind in "FRS")


def history(
    conn: npt.NDArray[np.int64],
    is_orig: npt.NDArray[np.bool_],
    rows: pd.DataFrame | Mapping[str, npt.NDArray[np.integer]],
    flipped: npt.NDArray[np.bool_],
    processed: npt.NDArray[np.bool_] | None = None,
    extras: Sequence[Letters] = (),
    recased: npt.NDArray[np.bool_] | None = None,
) -> pd.Series:
    """Zeek's history string of each connection.

    ``rows`` (columns ``flags, seq, payload_len, win``) are sorted by ``conn``, in capture
    order within it, and every connection number up to the last has rows; ``flipped[c]``
    is True when Zeek made connection ``c``'s first receiver its originator. Returns a
    ``string`` Series indexed by connection number.

    Only ``processed`` rows (all by default) get flag, ``W`` and ``T`` letters; each
    other row is a packet Zeek dropped for its bad checksum, counted for ``C``/``c``
    (at 1, 10, 100, … per direction). ``extras`` are more letters, as ``(rows, slot,
    letters)``: placed after the row's own letters in the order of their slots (the
    content gaps' ``G``, :data:`GAP_SLOT`). ``recased`` rows take the other case: they
    were sent before a SYN/SYN-ACK reversal swapped the roles (``is_orig`` gives the
    final roles, which group the rows by endpoint).

    Each row gets up to four letters of its own: ``^``, its flag letter, ``W``, ``T``; the
    flag letters are a byte per row, the rare others are inserted among them
    (:func:`_strings`). Per-direction work runs on the rows regrouped by direction
    ("side order").
    """
    if len(conn) == 0:
        return pd.Series(pd.array([], dtype="string"))
    seen = np.ones(len(conn), dtype=bool) if processed is None else np.asarray(processed)
    kept = np.flatnonzero(seen)
    flags = np.asarray(rows["flags"])[kept]
    payload = np.asarray(rows["payload_len"])[kept]
    seq = np.asarray(rows["seq"]).astype(np.uint32, copy=False)[kept]
    kept_conn, kept_orig = conn[kept], is_orig[kept]
    fin, rst = (flags & FIN) != 0, (flags & RST) != 0
    side = kept_conn * 2 + kept_orig
    sides_count = 2 * int(conn[-1]) + 2
    own_rst_before = _after_first(rst, side, side, sides_count)
    own_close_before = _after_first(fin | rst, side, side, sides_count)
    peer_fin_before = _after_first(fin, side, side ^ 1, sides_count)
    flag_letters = np.zeros(len(conn), dtype=np.uint8)
    flag_letters[kept] = _flag_letters(kept_conn, kept_orig, flags, seq, payload, own_close_before)

    first_row = first_rows(conn)
    flips = first_row[flipped[conn[first_row]]]
    letters: list[Letters] = [(flips, 0, np.full(len(flips), ord("^"), dtype=np.uint8))]
    sides = _Sides(side, kept_orig)
    window = np.asarray(rows["win"])[kept]
    zero_window = (window == 0) & ~rst & ~own_rst_before & ~peer_fin_before
    for slot, letter, side_rows in (
        (2, "W", np.flatnonzero(zero_window[sides.order])),
        (3, "T", _retransmitted(sides, flags, seq, payload, own_rst_before)),
    ):
        letters.append(
            _cased(kept[sides.order[_scaled(side_rows, sides.start)]], is_orig, slot, letter)
        )
    dropped = np.flatnonzero(~seen)
    dropped_sides = _Sides(conn[dropped] * 2 + is_orig[dropped], is_orig[dropped])
    counted = _scaled(np.arange(len(dropped)), dropped_sides.start)
    letters.append(_cased(dropped[dropped_sides.order[counted]], is_orig, 1, "C"))
    extras = [*letters, *extras]
    if recased is not None and recased.any():
        flag_letters = np.where(recased, _swapcase(flag_letters), flag_letters)
        extras = [
            (marked, slot, np.where(recased[marked], _swapcase(codes), codes))
            for marked, slot, codes in extras
        ]
    return _strings(flag_letters, extras, conn, first_row)


def _swapcase(codes: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """ASCII letters in the other case (other bytes unchanged)."""
    letter = ((codes | 0x20) >= ord("a")) & ((codes | 0x20) <= ord("z"))
    return np.where(letter, codes ^ 0x20, codes).astype(np.uint8)


def _cased(
    marked: npt.NDArray[np.int64], is_orig: npt.NDArray[np.bool_], slot: int, letter: str
) -> Letters:
    """``(rows, slot, letters)``: ``letter`` for the originator's rows, lower case else."""
    cased = np.where(is_orig[marked], ord(letter), ord(letter.lower())).astype(np.uint8)
    return marked, slot, cased


def _after_first(
    mask: npt.NDArray[np.bool_],
    side: npt.NDArray[np.int64],
    of: npt.NDArray[np.int64],
    sides_count: int,
) -> npt.NDArray[np.bool_]:
    """For each row: has an earlier row of side ``of`` (``conn * 2 + is_orig``) ``mask``?

    >>> side = np.array([1, 0, 1, 1])
    >>> _after_first(np.array([True, False, False, False]), side, side, 2).tolist()
    [False, False, True, True]
    """
    marked = np.flatnonzero(mask)
    first = np.full(sides_count, len(mask))
    np.minimum.at(first, side[marked], marked)
    return first[of] < np.arange(len(mask))


class _Sides:
    """The rows regrouped by side (``conn * 2 + is_orig``), capture order within each.

    ``order`` lists the rows side after side (responders' first); ``start[i]`` is the
    position, in ``order``, of the first row of the side of ``order[i]``.
    """

    def __init__(self, side: npt.NDArray[np.int64], is_orig: npt.NDArray[np.bool_]) -> None:
        # a stable partition: the responders' rows, then the originators'
        self.order = np.concatenate([np.flatnonzero(~is_orig), np.flatnonzero(is_orig)])
        self.start = group_starts(side[self.order])


def _flag_letters(
    conn: npt.NDArray[np.int64],
    is_orig: npt.NDArray[np.bool_],
    flags: npt.NDArray[np.integer],
    seq: npt.NDArray[np.uint32],
    payload: npt.NDArray[np.integer],
    own_close_before: npt.NDArray[np.bool_],
) -> npt.NDArray[np.uint8]:
    """Each row's flag letter (ASCII; 0 where Zeek records none).

    I, Q, D, A: the first per direction; S, H, F, R: also any later one whose sequence
    number differs from the previous such packet's (S and H after the sender closed).
    Rows are ranked by dedup group (a stable sort of bytes; rows without a letter, group
    0, first and skipped), then connection, then row; the groups of F and of R, S come out
    as two blocks, the only ones to compare.
    """
    index = (flags & _HEADER_BITS).astype(np.uint8)
    index |= (payload > 0).astype(np.uint8) * np.uint8(_DATA)
    index |= is_orig.astype(np.uint8) * np.uint8(_ORIG)
    group = _FLAG_GROUPS[index]
    rank = np.argsort(group, kind="stable")
    group = group[rank]
    lettered = np.searchsorted(group, 1)
    ranked, group = rank[lettered:], group[lettered:]
    ranked_conn = conn[ranked]
    same = (group[1:] == group[:-1]) & (ranked_conn[1:] == ranked_conn[:-1])
    keep = np.ones(len(ranked), dtype=bool)
    keep[1:] = ~same
    f_start, f_end, r_start = np.searchsorted(group, [_GROUP_F, _GROUP_F + 2, _GROUP_R])
    for start, end, is_fin in ((f_start, f_end, True), (r_start, len(ranked), False)):
        block = ranked[start:end]
        value = seq[block]
        if is_fin:  # a FIN's sequence number is the one after its payload
            value = value + payload[block].astype(np.uint32)
            repeatable = np.ones(len(block), dtype=bool)
        else:
            repeatable = (group[start:end] < _GROUP_S) | own_close_before[block]
        changed = same[start : max(end - 1, start)] & (value[1:] != value[:-1])
        keep[start + 1 : end] |= changed & repeatable[1:]
    chosen = ranked[keep]
    result = np.zeros(len(conn), dtype=np.uint8)
    result[chosen] = _FLAG_LETTERS[index[chosen]]
    return result


def _retransmitted(
    sides: _Sides,
    flags: npt.NDArray[np.integer],
    seq: npt.NDArray[np.uint32],
    payload: npt.NDArray[np.integer],
    own_rst_before: npt.NDArray[np.bool_],
) -> npt.NDArray[np.int64]:
    """Side-order positions of payload that ends at or below the highest sequence number
    the sender reached.

    Zeek's ``last_seq`` starts at the end of a first SYN (so data on a SYN counts as a
    retransmission) or at the start of any other first packet; a FIN sent when nothing but
    the SYN was, moves it without counting. Sequence numbers are unwrapped per direction
    from 32-bit differences; a RST's payload does not count.
    """
    order, start = sides.order, sides.start
    flags, seq, payload = flags[order], seq[order], payload[order].astype(np.int64)
    syn, fin, rst = (flags & SYN) != 0, (flags & FIN) != 0, (flags & RST) != 0
    first = start == np.arange(len(start))
    step = np.zeros(len(seq), dtype=np.int32)
    step[1:] = (seq[1:] - seq[:-1]).view(np.int32)  # wraps modulo 2**32
    step[first] = 0
    position = np.cumsum(step, dtype=np.int64)
    position -= position[start]
    end = position + np.where(rst, 0, payload) + syn + fin
    # ``last`` before each packet: the first packet's own start, then the highest end so far
    reached = cummax_in(np.where(first & ~syn, position, end), start)
    data = np.flatnonzero(payload > 0)
    last = np.where(first[data], reached[data], reached[data - 1])
    delta = end[data] - last
    trusted = ~((syn | rst)[data] & (np.abs(delta) > TOO_LARGE_SEQ_DELTA))
    fin_after_syn_only = fin[data] & syn[start[data]] & (last == 1)
    own_rst = own_rst_before[order[data]]
    return data[(delta <= 0) & trusted & ~fin_after_syn_only & ~own_rst]


def _scaled(side_rows: npt.NDArray[np.int64], start: npt.NDArray[np.int64]) -> npt.NDArray:
    """Of the marked rows (ascending side-order positions), those where the count so far
    in their side reaches 1, 10, 100, …

    >>> _scaled(np.arange(12), np.zeros(12, dtype=np.int64)).tolist()
    [0, 9]
    """
    count = np.arange(1, len(side_rows) + 1) - group_starts(start[side_rows])
    return side_rows[np.isin(count, _POWERS_OF_TEN)]


def _strings(
    flag_letters: npt.NDArray[np.uint8],
    extras: list[Letters],
    conn: npt.NDArray[np.int64],
    first_row: npt.NDArray[np.int64],
) -> pd.Series:
    """Each connection's history: its rows' flag letters (0: none), with the ``extras``
    ``(rows, slot, letters)`` placed around them, slot 0 before the row's flag letter, the
    others (1 to 7) after it; one byte buffer cut at each connection's offset."""
    rows = np.concatenate([marked for marked, _, _ in extras])
    slots = np.concatenate([np.full(len(marked), slot) for marked, slot, _ in extras])
    letters = np.concatenate([cased for _, _, cased in extras])
    ranked = np.argsort(rows * 8 + slots, kind="stable")
    rows, slots, letters = rows[ranked], slots[ranked], letters[ranked]
    present = flag_letters != 0
    flags_through = np.cumsum(present)  # flag letters up to and including each row
    at = flags_through[rows] - (present[rows] & (slots == 0))
    data = np.insert(flag_letters[present], at, letters)
    offsets = np.zeros(len(first_row) + 1, dtype=np.int32)
    offsets[1:] = flags_through[np.append(first_row[1:], len(conn)) - 1]
    offsets[1:] += np.cumsum(np.bincount(conn[rows], minlength=len(first_row)))
    strings = pa.StringArray.from_buffers(len(first_row), pa.py_buffer(offsets), pa.py_buffer(data))
    return pd.Series(pd.array(strings, dtype="string"))
