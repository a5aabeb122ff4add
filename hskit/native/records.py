"""Walk the record headers of a pcap or pcapng file (optionally gzip-compressed).

The walk over record headers is the only per-record Python work of the native reader;
everything it returns is a NumPy column, one entry per record (= Wireshark frame).

>>> records = read_records(Path("capture.pcap"), progress=False)  # doctest: +SKIP
>>> records.data_offset[:2], records.link_type[:2]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hskit.errors import CaptureTooLarge, HskitError, NotACapture, UnsupportedLinkType
from hskit.progress import byte_progress

#: A record whose captured length exceeds this is corrupt (the walk stops there).
MAX_CAPLEN = 256 * 1024
#: Zero bytes appended to the buffer so that header gathers never index past its end.
PADDING = 512
#: ``ts_ns`` of a record without a timestamp (a pcapng simple packet block): NaT.
NO_TIMESTAMP = np.iinfo(np.int64).min
#: Bytes walked between two progress updates.
PROGRESS_STEP = 4 * 1024 * 1024
#: Environment variable: the most bytes a compressed capture may decompress to.
MAX_DECOMPRESSED_VARIABLE = "HSKIT_MAX_DECOMPRESSED"
#: The cap on decompressed size when ``HSKIT_MAX_DECOMPRESSED`` is not set: 1 GiB.
DEFAULT_MAX_DECOMPRESSED = 1 << 30
#: Bytes inflated per step, so that the cap is checked before a bomb fills memory.
_INFLATE_STEP = 16 * 1024 * 1024
#: ``HSKIT_MAX_DECOMPRESSED``'s syntax: bytes, or a number with a binary K/M/G/T suffix.
_SIZE_TEXT = re.compile(r"\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*", re.IGNORECASE)
_SIZE_SUFFIX = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
#: Fewer bytes than a record of a TCP segment takes: the columns reserved for one call
#: of a compiled walk hold the records of that many bytes (more calls walk smaller ones).
_SMALL_RECORD = 64

_GZIP_MAGIC = b"\x1f\x8b"
_PCAP_MAGICS: dict[bytes, tuple[str, int]] = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000),  # microseconds, little-endian
    b"\xa1\xb2\xc3\xd4": (">", 1_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),  # nanoseconds
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
#: Kuznetzov's modified pcap and other pcap variants with longer record headers.
_PCAP_VARIANT_MAGICS = (b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34")
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_SHB, _IDB, _PB, _SPB, _EPB = 0x0A0D0D0A, 0x00000001, 0x00000002, 0x00000003, 0x00000006
_PACKET_BLOCKS = frozenset((_EPB, _PB, _SPB))
_OPT_TSRESOL, _OPT_TSOFFSET = 9, 14
#: ``if_tsresol`` bit choosing a power of two (else of ten); the low 7 bits are the exponent.
_TSRESOL_BASE_2 = 0x80
#: The largest exponents whose units per second fit Wireshark's 64-bit count (10^19, 2^63);
#: past them Wireshark reads every time stamp of the interface as 0.
_MAX_TSRESOL_EXPONENT = {10: 19, 2: 63}
#: pcap sub-second field units per second: microseconds, nanoseconds (by ns per unit).
_UNITS_PER_SECOND = {1_000: 1_000_000, 1: 1_000_000_000}
#: Wireshark keeps a time stamp's nanoseconds in 32 bits: a corrupt sub-second field of
#: 2^32 ns or more keeps only its low 32 bits.
_NANOSECOND_BITS = 0xFFFF_FFFF


@dataclass
class Records:
    """One entry per record of the file, in file order, plus the padded byte buffer."""

    #: the whole (decompressed) file followed by ``PADDING`` zero bytes.
    buffer: npt.NDArray[np.uint8]
    #: offset of each record's packet data in ``buffer``.
    data_offset: npt.NDArray[np.int64]
    caplen: npt.NDArray[np.int64]
    origlen: npt.NDArray[np.int64]
    #: capture time, nanoseconds since the Unix epoch (``NO_TIMESTAMP`` when unknown).
    ts_ns: npt.NDArray[np.int64]
    #: LINKTYPE of the interface that captured each record.
    link_type: npt.NDArray[np.int32]
    #: bytes at the end of the file that did not form a whole record.
    bytes_lost: int = 0
    #: why the walk stopped early, or None when it reached the end cleanly.
    stop_reason: str | None = None
    #: pcapng: ``(offset, length)`` of each section header and interface description block.
    header_blocks: list[tuple[int, int]] = field(default_factory=list)
    #: what was odd about the time stamps (corrupt fields read as Wireshark reads them).
    timestamp_notes: list[str] = field(default_factory=list)

    def select(self, rows: npt.NDArray[np.int64]) -> Records:
        """The records at ``rows`` (indices, in order), over the same buffer; the walk's
        notes stay with the whole.

        >>> records = Records(np.zeros(8, np.uint8), *(np.arange(3) for _ in range(4)),
        ...                   np.ones(3, np.int32))
        >>> records.select(np.array([0, 2])).data_offset.tolist()
        [0, 2]
        """
        return Records(
            self.buffer,
            self.data_offset[rows],
            self.caplen[rows],
            self.origlen[rows],
            self.ts_ns[rows],
            self.link_type[rows],
        )


def max_decompressed() -> int:
    """The cap on a compressed capture's decompressed size, in bytes.

    ``$HSKIT_MAX_DECOMPRESSED`` (bytes, or with a binary suffix: ``512M``, ``4G``), else
    :data:`DEFAULT_MAX_DECOMPRESSED` (1 GiB).

    >>> max_decompressed() == DEFAULT_MAX_DECOMPRESSED or MAX_DECOMPRESSED_VARIABLE in os.environ
    True
    """
    text = os.environ.get(MAX_DECOMPRESSED_VARIABLE)
    if text is None:
        return DEFAULT_MAX_DECOMPRESSED
    match = _SIZE_TEXT.fullmatch(text)
    if match is None:
        raise HskitError(
            f"{MAX_DECOMPRESSED_VARIABLE}={text!r} is not a size: give bytes, or a number "
            "with K, M, G or T (binary units), e.g. 4G"
        )
    return int(match[1]) * _SIZE_SUFFIX[match[2].upper()]


def load_buffer(path: Path) -> tuple[npt.NDArray[np.uint8], int]:
    """``(buffer, size)``: the file's bytes followed by ``PADDING`` zero bytes.

    A file starting with the gzip magic (whatever its name) is decompressed; a gzip
    stream cut short yields what was decompressed before the cut. Raises
    :class:`CaptureTooLarge` when it decompresses to more than :func:`max_decompressed`.
    """
    size = path.stat().st_size
    buffer = np.zeros(size + PADDING, dtype=np.uint8)
    with path.open("rb") as file:
        view = memoryview(buffer)[:size]
        filled = 0
        while filled < size and (count := file.readinto(view[filled:])):
            filled += count
    if bytes(buffer[:2]) != _GZIP_MAGIC:
        return buffer, filled
    limit = max_decompressed()
    data = _gunzip(bytes(buffer[:filled]), limit)
    if data is None:
        raise too_large(path, limit)
    size = len(data)
    data += bytes(PADDING)  # in place: the buffer is the bytearray, not a copy
    return np.frombuffer(data, dtype=np.uint8), size


def _gunzip(raw: bytes, limit: int) -> bytearray | None:
    """The gzip members of ``raw`` decompressed, step by step; None past ``limit`` bytes."""
    data = bytearray()
    while raw.startswith(_GZIP_MAGIC):
        inflater = zlib.decompressobj(wbits=31)
        pending = raw
        try:
            while not inflater.eof:
                step = inflater.decompress(pending, _INFLATE_STEP)
                pending = inflater.unconsumed_tail
                data += step
                if len(data) > limit:
                    return None
                if not step and not pending:
                    break  # the stream is cut short: what came before it stays
        except zlib.error:
            break
        if not inflater.eof:
            break
        raw = inflater.unused_data
    return data


def too_large(path: Path, limit: int) -> CaptureTooLarge:
    """The error for a compressed capture that decompresses to more than ``limit``."""
    return CaptureTooLarge(
        f"{path} decompresses to more than {_size_text(limit)} (the native reader's cap "
        f"on compressed captures, which bounds the memory a small file can take): set "
        f"{MAX_DECOMPRESSED_VARIABLE} to a larger size (e.g. {MAX_DECOMPRESSED_VARIABLE}"
        f"={_size_text(4 * limit).replace(' ', '')}) if the capture is trusted and "
        f"memory allows"
    )


def _size_text(size: int) -> str:
    """``size`` in the largest binary unit that divides it.

    >>> _size_text(1 << 30), _size_text(1536)
    ('1 GiB', '1536 B')
    """
    for suffix in ("T", "G", "M", "K"):
        if size % _SIZE_SUFFIX[suffix] == 0:
            return f"{size // _SIZE_SUFFIX[suffix]} {suffix}iB"
    return f"{size} B"


def read_records(path: Path, *, progress: bool | None) -> Records:
    """Read ``path`` and walk its record headers.

    Raises :class:`NotACapture` when the file is neither pcap nor pcapng.
    """
    buffer, size = load_buffer(path)
    return walk_buffer(buffer, size, path, progress=progress)


def walk_buffer(
    buffer: npt.NDArray[np.uint8], size: int, path: Path, *, progress: bool | None
) -> Records:
    """Walk the record headers of the first ``size`` bytes of ``buffer`` (a capture of
    ``path``, named in errors), which ends with ``PADDING`` zero bytes."""
    magic = bytes(buffer[: min(size, 4)])
    if magic in _PCAP_MAGICS:
        return _walk_pcap(buffer, size, progress)
    if magic == _PCAPNG_SHB:
        return _walk_pcapng(buffer, size, progress)
    if magic in _PCAP_VARIANT_MAGICS:
        raise UnsupportedLinkType(
            f'{path} is a modified pcap (longer record headers); load with backend="tshark"'
        )
    if size == 0 and path.stat().st_size:  # a gzip stream that yields nothing
        raise NotACapture(f"{path} is gzip-compressed but nothing could be decompressed")
    if size == 0:
        raise NotACapture(f"{path} is empty, not a capture file")
    raise NotACapture(
        f"{path} is not a pcap or pcapng capture (it starts with bytes {magic.hex()})"
    )


# --------------------------------------------------------------------------- pcap
#: Bytes of the pcap file header; its link type is the 32-bit word at ``PCAP_LINK_TYPE_AT``.
PCAP_FILE_HEADER = 24
PCAP_LINK_TYPE_AT = 20


def _walk_pcap(buffer: npt.NDArray[np.uint8], size: int, progress: bool | None) -> Records:
    """The records of a pcap file, walked by :func:`hskit.native.kernels.walk_pcap`.

    The first absurd captured length, or the record running past the end of the file,
    ends the capture there.
    """
    from hskit.native import kernels  # loaded on first use, not on import

    order, ns_per_unit = _PCAP_MAGICS[bytes(buffer[:4])]
    if size < PCAP_FILE_HEADER:
        raise NotACapture("the file ends inside the pcap file header")
    big_endian = order == ">"
    link_type = struct.unpack_from(order + "I", buffer, PCAP_LINK_TYPE_AT)[0] & 0xFFFF
    parts = [np.zeros((kernels.PCAP_COLUMNS, 0), dtype=np.int64)]
    offset, ended = PCAP_FILE_HEADER, kernels.WALKED
    with byte_progress(size, enabled=progress) as bar:
        bar.update(offset)  # the file header
        while ended == kernels.WALKED and offset < size:
            window_end = min(offset + PROGRESS_STEP, size)
            columns = np.empty((kernels.PCAP_COLUMNS, _capacity(offset, window_end)), np.int64)
            count, reached, ended = kernels.walk_pcap(
                buffer, size, offset, window_end, big_endian, MAX_CAPLEN, columns
            )
            parts.append(columns[:, :count])
            bar.update(reached - offset)
            offset = reached
    walked = np.concatenate(parts, axis=1)
    data_offset, seconds, fraction, caplen, origlen = walked
    if ended == kernels.CORRUPT_LENGTH:
        length = struct.unpack_from(order + "I", buffer, offset + kernels.PCAP_CAPLEN_AT)[0]
        reason = f"corrupt record length {length}"
    else:
        reason = "file ends inside a record"
    stop_reason: str | None = None
    if offset < size:
        stop_reason = f"{reason} at byte offset {offset} (record {len(data_offset) + 1})"
    ts_ns, timestamp_notes = _pcap_times(seconds, fraction, ns_per_unit)
    return Records(
        buffer=buffer,
        data_offset=data_offset,
        caplen=caplen,
        origlen=origlen,
        ts_ns=ts_ns,
        link_type=np.full(len(data_offset), link_type, dtype=np.int32),
        bytes_lost=size - offset,
        stop_reason=stop_reason,
        timestamp_notes=timestamp_notes,
    )


def _pcap_times(
    seconds: npt.NDArray[np.int64], fraction: npt.NDArray[np.int64], ns_per_unit: int
) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Nanoseconds since the epoch of pcap records, as Wireshark reads them; and a note
    on the records whose sub-second field is a second or more (a corrupt record).

    Wireshark adds such a field to the seconds, keeping the low 32 bits of its nanoseconds.

    >>> times, notes = _pcap_times(np.array([5, 5]), np.array([1, 5_000_000]), 1_000)
    >>> times.tolist(), len(notes)
    ([5000001000, 5705032704], 1)
    """
    units = _UNITS_PER_SECOND[ns_per_unit]
    odd = int((fraction >= units).sum())
    notes = []
    if odd:
        notes.append(
            f"{odd} records have a sub-second timestamp field of a second or more (a "
            f"corrupt record, the field counts 1/{units:,} s): ts adds it to the seconds "
            "as Wireshark does, keeping the low 32 bits of its nanoseconds"
        )
    return seconds * 1_000_000_000 + ((fraction * ns_per_unit) & _NANOSECOND_BITS), notes


