"""Out of core: a capture converted to a Parquet dataset reads back as the in-memory load.

Segments (every column, capture order), connections, states, the load report and the
findings of a dataset equal those of ``hskit.load`` of the same capture, though each
bucket of connections was classified on its own; one stream's segments come from its
bucket alone.
"""

from __future__ import annotations

import importlib
import shutil
import struct
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import REPO

import hskit
from hskit.classify import classify
from hskit.cli import main
from hskit.dataset import tables
from hskit.dataset.layout import bucket_of
from hskit.native.chunks import ChunkedLoad
from hskit.zeek.community_id import community_ids

DATA = REPO / "tests" / "data"
CASES = {
    "busy_server": REPO / "sample_pcaps" / "busy_server.pcap.gz",
    "port_reuse_and_ipv6": DATA / "real_loopback.pcap",
    "pcapng_sections": DATA / "variant_sections.pcapng",
    "dumpcap_ring": DATA / "capture_sets" / "dumpcap_ring",
    "syn_flood": REPO / "sample_pcaps" / "syn_flood.pcap",
    "first_ip_fragments": DATA / "edge_fragments.pcap",
    "icmp_quoted_headers": DATA / "variant_crafted.pcap",
}


@pytest.mark.parametrize("name", CASES)
def test_dataset_round_trip_equals_the_in_memory_load(name: str, tmp_path: Path) -> None:
    source = CASES[name]
    memory = hskit.load(source, backend="native", progress=False)
    hskit.convert(source, tmp_path / "ds", buckets=5, chunk_size=16 * 1024, progress=False)
    disk = hskit.load_dataset(tmp_path / "ds")
    pd.testing.assert_frame_equal(disk.segments, memory.segments, check_exact=True)
    pd.testing.assert_frame_equal(disk.connections, memory.connections, check_exact=True)
    pd.testing.assert_frame_equal(disk.states, memory.states, check_exact=True)
    assert disk.load_report == memory.load_report
    pd.testing.assert_frame_equal(disk.diagnose(), memory.diagnose())


def test_one_stream_is_read_from_its_bucket(tmp_path: Path) -> None:
    source = CASES["busy_server"]
    memory = hskit.load(source, progress=False).segments
    hskit.convert(source, tmp_path / "ds", buckets=7, progress=False)
    disk = hskit.load_dataset(tmp_path / "ds")
    for stream in (0, 17, int(memory["stream"].max())):
        expected = memory[memory["stream"] == stream].reset_index(drop=True)
        pd.testing.assert_frame_equal(disk.stream_segments(stream), expected)
    assert disk._segments is None  # the whole table was never read
    with pytest.raises(KeyError, match="no stream 99999"):
        disk.stream_segments(99999)


def test_buckets_hold_whole_connections_by_community_id(tmp_path: Path) -> None:
    source = CASES["busy_server"]
    hskit.convert(source, tmp_path / "ds", buckets=6, progress=False)
    connections = hskit.load(source, progress=False).connections
    streams = pd.read_parquet(tmp_path / "ds" / "streams.parquet")
    ids = community_ids(
        connections["client_ip"], connections["client_port"],
        connections["server_ip"], connections["server_port"],
    )  # fmt: skip
    assert streams["bucket"].tolist() == bucket_of(ids, 6).tolist()
    folders = sorted(p.name for p in (tmp_path / "ds" / "segments").iterdir())
    assert folders == [f"bucket={b}" for b in sorted(streams["bucket"].unique())]


