"""The named patterns select the same frames in tcpdump, tshark and pandas, on every capture.

Frame numbers on the tcpdump side: tcpdump writes every record of the file (no filter)
and, separately, the records its BPF keeps, both as pcap; the kept records are an
ordered subsequence of all records, so matching them byte for byte gives their frame
numbers (identical records are selected alike, so the greedy match is exact).
"""

from __future__ import annotations

import gzip
import struct
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ALL_CAPTURES

import hskit
from hskit import filters

LINKTYPE_ETHERNET = 1


def _pcap_records(path: Path) -> tuple[list[bytes], int]:
    """Each record of a pcap file (its 16-byte header and data), and the link type."""
    raw = path.read_bytes()
    endian = "<" if raw[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    link_type = struct.unpack(endian + "I", raw[20:24])[0]
    records, offset = [], 24
    while offset + 16 <= len(raw):
        caplen = struct.unpack(endian + "I", raw[offset + 8 : offset + 12])[0]
        records.append(raw[offset : offset + 16 + caplen])
        offset += 16 + caplen
    return records, link_type


def _readable(capture: Path, folder: Path) -> Path:
    """The capture itself, or a gunzipped copy (tcpdump does not read gzip)."""
    if capture.read_bytes()[:2] != b"\x1f\x8b":
        return capture
    plain = folder / capture.name.removesuffix(".gz")
    plain.write_bytes(gzip.decompress(capture.read_bytes()))
    return plain


def _tcpdump(capture: Path, output: Path, bpf: str | None = None) -> None:
    command = ["tcpdump", "-nn", "-r", str(capture), "-w", str(output)]
    if bpf is not None:
        command.append(bpf)
    subprocess.run(command, check=True, capture_output=True)


def _bpf_frames(capture: Path, every: list[bytes], bpf: str, scratch: Path) -> set[int]:
    """Frame numbers (1-based) of the records tcpdump keeps with ``bpf``."""
    _tcpdump(capture, scratch, bpf)
    kept, _ = _pcap_records(scratch)
    frames, position = set(), 0
    for record in kept:
        while every[position] != record:
            position += 1
        frames.add(position + 1)
        position += 1
    return frames


def _connection_filters(segments: pd.DataFrame) -> list[filters.Filter]:
    """Connection filters for the first stream of each IP version in the capture."""
    firsts = segments.drop_duplicates("ip_version")
    result = []
    for row in firsts.itertuples():
        client = (row.src_ip, row.src_port) if row.from_client else (row.dst_ip, row.dst_port)
        server = (row.dst_ip, row.dst_port) if row.from_client else (row.src_ip, row.src_port)
        result.append(filters.connection(str(client[0]), client[1], str(server[0]), server[1]))
    return result


def _frame_count(capture: Path) -> int:
    out = subprocess.run(
        ["capinfos", "-T", "-r", "-c", "-M", str(capture)], capture_output=True, text=True
    ).stdout
    return int(out.split("\t")[-1])


@pytest.fixture(scope="module")
def tshark_selections(
    tshark: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], set[int]]:
    """(capture name, pattern or "connections") -> frame numbers tshark's ``-Y`` selects.

    tshark starts slowly, so every capture is concatenated into one pcapng (mergecap -a)
    and each display filter runs once over it; frame numbers are mapped back by offset.
    The "connections" entry is the union of the capture's connection filters (one per IP
    version, disjoint), each confined to the capture's own frames.
    """
    merged = tmp_path_factory.mktemp("merged") / "all.pcapng"
    subprocess.run(["mergecap", "-a", "-w", str(merged), *map(str, ALL_CAPTURES)], check=True)
    counts = np.array([_frame_count(capture) for capture in ALL_CAPTURES])
    offsets = np.concatenate([[0], np.cumsum(counts)])
    texts = {name: filters.display_filter(name) for name in filters.PATTERNS}
    confined = [
        f"(frame.number in {{{offsets[i] + 1}..{offsets[i + 1]}}} && ("
        + " || ".join(f"({f.display_filter})" for f in _connection_filters(hskit.load(c).segments))
        + "))"
        for i, c in enumerate(ALL_CAPTURES)
    ]
    texts["connections"] = " || ".join(confined)
    runs = {
        key: subprocess.Popen(
            [tshark, "-n", "-r", str(merged), "-Y", text, "-T", "fields", "-e", "frame.number"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for key, text in texts.items()
    }
    selections: dict[tuple[str, str], set[int]] = {
        (capture.name, key): set() for capture in ALL_CAPTURES for key in texts
    }
    for key, run in runs.items():
        out, err = run.communicate()
        assert run.returncode == 0, err
        numbers = np.array(out.split(), dtype=np.int64)
        which = np.searchsorted(offsets, numbers, side="left") - 1
        for index, number in zip(which, numbers - offsets[which], strict=True):
            selections[(ALL_CAPTURES[index].name, key)].add(int(number))
    return selections


@pytest.mark.parametrize("capture", ALL_CAPTURES, ids=lambda path: path.name)
def test_bpf_display_filter_and_mask_select_the_same_frames(
    capture: Path, tmp_path: Path, tshark_selections: dict[tuple[str, str], set[int]]
) -> None:
    segments = hskit.load(capture).segments
    readable = _readable(capture, tmp_path)
    every_path = tmp_path / "every.pcap"
    _tcpdump(readable, every_path)
    every, link_type = _pcap_records(every_path)
    vlan = link_type == LINKTYPE_ETHERNET

    def frames(mask: pd.Series) -> set[int]:
        return set(segments.loc[mask, "frame"].astype(int))

    for name in filters.PATTERNS:
        selection = filters.get(name)
        by_pandas = frames(selection.mask(segments))
        bpf = selection.with_vlan() if vlan else selection.bpf
        assert by_pandas == _bpf_frames(readable, every, bpf, tmp_path / "kept.pcap"), name
        assert by_pandas == tshark_selections[(capture.name, name)], name

    union: set[int] = set()
    for selection in _connection_filters(segments):
        by_pandas = frames(selection.mask(segments))
        bpf = selection.with_vlan() if vlan else selection.bpf
        assert by_pandas == _bpf_frames(readable, every, bpf, tmp_path / "kept.pcap")
        union |= by_pandas
    assert union == tshark_selections[(capture.name, "connections")]


def test_every_pattern_selects_something_somewhere() -> None:
    """Guards the comparison above against patterns that trivially select nothing."""
    selected = {name: 0 for name in filters.PATTERNS}
    for capture in ALL_CAPTURES:
        segments = hskit.load(capture).segments
        for name in filters.PATTERNS:
            selected[name] += int(filters.mask(segments, name).sum())
    assert all(count > 0 for count in selected.values()), selected


def test_connection_filter_rejects_mixed_ip_versions() -> None:
    with pytest.raises(ValueError, match="same IP version"):
        filters.connection("10.0.0.1", 1, "::1", 2)


def test_unknown_pattern_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="syn-ack"):
        filters.get("synack")
