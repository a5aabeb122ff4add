"""The fields hskit asks tshark for, and how its output becomes segment columns.

The fields come out as *custom columns* of ``-T tabs`` (twice as fast as ``-T fields``),
which pyarrow's CSV reader parses batch by batch while tshark is still writing; each
batch becomes NumPy/Arrow segment columns, and the batches one segments table.

Tunnels: a frame carrying IP in IP, GRE, VXLAN, Geneve, MPLS or PPPoE gives the
encapsulated TCP header (each TCP field's last occurrence) with the addresses of the IP
header that carries it: tshark's network source and destination columns, which the
innermost IP header sets, whether the tunnel's IP version is the same or the other one.
TCP headers quoted in ICMP errors are not segments (``not_tcp``).

Flags keep the schema's nine bits (FIN … AE); the three reserved bits are dropped, as the
native reader drops them. Timestamps are read from tshark's text exactly (see
:func:`nanoseconds`), including the out-of-range sub-second fields of corrupt records.

>>> command("tshark", Path("/x.pcap"), None)[:4]
['tshark', '-n', '-r', '/x.pcap']
"""

from __future__ import annotations

import operator
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from hskit import schema
from hskit.direction import from_client
from hskit.tshark.isolation import preference_arguments

__all__ = [
    "COLUMNS",
    "FLAG_MASK",
    "Column",
    "assemble",
    "batches",
    "command",
    "nanoseconds",
    "segment_columns",
]

_DICTIONARY = pa.dictionary(pa.int32(), pa.string())
#: the flag bits of the schema (FIN … AE): tshark's tcp.flags also holds the reserved bits.
FLAG_MASK = reduce(operator.or_, (bit for bit, _, _ in schema.FLAG_BITS))
#: tshark's time text: seconds, a dot, nanoseconds printed with at least 9 digits; a
#: leading "-" (see :func:`nanoseconds`). Anything else is not read (NaT, and a note).
_TIME_TEXT = r"^-?[0-9]{1,11}\.[0-9]{1,10}$"
#: where tshark's signed 32-bit nanoseconds wrap.
_UNSIGNED_32 = 1 << 32
#: the last second datetime64[ns] holds (2262-04-11).
_LAST_SECOND = np.iinfo(np.int64).max // 10**9 - 1


@dataclass(frozen=True)
class Column:
    """One exported column: its name here, what tshark prints in it, and its type.

    ``field`` is a display-filter field (``"a or b"`` for whichever the frame has), printed
    at ``occurrence`` (1 first, -1 last, 0 all, comma separated), or a built-in column
    format (``"%uns"``), which has no occurrence.
    """

    name: str
    field: str
    occurrence: int
    arrow_type: pa.DataType

    @property
    def format(self) -> str:
        """The column's entry in ``gui.column.format``."""
        if self.field.startswith("%"):
            return self.field
        return f"%Cus:{self.field}:{self.occurrence}:U"


#: what hskit asks tshark for, in output order. The network source and destination
#: columns (``%uns``, ``%und``) are never side by side: tshark would print an arrow between
#: them. It pads them with spaces to 12 characters; the addresses are trimmed.
COLUMNS: tuple[Column, ...] = (
    Column("frame", "frame.number", 1, pa.uint32()),
    Column("epoch", "frame.time_epoch", 1, pa.string()),
    Column("relative", "frame.time_relative", 1, pa.string()),
    Column("stream", "tcp.stream", -1, pa.uint32()),
    Column("src_ip", "%uns", 0, _DICTIONARY),
    Column("src_port", "tcp.srcport", -1, pa.uint16()),
    Column("dst_ip", "%und", 0, _DICTIONARY),
    Column("dst_port", "tcp.dstport", -1, pa.uint16()),
    Column("ip_versions", "ip.version or ipv6.version", 1, _DICTIONARY),
    Column("flags", "tcp.flags", -1, _DICTIONARY),
    Column("seq", "tcp.seq_raw", -1, pa.uint32()),
    Column("ack", "tcp.ack_raw", -1, pa.uint32()),
    Column("rel_seq", "tcp.seq", -1, pa.uint32()),
    Column("rel_ack", "tcp.ack", -1, pa.uint32()),
    Column("win", "tcp.window_size_value", -1, pa.uint16()),
    Column("payload_len", "tcp.len", -1, pa.uint32()),
    Column("mss", "tcp.options.mss_val", -1, pa.uint16()),
    Column("wscale", "tcp.options.wscale.shift", -1, pa.uint8()),
    Column("option_kinds", "tcp.option_kind", 0, _DICTIONARY),
    Column("exids", "tcp.options.experimental.exid", 0, _DICTIONARY),
    Column("ts_val", "tcp.options.timestamp.tsval", -1, pa.uint32()),
    Column("ts_ecr", "tcp.options.timestamp.tsecr", -1, pa.uint32()),
    Column("ipv4_len", "ip.len", -1, pa.uint32()),
    Column("ipv6_payload_len", "ipv6.plen", -1, pa.uint32()),
    Column("checksum_status", "tcp.checksum.status", -1, _DICTIONARY),
    Column("ipv4_fragment_offset", "ip.frag_offset", -1, pa.uint16()),
    Column("ipv6_fragment_offset", "ipv6.fraghdr.offset", -1, pa.uint16()),
    Column("icmp_type", "icmp.type or icmpv6.type", 1, _DICTIONARY),
)