def test_convert_refuses_a_folder_that_holds_files(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not an empty folder"):
        hskit.convert(CASES["syn_flood"], tmp_path)


def test_cli_convert_writes_a_dataset(tmp_path: Path) -> None:
    ring = sorted(str(p) for p in CASES["dumpcap_ring"].iterdir())
    result = CliRunner().invoke(main, ["convert", *ring, "-o", str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    cap = hskit.load_dataset(tmp_path / "ds")
    assert f"wrote {cap.load_report.tcp_segments} segments of" in result.output
    again = CliRunner().invoke(main, ["convert", ring[0], "-o", str(tmp_path / "ds")])
    assert again.exit_code == 1 and "not an empty folder" in again.output


def test_load_dataset_of_a_folder_without_dataset_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(hskit.errors.CaptureNotFound, match="not an hskit dataset"):
        hskit.load_dataset(tmp_path)


#: captures converted with several buckets, and whether the in-memory path finds anything
DIAGNOSED = {
    "syn_flood": (REPO / "sample_pcaps" / "syn_flood.pcap", True),
    "loss": (REPO / "sample_pcaps" / "loss.pcap", True),
    "busy_server": (REPO / "sample_pcaps" / "busy_server.pcap.gz", True),
    "dumpcap_ring": (DATA / "capture_sets" / "dumpcap_ring", False),
    "no_packet": (None, False),  # no segment, so no bucket
}


@pytest.mark.parametrize("name", DIAGNOSED)
def test_diagnose_bucket_by_bucket_equals_the_in_memory_findings(name: str, tmp_path: Path) -> None:
    source, has_findings = DIAGNOSED[name]
    if source is None:  # a pcap global header (little-endian, v2.4, Ethernet), no record
        source = tmp_path / "header_only.pcap"
        source.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    hskit.convert(source, tmp_path / "ds", buckets=6, progress=False)
    disk = hskit.load_dataset(tmp_path / "ds")
    expected = hskit.load(source, progress=False).diagnose(stall_time=2.0)
    assert (len(expected) > 0) == has_findings
    pd.testing.assert_frame_equal(disk.diagnose(stall_time=2.0), expected)
    assert disk._segments is None  # never every bucket at once


def test_tables_merged_bucket_by_bucket_equal_the_in_memory_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # many buckets, and the merge reading a few rows of each staged file at a time
    monkeypatch.setattr(tables, "MERGE_ROWS", 1)
    monkeypatch.setattr(tables, "MIN_BATCH_ROWS", 3)
    monkeypatch.setattr(tables, "ROW_GROUP_ROWS", 500)
    source = CASES["busy_server"]
    memory = hskit.load(source, progress=False)
    hskit.convert(source, tmp_path / "ds", buckets=40, progress=False)
    disk = hskit.load_dataset(tmp_path / "ds")
    assert disk.meta.buckets == 40 and len(list((tmp_path / "ds" / "segments").iterdir())) > 30
    assert pq.ParquetFile(tmp_path / "ds" / "states.parquet").num_row_groups > 10
    pd.testing.assert_frame_equal(disk.connections, memory.connections, check_exact=True)
    pd.testing.assert_frame_equal(disk.states, memory.states, check_exact=True)


def test_segments_are_staged_in_one_file_per_flush_whatever_the_bucket_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a flush after every chunk of 16 kB: many staging files, each holding many buckets
    convert_module = importlib.import_module("hskit.dataset.convert")
    monkeypatch.setattr(convert_module, "STAGING_BYTES", 1)
    staged: list[int] = []

    def classify_counting(segments: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        staged.append(len(list((tmp_path / "ds" / ".staging").glob("*.arrow"))))
        return classify(segments)

    monkeypatch.setattr(convert_module, "classify", classify_counting)
    source = CASES["busy_server"]
    hskit.convert(source, tmp_path / "ds", buckets=40, chunk_size=16 * 1024, progress=False)
    load = ChunkedLoad([source], chunk_size=16 * 1024)
    chunks = sum(1 for chunk in load.segments(progress=False) if len(chunk))
    assert chunks > 5 and set(staged) == {chunks}  # not chunks x buckets
    memory = hskit.load(source, backend="native", progress=False)
    disk = hskit.load_dataset(tmp_path / "ds")
    pd.testing.assert_frame_equal(disk.segments, memory.segments, check_exact=True)
    pd.testing.assert_frame_equal(disk.connections, memory.connections, check_exact=True)


#: what a converted dataset holds, and nothing else (no staging left behind)
DATASET_FILES = {"dataset.json", "connections.parquet", "states.parquet", "streams.parquet"}


def _dataset_files(dataset: Path) -> set[str]:
    return {str(p.relative_to(dataset)) for p in dataset.rglob("*") if "bucket=" not in str(p)}


def test_convert_of_a_set_with_a_truncated_file_leaves_only_the_dataset(tmp_path: Path) -> None:
    ring = tmp_path / "ring"
    shutil.copytree(CASES["dumpcap_ring"], ring)
    cut = sorted(ring.iterdir())[1]
    cut.write_bytes(cut.read_bytes()[:-20])  # ends inside a block: read up to it, noted
    with pytest.warns(hskit.errors.TruncatedCaptureWarning):
        hskit.convert(ring, tmp_path / "ds", buckets=4, progress=False)
    with pytest.warns(hskit.errors.TruncatedCaptureWarning):
        memory = hskit.load(ring, progress=False)
    assert _dataset_files(tmp_path / "ds") == DATASET_FILES | {"segments"}
    disk = hskit.load_dataset(tmp_path / "ds")
    assert disk.load_report == memory.load_report
    pd.testing.assert_frame_equal(disk.states, memory.states, check_exact=True)


def test_convert_failing_mid_way_removes_its_staging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    classified = []

    def classify_then_fail(segments: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        if len(classified) == 2:
            raise MemoryError("third bucket")
        classified.append(len(segments))
        return classify(segments)

    # the module, not the function hskit.dataset exports under its name
    monkeypatch.setattr(
        importlib.import_module("hskit.dataset.convert"), "classify", classify_then_fail
    )
    pool = pa.default_memory_pool().backend_name
    with pytest.raises(MemoryError, match="third bucket"):
        hskit.convert(CASES["busy_server"], tmp_path / "ds", buckets=6, progress=False)
    assert not (tmp_path / "ds" / ".staging").exists()
    assert pa.default_memory_pool().backend_name == pool  # the caller's pool again
