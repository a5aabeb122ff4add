"""Stream numbers and relative sequence numbers of the native reader, against tshark.

A SYN-ACK whose sequence number differs from its sender's base (port reuse as Wireshark
sees it: ``tcp.analysis.reused_ports``) re-bases that direction's relative numbers and
keeps the stream; a capture crafted with scapy shows it, whole and cut into chunks.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import CRAFTED_LINK

import hskit
from hskit import native

CLIENT, SERVER = ("10.0.0.1", 1234), ("10.0.0.2", 80)
#: (from the client?, flags, seq, ack, payload)
EXCHANGE = [
    (True, "S", 1000, 0, b""),
    (False, "SA", 5000, 1001, b""),
    (True, "A", 1001, 5001, b""),
    (True, "PA", 1001, 5001, b"hello"),
    (False, "A", 5001, 1006, b""),
    # a SYN-ACK with a new sequence number (the client's new SYN was not captured)
    (False, "SA", 9000, 1001, b""),
    (True, "A", 1001, 9001, b""),
    (True, "PA", 1001, 9001, b"again"),
    (False, "PA", 9001, 1006, b"reply"),
    (False, "SA", 9000, 1001, b""),  # a retransmission of it: no new base
    (True, "FA", 1006, 9006, b""),
    (False, "FA", 9006, 1007, b""),
    (True, "A", 1007, 9007, b""),
]


@pytest.fixture(scope="module")
def rebased_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scapy = pytest.importorskip("scapy.all")
    packets = []
    for number, (from_client, flags, seq, ack, payload) in enumerate(EXCHANGE):
        (src, sport), (dst, dport) = (CLIENT, SERVER) if from_client else (SERVER, CLIENT)
        packet = (
            scapy.Ether(**CRAFTED_LINK)
            / scapy.IP(src=src, dst=dst)
            / scapy.TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack)
        )
        if payload:
            packet = packet / scapy.Raw(payload)
        packet.time = 1_700_000_000 + number / 100
        packets.append(packet)
    path = tmp_path_factory.mktemp("rebase") / "synack_new_seq.pcap"
    scapy.wrpcap(str(path), packets)
    return path


@pytest.mark.parametrize("chunk_size", [native.DEFAULT_CHUNK_SIZE, 64])
def test_synack_with_a_new_sequence_number_rebases_like_tshark(
    tshark: str, rebased_capture: Path, chunk_size: int
) -> None:
    out = subprocess.run(
        [tshark, "-n", "-r", str(rebased_capture), "-T", "fields", "-e", "tcp.stream",
         "-e", "tcp.seq", "-e", "tcp.ack", "-e", "tcp.analysis.reused_ports"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rows = [line.split("\t") for line in out.splitlines()]
    expected = np.array([row[:3] for row in rows], dtype=np.int64)
    assert [row[3] for row in rows].count("1") == 1  # tshark marks the re-basing SYN-ACK
    cap = hskit.load(rebased_capture, backend="native", progress=False, chunk_size=chunk_size)
    got = cap.segments[["stream", "rel_seq", "rel_ack"]].to_numpy(np.int64)
    np.testing.assert_array_equal(got, expected)
    assert expected[5].tolist() == [0, 0, 1]  # re-based at the SYN-ACK itself
