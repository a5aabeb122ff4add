"""The tshark backend against tshark's own ``-T fields`` output and hand-built packets.

The reference here is a plain, fully dissecting ``tshark -T fields`` run parsed line by line
in Python: an independent path from the backend's custom columns, disabled protocols
and pyarrow parsing.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import tempfile
from decimal import Decimal
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ALL_CAPTURES, CAPTURE_SUFFIXES, ZEEK_TRACES

import hskit
from hskit.errors import TruncatedCaptureWarning, TsharkFailed, TsharkNotFound
from hskit.tshark import dissect, facts, locate
from hskit.tshark.facts import CACHE_DIR_VARIABLE, cache_folder

REFERENCE_FIELDS = (
    "frame.number", "frame.time_epoch", "tcp.stream", "ip.src", "ipv6.src", "ip.dst",
    "ipv6.dst", "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw",
    "tcp.seq", "tcp.ack", "tcp.window_size_value", "tcp.len", "tcp.options.mss_val",
    "tcp.options.wscale.shift", "tcp.option_kind", "tcp.options.experimental.exid",
    "tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr", "frame.protocols",
    "ip.frag_offset", "ipv6.fraghdr.offset",
)  # fmt: skip
NAT = np.iinfo(np.int64).min  # NaT as int64 nanoseconds
REFERENCE_PREFERENCES = (
    "ip.defragment:FALSE", "ipv6.defragment:FALSE", "tcp.desegment_tcp_streams:FALSE",
    "tcp.relative_sequence_numbers:TRUE", "tcp.analyze_sequence_numbers:TRUE",
)  # fmt: skip


@cache
def reference_rows(tshark: str, path: Path, display_filter: str | None = None) -> list[dict]:
    """Every frame as tshark's full dissection prints it with ``-T fields``."""
    arguments = [tshark, "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=a"]
    for preference in REFERENCE_PREFERENCES:
        arguments += ["-o", preference]
    for field in REFERENCE_FIELDS:
        arguments += ["-e", field]
    if display_filter:
        arguments += ["-Y", display_filter]
    completed = subprocess.run(arguments, capture_output=True, text=True, check=False)
    damaged = "cut short" in completed.stderr or "damaged or corrupt" in completed.stderr
    assert completed.returncode == 0 or damaged, completed.stderr
    output = completed.stdout
    return [
        dict(zip(REFERENCE_FIELDS, line.split("\t"), strict=True)) for line in output.splitlines()
    ]


def last(text: str) -> str:
    return text.split(",")[-1]


def is_segment(row: dict) -> bool:
    layers = row["frame.protocols"].split(":")
    return (
        "tcp" in layers
        and "icmp" not in layers
        and "icmpv6" not in layers
        and bool(row["tcp.flags"])
    )


def epoch_ns(text: str) -> int:
    """tshark's ``frame.time_epoch`` text in nanoseconds: it prints whole seconds, a dot, and
    the signed 32-bit nanoseconds it keeps with at least 9 digits, a negative count as a
    leading "-"; that count came from the file's unsigned field (read it back modulo 2^32).
    """
    seconds, nanoseconds = text.lstrip("-").split(".")
    field = -int(nanoseconds) % 2**32 if text.startswith("-") else int(nanoseconds)
    return int(seconds) * 10**9 + field


