"""The compiled loops of the native reader (hskit/native/kernels.py) against independent truth.

The record walks give the frames tshark reads (``frame.cap_len``, ``frame.len``) on whole,
cut and corrupt captures, and stop where a plain-Python walk of the pcap format says;
the checksum word sums and the TCP option walk equal plain-Python computations on random
bytes; the kernels, handed hostile sizes and offsets, read nothing outside the buffer
(values past it read as 0) and write nothing outside their output.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import CRAFTED_LINK, REPO, SAMPLE_DIR

from hskit.native import kernels
from hskit.native.records import MAX_CAPLEN, Records, read_records

DATA = REPO / "tests" / "data"
PCAPS = [SAMPLE_DIR / "refused.pcap", SAMPLE_DIR / "ipv6.pcap", SAMPLE_DIR / "vlan.pcap",
         DATA / "variant_be.pcap", DATA / "variant_ns.pcap",
         DATA / "variant_ns_be.pcap"]  # fmt: skip
PCAPNGS = [SAMPLE_DIR / "two_interfaces.pcapng", DATA / "variant_sections.pcapng",
           DATA / "edge_simple_packet_block.pcapng", DATA / "variant_editcap.pcapng",
           DATA / "variant_snaplen60.pcap"]  # fmt: skip
PCAP_FILE_HEADER, PCAP_RECORD_HEADER = 24, 16


def tshark_frames(tshark: str, path: Path) -> list[tuple[int, int]]:
    """``(frame.cap_len, frame.len)`` of every frame tshark reads from ``path`` (it reads
    a cut or corrupt file up to the damage, then exits with an error)."""
    output = subprocess.run(
        [tshark, "-n", "-r", str(path), "-T", "fields", "-e", "frame.cap_len", "-e", "frame.len"],
        capture_output=True, text=True, check=False, timeout=120,
    ).stdout  # fmt: skip
    return [
        (int(cap), int(wire)) for cap, wire in (line.split("\t") for line in output.splitlines())
    ]


def frames(records: Records) -> list[tuple[int, int]]:
    return list(zip(records.caplen.tolist(), records.origlen.tolist(), strict=True))


def damaged(path: Path, folder: Path) -> list[Path]:
    """``path`` cut inside its last record and inside a record header, and (pcap) with a
    record's length made absurd and one made to run past the end of the file."""
    data = path.read_bytes()
    variants = {"cut_record": data[:-7], "cut_header": data[: len(data) * 2 // 3]}
    if data[:4] != b"\x0a\x0d\x0d\x0a":
        order = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        second = reference_pcap_walk(data)[0][1]  # offset of the second record's header
        corrupt = bytearray(data)
        struct.pack_into(order + "I", corrupt, second + 8, MAX_CAPLEN + 1)
        variants["corrupt_length"] = bytes(corrupt)
        past_end = bytearray(data)
        struct.pack_into(order + "I", past_end, second + 8, len(data))
        variants["length_past_end"] = bytes(past_end)
    written = []
    for name, content in variants.items():
        target = folder / f"{path.stem}_{name}{path.suffix}"
        target.write_bytes(content)
        written.append(target)
    return written


def reference_pcap_walk(data: bytes) -> tuple[list[int], int, str | None]:
    """Plain-Python walk of a pcap file: record header offsets, where the walk stopped,
    and why (None at a clean end)."""
    order = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    offsets, offset = [], PCAP_FILE_HEADER
    while offset + PCAP_RECORD_HEADER <= len(data):
        (caplen,) = struct.unpack_from(order + "I", data, offset + 8)
        if caplen > MAX_CAPLEN:
            return offsets, offset, f"corrupt record length {caplen}"
        if offset + PCAP_RECORD_HEADER + caplen > len(data):
            return offsets, offset, "file ends inside a record"
        offsets.append(offset)
        offset += PCAP_RECORD_HEADER + caplen
    return offsets, offset, None if offset == len(data) else "file ends inside a record"


@pytest.mark.parametrize("path", PCAPS, ids=lambda path: path.name)
def test_pcap_walk_reads_tsharks_frames_and_stops_where_the_format_says(tshark, path, tmp_path):
    for capture in [path, *damaged(path, tmp_path)]:
        records = read_records(capture, progress=False)
        theirs = tshark_frames(tshark, capture)
        if "length" in capture.stem:  # tshark may guess at a pcap variant past the damage
            theirs = theirs[: len(records.caplen)]
        assert frames(records) == theirs, capture.name
        offsets, stop, reason = reference_pcap_walk(capture.read_bytes())
        assert records.data_offset.tolist() == [o + PCAP_RECORD_HEADER for o in offsets]
        assert records.bytes_lost == capture.stat().st_size - stop
        expected = None
        if reason is not None:
            expected = f"{reason} at byte offset {stop} (record {len(offsets) + 1})"
        assert records.stop_reason == expected, capture.name


@pytest.mark.parametrize("path", PCAPNGS, ids=lambda path: path.name)
def test_pcapng_walk_reads_tsharks_frames(tshark, path, tmp_path):
    for capture in [path, *damaged(path, tmp_path)]:
        records = read_records(capture, progress=False)
        assert frames(records) == tshark_frames(tshark, capture), capture.name
        assert (records.stop_reason is None) == (capture == path)


def reference_word_sum(data: bytes, start: int, length: int) -> int:
    """Sum of the big-endian 16-bit words of ``data[start : start + length]``, bytes outside
    ``data`` read as 0."""
    span = bytes(data[i] if 0 <= i < len(data) else 0 for i in range(start, start + length))
    span += b"\0" * (len(span) % 2)
    return sum(struct.unpack(f">{len(span) // 2}H", span))


def test_word_sums_equal_plain_python_sums_inside_and_past_the_buffer():
    rng = np.random.default_rng(7)
    buffer = rng.integers(0, 256, 301, dtype=np.uint8)
    start = rng.integers(-5, 320, 500)
    length = rng.integers(0, 80, 500)
    sums = kernels.word_sums(buffer, start, length)
    expected = [
        reference_word_sum(buffer.tobytes(), s, n) for s, n in zip(start, length, strict=True)
    ]
    assert sums.tolist() == expected


def reference_options(header: bytes, length: int) -> tuple[list[int], list[bool]]:
    """MSS, window scale, TSval, TSecr (first of each with its right length, -1 when
    absent), SACK permitted and TFO of a TCP header's first ``length`` bytes, by RFC 9293's
    option list (end, NOP, then kind-length-value), as Wireshark reads it."""
    values, sack, tfo = {2: -1, 3: -1, 8: -1, "ecr": -1}, False, False
    at = 20
    for _ in range(40):
        if at >= length or header[at] == 0:
            break
        kind = header[at]
        size = 1 if kind == 1 else (header[at + 1] if at + 1 < len(header) else 0)
        if (kind != 1 and size < 2) or at + size > length:
            break
        body = header[at + 2 : at + size]
        if kind == 2 and size == 4 and values[2] == -1:
            values[2] = int.from_bytes(body, "big")
        elif kind == 3 and size == 3 and values[3] == -1:
            values[3] = body[0]
        elif kind == 8 and size == 10:
            if values[8] == -1:
                values[8] = int.from_bytes(body[:4], "big")
            if values["ecr"] == -1:
                values["ecr"] = int.from_bytes(body[4:], "big")
        sack |= kind == 4
        tfo |= kind == 34 or (kind == 254 and size >= 4 and body[:2] == b"\xf9\x89")
        at += size
    return [values[2], values[3], values[8], values["ecr"]], [sack, tfo]


def test_tcp_options_equal_a_plain_python_walk_of_random_option_lists():
    rng = np.random.default_rng(11)
    kinds = np.array([0, 1, 1, 2, 3, 4, 8, 34, 254, 5, 30])
    headers, lengths = [], []
    for _ in range(2000):
        header = bytearray(rng.integers(0, 256, 60, dtype=np.uint8).tobytes())
        at = 20
        while at < 60:
            kind = int(rng.choice(kinds))
            size = {2: 4, 3: 3, 8: 10, 4: 2, 34: 2}.get(kind, int(rng.integers(0, 12)))
            if rng.random() < 0.1:
                size = int(rng.integers(0, 12))  # a wrong length
            header[at] = kind
            if at + 1 < 60:
                header[at + 1] = size
            if kind == 254 and at + 3 < 60 and rng.random() < 0.5:
                header[at + 2 : at + 4] = b"\xf9\x89"
            at += max(size, 1)
        headers.append(bytes(header))
        lengths.append(int(rng.integers(16, 61)))
    buffer = np.frombuffer(b"".join(headers), dtype=np.uint8)
    tcp_at = np.arange(len(headers), dtype=np.int64) * 60
    mss, wscale, ts_val, ts_ecr, sack_perm, tfo = kernels.tcp_options(
        buffer, tcp_at, np.array(lengths, dtype=np.int64)
    )
    values = np.array([mss, wscale, ts_val, ts_ecr])
    flags = np.array([sack_perm, tfo])
    for row, (header, length) in enumerate(zip(headers, lengths, strict=True)):
        expected_values, expected_flags = reference_options(header, length)
        assert values[:, row].tolist() == expected_values, header[20:length].hex()
        assert flags[:, row].tolist() == expected_flags, header[20:length].hex()


def test_kernels_read_nothing_outside_the_buffer_on_hostile_sizes_and_offsets():
    rng = np.random.default_rng(3)
    for _ in range(300):
        buffer = rng.integers(0, 256, int(rng.integers(0, 200)), dtype=np.uint8)
        if rng.random() < 0.5:  # small lengths, so that walks go on for a while
            buffer[8::16] = rng.integers(0, 40, len(buffer[8::16]))
        # sizes past the buffer, offsets before and after it
        size = int(rng.integers(0, 400))
        offset = int(rng.integers(-50, 250))
        window_end = offset + int(rng.integers(0, 400))
        big = bool(rng.random() < 0.5)
        columns = np.full((kernels.PCAP_COLUMNS, 8), -7, dtype=np.int64)
        count, reached, _ = kernels.walk_pcap(
            buffer, size, offset, window_end, big, MAX_CAPLEN, columns
        )
        assert 0 <= count <= 8 and (columns[:, count:] == -7).all()
        assert (columns[0, :count] + columns[3, :count] <= len(buffer)).all()
        assert count == 0 or reached <= min(size, len(buffer))
        words = np.full((1 + kernels.PCAPNG_WORDS, 8), -7, dtype=np.int64)
        count, _ = kernels.walk_packet_blocks(
            buffer, size, offset, window_end, big, MAX_CAPLEN, words
        )
        assert 0 <= count <= 8 and (words[:, count:] == -7).all()
        assert (words[0, :count] >= 0).all() and (words[0, :count] + 12 <= len(buffer)).all()
        tcp_at = rng.integers(-100, 300, 20)
        header_len = rng.integers(0, 61, 20)
        options = kernels.tcp_options(buffer, tcp_at, header_len)
        assert [len(column) for column in options] == [20] * 6
        sums = kernels.word_sums(buffer, tcp_at, header_len)
        expected = [
            reference_word_sum(buffer.tobytes(), s, n)
            for s, n in zip(tcp_at, header_len, strict=True)
        ]
        assert sums.tolist() == expected


def test_checksum_verdicts_equal_tsharks_on_wrong_odd_and_cut_segments(tshark, tmp_path):
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.utils import wrpcap
    from test_checksums import tshark_verdicts

    import hskit

    rng = np.random.default_rng(5)
    packets = []
    for number in range(60):
        ip = (
            IP(src="10.0.0.1", dst="10.0.0.2") if number % 3 else IPv6(src="fd00::1", dst="fd00::2")
        )
        payload = rng.integers(0, 256, int(rng.integers(0, 300)), dtype=np.uint8).tobytes()
        tcp = TCP(sport=40000 + number % 4, dport=80, seq=number * 1000, flags="PA")
        if number % 5 == 0:
            tcp.chksum = int(rng.integers(0, 0x10000))  # most likely wrong
        packets.append(Ether(**CRAFTED_LINK) / ip / tcp / Raw(payload))
    whole = tmp_path / "checksums.pcap"
    wrpcap(str(whole), packets)
    cut = tmp_path / "checksums_cut.pcap"
    subprocess.run(["editcap", "-s", "120", str(whole), str(cut)], check=True, timeout=60)
    for capture in (whole, cut):
        ours = hskit.load(capture, backend="native").segments
        theirs = tshark_verdicts(tshark, capture)
        assert ours["frame"].astype(np.int64).tolist() == theirs["frame"].tolist()
        assert ours["checksum_ok"].tolist() == theirs["tshark"].tolist(), capture.name
        assert ours["checksum_ok"].isna().any() == (capture == cut)
        assert (ours["checksum_ok"] == False).any()  # noqa: E712 (a nullable column)
