"""The native reader's driver: a capture (or a capture set) read and decoded chunk by chunk.

Each file is read in pieces of ``chunk_size`` bytes (after gzip decompression); the
record walk (:mod:`hskit.native.records`) and the decoder (:mod:`hskit.native.decode`)
run on one piece at a time, and only the finished columns, in their final narrow dtypes,
are kept. What must continue from one piece to the next is carried: the bytes of a record
cut by the piece's end, the pcap file header or the pcapng section and interface blocks
(put in front of the next piece), frame numbers, address ids, stream numbers and base
sequence numbers (:class:`~hskit.native.streams.StreamCarry`) and each stream's client.
The table is the same whatever the chunk size; peak memory is the table plus one chunk.

>>> segments, report = read([Path("capture.pcapng")], progress=False)  # doctest: +SKIP
>>> segments, report = read([Path("ring_1.pcap"), Path("ring_2.pcap")], progress=False,
...                         chunk_size=8 * 2**20)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import ipaddress
import warnings
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import pandas as pd

from hskit import schema
from hskit.capture import LoadReport
from hskit.errors import CorruptTimestampWarning, TruncatedCaptureWarning
from hskit.native import records as record_walk
from hskit.native.decode import LINK_TYPE_NAMES, TcpColumns, decode
from hskit.native.keys import KeyIds
from hskit.native.records import (
    NO_TIMESTAMP,
    PADDING,
    Records,
    max_decompressed,
    too_large,
    walk_buffer,
)
from hskit.native.streams import StreamCarry

Int = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

#: Bytes of (decompressed) capture decoded at a time by ``hskit.load`` and ``hskit
#: summary``. A load's own peak RSS is the table, the stream and address state, and
#: about 4.5x the chunk size in decoding temporaries: on ``benchmarks/scale.py``'s 1x
#: capture (35 MB table) 50-51 MB with 1 MB chunks, 56-59 MB with 2 MB, 69-72 MB with
#: 4 MB; larger chunks are not faster (1 and 2 MB both 0.21-0.28 us a segment steady).
LOAD_CHUNK_SIZE = 1 * 1024 * 1024
#: Bytes decoded at a time by ``hskit.convert``, whose staging writes a Parquet row group
#: per chunk and bucket (each costs its writer ~20 KB of metadata until it closes): fewer,
#: larger chunks keep that down.
DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
#: The smallest ``chunk_size`` accepted (a first chunk holds at least a pcap file header).
MIN_CHUNK_SIZE = 64
#: The fewest capture bytes a TCP segment takes (pcap record header, IP and TCP headers):
#: the rows reserved for a table are the capture's bytes over this.
MIN_SEGMENT_BYTES = 56
#: gzip-compressed captures are reserved rows for this many times their size (the
#: columns grow if they decompress to more).
_GZIP_RATIO = 4
#: rows per slice of the final passes over whole columns.
_SLICE_ROWS = 1 << 18
#: Compressed bytes fed to the gzip decompressor at a time.
_GZIP_STEP = 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_PCAP_HEADER = 24
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
_SHB_KIND = 0x0A0D0D0A


def read(
    paths: Sequence[Path],
    *,
    progress: bool | None,
    chunk_size: int = LOAD_CHUNK_SIZE,
    label: str | None = None,
) -> tuple[pd.DataFrame, LoadReport]:
    """Read captures, one after the other, into ``(segments, load_report)``.

    Several ``paths`` make one capture set, read in the order given: frames are numbered
    across the files, connections continue from one file to the next (as in ``mergecap
    -a`` of the files in that order) and a categorical ``source`` column names each row's
    file. ``label`` is the report's ``path`` (default: the only path).
    """
    load = ChunkedLoad(paths, chunk_size=chunk_size, label=label)
    for _ in load.decode(progress):
        pass
    return load.table.finish(), load.finish_report()


class ChunkedLoad:
    """A native load that can hand out its segments chunk by chunk (:meth:`segments`),
    for writers that keep them on disk rather than in memory.

    >>> load = ChunkedLoad([Path("big.pcapng")])  # doctest: +SKIP
    >>> for chunk in load.segments(progress=False): ...  # doctest: +SKIP
    >>> load.report.frames  # doctest: +SKIP
    """

    def __init__(
        self, paths: Sequence[Path], *, chunk_size: int = DEFAULT_CHUNK_SIZE,
        label: str | None = None,
    ) -> None:  # fmt: skip
        if chunk_size < MIN_CHUNK_SIZE:
            raise ValueError(
                f"chunk_size must be at least {MIN_CHUNK_SIZE} bytes, not {chunk_size}"
            )
        self.paths, self.chunk_size = list(paths), chunk_size
        several = len(self.paths) > 1
        self.table = _Table(
            sources=source_names(self.paths) if several else None,
            capacity=sum(map(rows_at_most, self.paths)),
        )
        self.report = LoadReport(
            path=label if label is not None else str(self.paths[0]), backend="native",
            frames=0, tcp_segments=0, sources=[str(p) for p in self.paths] if several else [],
        )  # fmt: skip
        self._link_types: set[int] = set()
        self._skipped: dict[str, int] = {}

    def segments(self, progress: bool | None) -> Iterator[pd.DataFrame]:
        """Each chunk's segments table, in capture order; :attr:`report` is complete once
        they are all read. Every row is final but ``from_client``, which a later chunk
        may change (a stream whose SYN comes after its first segments): recompute it with
        :func:`hskit.direction.from_client` over each stream's rows. Address categories
        are those met so far; :meth:`address_categories` gives the final ones.
        """
        self.table.capacity = self.chunk_size // MIN_SEGMENT_BYTES
        for _ in self.decode(progress):
            yield self.table.finish()
        self.finish_report()

    def address_categories(self) -> list[str]:
        """Every address of the segments read, in the order of the loaded table's categories."""
        return list(self.table.address_dtype().dtype.categories)

    def decode(self, progress: bool | None) -> Iterator[None]:
        """Decode chunk after chunk into :attr:`table`, yielding after each."""
        sizes = [p.stat().st_size for p in self.paths]
        # One bar over the whole load when it spans several chunks; a single chunk's
        # record walk shows its own.
        several = len(self.paths) > 1 or sizes[0] > self.chunk_size
        bar = record_walk.byte_progress(sum(sizes), enabled=progress) if several else None
        with bar if bar is not None else contextlib.nullcontext():
            for index, path in enumerate(self.paths):
                chunks = _Chunks(path, self.chunk_size, progress=False if several else progress)
                for chunk in chunks:
                    if bar is not None:
                        bar.update(chunk.consumed)
                    self._decode(chunk.records, source=index)
                    yield None
                if chunks.stop_reason is not None:
                    message = (
                        f"{path}: {chunks.stop_reason}; loaded the {chunks.frames} whole "
                        f"records before it, {chunks.bytes_lost} bytes lost"
                    )
                    warnings.warn(message, TruncatedCaptureWarning, stacklevel=5)
                    self.report.notes.append(message)
                    self.report.bytes_lost += chunks.bytes_lost
                for note in chunks.timestamp_notes():
                    warnings.warn(f"{path}: {note}", CorruptTimestampWarning, stacklevel=5)
                    self.report.notes.append(note)

    def _decode(self, records: Records, *, source: int) -> None:
        tcp, skipped = decode(records)
        self.table.append(records, tcp, frame_base=self.report.frames, source=source)
        self.report.frames += len(records.caplen)
        link = records.link_type
        # one link type in a chunk is the rule: checked in one pass, no sort
        same = len(link) and (link == link[0]).all()
        self._link_types.update([int(link[0])] if same else np.unique(link).tolist())
        for reason, count in skipped.items():
            self._skipped[reason] = self._skipped.get(reason, 0) + count

    def finish_report(self) -> LoadReport:
        """The load report, once every chunk is decoded."""
        report = self.report
        if self.table.fragmented:
            report.notes.append(
                f"{self.table.fragmented} segments in first IP fragments: without reassembly "
                "their TCP length is unknown, payload_len set to 0 and sequence numbers left raw"
            )
        report.tcp_segments = self.table.rows
        report.skipped = {reason: count for reason, count in self._skipped.items() if count}
        report.link_types = sorted({LINK_TYPE_NAMES[t] for t in self._link_types})
        return report