# --------------------------------------------------------------------------- pcapng
@dataclass
class _Interface:
    link_type: int
    #: 0 for an ``if_tsresol`` past 64 bits (every time stamp reads as 0, as in Wireshark)
    units_per_second: int
    offset_seconds: int


@dataclass
class _Section:
    start: int
    big_endian: bool
    #: global index of the section's first interface.
    first_interface: int


def _block_header(data: npt.NDArray[np.uint8], order: str, offset: int) -> tuple[int, int, str]:
    """``(block type, total length, byte order)`` of the block at ``offset``, read in
    ``order`` unless it is a section header, which sets the order of its section.

    >>> shb = np.frombuffer(bytes.fromhex("0a0d0d0a" "1c000000" "4d3c2b1a"), np.uint8)
    >>> _block_header(shb, ">", 0)
    (168627466, 28, '<')
    """
    kind, length = struct.unpack_from(order + "II", data, offset)
    if kind == _SHB:
        magic = struct.unpack_from("<I", data, offset + 8)[0]
        order = "<" if magic == _BYTE_ORDER_MAGIC else ">"
        kind, length = struct.unpack_from(order + "II", data, offset)
    return kind, length, order


def _bad_block_length(length: int) -> str | None:
    """Why a block's total length cannot be walked past, or None if it can.

    >>> _bad_block_length(28), _bad_block_length(30)
    (None, 'corrupt block length 30')
    """
    if length < 12 or length % 4 or length > MAX_CAPLEN + 1024:
        return f"corrupt block length {length}"
    return None


