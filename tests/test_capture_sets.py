"""Capture sets: a ring of rotated files loads as one capture, equal to tshark's reading
of ``mergecap -a`` of the files in order.

The sets in ``tests/data/capture_sets`` were captured by ``dumpcap -b filesize:12`` and
``tcpdump -G 1`` over loopback traffic with connections that span the rotations
(``make_capture_sets.py``). Frame numbers, stream numbers and relative sequence numbers
must be tshark's on the merged file: that proves the files are ordered, numbered across
the set and that connections continue from one file to the next.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

import hskit
from hskit.native.chunks import count_frames

SETS_DIR = REPO / "tests" / "data" / "capture_sets"
MANIFEST = json.loads((SETS_DIR / "manifest.json").read_text())
SETS = sorted(MANIFEST)
#: tshark fields compared with the native reader's columns.
FIELDS = {
    "frame.number": "frame",
    "tcp.stream": "stream",
    "tcp.srcport": "src_port",
    "tcp.seq": "rel_seq",
    "tcp.ack": "rel_ack",
    "tcp.len": "payload_len",
}


def _files(name: str) -> list[Path]:
    """The set's files in reading order: capture order, files without a frame last (they
    have no first timestamp; tcpdump -G made one before the first packet)."""
    entries = sorted(MANIFEST[name], key=lambda entry: entry["frames"] == 0)
    return [SETS_DIR / name / entry["file"] for entry in entries]


@pytest.fixture(scope="module", params=SETS)
def merged(
    request: pytest.FixtureRequest, tshark: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    """(set name, ``mergecap -a`` of its files in capture order)."""
    name = request.param
    out = tmp_path_factory.mktemp(name) / "merged.pcapng"
    mergecap = str(Path(tshark).with_name("mergecap"))
    subprocess.run([mergecap, "-a", "-w", str(out), *map(str, _files(name))], check=True)
    return name, out


@pytest.mark.parametrize("name", SETS)
def test_manifest_describes_the_files(name: str) -> None:
    entries = MANIFEST[name]
    assert len(entries) >= 4
    for entry in entries:
        path = SETS_DIR / name / entry["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert count_frames(path) == entry["frames"]


def test_native_set_equals_tshark_on_the_merged_file(tshark: str, merged: tuple[str, Path]) -> None:
    name, merged_file = merged
    out = subprocess.run(
        [tshark, "-n", "-r", str(merged_file), "-Y", "tcp", "-T", "fields",
         *(arg for field in FIELDS for arg in ("-e", field))],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    expected = np.array([line.split("\t") for line in out.splitlines()], dtype=np.int64)
    cap = hskit.load(SETS_DIR / name, backend="native", progress=False)
    got = cap.segments[list(FIELDS.values())].to_numpy(np.int64)
    assert len(got) == len(expected) > 500
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("backend", ["native", "tshark"])
def test_every_column_equals_the_merged_file_read_by_hskit(
    tshark: str, merged: tuple[str, Path], backend: str
) -> None:
    name, merged_file = merged
    whole = hskit.load(merged_file, backend="tshark", progress=False).segments
    cap = hskit.load(SETS_DIR / name, backend=backend, progress=False)
    segments = cap.segments
    assert list(segments["source"].cat.categories) == [p.name for p in _files(name)]
    pd.testing.assert_frame_equal(segments.drop(columns="source"), whole, check_exact=True)
    assert cap.load_report.frames == sum(entry["frames"] for entry in MANIFEST[name])
    assert cap.load_report.sources == [str(p) for p in _files(name)]


@pytest.mark.parametrize("name", SETS)
def test_connections_continue_across_files(name: str) -> None:
    segments = hskit.load(SETS_DIR / name, progress=False).segments
    files_per_stream = segments.groupby("stream")["source"].nunique()
    assert (files_per_stream >= 3).any()
    # each row's source is the file that holds its frame
    counts = segments["source"].value_counts()
    assert {entry["file"]: entry["frames"] for entry in MANIFEST[name]} == counts.to_dict()


@pytest.mark.parametrize("name", SETS)
def test_files_are_ordered_by_first_timestamp_whatever_the_order_given(name: str) -> None:
    folder = hskit.load(SETS_DIR / name, progress=False)
    shuffled = list(reversed(_files(name)))
    as_list = hskit.load(shuffled, progress=False)
    as_glob = hskit.load(str(SETS_DIR / name / "*"), progress=False)
    pd.testing.assert_frame_equal(as_list.segments, folder.segments)
    pd.testing.assert_frame_equal(as_glob.segments, folder.segments)
    assert "read in order of their first timestamp" in folder.load_report.notes[0]


def test_overlapping_files_are_read_one_after_the_other_and_noted() -> None:
    """dumpcap and tcpdump captured the same traffic at once: their files overlap."""
    ring, rotated = _files("dumpcap_ring"), _files("tcpdump_rotated")[1]
    cap = hskit.load([*ring, rotated], progress=False)
    assert "overlap in time" in " ".join(cap.load_report.notes)
    assert cap.load_report.frames == sum(map(count_frames, [*ring, rotated]))
    frames = cap.segments["frame"].to_numpy()
    assert (frames == np.arange(1, len(frames) + 1)).all()


def test_files_with_the_same_name_are_told_apart_by_their_path() -> None:
    first = _files("dumpcap_ring")[0]
    cap = hskit.load([first, first.parent / ".." / first.parent.name / first.name], progress=False)
    assert len(cap.segments["source"].cat.categories) == 2


def test_one_file_has_no_source_column() -> None:
    cap = hskit.load(_files("dumpcap_ring")[0], progress=False)
    assert "source" not in cap.segments.columns
    assert cap.load_report.sources == []
