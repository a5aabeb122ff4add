"""The native reader on hostile input (issue 18): each case a tiny capture made here.

Sections: time stamps out of range (pcapng ``if_tsresol``, pcap sub-second fields), equal
to tshark; decompression bombs (the cap, the cost of empty records); errors that must be
typed (an unreadable file, a NUL in a display filter, a device, an empty file); IP
lengths claiming more than the wire held, equal to tshark; odd handshakes (a SYN-ACK
acknowledging another number, a challenge ACK, a server speaking first), against tshark's
``tcp.analysis.initial_rtt``.
"""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import subprocess
import sys
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CRAFTED_LINK, unavailable
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

import hskit
from hskit.cli import main
from hskit.errors import (
    CaptureTooLarge,
    CaptureUnreadable,
    CorruptTimestampWarning,
    HskitError,
    InvalidFilter,
    NotACapture,
)
from hskit.native.records import MAX_DECOMPRESSED_VARIABLE

CLIENT, SERVER = "10.0.0.1", "10.0.0.2"
PCAP_USEC = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
TICKS = 0xFEDCBA9876543210  # pcapng time stamp units, all 64 bits used


def _syn() -> bytes:
    return bytes(
        Ether(**CRAFTED_LINK) / IP(src=CLIENT, dst=SERVER) / TCP(sport=40000, dport=80, flags="S")
    )


def _tshark_fields(tshark: str, capture: Path, *fields: str) -> list[list[str]]:
    arguments = [tshark, "-n", "-r", str(capture), "-T", "fields"]
    for field in fields:
        arguments += ["-e", field]
    output = subprocess.run(arguments, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in output.splitlines()]


def _tshark_epoch_ns(text: str) -> int:
    """tshark's ``frame.time_epoch`` as nanoseconds: ``"%d.%09d"`` of seconds and a signed
    32-bit nanosecond count, whose sign shows as a leading "-" (its low 32 bits are the
    count Wireshark holds)."""
    seconds, fraction = text.lstrip("-").split(".")
    nanoseconds = (2**32 - int(fraction)) if text.startswith("-") else int(fraction)
    return int(seconds) * 10**9 + nanoseconds


def _tshark_epochs_ns(tshark: str, capture: Path) -> list[int]:
    rows = _tshark_fields(tshark, capture, "frame.time_epoch")
    return [_tshark_epoch_ns(epoch) for (epoch,) in rows]


# --------------------------------------------------------------------------- time stamps
def _pcapng(tsresol: int, ticks: list[int]) -> bytes:
    def block(kind: int, body: bytes) -> bytes:
        body += bytes(-len(body) % 4)
        return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    frame = _syn()
    options = struct.pack("<HHB3x", 9, 1, tsresol) + bytes(4)  # if_tsresol, end of options
    blocks = [
        block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
        block(1, struct.pack("<HHI", 1, 0, 65535) + options),
    ]
    for tick in ticks:
        header = struct.pack("<IIIII", 0, tick >> 32, tick & 0xFFFFFFFF, len(frame), len(frame))
        blocks.append(block(6, header + frame))
    return b"".join(blocks)


#: if_tsresol values: 10^-19 and 2^-63 s (the finest in 64 bits), finer (10^-20, 10^-127,
#: 2^-64, 2^-127), and picoseconds and 2^-40 s (whose sub-second product wraps).
ABSURD_RESOLUTIONS = (20, 63, 127, 0x80 | 64, 0xFF)
FINE_RESOLUTIONS = (19, 0x80 | 63, 12, 0x80 | 40)