def _interface_block(
    data: npt.NDArray[np.uint8], order: str, offset: int, length: int
) -> _Interface:
    """The interface an interface description block at ``offset`` describes.

    >>> block = np.array([1, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0], np.uint8)
    >>> _interface_block(block, "<", 0, 20)
    _Interface(link_type=1, units_per_second=1000000, offset_seconds=0)
    """
    link_type = struct.unpack_from(order + "H", data, offset + 8)[0]
    units, tsoffset = _interface_options(data, order, offset + 16, offset + length - 4)
    return _Interface(link_type, units, tsoffset)


def _interface_options(
    data: npt.NDArray[np.uint8], order: str, start: int, end: int
) -> tuple[int, int]:
    """``(units per second, offset seconds)`` from an IDB's options."""
    units, tsoffset = 1_000_000, 0
    pos = start
    while pos + 4 <= end:
        code, length = struct.unpack_from(order + "HH", data, pos)
        if code == 0:
            break
        value = pos + 4
        if code == _OPT_TSRESOL and length >= 1:
            resolution = int(data[value])
            base = 2 if resolution & _TSRESOL_BASE_2 else 10
            exponent = resolution & ~_TSRESOL_BASE_2
            units = base**exponent if exponent <= _MAX_TSRESOL_EXPONENT[base] else 0
        elif code == _OPT_TSOFFSET and length >= 8:
            tsoffset = struct.unpack_from(order + "q", data, value)[0]
        pos = value + (length + 3) // 4 * 4
    return units, tsoffset


