"""A live capture's last, whole computation of its long connections is skipped, with a
warning, where the memory it needs is not available (instead of the process being
killed for memory), and the tables stay those grown from windows.

The budget reads ``/proc/meminfo`` and a cgroup's limit; the tests give it files of
their own, and a sample capture whose longer connections are followed from windows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hskit
from hskit.cli.live_commands import summary_text
from hskit.errors import NotExactWarning
from hskit.live import budget
from hskit.live.evidence import KeptEvidence
from hskit.live.incremental import Classified
from tests.test_live_incremental import SMALL, growing

#: a sample whose longer connections the SMALL thresholds follow from windows.
SAMPLE = "loss"


def _fed(tables: Classified | KeptEvidence) -> pd.DataFrame:
    """Feed the sample to ``tables`` in pieces, as a live capture does; the rows."""
    segments = hskit.load(hskit.samples.path(SAMPLE), progress=False).segments
    for rows, touched in growing(segments, 12):
        if isinstance(tables, Classified):
            tables.update(rows, touched)
        else:
            tables.update(rows)
    assert tables.followed, "the sample should have connections followed from windows"
    return rows


def _memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, available_kb: int) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(f"MemTotal: 999999999 kB\nMemAvailable: {available_kb} kB\n")
    monkeypatch.setattr(budget, "MEMINFO", meminfo)
    monkeypatch.setattr(budget, "CGROUP", tmp_path / "no-cgroup")


def test_without_the_memory_the_tables_stay_grown_and_a_warning_says_how_much(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    classified = Classified(**SMALL)
    rows = _fed(classified)
    connections, states = classified.tables
    _memory(tmp_path, monkeypatch, available_kb=1)
    with pytest.warns(NotExactWarning, match=r"not classified whole again: that needs about"):
        exact = classified.exact(rows)
    pd.testing.assert_frame_equal(exact[0], connections)
    pd.testing.assert_frame_equal(exact[1], states)
    assert classified.followed
    _memory(tmp_path, monkeypatch, available_kb=10**9)
    whole = classified.exact(rows)
    truth = hskit.classify(rows)
    pd.testing.assert_frame_equal(whole[0], truth[0])
    pd.testing.assert_frame_equal(whole[1], truth[1])
    assert not classified.followed


def test_without_the_memory_the_evidence_stays_grown_and_a_warning_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = KeptEvidence(**SMALL)
    rows = _fed(kept)
    grown = kept.evidence
    _memory(tmp_path, monkeypatch, available_kb=1)
    with pytest.warns(NotExactWarning, match=r"not computed whole again: that needs about"):
        assert kept.exact(rows) is grown
    assert kept.followed
    _memory(tmp_path, monkeypatch, available_kb=10**9)
    kept.exact(rows)
    assert not kept.followed


def test_a_cgroup_limit_below_meminfo_is_what_is_available(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _memory(tmp_path, monkeypatch, available_kb=8_000_000)
    assert budget.available_memory() == 8_000_000 * 1024
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    (cgroup / "memory.max").write_text("3000000000\n")
    (cgroup / "memory.current").write_text("1000000000\n")
    monkeypatch.setattr(budget, "CGROUP", cgroup)
    assert budget.available_memory() == 2_000_000_000
    assert budget.affordable(6_000_000, 300) and not budget.affordable(7_000_000, 300)
    (cgroup / "memory.max").write_text("max\n")
    assert budget.available_memory() == 8_000_000 * 1024


def _pcap_pieces(capture: Path, folder: Path, pieces: int) -> list[Path]:
    """``capture`` (a little-endian pcap) cut into ``pieces`` pcap files of whole records,
    as a ring of files (the records' own bytes, the global header copied)."""
    data = capture.read_bytes()
    header, at, records = data[:24], 24, []
    while at < len(data):
        length = int.from_bytes(data[at + 8 : at + 12], "little")
        records.append(data[at : at + 16 + length])
        at += 16 + length
    paths = []
    for number, part in enumerate(np.array_split(np.arange(len(records)), pieces)):
        path = folder / f"ring_{number:05d}.pcap"
        path.write_bytes(header + b"".join(records[k] for k in part))
        paths.append(path)
    return paths


def test_a_live_capture_that_could_not_classify_whole_says_so_in_its_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sample handed as a ring of 4 files to a live capture whose long connections are
    followed from windows (SMALL); once stopped, with no memory available: the final
    snapshot is not exact, and the view's status line says why."""
    from functools import partial

    from hskit.live import capture as live_capture
    from tests.test_live_view import TIMEOUT, ReplayedRing

    monkeypatch.setattr(live_capture, "Classified", partial(Classified, **SMALL))
    ring = ReplayedRing(tmp_path)
    live = live_capture.LiveCapture(ring)  # type: ignore[arg-type]
    for number, path in enumerate(_pcap_pieces(hskit.samples.path(SAMPLE), tmp_path, 4)):
        ring.hand(path)
        assert live.wait(since=number, timeout=TIMEOUT)
        live.snapshot()  # the tables of each file, as the view makes them
    live.stop()
    _memory(tmp_path, monkeypatch, available_kb=1)
    with pytest.warns(NotExactWarning):
        view = live.view(refresh=0.0)
    view.close()
    snapshot = live.snapshot()
    assert snapshot.final and not snapshot.exact
    assert "long connections not classified whole" in view.status.value
    assert "long connections not classified whole" in summary_text(live).splitlines()[1]
    _memory(tmp_path, monkeypatch, available_kb=10**9)
    whole = hskit.load(hskit.samples.path(SAMPLE), progress=False)
    assert len(snapshot.connections) == len(whole.connections)
