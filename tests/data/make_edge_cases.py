"""Regenerate the small captures in ``tests/data`` (run as root: it captures on loopback).

    python tests/data/make_edge_cases.py

1. ``real_loopback.pcap``: real kernel TCP on loopback captured by tcpdump — connections
   over IPv4 and IPv6, one 4-tuple reused three times (the client binds the same source
   port and closes with RST, so no TIME_WAIT blocks the reuse), a refused connection,
   IPv4 options set with ``IP_OPTIONS``, TCP Fast Open, plus UDP and ICMP frames.
2. ``variant_*``: the same packets in every container and link-layer format the native
   reader decodes (pcap in µs/ns and both byte orders, pcapng with several sections and
   interfaces, gzip, raw IP, BSD null/loop, Linux cooked v1/v2, VLAN/QinQ), plus a
   midstream cut, and crafted packets (scapy) for what a loopback stack does not send:
   IPv6 extension headers, IP fragments, experimental-kind TFO, TSO zero lengths.
3. ``bad_*``: files the loader must reject or warn about.

Every file is checked against tshark's reading by ``tests/test_native.py``.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
PORT = 47800  # server port for the loopback traffic
CLIENT_PORT = 47900  # the reused client port
UDP_PORT = 47801
#: link addresses of crafted frames (locally administered): scapy's default Ether()
#: asks the network for the destination's MAC (ARP / neighbour solicitation) per frame.
LINK = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}

Record = tuple[int, int, bytes, int]  # (seconds, microseconds, data, original length)


# --------------------------------------------------------------------------- real traffic
def _serve(family: int, address: str, port: int, stop_after: float) -> subprocess.Popen:
    """A small echo server in a child process that answers each connection once."""
    code = f"""
import socket, time

s = socket.socket({family}, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_TCP, 23, 5)  # TCP_FASTOPEN queue
s.bind(({address!r}, {port}))
s.listen(16)
s.settimeout(0.5)
end = time.time() + {stop_after}
while time.time() < end:
    try:
        c, _ = s.accept()
    except OSError:
        continue
    c.settimeout(1.0)
    try:
        data = c.recv(1000)
        if data:
            c.sendall(b"echo:" + data)
        c.recv(1000)
    except OSError:
        pass
    c.close()
