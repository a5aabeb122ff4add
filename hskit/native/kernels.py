"""Compiled loops over the capture buffer: the record walks, the fast path of the
decoder, the checksum word sums and the TCP option walk.

The native reader's per-record work, compiled ahead of time (:mod:`hskit.compiled`:
each loop is :func:`~hskit.compiled.exported` with its signature, each helper
:func:`~hskit.compiled.inlined` into them). :func:`decode_tcp` decodes the
common records (link, IP and TCP headers, options and checksum) in one pass; the others
are left to the vectorized decoder, :func:`hskit.native.decode.decode_general`, which
shares this module's option walk and word sums.

The buffer is a capture's bytes, possibly hostile: compiled code checks no bounds, so every
read here is checked against the buffer's length first (a byte past it reads as 0, as
the zero padding after a capture's bytes does) or, in :func:`decode_tcp`, against the
end of its record, itself checked against the buffer's length; every loop advances by
at least a record header, and every output array is sized by the caller from the bytes
walked (no capture can make them grow). What a corrupt length means (where the walk
stops, and why) is decided here exactly as the callers in :mod:`hskit.native.records`
describe it.

:mod:`hskit.native.records`, :mod:`hskit.native.checksum` and :mod:`hskit.native.decode`
import this module on their first call, not ``import hskit`` (where the loops are not
built, that first call loads numba: half a second).

>>> buffer = np.zeros(64, np.uint8); buffer[8] = 20  # one pcap record header, caplen 20
>>> columns = np.zeros((PCAP_COLUMNS, 4), np.int64)
>>> walk_pcap(buffer, 36, 0, 36, False, 1 << 18, columns)
(1, 36, 0)
>>> columns[:, 0].tolist()  # data offset, seconds, fraction, caplen, origlen
[16, 0, 0, 20, 0]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hskit.compiled import exported, inlined

Int = npt.NDArray[np.int64]
Bytes = npt.NDArray[np.uint8]

#: Bytes of a pcap record header: seconds, sub-second fraction, captured, original length.
PCAP_RECORD_HEADER = 16
#: Offset of the captured length in a pcap record header.
PCAP_CAPLEN_AT = 8
#: Rows of :func:`walk_pcap`'s output: data offset, seconds, fraction, caplen, origlen.
PCAP_COLUMNS = 5
#: How a pcap walk ended (third item of :func:`walk_pcap`'s result).
WALKED, AT_END, CORRUPT_LENGTH, CUT_RECORD = 0, 1, 2, 3

#: Bytes of a pcapng block's kind and total length.
PCAPNG_BLOCK_HEAD = 8
#: The fewest bytes of a pcapng block: kind, length, trailing length.
PCAPNG_MIN_BLOCK = 12
#: The fewest bytes of an enhanced packet block with its fixed fields.
PCAPNG_MIN_EPB = 32
#: 32-bit words of a packet block gathered by :func:`walk_packet_blocks`: kind, length,
#: interface (SPB: original length), time stamp high and low, captured and original length.
PCAPNG_WORDS = 7
PCAPNG_EPB, PCAPNG_PB, PCAPNG_SPB = 0x00000006, 0x00000002, 0x00000003
#: The fewest bytes of a simple packet block with its fixed fields (and trailing length).
PCAPNG_SPB_FIXED = 16
#: Time stamp units per second of microseconds and nanoseconds.
_MICROSECONDS, _NANOSECONDS = np.uint64(1_000_000), np.uint64(1_000_000_000)


@inlined
def _u32(buffer: Bytes, at: int, big_endian: bool) -> int:
    """The unsigned 32-bit integer at ``at``; bytes outside the buffer read as 0."""
    if at >= 0 and at + 4 <= buffer.shape[0]:
        first, second = np.int64(buffer[at]), np.int64(buffer[at + 1])
        third, fourth = np.int64(buffer[at + 2]), np.int64(buffer[at + 3])
        if big_endian:
            return (first << 24) | (second << 16) | (third << 8) | fourth
        return (fourth << 24) | (third << 16) | (second << 8) | first
    value = np.int64(0)
    for index in range(4):
        value = (value << 8) | _byte(buffer, at + (index if big_endian else 3 - index))
    return value


@inlined
def _byte(buffer: Bytes, at: int) -> int:
    """The byte at ``at``; 0 outside the buffer."""
    # an if statement: a conditional expression here compiles to a much slower read
    if at >= 0 and at < buffer.shape[0]:
        return np.int64(buffer[at])
    return np.int64(0)


@exported("UniTuple(int64, 3)(uint8[::1], int64, int64, int64, boolean, int64, int64[:, ::1])")
def walk_pcap(
    buffer: Bytes,
    size: int,
    offset: int,
    window_end: int,
    big_endian: bool,
    max_caplen: int,
    columns: Int,
) -> tuple[int, int, int]:
    """Walk the pcap records of ``buffer[:size]`` whose headers start at ``offset`` and
    before ``window_end``: ``(records, offset reached, how it ended)``.

    Each record's data offset, seconds, sub-second fraction, captured and original
    length go to a column of ``columns`` (:data:`PCAP_COLUMNS` rows). The walk ends
    :data:`WALKED` past ``window_end`` or once ``columns`` is full (call again from the
    offset reached), :data:`AT_END` where no record header fits before ``size``, or at
    the offset of the first record whose captured length exceeds ``max_caplen``
    (:data:`CORRUPT_LENGTH`) or runs past ``size`` (:data:`CUT_RECORD`).
    """
    limit = min(size, buffer.shape[0])
    count = 0
    while offset < window_end and count < columns.shape[1]:
        if offset + PCAP_RECORD_HEADER > limit:
            return count, offset, AT_END
        caplen = _u32(buffer, offset + PCAP_CAPLEN_AT, big_endian)
        if caplen > max_caplen:
            return count, offset, CORRUPT_LENGTH
        if offset + PCAP_RECORD_HEADER + caplen > limit:
            return count, offset, CUT_RECORD
        columns[0, count] = offset + PCAP_RECORD_HEADER
        columns[1, count] = _u32(buffer, offset, big_endian)
        columns[2, count] = _u32(buffer, offset + 4, big_endian)
        columns[3, count] = caplen
        columns[4, count] = _u32(buffer, offset + 12, big_endian)
        count += 1
        offset += PCAP_RECORD_HEADER + caplen
    return count, offset, WALKED


@exported("UniTuple(int64, 2)(uint8[::1], int64, int64, int64, boolean, int64, int64[:, ::1])")
def walk_packet_blocks(
    buffer: Bytes,
    size: int,
    offset: int,
    window_end: int,
    big_endian: bool,
    max_block: int,
    words: Int,
) -> tuple[int, int]:
    """Walk the run of pcapng packet blocks from ``offset`` while blocks start at or
    before ``window_end``: ``(blocks, offset reached)``.

    Enhanced packet blocks are taken at their word (lengths of 32 bytes or more; the
    caller checks them afterwards, the walk trusts them); simple and obsolete packet
    blocks only with a length that is a multiple of 4, from 12 to ``max_block``, and
    within ``size``. Any other block ends the run at its offset, for the caller to read.
    Each block's offset and its :data:`PCAPNG_WORDS` first words (in the section's byte
    order) go to a column of ``words`` (``1 + PCAPNG_WORDS`` rows); the run also ends
    when ``words`` is full (call again from the offset reached).
    """
    limit = min(size, buffer.shape[0])
    count = 0
    while offset <= window_end and offset + PCAPNG_MIN_BLOCK <= limit and count < words.shape[1]:
        kind = _u32(buffer, offset, big_endian)
        length = _u32(buffer, offset + 4, big_endian)
        if kind == PCAPNG_EPB:
            if length < PCAPNG_MIN_EPB:
                break
        elif kind in (PCAPNG_SPB, PCAPNG_PB):
            if (
                length < PCAPNG_MIN_BLOCK
                or length % 4
                or length > max_block
                or offset + length > limit
            ):
                break
        else:
            break
        words[0, count] = offset
        for word in range(PCAPNG_WORDS):
            words[1 + word, count] = _u32(buffer, offset + 4 * word, big_endian)
        count += 1
        offset += length
    return count, offset


@exported(
    "Tuple((int64[::1], int64[::1], int64[::1], int64[::1], int32[::1], boolean))(int64[:, :], "
    "boolean[::1], int64[::1], uint64[::1], int64[::1], int32[::1])"
)
def packet_columns(
    walked: Int,
    big_endian: npt.NDArray[np.bool_],
    first_interface: Int,
    units: npt.NDArray[np.uint64],
    tsoffset: Int,
    link_types: npt.NDArray[np.int32],
) -> tuple[Int, Int, Int, Int, npt.NDArray[np.int32], bool]:
    """Per-packet columns of the first ``len(big_endian)`` packet blocks gathered by
    :func:`walk_packet_blocks` (``walked``: their offsets and words, one column each),
    given each block's section byte order and first interface, and each interface's
    time stamp units per second (0: past 64 bits), offset seconds and link type:
    ``(data offset, caplen, origlen, ts_ns, link type, whether every block names a
    described interface)`` (when not, the columns are unfinished).

    Time stamps follow Wireshark's unsigned 64-bit arithmetic (the sub-second product
    wraps for resolutions finer than a nanosecond, as Wireshark's does); they are 0 on an
    interface of units 0, and the most negative int64 (NaT) for a simple packet block.
    Captured lengths are clipped to the block as Wireshark clips them.

    >>> walked = np.array([[0], [6], [48], [0], [4275878552], [1985229328], [12], [60]])
    >>> units = np.array([10**12], np.uint64)
    >>> columns = packet_columns(
    ...     walked, np.zeros(1, np.bool_), np.zeros(1, np.int64), units,
    ...     np.zeros(1, np.int64), np.ones(1, np.int32))
    >>> [int(column[0]) for column in columns[:5]], columns[5]
    ([28, 12, 60, 18364758009537486, 1], True)
    """
    count = big_endian.shape[0]
    data_offset = np.empty(count, np.int64)
    caplen = np.empty(count, np.int64)
    origlen = np.empty(count, np.int64)
    ts_ns = np.empty(count, np.int64)
    link = np.empty(count, np.int32)
    interfaces = units.shape[0]
    for row in range(count):
        block, kind, length = walked[0, row], walked[1, row], walked[2, row]
        third = walked[3, row]
        if kind == PCAPNG_SPB:
            local = np.int64(0)
            origlen[row] = third
            caplen[row] = min(max(min(third, length - 16), 0), length - 16)
            data_offset[row] = block + 12
        else:
            if kind == PCAPNG_EPB:
                local = third
            elif big_endian[row]:
                local = third >> 16
            else:
                local = third & 0xFFFF
            origlen[row] = walked[7, row]
            caplen[row] = min(max(walked[6, row], 0), length - 32)
            data_offset[row] = block + 28
        interface = first_interface[row] + local
        if interface < 0 or interface >= interfaces:
            return data_offset, caplen, origlen, ts_ns, link, False
        link[row] = link_types[interface]
        if kind == PCAPNG_SPB:
            ts_ns[row] = np.iinfo(np.int64).min
            continue
        ts_ns[row] = _timestamp(
            walked[4, row], walked[5, row], units[interface], tsoffset[interface]
        )
    return data_offset, caplen, origlen, ts_ns, link, True


@inlined
def _timestamp(high: int, low: int, per_second: np.uint64, offset_seconds: int) -> int:
    """Nanoseconds since the epoch of a packet block's time stamp words ``high`` and
    ``low`` on an interface of ``per_second`` units per second (0: past 64 bits, read as
    0) and ``offset_seconds``, in Wireshark's unsigned 64-bit arithmetic.

    Microseconds and nanoseconds, the usual units, divide by constants (compiled to
    multiplications); their results are those of the general division exactly (the
    sub-second product cannot wrap below 10^10 units per second).
    """
    seconds = np.int64(0)
    nanoseconds = np.int64(0)
    ticks = (np.uint64(high) << np.uint64(32)) | np.uint64(low)
    if per_second == _MICROSECONDS:
        seconds = np.int64(ticks // _MICROSECONDS)
        nanoseconds = np.int64(ticks % _MICROSECONDS) * 1_000
    elif per_second == _NANOSECONDS:
        seconds = np.int64(ticks // _NANOSECONDS)
        nanoseconds = np.int64(ticks % _NANOSECONDS)
    elif per_second != 0:
        seconds = np.int64(ticks // per_second)
        fraction = (ticks % per_second) * _NANOSECONDS
        nanoseconds = np.int64(fraction // per_second)
    return (seconds + offset_seconds) * 1_000_000_000 + nanoseconds


#: Rows of :func:`walk_packets`' output: data offset, caplen, origlen, ts_ns, link type.
PACKET_COLUMNS = 5
#: How a :func:`walk_packets` run ended: past its window or with its output full (call
#: again), at a block for the caller to read (not a packet block, or cut by the end of
#: the bytes), or at a packet block it does not take (for the general walk, which holds
#: every rule).
PACKETS_WALKED, PACKETS_OTHER_BLOCK, PACKETS_GENERAL = 0, 1, 2


@exported(
    "UniTuple(int64, 3)(uint8[::1], int64, int64, int64, boolean, int64, int64, uint64[::1], "
    "int64[::1], int32[::1], int64[:, ::1], int64)"
)
def walk_packets(
    buffer: Bytes, size: int, offset: int, window_end: int, big_endian: bool,
    max_block: int, first_interface: int, units: npt.NDArray[np.uint64], tsoffset: Int,
    link_types: npt.NDArray[np.int32], columns: Int, count: int,
) -> tuple[int, int, int]:  # fmt: skip
    """Walk the run of pcapng packet blocks from ``offset`` while blocks start at or
    before ``window_end``, straight to their per-packet columns: ``(packets, offset
    reached, how the run ended)``.

    The fast path of the pcapng walk: :func:`walk_packet_blocks` then
    :func:`packet_columns` in one pass, for the blocks that raise no question. Each
    packet's data offset, captured and original length, time stamp and link type go to
    column ``count``, ``count + 1``, ... of ``columns`` (:data:`PACKET_COLUMNS` rows,
    values as :func:`packet_columns` gives them) for a block of the section that starts
    with interface ``first_interface``, of a length that is a multiple of 4, from its
    fixed fields' size to ``max_block``, within ``size``, naming an interface of
    ``units``/``tsoffset``/``link_types``. The run ends :data:`PACKETS_WALKED` past
    ``window_end`` or once ``columns`` is full, :data:`PACKETS_OTHER_BLOCK` at any other
    kind of block, at a packet block cut by ``size`` or where no block fits before it,
    and :data:`PACKETS_GENERAL` at a packet block that fails any other check.

    >>> block = np.zeros(32, np.uint8); block[0], block[4], block[28] = 6, 32, 32
    >>> columns = np.zeros((PACKET_COLUMNS, 2), np.int64)
    >>> walk_packets(block, 32, 0, 0, False, 1 << 18, 0, np.array([10**6], np.uint64),
    ...              np.zeros(1, np.int64), np.ones(1, np.int32), columns, 0)
    (1, 32, 0)
    >>> columns[:, 0].tolist()  # data offset, caplen, origlen, ts_ns, link type
    [28, 0, 0, 0, 1]
    """
    limit = min(size, buffer.shape[0])
    interfaces = min(units.shape[0], tsoffset.shape[0], link_types.shape[0])
    while offset <= window_end and count < columns.shape[1]:
        if offset + PCAPNG_MIN_BLOCK > limit:
            return count, offset, PACKETS_OTHER_BLOCK
        kind = _u32(buffer, offset, big_endian)
        length = _u32(buffer, offset + 4, big_endian)
        if kind != PCAPNG_SPB and kind != PCAPNG_EPB and kind != PCAPNG_PB:
            return count, offset, PACKETS_OTHER_BLOCK
        fixed = PCAPNG_SPB_FIXED if kind == PCAPNG_SPB else PCAPNG_MIN_EPB
        if length < fixed or length % 4 or length > max_block:
            return count, offset, PACKETS_GENERAL
        if offset + length > limit:  # cut by the end of the bytes: the caller stops there
            return count, offset, PACKETS_OTHER_BLOCK
        third = _u32(buffer, offset + 8, big_endian)
        if kind == PCAPNG_SPB:
            local = np.int64(0)
        elif kind == PCAPNG_EPB:
            local = third
        elif big_endian:
            local = third >> 16
        else:
            local = third & 0xFFFF
        interface = first_interface + local
        if interface < 0 or interface >= interfaces:
            return count, offset, PACKETS_GENERAL
        columns[4, count] = link_types[interface]
        if kind == PCAPNG_SPB:
            columns[0, count] = offset + 12
            columns[1, count] = min(third, length - 16)
            columns[2, count] = third
            columns[3, count] = np.iinfo(np.int64).min
        else:
            columns[0, count] = offset + 28
            columns[1, count] = min(_u32(buffer, offset + 20, big_endian), length - 32)
            columns[2, count] = _u32(buffer, offset + 24, big_endian)
            columns[3, count] = _timestamp(
                _u32(buffer, offset + 12, big_endian), _u32(buffer, offset + 16, big_endian),
                units[interface], tsoffset[interface],
            )  # fmt: skip
        count += 1
        offset += length
    return count, offset, PACKETS_WALKED


@exported("int64[::1](uint8[::1], int64[::1], int64[::1])")
def word_sums(buffer: Bytes, start: Int, length: Int) -> Int:
    """Sum of the big-endian 16-bit words of ``buffer[start[i] : start[i] + length[i]]``
    for each ``i`` (an odd length's last byte is the high byte of a final word; bytes
    outside the buffer read as 0).

    >>> word_sums(np.array([1, 2, 3, 4, 5], np.uint8), np.array([0, 1]), np.array([5, 9]))
    array([2310, 1544])
    """
    sums = np.zeros(start.shape[0], dtype=np.int64)
    for row in range(start.shape[0]):
        sums[row] = _word_sum(buffer, start[row], length[row])
    return sums


@inlined
def _word_sum(buffer: Bytes, start: int, length: int) -> int:
    """:func:`word_sums` of one range."""
    stop = min(start + length, buffer.shape[0])
    total = 0
    at = start
    if at < 0:  # never for TCP headers; whole words before the buffer add nothing
        at += (-at) // 2 * 2
        if at < 0:  # the word of byte -1 (read as 0) and byte 0
            total += np.int64(buffer[0]) if stop > 0 else 0
            at = 1
    while at + 1 < stop:
        total += (np.int64(buffer[at]) << 8) | np.int64(buffer[at + 1])
        at += 2
    if at < stop:
        total += np.int64(buffer[at]) << 8
    return total


@exported("int64[::1](uint8[:, :])")
def row_word_sums(rows: Bytes) -> Int:
    """Sum of the big-endian 16-bit words of each row of a 2-D byte array (an odd width's
    last byte is the high byte of a final word).

    >>> row_word_sums(np.array([[0, 1, 0, 2], [1, 0, 0, 0]], np.uint8))
    array([  3, 256])
    """
    sums = np.zeros(rows.shape[0], dtype=np.int64)
    for row in range(rows.shape[0]):
        total = 0
        for column in range(0, rows.shape[1] - 1, 2):
            total += (np.int64(rows[row, column]) << 8) | np.int64(rows[row, column + 1])
        if rows.shape[1] % 2:
            total += np.int64(rows[row, rows.shape[1] - 1]) << 8
        sums[row] = total
    return sums


#: TCP option kinds read by :func:`tcp_options`.
OPTION_END, OPTION_NOP, OPTION_MSS, OPTION_WSCALE = 0, 1, 2, 3
OPTION_SACK_PERM, OPTION_TIMESTAMPS, OPTION_TFO, OPTION_EXPERIMENTAL = 4, 8, 34, 254
#: The experiment id of TCP Fast Open in an experimental option (RFC 7413).
TFO_MAGIC = 0xF989
#: Bytes of the fixed TCP header, before the options.
TCP_FIXED_HEADER = 20
#: Options walked at most per header (40 option bytes of one byte each).
MAX_OPTION_STEPS = 40


@exported(
    "Tuple((int64[::1], int64[::1], int64[::1], int64[::1], boolean[::1], "
    "boolean[::1]))(uint8[::1], int64[::1], int64[::1])"
)
def tcp_options(
    buffer: Bytes, tcp_at: Int, header_len: Int
) -> tuple[Int, Int, Int, Int, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """The options of the TCP headers at ``tcp_at``, walked over their first
    ``header_len`` bytes: ``(mss, wscale, ts_val, ts_ecr, sack_perm, tfo)``.

    MSS, window scale, TSval and TSecr come from the first option of their kind with the
    right length, -1 when there is none; TCP Fast Open is its own option or the
    experimental one with TFO's id. The walk stops at an end-of-list option, at an
    option shorter than 2 bytes (NOP aside) or running past the header, and after
    :data:`MAX_OPTION_STEPS` options.

    >>> header = np.zeros(32, np.uint8); header[12] = 0x80  # 32 bytes: NOP, NOP, TS
    >>> header[20:32] = [1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9]
    >>> [int(column[0]) for column in tcp_options(header, np.array([0]), np.array([32]))]
    [-1, -1, 7, 9, 0, 0]
    """
    count = tcp_at.shape[0]
    mss = np.full(count, -1, dtype=np.int64)
    wscale = np.full(count, -1, dtype=np.int64)
    ts_val = np.full(count, -1, dtype=np.int64)
    ts_ecr = np.full(count, -1, dtype=np.int64)
    sack_perm = np.zeros(count, dtype=np.bool_)
    tfo = np.zeros(count, dtype=np.bool_)
    for row in range(count):
        (mss[row], wscale[row], ts_val[row], ts_ecr[row], sack_perm[row],
         tfo[row]) = _walk_options(buffer, tcp_at[row], tcp_at[row] + header_len[row])  # fmt: skip
    return mss, wscale, ts_val, ts_ecr, sack_perm, tfo


@inlined
def _walk_options(buffer: Bytes, tcp_at: int, end: int) -> tuple[int, int, int, int, bool, bool]:
    """The options of the TCP header at ``tcp_at``, up to ``end``: ``(mss, wscale,
    ts_val, ts_ecr, sack_perm, tfo)`` as :func:`tcp_options` describes them."""
    mss, wscale, ts_val, ts_ecr = np.int64(-1), np.int64(-1), np.int64(-1), np.int64(-1)
    sack_perm, tfo = False, False
    position = tcp_at + TCP_FIXED_HEADER
    steps = 0
    while position < end and steps < MAX_OPTION_STEPS:
        kind = _byte(buffer, position)
        length = np.int64(1)
        if kind != OPTION_NOP:
            length = _byte(buffer, position + 1)
        if kind == OPTION_END or (kind != OPTION_NOP and length < 2):
            break
        if position + length > end:
            break
        value = position + 2
        if kind == OPTION_MSS and length == 4 and mss == -1:
            mss = _u32(buffer, value, True) >> 16
        elif kind == OPTION_WSCALE and length == 3 and wscale == -1:
            wscale = _byte(buffer, value)
        elif kind == OPTION_TIMESTAMPS and length == 10:
            if ts_val == -1:
                ts_val = _u32(buffer, value, True)
            if ts_ecr == -1:
                ts_ecr = _u32(buffer, value + 4, True)
        elif kind == OPTION_SACK_PERM:
            sack_perm = True
        elif kind == OPTION_TFO or (
            kind == OPTION_EXPERIMENTAL
            and length >= 4
            and _u32(buffer, value, True) >> 16 == TFO_MAGIC
        ):
            tfo = True
        position += length
        steps += 1
    return mss, wscale, ts_val, ts_ecr, sack_perm, tfo


# --------------------------------------------------------------------------- fast decode
#: How :func:`decode_tcp` finds the IP header of a link type (column 0 of a row of its
#: ``link_plan``, indexed by LINKTYPE): not at all (the record goes to the general
#: decoder), after an EtherType (columns 1 and 2: offsets of the EtherType and of the
#: payload), at the frame's start (column 3: bit ``1 << v`` set for each IP version ``v``
#: allowed), or after a 4-byte address family (NULL, LOOP).
LINK_GENERAL, LINK_ETHERTYPE, LINK_RAW_IP, LINK_FAMILY = 0, 1, 2, 3
#: Columns of a ``link_plan`` row.
LINK_PLAN_COLUMNS = 4
ETHERTYPE_IPV4, ETHERTYPE_IPV6 = 0x0800, 0x86DD
#: Address families of IPv4 and of IPv6 (BSD, FreeBSD, Darwin) in a NULL/LOOP header.
AF_INET, AF_INET6_BSD, AF_INET6_FREEBSD, AF_INET6_DARWIN = 2, 24, 28, 30
#: Bytes of the address family before the IP header of a NULL/LOOP frame.
FAMILY_HEADER = 4
IPV4_HEADER, IPV6_HEADER = 20, 40
#: IPv4 header fields: total length, flags and fragment offset, protocol, addresses.
IPV4_LENGTH_AT, IPV4_FRAGMENT_AT, IPV4_PROTOCOL_AT, IPV4_SOURCE_AT = 2, 6, 9, 12
#: More-fragments flag and fragment offset: a packet with either is a fragment.
IPV4_FRAGMENTED = 0x3FFF
#: IPv6 header fields: payload length, next header, addresses.
IPV6_LENGTH_AT, IPV6_NEXT_HEADER_AT, IPV6_SOURCE_AT = 4, 6, 8
IPPROTO_TCP = 6
#: TCP header fields: ports, sequence and acknowledgment numbers, data offset and
#: flags, window.
TCP_SEQ_AT, TCP_ACK_AT, TCP_OFFSET_AT, TCP_WINDOW_AT = 4, 8, 12, 14
TCP_FLAGS_MASK = 0x1FF
#: ones'-complement arithmetic is arithmetic modulo this.
ONES_MODULUS = 0xFFFF


@inlined
def _u16(buffer: Bytes, at: int) -> int:
    """The big-endian 16-bit integer at ``at`` (inside the buffer: checked by the caller)."""
    return (np.int64(buffer[at]) << 8) | np.int64(buffer[at + 1])


@inlined
def _u64(buffer: Bytes, at: int) -> int:
    """The big-endian 64-bit integer at ``at``, as a signed int64 (inside the buffer)."""
    value = np.int64(0)
    for index in range(8):
        value = (value << 8) | np.int64(buffer[at + index])
    return value


@inlined
def _halves_sum(value: int) -> int:
    """Sum of the four 16-bit words of a 64-bit value (read as unsigned): the word sum
    of the 8 big-endian bytes it was read from (or of 4, for a value under 2**32)."""
    return (
        ((value >> 48) & 0xFFFF) + ((value >> 32) & 0xFFFF)
        + ((value >> 16) & 0xFFFF) + (value & 0xFFFF)
    )  # fmt: skip


@inlined
def _network(buffer: Bytes, start: int, end: int, link: int, link_plan: Int) -> tuple[int, int]:
    """``(offset of the IP header, IP version)`` of the frame ``buffer[start:end]`` of
    LINKTYPE ``link``; version 0 where the fast path does not decode the link header."""
    if link < 0 or link >= link_plan.shape[0]:
        return 0, 0
    kind = link_plan[link, 0]
    if kind == LINK_ETHERTYPE:
        net = start + link_plan[link, 2]
        if net > end:
            return 0, 0
        ethertype = _u16(buffer, start + link_plan[link, 1])
        if ethertype == ETHERTYPE_IPV4:
            return net, 4
        if ethertype == ETHERTYPE_IPV6:
            return net, 6
    elif kind == LINK_RAW_IP:
        if start < end:
            version = np.int64(buffer[start]) >> 4
            if (link_plan[link, 3] >> version) & 1:
                return start, version
    elif kind == LINK_FAMILY and start + FAMILY_HEADER <= end:
        family = _u32(buffer, start, True)
        if family > 0xFFFF:  # written in the capturing host's byte order
            family = _u32(buffer, start, False)
        if family == AF_INET:
            return start + FAMILY_HEADER, 4
        if family in (AF_INET6_BSD, AF_INET6_FREEBSD, AF_INET6_DARWIN):
            return start + FAMILY_HEADER, 6
    return 0, 0


#: :func:`decode_tcp`'s signature: ``columns`` are :class:`hskit.native.decode.TcpColumns`'s
#: arrays, in field order.
DECODE_TCP_COLUMNS = (
    "int64[::1], boolean[::1], boolean[::1], int8[::1], int64[::1], int64[::1], int64[::1], "
    "int64[::1], uint16[::1], uint16[::1], uint32[::1], uint32[::1], uint16[::1], "
    "uint16[::1], int64[::1], int64[::1], int64[::1], boolean[::1], boolean[::1], "
    "int64[::1], int64[::1], int64[::1], int8[::1]"
)


@exported(
    "UniTuple(int64, 2)(uint8[::1], int64[::1], int64[::1], int64[::1], int32[::1], "
    f"int64[:, ::1], int64[::1], Tuple(({DECODE_TCP_COLUMNS})))"
)
def decode_tcp(
    buffer: Bytes, data_offset: Int, caplen: Int, origlen: Int,
    link_type: npt.NDArray[np.int32], link_plan: Int, general: Int, columns: tuple,
) -> tuple[int, int]:  # fmt: skip
    """Decode the common records in one pass: ``(segments, records left)``.

    A common record is a frame of a link type of ``link_plan`` (see
    :data:`LINK_ETHERTYPE`) with no VLAN tag or LLC header, carrying an IPv4 header
    (options allowed) that is not a fragment or an IPv6 header without extension
    headers, then TCP, with the IP header and the whole TCP header (options included)
    captured. Its fields go to the next row of ``columns`` (the arrays of
    :class:`hskit.native.decode.TcpColumns`, in field order) exactly as
    :func:`hskit.native.decode.decode_general` would decode them; the index of every
    other record goes to the next entry of ``general``, for that decoder.
    """
    (record, quoted, analyzed, ip_version, src_hi, src_lo, dst_hi, dst_lo, src_port,
     dst_port, seq, ack, flags, win, payload_len, mss, wscale, sack_perm, tfo, ts_val,
     ts_ecr, ip_len, checksum_ok) = columns  # fmt: skip
    count, others = 0, 0
    for row in range(data_offset.shape[0]):
        start = data_offset[row]
        end = start + caplen[row]
        net, version = np.int64(0), np.int64(0)
        if start >= 0 and end <= buffer.shape[0]:
            net, version = _network(buffer, start, end, link_type[row], link_plan)
        transport, length, offloaded = np.int64(-1), np.int64(0), False
        if version == 4 and net + IPV4_HEADER <= end:
            first = np.int64(buffer[net])
            fragment = _u16(buffer, net + IPV4_FRAGMENT_AT)
            if (
                first >> 4 == 4
                and (first & 0x0F) * 4 >= IPV4_HEADER
                and fragment & IPV4_FRAGMENTED == 0
                and buffer[net + IPV4_PROTOCOL_AT] == IPPROTO_TCP
            ):
                transport = net + (first & 0x0F) * 4
                length = _u16(buffer, net + IPV4_LENGTH_AT)
                offloaded = length == 0
        elif (
            version == 6
            and net + IPV6_HEADER <= end
            and buffer[net] >> 4 == 6
            and buffer[net + IPV6_NEXT_HEADER_AT] == IPPROTO_TCP
        ):
            transport = net + IPV6_HEADER
            length = _u16(buffer, net + IPV6_LENGTH_AT) + IPV6_HEADER
            offloaded = length == IPV6_HEADER
        # (a full ``record`` column cannot be: it is sized for every record of the bytes)
        if transport < 0 or transport + TCP_FIXED_HEADER > end or count >= record.shape[0]:
            general[others] = row
            others += 1
            continue
        header_len = (np.int64(buffer[transport + TCP_OFFSET_AT]) >> 4) * 4
        if header_len < TCP_FIXED_HEADER or transport + header_len > end:
            general[others] = row
            others += 1
            continue
        # lengths: a zero IP length (segmentation offload) is the rest of the frame; an
        # IP length claiming more than the frame held on the wire counts what was there
        on_wire = origlen[row] - (net - start)
        total = on_wire if offloaded else length
        tcp_len = min(total, on_wire) - (transport - net)
        if version == 4:
            source, destination = np.int64(-1), np.int64(-1)
            source_lo = _u32(buffer, net + IPV4_SOURCE_AT, True)
            destination_lo = _u32(buffer, net + IPV4_SOURCE_AT + 4, True)
        else:
            source = _u64(buffer, net + IPV6_SOURCE_AT)
            source_lo = _u64(buffer, net + IPV6_SOURCE_AT + 8)
            destination = _u64(buffer, net + IPV6_SOURCE_AT + 16)
            destination_lo = _u64(buffer, net + IPV6_SOURCE_AT + 24)
        src_hi[count], src_lo[count] = source, source_lo
        dst_hi[count], dst_lo[count] = destination, destination_lo
        record[count], quoted[count], analyzed[count] = row, False, True
        ip_version[count] = version
        src_port[count] = _u16(buffer, transport)
        dst_port[count] = _u16(buffer, transport + 2)
        seq[count] = _u32(buffer, transport + TCP_SEQ_AT, True)
        ack[count] = _u32(buffer, transport + TCP_ACK_AT, True)
        flags[count] = _u16(buffer, transport + TCP_OFFSET_AT) & TCP_FLAGS_MASK
        win[count] = _u16(buffer, transport + TCP_WINDOW_AT)
        payload_len[count] = max(tcp_len - header_len, 0)
        (mss[count], wscale[count], ts_val[count], ts_ecr[count], sack_perm[count],
         tfo[count]) = _walk_options(buffer, transport, transport + header_len)  # fmt: skip
        ip_len[count] = total
        # the checksum, where the whole segment was captured (as checksum.checksum_ok)
        checksum_ok[count] = -1
        if end - transport >= tcp_len and tcp_len >= TCP_FIXED_HEADER:
            # the pseudo-header's address words, from the addresses read (IPv4: no high half)
            addresses = _halves_sum(source_lo) + _halves_sum(destination_lo)
            if version == 6:
                addresses += _halves_sum(source) + _halves_sum(destination)
            words = (
                addresses + IPPROTO_TCP + (tcp_len >> 16) + (tcp_len & 0xFFFF)
                + _word_sum(buffer, transport, tcp_len)
            )  # fmt: skip
            checksum_ok[count] = 1 if words % ONES_MODULUS == 0 else 0
        count += 1
    return count, others