_TFO_KIND, _EXPERIMENTAL_KIND, _TFO_MAGIC = 34, 254, "0xf989"
_SACK_PERM_KIND = 4
#: ``tcp.checksum.status`` as tshark prints it, to right (1) / wrong (0); any other
#: ("Unverified": not all of the segment captured, or in an IP fragment) is unknown (-1).
_CHECKSUM_RIGHT, _CHECKSUM_UNKNOWN = 1, -1
_CHECKSUM_VERDICTS = {'"Good"': 1, '"Illegal"': 1, '"Bad"': 0}


def command(tshark: str, path: Path, display_filter: str | None) -> list[str]:
    """tshark's argument list for reading ``path`` into the custom columns of ``-T tabs``.

    >>> command("tshark", Path("/x.pcap"), None)[:4]
    ['tshark', '-n', '-r', '/x.pcap']
    """
    columns = ",".join(f'"{column.name}","{column.format}"' for column in COLUMNS)
    arguments = [tshark, "-n", "-r", os.path.abspath(path), *preference_arguments()]
    arguments += ["-o", f"gui.column.format:{columns}", "-T", "tabs"]
    if display_filter is not None:
        arguments += ["-Y", display_filter]
    return arguments


def batches(stdout: IO[bytes]) -> Iterator[pa.RecordBatch]:
    """Record batches of tshark's tab-separated output, parsed while it is written."""
    if not stdout.peek(1):  # type: ignore[attr-defined]  # a BufferedReader
        return
    reader = pa_csv.open_csv(
        stdout,
        read_options=pa_csv.ReadOptions(
            column_names=[column.name for column in COLUMNS], block_size=1 << 21
        ),
        parse_options=pa_csv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=pa_csv.ConvertOptions(
            column_types={column.name: column.arrow_type for column in COLUMNS},
            strings_can_be_null=True,
        ),
    )
    yield from reader