def rows_at_most(path: Path) -> int:
    """Segments a capture file can hold at most, judged by its size."""
    size = path.stat().st_size
    with path.open("rb") as file:
        gzipped = file.read(2) == _GZIP_MAGIC
    return size * (_GZIP_RATIO if gzipped else 1) // MIN_SEGMENT_BYTES


def source_names(paths: Sequence[Path]) -> list[str]:
    """The ``source`` categories of a capture set: file names, or paths where names repeat.

    >>> source_names([Path("a/ring_1.pcap"), Path("a/ring_2.pcap")])
    ['ring_1.pcap', 'ring_2.pcap']
    >>> source_names([Path("a/x.pcap"), Path("b/x.pcap"), Path("b/x.pcap")])
    ['a/x.pcap (file 1)', 'b/x.pcap (file 2)', 'b/x.pcap (file 3)']
    """
    for names in ([p.name for p in paths], [str(p) for p in paths]):
        if len(set(names)) == len(names):
            return names
    return [f"{p} (file {i + 1})" for i, p in enumerate(paths)]


def first_timestamp(path: Path) -> int | None:
    """Capture time (ns since the epoch) of the first record of ``path`` that has one.

    >>> first_timestamp(Path("sample_pcaps/refused.pcap"))  # doctest: +SKIP
    1764000000123456000
    """
    for chunk in _Chunks(path, 1024 * 1024, progress=False):
        stamped = chunk.records.ts_ns[chunk.records.ts_ns != NO_TIMESTAMP]
        if len(stamped):
            return int(stamped[0])
    return None


