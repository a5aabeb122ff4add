"""The tshark backend: Wireshark's dissection of a capture, streamed into the segments table.

tshark runs as a subprocess (a list of arguments, no shell, ``-n``) in an empty temporary
configuration folder with every preference that shapes the output pinned, and only the
protocols on the way to TCP enabled (all of them for a display filter). The fields come
out as *custom columns* of ``-T tabs`` (twice as fast as ``-T fields``), which pyarrow's
CSV reader parses batch by batch while tshark is still writing. An interrupt (Ctrl-C,
a Jupyter interrupt) kills tshark and removes the temporary folder.

Tunnels: a frame carrying IP in IP, GRE, VXLAN, MPLS or PPPoE gives the encapsulated TCP
header with the addresses of the IP header that carries it (each field's last occurrence).
Protocols that would carry TCP inside TCP (VPNs over TCP …) are disabled, so such a frame
is the outer segment (with a display filter, which dissects everything: the inner one).
TCP headers quoted in ICMP errors are not segments (``not_tcp``), but tshark still
numbers their connection in ``tcp.stream``, as a full dissection does.

tshark's version and its list of protocols are asked once per tshark build and kept in
``tshark-facts.json`` in :func:`cache_folder` (``$HSKIT_CACHE_DIR`` overrides it), so a
load starts tshark at once; capinfos counts the frames while tshark runs.

>>> segments, report = read(Path("capture.pcap"), display_filter="tcp.port == 80")  # doctest: +SKIP
>>> report.backend, report.skipped  # doctest: +SKIP
('tshark', {'filtered': 12})
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from hskit import schema
from hskit.capture import LoadReport
from hskit.direction import from_client
from hskit.errors import TruncatedCaptureWarning, TsharkFailed
from hskit.progress import byte_progress
from hskit.pyshark_bridge import (
    companion_executable,
    error_text,
    isolated_environment,
    preference_arguments,
    require_version,
    tshark_executable,
    tshark_version,
)

try:
    from fcntl import F_SETPIPE_SZ, fcntl
except ImportError:  # not Linux: tshark's output is read as it comes
    F_SETPIPE_SZ = None

__all__ = [
    "CACHE_DIR_VARIABLE",
    "COLUMNS",
    "ENABLED_PROTOCOLS",
    "Column",
    "cache_folder",
    "command",
    "disabled_protocols",
    "read",
]

#: environment variable naming the folder of hskit's cache (instead of the user's cache).
CACHE_DIR_VARIABLE = "HSKIT_CACHE_DIR"
#: the cache file: each tshark build's version and ``disabled_protos`` list.
_FACTS_FILE = "tshark-facts.json"

#: protocols left enabled: the frame, link layers and encapsulations that can carry IP,
#: IP itself, TCP, and ICMP (so TCP headers quoted in ICMP errors are recognised as such
#: and numbered into streams exactly as a full dissection numbers them).
ENABLED_PROTOCOLS: frozenset[str] = frozenset(
    ("frame", "eth", "ethertype", "vlan", "ieee8021ad", "sll", "null", "loop", "raw", "llc",
     "ppp", "pppoes", "mpls", "gre", "udp", "vxlan", "erf", "nflog", "pktap", "wlan",
     "radiotap", "wlan_radio", "ip", "ipv6", "tcp", "icmp", "icmpv6")
)  # fmt: skip
#: protocol-name prefixes left enabled too (IPv6 extension headers, Wireshark internals).
_ENABLED_PREFIXES = ("ipv6.", "_ws.")

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
    Column("ip_len", "ip.len or ipv6.plen", -1, pa.uint32()),
    Column("checksum_status", "tcp.checksum.status", -1, _DICTIONARY),
    Column("fragment_offset", "ip.frag_offset or ipv6.fraghdr.offset", -1, pa.uint16()),
    Column("icmp_type", "icmp.type or icmpv6.type", 1, pa.uint8()),
)

#: wiretap's short encapsulation names (capinfos -E) → pcap LINKTYPE names.
_LINK_TYPES: dict[str, str] = {
    "ether": "EN10MB",
    "linux-sll": "LINUX_SLL",
    "linux-sll2": "LINUX_SLL2",
    "rawip": "RAW",
    "rawip4": "IPV4",
    "rawip6": "IPV6",
    "null": "NULL",
    "loop": "LOOP",
    "ppp": "PPP",
    "ieee-802-11": "IEEE802_11",
    "ieee-802-11-radiotap": "IEEE802_11_RADIOTAP",
    "ieee-802-11-prism": "IEEE802_11_PRISM",
    "erf": "ERF",
    "nflog": "NFLOG",
    "pktap": "PKTAP",
}
#: capinfos' long descriptions of the same encapsulations (for per-packet link types).
_LINK_DESCRIPTIONS: dict[str, str] = {
    "Ethernet": "EN10MB",
    "Linux cooked-mode capture v1": "LINUX_SLL",
    "Linux cooked-mode capture v2": "LINUX_SLL2",
    "Raw IP": "RAW",
    "Raw IPv4": "IPV4",
    "Raw IPv6": "IPV6",
    "NULL/Loopback": "NULL",
    "OpenBSD loopback": "LOOP",
    "PPP": "PPP",
    "IEEE 802.11 Wireless LAN": "IEEE802_11",
    "IEEE 802.11 plus radiotap radio header": "IEEE802_11_RADIOTAP",
}
#: tshark's words for a file that ends inside a record or has a corrupt record length.
_DAMAGED = ("cut short in the middle of a packet", "appears to be damaged or corrupt")
_TFO_KIND, _EXPERIMENTAL_KIND, _TFO_MAGIC = 34, 254, "0xf989"
#: ``tcp.checksum.status`` as tshark prints it, to right (1) / wrong (0); any other
#: ("Unverified": not all of the segment captured, or in an IP fragment) is unknown (-1).
_CHECKSUM_RIGHT, _CHECKSUM_UNKNOWN = 1, -1
_CHECKSUM_VERDICTS = {'"Good"': 1, '"Illegal"': 1, '"Bad"': 0}
_SACK_PERM_KIND = 4
#: capacity asked for tshark's stdout pipe (Linux): room for its output during a pause.
_PIPE_CAPACITY = 1 << 20
#: seconds the reader lets tshark's output pile up in the pipe before reading it.
_PIPE_PAUSE = 0.01


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


def read(
    path: Path, *, display_filter: str | None = None, progress: bool | None = None
) -> tuple[pd.DataFrame, LoadReport]:
    """Read ``path`` with tshark into ``(segments, load_report)``.

    ``display_filter`` is a Wireshark display filter (``-Y``); frames it removes are
    counted as ``skipped["filtered"]``. With a filter every protocol is dissected, so
    it may test application fields (``http.request``), at some cost in speed.
    Raises :class:`~hskit.errors.TsharkNotFound` and :class:`~hskit.errors.TsharkFailed`
    (with tshark's stderr).

    >>> segments, report = read(Path("capture.pcap"))  # doctest: +SKIP
    """
    tshark = tshark_executable()
    # a display filter may name any protocol (``http.request``): dissect them all
    disabled = _checked_disabled_protocols(tshark, needed=display_filter is None)
    chunks: list[dict[str, object]] = []
    tally: Counter[str] = Counter()
    with (
        ThreadPoolExecutor(max_workers=1) as pool,
        isolated_environment(disabled) as env,
        _tshark_stdout(command(tshark, path, display_filter), env) as (stdout, finish),
        byte_progress(path.stat().st_size, enabled=progress) as bar,
    ):
        file_info = pool.submit(_file_info, tshark, path)  # capinfos, while tshark runs
        for batch in _batches(stdout):
            chunk, counts = _segment_columns(batch)
            chunks.append(chunk)
            tally.update(counts, lines=batch.num_rows)
            counted_frames = file_info.result()[0] if file_info.done() else None
            if counted_frames:
                last_frame = batch.column("frame")[-1].as_py()
                bar.update(bar.total * min(last_frame / counted_frames, 1.0) - bar.n)
        exit_code, stderr_text = finish()
    total_frames, link_types = file_info.result()
    lines, unknown_length = tally.pop("lines", 0), tally.pop("unknown_length", 0)
    if any(words in stderr_text for words in _DAMAGED):
        message = f"{error_text(stderr_text)}; loaded the {lines} whole frames before it"
        warnings.warn(f"{path}: {message}", TruncatedCaptureWarning, stacklevel=3)
    elif exit_code != 0:
        raise TsharkFailed(f"tshark failed (exit {exit_code}): {error_text(stderr_text)}")

    notes: list[str] = []
    frames = max(total_frames or 0, lines)
    if display_filter is not None:
        tally["filtered"] = frames - lines
        if total_frames is None:
            notes.append("capinfos unavailable: frames removed by the display filter not counted")
    if unknown_length:
        notes.append(
            f"{unknown_length} segments in first IP fragments: tshark gives no TCP length "
            "without reassembly, payload_len set to 0"
        )
    segments = _assemble(chunks)
    report = LoadReport(
        path=str(path),
        backend="tshark",
        frames=frames,
        tcp_segments=len(segments),
        skipped={reason: count for reason, count in sorted(tally.items()) if count},
        link_types=link_types,
        notes=notes,
    )
    return segments, report


def cache_folder() -> Path:
    """Where hskit caches what it learns about tshark builds.

    ``$HSKIT_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/hskit``, else ``~/.cache/hskit``.

    >>> cache_folder()  # doctest: +SKIP
    PosixPath('/home/me/.cache/hskit')
    """
    chosen = os.environ.get(CACHE_DIR_VARIABLE)
    if chosen:
        return Path(chosen)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hskit"


def _checked_disabled_protocols(tshark: str, *, needed: bool) -> str:
    """Refuse a too old ``tshark``; give its ``disabled_protos`` list ("" unless ``needed``).

    Both come from the cache file when it holds them for this very build of tshark (same
    resolved path, size and modification time); what it lacks is asked of tshark, both
    runs at once, and stored. A cache that cannot be read or written is done without.
    """
    build = _build_identity(tshark)
    stored = _stored_facts()
    known = _known_facts(stored.get(build["path"]), build) if build else {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        asked_version = None if "version" in known else pool.submit(tshark_version, tshark)
        asked_listing = (
            pool.submit(disabled_protocols, tshark)
            if needed and "disabled_protocols" not in known
            else None
        )
        if asked_version is not None:
            known["version"] = asked_version.result()
        require_version(tshark, known["version"])  # type: ignore[arg-type]
        if asked_listing is not None:
            known["disabled_protocols"] = asked_listing.result()
    if build and (asked_version or asked_listing):
        stored[build["path"]] = {**build, **known}
        _store_facts(stored)
    return known["disabled_protocols"] if needed else ""  # type: ignore[return-value]


def _build_identity(tshark: str) -> dict[str, object] | None:
    """What tells one build of tshark from another: resolved path, size, modification time."""
    try:
        resolved = os.path.realpath(tshark)
        status = os.stat(resolved)
    except OSError:
        return None  # asking tshark itself will say what is wrong
    return {"path": resolved, "size": status.st_size, "mtime_ns": status.st_mtime_ns}


def _stored_facts() -> dict[str, object]:
    """The cache file's entries by tshark path; none when it is missing or unreadable."""
    try:
        entries = json.loads((cache_folder() / _FACTS_FILE).read_text(encoding="utf-8"))
    except (OSError, RuntimeError, ValueError):  # RuntimeError: no home folder
        return {}
    return entries if isinstance(entries, dict) else {}


def _known_facts(entry: object, build: dict[str, object]) -> dict[str, object]:
    """The well-formed facts of a cache entry, if it was written for this very ``build``."""
    if not isinstance(entry, dict) or any(entry.get(key) != build[key] for key in build):
        return {}
    known: dict[str, object] = {}
    version = entry.get("version")
    if isinstance(version, list) and len(version) == 3 and all(type(v) is int for v in version):
        known["version"] = tuple(version)
    if isinstance(entry.get("disabled_protocols"), str):
        known["disabled_protocols"] = entry["disabled_protocols"]
    return known


def _store_facts(entries: dict[str, object]) -> None:
    """Write the cache file atomically (a temporary file renamed over it), if it can."""
    temporary: str | None = None
    try:
        folder = cache_folder()
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=folder, prefix=".tshark-facts-", delete=False
        ) as file:
            temporary = file.name
            json.dump(entries, file)
        os.replace(temporary, folder / _FACTS_FILE)
    except (OSError, RuntimeError):  # the cache only saves time: loading goes on without it
        if temporary is not None:
            with suppress(OSError):
                os.unlink(temporary)


