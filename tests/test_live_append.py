"""Ring files appended one by one (:class:`hskit.live.merge.Merger`) give, after every
file, the table of all files so far, and never change a table they gave before.

The truth is ``mergecap -a`` (Wireshark's own concatenation) of the files so far,
loaded by ``hskit.load``. The files are ``editcap -c`` pieces of several sample captures
concatenated, so that connections span files, new addresses keep arriving (hundreds of
them, IPv6 after IPv4: the address codes widen and are recoded) and a piece can hold
only rows of streams seen before.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hskit
from hskit.live import merge as merging
from hskit.live.incremental import Classified
from hskit.live.merge import RESERVED_ROWS, GrowingTable, Merger, merge
from tests.conftest import SAMPLE_DIR, ring_of

#: the captures concatenated, in this order: IPv4 connections spanning pieces, a SYN
#: flood from 200 addresses (categories past the 127 an 8-bit code holds), IPv6, and
#: ports reused by new connections.
CAPTURES = ("http_browser.pcap", "syn_flood.pcap", "ipv6.pcap", "port_reuse.pcap")
#: frames per piece: small, so that connections span many pieces.
PIECE = 9


@pytest.fixture(scope="module")
def pieces(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The ring files: the captures concatenated, cut into pieces of ``PIECE`` frames."""
    return ring_of([SAMPLE_DIR / name for name in CAPTURES], PIECE, tmp_path_factory.mktemp("ring"))


def _concatenated(pieces: list[Path], folder: Path) -> hskit.Capture:
    """``hskit.load`` of ``mergecap -a`` of ``pieces``."""
    whole = folder / f"first{len(pieces)}.pcapng"
    subprocess.run(["mergecap", "-a", "-w", str(whole), *map(str, pieces)], check=True)
    return hskit.load(whole, progress=False)


@pytest.mark.parametrize("first_capacity", [RESERVED_ROWS, 8], ids=["reserved", "growing"])
def test_appended_files_equal_the_files_so_far_concatenated_after_every_file(
    pieces: list[Path], tmp_path: Path, first_capacity: int
) -> None:
    """With room for 8 rows at first, the table's room doubles again and again while
    address codes widen and clients are decided again."""
    parts = [hskit.load(piece, progress=False) for piece in pieces]
    merger = Merger(first_capacity=first_capacity)
    given: list[tuple[pd.DataFrame, pd.DataFrame]] = []
    widths = set()
    capacities = set()
    for count, part in enumerate(parts, start=1):
        segments, report, touched = merger.add(part)
        capacities.add(merger._table.capacity)
        truth = _concatenated(pieces[:count], tmp_path)
        pd.testing.assert_frame_equal(segments, truth.segments)
        pd.testing.assert_frame_equal(segments, merge(parts[:count])[0])
        assert (report.frames, report.tcp_segments) == (
            truth.load_report.frames,
            truth.load_report.tcp_segments,
        )
        new = segments["stream"].iloc[len(segments) - len(part.segments) :]
        assert touched.tolist() == sorted(set(new.tolist()))
        given.append((segments, segments.copy(deep=True)))
        widths.add(segments["src_ip"].cat.codes.dtype.itemsize)
    assert widths == {1, 2}, "the pieces should widen the address codes"
    for table, as_given in given:  # appending never changed a table given before
        pd.testing.assert_frame_equal(table, as_given)
    if first_capacity == 8:
        assert len(capacities) >= 4, capacities
    else:
        assert capacities == {RESERVED_ROWS}


