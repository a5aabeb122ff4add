"""Ring files loaded one by one and merged equal a load of the files concatenated.

The truth is ``mergecap -a`` (Wireshark's own concatenation) of the pieces that
``editcap -c`` cut each sample capture into, loaded by ``hskit.load``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import hskit
from hskit.live.merge import Merger, merge
from tests.conftest import SAMPLE_CAPTURES, unavailable

#: frames per piece: small, so that connections span several pieces.
PIECE = 7
UNCOMPRESSED = [p for p in SAMPLE_CAPTURES if not p.name.endswith(".gz")]


@pytest.fixture(scope="module")
def wireshark_tools() -> None:
    if not (shutil.which("editcap") and shutil.which("mergecap")):
        unavailable("editcap/mergecap (Debian: apt-get install wireshark-common) are missing")


@pytest.mark.parametrize("capture", UNCOMPRESSED, ids=lambda p: p.name)
def test_pieces_merged_equal_the_concatenated_pieces_loaded(
    capture: Path, tmp_path: Path, wireshark_tools: None
) -> None:
    subprocess.run(["editcap", "-c", str(PIECE), str(capture), str(tmp_path / "piece.pcapng")],
                   check=True)  # fmt: skip
    pieces = sorted(tmp_path.glob("piece*"))
    whole = tmp_path / "whole.pcapng"
    subprocess.run(["mergecap", "-a", "-w", str(whole), *map(str, pieces)], check=True)

    segments, report = merge([hskit.load(p, progress=False) for p in pieces])
    truth = hskit.load(whole, progress=False)

    pd.testing.assert_frame_equal(segments, truth.segments)
    assert (report.frames, report.tcp_segments) == (
        truth.load_report.frames,
        truth.load_report.tcp_segments,
    )


def test_no_pieces_merge_to_an_empty_table() -> None:
    segments, report = merge([])
    assert segments.empty and list(segments.columns) == list(hskit.schema.SEGMENT_DTYPES)
    assert report.frames == 0


@pytest.mark.parametrize("capture", UNCOMPRESSED, ids=lambda p: p.name)
def test_pieces_appended_one_by_one_equal_the_concatenated_pieces_loaded(
    capture: Path, tmp_path: Path, wireshark_tools: None
) -> None:
    subprocess.run(["editcap", "-c", str(PIECE), str(capture), str(tmp_path / "piece.pcapng")],
                   check=True)  # fmt: skip
    pieces = sorted(tmp_path.glob("piece*"))
    merger = Merger()
    for count, piece in enumerate(pieces, start=1):
        part = hskit.load(piece, progress=False)
        segments, report, touched = merger.add(part)
        assert touched.tolist() == sorted(
            set(segments["stream"].iloc[len(segments) - len(part.segments) :])
        )
        if count in (1, len(pieces) // 2, len(pieces)):
            whole = tmp_path / f"whole{count}.pcapng"
            subprocess.run(["mergecap", "-a", "-w", str(whole), *map(str, pieces[:count])],
                           check=True)  # fmt: skip
            truth = hskit.load(whole, progress=False)
            pd.testing.assert_frame_equal(segments, truth.segments)
            assert report.frames == truth.load_report.frames
