"""The streaming native reader: a capture read in tiny chunks equals the default load.

Every sample capture and every capture of ``tests/data`` (format variants, edge cases,
broken files) is loaded with the smallest chunk size, so records, pcapng sections and
interface blocks, gzip members and connections are cut at many chunk boundaries; every
column, the load report and the warnings must be those of the default (one-chunk) load.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest
from conftest import ALL_CAPTURES, REPO

import hskit
from hskit import native
from hskit.errors import HskitError
from hskit.native.chunks import MIN_CHUNK_SIZE

DATA_DIR = REPO / "tests" / "data"
CAPTURES: list[Path] = [
    *ALL_CAPTURES,
    *sorted(p for p in DATA_DIR.glob("*.pcap*") if p.is_file()),
    *sorted((DATA_DIR / "zeek_scenarios").glob("*.pcap")),
]


def _load(path: Path, chunk_size: int) -> tuple[pd.DataFrame | None, object, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            segments, report = native.read(path, progress=False, chunk_size=chunk_size)
        except HskitError as error:
            return None, (type(error), str(error)), [str(w.message) for w in caught]
    return segments, report, [str(w.message) for w in caught]


def _tiny_chunk(path: Path) -> int:
    """A chunk size that cuts ``path`` into about 40 chunks (gzip: more), at least the minimum."""
    return max(MIN_CHUNK_SIZE, path.stat().st_size // 40)


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_tiny_chunks_give_the_default_load(path: Path) -> None:
    default, default_report, default_warnings = _load(path, native.DEFAULT_CHUNK_SIZE)
    chunked, chunked_report, chunked_warnings = _load(path, _tiny_chunk(path))
    assert chunked_report == default_report
    assert chunked_warnings == default_warnings
    if default is None:
        assert chunked is None
        return
    assert chunked is not None
    pd.testing.assert_frame_equal(chunked, default, check_exact=True)


def test_chunk_size_below_the_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="chunk_size must be at least 64"):
        native.read(CAPTURES[0], progress=False, chunk_size=10)


def test_load_passes_chunk_size_on() -> None:
    path = REPO / "sample_pcaps" / "busy_server.pcap.gz"
    cap = hskit.load(path, backend="native", progress=False, chunk_size=65536)
    pd.testing.assert_frame_equal(cap.segments, hskit.load(path, progress=False).segments)
