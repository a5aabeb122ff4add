"""Every command that takes a capture takes a capture set too (several files, a folder, a
glob), as ``hskit.load`` does; ``hskit summary`` classifies bucket by bucket and prints
what the whole capture classified in memory gives."""

from __future__ import annotations

import json
import re
import struct
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import REPO, SAMPLE_CAPTURES

import hskit
from hskit.cli import main
from hskit.cli.classify_commands import format_count_table, format_percentiles
from hskit.label_counts import COUNTED, count_labels
from hskit.native.buckets import bucket_segments
from hskit.native.chunks import count_frames
from hskit.wording import counted

RING = REPO / "tests" / "data" / "capture_sets" / "dumpcap_ring"
ROTATED = REPO / "tests" / "data" / "capture_sets" / "tcpdump_rotated"
#: a set given three ways: its folder, a glob, and its files (in a shuffled order).
RING_FILES = sorted(RING.iterdir())
WAYS = {
    "folder": [str(RING)],
    "glob": [str(RING / "ring_*.pcapng")],
    "files": [str(p) for p in RING_FILES[::-1]],
}


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _info_fields(output: str) -> dict[str, str]:
    return dict(re.findall(r"^(\S[^\n]*?)\s{2,}(\S[^\n]*)$", output, flags=re.MULTILINE))


def _expected_summary(label: str, cap: hskit.Capture) -> str:
    """What ``hskit summary`` printed before it classified by bucket: the whole capture's
    connections, classified in memory."""
    table = cap.connections
    lines = [f"{label}: {counted(len(cap.segments), 'TCP segment')}, "
             f"{counted(len(table), 'connection')}"]  # fmt: skip
    for column in COUNTED:
        lines += ["", format_count_table(count_labels(table[column]))]
    complete = table.loc[table["handshake"] == "complete", "handshake_time"]
    lines += ["", format_percentiles(complete)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("capture", SAMPLE_CAPTURES, ids=lambda p: p.name)
def test_summary_by_buckets_prints_what_the_in_memory_classification_gives(capture: Path) -> None:
    expected = _expected_summary(str(capture), hskit.load(capture))
    for buckets in ("1", "3", "7"):
        assert _invoke("summary", str(capture), "--buckets", buckets) == expected


@pytest.mark.parametrize("way", sorted(WAYS))
def test_summary_of_a_capture_set_equals_the_in_memory_summary(way: str) -> None:
    paths = WAYS[way]
    label = paths[0] if len(paths) == 1 else f"{paths[0]} … {paths[-1]} ({len(paths)} files)"
    source = paths[0] if len(paths) == 1 else paths
    expected = _expected_summary(label, hskit.load(source))
    assert _invoke("summary", *paths, "--buckets", "4") == expected


def test_buckets_hold_the_loaded_rows_of_their_streams() -> None:
    """Each bucket's table is hskit.load's rows of its streams (every column, dtypes and
    categories included), whatever the chunk size."""
    loaded = hskit.load(RING_FILES).segments
    buckets = list(bucket_segments(sorted(RING_FILES), buckets=5, chunk_size=4096))
    assert sum(len(bucket) for bucket in buckets) == len(loaded)
    for bucket in buckets:
        streams = bucket["stream"].unique()
        assert (streams % 5 == streams[0] % 5).all()
        expected = loaded[loaded["stream"].isin(streams)].reset_index(drop=True)
        pd.testing.assert_frame_equal(bucket, expected)


@pytest.mark.parametrize("way", sorted(WAYS))
def test_info_counts_the_frames_of_the_whole_set(way: str) -> None:
    fields = _info_fields(_invoke("info", *WAYS[way]))
    assert int(fields["frames"]) == sum(count_frames(p) for p in RING_FILES)
    assert int(fields["streams"]) == int(hskit.load(RING).segments["stream"].max()) + 1


def test_info_counts_frames_as_tshark_counts_the_merged_set(tshark: str, tmp_path: Path) -> None:
    merged = tmp_path / "merged.pcapng"
    mergecap = str(Path(tshark).with_name("mergecap"))
    files = [str(p) for p in sorted(ROTATED.iterdir())]
    subprocess.run([mergecap, "-a", "-w", str(merged), *files], check=True)
    listing = subprocess.run(
        [tshark, "-n", "-r", str(merged), "-T", "fields", "-e", "frame.number"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert int(_info_fields(_invoke("info", str(ROTATED)))["frames"]) == len(listing)


@pytest.mark.parametrize("command", ["segments", "connections"])
def test_table_commands_write_the_tables_of_the_set(command: str, tmp_path: Path) -> None:
    output = tmp_path / "table.parquet"
    _invoke(command, str(RING / "ring_*.pcapng"), "-o", str(output))
    cap = hskit.load(RING)
    expected = cap.segments if command == "segments" else cap.connections
    written = pd.read_parquet(output)
    assert written["stream"].tolist() == expected["stream"].tolist()
    if command == "segments":
        assert written["frame"].tolist() == expected["frame"].tolist()
        assert written["source"].astype(str).tolist() == expected["source"].astype(str).tolist()
    else:
        assert written["conn_state"].astype(str).tolist() == (
            expected["conn_state"].astype(str).tolist()
        )


def test_diagnose_of_a_set_gives_the_set_s_findings() -> None:
    output = _invoke("diagnose", *WAYS["files"], "--format", "json")
    expected = hskit.load(RING).diagnose()
    found = json.loads(output)
    assert [row["kind"] for row in found] == expected["kind"].astype(str).tolist()
    assert [row["streams"] for row in found] == [list(s) for s in expected["streams"]]


def test_report_of_a_set_counts_the_set_s_connections(tmp_path: Path) -> None:
    output = _invoke("report", str(RING), "-o", str(tmp_path / "report.html"))
    connections = len(hskit.load(RING).connections)
    assert f": {connections} connections," in output


def test_conn_log_of_a_set_is_the_conn_log_of_the_loaded_set(tmp_path: Path) -> None:
    target = tmp_path / "conn.log"
    _invoke("conn-log", str(RING), "-o", str(target), "--json")
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    expected = hskit.zeek.conn_log(hskit.load(RING).segments)
    assert [row["uid"] for row in rows] == expected["uid"].tolist()
    assert [row["history"] for row in rows] == expected["history"].astype(str).tolist()


def test_a_missing_file_of_a_set_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["summary", str(RING_FILES[0]), str(tmp_path / "no.pcap")])
    assert result.exit_code == 1
    assert "CaptureNotFound" in result.output and "Traceback" not in result.output


def test_summary_of_a_capture_without_tcp_is_the_in_memory_summary(tmp_path: Path) -> None:
    capture = tmp_path / "header_only.pcap"
    capture.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    assert _invoke("summary", str(capture)) == _expected_summary(str(capture), hskit.load(capture))