def expected_segments(rows: list[dict], first_epoch: str) -> pd.DataFrame:
    """The segments table derived by hand from the reference rows."""
    origin = epoch_ns(first_epoch) if first_epoch else 0
    records = []
    for row in filter(is_segment, rows):
        layers = row["frame.protocols"].split(":")
        carrier = [layer for layer in layers[: len(layers) - layers[::-1].index("tcp")]
                   if layer in ("ip", "ipv6")][-1]  # fmt: skip
        kinds = row["tcp.option_kind"].split(",") if row["tcp.option_kind"] else []
        # a frame without a timestamp (pcapng simple packet block): NaT, and NaN seconds
        epoch = row["frame.time_epoch"]
        ts_ns = epoch_ns(epoch) if epoch else NAT
        records.append(
            {
                "frame": int(row["frame.number"]),
                "ts_ns": ts_ns,
                "time": (ts_ns - origin) / 1e9 if epoch else float("nan"),
                "stream": int(last(row["tcp.stream"])),
                "src_ip": last(row[f"{carrier}.src"]),
                "dst_ip": last(row[f"{carrier}.dst"]),
                "ip_version": 4 if carrier == "ip" else 6,
                **{
                    name: int(last(row[field]), 0)
                    for name, field in (
                        ("src_port", "tcp.srcport"),
                        ("dst_port", "tcp.dstport"),
                        ("seq", "tcp.seq_raw"),
                        ("ack", "tcp.ack_raw"),
                        ("rel_seq", "tcp.seq"),
                        ("rel_ack", "tcp.ack"),
                        ("win", "tcp.window_size_value"),
                    )
                },
                # the schema's nine flag bits: tcp.flags also holds the three reserved ones
                "flags": int(last(row["tcp.flags"]), 16) & 0x1FF,
                # tshark gives no tcp.len in a first IP fragment: the backend says 0
                "payload_len": int(last(row["tcp.len"]) or 0),
                **{
                    name: int(last(row[field])) if row[field] else None
                    for name, field in (
                        ("mss", "tcp.options.mss_val"),
                        ("wscale", "tcp.options.wscale.shift"),
                        ("ts_val", "tcp.options.timestamp.tsval"),
                        ("ts_ecr", "tcp.options.timestamp.tsecr"),
                    )
                },
                "sack_perm": "4" in kinds,
                "tfo": "34" in kinds
                or ("254" in kinds and "0xf989" in row["tcp.options.experimental.exid"]),
            }
        )
    return pd.DataFrame(records)


@cache
def loaded(path: Path) -> hskit.Capture:
    """The capture loaded by the tshark backend (once per test session)."""
    return hskit.load(path, backend="tshark", progress=False)


@cache
def first_epoch(tshark: str, path: Path) -> str:
    arguments = [tshark, "-n", "-r", str(path), "-c", "1", "-T", "fields", "-e", "frame.time_epoch"]
    return subprocess.run(arguments, capture_output=True, text=True, check=True).stdout.strip()


def assert_segments_equal(segments: pd.DataFrame, expected: pd.DataFrame) -> None:
    if expected.empty:
        assert segments.empty
        return
    assert segments["frame"].tolist() == expected["frame"].tolist()
    ts_ns = segments["ts"].dt.tz_convert(None).to_numpy().view(np.int64)
    assert ts_ns.tolist() == expected["ts_ns"].tolist()
    np.testing.assert_array_equal(segments["time"].to_numpy(), expected["time"].to_numpy())
    for name in ("stream", "src_port", "dst_port", "ip_version", "flags", "seq", "ack",
                 "rel_seq", "rel_ack", "win", "payload_len", "sack_perm", "tfo"):  # fmt: skip
        assert segments[name].tolist() == expected[name].tolist(), name
    for name in ("src_ip", "dst_ip"):
        assert segments[name].astype(str).tolist() == expected[name].tolist(), name
    for name in ("mss", "wscale", "ts_val", "ts_ecr"):
        got = [None if pd.isna(value) else int(value) for value in segments[name]]
        want = [None if pd.isna(value) else int(value) for value in expected[name]]
        assert got == want, name


def expected_from_client(expected: pd.DataFrame) -> list[bool]:
    """DESIGN.md's rule, stream by stream: first pure SYN's sender, else SYN-ACK's receiver."""
    client: dict[int, tuple[str, int]] = {}
    for rank in (0, 1, 2):
        for row in expected.itertuples():
            syn, ack = row.flags & 0x02, row.flags & 0x10
            kind = 0 if syn and not ack else 1 if syn and ack else 2
            if kind == rank and row.stream not in client:
                sender, receiver = (row.src_ip, row.src_port), (row.dst_ip, row.dst_port)
                client[row.stream] = receiver if kind == 1 else sender
    return [(row.src_ip, row.src_port) == client[row.stream] for row in expected.itertuples()]


