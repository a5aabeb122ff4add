"""The fields hskit asks tshark for, and how its output becomes segment columns.

The fields come out as *custom columns* of ``-T tabs`` (twice as fast as ``-T fields``),
which pyarrow's CSV reader parses batch by batch while tshark is still writing; each
batch becomes NumPy/Arrow segment columns, and the batches one segments table.

Tunnels: a frame carrying IP in IP, GRE, VXLAN, MPLS or PPPoE gives the encapsulated TCP
header with the addresses of the IP header that carries it (each field's last occurrence).
TCP headers quoted in ICMP errors are not segments (``not_tcp``).

>>> command("tshark", Path("/x.pcap"), None)[:4]
['tshark', '-n', '-r', '/x.pcap']
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
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

__all__ = ["COLUMNS", "Column", "assemble", "batches", "command", "segment_columns"]

_DICTIONARY = pa.dictionary(pa.int32(), pa.string())
#: seconds as tshark prints them (``-0.000001000``), parsed exactly: in nanosecond units.
_SECONDS = pa.decimal128(38, 9)


@dataclass(frozen=True)
class Column:
    """One exported field: its name here, the tshark field, which occurrence, its type."""

    name: str
    field: str  # a display-filter field, or "a or b" for whichever the frame has
    occurrence: int  # 1 first, -1 last, 0 all (comma separated)
    arrow_type: pa.DataType


#: what hskit asks tshark for, in output order.
COLUMNS: tuple[Column, ...] = (
    Column("frame", "frame.number", 1, pa.uint32()),
    Column("epoch", "frame.time_epoch", 1, _SECONDS),
    Column("relative", "frame.time_relative", 1, _SECONDS),
    Column("stream", "tcp.stream", -1, pa.uint32()),
    Column("src_ip", "ip.src or ipv6.src", -1, _DICTIONARY),
    Column("dst_ip", "ip.dst or ipv6.dst", -1, _DICTIONARY),
    Column("src_port", "tcp.srcport", -1, pa.uint16()),
    Column("dst_port", "tcp.dstport", -1, pa.uint16()),
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
    Column("fragment_offset", "ip.frag_offset or ipv6.fraghdr.offset", -1, pa.uint16()),
    Column("icmp_type", "icmp.type or icmpv6.type", 1, pa.uint8()),
)

_TFO_KIND, _EXPERIMENTAL_KIND, _TFO_MAGIC = 34, 254, "0xf989"
_SACK_PERM_KIND = 4


def command(tshark: str, path: Path, display_filter: str | None) -> list[str]:
    """tshark's argument list for reading ``path`` into the custom columns of ``-T tabs``.

    >>> command("tshark", Path("/x.pcap"), None)[:4]
    ['tshark', '-n', '-r', '/x.pcap']
    """
    columns = ",".join(
        f'"{column.name}","%Cus:{column.field}:{column.occurrence}:U"' for column in COLUMNS
    )
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

    The counts also hold ``unknown_length``: segments tshark gives no ``tcp.len`` for.
    """
    valid = {name: batch.column(name).is_valid() for name in ("flags", "src_port", "src_ip")}
    quoted = batch.column("icmp_type").is_valid()
    segment = pc.and_(valid["flags"], pc.invert(quoted))
    fragment = pc.and_(
        pc.invert(valid["flags"]),
        pc.fill_null(pc.greater(batch.column("fragment_offset"), 0), False),
    )
    truncated = pc.and_(valid["src_port"], pc.invert(pc.or_(valid["flags"], quoted)))
    not_ip = pc.invert(valid["src_ip"])
    counts = {
        "not_ip": _count(not_ip),
        "ip_fragment": _count(fragment),
        "truncated_headers": _count(truncated),
    }
    counts["not_tcp"] = batch.num_rows - _count(segment) - sum(counts.values())

    rows = batch.filter(segment)
    payload_len = rows.column("payload_len")
    counts["unknown_length"] = payload_len.null_count
    columns: dict[str, object] = {
        name: _numpy(rows.column(name))
        for name in ("frame", "stream", "src_port", "dst_port", "seq", "ack", "rel_seq",
                     "rel_ack", "win")
    }  # fmt: skip
    columns["payload_len"] = _numpy(pc.fill_null(payload_len, 0))
    columns["ts_ns"] = _nanoseconds(rows.column("epoch"))
    columns["time_ns"] = _nanoseconds(rows.column("relative"))
    columns["src_ip"] = rows.column("src_ip")
    columns["dst_ip"] = rows.column("dst_ip")
    columns["flags"] = _hex_values(rows.column("flags"))
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
            "time": joined("time_ns") / np.timedelta64(1, "s"),
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
    frame["from_client"] = from_client(frame)
    return schema.conform(frame, schema.SEGMENT_DTYPES)


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


def _nanoseconds(seconds: pa.Decimal128Array) -> npt.NDArray[np.timedelta64]:
    """Decimal seconds to nanoseconds, exactly; NaT for a frame without a timestamp.

    A decimal with 9 places is stored as its value in nanoseconds, a little-endian 128-bit
    integer: its low 64 bits are the nanoseconds. (A pcapng simple packet block has no
    timestamp.)
    """
    stored = np.frombuffer(seconds.buffers()[1], dtype=np.int64).reshape(-1, 2)
    nanoseconds = stored[seconds.offset : seconds.offset + len(seconds), 0]
    missing = seconds.is_null().to_numpy(zero_copy_only=False)
    return np.where(missing, np.timedelta64("NaT"), nanoseconds.view("timedelta64[ns]"))


def _hex_values(values: pa.DictionaryArray) -> npt.NDArray[np.uint16]:
    """``0x012``-style text to integers: each distinct value parsed once."""
    table = np.array([int(text, 16) for text in values.dictionary.to_pylist()], dtype=np.uint16)
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
