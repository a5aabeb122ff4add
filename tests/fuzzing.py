"""A deterministic mutation fuzzer for hskit's capture readers.

Cases are the repository's sample captures (``sample_pcaps/``, cut to their first
:data:`SEED_BYTES` bytes at a record boundary, and some rewritten as pcapng) with one to
three seeded mutations each: pcap file and record headers, pcapng block headers and
options, link, IP and TCP headers, truncation, byte flips, floods of empty records, gzip
corruption. Case ``i`` of seed ``s`` is always the same bytes.

Each case is loaded in a child process under an address-space cap (``RLIMIT_AS``) and a
timeout, and ends in one :class:`Outcome` kind: ``result``, ``warning`` (an
``hskit.errors`` warning), ``typed`` (an ``hskit.errors`` error) — what hskit promises —
or ``crash`` (any other exception or warning, or a child killed by a signal), ``oom``
(``MemoryError``) or ``hang`` (the timeout).

``tests/test_fuzz.py`` runs a few hundred cases; ``pytest tests/test_fuzz.py --fuzz=N``
runs N cases natively and N // 10 through tshark. From the command line::

    python tests/fuzzing.py --count 1000 --backend native    # a campaign, with a summary
    python tests/fuzzing.py --write 17 case17.pcap            # case 17's bytes, to replay
    python tests/fuzzing.py --atheris -atheris_runs=100000    # coverage-guided (atheris)

>>> case = next(cases(1))
>>> case.name, case == next(cases(1))  # doctest: +ELLIPSIS
('00000-...', True)
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import multiprocessing
import multiprocessing.forkserver
import os
import random
import resource
import struct
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from multiprocessing.connection import Connection
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO / "sample_pcaps"
#: Bytes of each sample capture kept as a seed (cut at a record boundary).
SEED_BYTES = 48 * 1024
#: The address-space cap of every case's child process: 2 GiB.
ADDRESS_SPACE = 2 << 30
#: Seconds a case may take, by backend (a loaded machine included).
TIMEOUT = {"native": 20.0, "tshark": 60.0}
#: Outcome kinds that keep hskit's promise; any other is a failure.
PROMISED = ("result", "warning", "typed")
FAILURES = ("crash", "oom", "hang")

_PCAP_HEADER = 24
_PCAP_RECORD = 16
_PCAP_MAGIC_USEC = 0xA1B2C3D4
_PCAPNG_SHB, _PCAPNG_IDB, _PCAPNG_EPB, _PCAPNG_SPB = 0x0A0D0D0A, 1, 6, 3
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_OPT_END, _OPT_TSRESOL, _OPT_TSOFFSET = 0, 9, 14
#: bytes before the IP header, by pcap link type (0: the IP header comes first).
_LINK_HEADER = {0: 4, 1: 14, 108: 4, 113: 16, 276: 20}
#: 32-bit values that break length and time arithmetic.
_EDGE_WORDS = (0, 1, 3, 15, 16, 17, 0x7F, 0x80, 0xFF, 0xFFFF, 0x10000, 262144, 262145, 999_999,
               1_000_000, 2_147_484, 4_294_968, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)  # fmt: skip
_EDGE_SHORTS = (0, 1, 4, 19, 20, 21, 40, 60, 1500, 0x7FFF, 0x8000, 0xFFFF)
_ETHERTYPES = (0x0800, 0x86DD, 0x8100, 0x88A8, 0x9100, 0x8847, 0x8864, 0x0806, 0x0000, 0x05DC)
_LINK_TYPES = (0, 1, 7, 12, 14, 101, 105, 108, 113, 127, 228, 229, 276, 0xFFFF, 0x7FFFFFFF)
_IP_PROTOCOLS = (0, 1, 4, 6, 17, 41, 43, 44, 47, 51, 58, 60, 255)


# --------------------------------------------------------------------------- seeds
@dataclass(frozen=True)
class Seed:
    """A capture to mutate: its bytes (pcap or pcapng, never compressed) and where its
    records are."""

    name: str
    data: bytes
    #: ``(offset of the record header or block, offset of its packet data)`` per record.
    records: tuple[tuple[int, int], ...]
    #: offsets of every pcapng block (empty for pcap).
    blocks: tuple[int, ...]
    link_type: int

    @property
    def pcapng(self) -> bool:
        return bool(self.blocks)


def _pcap_records(data: bytes) -> list[tuple[int, int]]:
    records, offset = [], _PCAP_HEADER
    while offset + _PCAP_RECORD <= len(data):
        caplen = struct.unpack_from("<I", data, offset + 8)[0]
        if offset + _PCAP_RECORD + caplen > len(data):
            break
        records.append((offset, offset + _PCAP_RECORD))
        offset += _PCAP_RECORD + caplen
    return records


def _as_little_endian_pcap(data: bytes) -> bytes | None:
    """A microsecond or nanosecond little-endian pcap as it is; other formats: None."""
    magic = struct.unpack_from("<I", data, 0)[0] if len(data) >= 4 else 0
    return data if magic in (_PCAP_MAGIC_USEC, 0xA1B23C4D) else None


def _cut(data: bytes, records: list[tuple[int, int]], limit: int) -> tuple[bytes, list]:
    """The capture up to the last record ending before ``limit`` bytes."""
    kept = [r for r in records if r[0] < limit]
    if len(kept) == len(records):
        return data, records
    end = records[len(kept)][0] if len(kept) < len(records) else len(data)
    return data[:end], kept


def _pcapng_from_pcap(data: bytes, records: list[tuple[int, int]], link_type: int) -> bytes:
    """The pcap's records as a little-endian pcapng: SHB, one IDB (microseconds, with an
    ``if_tsresol`` and an ``if_tsoffset`` option), one EPB per record."""

    def block(kind: int, body: bytes) -> bytes:
        body += bytes(-len(body) % 4)
        return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    options = struct.pack("<HHB3x", _OPT_TSRESOL, 1, 6) + struct.pack("<HHq", _OPT_TSOFFSET, 8, 0)
    out = [
        block(_PCAPNG_SHB, struct.pack("<IHHq", _BYTE_ORDER_MAGIC, 1, 0, -1)),
        block(_PCAPNG_IDB, struct.pack("<HHI", link_type, 0, 262144) + options + bytes(4)),
    ]
    for header, start in records:
        seconds, micros, caplen, origlen = struct.unpack_from("<IIII", data, header)
        ticks = seconds * 1_000_000 + micros
        epb = struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, caplen, origlen)
        out.append(block(_PCAPNG_EPB, epb + data[start : start + caplen]))
    return b"".join(out)


def _pcapng_blocks(data: bytes) -> tuple[list[int], list[tuple[int, int]]]:
    """Block offsets and ``(block, packet data)`` of the packet blocks of a little-endian
    pcapng."""
    blocks, records, offset = [], [], 0
    while offset + 12 <= len(data):
        kind, length = struct.unpack_from("<II", data, offset)
        if length < 12 or offset + length > len(data):
            break
        blocks.append(offset)
        if kind == _PCAPNG_EPB:
            records.append((offset, offset + 28))
        elif kind == _PCAPNG_SPB:
            records.append((offset, offset + 12))
        offset += length
    return blocks, records


@cache
def seeds() -> tuple[Seed, ...]:
    """The sample captures as seeds, and every third pcap one again as pcapng."""
    found: list[Seed] = []
    for path in sorted(SAMPLE_DIR.iterdir()):
        if not path.name.endswith((".pcap", ".pcapng", ".pcap.gz")):
            continue
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        if data[:4] == struct.pack("<I", _PCAPNG_SHB):
            blocks, records = _pcapng_blocks(data[:SEED_BYTES])
            end = blocks[-1] + struct.unpack_from("<I", data, blocks[-1] + 4)[0]
            link = struct.unpack_from("<H", data, blocks[1] + 8)[0] if len(blocks) > 1 else 1
            found.append(Seed(path.name, data[:end], tuple(records), tuple(blocks), link))
            continue
        pcap = _as_little_endian_pcap(data)
        if pcap is None:
            continue
        pcap, records = _cut(pcap, _pcap_records(pcap), SEED_BYTES)
        link = struct.unpack_from("<I", pcap, 20)[0] & 0xFFFF
        found.append(Seed(path.name, pcap, tuple(records), (), link))
        if len(found) % 3 == 0:
            ng = _pcapng_from_pcap(pcap, records, link)
            blocks, ng_records = _pcapng_blocks(ng)
            found.append(Seed(path.name + "ng", ng, tuple(ng_records), tuple(blocks), link))
    return tuple(found)


# --------------------------------------------------------------------------- mutations
Mutation = Callable[[random.Random, Seed, bytearray], None]


def _put(data: bytearray, offset: int, fmt: str, value: int) -> None:
    """Write ``value`` at ``offset`` (masked to the field's size) if the field fits."""
    size = struct.calcsize(fmt)
    if offset >= 0 and offset + size <= len(data):
        unsigned = fmt.translate(str.maketrans("bhiq", "BHIQ"))
        data[offset : offset + size] = struct.pack(unsigned, value & ((1 << (8 * size)) - 1))


def _get(data: bytearray, offset: int, fmt: str) -> int:
    """The value at ``offset``, or 0 where an earlier mutation cut the file short."""
    if offset < 0 or offset + struct.calcsize(fmt) > len(data):
        return 0
    return int(struct.unpack_from(fmt, data, offset)[0])


def _word(rng: random.Random) -> int:
    return rng.choice(_EDGE_WORDS) if rng.random() < 0.7 else rng.getrandbits(32)


def _record(rng: random.Random, seed: Seed) -> tuple[int, int]:
    return rng.choice(seed.records) if seed.records else (0, 0)


def pcap_file_header(rng: random.Random, seed: Seed, data: bytearray) -> None:
    """Magic, version, time zone, snap length or link type of a pcap's file header."""
    field = rng.choice(("magic", "version", "snaplen", "link", "zone"))
    if field == "magic":
        magics = (0xA1B2C3D4, 0xD4C3B2A1, 0xA1B23C4D, 0x4D3CB2A1, 0xA1B2CD34, 0x0A0D0D0A)
        _put(data, 0, "<I", rng.choice(magics))
    elif field == "link":
        _put(data, 20, "<I", rng.choice(_LINK_TYPES))
    else:
        _put(data, {"version": 4, "snaplen": 16, "zone": 8}[field], "<I", _word(rng))


def pcap_record_header(rng: random.Random, seed: Seed, data: bytearray) -> None:
    """A record's seconds, sub-second field, captured or original length."""
    header, _ = _record(rng, seed)
    field = rng.randrange(4)
    value = _word(rng)
    if field == 2 and rng.random() < 0.5:  # a captured length a little off
        value = _get(data, header + 8, "<I") + rng.randint(-20, 20)
    _put(data, header + 4 * field, "<I", value)


def pcapng_block_header(rng: random.Random, seed: Seed, data: bytearray) -> None:
    """A block's type, its leading or trailing length, or a section's byte-order magic."""
    block = rng.choice(seed.blocks)
    length = _get(data, block + 4, "<I")
    choice = rng.randrange(4)
    if choice == 0:
        _put(data, block, "<I", rng.choice((0, 1, 2, 3, 5, 6, 0x0A0D0D0A, 0xBAD, _word(rng))))
    elif choice == 1:
        _put(data, block + 4, "<I", rng.choice((_word(rng), length + 4 * rng.randint(-8, 8))))
    elif choice == 2:
        _put(data, block + length - 4, "<I", _word(rng))
    else:
        _put(data, block + 8, "<I", rng.choice((0x4D3C2B1A, 0, _word(rng))))


def pcapng_options(rng: random.Random, seed: Seed, data: bytearray) -> None:
    """An interface's link type, time stamp resolution or offset, or an option header."""
    interfaces = [b for b in seed.blocks if _get(data, b, "<I") == _PCAPNG_IDB]
    if not interfaces:
        return pcapng_block_header(rng, seed, data)
    block = rng.choice(interfaces)
    length = _get(data, block + 4, "<I")
    position = block + 16
    choice = rng.randrange(4)
    while position + 4 <= block + length - 4:
        code, size = _get(data, position, "<H"), _get(data, position + 2, "<H")
        if code == _OPT_END:
            break
        if code == _OPT_TSRESOL and choice == 0:
            _put(data, position + 4, "<B", rng.choice((19, 20, 63, 127, 0x80 | 63, 0xC0, 0xFF)))
            return None
        if code == _OPT_TSOFFSET and choice == 1:
            _put(data, position + 4, "<q", rng.choice((-(2**63), 2**63 - 1, -1, 2**40)))
            return None
        if choice == 2 and rng.random() < 0.5:
            _put(data, position + 2, "<H", rng.choice(_EDGE_SHORTS))
            return None
        position += 4 + (size + 3) // 4 * 4
    if choice == 3:
        _put(data, block + 8, "<H", rng.choice(_LINK_TYPES))
    else:
        _put(data, block + 16 + rng.randrange(0, max(length - 20, 1)), "<B", rng.getrandbits(8))
    return None


def _ip_offset(seed: Seed, start: int) -> int:
    return start + _LINK_HEADER.get(seed.link_type, 0)


def link_header(rng: random.Random, seed: Seed, data: bytearray) -> None:
    """A frame's EtherType (VLAN, MPLS, PPPoE, 802.3 lengths …) or any link header byte."""
    _, start = _record(rng, seed)
    if seed.link_type == 1 and rng.random() < 0.7:
        _put(data, start + 12, ">H", rng.choice(_ETHERTYPES))
        if rng.random() < 0.3:  # a tag's inner EtherType too
            _put(data, start + 16, ">H", rng.choice(_ETHERTYPES))
    else:
        _put(data, start + rng.randrange(_LINK_HEADER.get(seed.link_type, 4)), "<B",
             rng.getrandbits(8))  # fmt: skip


def ip_header(rng: random.Random, seed: Seed, data: bytearray) -> None:
    """Version and header length, total length, fragment field, protocol, or an IPv6
    payload length or next header."""
    _, start = _record(rng, seed)
    ip = _ip_offset(seed, start)
    if ip >= len(data):
        return
    if data[ip] >> 4 == 6:
        field = rng.choice(("version", "plen", "next"))
        offsets = {"version": (0, "<B"), "plen": (4, ">H"), "next": (6, "<B")}
    else:
        field = rng.choice(("version", "length", "fragment", "protocol"))
        offsets = {"version": (0, "<B"), "length": (2, ">H"), "fragment": (6, ">H"),
                   "protocol": (9, "<B")}  # fmt: skip
    at, fmt = offsets[field]
    if field in ("next", "protocol"):
        value = rng.choice(_IP_PROTOCOLS)
    elif fmt == ">H":
        value = rng.choice((*_EDGE_SHORTS, 0x2000, 0x3FFF, 0x1FFF))
    else:
        value = rng.choice((0x45, 0x4F, 0x40, 0x44, 0x60, 0x00, 0xF5, rng.getrandbits(8)))
    _put(data, ip + at, fmt, value)


def tcp_header(rng: random.Random, seed: Seed, data: bytearray) -> None:
    """Data offset, flags (reserved bits too), or the option bytes of a TCP header."""
    _, start = _record(rng, seed)
    ip = _ip_offset(seed, start)
    if ip >= len(data):
        return
    tcp = ip + (40 if data[ip] >> 4 == 6 else (data[ip] & 0x0F) * 4)
    choice = rng.randrange(3)
    if choice == 0:
        _put(data, tcp + 12, "<B", rng.choice((0x00, 0x40, 0x50, 0xF0, 0x5E, rng.getrandbits(8))))
    elif choice == 1:
        _put(data, tcp + 13, "<B", rng.getrandbits(8))
    else:  # an option's kind or length
        _put(data, tcp + 20 + rng.randrange(20), "<B",
             rng.choice((0, 1, 2, 3, 4, 8, 34, 254, 255, rng.getrandbits(8))))  # fmt: skip


def byte_flips(rng: random.Random, seed: Seed, data: bytearray) -> None:
    """One to eight random bytes anywhere."""
    for _ in range(rng.randint(1, 8)):
        if data:
            data[rng.randrange(len(data))] = rng.getrandbits(8)


def truncate(rng: random.Random, seed: Seed, data: bytearray) -> None:
    """The file cut anywhere, most often inside a record header or near the start."""
    if len(data) < 2:
        return
    if seed.records and rng.random() < 0.5:
        at = rng.choice(seed.records)[0] + rng.randrange(_PCAP_RECORD)
    else:
        at = rng.choice((rng.randrange(len(data)), rng.randrange(min(len(data), 64))))
    del data[at:]


def empty_records(rng: random.Random, seed: Seed, data: bytearray) -> None:
    """Up to 5,000 zero-length records (or minimal enhanced packet blocks) appended."""
    count = rng.randint(1, 5000)
    if seed.pcapng:
        data += struct.pack("<IIIIIIII", _PCAPNG_EPB, 32, 0, 0, 0, 0, 0, 32) * count
    else:
        data += bytes(_PCAP_RECORD) * count


#: Mutations of the capture's structure, applied one to three times (gzip afterwards).
MUTATIONS: dict[str, Mutation] = {
    "pcap_file_header": pcap_file_header,
    "pcap_record_header": pcap_record_header,
    "pcapng_block_header": pcapng_block_header,
    "pcapng_options": pcapng_options,
    "link_header": link_header,
    "ip_header": ip_header,
    "tcp_header": tcp_header,
    "byte_flips": byte_flips,
    "truncate": truncate,
    "empty_records": empty_records,
}
_PCAP_ONLY = {"pcap_file_header", "pcap_record_header"}
_PCAPNG_ONLY = {"pcapng_block_header", "pcapng_options"}


def gzip_corrupt(rng: random.Random, data: bytes) -> bytes:
    """The capture gzip-compressed, then cut, flipped, or followed by a bad member."""
    packed = bytearray(gzip.compress(data, compresslevel=1, mtime=0))
    choice = rng.randrange(4)
    if choice == 0:
        del packed[rng.randrange(2, len(packed)) :]
    elif choice == 1:
        for _ in range(rng.randint(1, 4)):
            packed[rng.randrange(10, len(packed))] = rng.getrandbits(8)
    elif choice == 2:
        packed += b"\x1f\x8b\x08\x00" + bytes(rng.getrandbits(8) for _ in range(12))
    else:  # an intact member whose CRC is wrong
        packed[-8] ^= 0xFF
    return bytes(packed)


# --------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    """One mutated capture."""

    name: str
    data: bytes


def make_case(index: int, seed: int = 0) -> Case:
    """Case ``index`` of corpus ``seed``: always the same bytes."""
    rng = random.Random(f"hskit-fuzz:{seed}:{index}")
    base = rng.choice(seeds())
    allowed = [name for name in MUTATIONS
               if name not in (_PCAP_ONLY if base.pcapng else _PCAPNG_ONLY)]  # fmt: skip
    chosen = rng.choices(allowed, k=rng.randint(1, 3))
    data = bytearray(base.data)
    for name in chosen:
        MUTATIONS[name](rng, base, data)
    if rng.random() < 0.12:
        chosen.append("gzip_corrupt")
        data = bytearray(gzip_corrupt(rng, bytes(data)))
    return Case(f"{index:05d}-{base.name}-{'+'.join(chosen)}", bytes(data))


def cases(count: int, seed: int = 0, start: int = 0) -> Iterator[Case]:
    """Cases ``start`` … ``start + count - 1`` of corpus ``seed``."""
    return (make_case(index, seed) for index in range(start, start + count))


# --------------------------------------------------------------------------- running
@dataclass(frozen=True)
class Outcome:
    """How a case ended: ``kind`` (see the module docstring) and what it said."""

    kind: str
    detail: str = ""


def load_outcome(path: str, backend: str) -> Outcome:
    """Load ``path`` in this process and say how it ended (no exception escapes)."""
    import hskit
    from hskit.errors import HskitError, HskitWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            capture = hskit.load(path, backend=backend, progress=False)
            len(capture.segments)
        except HskitError as error:
            return Outcome("typed", f"{type(error).__name__}: {error}")
        except MemoryError:
            return Outcome("oom", traceback.format_exc())
        except Exception:
            return Outcome("crash", traceback.format_exc())
    untyped = [w for w in caught if not issubclass(w.category, HskitWarning)]
    if untyped:
        first = untyped[0]
        return Outcome("crash", f"{first.category.__name__} at {first.filename}:{first.lineno}: "
                                f"{first.message}")  # fmt: skip
    if caught:
        return Outcome("warning", f"{caught[0].category.__name__}: {caught[0].message}")
    return Outcome("result")


def _child(path: str, backend: str, address_space: int, pipe: Connection) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    try:
        pipe.send(load_outcome(path, backend))
    except MemoryError:  # not even the outcome could be built
        pipe.send(Outcome("oom", "MemoryError"))


def never_answers(path: str, backend: str, address_space: int, pipe: Connection) -> None:
    """A child that hangs: what the harness must report as a hang."""
    time.sleep(600)


@cache
def _context() -> multiprocessing.context.BaseContext:
    """A fork server with hskit imported and its compiled reader loaded once
    (:mod:`fuzz_warm`): a case's child starts in milliseconds, from a process without
    threads (one OpenBLAS thread, so little address space is reserved)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["hskit", "hskit.native", "hskit.tshark", "pandas", "fuzz_warm"])
    # The fork server imports its preload list without the parent's sys.path (Python
    # < 3.13) and skips a module it cannot import: tests/ reaches it through PYTHONPATH.
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parent), before]))
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before
    return context


def preloaded(pipe: Connection) -> None:
    """Send which of numba, the built loops and the reader's loop module a case's child
    starts with."""
    loaded = {"numba", "hskit._loops", "hskit.native.kernels"} & set(sys.modules)
    pipe.send(sorted(loaded))


def run_case(
    case: Case,
    backend: str,
    *,
    folder: Path,
    timeout: float | None = None,
    address_space: int = ADDRESS_SPACE,
    child_main: Callable[[str, str, int, Connection], None] | None = None,
) -> Outcome:
    """Load ``case`` with ``backend`` in a child process capped at ``address_space`` bytes
    (``child_main`` in place of the load: the harness's own tests)."""
    path = folder / "case.pcap"
    path.write_bytes(case.data)
    context = _context()
    receive, send = context.Pipe(duplex=False)
    child = context.Process(
        target=child_main or _child, args=(str(path), backend, address_space, send)
    )
    child.start()
    send.close()
    limit = TIMEOUT[backend] if timeout is None else timeout
    try:
        if not receive.poll(limit):
            if child.is_alive():
                child.kill()
                child.join()
                return Outcome("hang", f"no outcome within {limit:g} s")
            return Outcome("crash", f"the child ended without an outcome (exit {child.exitcode})")
        outcome = receive.recv()
    except EOFError:
        child.join()
        return Outcome("crash", f"the child ended without an outcome (exit {child.exitcode})")
    finally:
        receive.close()
    child.join(limit)
    if child.is_alive():
        child.kill()
        child.join()
    return outcome


def campaign(
    count: int,
    backend: str,
    *,
    seed: int = 0,
    start: int = 0,
    report: Callable[[str], None] | None = None,
) -> dict[str, list[tuple[str, Outcome]]]:
    """Run ``count`` cases; their outcomes grouped by kind (``report`` gets progress lines)."""
    grouped: dict[str, list[tuple[str, Outcome]]] = {}
    with tempfile.TemporaryDirectory(prefix="hskit-fuzz-") as folder:
        for number, case in enumerate(cases(count, seed, start), 1):
            outcome = run_case(case, backend, folder=Path(folder))
            grouped.setdefault(outcome.kind, []).append((case.name, outcome))
            if report is not None and (number % 100 == 0 or outcome.kind in FAILURES):
                line = f"{backend}: {number}/{count} {summary(grouped)}"
                if outcome.kind in FAILURES:
                    line += f"\n  {case.name}: {outcome.kind}: {outcome.detail}"
                report(line)
    return grouped


def summary(grouped: dict[str, list[tuple[str, Outcome]]]) -> str:
    """``"cases 300: result 120, warning 80, typed 100, crash 0, oom 0, hang 0"``"""
    counts = Counter({kind: len(items) for kind, items in grouped.items()})
    parts = [f"{kind} {counts[kind]}" for kind in (*PROMISED, *FAILURES)]
    return f"cases {sum(counts.values())}: " + ", ".join(parts)


# --------------------------------------------------------------------------- entry points
def _atheris(argv: list[str]) -> None:
    """Coverage-guided fuzzing of the native reader with atheris (in-process: a typed
    error or warning is fine, any other exception is a finding)."""
    import atheris  # not a test dependency: pip install atheris

    with atheris.instrument_imports():
        import hskit
        from hskit.errors import HskitError

    folder = Path(tempfile.mkdtemp(prefix="hskit-atheris-"))
    warnings.simplefilter("ignore", category=Warning)

    def one_input(data: bytes) -> None:
        path = folder / "case.pcap"
        path.write_bytes(data)
        with contextlib.suppress(HskitError):
            hskit.load(path, backend="native", progress=False)

    atheris.Setup(argv, one_input)
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    """Command line: a campaign (exit 1 on any crash, OOM or hang), one case's bytes, or
    atheris."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", choices=("native", "tshark"), default="native")
    parser.add_argument("--write", nargs=2, metavar=("INDEX", "FILE"))
    parser.add_argument("--atheris", action="store_true", help="the rest goes to libFuzzer")
    args, rest = parser.parse_known_args(argv)
    if args.atheris:
        _atheris([sys.argv[0], *rest])
        return 0
    if args.write:
        Path(args.write[1]).write_bytes(make_case(int(args.write[0]), args.seed).data)
        return 0
    grouped = campaign(args.count, args.backend, seed=args.seed, start=args.start, report=print)
    print(f"{args.backend}: {summary(grouped)}")
    return 1 if any(kind in grouped for kind in FAILURES) else 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