def test_appended_files_classified_equal_the_files_so_far_loaded(
    pieces: list[Path], tmp_path: Path
) -> None:
    merger = Merger()
    plain, windowed = Classified(), Classified(long=24, head=6, context=12)
    checked = {len(pieces) // 3, 2 * len(pieces) // 3, len(pieces)}
    for count, piece in enumerate(pieces, start=1):
        segments, _, touched = merger.add(hskit.load(piece, progress=False))
        tables = plain.update(segments, touched if count > 1 else None)
        windowed.update(segments, touched if count > 1 else None)
        if count in checked:
            truth = _concatenated(pieces[:count], tmp_path)
            for connections, states in (tables, windowed.exact(segments)):
                pd.testing.assert_frame_equal(connections, truth.connections)
                pd.testing.assert_frame_equal(states, truth.states)


def test_a_growing_table_hands_out_views_and_keeps_them_unchanged() -> None:
    table = GrowingTable()
    rows = pd.DataFrame(
        {
            "n": np.arange(3, dtype=np.uint32),
            "ip": pd.Categorical(["10.0.0.2", "10.0.0.2", "10.0.0.3"]),
            "mss": pd.array([1460, None, 536], dtype="UInt16"),
        }
    )
    table.append(rows)
    first = table.frame()
    assert np.shares_memory(first["n"].to_numpy(), table.buffers["n"]["values"])
    table.recategorized(pd.CategoricalDtype(["10.0.0.1", "10.0.0.2", "10.0.0.3"]))
    more = rows.assign(ip=rows["ip"].cat.set_categories(["10.0.0.1", "10.0.0.2", "10.0.0.3"]))
    table.append(more)
    table.rewritten("n", np.array([0]), [7])
    pd.testing.assert_frame_equal(first, rows)
    later = table.frame()
    assert later["n"].tolist() == [7, 1, 2, 0, 1, 2]
    assert later["ip"].tolist() == ["10.0.0.2", "10.0.0.2", "10.0.0.3"] * 2
    assert later["mss"].isna().tolist() == [False, True, False] * 2


def test_rows_rewritten_and_recoded_stay_so_when_the_room_doubles() -> None:
    """Written rule: the table's rows are the rows appended, in order, with each rewrite
    and each widening of the categories applied; the room doubles (from 4 rows) many
    times meanwhile, and a frame once returned never changes."""
    table = GrowingTable(first_capacity=4)
    expected: list[tuple[int, str]] = []
    given: list[tuple[pd.DataFrame, list[tuple[int, str]]]] = []
    capacities = set()
    categories: list[str] = []
    for step in range(40):
        address = f"10.0.{step // 10}.1"
        if address not in categories:
            categories = sorted([*categories, address])
            table.recategorized(pd.CategoricalDtype(categories))
        new = [(10 * step, address), (10 * step + 1, address)]
        table.append(
            pd.DataFrame(
                {
                    "n": np.array([n for n, _ in new], dtype=np.int64),
                    "ip": pd.Categorical([ip for _, ip in new], categories=categories),
                }
            )
        )
        expected += new
        if step % 3 == 0:  # the first row and the newest, rewritten
            table.rewritten("n", np.array([0, len(expected) - 1]), [-step, -step - 1000])
            expected[0] = (-step, expected[0][1])
            expected[-1] = (-step - 1000, expected[-1][1])
        frame = table.frame()
        assert list(zip(frame["n"], frame["ip"], strict=True)) == expected
        given.append((frame, list(expected)))
        capacities.add(table.capacity)
    assert len(capacities) >= 5
    for frame, rows in given:  # a frame once returned never changes
        assert list(zip(frame["n"], frame["ip"], strict=True)) == rows


def test_a_refused_reservation_falls_back_to_a_room_that_doubles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the system refuses to reserve the room (a strict overcommit policy), the
    table starts with ``FALLBACK_ROWS`` and doubles from there; every row is kept."""
    reserve = merging.small_page_zeros

    def refusing(count: int, dtype: object) -> np.ndarray:
        if count > 1000:
            raise OSError(12, "Cannot allocate memory")
        return reserve(count, dtype)

    monkeypatch.setattr(merging, "small_page_zeros", refusing)
    monkeypatch.setattr(merging, "FALLBACK_ROWS", 16)
    table = GrowingTable()
    for step in range(30):
        table.append(pd.DataFrame({"n": np.arange(step * 5, step * 5 + 5, dtype=np.int64)}))
    assert table.frame()["n"].tolist() == list(range(150))
    assert table.capacity == 256
    with pytest.raises(MemoryError, match=r"refused room for 1,150 rows .* holds 150 rows"):
        table.append(pd.DataFrame({"n": np.zeros(1000, dtype=np.int64)}))  # past what it gives
    assert table.frame()["n"].tolist() == list(range(150))  # the rows before are kept


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_the_reserved_room_takes_memory_only_for_the_rows_written() -> None:
    """Every column of the segments schema reserves room for ``RESERVED_ROWS`` rows
    (hundreds of GB of address space); the process's resident memory grows by what the
    rows written take, not by the room."""

    def resident_mb() -> float:
        status = Path("/proc/self/status").read_text()
        (line,) = [line for line in status.splitlines() if line.startswith("VmRSS:")]
        return int(line.split()[1]) / 1024

    segments = hskit.load(hskit.samples.path("busy_server"), progress=False).segments
    before = resident_mb()
    table = GrowingTable()
    table.append(segments)
    table.append(segments)
    assert table.capacity == RESERVED_ROWS
    pd.testing.assert_frame_equal(table.frame(), pd.concat([segments, segments], ignore_index=True))
    assert resident_mb() - before < 200
