"""The compiled pcapng walk (hskit.native.kernels.walk_packets) against the general one.

The fast walk hands every packet block it cannot vouch for to the general walk
(``records._walk_pcapng_general``, the reference, itself checked against tshark in
test_native_kernels.py): on real, cut and randomly damaged captures both give the same
records, notes and errors; a whole or cut capture never needs the general walk; time
stamps equal Wireshark's unsigned 64-bit arithmetic done with Python integers; and the
kernel, handed hostile sizes and offsets, writes nothing outside its output.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from conftest import REPO, SAMPLE_DIR

from hskit.native import kernels, records
from hskit.native.records import MAX_CAPLEN, PADDING

DATA = REPO / "tests" / "data"
PCAPNGS = [SAMPLE_DIR / "two_interfaces.pcapng", DATA / "variant_sections.pcapng",
           DATA / "edge_simple_packet_block.pcapng", DATA / "variant_editcap.pcapng",
           *sorted((DATA / "capture_sets" / "dumpcap_ring").glob("*.pcapng"))[:2]]  # fmt: skip
SHB_MAGIC = b"\x0a\x0d\x0d\x0a"
#: words written over block kinds and lengths by the damage: kinds, short, odd, absurd
DAMAGE_WORDS = (0, 1, 2, 3, 6, 12, 16, 20, 28, 32, 33, 36, MAX_CAPLEN * 4, 0x0A0D0D0A)


def walked(walk, data: bytes) -> object:
    """What ``walk`` makes of ``data``: every field of its records, or the error it raises."""
    buffer = np.zeros(len(data) + PADDING, np.uint8)
    buffer[: len(data)] = np.frombuffer(data, np.uint8)
    try:
        result = walk(buffer, len(data), progress=False)
    except Exception as error:  # the error is the outcome compared
        return f"{type(error).__name__}: {error}"
    columns = ("data_offset", "caplen", "origlen", "ts_ns", "link_type")
    return (
        [(getattr(result, name).dtype.str, getattr(result, name).tolist()) for name in columns],
        result.bytes_lost, result.stop_reason, result.header_blocks, result.timestamp_notes,
    )  # fmt: skip


def damage(data: bytes, rng: np.random.Generator) -> bytes:
    """``data`` with one to three random bytes or aligned words changed, or cut."""
    damaged = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        at = int(rng.integers(0, len(damaged)))
        choice = rng.random()
        if choice < 0.4:
            damaged[at] = int(rng.integers(0, 256))
        elif choice < 0.8:
            at = min(at - at % 4, len(damaged) - 4)
            struct.pack_into("<I", damaged, at, int(rng.choice(DAMAGE_WORDS)))
        else:
            return bytes(damaged[:at])
    return bytes(damaged)


@pytest.mark.parametrize("path", PCAPNGS, ids=lambda path: path.name)
def test_the_fast_walk_equals_the_general_walk_on_whole_cut_and_damaged_captures(path):
    data = path.read_bytes()
    rng = np.random.default_rng(len(data))
    variants = [data, data[:-7], data[: len(data) * 2 // 3]]
    variants += [damage(data, rng) for _ in range(400)]
    compared = 0
    for variant in variants:
        if variant[:4] != SHB_MAGIC:  # walk_buffer sends only these to the pcapng walk
            continue
        fast = walked(records._walk_pcapng, variant)
        assert fast == walked(records._walk_pcapng_general, variant)
        compared += 1
    assert compared > 300


def crafted(order: str) -> bytes:
    """A section of two interfaces (the second in nanoseconds) whose packet blocks claim
    more or fewer bytes than they hold: simple, obsolete and enhanced packet blocks."""
    shb = struct.pack(order + "IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)
    idb = struct.pack(order + "IIHHII", 1, 20, 1, 0, 0, 20)
    nano = struct.pack(order + "IIHHIHHBxxxHHI", 1, 32, 1, 0, 0, 9, 1, 9, 0, 0, 32)
    blocks = [shb, idb, nano]
    for origlen, data in ((100, 8), (4, 8), (0, 0), (2**32 - 1, 12)):  # simple packet blocks
        blocks.append(struct.pack(order + "III", 3, 16 + data, origlen) + bytes(data)
                      + struct.pack(order + "I", 16 + data))  # fmt: skip
    for interface, caplen, data in ((1, 100, 8), (0, 4, 8), (1, 2**32 - 1, 0)):
        fields = (interface, 5, 7, caplen, (caplen + 3) % 2**32)
        for kind, word in ((6, interface), (2, interface << 16 if order == ">" else interface)):
            blocks.append(struct.pack(order + "IIIIIII", kind, 32 + data, word, *fields[1:])
                          + bytes(data) + struct.pack(order + "I", 32 + data))  # fmt: skip
    return b"".join(blocks)


@pytest.mark.parametrize("order", ["<", ">"])
def test_the_fast_walk_equals_the_general_walk_on_blocks_claiming_more_than_they_hold(order):
    data = crafted(order)
    fast = walked(records._walk_pcapng, data)
    assert fast == walked(records._walk_pcapng_general, data)
    assert len(fast[0][0][1]) == 10  # every packet block read


@pytest.mark.parametrize("path", PCAPNGS, ids=lambda path: path.name)
def test_whole_and_cut_captures_never_need_the_general_walk(path, monkeypatch):
    data = path.read_bytes()
    expected = [walked(records._walk_pcapng_general, cut) for cut in (data, data[:-7])]

    def refused(*args, **kwargs):
        raise AssertionError("the general walk was needed")

    monkeypatch.setattr(records, "_walk_pcapng_general", refused)
    assert [walked(records._walk_pcapng, cut) for cut in (data, data[:-7])] == expected


def wireshark_ns(ticks: int, per_second: int, offset_seconds: int) -> int:
    """Wireshark's time stamp in unsigned 64-bit arithmetic, with Python integers."""
    if per_second == 0:
        seconds = nanoseconds = 0
    else:
        seconds = ticks // per_second
        nanoseconds = (ticks % per_second * 1_000_000_000 % 2**64) // per_second
    seconds = (seconds + 2**63) % 2**64 - 2**63  # as int64
    return (((seconds + offset_seconds) * 1_000_000_000 + nanoseconds + 2**63) % 2**64) - 2**63


