"""The native decoder's compiled fast path against its general (vectorized) path.

:func:`hskit.native.decode.decode` sends the common records through a fused compiled loop
(:func:`hskit.native.kernels.decode_tcp`) and the rest through
:func:`hskit.native.decode.decode_general`, which holds every rule. Here every capture of
the repository, and copies of some with random bytes changed in their headers, decode
to the same columns (every field, every row, same dtypes), the same skip counts and the
same errors as when every record takes the general path; and tshark's own reading of
each frame decides which records must take which path: every frame with a VLAN tag, an
LLC header, IPv6 extension headers, an IP fragment, an ICMP error or no TCP goes to the
general path, every whole frame of TCP straight in IPv4 or IPv6 takes the fast one.
"""

from __future__ import annotations

import subprocess
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from conftest import CAPTURE_SUFFIXES, REPO, SAMPLE_DIR

from hskit.errors import HskitError
from hskit.native import kernels
from hskit.native.decode import TcpColumns, _link_plan, decode, decode_general
from hskit.native.records import Records, read_records

DATA = REPO / "tests" / "data"
CAPTURES = sorted(
    p for folder in (SAMPLE_DIR, DATA) for p in folder.rglob("*")
    if p.name.endswith(CAPTURE_SUFFIXES)
)  # fmt: skip
#: captures holding records the fast path must leave (VLAN tags, one and two; LLC; ICMP
#: errors quoting TCP; IPv6 extension headers; IP fragments; headers cut by the snap
#: length), and captures of each other link type it reads
ROUTED = [SAMPLE_DIR / "vlan.pcap", DATA / "variant_qinq.pcap", DATA / "variant_crafted.pcap",
          DATA / "edge_fragments.pcap", DATA / "variant_snaplen60.pcap"]  # fmt: skip
FAST = [DATA / "variant_sll2.pcap", SAMPLE_DIR / "cooked_sll.pcap", DATA / "variant_null_be.pcap",
        DATA / "variant_loop108.pcap", DATA / "variant_raw101.pcap",
        DATA / "variant_ipv6_229.pcap", SAMPLE_DIR / "ipv6.pcap"]  # fmt: skip
#: protocols tshark names for link headers the fast path reads (all but VLAN, LLC)
FAST_LINKS = {"eth", "sll", "null", "raw", "ethertype"}
#: protocols of records that must take the general path
GENERAL_PROTOCOLS = {"vlan", "llc", "icmp", "icmpv6", "ipv6.hopopts", "ipv6.routing",
                     "ipv6.dstopts", "ipv6.fraghdr"}  # fmt: skip


def decoded(records: Records, decoder: object) -> tuple[TcpColumns, dict[str, int]] | str:
    """The decoder's result, or the error it raised (type and message)."""
    try:
        return decoder(records)  # type: ignore[operator]
    except HskitError as error:
        return f"{type(error).__name__}: {error}"


def assert_same(fast: tuple[TcpColumns, dict[str, int]] | str, general: object) -> None:
    if isinstance(general, str):
        assert fast == general
        return
    assert not isinstance(fast, str), fast
    (columns, skipped), (expected, expected_skipped) = fast, general
    assert skipped == expected_skipped
    for field in fields(TcpColumns):
        ours, theirs = getattr(columns, field.name), getattr(expected, field.name)
        assert ours.dtype == theirs.dtype, field.name
        np.testing.assert_array_equal(ours, theirs, err_msg=field.name)


def routed_to_general(records: Records) -> set[int]:
    """0-based indices of the records the fast path leaves to the general path."""
    count = len(records.caplen)
    general = np.empty(count, dtype=np.int64)
    columns = TcpColumns.empty(count)
    _, others = kernels.decode_tcp(
        records.buffer, records.data_offset, records.caplen, records.origlen,
        records.link_type, _link_plan(), general,
        tuple(getattr(columns, f.name) for f in fields(columns)),
    )  # fmt: skip
    return set(general[:others].tolist())


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: str(p.relative_to(REPO)))
def test_fast_path_decodes_every_capture_as_the_general_path(path: Path) -> None:
    try:
        records = read_records(path, progress=False)
    except HskitError:  # not a capture at all: nothing to decode
        return
    assert_same(decoded(records, decode), decoded(records, decode_general))


@pytest.mark.parametrize("seed", range(6))
def test_fast_path_equals_the_general_path_on_captures_with_random_header_bytes(
    seed: int,
) -> None:
    """Random bytes written over the first 80 bytes of records (link, IP and TCP headers
    and options): lengths, versions, offsets and flags of every kind."""
    rng = np.random.default_rng(seed)
    for path in (SAMPLE_DIR / "ipv6.pcap", DATA / "variant_crafted.pcap",
                 DATA / "variant_sll2.pcap", DATA / "variant_null_le.pcap",
                 DATA / "variant_raw101.pcap"):  # fmt: skip
        records = read_records(path, progress=False)
        for record in range(len(records.caplen)):
            start, length = int(records.data_offset[record]), int(records.caplen[record])
            where = start + rng.integers(0, max(min(length, 80), 1), size=3)
            records.buffer[where[where < start + length]] = rng.integers(0, 256, size=3)[
                : int((where < start + length).sum())
            ]
        assert_same(decoded(records, decode), decoded(records, decode_general))


def tshark_frames(tshark: str, path: Path) -> list[tuple[list[str], bool, bool]]:
    """Each frame as tshark reads it: ``(protocols, whole frame captured, IP fragment)``."""
    fields_ = ["frame.protocols", "frame.cap_len", "frame.len", "ip.flags.mf", "ip.frag_offset"]
    output = subprocess.run(
        [tshark, "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=f",
         *(arg for name in fields_ for arg in ("-e", name))],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    frames = []
    for line in output.splitlines():
        protocols, cap_len, length, more, offset = line.split("\t")
        fragment = more == "1" or offset not in ("", "0")
        frames.append((protocols.split(":"), cap_len == length, fragment))
    return frames


@pytest.mark.parametrize("path", ROUTED + FAST, ids=lambda p: p.name)
def test_records_take_the_path_tshark_reading_says(tshark: str, path: Path) -> None:
    records = read_records(path, progress=False)
    general = routed_to_general(records)
    frames = tshark_frames(tshark, path)
    assert len(frames) == len(records.caplen)
    must_be_general, must_be_fast = set(), set()
    for index, (protocols, whole, fragment) in enumerate(frames):
        if fragment or "tcp" not in protocols or GENERAL_PROTOCOLS & set(protocols):
            must_be_general.add(index)
            continue
        ip_at = next(i for i, name in enumerate(protocols) if name in ("ip", "ipv6"))
        plain = set(protocols[:ip_at]) <= FAST_LINKS and protocols[ip_at + 1] == "tcp"
        if plain and whole:
            must_be_fast.add(index)
    assert must_be_general <= general
    assert not must_be_fast & general
    # the captures hold what they were chosen for
    assert must_be_general if path in ROUTED else must_be_fast
