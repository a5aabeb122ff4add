"""The native NumPy capture reader: pcap/pcapng (optionally gzip) to the segments table.

``records`` walks the record headers, ``decode`` turns link/IP/TCP headers into columns,
``streams`` numbers conversations and computes relative sequence numbers like tshark.

>>> segments, report = read(Path("capture.pcap"), progress=False)  # doctest: +SKIP
>>> report.backend, list(segments.columns[:3])  # doctest: +SKIP
('native', ['frame', 'ts', 'time'])
"""

from __future__ import annotations

import ipaddress
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from hskit import schema
from hskit.capture import LoadReport
from hskit.direction import from_client
from hskit.errors import CorruptTimestampWarning, TruncatedCaptureWarning
from hskit.native.decode import LINK_TYPE_NAMES, TcpColumns, decode
from hskit.native.records import NO_TIMESTAMP, Records, read_records
from hskit.native.streams import streams

__all__ = ["read"]

Int = npt.NDArray[np.int64]


def read(path: Path, *, progress: bool | None) -> tuple[pd.DataFrame, LoadReport]:
    """Read a capture into ``(segments, load_report)`` with NumPy only.

    Raises :class:`~hskit.errors.NotACapture` for a file that is not a capture and
    :class:`~hskit.errors.UnsupportedLinkType` for what only tshark decodes; warns with
    :class:`~hskit.errors.TruncatedCaptureWarning` when the file ends inside a record and
    :class:`~hskit.errors.CorruptTimestampWarning` on time stamps out of range.
    """
    records = read_records(path, progress=progress)
    tcp, skipped = decode(records)
    segments = _segments(records, tcp)
    notes = []
    if records.stop_reason is not None:
        message = (
            f"{path}: {records.stop_reason}; loaded the {len(records.caplen)} whole records "
            f"before it, {records.bytes_lost} bytes lost"
        )
        warnings.warn(message, TruncatedCaptureWarning, stacklevel=3)
        notes.append(message)
    for note in records.timestamp_notes:
        warnings.warn(f"{path}: {note}", CorruptTimestampWarning, stacklevel=3)
        notes.append(note)
    fragmented = int((~tcp.analyzed & ~tcp.quoted).sum())
    if fragmented:
        notes.append(
            f"{fragmented} segments in first IP fragments: without reassembly their TCP "
            "length is unknown, payload_len set to 0 and sequence numbers left raw"
        )
    report = LoadReport(
        path=str(path),
        backend="native",
        frames=len(records.caplen),
        tcp_segments=len(segments),
        skipped={reason: count for reason, count in skipped.items() if count},
        link_types=sorted({LINK_TYPE_NAMES[int(t)] for t in np.unique(records.link_type)}),
        bytes_lost=records.bytes_lost,
        notes=notes,
    )
    return segments, report


def _segments(records: Records, everything: TcpColumns) -> pd.DataFrame:
    src_code, dst_code, categories = _address_codes(everything)
    src_key = src_code * 65536 + everything.src_port.astype(np.int64)
    dst_key = dst_code * 65536 + everything.dst_port.astype(np.int64)
    stream = streams(
        src_key, dst_key, everything.flags, everything.seq, everything.ack, everything.analyzed
    )
    # TCP headers quoted by ICMP errors only took part in stream numbering.
    segment: npt.NDArray[np.bool_] | slice
    if not everything.quoted.any():
        segment = slice(None)  # every row: no copies
        tcp = everything
    else:
        segment = ~everything.quoted
        tcp = everything.select(segment)
        src_code, dst_code = src_code[segment], dst_code[segment]
        used = np.unique(np.concatenate([src_code, dst_code]))
        renumber = np.zeros(len(categories), dtype=np.int64)
        renumber[used] = np.arange(len(used))
        src_code, dst_code = renumber[src_code], renumber[dst_code]
        categories = [categories[i] for i in used]
    address = pd.CategoricalDtype(categories)
    ts_ns = records.ts_ns[tcp.record]
    first_ns = records.ts_ns[0] if len(records.ts_ns) else 0
    unknown = (ts_ns == NO_TIMESTAMP) | (first_ns == NO_TIMESTAMP)
    time = np.where(unknown, np.nan, (ts_ns - first_ns) / 1e9)
    columns = {
        "frame": (tcp.record + 1).astype(np.uint32),
        "ts": pd.to_datetime(ts_ns, unit="ns", utc=True),
        "time": time,
        "stream": stream.stream[segment].astype(np.uint32),
        "src_ip": pd.Categorical.from_codes(src_code, dtype=address),
        "dst_ip": pd.Categorical.from_codes(dst_code, dtype=address),
        "src_port": tcp.src_port.astype(np.uint16, copy=False),
        "dst_port": tcp.dst_port.astype(np.uint16, copy=False),
        "ip_version": tcp.ip_version.astype(np.uint8),
        "flags": tcp.flags.astype(np.uint16, copy=False),
        "seq": tcp.seq.astype(np.uint32, copy=False),
        "ack": tcp.ack.astype(np.uint32, copy=False),
        "rel_seq": stream.rel_seq[segment].astype(np.uint32),
        "rel_ack": stream.rel_ack[segment].astype(np.uint32),
        "win": tcp.win.astype(np.uint16, copy=False),
        "payload_len": tcp.payload_len.astype(np.uint32),
    }
    direction_columns = ("stream", "src_ip", "dst_ip", "src_port", "dst_port", "flags")
    columns["from_client"] = from_client(
        pd.DataFrame({name: columns[name] for name in direction_columns}, copy=False)
    )
    columns.update(
        mss=_nullable(tcp.mss, "UInt16"),
        wscale=_nullable(tcp.wscale, "UInt8"),
        sack_perm=tcp.sack_perm,
        tfo=tcp.tfo,
        ts_val=_nullable(tcp.ts_val, "UInt32"),
        ts_ecr=_nullable(tcp.ts_ecr, "UInt32"),
        ip_len=tcp.ip_len.astype(np.uint32),
        checksum_ok=pd.arrays.BooleanArray(tcp.checksum_ok == 1, tcp.checksum_ok < 0),
    )
    # Every column already has its schema dtype, in schema order: no casting pass.
    frame = pd.DataFrame(columns, copy=False)
    schema.check(frame, schema.SEGMENT_DTYPES, "segments")
    return frame