def count_frames(path: Path) -> int:
    """How many records (frames) ``path`` holds, by a walk of its record headers only.

    >>> count_frames(Path("sample_pcaps/refused.pcap"))  # doctest: +SKIP
    12
    """
    chunks = _Chunks(path, DEFAULT_CHUNK_SIZE, progress=False)
    for _ in chunks:
        pass
    return chunks.frames


# --------------------------------------------------------------------------- bytes
class _Decompressed:
    """The bytes of a capture file, gunzipped when it starts with the gzip magic.

    A gzip stream cut short or corrupt ends the bytes where decompression stopped;
    several gzip members follow each other; anything else after the last is ignored.
    """

    def __init__(self, file: BinaryIO, path: Path) -> None:
        self._file = file
        self._input = file.read(2)
        self._inflater = zlib.decompressobj(wbits=31) if self._input == _GZIP_MAGIC else None
        self._ended = False
        #: compressed bytes read so far
        self.consumed = len(self._input)
        self._path = path
        self._inflated = 0
        self._limit = max_decompressed()

    def readinto(self, view: memoryview) -> int:
        """Fill ``view`` as far as the file goes; the count is short only at its end."""
        if self._inflater is None:
            filled = 0
            if self._input:
                filled = len(self._input)
                view[:filled] = self._input
                self._input = b""
            while filled < len(view) and (count := self._file.readinto(view[filled:])):
                filled += count
                self.consumed += count
            return filled
        return self._inflate_into(view)

    def _inflate_into(self, view: memoryview) -> int:
        assert self._inflater is not None
        filled = 0
        while filled < len(view) and not self._ended:
            if not self._input:
                self._input = self._file.read(_GZIP_STEP)
                self.consumed += len(self._input)
                if not self._input:  # cut short: keep what was decompressed
                    self._ended = True
                    break
            try:
                piece = self._inflater.decompress(self._input, len(view) - filled)
            except zlib.error:
                self._ended = True
                break
            self._input = self._inflater.unconsumed_tail
            view[filled : filled + len(piece)] = piece
            filled += len(piece)
            self._inflated += len(piece)
            if self._inflated > self._limit:
                raise too_large(self._path, self._limit)
            if self._inflater.eof:
                self._next_member()
        return filled

    def _next_member(self) -> None:
        assert self._inflater is not None
        rest = self._inflater.unused_data + self._input
        while len(rest) < len(_GZIP_MAGIC) and (more := self._file.read(_GZIP_STEP)):
            self.consumed += len(more)
            rest += more
        if rest.startswith(_GZIP_MAGIC):
            self._inflater = zlib.decompressobj(wbits=31)
            self._input = rest
        else:
            self._ended = True


# --------------------------------------------------------------------------- records
@dataclass
class _Chunk:
    records: Records
    #: compressed file bytes read for this chunk (for the progress bar)
    consumed: int


