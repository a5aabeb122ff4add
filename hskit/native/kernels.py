"""Compiled loops over the capture buffer: the record walks and the checksum word sums.

The native reader's per-record work, compiled with numba. The buffer is a capture's
bytes, possibly hostile: numba checks no bounds, so every read here is checked against
the buffer's length first (a byte past it reads as 0, as the zero padding after a
capture's bytes does), every loop advances by at least a record header, and every output
array is sized by the caller from the bytes walked (no capture can make them grow).
What a corrupt length means (where the walk stops, and why) is decided here exactly as
the callers in :mod:`hskit.native.records` describe it.

numba takes half a second to import: :mod:`hskit.native.records` and
:mod:`hskit.native.checksum` import this module on their first call, not ``import hskit``.

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
from numba import njit

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


@njit(cache=True, nogil=True)
def _u32(buffer: Bytes, at: int, big_endian: bool) -> int:
    """The unsigned 32-bit integer at ``at``; bytes past the buffer read as 0."""
    value = 0
    for index in range(4):
        position = at + (index if big_endian else 3 - index)
        byte = buffer[position] if 0 <= position < buffer.shape[0] else 0
        value = (value << 8) | np.int64(byte)
    return value


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
def word_sums(buffer: Bytes, start: Int, length: Int) -> Int:
    """Sum of the big-endian 16-bit words of ``buffer[start[i] : start[i] + length[i]]``
    for each ``i`` (an odd length's last byte is the high byte of a final word; bytes
    outside the buffer read as 0).

    >>> word_sums(np.array([1, 2, 3, 4, 5], np.uint8), np.array([0, 1]), np.array([5, 9]))
    array([2310, 1544])
    """
    sums = np.zeros(start.shape[0], dtype=np.int64)
    for row in range(start.shape[0]):
        stop = min(start[row] + length[row], buffer.shape[0])
        total = 0
        at = start[row]
        if at < 0:  # never for TCP headers; whole words before the buffer add nothing
            at += (-at) // 2 * 2
            if at < 0 and stop > 0:
                total += np.int64(buffer[0])
                at = 1
        while at + 1 < stop:
            total += (np.int64(buffer[at]) << 8) | np.int64(buffer[at + 1])
            at += 2
        if at < stop:
            total += np.int64(buffer[at]) << 8
        sums[row] = total
    return sums