@pytest.fixture(scope="module")
def crafted_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Hand-built packets: options, raw ack without ACK, IPv6, ARP, UDP, fragments, ICMP
    quoting TCP, IP-in-IP, VLAN, ECE/CWR/AE. Frame numbers and values are in the comments.
    """
    scapy = pytest.importorskip("scapy.all")
    ether = scapy.Ether(src="00:00:00:00:00:01", dst="00:00:00:00:00:02")
    ip_a = scapy.IP(src="10.0.0.1", dst="10.0.0.2")
    tcp = scapy.TCP
    packets = [
        # 1: SYN with ack field 12345 but no ACK flag, all options, TFO (kind 34)
        ether
        / ip_a
        / tcp(
            sport=1000,
            dport=80,
            flags="S",
            seq=100,
            ack=12345,
            options=[
                ("MSS", 1460),
                ("SAckOK", b""),
                ("Timestamp", (5, 0)),
                ("NOP", None),
                ("WScale", 7),
                (34, b""),
            ],
        ),
        # 2: SYN-ACK with TFO as experimental option 254, magic 0xF989
        ether
        / scapy.IP(src="10.0.0.2", dst="10.0.0.1")
        / tcp(
            sport=80,
            dport=1000,
            flags="SA",
            seq=900,
            ack=101,
            window=65535,
            options=[("MSS", 1400), (254, b"\xf9\x89")],
        ),
        # 3: ACK with 10 bytes; 4: RST without ACK, ack field 777
        ether / ip_a / tcp(sport=1000, dport=80, flags="A", seq=101, ack=901) / (b"x" * 10),
        ether / ip_a / tcp(sport=1000, dport=80, flags="R", seq=111, ack=777),
        # 5: IPv6 SYN; 6: ARP; 7: UDP
        ether / scapy.IPv6(src="fe80::1", dst="fe80::2") / tcp(sport=2000, dport=443, flags="S"),
        ether / scapy.ARP(),
        ether / scapy.IP(src="10.0.0.1", dst="10.0.0.3") / scapy.UDP(sport=53, dport=53),
    ]
    # 8, 9, 10: a TCP segment in three IP fragments (8 is the first)
    big = scapy.IP(src="10.0.0.5", dst="10.0.0.6", id=7) / tcp(
        sport=3000, dport=80, flags="PA", seq=1, ack=1) / (b"y" * 100)  # fmt: skip
    packets += [ether / fragment for fragment in scapy.fragment(big, fragsize=48)]
    packets += [
        # 11: ICMP port unreachable quoting frame 1's TCP header
        ether / scapy.IP(src="10.0.0.2", dst="10.0.0.1") / scapy.ICMP(type=3, code=3)
        / ip_a / tcp(sport=1000, dport=80, flags="S", seq=100),
        # 12: IP-in-IP carrying a SYN 10.1.0.1:4000 -> 10.1.0.2:22
        ether / scapy.IP(src="192.168.0.1", dst="192.168.0.2")
        / scapy.IP(src="10.1.0.1", dst="10.1.0.2") / tcp(sport=4000, dport=22, flags="S", seq=9),
        # 13: VLAN-tagged SYN; 14: SYN with ECE, CWR and AE (0x1C2)
        ether / scapy.Dot1Q(vlan=5) / scapy.IP(src="10.0.0.7", dst="10.0.0.8")
        / tcp(sport=5000, dport=25, flags="S", seq=1),
        ether / scapy.IP(src="10.0.0.7", dst="10.0.0.8") / tcp(sport=5000, dport=25, flags=0x1C2),
        # 15: ICMP quoting a connection never seen otherwise (tshark gives it a stream id)
        ether / scapy.IP(src="10.0.0.4", dst="10.0.0.3") / scapy.ICMP(type=3, code=1)
        / scapy.IP(src="10.0.0.3", dst="10.0.0.4") / tcp(sport=3, dport=4, flags="PA", seq=5000),
        # 16: a new connection, numbered after the quoted one
        ether / scapy.IP(src="10.0.0.5", dst="10.0.0.6") / tcp(sport=5, dport=6, flags="S"),
    ]  # fmt: skip
    for number, packet in enumerate(packets):
        packet.time = Decimal(1_700_000_000) + Decimal(number) / 1000
    path = tmp_path_factory.mktemp("crafted") / "crafted.pcap"
    scapy.wrpcap(str(path), packets)
    return path


CAPTURE_IDS = [path.name for path in ALL_CAPTURES]
#: the native reader's test captures (link-type variants, edge and damaged files), and the
#: tshark backend's (encapsulations, tunnels, reserved flag bits, corrupt timestamps).
DATA_CAPTURES = sorted(
    path
    for path in (Path(__file__).parent / "data").rglob("*")
    # files that are no capture: hskit refuses them before tshark (test_load_errors.py)
    if path.name.endswith(CAPTURE_SUFFIXES) and path.name not in ("bad_text.pcap", "bad_empty.pcap")
)


@pytest.mark.filterwarnings("ignore::hskit.errors.TruncatedCaptureWarning")
@pytest.mark.parametrize(
    "capture", ALL_CAPTURES + DATA_CAPTURES, ids=CAPTURE_IDS + [p.name for p in DATA_CAPTURES]
)
def test_every_column_matches_tsharks_own_field_output(tshark: str, capture: Path) -> None:
    rows = reference_rows(tshark, capture)
    expected = expected_segments(rows, first_epoch(tshark, capture))
    cap = loaded(capture)
    assert_segments_equal(cap.segments, expected)
    hskit.schema.check(cap.segments, hskit.schema.SEGMENT_DTYPES, "segments")


@pytest.mark.parametrize("capture", ALL_CAPTURES, ids=CAPTURE_IDS)
def test_from_client_follows_the_first_syn(tshark: str, capture: Path) -> None:
    expected = expected_segments(reference_rows(tshark, capture), first_epoch(tshark, capture))
    cap = loaded(capture)
    if len(expected):
        assert cap.segments["from_client"].tolist() == expected_from_client(expected)


@pytest.mark.filterwarnings("ignore::hskit.errors.TruncatedCaptureWarning")
@pytest.mark.parametrize(
    "capture", ALL_CAPTURES + DATA_CAPTURES, ids=CAPTURE_IDS + [p.name for p in DATA_CAPTURES]
)
def test_load_report_counts_every_frame_by_reason(tshark: str, capture: Path) -> None:
    rows = reference_rows(tshark, capture)
    report = loaded(capture).load_report
    layers = [row["frame.protocols"].split(":") for row in rows]
    segments = sum(map(is_segment, rows))
    not_ip = sum("ip" not in ls and "ipv6" not in ls for ls in layers)
    fragments = sum(
        "tcp" not in ls
        and int(last(row["ip.frag_offset"] or row["ipv6.fraghdr.offset"] or "0")) > 0
        for ls, row in zip(layers, rows, strict=True)
    )
    # TCP dissected but cut by the snap length before its flags: not ICMP-quoted, no segment
    truncated = sum(
        "tcp" in ls and "icmp" not in ls and "icmpv6" not in ls and not is_segment(row)
        for ls, row in zip(layers, rows, strict=True)
    )
    not_tcp = len(rows) - segments - not_ip - fragments - truncated
    expected_skipped = {"not_ip": not_ip, "ip_fragment": fragments,
                        "truncated_headers": truncated, "not_tcp": not_tcp}  # fmt: skip
    assert report.backend == "tshark"
    assert report.frames == len(rows)
    assert report.tcp_segments == segments == len(loaded(capture).segments)
    assert report.skipped == {reason: n for reason, n in expected_skipped.items() if n}


def test_crafted_packets_match_tsharks_full_dissection(tshark: str, crafted_capture: Path) -> None:
    rows = reference_rows(tshark, crafted_capture)
    expected = expected_segments(rows, first_epoch(tshark, crafted_capture))
    cap = hskit.load(crafted_capture, backend="tshark", progress=False)
    assert_segments_equal(cap.segments, expected)
    assert cap.segments["from_client"].tolist() == expected_from_client(expected)


def test_crafted_packets_give_their_hand_derived_values(tshark: str, crafted_capture: Path) -> None:
    cap = hskit.load(crafted_capture, backend="tshark", progress=False)
    seg = cap.segments.set_index("frame")
    # ICMP (11) quotes a TCP header but is not a segment; fragments 9 and 10 are skipped
    assert seg.index.tolist() == [1, 2, 3, 4, 5, 8, 12, 13, 14, 16]
    assert cap.load_report.skipped == {"ip_fragment": 2, "not_ip": 1, "not_tcp": 3}
    assert cap.load_report.frames == 16
    # stream ids follow tshark, which also numbers the connection quoted in frame 15
    assert seg["stream"].tolist()[:8] == [0, 0, 0, 0, 1, 2, 3, 4]
    assert seg.loc[16, "stream"] == seg.loc[14, "stream"] + 2
    assert cap.load_report.link_types == ["EN10MB"]
    # the ack field of a SYN or RST without the ACK flag is still the header's value
    assert (seg.loc[1, "seq"], seg.loc[1, "ack"]) == (100, 12345)
    assert seg.loc[4, "ack"] == 777
    assert (seg.loc[1, "mss"], seg.loc[1, "wscale"], seg.loc[1, "ts_val"]) == (1460, 7, 5)
    assert seg.loc[1, "sack_perm"] and seg.loc[1, "tfo"]  # TFO as option kind 34
    assert seg.loc[2, "tfo"] and not seg.loc[2, "sack_perm"]  # TFO as kind 254 + 0xF989
    assert (seg.loc[2, "rel_seq"], seg.loc[2, "rel_ack"], seg.loc[2, "win"]) == (0, 1, 65535)
    assert (seg.loc[3, "rel_seq"], seg.loc[3, "payload_len"]) == (1, 10)
    assert pd.isna(seg.loc[3, "mss"]) and not seg.loc[3, "tfo"]
    assert seg.loc[5, "ip_version"] == 6 and str(seg.loc[5, "src_ip"]) == "fe80::1"
    # IP-in-IP: the addresses of the IP layer that carries the TCP header
    assert (str(seg.loc[12, "src_ip"]), str(seg.loc[12, "dst_ip"])) == ("10.1.0.1", "10.1.0.2")
    assert seg.loc[14, "flags"] == 0x1C2
    assert seg.loc[3, "time"] == 0.002
    assert any("first IP fragments" in note for note in cap.load_report.notes)


def test_display_filter_keeps_matches_and_counts_the_rest_as_filtered(tshark: str) -> None:
    capture = next(path for path in ZEEK_TRACES if "ftp-ipv4" in path.name)
    display_filter = "tcp.flags.syn == 1 || tcp.flags.fin == 1"
    matching = reference_rows(tshark, capture, display_filter)
    everything = reference_rows(tshark, capture)
    expected = expected_segments(matching, first_epoch(tshark, capture))
    cap = hskit.load(capture, backend="tshark", display_filter=display_filter, progress=False)
    assert 0 < len(expected) < len(everything)
    assert_segments_equal(cap.segments, expected)
    assert cap.load_report.skipped == {"filtered": len(everything) - len(matching)}
    assert cap.load_report.frames == len(everything)


def test_display_filter_on_an_application_protocol_selects_its_frames(tshark: str) -> None:
    capture = next(path for path in ZEEK_TRACES if "ftp-ipv4" in path.name)
    matching = reference_rows(tshark, capture, "ftp")
    cap = hskit.load(capture, backend="tshark", display_filter="ftp", progress=False)
    assert len(matching) > 0
    assert_segments_equal(cap.segments, expected_segments(matching, first_epoch(tshark, capture)))


def test_time_counts_from_the_files_first_frame_when_it_is_filtered_out(tshark: str) -> None:
    capture = ZEEK_TRACES[0]
    rows = reference_rows(tshark, capture)
    cap = hskit.load(capture, backend="tshark", display_filter="frame.number > 3", progress=False)
    origin = Decimal(rows[0]["frame.time_epoch"])
    fourth = Decimal(rows[3]["frame.time_epoch"])
    assert cap.segments["frame"].iloc[0] == 4
    assert cap.segments["time"].iloc[0] == float(fourth - origin)


def test_display_filter_syntax_error_raises_tsharkfailed_with_its_message(tshark: str) -> None:
    with pytest.raises(TsharkFailed, match="filter expression"):
        hskit.load(ZEEK_TRACES[0], backend="tshark", display_filter="tcp.port ==", progress=False)


def test_file_tshark_cannot_read_raises_tsharkfailed(tshark: str, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.pcap"
    bogus.write_text("this is not a capture file\n" * 20)
    with pytest.raises(TsharkFailed, match="isn't a capture file"):
        hskit.load(bogus, backend="tshark", progress=False)


def test_missing_tshark_raises_tsharknotfound_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(locate, "_STANDARD_FOLDERS", ())
    monkeypatch.delenv(locate.TSHARK_VARIABLE, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TsharkNotFound) as raised:
        hskit.load(ZEEK_TRACES[0], backend="tshark", progress=False)
    message = str(raised.value)
    assert "sudo apt-get install tshark" in message
    assert "brew install wireshark" in message
    assert "installer" in message


def test_too_old_tshark_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "tshark"
    fake.write_text("#!/bin/sh\necho 'TShark (Wireshark) 3.2.3 (Git v3.2.3)'\n")
    fake.chmod(0o755)
    monkeypatch.setenv(locate.TSHARK_VARIABLE, str(fake))
    with pytest.raises(TsharkNotFound, match=r"3\.2\.3 .* too old"):
        hskit.load(ZEEK_TRACES[0], backend="tshark", progress=False)


def test_a_users_wireshark_profile_cannot_change_the_output(
    tshark: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    capture = next(path for path in ZEEK_TRACES if "ftp-ipv4" in path.name)
    clean = hskit.load(capture, backend="tshark", progress=False).segments
    profile = tmp_path / "config" / "wireshark"
    profile.mkdir(parents=True)
    (profile / "preferences").write_text("tcp.relative_sequence_numbers: FALSE\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path))
    # the hostile profile does change a plain tshark run ...
    plain = subprocess.run(
        [tshark, "-n", "-r", str(capture), "-c", "3", "-T", "fields", "-e", "tcp.seq"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert plain[1] != "0"
    # ... but not hskit's
    pd.testing.assert_frame_equal(
        hskit.load(capture, backend="tshark", progress=False).segments, clean
    )


def test_temporary_configuration_folders_are_removed(
    tshark: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    hskit.load(ZEEK_TRACES[0], backend="tshark", progress=False)
    dissect.dissect_frame(ZEEK_TRACES[0], 2)
    assert not list(tmp_path.glob("hskit-tshark-*"))


def test_dissect_frame_gives_that_frames_full_dissection(tshark: str) -> None:
    capture = next(path for path in ZEEK_TRACES if "ftp-ipv4" in path.name)
    ftp_frames = subprocess.run(
        [tshark, "-n", "-r", str(capture), "-Y", "ftp", "-T", "fields", "-e", "frame.number"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    text = dissect.dissect_frame(capture, int(ftp_frames[0]))
    assert text.startswith(f"Frame {ftp_frames[0]}:")
    assert "Transmission Control Protocol" in text
    assert "File Transfer Protocol" in text  # application layers are dissected too
    with pytest.raises(ValueError, match="no frame 100000"):
        dissect.dissect_frame(capture, 100_000)


def test_link_types_are_the_pcap_names_zeeks_manifest_gives(
    tshark: str, zeek_oracle_dir: Path
) -> None:
    manifest = pd.read_csv(zeek_oracle_dir / "manifest.csv")
    for row in manifest.itertuples():
        cap = loaded(zeek_oracle_dir / row.trace_file)
        assert cap.load_report.link_types == [row.link_type_name], row.trace_file


def test_a_pcapng_with_two_link_types_reports_both(tshark: str, tmp_path: Path) -> None:
    mergecap = locate.companion_executable(tshark, "mergecap")
    sll = next(path for path in ZEEK_TRACES if "irc.starttls" in path.name)  # LINUX_SLL
    ether = next(path for path in ZEEK_TRACES if "local-flip" in path.name)  # EN10MB
    merged = tmp_path / "merged.pcapng"
    subprocess.run([mergecap, "-F", "pcapng", "-w", str(merged), str(sll), str(ether)], check=True)
    cap = hskit.load(merged, backend="tshark", progress=False)
    assert cap.load_report.link_types == ["EN10MB", "LINUX_SLL"]
    assert cap.load_report.frames == len(reference_rows(tshark, merged))


def test_gzip_compressed_capture_loads_like_the_plain_file(tshark: str, tmp_path: Path) -> None:
    capture = next(path for path in ZEEK_TRACES if "ftp-ipv6" in path.name)
    compressed = tmp_path / (capture.name + ".gz")
    compressed.write_bytes(gzip.compress(capture.read_bytes()))
    cap = hskit.load(compressed, backend="tshark", progress=False)
    expected = expected_segments(reference_rows(tshark, capture), first_epoch(tshark, capture))
    assert_segments_equal(cap.segments, expected)
    assert cap.load_report.frames == len(reference_rows(tshark, capture))


def test_truncated_capture_warns_and_keeps_the_whole_frames(tshark: str, tmp_path: Path) -> None:
    capture = next(path for path in ZEEK_TRACES if "ftp-ipv4" in path.name)
    truncated = tmp_path / "truncated.pcap"
    truncated.write_bytes(capture.read_bytes()[: capture.stat().st_size // 2])
    with pytest.warns(TruncatedCaptureWarning, match="cut short"):
        cap = hskit.load(truncated, backend="tshark", progress=False)
    rows = reference_rows(tshark, truncated)
    assert 0 < len(rows) < len(reference_rows(tshark, capture))
    assert_segments_equal(cap.segments, expected_segments(rows, first_epoch(tshark, capture)))


def ftp_capture() -> Path:
    return next(path for path in ZEEK_TRACES if "ftp-ipv4" in path.name)


def ftp_segments() -> pd.DataFrame:
    """The small FTP capture's segments, loaded once with this module's cache folder."""
    return loaded(ftp_capture()).segments


def load_ftp() -> pd.DataFrame:
    """The small FTP capture's segments, loaded now with the cache folder of the moment."""
    return hskit.load(ftp_capture(), backend="tshark", progress=False).segments