"""
    return subprocess.Popen(["python3", "-c", code])


def _client(
    family: int, address: str, port: int, payload: bytes, *, bind: int = 0, reset: bool = False,
    ip_options: bytes = b"", fast_open: bool = False,
) -> None:  # fmt: skip
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if ip_options:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, ip_options)
        if bind:
            s.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", bind))
        if fast_open:
            s.sendto(payload, 0x20000000, (address, port))  # MSG_FASTOPEN
            s.settimeout(2.0)
        else:
            s.settimeout(2.0)
            s.connect((address, port))
            s.sendall(payload)
        s.recv(1000)
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def capture_loopback(path: Path) -> None:
    """Real kernel traffic on ``lo``, captured by tcpdump into ``path``."""
    dump = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-U", "-w", str(path), "-s", "256",
         f"tcp port {PORT} or tcp port {PORT + 1} or udp port {UDP_PORT} or icmp"],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.0)
    servers = [
        _serve(socket.AF_INET, "127.0.0.1", PORT, 6.0),
        _serve(socket.AF_INET6, "::1", PORT, 6.0),
    ]
    time.sleep(0.5)
    try:
        _client(socket.AF_INET, "127.0.0.1", PORT, b"hello v4")
        _client(socket.AF_INET6, "::1", PORT, b"hello v6")
        for attempt in range(3):
            _client(socket.AF_INET, "127.0.0.1", PORT, b"reuse %d" % attempt,
                    bind=CLIENT_PORT, reset=True)  # fmt: skip
        # Record-route option (7), length 7, pointer 4, one empty slot; NOP to align.
        _client(socket.AF_INET, "127.0.0.1", PORT, b"options", ip_options=b"\x07\x07\x04" +
                b"\x00" * 4 + b"\x01")  # fmt: skip
        _client(socket.AF_INET, "127.0.0.1", PORT, b"fast open", fast_open=True)
        _client(socket.AF_INET, "127.0.0.1", PORT, b"fast open again", fast_open=True)
        with contextlib.suppress(ConnectionRefusedError):
            _client(socket.AF_INET, "127.0.0.1", PORT + 1, b"refused")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(b"not tcp", ("127.0.0.1", UDP_PORT))  # answered by ICMP unreachable
        time.sleep(1.0)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
        dump.send_signal(signal.SIGINT)
        dump.wait(timeout=10)


# --------------------------------------------------------------------------- pcap I/O
def read_pcap(path: Path) -> tuple[int, list[Record]]:
    """``(link type, records)`` of a little-endian microsecond pcap."""
    data = path.read_bytes()
    magic, _, _, _, _, _, link_type = struct.unpack_from("<IHHiIII", data, 0)
    assert magic == 0xA1B2C3D4, "expected a little-endian microsecond pcap"
    records: list[Record] = []
    offset = 24
    while offset + 16 <= len(data):
        seconds, micros, caplen, origlen = struct.unpack_from("<IIII", data, offset)
        records.append((seconds, micros, data[offset + 16 : offset + 16 + caplen], origlen))
        offset += 16 + caplen
    return link_type & 0xFFFF, records


def write_pcap(
    path: Path, link_type: int, records: list[Record], *, big_endian: bool = False,
    nanoseconds: bool = False,
) -> None:  # fmt: skip
    order = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nanoseconds else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 262144, link_type)]
    for seconds, micros, data, origlen in records:
        fraction = micros * 1000 + 7 if nanoseconds else micros
        out.append(struct.pack(order + "IIII", seconds, fraction, len(data), origlen) + data)
    path.write_bytes(b"".join(out))


def _relink(records: list[Record], rewrite: Callable[[bytes], bytes]) -> list[Record]:
    return [(s, us, rewrite(data), origlen - len(data) + len(rewrite(data)))
            for s, us, data, origlen in records]  # fmt: skip


def _ethertype(frame: bytes) -> int:
    return struct.unpack_from(">H", frame, 12)[0]


def _family(frame: bytes, inet6: int) -> int:
    return 2 if _ethertype(frame) == 0x0800 else inet6


def link_variants(records: list[Record]) -> Iterator[tuple[str, int, list[Record]]]:
    """``(name, link type, records)`` for each link-layer encapsulation, from Ethernet."""
    ip_only = [r for r in records if _ethertype(r[2]) in (0x0800, 0x86DD)]
    yield "raw101", 101, _relink(ip_only, lambda f: f[14:])
    yield "raw12", 12, _relink(ip_only, lambda f: f[14:])
    yield "raw14", 14, _relink(ip_only, lambda f: f[14:])
    v4 = [r for r in records if _ethertype(r[2]) == 0x0800]
    v6 = [r for r in records if _ethertype(r[2]) == 0x86DD]
    yield "ipv4_228", 228, _relink(v4, lambda f: f[14:])
    yield "ipv6_229", 229, _relink(v6, lambda f: f[14:])
    yield "null_le", 0, _relink(ip_only, lambda f: struct.pack("<I", _family(f, 30)) + f[14:])
    yield "null_be", 0, _relink(ip_only, lambda f: struct.pack(">I", _family(f, 24)) + f[14:])
    yield "null_af28", 0, _relink(ip_only, lambda f: struct.pack("<I", _family(f, 28)) + f[14:])
    yield "loop108", 108, _relink(ip_only, lambda f: struct.pack(">I", _family(f, 24)) + f[14:])

    def sll(frame: bytes) -> bytes:
        return struct.pack(">HHH8s", 0, 772, 6, frame[6:12]) + frame[12:]

    def sll2(frame: bytes) -> bytes:
        return (
            struct.pack(">HHIHBB8s", _ethertype(frame), 0, 1, 772, 0, 6, frame[6:12]) + frame[14:]
        )

    yield "sll", 113, _relink(records, sll)
    yield "sll2", 276, _relink(records, sll2)
    yield "vlan", 1, _relink(records, lambda f: f[:12] + b"\x81\x00\x00\x64" + f[12:])
    yield (
        "qinq",
        1,
        _relink(records, lambda f: f[:12] + b"\x88\xa8\x00\x0a\x81\x00\x00\x64" + f[12:]),
    )


# --------------------------------------------------------------------------- pcapng writer
def _option(code: int, value: bytes, order: str) -> bytes:
    pad = (-len(value)) % 4
    return struct.pack(order + "HH", code, len(value)) + value + b"\x00" * pad


def _block(kind: int, body: bytes, order: str) -> bytes:
    length = 12 + len(body)
    return struct.pack(order + "II", kind, length) + body + struct.pack(order + "I", length)


def write_pcapng_sections(path: Path, link_type: int, records: list[Record]) -> None:
    """Two sections (little- then big-endian), two interfaces each with different
    ``if_tsresol`` (µs, ns, 2^-20 s, 10^-4 s with an ``if_tsoffset``), an obsolete
    packet block, and records spread over all interfaces."""
    resolutions = [(b"\x06", 0), (b"\x09", 0), (b"\x94", 0), (b"\x04", 1000)]
    out: list[bytes] = []
    half = len(records) // 2
    for section, order in enumerate(("<", ">")):
        out.append(_block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1), order))
        for resolution, offset in resolutions[2 * section : 2 * section + 2]:
            options = _option(9, resolution, order)
            if offset:
                options += _option(14, struct.pack(order + "q", offset), order)
            options += _option(0, b"", order)
            out.append(_block(1, struct.pack(order + "HHI", link_type, 0, 0) + options, order))
        part = records[:half] if section == 0 else records[half:]
        for index, (seconds, micros, data, origlen) in enumerate(part):
            interface = index % 2
            resolution, offset = resolutions[2 * section + interface]
            exponent = resolution[0] & 0x7F
            units = 2**exponent if resolution[0] & 0x80 else 10**exponent
            ticks = ((seconds - offset) * 1_000_000 + micros) * units // 1_000_000
            padded = data + b"\x00" * ((-len(data)) % 4)
            if section == 1 and index == 1:  # an obsolete packet block (type 2)
                head = struct.pack(order + "HHIIII", interface, 0, ticks >> 32,
                                   ticks & 0xFFFFFFFF, len(data), origlen)  # fmt: skip
                out.append(_block(2, head + padded, order))
                continue
            head = struct.pack(order + "IIIII", interface, ticks >> 32, ticks & 0xFFFFFFFF,
                               len(data), origlen)  # fmt: skip
            out.append(_block(6, head + padded, order))
    path.write_bytes(b"".join(out))


def write_pcapng_simple_blocks(path: Path, link_type: int, records: list[Record]) -> None:
    """Enhanced packet blocks with a simple packet block (no timestamp) among them."""
    order = "<"
    out = [
        _block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1), order),
        _block(1, struct.pack(order + "HHI", link_type, 0, 0) + _option(0, b"", order), order),
    ]
    for index, (seconds, micros, data, origlen) in enumerate(records):
        padded = data + b"\x00" * ((-len(data)) % 4)
        if index == 2:
            out.append(_block(3, struct.pack(order + "I", origlen) + padded, order))
            continue
        ticks = seconds * 1_000_000 + micros
        head = struct.pack(order + "IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), origlen)
        out.append(_block(6, head + padded, order))
    path.write_bytes(b"".join(out))


# --------------------------------------------------------------------------- crafted packets
def crafted_records() -> list[Record]:
    """Packets a loopback stack does not send, built with scapy (Ethernet frames)."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import (
        IPv6,
        IPv6ExtHdrDestOpt,
        IPv6ExtHdrHopByHop,
        IPv6ExtHdrRouting,
    )  # fmt: skip
    from scapy.layers.l2 import ARP, LLC, SNAP, Dot3, Ether

    a4, b4, a6, b6 = "10.0.0.1", "10.0.0.2", "2001:db8::1", "2001:db8::2"
    c4, d4 = "10.1.1.1", "10.1.1.2"
    syn_options = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None),
                   ("WScale", 7)]  # fmt: skip
    tfo_experimental = [("MSS", 1400), (254, b"\xf9\x89")]  # RFC 6994 kind with TFO's magic
    packets = [
        Ether(**LINK) / ARP(psrc=a4, pdst=b4),
        Ether(**LINK)
        / IP(src=a4, dst=b4)
        / TCP(sport=1111, dport=80, flags="S", seq=1000, options=syn_options),
        Ether(**LINK)
        / IP(src=b4, dst=a4)
        / TCP(sport=80, dport=1111, flags="SA", seq=5000, ack=1001, options=tfo_experimental),
        Ether(**LINK)
        / IP(src=a4, dst=b4, options=b"\x01\x01\x01\x00")
        / TCP(sport=1111, dport=80, flags="A", seq=1001, ack=5001),
        Ether(**LINK)
        / IP(src=a4, dst=b4, len=0)
        / TCP(sport=1111, dport=80, flags="PA", seq=1041, ack=5001)
        / (b"z" * 30),  # TSO: length 0
        Ether(**LINK) / IP(src=a4, dst=b4) / UDP(sport=53, dport=53) / b"dns",
        Dot3()
        / LLC(dsap=0xAA, ssap=0xAA, ctrl=3)
        / SNAP(OUI=0, code=0x0800)
        / IP(src="10.2.2.1", dst="10.2.2.2")
        / TCP(sport=7, dport=9, flags="S", seq=5),
        Dot3() / LLC(dsap=0x42, ssap=0x42, ctrl=3) / b"spanning tree",
        # ICMP errors quoting SYNs of connections not seen yet: Wireshark numbers a stream
        # for each; a SYN that follows for the second joins its stream.
        Ether(**LINK)
        / IP(src="10.0.0.9", dst="10.0.0.7")
        / ICMP(type=3, code=3)
        / IP(src="10.0.0.7", dst="10.0.0.8")
        / TCP(sport=5555, dport=80, flags="S", seq=9),
        Ether(**LINK)
        / IP(src="10.0.0.9", dst="10.0.0.5")
        / ICMP(type=3, code=13)
        / IP(src="10.0.0.5", dst="10.0.0.6")
        / TCP(sport=4444, dport=25, flags="S", seq=42),
        Ether(**LINK)
        / IP(src="10.0.0.5", dst="10.0.0.6")
        / TCP(sport=4444, dport=25, flags="S", seq=42),
        Ether(**LINK) / IP(src=a4, dst=b4) / ICMP(),
        Ether(**LINK)
        / IPv6(src=a6, dst=b6)
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrDestOpt()
        / TCP(sport=2222, dport=443, flags="S", seq=77, options=[("MSS", 1220)]),
        Ether(**LINK)
        / IPv6(src=b6, dst=a6)
        / IPv6ExtHdrRouting(addresses=[a6])
        / TCP(sport=443, dport=2222, flags="SA", seq=99, ack=78),
        Ether(**LINK) / IPv6(src="::ffff:10.0.0.1", dst=b6) / TCP(sport=3333, dport=22, flags="R"),
        # A 4-tuple reused in the other direction, then a SYN that joins that conversation
        # because it has no base sequence number yet in its direction.
        Ether(**LINK) / IP(src=c4, dst=d4) / TCP(sport=1000, dport=2000, flags="S", seq=100),
        Ether(**LINK)
        / IP(src=d4, dst=c4)
        / TCP(sport=2000, dport=1000, flags="SA", seq=500, ack=101),
        Ether(**LINK) / IP(src=c4, dst=d4) / TCP(sport=1000, dport=2000, flags="R", seq=101),
        Ether(**LINK) / IP(src=d4, dst=c4) / TCP(sport=2000, dport=1000, flags="S", seq=900),
        Ether(**LINK) / IP(src=c4, dst=d4) / TCP(sport=1000, dport=2000, flags="S", seq=300),
        Ether(**LINK)
        / IP(src=c4, dst=d4)
        / TCP(sport=1000, dport=2000, flags="SA", seq=300, ack=901),
    ]
    return [(1_700_000_000 + i, 1000 * i, bytes(p), len(bytes(p))) for i, p in enumerate(packets)]