def _walk_pcapng(buffer: npt.NDArray[np.uint8], size: int, progress: bool | None) -> Records:
    """The blocks of a pcapng file: runs of packet blocks walked straight to their
    columns by :func:`hskit.native.kernels.walk_packets`, section headers, interface
    descriptions and anything else read here, one block at a time.

    A packet block the compiled run does not take (a corrupt or cut length, an interface
    not described before it) sends the whole walk to :func:`_walk_pcapng_general`, which
    holds every rule: the records are that walk's in every case.
    """
    from hskit.native import kernels  # loaded on first use, not on import

    interfaces: list[_Interface] = []
    headers: list[tuple[int, int]] = []
    columns = np.empty((kernels.PACKET_COLUMNS, _capacity(0, size)), np.int64)
    count = 0
    tables = _interface_tables(interfaces)
    order, first_interface = "<", 0
    offset = 0
    last_head = size - 12
    stop_reason: str | None = None
    general = False
    with byte_progress(size, enabled=progress) as bar:
        reported = 0
        while offset <= last_head:
            if count == columns.shape[1]:
                columns = _grown(columns)
            window_end = min(offset + PROGRESS_STEP, last_head)
            count, offset, ended = kernels.walk_packets(
                buffer, size, offset, window_end, order == ">", MAX_CAPLEN + 1024,
                first_interface, *tables, columns, count,
            )  # fmt: skip
            bar.update(min(offset, size) - reported)
            reported = min(offset, size)
            if ended == kernels.PACKETS_GENERAL:
                general = True
                break
            if ended == kernels.PACKETS_WALKED:
                continue
            kind, length, order = _block_header(buffer, order, offset)
            if kind == _SHB:
                first_interface = len(interfaces)
            if (stop_reason := _bad_block_length(length)) is not None:
                break
            if offset + length > size:
                break
            if kind in (_SHB, _IDB):
                headers.append((offset, length))
            if kind == _IDB:
                interfaces.append(_interface_block(buffer, order, offset, length))
                tables = _interface_tables(interfaces)
            offset += length
        bar.update(min(offset, size) - reported)
    if general:
        return _walk_pcapng_general(buffer, size, progress=False)
    if stop_reason is None and offset < size:
        stop_reason = "file ends inside a block"
    if stop_reason is not None:
        stop_reason = f"{stop_reason} at byte offset {offset} (record {count + 1})"
    data_offset, caplen, origlen, ts_ns, link = columns[:, :count]
    return Records(
        buffer=buffer,
        data_offset=data_offset,
        caplen=caplen,
        origlen=origlen,
        ts_ns=ts_ns,
        link_type=link.astype(np.int32),
        bytes_lost=size - offset,
        stop_reason=stop_reason,
        header_blocks=headers,
        timestamp_notes=_resolution_notes(interfaces),
    )