@dataclass
class _Chunks:
    """The chunks of one file, as an iterable; after the iteration, how the walk ended."""

    path: Path
    chunk_size: int
    progress: bool | None
    #: records walked so far
    frames: int = 0
    stop_reason: str | None = None
    bytes_lost: int = 0
    _file_offset: int = field(default=0, repr=False)
    _notes: list[str] = field(default_factory=list, repr=False)

    def timestamp_notes(self) -> list[str]:
        """The time-stamp notes of the chunks as one walk of the file gives them: counts
        of corrupt records added up, notes on interfaces (repeated by each chunk) once."""
        counts: dict[str, int] = {}
        for note in self._notes:
            number, _, rest = note.partition(" ")
            key = rest if number.isdigit() else note
            counts[key] = counts.get(key, 0) + (int(number) if number.isdigit() else 0)
        return [f"{count} {key}" if count else key for key, count in counts.items()]

    def __iter__(self) -> Iterator[_Chunk]:
        with self.path.open("rb") as file:
            source = _Decompressed(file, self.path)
            prefix = np.zeros(0, dtype=np.uint8)  # header bytes put in front of each chunk
            leftover = np.zeros(0, dtype=np.uint8)  # a record cut by the previous chunk
            consumed = 0
            while True:
                start = len(prefix) + len(leftover)
                buffer = np.empty(start + self.chunk_size + PADDING, dtype=np.uint8)
                buffer[: len(prefix)] = prefix
                buffer[len(prefix) : start] = leftover
                size = start + source.readinto(memoryview(buffer)[start : start + self.chunk_size])
                # a view as long as the data: decoding reads to the buffer's end
                buffer = buffer[: size + PADDING]
                buffer[size:] = 0
                at_end = size < start + self.chunk_size
                if size == len(prefix) and len(prefix):  # nothing left to walk
                    break
                records = walk_buffer(buffer, size, self.path, progress=self.progress)
                self._notes.extend(records.timestamp_notes)
                yield _Chunk(records, source.consumed - consumed)
                consumed = source.consumed
                stop = size - records.bytes_lost
                self.frames += len(records.caplen)
                corrupt = records.stop_reason is not None and records.stop_reason.startswith(
                    "corrupt"
                )
                if at_end or corrupt:
                    self._finish(records, offset=self._file_offset + stop - len(prefix))
                    if corrupt:  # the rest of the file is lost: count it
                        rest = np.empty(self.chunk_size, dtype=np.uint8)
                        while count := source.readinto(memoryview(rest)):
                            self.bytes_lost += count
                    return
                # the next chunk's ``leftover`` starts at this file offset
                self._file_offset += stop - len(prefix)
                prefix = _prefix(buffer, records, stop)
                leftover = buffer[stop:size].copy()
                del buffer

    def _finish(self, records: Records, *, offset: int) -> None:
        self.bytes_lost = records.bytes_lost
        if records.stop_reason is not None:
            reason = records.stop_reason.split(" at byte offset")[0]
            self.stop_reason = f"{reason} at byte offset {offset} (record {self.frames + 1})"


def _prefix(buffer: npt.NDArray[np.uint8], records: Records, stop: int) -> npt.NDArray[np.uint8]:
    """What the next chunk needs in front of its bytes to be walked as a capture: the pcap
    file header, or the pcapng section header and interface blocks of the current section.
    """
    if bytes(buffer[:4]) != _PCAPNG_SHB:
        return buffer[:_PCAP_HEADER].copy()
    blocks = [(offset, length) for offset, length in records.header_blocks if offset < stop]
    sections = [
        i
        for i, (offset, _) in enumerate(blocks)
        if bytes(buffer[offset : offset + 4]) == _PCAPNG_SHB
    ]
    if not sections:
        return np.zeros(0, dtype=np.uint8)
    kept = blocks[sections[-1] :]
    return np.concatenate([buffer[offset : offset + length] for offset, length in kept])


