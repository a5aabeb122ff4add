"""Regenerate the tshark backend's hostile-input captures in this folder (run as root).

    python tests/data/tshark_cases/make_tshark_cases.py

1. ``tunnel_vxlan_mixed.pcap``: real kernel traffic between two namespaces (``th-a``,
   ``th-b``): a TCP connection over VXLAN on an IPv6 underlay carrying IPv4, and one over
   VXLAN on an IPv4 underlay carrying IPv6, captured by tcpdump on the underlay veth.
2. Encapsulations no stack here produces (this kernel has no Geneve module; there is no
   ARCNET, InfiniBand or Juniper hardware): the real frames of ``../real_loopback.pcap``
   (TCP over IPv4 and IPv6, UDP, ICMP) with their Ethernet header replaced by hand-written
   headers: ``tunnel_geneve.pcap`` (Geneve on UDP 6081, carrying Ethernet and, with
   protocol type 0x0800/0x86DD, IP directly), ``link_arcnet_bsd.pcap`` (LINKTYPE 7) and
   ``link_arcnet_linux.pcap`` (129), ``link_ipoib.pcap`` (242),
   ``link_juniper_ether.pcap`` (178) and ``link_juniper_ppp.pcap`` (179).
3. ``tcp_reserved_flags.pcap``: the same frames with the three reserved bits of the TCP
   header set in some segments (no stack sets them).
4. ``bad_timestamp_fraction.pcap``: the same frames, four records' microsecond field out of
   range (:data:`CORRUPT_MICROSECONDS`).

Each is checked against tshark's full dissection by ``tests/test_tshark_hostile.py``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "real_loopback.pcap"
Record = tuple[int, int, bytes, int]  # (seconds, microseconds, data, original length)

ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_TEB = 0x0800, 0x86DD, 0x6558
ETHERNET_HEADER = 14
TCP_PROTOCOL, UDP_PROTOCOL = 6, 17
GENEVE_PORT = 6081
LINKTYPE = {"ethernet": 1, "arcnet_bsd": 7, "arcnet_linux": 129, "ipoib": 242,
            "juniper_ether": 178, "juniper_ppp": 179}  # fmt: skip
ARCNET_IP_RFC1051, ARCNET_IP_RFC1201, ARCNET_IPV6 = 0xF0, 0xD4, 0xC4
JUNIPER_MAGIC, JUNIPER_FLAG_IN = b"MGC", 0x01
PPP_ADDRESS_CONTROL = b"\xff\x03"
PPP_PROTOCOL = {ETHERTYPE_IPV4: 0x0021, ETHERTYPE_IPV6: 0x0057}
#: TCP header byte 12: data offset (4 bits), three reserved bits, AE; the reserved bits set
#: in turn (all three, the highest, the lowest).
TCP_RESERVED_PATTERNS = (0x0E, 0x08, 0x02)


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


def write_pcap(path: Path, link_type: int, records: list[Record]) -> None:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, link_type)]
    for seconds, micros, data, origlen in records:
        out.append(struct.pack("<IIII", seconds, micros, len(data), origlen) + data)
    path.write_bytes(b"".join(out))


def ethertype(frame: bytes) -> int:
    return struct.unpack_from(">H", frame, 12)[0]


def relinked(records: list[Record], header: Callable[[bytes], bytes]) -> list[Record]:
    """Each frame's Ethernet header replaced by ``header(frame)``."""
    out = []
    for seconds, micros, frame, origlen in records:
        new = header(frame)
        payload = frame[ETHERNET_HEADER:]
        out.append((seconds, micros, new + payload, origlen - ETHERNET_HEADER + len(new)))
    return out


# --------------------------------------------------------------------------- headers
def arcnet_bsd(frame: bytes) -> bytes:
    """BSD ARCNET: source, destination, protocol id (RFC 1201 ids add a split flag and a
    sequence number; RFC 1051's IPv4 id does not)."""
    if ethertype(frame) == ETHERTYPE_IPV4:
        return bytes([0x01, 0x02, ARCNET_IP_RFC1051])
    return bytes([0x01, 0x02, ARCNET_IPV6, 0x00]) + struct.pack(">H", 7)