def _nullable(values: Int, dtype: str) -> pd.arrays.IntegerArray:
    """A nullable integer array with NA where ``values`` is -1 (option absent)."""
    missing = values < 0
    numpy_dtype = np.dtype(dtype.lower())
    return pd.arrays.IntegerArray(np.where(missing, 0, values).astype(numpy_dtype), missing)


def _address_codes(tcp: TcpColumns) -> tuple[Int, Int, list[str]]:
    """Codes into one list of address strings shared by the src and dst columns.

    The categories are in address order: IPv4 addresses by value, then IPv6 by value.
    """
    count = len(tcp.src_hi)
    hi = np.concatenate([tcp.src_hi, tcp.dst_hi])
    lo = np.concatenate([tcp.src_lo, tcp.dst_lo])
    if (hi == -1).all():  # IPv4 only: the low half is the address
        codes, unique_lo = pd.factorize(lo)
        unique_hi = np.full(len(unique_lo), -1, dtype=np.int64)
    else:
        hi_code, hi_uniques = pd.factorize(hi)
        lo_code, lo_uniques = pd.factorize(lo)
        codes, pairs = pd.factorize(hi_code.astype(np.int64) * len(lo_uniques) + lo_code)
        unique_hi = hi_uniques[pairs // max(len(lo_uniques), 1)]
        unique_lo = lo_uniques[pairs % max(len(lo_uniques), 1)]
    is_v4 = unique_hi == -1
    rank = np.lexsort((unique_lo.view(np.uint64), unique_hi.view(np.uint64), ~is_v4))
    new_code = np.empty(len(rank), dtype=np.int64)
    new_code[rank] = np.arange(len(rank))
    unique_hi, unique_lo, is_v4 = unique_hi[rank], unique_lo[rank], is_v4[rank]
    v6_halves = zip(unique_hi[~is_v4].tolist(), unique_lo[~is_v4].tolist(), strict=True)
    text = _ipv4_text(unique_lo[is_v4]) + [_ipv6_text(h, low) for h, low in v6_halves]
    codes = new_code[codes]
    return codes[:count], codes[count:], text


_OCTETS = np.array([str(octet) for octet in range(256)])


def _ipv4_text(addresses: Int) -> list[str]:
    """Dotted-quad text of IPv4 addresses, built with vectorized string operations.

    >>> _ipv4_text(np.array([0x7F000001]))
    ['127.0.0.1']
    """
    text = _OCTETS[(addresses >> 24) & 0xFF]
    for shift in (16, 8, 0):
        text = np.char.add(np.char.add(text, "."), _OCTETS[(addresses >> shift) & 0xFF])
    return text.tolist()


def _ipv6_text(hi: int, lo: int) -> str:
    """Wireshark's text for an IPv6 address given as two 64-bit halves."""
    address = ipaddress.IPv6Address(((hi & (2**64 - 1)) << 64) | (lo & (2**64 - 1)))
    if address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)