def fragment_records() -> list[Record]:
    """First and non-first IPv4 and IPv6 fragments of TCP segments (scapy)."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment
    from scapy.layers.l2 import Ether

    a4, b4, a6, b6 = "10.0.0.1", "10.0.0.2", "2001:db8::1", "2001:db8::2"
    packets = [
        Ether(**LINK) / IP(src=a4, dst=b4) / TCP(sport=1111, dport=80, flags="S", seq=1000),
        Ether(**LINK)
        / IP(src=a4, dst=b4, flags="MF", id=7)
        / TCP(sport=1111, dport=80, flags="PA", seq=1001, ack=5001)
        / (b"x" * 40),
        Ether(**LINK) / IP(src=a4, dst=b4, frag=3, id=7, proto=6) / (b"y" * 24),
        Ether(**LINK)
        / IPv6(src=a6, dst=b6)
        / IPv6ExtHdrFragment(offset=0, m=1, id=5)
        / TCP(sport=2222, dport=443, flags="A", seq=78, ack=100),
        Ether(**LINK)
        / IPv6(src=a6, dst=b6)
        / IPv6ExtHdrFragment(offset=2, m=0, id=5, nh=6)
        / (b"w" * 16),
    ]
    return [(1_700_000_000 + i, 1000 * i, bytes(p), len(bytes(p))) for i, p in enumerate(packets)]


def unsupported_records() -> dict[str, list[Record]]:
    """Encapsulations that carry TCP but that only tshark decodes."""
    from scapy.contrib.mpls import MPLS
    from scapy.layers.inet import GRE, IP, TCP
    from scapy.layers.l2 import Ether

    tcp = TCP(sport=1, dport=2, flags="S")
    frames = {
        "gre": Ether(**LINK) / IP(src="10.0.0.1", dst="10.0.0.2") / GRE() / IP() / tcp,
        "mpls": Ether(type=0x8847, **LINK) / MPLS(label=16, s=1) / IP() / tcp,
    }
    return {name: [(1_700_000_000, 0, bytes(f), len(bytes(f)))] for name, f in frames.items()}


# --------------------------------------------------------------------------- main
def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch) / "loopback.pcap"
        capture_loopback(base)
        link_type, records = read_pcap(base)
    assert link_type == 1, "tcpdump on lo writes Ethernet frames"
    for old in HERE.glob("*.pcap*"):
        old.unlink()
    real = HERE / "real_loopback.pcap"
    write_pcap(real, 1, records)
    write_pcap(HERE / "variant_ns_be.pcap", 1, records, big_endian=True, nanoseconds=True)
    write_pcap(HERE / "variant_ns.pcap", 1, records, nanoseconds=True)
    write_pcap(HERE / "variant_be.pcap", 1, records, big_endian=True)
    subprocess.run(["editcap", "-F", "pcapng", str(real), str(HERE / "variant_editcap.pcapng")],
                   check=True)  # fmt: skip
    write_pcapng_sections(HERE / "variant_sections.pcapng", 1, records)
    write_pcapng_simple_blocks(HERE / "edge_simple_packet_block.pcapng", 1, records[:12])
    (HERE / "variant_gzip.pcap.gz").write_bytes(gzip.compress(real.read_bytes()))
    # gzip detected by its magic, not by the file name
    (HERE / "variant_gzip_by_magic.pcapng").write_bytes(
        gzip.compress((HERE / "variant_sections.pcapng").read_bytes())
    )
    for name, link, relinked in link_variants(records):
        write_pcap(HERE / f"variant_{name}.pcap", link, relinked)
    write_pcap(HERE / "variant_midstream.pcap", 1, records[5:])
    # A 60-byte snap length cuts TCP options (and, after IPv4 options, the checksum).
    subprocess.run(["editcap", "-s", "60", str(real), str(HERE / "variant_snaplen60.pcap")],
                   check=True)  # fmt: skip
    # The clock steps back two seconds after the fifth record: time stays relative to the
    # first record of the file.
    stepped = records[:5] + [(s - 2, us, data, n) for s, us, data, n in records[5:]]
    write_pcap(HERE / "variant_time_steps_back.pcap", 1, stepped)
    write_pcap(HERE / "variant_crafted.pcap", 1, crafted_records())
    write_pcap(HERE / "edge_fragments.pcap", 1, fragment_records())

    for name, frames in unsupported_records().items():
        write_pcap(HERE / f"bad_encapsulation_{name}.pcap", 1, frames)
    write_pcap(HERE / "bad_linktype_80211.pcap", 105, records[:3])
    data = real.read_bytes()
    (HERE / "bad_truncated.pcap").write_bytes(data[: len(data) - 37])
    corrupt = bytearray(data)
    second_record = 24 + 16 + struct.unpack_from("<I", data, 24 + 8)[0]
    struct.pack_into("<I", corrupt, second_record + 8, 0xFFFFFF00)
    (HERE / "bad_corrupt_length.pcap").write_bytes(bytes(corrupt))
    (HERE / "bad_text.pcap").write_text("this is a text file, not a capture\n")
    (HERE / "bad_empty.pcap").write_bytes(b"")
    for path in sorted(HERE.glob("*.pcap*")):
        print(f"{path.stat().st_size:7d}  {path.name}")


if __name__ == "__main__":
    if os.geteuid() != 0:
        raise SystemExit("run as root: tcpdump captures on the loopback interface")
    main()