@pytest.mark.parametrize("per_second", [10**6, 10**9, 10**3, 10**12, 2**10, 2**40, 0])
def test_time_stamps_equal_wiresharks_unsigned_arithmetic(per_second):
    rng = np.random.default_rng(per_second % 1000)
    ticks = [int(t) for t in rng.integers(0, 2**63, 200, dtype=np.uint64)]
    ticks += [0, 999_999, 10**6, 2**64 - 1, 2**63, 2**63 - 1, 2**32, 2**32 - 1]
    offsets = [int(o) for o in rng.integers(-(2**31), 2**31, len(ticks))]
    blocks = b""
    for tick in ticks:  # enhanced packet blocks of no data, on interface 0
        blocks += struct.pack("<8I", 6, 32, 0, tick >> 32, tick & 0xFFFFFFFF, 0, 0, 32)
    buffer = np.zeros(len(blocks) + PADDING, np.uint8)
    buffer[: len(blocks)] = np.frombuffer(blocks, np.uint8)
    for offset_seconds in offsets[:5]:
        columns = np.zeros((kernels.PACKET_COLUMNS, len(ticks)), np.int64)
        count, reached, ended = kernels.walk_packets(
            buffer, len(blocks), 0, len(blocks), False, MAX_CAPLEN, 0,
            np.array([per_second], np.uint64), np.array([offset_seconds], np.int64),
            np.ones(1, np.int32), columns, 0,
        )  # fmt: skip
        assert (count, reached, ended) == (len(ticks), len(blocks), kernels.PACKETS_WALKED)
        expected = [wireshark_ns(tick, per_second, offset_seconds) for tick in ticks]
        assert columns[3].tolist() == expected


def test_walk_packets_writes_nothing_outside_its_output_on_hostile_sizes_and_offsets():
    rng = np.random.default_rng(11)
    for _ in range(500):
        buffer = rng.integers(0, 256, int(rng.integers(0, 200)), dtype=np.uint8)
        if rng.random() < 0.7:  # packet block kinds and small lengths, so that runs go on
            buffer[0::16] = rng.choice([2, 3, 6], len(buffer[0::16]))
            buffer[1::16] = buffer[2::16] = buffer[3::16] = 0
            buffer[4::16] = rng.choice([12, 16, 32, 48], len(buffer[4::16]))
            buffer[5::16] = buffer[6::16] = buffer[7::16] = 0
        size = int(rng.integers(0, 400))
        offset = int(rng.integers(-50, 250))
        window_end = offset + int(rng.integers(0, 400))
        start = int(rng.integers(0, 3))
        interfaces = int(rng.integers(0, 3))
        columns = np.full((kernels.PACKET_COLUMNS, 8), -7, dtype=np.int64)
        count, reached, ended = kernels.walk_packets(
            buffer, size, offset, window_end, bool(rng.random() < 0.5), MAX_CAPLEN,
            int(rng.integers(-1, 2)), np.full(interfaces, 10**6, np.uint64),
            np.zeros(interfaces, np.int64), np.ones(interfaces, np.int32), columns, start,
        )  # fmt: skip
        assert start <= count <= 8 and (columns[:, :start] == -7).all()
        assert (columns[:, count:] == -7).all()
        assert ended in (kernels.PACKETS_WALKED, kernels.PACKETS_OTHER_BLOCK,
                         kernels.PACKETS_GENERAL)  # fmt: skip
        data_end = columns[0, start:count] + columns[1, start:count]
        assert (columns[0, start:count] >= 0).all() and (data_end <= len(buffer)).all()
        assert count == start or reached <= min(size, len(buffer))


def test_a_packet_block_before_any_interface_is_the_general_walk_s_error():
    # a section header, then an enhanced packet block naming interface 0, never described
    shb = struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)
    epb = struct.pack("<8I", 6, 32, 0, 0, 0, 0, 0, 32)
    assert walked(records._walk_pcapng, shb + epb) == (
        "NotACapture: a pcapng packet block comes before any interface description"
    )
