"""The native and tshark backends produce the same segments table, frame by frame.

Every capture in the repository (``conftest.ALL_CAPTURES``), every format variant in
``tests/data`` and the Zeek scenario captures (bad checksums among them) is loaded with
both backends; every column must be equal and the load reports must count the same
frames, segments and skip reasons.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
import pytest
from conftest import ALL_CAPTURES

import hskit
from hskit import schema

DATA_DIR = Path(__file__).resolve().parent / "data"
VARIANTS: list[Path] = sorted(DATA_DIR.glob("real_*")) + sorted(DATA_DIR.glob("variant_*"))
#: crafted edge cases: IP fragments, a pcapng simple packet block (no timestamp).
EDGE_CASES: list[Path] = sorted(DATA_DIR.glob("edge_*"))
#: captures made for Zeek's rules: bad checksums, a missing segment, reordered packets.
ZEEK_SCENARIOS: list[Path] = sorted((DATA_DIR / "zeek_scenarios").glob("*.pcap"))


def _name(path: Path) -> str:
    return path.name


@cache
def _both(path: Path) -> tuple[hskit.Capture, hskit.Capture]:
    """The capture loaded by each backend (once per file for both tests)."""
    return (
        hskit.load(path, backend="native", progress=False),
        hskit.load(path, backend="tshark", progress=False),
    )


def _assert_same_segments(native: pd.DataFrame, tshark: pd.DataFrame) -> None:
    native = schema.conform(native, schema.SEGMENT_DTYPES)
    tshark = schema.conform(tshark, schema.SEGMENT_DTYPES)
    for column in ("src_ip", "dst_ip"):
        # Category order is a presentation detail: compare the addresses themselves.
        native[column] = native[column].astype(str)
        tshark[column] = tshark[column].astype(str)
    pd.testing.assert_frame_equal(native, tshark, check_exact=True)


@pytest.mark.parametrize(
    "path", [*ALL_CAPTURES, *VARIANTS, *EDGE_CASES, *ZEEK_SCENARIOS], ids=_name
)
def test_native_and_tshark_segments_are_equal(tshark: str, path: Path) -> None:
    native, by_tshark = _both(path)
    _assert_same_segments(native.segments, by_tshark.segments)


@pytest.mark.parametrize(
    "path", [*ALL_CAPTURES, *VARIANTS, *EDGE_CASES, *ZEEK_SCENARIOS], ids=_name
)
def test_native_and_tshark_load_reports_agree(tshark: str, path: Path) -> None:
    native, by_tshark = _both(path)
    ours, theirs = native.load_report, by_tshark.load_report
    assert (ours.frames, ours.tcp_segments) == (theirs.frames, theirs.tcp_segments)
    assert ours.skipped == theirs.skipped
    assert ours.bytes_lost == theirs.bytes_lost
