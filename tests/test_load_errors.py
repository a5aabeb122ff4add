"""Bad input gets a clear, typed error or warning through ``hskit.load``, never a traceback
from deep inside, a MemoryError or a hang.

The expected counts come from tshark's reading of the intact originals in ``tests/data``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import hskit
from hskit.errors import CaptureNotFound, NotACapture, TruncatedCaptureWarning, UnsupportedLinkType

DATA = Path(__file__).resolve().parent / "data"
ORIGINAL = DATA / "real_loopback.pcap"  # bad_truncated / bad_corrupt_length are made from it
CUT_BYTES = 37  # make_edge_cases.py cuts this many bytes off the end of the original


def _tshark_column(tshark: str, path: Path, field: str) -> list[str]:
    result = subprocess.run(
        [tshark, "-n", "-r", str(path), "-T", "fields", "-e", field],
        capture_output=True,
        text=True,
        check=False,  # tshark exits non-zero on a cut file after printing what it read
    )
    return result.stdout.split()


def test_missing_file_raises_capture_not_found(tmp_path: Path) -> None:
    with pytest.raises(CaptureNotFound):
        hskit.load(tmp_path / "missing.pcap", backend="native")


def test_text_file_raises_not_a_capture() -> None:
    with pytest.raises(NotACapture, match="not a pcap or pcapng"):
        hskit.load(DATA / "bad_text.pcap", backend="native")


def test_empty_file_raises_not_a_capture() -> None:
    with pytest.raises(NotACapture, match="empty"):
        hskit.load(DATA / "bad_empty.pcap")


def test_directory_raises_not_a_capture(tmp_path: Path) -> None:
    with pytest.raises(NotACapture):
        hskit.load(tmp_path)


@pytest.mark.parametrize(
    "name", ["bad_linktype_80211.pcap", "bad_encapsulation_gre.pcap", "bad_encapsulation_mpls.pcap"]
)
def test_native_backend_names_tshark_for_what_it_cannot_decode(name: str) -> None:
    with pytest.raises(UnsupportedLinkType, match='backend="tshark"'):
        hskit.load(DATA / name, backend="native")


@pytest.mark.parametrize(
    "name", ["bad_linktype_80211.pcap", "bad_encapsulation_gre.pcap", "bad_encapsulation_mpls.pcap"]
)
def test_auto_backend_falls_back_to_tshark_and_says_so(tshark: str, name: str) -> None:
    cap = hskit.load(DATA / name, backend="auto", progress=False)
    assert cap.load_report.backend == "tshark"
    assert any("native reader" in note and "tshark" in note for note in cap.load_report.notes)
    assert cap.load_report.frames == len(_tshark_column(tshark, DATA / name, "frame.number"))


def test_encapsulated_tcp_is_found_by_the_fallback(tshark: str) -> None:
    cap = hskit.load(DATA / "bad_encapsulation_gre.pcap", progress=False)
    inner = _tshark_column(tshark, DATA / "bad_encapsulation_gre.pcap", "tcp.srcport")
    assert cap.segments["src_port"].tolist() == [int(port) for port in inner] != []


def test_truncated_capture_loads_every_whole_record_and_warns(tshark: str) -> None:
    original_caplens = [int(v) for v in _tshark_column(tshark, ORIGINAL, "frame.cap_len")]
    with pytest.warns(TruncatedCaptureWarning) as caught:
        cap = hskit.load(DATA / "bad_truncated.pcap", backend="native", progress=False)
    assert cap.load_report.frames == len(original_caplens) - 1
    lost = 16 + original_caplens[-1] - CUT_BYTES
    assert cap.load_report.bytes_lost == lost
    message = str(caught[0].message)
    assert f"{lost} bytes lost" in message
    assert f"record {len(original_caplens)}" in message


def test_corrupt_record_length_stops_there_with_a_warning(tshark: str) -> None:
    first_caplen = int(_tshark_column(tshark, ORIGINAL, "frame.cap_len")[0])
    size = (DATA / "bad_corrupt_length.pcap").stat().st_size
    with pytest.warns(TruncatedCaptureWarning, match="corrupt record length") as caught:
        cap = hskit.load(DATA / "bad_corrupt_length.pcap", backend="native", progress=False)
    assert cap.load_report.frames == 1
    offset = 24 + 16 + first_caplen
    assert cap.load_report.bytes_lost == size - offset
    assert re.search(rf"offset {offset}\b.*record 2\b", str(caught[0].message))


def test_pcapng_cut_inside_a_block_loads_the_whole_blocks(tshark: str, tmp_path: Path) -> None:
    source = DATA / "variant_editcap.pcapng"
    cut = tmp_path / "cut.pcapng"
    data = source.read_bytes()
    cut.write_bytes(data[: len(data) - 10])
    expected = len(_tshark_column(tshark, cut, "frame.number"))
    with pytest.warns(TruncatedCaptureWarning, match="inside a block"):
        cap = hskit.load(cut, backend="native", progress=False)
    assert cap.load_report.frames == expected > 0


def test_pcapng_with_an_absurd_block_length_stops_with_a_warning(tmp_path: Path) -> None:
    source = DATA / "variant_editcap.pcapng"
    data = bytearray(source.read_bytes())
    shb_length = int.from_bytes(data[4:8], "little")
    idb_length = int.from_bytes(data[shb_length + 4 : shb_length + 8], "little")
    first_packet = shb_length + idb_length
    data[first_packet + 4 : first_packet + 8] = (0xFFFFFF00).to_bytes(4, "little")
    corrupt = tmp_path / "corrupt.pcapng"
    corrupt.write_bytes(bytes(data))
    with pytest.warns(TruncatedCaptureWarning, match="corrupt block length"):
        cap = hskit.load(corrupt, backend="native", progress=False)
    assert cap.load_report.frames == 0
    assert cap.load_report.bytes_lost == len(data) - first_packet


def test_gzip_cut_short_loads_what_was_decompressed_and_warns(tshark: str, tmp_path: Path) -> None:
    data = (DATA / "variant_gzip.pcap.gz").read_bytes()
    cut = tmp_path / "cut.pcap.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    expected = len(_tshark_column(tshark, cut, "frame.number"))
    with pytest.warns(TruncatedCaptureWarning, match="inside a record"):
        cap = hskit.load(cut, backend="native", progress=False)
    assert cap.load_report.frames == expected > 0