@pytest.mark.parametrize("tsresol", ABSURD_RESOLUTIONS + FINE_RESOLUTIONS)
def test_pcapng_time_stamp_resolutions_read_as_tshark_reads_them(
    tshark: str, tmp_path: Path, tsresol: int
) -> None:
    capture = tmp_path / "resolution.pcapng"
    capture.write_bytes(_pcapng(tsresol, [TICKS, TICKS + 12_345_678]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cap = hskit.load(capture, backend="native", progress=False)
    expected = _tshark_epochs_ns(tshark, capture)
    assert cap.segments["ts"].astype("int64").tolist() == expected
    absurd = tsresol in ABSURD_RESOLUTIONS
    assert [w.category for w in caught] == ([CorruptTimestampWarning] if absurd else [])
    assert any("if_tsresol" in note for note in cap.load_report.notes) == absurd


@pytest.mark.filterwarnings("ignore::hskit.errors.CorruptTimestampWarning")
def test_the_cli_reports_an_absurd_resolution_without_a_traceback(tmp_path: Path) -> None:
    capture = tmp_path / "resolution.pcapng"
    capture.write_bytes(_pcapng(0x80 | 127, [TICKS]))
    result = CliRunner().invoke(main, ["info", str(capture)])
    assert result.exit_code == 0, result.output
    assert result.exception is None and "if_tsresol" in result.output


def test_pcap_sub_second_fields_out_of_range_are_warned_and_read_as_tshark(
    tshark: str, tmp_path: Path
) -> None:
    frame = _syn()
    micros = (0, 999_999, 1_000_000, 2_147_484, 4_294_968, 5_000_000, 0xFFFFFFFF)
    records = [struct.pack("<IIII", 100, us, len(frame), len(frame)) + frame for us in micros]
    capture = tmp_path / "microseconds.pcap"
    capture.write_bytes(PCAP_USEC + b"".join(records))
    with pytest.warns(CorruptTimestampWarning, match="5 records have a sub-second"):
        cap = hskit.load(capture, backend="native", progress=False)
    expected = _tshark_epochs_ns(tshark, capture)
    assert cap.segments["ts"].astype("int64").tolist() == expected
    assert any("5 records have a sub-second" in note for note in cap.load_report.notes)


# --------------------------------------------------------------------------- bombs
def _empty_records(count: int) -> bytes:
    """A pcap of ``count`` zero-length records: 16 bytes each, all zero (compresses 1000:1)."""
    return PCAP_USEC + bytes(16 * count)


def test_a_capture_decompressing_past_the_cap_is_a_typed_error_saying_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = tmp_path / "bomb.pcap.gz"
    bomb.write_bytes(gzip.compress(_empty_records(2 * 65536)))  # 2 MiB in 2 KB
    monkeypatch.setenv(MAX_DECOMPRESSED_VARIABLE, "1M")
    with pytest.raises(CaptureTooLarge, match=f"more than 1 MiB.*set {MAX_DECOMPRESSED_VARIABLE}"):
        hskit.load(bomb, backend="native", progress=False)
    result = CliRunner().invoke(main, ["info", str(bomb)])
    assert result.exit_code == 1 and "CaptureTooLarge" in result.output
    monkeypatch.setenv(MAX_DECOMPRESSED_VARIABLE, "3M")
    assert hskit.load(bomb, backend="native", progress=False).load_report.frames == 2 * 65536
    monkeypatch.setenv(MAX_DECOMPRESSED_VARIABLE, "a lot")
    with pytest.raises(HskitError, match="is not a size"):
        hskit.load(bomb, backend="native", progress=False)


def test_empty_records_cost_a_bounded_multiple_of_their_bytes(tmp_path: Path) -> None:
    # Before issue 18 the walk and the link layer took 21 times the decompressed size at
    # their peak (Python ints per record; every empty frame treated as a tagged one).
    count = 200_000
    bomb = tmp_path / "empty.pcap.gz"
    bomb.write_bytes(gzip.compress(_empty_records(count)))
    hskit.load(bomb, backend="native", progress=False)  # imports and caches out of the way
    tracemalloc.start()
    try:
        cap = hskit.load(bomb, backend="native", progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert cap.load_report.frames == count and cap.load_report.skipped == {"not_ip": count}
    assert peak < 10 * 16 * count, f"{peak / (16 * count):.1f} times the decompressed size"


# --------------------------------------------------------------------------- typed errors
def test_an_unreadable_capture_is_a_typed_error(tmp_path: Path) -> None:
    capture = tmp_path / "secret.pcap"
    capture.write_bytes(PCAP_USEC)
    capture.chmod(0)
    script = (
        "import hskit\n"
        "try:\n"
        f"    hskit.load({str(capture)!r}, backend='native', progress=False)\n"
        "except hskit.errors.CaptureUnreadable as error:\n"
        "    print(type(error).__name__)\n"
    )
    command = [sys.executable, "-c", script]
    if os.geteuid() == 0:  # root reads anything: load without the capabilities that allow it
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            unavailable("setpriv (util-linux) is needed to drop root's file-reading rights")
        command = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", *command]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.stdout.strip() == CaptureUnreadable.__name__, result.stderr


@pytest.mark.parametrize("backend", ["auto", "tshark"])
def test_a_nul_byte_in_a_display_filter_is_a_typed_error(tmp_path: Path, backend: str) -> None:
    capture = tmp_path / "syn.pcap"
    capture.write_bytes(PCAP_USEC + struct.pack("<IIII", 1, 0, 54, 54) + _syn())
    with pytest.raises(InvalidFilter, match="NUL byte"):
        hskit.load(capture, backend=backend, display_filter="tcp\0", progress=False)


@pytest.mark.parametrize("backend", ["native", "tshark"])
def test_a_device_and_an_empty_file_are_typed_errors_and_fail_the_command(
    tmp_path: Path, backend: str
) -> None:
    empty = tmp_path / "empty.pcap"
    empty.touch()
    for path, message in (("/dev/urandom", "character device"), (str(empty), "empty")):
        with pytest.raises(NotACapture, match=message):
            hskit.load(path, backend=backend, progress=False)  # type: ignore[arg-type]
        result = CliRunner().invoke(main, ["info", path, "--backend", backend])
        assert result.exit_code == 1 and message in result.output, result.output


# --------------------------------------------------------------------------- IP lengths
def test_payload_len_counts_only_bytes_that_were_on_the_wire_as_tshark(
    tshark: str, tmp_path: Path
) -> None:
    segment = TCP(sport=1, dport=2, flags="PA") / Raw(b"x" * 10)
    v4 = bytes(Ether(**CRAFTED_LINK) / IP(src=CLIENT, dst=SERVER, len=1000) / segment)
    v6 = bytes(Ether(**CRAFTED_LINK) / IPv6(src="fd00::1", dst="fd00::2", plen=900) / segment)
    # (frame, original length): the IP length claims more than the wire held, or as much
    # as a longer original frame held (cut by the snap length), or more than a shorter one
    records = [(v4, len(v4)), (v4, 1014), (v4, 1200), (v4, 500), (v6, len(v6)), (v6, 954)]
    capture = tmp_path / "ip_lengths.pcap"
    body = b"".join(
        struct.pack("<IIII", 1, index, len(frame), wire) + frame
        for index, (frame, wire) in enumerate(records)
    )
    capture.write_bytes(PCAP_USEC + body)
    cap = hskit.load(capture, backend="native", progress=False)
    expected = [int(length) for (length,) in _tshark_fields(tshark, capture, "tcp.len")]
    assert cap.segments["payload_len"].tolist() == expected == [10, 960, 960, 446, 10, 880]


# --------------------------------------------------------------------------- handshakes
def _segment(
    client: bool, flags: str, seq: int, ack: int, time: float, data: bytes = b""
) -> Packet:
    ends = (CLIENT, SERVER, 40000, 80) if client else (SERVER, CLIENT, 80, 40000)
    source, destination, sport, dport = ends
    packet = Ether(**CRAFTED_LINK) / IP(src=source, dst=destination) / TCP(
        sport=sport, dport=dport, flags=flags, seq=seq, ack=ack
    ) / Raw(data)  # fmt: skip
    packet.time = time
    return packet


def _tshark_initial_rtt(tshark: str, capture: Path) -> float:
    values = {float(v) for (v,) in _tshark_fields(tshark, capture, "tcp.analysis.initial_rtt") if v}
    assert len(values) == 1, values
    return values.pop()


def test_a_syn_ack_of_another_number_that_the_client_took_completes_the_handshake(
    tshark: str, tmp_path: Path
) -> None:
    capture = tmp_path / "wrong_ack.pcap"
    wrpcap(str(capture), [
        _segment(True, "S", 1000, 0, 1.0),
        _segment(False, "SA", 5000, 7777, 1.1),  # acknowledges 7777, not 1001
        _segment(True, "A", 1001, 5001, 1.2),  # the client acknowledges the server's ISN
        _segment(True, "PA", 1001, 5001, 1.3, b"hello"),
        _segment(False, "PA", 5001, 1006, 1.4, b"world"),
        _segment(True, "A", 1006, 5006, 1.5),
    ])  # fmt: skip
    connection = hskit.load(capture, backend="native", progress=False).connections.iloc[0]
    assert (connection.handshake, connection.conn_state) == ("complete", "S1")
    assert connection.termination == "open" and connection.isn_server == 5000
    assert connection.handshake_time == pytest.approx(_tshark_initial_rtt(tshark, capture))
    assert connection.rtt_syn_synack == pytest.approx(0.1)


def test_a_syn_ack_of_another_number_the_client_refused_answers_nothing(tmp_path: Path) -> None:
    capture = tmp_path / "refused_synack.pcap"
    wrpcap(str(capture), [
        _segment(True, "S", 1000, 0, 1.0),
        _segment(False, "SA", 5000, 7777, 1.1),
        _segment(True, "R", 7777, 0, 1.2),  # RFC 9293: <SEQ=SEG.ACK><CTL=RST>
    ])  # fmt: skip
    connection = hskit.load(capture, backend="native", progress=False).connections.iloc[0]
    assert connection.handshake == "no_answer" and np.isnan(connection.handshake_time)


# A challenge ACK (the server still holds an old connection: it answers the SYN with a
# bare ACK, the client resets and tries again) and a server that speaks first, its banner
# captured before the client's final ACK: tshark stops at the server's segment.
ODD_OPENINGS = {
    "challenge_ack": [
        _segment(True, "S", 1000, 0, 1.0),
        _segment(False, "A", 9000, 555, 1.1),
        _segment(True, "R", 555, 0, 1.2),
        _segment(True, "S", 1000, 0, 2.0),
        _segment(False, "SA", 5000, 1001, 2.1),
        _segment(True, "A", 1001, 5001, 2.2),
    ],
    "server_first": [
        _segment(True, "S", 1000, 0, 1.0),
        _segment(False, "SA", 5000, 1001, 1.1),
        _segment(False, "PA", 5001, 1001, 1.15, b"220 hello"),
        _segment(True, "A", 1001, 5010, 1.3),
    ],
}


@pytest.mark.parametrize("name", ODD_OPENINGS)
def test_handshake_time_and_tshark_s_initial_rtt_differ_exactly_as_documented(
    tshark: str, tmp_path: Path, name: str
) -> None:
    capture = tmp_path / f"{name}.pcap"
    wrpcap(str(capture), ODD_OPENINGS[name])
    cap = hskit.load(capture, backend="native", progress=False)
    segments, connection = cap.segments, cap.connections.iloc[0]
    assert connection.handshake == "complete"
    # hskit: from the latest client SYN before the final ACK to the final ACK (the last row)
    flags = segments["flags"].astype(int)
    syns = segments[(flags & 0x12) == 0x02]
    assert connection.handshake_time == pytest.approx(segments.time.iloc[-1] - syns.time.iloc[-1])
    # tshark: the first segment with ACK and without SYN, either side, from the latest SYN
    # without ACK before it
    first_ack = segments[(flags & 0x12) == 0x10].iloc[0]
    syn_before = syns[syns.frame < first_ack.frame].time.iloc[-1]
    assert _tshark_initial_rtt(tshark, capture) == pytest.approx(first_ack.time - syn_before)
    assert connection.handshake_time != pytest.approx(first_ack.time - syn_before)