def test_cached_tshark_facts_give_the_same_segments_without_asking_tshark(
    tshark: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(tmp_path))
    first = load_ftp()
    executable = os.path.realpath(locate.tshark_executable())
    entry = json.loads((tmp_path / "tshark-facts.json").read_text())[executable]
    assert tuple(entry["version"][:2]) >= facts.MIN_VERSION
    assert "http" in entry["disabled_protocols"].split()

    def not_asked(*_: object) -> None:
        raise AssertionError("tshark was asked what the cache holds")

    monkeypatch.setattr(facts, "tshark_version", not_asked)
    monkeypatch.setattr(facts, "disabled_protocols", not_asked)
    pd.testing.assert_frame_equal(load_ftp(), first)
    pd.testing.assert_frame_equal(first, ftp_segments())


@pytest.mark.parametrize("damage", [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'{"x": 1}'])
def test_a_damaged_cache_file_is_ignored_and_rewritten(
    tshark: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, damage: bytes
) -> None:
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(tmp_path))
    facts = tmp_path / "tshark-facts.json"
    facts.write_bytes(damage)
    pd.testing.assert_frame_equal(load_ftp(), ftp_segments())
    executable = os.path.realpath(locate.tshark_executable())
    assert "disabled_protocols" in json.loads(facts.read_text())[executable]
    assert [path.name for path in tmp_path.iterdir()] == [facts.name]  # no temporary left