def arcnet_linux(frame: bytes) -> bytes:
    """Linux ARCNET: source, destination, 2-byte offset, protocol id, split flag, sequence."""
    protocol = ARCNET_IP_RFC1201 if ethertype(frame) == ETHERTYPE_IPV4 else ARCNET_IPV6
    return bytes([0x01, 0x02, 0x00, 0x00, protocol, 0x00]) + struct.pack(">H", 3)


def ipoib(frame: bytes) -> bytes:
    """IP over InfiniBand as Linux captures it (the 44-byte header Wireshark reads for
    LINKTYPE 242): version/class/flow label, source QP number, source and destination GIDs
    (16 bytes each), then RFC 4391's 2-byte protocol type and 2 reserved bytes."""
    source, destination = (socket.inet_pton(socket.AF_INET6, gid) for gid in ("fe80::1", "fe80::2"))
    route_header = struct.pack(">II", 0x6000_0000, 0x0000_0048) + source + destination
    return route_header + struct.pack(">HH", ethertype(frame), 0)


def juniper_ether(frame: bytes) -> bytes:
    """Juniper Ethernet PIC: "MGC", direction flags, then the whole Ethernet frame."""
    return JUNIPER_MAGIC + bytes([JUNIPER_FLAG_IN]) + frame[:ETHERNET_HEADER]


def juniper_ppp(frame: bytes) -> bytes:
    """Juniper PPP PIC: "MGC", flags, then PPP in HDLC framing (address, control, protocol)."""
    protocol = struct.pack(">H", PPP_PROTOCOL[ethertype(frame)])
    return JUNIPER_MAGIC + bytes([JUNIPER_FLAG_IN]) + PPP_ADDRESS_CONTROL + protocol


def ipv4_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f">{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def geneve(records: list[Record]) -> list[Record]:
    """Every frame in Geneve over IPv4/UDP: even frames as Ethernet (0x6558), odd ones as
    bare IP (the inner ethertype), so both of Geneve's ways of carrying IP are present."""
    out = []
    for index, (seconds, micros, frame, origlen) in enumerate(records):
        inner = frame if index % 2 == 0 else frame[ETHERNET_HEADER:]
        protocol = ETHERTYPE_TEB if index % 2 == 0 else ethertype(frame)
        geneve_header = struct.pack(">BBHI", 0, 0, protocol, 0x00_00_2A_00)  # VNI 42
        udp_length = 8 + len(geneve_header) + len(inner)
        udp = struct.pack(">HHHH", 50000 + index % 7, GENEVE_PORT, udp_length, 0)
        ip = bytearray(struct.pack(
            ">BBHHHBBH4s4s", 0x45, 0, 20 + udp_length, index, 0, 64, UDP_PROTOCOL, 0,
            socket.inet_aton("192.0.2.1"), socket.inet_aton("192.0.2.2"),
        ))  # fmt: skip
        struct.pack_into(">H", ip, 10, ipv4_checksum(bytes(ip)))
        outer = bytes.fromhex("020000000002020000000001") + struct.pack(">H", ETHERTYPE_IPV4)
        packet = outer + bytes(ip) + udp + geneve_header + inner
        out.append((seconds, micros, packet, len(packet) + origlen - len(frame)))
    return out