def segment_columns(batch: pa.RecordBatch) -> tuple[dict[str, object], dict[str, int]]:
    """One batch's segment columns (NumPy or Arrow), and its counts by skip reason.

    The counts also hold ``unknown_length`` (segments tshark gives no ``tcp.len`` for),
    ``odd_timestamp`` (frames whose sub-second field was out of range, see
    :func:`nanoseconds`) and ``unread_timestamp`` (time text that could not be read).
    """
    valid = {name: batch.column(name).is_valid() for name in ("flags", "src_port")}
    quoted = batch.column("icmp_type").is_valid()
    segment = pc.and_(valid["flags"], pc.invert(quoted))
    src_ip, dst_ip = (_trimmed(batch.column(name)) for name in ("src_ip", "dst_ip"))
    fragment = pc.and_(pc.invert(valid["flags"]), _later_fragment(batch, src_ip))
    truncated = pc.and_(valid["src_port"], pc.invert(pc.or_(valid["flags"], quoted)))
    not_ip = batch.column("ip_versions").is_null()
    counts = {
        "not_ip": _count(not_ip),
        "ip_fragment": _count(fragment),
        "truncated_headers": _count(truncated),
    }
    counts["not_tcp"] = batch.num_rows - _count(segment) - sum(counts.values())
    epoch, odd_epoch, unread = nanoseconds(batch.column("epoch"), epoch=True)
    relative, odd_relative, _ = nanoseconds(batch.column("relative"), epoch=False)
    counts["odd_timestamp"] = int(odd_epoch.sum())
    counts["unread_timestamp"] = int(unread.sum())

    rows = batch.filter(segment)
    chosen = _numpy(segment).astype(bool)
    payload_len = rows.column("payload_len")
    counts["unknown_length"] = payload_len.null_count
    columns: dict[str, object] = {
        name: _numpy(rows.column(name))
        for name in ("frame", "stream", "src_port", "dst_port", "seq", "ack", "rel_seq",
                     "rel_ack", "win")
    }  # fmt: skip
    columns["payload_len"] = _numpy(pc.fill_null(payload_len, 0))
    columns["src_ip"] = src_ip.filter(segment)
    columns["ip_len"] = _ip_lengths(rows, columns["src_ip"])
    columns["checksum_ok"] = _checksum_ok(rows.column("checksum_status"))
    columns["ts_ns"] = epoch[chosen]
    columns["relative_ns"] = relative[chosen]
    columns["exact_relative"] = ~(odd_epoch | odd_relative)[chosen]
    columns["dst_ip"] = dst_ip.filter(segment)
    columns["flags"] = _hex_values(rows.column("flags")) & FLAG_MASK
    for name in ("mss", "wscale", "ts_val", "ts_ecr"):
        columns[name] = rows.column(name)
    kinds = rows.column("option_kinds")
    columns["sack_perm"] = _has_option(kinds, _SACK_PERM_KIND)
    experimental_tfo = np.logical_and(
        _has_option(kinds, _EXPERIMENTAL_KIND),
        _dictionary_test(rows.column("exids"), lambda text: pc.match_substring(text, _TFO_MAGIC)),
    )
    columns["tfo"] = _has_option(kinds, _TFO_KIND) | experimental_tfo
    return columns, counts