# --------------------------------------------------------------------------- columns
class _Table:
    """The segments table, built chunk by chunk in its final dtypes."""

    def __init__(self, sources: list[str] | None, capacity: int) -> None:
        self.sources = sources
        #: rows reserved for each column (address space only: pages count once written)
        self.capacity = capacity
        self._columns: dict[str, _Growing] = {}
        self._addresses = KeyIds()
        self._used = np.zeros(0, dtype=bool)  # per address id: in a segment (not only quoted)
        self._streams = StreamCarry()
        self._clients = _Clients()
        self._first_ns: int | None = None
        #: segments in first IP fragments
        self.fragmented = 0
        #: segments appended so far
        self.rows = 0

    def append(
        self, records: Records, everything: TcpColumns, *, frame_base: int, source: int
    ) -> None:
        """Add the segments of one chunk; ``frame_base`` frames came before it."""
        if self._first_ns is None and len(records.ts_ns):
            self._first_ns = int(records.ts_ns[0])
        self.fragmented += int((~everything.analyzed & ~everything.quoted).sum())
        src_code = self._addresses.ids(everything.src_hi, everything.src_lo)
        dst_code = self._addresses.ids(everything.dst_hi, everything.dst_lo)
        src_key = src_code * 65536 + everything.src_port.astype(np.int64)
        dst_key = dst_code * 65536 + everything.dst_port.astype(np.int64)
        stream = self._streams.streams(
            src_key, dst_key, everything.flags, everything.seq, everything.ack, everything.analyzed
        )
        # TCP headers quoted by ICMP errors only took part in stream numbering.
        segment = ~everything.quoted
        every = segment.all()
        tcp = everything if every else everything.select(segment)

        def segments(column: Int) -> Int:
            return column if every else column[segment]

        src_code, dst_code, src_key, dst_key = map(segments, (src_code, dst_code, src_key, dst_key))
        if len(self._used) < len(self._addresses):
            self._used = np.concatenate(
                [self._used, np.zeros(len(self._addresses) - len(self._used), dtype=bool)]
            )
        self._used[src_code] = True
        self._used[dst_code] = True
        stream_number = segments(stream.stream)
        self.rows += len(stream_number)
        self._clients.update(stream_number, tcp.flags, src_key, dst_key)
        ts_ns = records.ts_ns[tcp.record]
        first_ns = self._first_ns if self._first_ns is not None else NO_TIMESTAMP
        unknown = (ts_ns == NO_TIMESTAMP) | (first_ns == NO_TIMESTAMP)
        # values in any integer dtype: each is cast as it is copied into its column
        self._add(
            frame=tcp.record + (frame_base + 1),
            ts=ts_ns.view("M8[ns]"),
            time=np.where(unknown, np.nan, (ts_ns - first_ns) / 1e9),
            stream=stream_number,
            src_ip=src_code,
            dst_ip=dst_code,
            src_port=tcp.src_port,
            dst_port=tcp.dst_port,
            ip_version=tcp.ip_version,
            flags=tcp.flags,
            seq=tcp.seq,
            ack=tcp.ack,
            rel_seq=segments(stream.rel_seq),
            rel_ack=segments(stream.rel_ack),
            win=tcp.win,
            payload_len=tcp.payload_len,
            sack_perm=tcp.sack_perm,
            tfo=tcp.tfo,
            ip_len=tcp.ip_len,
            checksum_ok=tcp.checksum_ok,
        )
        # nullable columns: values in their final width (0 where missing, -1 in ``tcp``),
        # and where they are missing, each computed straight into its column
        rows = len(tcp.record)
        for name in _NULLABLE:
            values = getattr(tcp, name)
            np.maximum(values, 0, out=self._rows(name, rows), casting="unsafe")
            np.less(values, 0, out=self._rows(f"{name}_na", rows))
        if self.sources is not None:
            self._rows(schema.SOURCE, rows)[:] = source

    def _add(self, **columns: npt.NDArray) -> None:
        for name, values in columns.items():
            self._rows(name, len(values))[:] = values

    def _rows(self, name: str, count: int) -> npt.NDArray:
        """The next ``count`` rows of column ``name``, appended, to be filled in."""
        if name not in self._columns:
            self._columns[name] = _Growing(_RAW_DTYPES[name], self.capacity)
        return self._columns[name].append(count)

    def finish(self) -> pd.DataFrame:
        """The segments table (schema order and dtypes; ``source`` last, for a set) of the
        rows appended since the last call."""
        if not self._columns:
            segments = schema.empty_segments()
            if self.sources is not None:
                segments[schema.SOURCE] = pd.Categorical([], categories=self.sources)
            return segments
        return self.frame(self.take())

    def take(self) -> dict[str, npt.NDArray]:
        """The raw columns of the rows appended since the last call (address ids, values
        of nullable columns with their ``_na`` masks), handed over: the table forgets them.
        :meth:`frame` makes them a segments table, now or once the whole capture is read.
        """
        parts = {name: column.values() for name, column in self._columns.items()}
        self._columns = {}
        return parts

    def frame(self, parts: dict[str, npt.NDArray]) -> pd.DataFrame:
        """The segments table of raw columns from :meth:`take`, with the addresses and
        clients known so far (all of them, once the capture is read); ``parts`` is emptied
        as the columns are made, so each raw column is freed as soon as it is replaced."""
        parts["from_client"] = self._from_client(
            parts["src_ip"], parts["src_port"], parts["stream"]
        )
        address = self.address_dtype()
        columns: dict[str, object] = {}
        names = (*schema.SEGMENT_COLUMNS, schema.SOURCE) if self.sources else schema.SEGMENT_COLUMNS
        for name in names:
            values = parts.pop(name)
            # No column is copied whole while the others are held (the peak of a load is
            # the table plus its largest temporary): ids become codes in place, the
            # timestamps are wrapped as they are.
            if name in ("src_ip", "dst_ip"):
                for start in range(0, len(values), _SLICE_ROWS):
                    rows = slice(start, start + _SLICE_ROWS)
                    values[rows] = address.codes[values[rows]]
                columns[name] = pd.Categorical.from_codes(values, dtype=address.dtype)
            elif name == "ts":
                columns[name] = pd.arrays.DatetimeArray._simple_new(values, dtype=_TS_DTYPE)
            elif name in _NULLABLE:
                columns[name] = pd.arrays.IntegerArray(values, parts.pop(f"{name}_na"))
            elif name == "checksum_ok":
                missing = values < 0
                columns[name] = pd.arrays.BooleanArray(
                    np.equal(values, 1, out=values.view(np.bool_)), missing
                )
            elif name == schema.SOURCE:
                columns[name] = pd.Categorical.from_codes(values, categories=self.sources)
            else:
                columns[name] = values
        # Every column already has its schema dtype, in schema order: no casting pass.
        frame = pd.DataFrame(columns, copy=False)
        schema.check(frame[list(schema.SEGMENT_COLUMNS)], schema.SEGMENT_DTYPES, "segments")
        return frame

    def _from_client(self, src: npt.NDArray, port: npt.NDArray, stream: npt.NDArray) -> Bool:
        """Rows sent by their stream's client (one compiled pass, no temporaries)."""
        from hskit.native import numbering  # loaded on first use, not on import

        result = np.empty(len(src), dtype=bool)
        if numbering.from_client(src, port, stream, self._clients.client_key, result) != len(src):
            raise RuntimeError("client of a stream out of bounds (a bug in hskit.native.chunks)")
        return result

    def address_dtype(self) -> _Addresses:
        """Categories of the addresses in segments, IPv4 by value then IPv6 by value, and
        the category code of every address id."""
        hi, lo = self._addresses.keys()
        used = np.flatnonzero(self._used[: len(hi)])
        hi, lo = hi[used], lo[used]
        is_v4 = hi == -1
        rank = np.lexsort((lo.view(np.uint64), hi.view(np.uint64), ~is_v4))
        # int32 codes: the lookup over every row makes no int64 copy of the column
        codes = np.zeros(len(self._addresses), dtype=np.int32)
        codes[used[rank]] = np.arange(len(rank))
        hi, lo, is_v4 = hi[rank], lo[rank], is_v4[rank]
        v6_halves = zip(hi[~is_v4].tolist(), lo[~is_v4].tolist(), strict=True)
        text = _ipv4_text(lo[is_v4]) + [_ipv6_text(h, low) for h, low in v6_halves]
        return _Addresses(codes, pd.CategoricalDtype(text))