def reserved_flags(records: list[Record]) -> list[Record]:
    """Every third frame, when it is a TCP segment, with reserved bits of its TCP header set."""
    out = []
    for index, (seconds, micros, frame, origlen) in enumerate(records):
        data = bytearray(frame)
        if ethertype(frame) == ETHERTYPE_IPV4 and data[ETHERNET_HEADER + 9] == TCP_PROTOCOL:
            tcp = ETHERNET_HEADER + (data[ETHERNET_HEADER] & 0x0F) * 4
        elif ethertype(frame) == ETHERTYPE_IPV6 and data[ETHERNET_HEADER + 6] == TCP_PROTOCOL:
            tcp = ETHERNET_HEADER + 40
        else:
            tcp = None
        if tcp is not None and index % 3 == 0:
            data[tcp + 12] |= TCP_RESERVED_PATTERNS[index // 3 % 3]
        out.append((seconds, micros, bytes(data), origlen))
    return out


#: record index → a microsecond field out of range: 10^6 and 1.5·10^6 (tshark adds them to
#: the seconds, as the native reader does); 2.5·10^6 and 0xFFFFFFFF (times 1000 they
#: overflow tshark's signed 32-bit nanoseconds: a negative epoch, 10 decimals).
CORRUPT_MICROSECONDS = {3: 0xFFFFFFFF, 6: 1_000_000, 9: 1_500_000, 12: 2_500_000}


def corrupt_fraction(records: list[Record]) -> list[Record]:
    """The records of :data:`CORRUPT_MICROSECONDS` with their microsecond field replaced."""
    out = list(records)
    for index, micros in CORRUPT_MICROSECONDS.items():
        seconds, _, data, origlen = out[index]
        out[index] = (seconds, micros, data, origlen)
    return out


# --------------------------------------------------------------------------- VXLAN lab
NAMESPACES = ("th-a", "th-b")
UNDERLAY = {"th-a": ("10.88.0.1", "fd88::1"), "th-b": ("10.88.0.2", "fd88::2")}
OVERLAY = {"th-a": ("10.89.0.1", "fd89::1"), "th-b": ("10.89.0.2", "fd89::2")}
PORTS = {4: 5501, 6: 5502}

SERVER = """
import socket, sys
family, address, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.socket(family, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((address, port)); s.listen(1); s.settimeout(20)
print("READY", flush=True)
c, _ = s.accept(); c.settimeout(5)
c.sendall(c.recv(100).upper()); c.close()
"""
CLIENT = """
import socket, sys
family, address, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = socket.create_connection((address, port), timeout=10)
c.sendall(b"hello over vxlan"); print(c.recv(100)); c.close()
"""


def ip(*arguments: str) -> None:
    subprocess.run(["ip", *arguments], check=True, capture_output=True, timeout=20)


@contextlib.contextmanager
def vxlan_lab() -> Iterator[None]:
    """Two namespaces joined by a veth, with VXLAN over IPv6 (inner IPv4) and over IPv4
    (inner IPv6); removed on exit, whatever happened."""
    try:
        for ns in NAMESPACES:
            ip("netns", "add", ns)
        ip("link", "add", "th-a0", "netns", "th-a", "type", "veth", "peer", "th-b0",
           "netns", "th-b")  # fmt: skip
        for ns, peer in (("th-a", "th-b"), ("th-b", "th-a")):
            veth = ns + "0"
            (v4, v6), (peer_v4, peer_v6) = UNDERLAY[ns], UNDERLAY[peer]
            ip("-n", ns, "addr", "add", f"{v4}/24", "dev", veth)
            ip("-n", ns, "addr", "add", f"{v6}/64", "dev", veth, "nodad")
            ip("-n", ns, "link", "set", veth, "up")
            ip("-n", ns, "link", "set", "lo", "up")
            x6, x4 = ns + "x6", ns + "x4"  # VXLAN over IPv6, over IPv4
            ip("-n", ns, "link", "add", x6, "type", "vxlan", "id", "61", "local", v6,
               "remote", peer_v6, "dstport", "4789")  # fmt: skip
            ip("-n", ns, "link", "add", x4, "type", "vxlan", "id", "41", "local", v4,
               "remote", peer_v4, "dstport", "4789")  # fmt: skip
            for device in (x6, x4):
                ip("-n", ns, "link", "set", device, "addrgenmode", "none")
            ip("-n", ns, "addr", "add", f"{OVERLAY[ns][0]}/24", "dev", x6)
            ip("-n", ns, "addr", "add", f"{OVERLAY[ns][1]}/64", "dev", x4, "nodad")
            for device in (x6, x4):
                ip("-n", ns, "link", "set", device, "up")
        yield
    finally:
        for ns in NAMESPACES:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def in_namespace(ns: str, code: str, *arguments: str) -> list[str]:
    return ["ip", "netns", "exec", ns, sys.executable, "-c", code, *arguments]


def capture_vxlan(path: Path) -> None:
    """One TCP connection over each VXLAN, captured on th-a's underlay veth."""
    with vxlan_lab():
        dump = subprocess.Popen(
            ["ip", "netns", "exec", "th-a", "tcpdump", "-i", "th-a0", "-U", "-w", str(path),
             "udp port 4789"],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert dump.stderr is not None
            assert "listening" in dump.stderr.readline()
            for version, family, index in ((4, socket.AF_INET, 0), (6, socket.AF_INET6, 1)):
                address, port = OVERLAY["th-b"][index], str(PORTS[version])
                server = subprocess.Popen(
                    in_namespace("th-b", SERVER, str(int(family)), address, port),
                    stdout=subprocess.PIPE,
                    text=True,
                )
                assert server.stdout is not None and server.stdout.readline() == "READY\n"
                subprocess.run(
                    in_namespace("th-a", CLIENT, str(int(family)), address, port),
                    check=True, timeout=20,
                )  # fmt: skip
                server.wait(timeout=20)
            time.sleep(0.5)
        finally:
            dump.terminate()
            dump.wait(timeout=10)


def inner_tcp_versions(path: Path) -> set[str]:
    """The IP versions that carry TCP inside the VXLAN tunnels of the capture, by tshark."""
    chains = subprocess.run(
        ["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "frame.protocols"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return {chain.split(":tcp")[0].rsplit(":", 1)[1] for chain in chains if ":vxlan:" in chain
            and ":tcp" in chain}  # fmt: skip


def capture_both_vxlan_connections(path: Path, attempts: int = 3) -> None:
    """:func:`capture_vxlan` until the capture holds both connections (now and then the
    second one is missing from tcpdump's file)."""
    for _ in range(attempts):
        capture_vxlan(path)
        if inner_tcp_versions(path) == {"ip", "ipv6"}:
            return
    raise RuntimeError(f"no capture with both VXLAN connections in {attempts} attempts")


def main() -> None:
    link_type, records = read_pcap(SOURCE)
    assert link_type == LINKTYPE["ethernet"]
    ethernet = [r for r in records if ethertype(r[2]) in (ETHERTYPE_IPV4, ETHERTYPE_IPV6)]
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "vxlan.pcap"
        capture_both_vxlan_connections(raw)
        subprocess.run(["editcap", "-F", "pcap", str(raw), str(HERE / "tunnel_vxlan_mixed.pcap")],
                       check=True)  # fmt: skip
    write_pcap(HERE / "tunnel_geneve.pcap", LINKTYPE["ethernet"], geneve(ethernet))
    headers = {"arcnet_bsd": arcnet_bsd, "arcnet_linux": arcnet_linux, "ipoib": ipoib,
               "juniper_ether": juniper_ether, "juniper_ppp": juniper_ppp}  # fmt: skip
    for name, header in headers.items():
        write_pcap(HERE / f"link_{name}.pcap", LINKTYPE[name], relinked(ethernet, header))
    write_pcap(HERE / "tcp_reserved_flags.pcap", LINKTYPE["ethernet"], reserved_flags(records))
    write_pcap(HERE / "bad_timestamp_fraction.pcap", LINKTYPE["ethernet"],
               corrupt_fraction(records))  # fmt: skip


if __name__ == "__main__":
    if os.geteuid() != 0:
        raise SystemExit("run as root: the VXLAN capture needs network namespaces")
    main()