def test_a_cache_entry_of_another_build_of_tshark_is_recomputed(
    tshark: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(tmp_path))
    facts = tmp_path / "tshark-facts.json"
    executable = os.path.realpath(locate.tshark_executable())
    status = os.stat(executable)
    # facts that would refuse tshark as too old and disable TCP, were they believed
    wrong = {"version": [3, 2, 3], "disabled_protocols": "tcp\n"}
    build = {"path": executable, "size": status.st_size, "mtime_ns": status.st_mtime_ns,
             "format": hskit.tshark.facts._FACTS_FORMAT}  # fmt: skip
    facts.write_text(json.dumps({executable: {**build, **wrong}}))
    with pytest.raises(TsharkNotFound, match=r"3\.2\.3 .* too old"):
        load_ftp()  # this very build: the cache is believed
    # an entry made by other rules (an older hskit) is asked again, like another build's
    facts.write_text(json.dumps({executable: {**build, "format": 1, **wrong}}))
    pd.testing.assert_frame_equal(load_ftp(), ftp_segments())
    facts.write_text(
        json.dumps({executable: {**build, "mtime_ns": status.st_mtime_ns - 1, **wrong}})
    )
    pd.testing.assert_frame_equal(load_ftp(), ftp_segments())
    entry = json.loads(facts.read_text())[executable]
    assert entry["mtime_ns"] == status.st_mtime_ns
    assert entry["version"] != wrong["version"]
    assert "tcp" not in entry["disabled_protocols"].split()


def test_an_unwritable_cache_folder_does_not_stop_a_load(
    tshark: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(not_a_folder / "cache"))
    pd.testing.assert_frame_equal(load_ftp(), ftp_segments())
    assert list(tmp_path.iterdir()) == [not_a_folder]


def test_the_cache_folder_is_hskit_cache_dir_else_under_xdg_cache_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(tmp_path / "mine"))
    assert cache_folder() == tmp_path / "mine"
    monkeypatch.delenv(CACHE_DIR_VARIABLE)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder() == tmp_path / "xdg" / "hskit"