def nanoseconds(
    text: pa.Array, *, epoch: bool
) -> tuple[npt.NDArray[np.timedelta64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """tshark's time text to nanoseconds, exactly; with the rows whose sub-second field was
    out of range, and the rows whose text could not be read (NaT, as for no text at all).

    tshark keeps a time as whole seconds and a signed 32-bit count of nanoseconds, and prints
    ``"%d.%09d"`` of them: the digits after the dot are *nanoseconds*, more than 9 of them
    when a corrupt record's field reached a second or more (a pcap µs field of 10^6 prints
    ``1795482547.1000000000``: one second more, as the native reader reads it).

    A field of 2^31 ns or more (a µs field over 2147483) turns negative in tshark's signed
    count, printed as a leading "-" before the unsigned seconds (``-1795482547.1794967296``);
    a capture's seconds and sub-second fields are unsigned, so an ``epoch`` "-S.F" is read
    back as S seconds plus the unsigned field, 2^32 - F nanoseconds. (A µs field over
    4294967 has already lost a multiple of 2^32 ns in tshark's multiplication by 1000: that
    cannot be read back.) A relative time is a normalised difference: "-S.F" is minus
    (S seconds plus F nanoseconds).

    >>> text = pa.array(["5.000000001", "5.1000000000", "-5.1794967296", "x", None])
    >>> times, odd, unread = nanoseconds(text, epoch=True)
    >>> times.astype("int64")[:3].tolist()
    [5000000001, 6000000000, 7500000000]
    >>> odd.tolist(), unread.tolist()
    ([False, True, True, False, False], [False, False, False, True, False])
    """
    readable = pc.fill_null(pc.match_substring_regex(text, _TIME_TEXT), False)
    negative = _numpy(pc.fill_null(pc.starts_with(text, "-"), False)).astype(bool)
    parts = pc.split_pattern(pc.if_else(readable, text, "0.0"), ".", max_splits=1)
    whole, fraction = (
        _numpy(pc.cast(pc.utf8_ltrim(pc.list_element(parts, index), "-"), pa.int64()))
        for index in (0, 1)
    )
    readable_rows = _numpy(readable).astype(bool) & (whole <= _LAST_SECOND)
    fraction_digits = _numpy(pc.utf8_length(pc.list_element(parts, 1)))
    if epoch:
        total = whole * 10**9 + np.where(negative, _UNSIGNED_32 - fraction, fraction)
        odd = readable_rows & (negative | (fraction_digits != 9))
    else:
        total = np.where(negative, -1, 1) * (whole * 10**9 + fraction)
        odd = readable_rows & (fraction_digits != 9)
    unread = _numpy(text.is_valid()).astype(bool) & ~readable_rows
    times = np.where(readable_rows, total.view("timedelta64[ns]"), np.timedelta64("NaT"))
    return times, odd, unread


def _since_first_frame(
    ts_ns: npt.NDArray[np.timedelta64],
    relative_ns: npt.NDArray[np.timedelta64],
    exact: npt.NDArray[np.bool_],
) -> npt.NDArray[np.float64]:
    """Seconds since the file's first frame: tshark's relative time, except where a corrupt
    sub-second field made tshark's 32-bit nanosecond arithmetic overflow; there ``ts`` minus
    the first frame's time, which any other row gives (its ``ts`` minus its relative time).
    """
    since = relative_ns
    if exact.any() and not exact.all():
        first_frame = ts_ns[exact][0] - relative_ns[exact][0]
        since = np.where(exact, relative_ns, ts_ns - first_frame)
    return since / np.timedelta64(1, "s")


def _trimmed(addresses: pa.DictionaryArray) -> pa.DictionaryArray:
    """The address column without tshark's padding (empty where there is no network layer)."""
    dictionary = pc.utf8_trim_whitespace(addresses.dictionary)
    return pa.DictionaryArray.from_arrays(addresses.indices, dictionary)


def _later_fragment(batch: pa.RecordBatch, src_ip: pa.DictionaryArray) -> pa.Array:
    """True for a non-first fragment of the innermost IP header (IPv4 or IPv6 by its
    source address): no TCP header can be read there."""
    inner_ipv6 = pc.fill_null(pc.match_substring(src_ip.dictionary_decode(), ":"), False)
    offset = pc.if_else(
        inner_ipv6, batch.column("ipv6_fragment_offset"), batch.column("ipv4_fragment_offset")
    )
    return pc.fill_null(pc.greater(offset, 0), False)


def assemble(chunks: list[dict[str, object]]) -> pd.DataFrame:
    """One segments table from the per-batch columns, conformed to the schema."""
    if not chunks or all(len(chunk["frame"]) == 0 for chunk in chunks):  # type: ignore[arg-type]
        return schema.empty_segments()

    def joined(name: str) -> npt.NDArray[np.generic]:
        return np.concatenate([chunk[name] for chunk in chunks])  # type: ignore[misc]

    def arrow(name: str) -> pa.ChunkedArray:
        return pa.chunked_array([chunk[name] for chunk in chunks])  # type: ignore[misc]

    src_ip, dst_ip = _shared_categories(arrow("src_ip"), arrow("dst_ip"))
    frame = pd.DataFrame(
        {
            "frame": joined("frame"),
            "ts": pd.to_datetime(np.datetime64(0, "ns") + joined("ts_ns"), utc=True),
            "time": _since_first_frame(
                joined("ts_ns"), joined("relative_ns"), joined("exact_relative")
            ),
            "stream": joined("stream"),
            "src_ip": src_ip,
            "dst_ip": dst_ip,
            "src_port": joined("src_port"),
            "dst_port": joined("dst_port"),
            "ip_version": np.where(src_ip.str.contains(":", regex=False), 6, 4),
            **{name: joined(name) for name in ("flags", "seq", "ack", "rel_seq", "rel_ack")},
            "win": joined("win"),
            "payload_len": joined("payload_len"),
            **{name: _nullable(arrow(name)) for name in ("mss", "wscale")},
            "sack_perm": joined("sack_perm"),
            "tfo": joined("tfo"),
            **{name: _nullable(arrow(name)) for name in ("ts_val", "ts_ecr")},
        },
        copy=False,
    )
    frame["ip_len"] = joined("ip_len")
    frame["checksum_ok"] = pd.arrays.BooleanArray(
        joined("checksum_ok") == _CHECKSUM_RIGHT, joined("checksum_ok") == _CHECKSUM_UNKNOWN
    )
    frame["from_client"] = from_client(frame)
    return schema.conform(frame, schema.SEGMENT_DTYPES)


def _ip_lengths(rows: pa.RecordBatch, src_ip: pa.DictionaryArray) -> npt.NDArray[np.int64]:
    """The innermost IP header's total length (IPv4 or IPv6 by its source address, as in
    :func:`_later_fragment`): a tunnel's frame has both fields, and IPv6's counts the
    payload only, so its 40-byte fixed header is added."""
    inner_ipv6 = _numpy(
        pc.fill_null(pc.match_substring(src_ip.dictionary_decode(), ":"), False)
    ).astype(bool)
    ipv4 = _numpy(pc.fill_null(rows.column("ipv4_len"), 0)).astype(np.int64)
    ipv6 = _numpy(pc.fill_null(rows.column("ipv6_payload_len"), 0)).astype(np.int64)
    return np.where(inner_ipv6, ipv6 + 40, ipv4)


def _checksum_ok(status: pa.DictionaryArray) -> npt.NDArray[np.int8]:
    """tshark's ``tcp.checksum.status`` (its text) as right (1), wrong (0) or not
    verified (-1). A checksum 0xFFFF that should be 0 ("Illegal", RFC 1624) is right:
    ones' complement has two zeros, and TCP stacks (and Zeek) accept it."""
    verdicts = np.array(
        [_CHECKSUM_VERDICTS.get(text, _CHECKSUM_UNKNOWN) for text in status.dictionary.to_pylist()]
        + [_CHECKSUM_UNKNOWN],
        dtype=np.int8,
    )
    indices = pc.fill_null(status.indices, len(status.dictionary)).to_numpy(zero_copy_only=False)
    return verdicts[indices]


def _shared_categories(src: pa.ChunkedArray, dst: pa.ChunkedArray) -> tuple[pd.Series, pd.Series]:
    """Source and destination addresses as categoricals with one sorted category list."""
    both = pa.chunked_array(src.chunks + dst.chunks).unify_dictionaries()
    categorical = pd.Series(both.to_pandas()).cat.remove_unused_categories()
    categories = np.sort(categorical.cat.categories.to_numpy(dtype=object))
    categorical = categorical.cat.reorder_categories(categories)
    count = len(src)
    return (
        categorical.iloc[:count].reset_index(drop=True),
        categorical.iloc[count:].reset_index(drop=True),
    )


def _count(mask: pa.Array) -> int:
    return int(pc.sum(mask).as_py() or 0)


def _numpy(values: pa.Array) -> npt.NDArray[np.generic]:
    return values.to_numpy(zero_copy_only=False)


def _nullable(values: pa.ChunkedArray) -> pd.arrays.IntegerArray:
    """A pandas nullable integer array (NA where the option is absent)."""
    dtype = pd.api.types.pandas_dtype(str(values.type).replace("uint", "UInt"))
    return pd.array(values.to_pandas(types_mapper={values.type: dtype}.get), dtype=dtype)


def _hex_values(values: pa.DictionaryArray) -> npt.NDArray[np.uint32]:
    """``0x012``-style text to integers: each distinct value parsed once."""
    table = np.array([int(text, 16) for text in values.dictionary.to_pylist()], dtype=np.uint32)
    return table[values.indices.to_numpy(zero_copy_only=False)]


def _dictionary_test(values: pa.DictionaryArray, test: object) -> npt.NDArray[np.bool_]:
    """``test`` evaluated on each distinct text once, spread to the rows; False for null."""
    if len(values.dictionary) == 0:
        return np.zeros(len(values), dtype=bool)
    per_entry = pc.fill_null(test(values.dictionary), False).to_numpy(zero_copy_only=False)  # type: ignore[operator]
    indices = pc.fill_null(values.indices, 0).to_numpy(zero_copy_only=False)
    return per_entry[indices] & values.is_valid().to_numpy(zero_copy_only=False)


def _has_option(kinds: pa.DictionaryArray, kind: int) -> npt.NDArray[np.bool_]:
    """True where the comma-separated option kinds include ``kind``."""
    pattern = rf"(^|,){kind}(,|$)"
    return _dictionary_test(kinds, lambda text: pc.match_substring_regex(text, pattern))