class _Growing:
    """A column appended to chunk after chunk, in one array reserved for ``capacity`` rows
    (grown by doubling when a capture holds more); no concatenation at the end."""

    def __init__(self, dtype: np.dtype, capacity: int) -> None:
        self._array = np.empty(max(capacity, 1), dtype=dtype)
        self._size = 0

    def append(self, count: int) -> npt.NDArray:
        """``count`` more rows, not filled in: a view to write them to.

        >>> column = _Growing(np.dtype(np.uint16), 2)
        >>> column.append(3)[:] = [1, 2, 3]; column.values().tolist()
        [1, 2, 3]
        """
        end = self._size + count
        if end > len(self._array):
            grown = np.empty(max(end, 2 * len(self._array)), dtype=self._array.dtype)
            grown[: self._size] = self._array[: self._size]
            self._array = grown
        rows = self._array[self._size : end]
        self._size = end
        return rows

    def values(self) -> npt.NDArray:
        """The rows appended (a view)."""
        return self._array[: self._size]


@dataclass
class _Addresses:
    codes: Int
    dtype: pd.CategoricalDtype


#: the ``ts`` column's dtype, as a pandas dtype object.
_TS_DTYPE = pd.api.types.pandas_dtype(schema.TS_DTYPE)
#: nullable columns, stored as -1 where absent until the table is finished.
_NULLABLE = {"mss": "UInt16", "wscale": "UInt8", "ts_val": "UInt32", "ts_ecr": "UInt32"}
#: dtype of each raw column while the table is built: the schema's NumPy dtypes, and the
#: storage of the others until :meth:`_Table.frame` wraps them.
_RAW_DTYPES: dict[str, npt.DTypeLike] = {
    **{name: dtype for name, dtype in schema.SEGMENT_DTYPES.items()
       if isinstance(dtype, np.dtype) and name != "from_client"},  # (computed at the end)
    "ts": "M8[ns]",  # nanoseconds since the epoch, UTC
    "src_ip": np.int32, "dst_ip": np.int32,  # address ids, then category codes
    "checksum_ok": np.int8,  # 1 right, 0 wrong, -1 NA
    **{name: dtype.lower() for name, dtype in _NULLABLE.items()},  # 0 where missing
    **{f"{name}_na": np.bool_ for name in _NULLABLE},  # where missing
    schema.SOURCE: np.int32,  # category codes
}  # fmt: skip