def _interface_tables(
    interfaces: list[_Interface],
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    """Units per second, offset seconds and link type of each interface, as arrays.

    >>> _interface_tables([_Interface(1, 10**6, 0)])[0].tolist()
    [1000000]
    """
    return (
        np.array([i.units_per_second for i in interfaces], dtype=np.uint64),
        np.array([i.offset_seconds for i in interfaces], dtype=np.int64),
        np.array([i.link_type for i in interfaces], dtype=np.int32),
    )


def _grown(columns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``columns`` in an array of twice as many columns (the new ones not filled in)."""
    grown = np.empty((columns.shape[0], 2 * columns.shape[1]), columns.dtype)
    grown[:, : columns.shape[1]] = columns
    return grown


def _walk_pcapng_general(
    buffer: npt.NDArray[np.uint8], size: int, progress: bool | None
) -> Records:
    """The blocks of a pcapng file: runs of packet blocks walked by
    :func:`hskit.native.kernels.walk_packet_blocks`, section headers, interface
    descriptions and anything else read here, one block at a time; every rule of the
    pcapng walk (the reference of :func:`_walk_pcapng`)."""
    from hskit.native import kernels  # loaded on first use, not on import

    interfaces: list[_Interface] = []
    sections: list[_Section] = []
    # offset and words of each packet block
    packets = [np.zeros((1 + kernels.PCAPNG_WORDS, 0), dtype=np.int64)]
    headers: list[tuple[int, int]] = []
    order = "<"
    offset = 0
    last_head = size - 12
    stop_reason: str | None = None
    with byte_progress(size, enabled=progress) as bar:
        reported = 0
        while offset <= last_head:
            window_end = min(offset + PROGRESS_STEP, last_head)
            # Packet blocks, the bulk of a file; enhanced packet blocks' lengths are
            # checked in _packet_columns.
            words = np.empty((1 + kernels.PCAPNG_WORDS, _capacity(offset, window_end)), np.int64)
            count, offset = kernels.walk_packet_blocks(
                buffer, size, offset, window_end, order == ">", MAX_CAPLEN + 1024, words
            )
            packets.append(words[:, :count])
            bar.update(min(offset, size) - reported)
            reported = min(offset, size)
            if offset > window_end or count == words.shape[1]:
                continue
            kind, length, order = _block_header(buffer, order, offset)
            if kind == _SHB:
                sections.append(_Section(offset, order == ">", len(interfaces)))
            if (stop_reason := _bad_block_length(length)) is not None:
                break
            if offset + length > size:
                break
            if kind in _PACKET_BLOCKS:  # an enhanced packet block too short for its fields
                head = bytes(buffer[offset : offset + 4 * kernels.PCAPNG_WORDS])
                fields = struct.unpack(order + "7I", head.ljust(4 * kernels.PCAPNG_WORDS, b"\0"))
                packets.append(np.array([[offset], *([word] for word in fields)], np.int64))
            elif kind in (_SHB, _IDB):
                headers.append((offset, length))
            if kind == _IDB:
                interfaces.append(_interface_block(buffer, order, offset, length))
            offset += length
        bar.update(min(offset, size) - reported)
    if stop_reason is None and offset < size:
        stop_reason = "file ends inside a block"
    walked = np.concatenate(packets, axis=1)
    records = _packet_columns(buffer, size, walked, sections, interfaces, offset, stop_reason)
    records.header_blocks = headers
    return records


def _capacity(offset: int, window_end: int) -> int:
    """Records reserved for one call of a compiled walk from ``offset`` to ``window_end``."""
    return (window_end - offset) // _SMALL_RECORD + 1


def _packet_columns(
    buffer: npt.NDArray[np.uint8],
    size: int,
    walked: npt.NDArray[np.int64],
    sections: list[_Section],
    interfaces: list[_Interface],
    stop_offset: int,
    stop_reason: str | None,
) -> Records:
    """Per-packet columns of every EPB, PB and SPB, computed by
    :func:`hskit.native.kernels.packet_columns` from ``walked``: one column per block, its
    offset then its first words (kind, length, interface, time stamp high and low,
    captured and original length for an EPB or PB; an SPB has its original length where
    the EPB has the interface).

    The walk did not check enhanced packet blocks' lengths: the first invalid one ends
    the capture here, like a cut file.
    """
    from hskit.native import kernels

    block, length = walked[0], walked[2]
    section = np.searchsorted([s.start for s in sections], block, side="right") - 1
    big = np.array([s.big_endian for s in sections], dtype=bool)[section]
    first_interface = np.array([s.first_interface for s in sections], dtype=np.int64)[section]
    corrupt = (length % 4 != 0) | (length > MAX_CAPLEN + 1024)
    bad = np.flatnonzero(corrupt | (block + length > size))
    if len(bad):
        first = int(bad[0])
        stop_reason = (
            f"corrupt block length {int(length[first])}"
            if corrupt[first]
            else "file ends inside a block"
        )
        stop_offset = int(block[first])
        block, big, first_interface = (a[:first] for a in (block, big, first_interface))
    if stop_reason is not None:
        stop_reason = f"{stop_reason} at byte offset {stop_offset} (record {len(block) + 1})"
    if len(block) and not interfaces:
        raise NotACapture("a pcapng packet block comes before any interface description")
    data_offset, caplen, origlen, ts_ns, link, described = kernels.packet_columns(
        walked,
        big,
        first_interface,
        np.array([i.units_per_second for i in interfaces], dtype=np.uint64),
        np.array([i.offset_seconds for i in interfaces], dtype=np.int64),
        np.array([i.link_type for i in interfaces], dtype=np.int32),
    )
    if not described:
        raise NotACapture("a pcapng packet block names an interface that was never described")
    return Records(
        buffer=buffer,
        data_offset=data_offset,
        caplen=caplen,
        origlen=origlen,
        ts_ns=ts_ns,
        link_type=link,
        bytes_lost=size - stop_offset,
        stop_reason=stop_reason,
        timestamp_notes=_resolution_notes(interfaces),
    )


def _resolution_notes(interfaces: list[_Interface]) -> list[str]:
    """A note naming the interfaces whose ``if_tsresol`` is past 64 bits, if any."""
    absurd = [str(number) for number, i in enumerate(interfaces) if i.units_per_second == 0]
    if not absurd:
        return []
    return [
        f"interface {', '.join(absurd)}: the time stamp resolution (if_tsresol) is finer "
        "than 10^-19 s or 2^-63 s, past 64-bit time stamps: its records' ts read as 0 "
        "(1970-01-01), as Wireshark reads them"
    ]