@lru_cache(maxsize=8)
def disabled_protocols(tshark: str) -> str:
    """The ``disabled_protos`` file: every protocol tshark knows except those needed.

    >>> "http" in disabled_protocols("/usr/bin/tshark").split()  # doctest: +SKIP
    True
    """
    with isolated_environment() as env:
        listing = _run([tshark, "-G", "protocols"], env)
    names = (line.split("\t")[2] for line in listing.splitlines() if line.count("\t") >= 2)
    return "".join(f"{name}\n" for name in names if not _kept(name))


def _kept(protocol: str) -> bool:
    return protocol in ENABLED_PROTOCOLS or protocol.startswith(_ENABLED_PREFIXES)


def _run(arguments: list[str], env: dict[str, str] | None = None) -> str:
    completed = subprocess.run(
        arguments, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, check=False
    )
    if completed.returncode != 0:
        raise TsharkFailed(
            f"{Path(arguments[0]).name} failed (exit {completed.returncode}): "
            f"{error_text(completed.stderr)}"
        )
    return completed.stdout


def _file_info(tshark: str, path: Path) -> tuple[int | None, list[str]]:
    """Frame count and LINKTYPE names by capinfos (reads record headers only), if it can."""
    capinfos = companion_executable(tshark, "capinfos")
    if capinfos is None:
        return None, []
    table = subprocess.run(
        [capinfos, "-T", "-M", "-r", "-c", "-E", os.path.abspath(path)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
    ).stdout.strip()  # fmt: skip
    if table.count("\t") < 2:
        return None, []  # tshark will say what is wrong with the file
    _, encapsulation, count = table.rsplit("\t", 2)
    if encapsulation != "per-packet":
        return int(count), [_LINK_TYPES.get(encapsulation, encapsulation)]
    listing = subprocess.run(
        [capinfos, "-E", "-M", os.path.abspath(path)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
    ).stdout  # fmt: skip
    described = re.findall(r"^\s{8,}(.+?) \(\d+\)$", listing, flags=re.MULTILINE)
    return int(count), sorted({_LINK_DESCRIPTIONS.get(name, name) for name in described})


@contextmanager
def _tshark_stdout(
    arguments: list[str], env: dict[str, str]
) -> Iterator[tuple[IO[bytes], Callable[[], tuple[int, str]]]]:
    """Run tshark; yield its stdout, and a function giving its exit code and stderr.

    However the block ends (an exception, an interrupt), tshark is killed and waited for.
    """
    stderr_path = Path(env["WIRESHARK_CONFIG_DIR"]) / "stderr.txt"
    with open(stderr_path, "wb") as stderr_file:
        process = subprocess.Popen(
            arguments, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr_file,
            env=env, start_new_session=True,
        )  # fmt: skip
    assert process.stdout is not None
    stdout: IO[bytes] = process.stdout
    capacity = _enlarged_pipe(stdout.fileno())
    if capacity:  # read through the pipe's raw file: it refuses reads once closed
        stdout = io.BufferedReader(_PausingPipeReader(process.stdout.raw, capacity))

    def finish() -> tuple[int, str]:
        process.stdout.close()
        code = process.wait()
        return code, stderr_path.read_text(encoding="utf-8", errors="replace")

    try:
        yield stdout, finish
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()
        process.wait()


def _enlarged_pipe(descriptor: int) -> int:
    """Grow the pipe to :data:`_PIPE_CAPACITY` and give its new capacity; 0 where it cannot."""
    if F_SETPIPE_SZ is None:
        return 0
    try:
        return fcntl(descriptor, F_SETPIPE_SZ, _PIPE_CAPACITY)
    except OSError:  # above the system's or the user's limit for pipes
        return 0


class _PausingPipeReader(io.RawIOBase):
    """A pipe read in large gulps: before each read, a pause lets the writer's output pile up.

    tshark writes 4 KiB at a time; a reader always waiting on the pipe is woken for each
    write, which slows tshark by about 4 %. After a pause the pipe holds what tshark wrote
    meanwhile, taken in one read; after a read that found the pipe half full or more (the
    reader is behind) the next one comes at once.

    >>> reading, writing = os.pipe()
    >>> os.write(writing, b"tcp"), os.close(writing)
    (3, None)
    >>> with io.FileIO(reading) as pipe:
    ...     io.BufferedReader(_PausingPipeReader(pipe, 1 << 16)).read()
    b'tcp'
    """

    def __init__(self, pipe: io.FileIO, capacity: int) -> None:
        super().__init__()
        self._pipe = pipe
        self._capacity = capacity
        self._behind = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if not self._behind:
            time.sleep(_PIPE_PAUSE)
        count = self._pipe.readinto(buffer)
        self._behind = count >= self._capacity // 2
        return count


def _batches(stdout: IO[bytes]) -> Iterator[pa.RecordBatch]:
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


def _segment_columns(batch: pa.RecordBatch) -> tuple[dict[str, object], dict[str, int]]:
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
    columns["ip_len"] = _numpy(pc.fill_null(rows.column("ip_len"), 0))
    columns["checksum_ok"] = _checksum_ok(rows.column("checksum_status"))
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


def _assemble(chunks: list[dict[str, object]]) -> pd.DataFrame:
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
    # IPv6's length field counts the payload only
    frame["ip_len"] = joined("ip_len") + np.where(frame["ip_version"] == 6, 40, 0)
    frame["checksum_ok"] = pd.arrays.BooleanArray(
        joined("checksum_ok") == _CHECKSUM_RIGHT, joined("checksum_ok") == _CHECKSUM_UNKNOWN
    )
    frame["from_client"] = from_client(frame)
    return schema.conform(frame, schema.SEGMENT_DTYPES)


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