class _Clients:
    """Each stream's client so far: the rule of :func:`hskit.direction.from_client`
    applied chunk by chunk (the earliest SYN without ACK, else SYN-ACK, else segment).

    >>> clients = _Clients()
    >>> clients.update(np.array([0, 0]), np.array([0x10, 0x12]), np.array([5, 9]),
    ...                np.array([9, 5]))
    >>> clients.client_key.tolist()
    [5]
    """

    def __init__(self) -> None:
        self._kind = np.zeros(0, dtype=np.int8)
        self._key = np.zeros(0, dtype=np.int64)
        self._streams = 0

    @property
    def client_key(self) -> Int:
        """Endpoint key (address id * 65536 + port) of each stream's client."""
        return self._key[: self._streams]

    def update(self, stream: Int, flags: npt.NDArray, src_key: Int, dst_key: Int) -> None:
        """Take the rows of one chunk into account (in capture order)."""
        from hskit.native import numbering  # loaded on first use, not on import

        if len(stream) == 0:
            return
        self._streams = max(self._streams, int(stream.max()) + 1)
        if self._streams > len(self._kind):
            capacity = max(self._streams, 2 * len(self._kind))
            kind = np.full(capacity, numbering.NO_KIND, dtype=np.int8)
            key = np.zeros(capacity, dtype=np.int64)
            kind[: len(self._kind)], key[: len(self._key)] = self._kind, self._key
            self._kind, self._key = kind, key
        taken = numbering.update_clients(
            np.ascontiguousarray(stream, dtype=np.int64),
            np.ascontiguousarray(flags, dtype=np.int64), src_key, dst_key, self._kind, self._key,
        )  # fmt: skip
        if taken != len(stream):
            raise RuntimeError("client state out of bounds (a bug in hskit.native.chunks)")


#: the text of each octet, looked up rather than formatted.
_OCTETS = [str(octet) for octet in range(256)]


def _ipv4_text(addresses: Int) -> list[str]:
    """Dotted-quad text of IPv4 addresses (each distinct address once, so few).

    Formatting in Python is as fast as ``numpy.char`` from 1 address to 100,000, without
    its import (about 1 ms in a fresh process's first load).

    >>> _ipv4_text(np.array([0x7F000001, 0xC0A80A01]))
    ['127.0.0.1', '192.168.10.1']
    """
    octet = _OCTETS
    return [
        f"{octet[value >> 24]}.{octet[value >> 16 & 0xFF]}.{octet[value >> 8 & 0xFF]}"
        f".{octet[value & 0xFF]}"
        for value in addresses.tolist()
    ]


def _ipv6_text(hi: int, lo: int) -> str:
    """Wireshark's text for an IPv6 address given as two 64-bit halves."""
    address = ipaddress.IPv6Address(((hi & (2**64 - 1)) << 64) | (lo & (2**64 - 1)))
    if address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)
