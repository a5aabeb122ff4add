"""``to_pcap`` copies exactly the frames of the chosen connections, in the input's format."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest import ALL_CAPTURES

import hskit
from hskit import export

#: columns that a copy must reproduce unchanged (frame, time and stream are renumbered).
KEPT = [c for c in hskit.schema.SEGMENT_COLUMNS if c not in ("frame", "time", "stream")]
AS_TEXT = {"src_ip": str, "dst_ip": str}


def _md5_by_frame(tshark: str, capture: Path) -> pd.Series:
    """MD5 of each frame's bytes, by frame number, as Wireshark computes it."""
    out = subprocess.run(
        [tshark, "-n", "-r", str(capture), "-o", "frame.generate_md5_hash:TRUE",
         "-T", "fields", "-e", "frame.number", "-e", "frame.md5_hash"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    pairs = [line.split("\t") for line in out.splitlines()]
    return pd.Series({int(number): digest for number, digest in pairs})


def _file_type_and_encapsulation(capture: Path) -> tuple[str, str]:
    out = subprocess.run(
        ["capinfos", "-T", "-r", "-t", "-E", str(capture)], capture_output=True, text=True
    ).stdout
    _, file_type, encapsulation = out.strip().split("\t")
    return file_type, encapsulation


def _chosen_streams(segments: pd.DataFrame) -> list[int]:
    """Every other stream, so that the selection has gaps between its frames."""
    return sorted(int(s) for s in segments["stream"].unique()[::2])


@pytest.mark.parametrize("capture", ALL_CAPTURES, ids=lambda path: path.name)
def test_copy_holds_the_same_segments_of_the_chosen_streams(
    capture: Path, tshark: str, tmp_path: Path
) -> None:
    original = hskit.load(capture).segments
    streams = _chosen_streams(original)
    output = export.to_pcap(capture, original, streams, tmp_path / "out.pcap")
    copy = hskit.load(output).segments

    chosen = original[original["stream"].isin(streams)].reset_index(drop=True)
    pd.testing.assert_frame_equal(copy[KEPT].astype(AS_TEXT), chosen[KEPT].astype(AS_TEXT))
    assert copy["frame"].tolist() == list(range(1, len(copy) + 1))
    # streams keep their order and are renumbered from 0
    renumbered = chosen["stream"].map({s: i for i, s in enumerate(streams)})
    assert copy["stream"].tolist() == renumbered.tolist()


@pytest.mark.parametrize("capture", ALL_CAPTURES, ids=lambda path: path.name)
def test_copy_is_byte_identical_and_keeps_format_and_link_type(
    capture: Path, tshark: str, tmp_path: Path
) -> None:
    original = hskit.load(capture).segments
    streams = _chosen_streams(original)
    output = export.to_pcap(capture, original, streams, tmp_path / "out")
    frames = original.loc[original["stream"].isin(streams), "frame"].astype(int)
    expected = _md5_by_frame(tshark, capture)[frames.to_numpy()].tolist()
    assert _md5_by_frame(tshark, output).tolist() == expected
    assert _file_type_and_encapsulation(output) == _file_type_and_encapsulation(capture)


def test_selection_split_over_several_tshark_runs_gives_the_same_file_content(
    tshark: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture = max(ALL_CAPTURES, key=lambda path: path.stat().st_size)
    segments = hskit.load(capture).segments
    streams = _chosen_streams(segments)
    whole = export.to_pcap(capture, segments, streams, tmp_path / "whole.pcap")
    monkeypatch.setattr(export, "MAX_FILTER_CHARS", 12)
    chosen = segments.loc[segments["stream"].isin(streams), "frame"]
    assert len(export._chunks(export.frame_ranges(chosen), 12)) > 1
    split = export.to_pcap(capture, segments, streams, tmp_path / "split.pcap")
    assert _md5_by_frame(tshark, split).tolist() == _md5_by_frame(tshark, whole).tolist()


def test_gz_name_writes_a_gzip_file_that_loads_back(tshark: str, tmp_path: Path) -> None:
    capture = ALL_CAPTURES[0]
    segments = hskit.load(capture).segments
    output = export.to_pcap(capture, segments, [0], tmp_path / "first.pcap.gz")
    assert output.read_bytes()[:2] == b"\x1f\x8b"
    assert len(hskit.load(output).segments) == int((segments["stream"] == 0).sum())


def test_streams_without_segments_are_an_error(tmp_path: Path) -> None:
    capture = ALL_CAPTURES[0]
    segments = hskit.load(capture).segments
    with pytest.raises(ValueError, match="no segments"):
        export.to_pcap(capture, segments, [10**6], tmp_path / "none.pcap")


def test_frame_ranges_collapse_runs_and_duplicates() -> None:
    assert export.frame_ranges([5, 1, 2, 2, 3, 9]) == ["1..3", "5", "9"]


SETS_DIR = Path(__file__).parent / "data" / "capture_sets"


def _listing(tshark: str, capture: Path, display_filter: str = "") -> list[str]:
    """Each frame's time, ports, raw sequence number, length and bytes' MD5, by tshark."""
    fields = ["frame.time_epoch", "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.len",
              "frame.md5_hash"]  # fmt: skip
    out = subprocess.run(
        [tshark, "-n", "-r", str(capture), "-o", "frame.generate_md5_hash:TRUE",
         *(["-Y", display_filter] if display_filter else []),
         "-T", "fields", *(arg for field in fields for arg in ("-e", field))],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return out.splitlines()


@pytest.mark.parametrize("name", ["dumpcap_ring", "tcpdump_rotated"])
def test_copy_of_a_capture_set_holds_the_frames_of_every_file_in_the_set_s_order(
    name: str, tshark: str, tmp_path: Path
) -> None:
    """Truth: tshark's frames of those streams in ``mergecap -a`` of the set's files."""
    cap = hskit.load(SETS_DIR / name)
    streams = _chosen_streams(cap.segments)
    chosen = cap.segments[cap.segments["stream"].isin(streams)]
    assert chosen["source"].nunique() > 1  # the copy needs frames of several files
    output = cap.to_pcap(streams, tmp_path / "out.pcapng")
    merged = tmp_path / "merged.pcapng"
    mergecap = str(Path(tshark).with_name("mergecap"))
    subprocess.run([mergecap, "-a", "-w", str(merged), *cap.load_report.sources], check=True)
    in_merged = _listing(tshark, merged, "tcp.stream in {" + ", ".join(map(str, streams)) + "}")
    assert _listing(tshark, output) == in_merged
    assert len(in_merged) == len(chosen)
    copy = hskit.load(output).segments
    pd.testing.assert_frame_equal(
        copy[KEPT].astype(AS_TEXT), chosen.reset_index(drop=True)[KEPT].astype(AS_TEXT)
    )
