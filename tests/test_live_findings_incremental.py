"""The findings of a growing capture from evidence kept between ring files
(:class:`hskit.live.evidence.KeptEvidence`: the touched streams' evidence computed
again, every other stream's kept) equal ``hskit.diagnose`` of all of it, after every
piece.

Each sample capture's segments are cut into pieces of rows, as in
:mod:`tests.test_live_incremental`; and ring files of captures with findings of several
kinds (refused, no answer, SYN flood, loss, retransmissions, zero window, resets …) are
fed one by one to a :class:`hskit.live.capture.LiveCapture`, whose findings must equal
``hskit.diagnose`` of ``hskit.load`` of the files so far.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hskit
from hskit.classify.synthetic import Conversation, segments
from hskit.diagnose import Thresholds, finding_steps
from hskit.diagnose.evidence import Evidence, finished, stream_evidence
from hskit.live.capture import LiveCapture
from hskit.live.evidence import KeptEvidence
from tests.conftest import SAMPLE_CAPTURES, SAMPLE_DIR, ring_of
from tests.test_live_incremental import _rows_so_far
from tests.test_live_view import TIMEOUT, ReplayedRing

#: pieces each capture is cut into (rows, about evenly).
PIECES = 8
#: captures with findings of several kinds, concatenated and cut into ring files:
#: refused, no answer, SYN flood, loss and retransmissions, zero window and a stall,
#: a slow handshake, resets, and connections that span files.
RING_CAPTURES = (
    "refused.pcap", "http_browser.pcap", "no_answer.pcap", "loss.pcap", "syn_flood.pcap",
    "zero_window_stall.pcap", "slow_handshake.pcap", "rst_client.pcap", "loss_unseen.pcap",
    "zero_window.pcap", "port_reuse.pcap",
)  # fmt: skip
#: frames per ring file: small, so that connections span files.
RING_PIECE = 60
#: thresholds small enough that the sample captures' longer connections are followed
#: from a window of their rows.
SMALL = {"long": 24, "head": 6, "context": 12}


def _assert_evidence_equal(evidence: Evidence, truth: Evidence) -> None:
    pd.testing.assert_frame_equal(evidence.streams, truth.streams)
    pd.testing.assert_frame_equal(evidence.directions, truth.directions)
    pd.testing.assert_frame_equal(evidence.syn_retries, truth.syn_retries)
    for name in ("synacks", "gaps"):  # per stream, each stream's rows in their order
        pd.testing.assert_frame_equal(
            *(getattr(e, name).sort_values("stream", kind="stable", ignore_index=True)
              for e in (evidence, truth))
        )  # fmt: skip
    assert evidence.capture_end == truth.capture_end


def _equal_to_the_whole_after_every_piece(
    segments: pd.DataFrame, kept: KeptEvidence, pieces: int
) -> None:
    """Feed ``segments`` to ``kept`` in ``pieces`` and check, after each, that its
    evidence, and the findings of it, equal those of every row so far."""
    ends = np.unique(np.linspace(0, len(segments), pieces + 1).astype(int))[1:]
    for end in ends:
        rows = _rows_so_far(segments, end)
        evidence = kept.update(rows)
        _assert_evidence_equal(evidence, stream_evidence(rows, hskit.analyze(rows)))
        connections, states = hskit.classify(rows)
        findings = finished(finding_steps(evidence, connections, states, Thresholds()))
        truth = hskit.diagnose.diagnose(rows, connections, states)
        pd.testing.assert_frame_equal(findings, truth)


@pytest.mark.parametrize("capture", SAMPLE_CAPTURES, ids=lambda p: p.name)
def test_pieces_diagnosed_incrementally_equal_the_whole_diagnosed(capture: Path) -> None:
    segments = hskit.load(capture, progress=False).segments
    _equal_to_the_whole_after_every_piece(segments, KeptEvidence(), PIECES)


@pytest.mark.parametrize("capture", SAMPLE_CAPTURES, ids=lambda p: p.name)
def test_long_connections_followed_from_a_window_equal_the_whole_diagnosed(
    capture: Path,
) -> None:
    segments = hskit.load(capture, progress=False).segments
    kept = KeptEvidence(**SMALL)
    _equal_to_the_whole_after_every_piece(segments, kept, 3 * PIECES)
    rows = _rows_so_far(segments, len(segments))
    _assert_evidence_equal(kept.exact(rows), stream_evidence(rows, hskit.analyze(rows)))
    assert not kept.followed


def _transfer(talk: Conversation, at: float, count: int, *, every: float, window: int = 64240
              ) -> float:  # fmt: skip
    """``count`` client data segments from ``at`` on, ``every`` seconds apart, each
    acknowledged with ``window``; the time of the last."""
    for _ in range(count):
        at += every
        talk.client("P.", data=10, at=at).server(".", win=window, at=at + 0.0001)
    return at


def test_a_long_stream_with_stalls_and_zero_windows_is_followed_and_equals_the_whole() -> None:
    # a transfer that stalls (retransmissions, seconds without progress) and whose
    # receiver closes its window, across the pieces the stream is followed in
    talk = Conversation().client("S").server("S.").client(".")
    at = _transfer(talk, 1.0, 30, every=0.01)
    for _ in range(3):  # the last segment sent again, seconds apart
        at += 3.0
        talk.client("P.", data=10, at=at, seq=(talk._next[True] - 10) % 2**32)
    at = _transfer(talk, at, 5, every=3.0)
    at = _transfer(talk, at, 20, every=0.01, window=0)
    _transfer(talk, at, 30, every=0.01)
    table = segments(talk)
    kept = KeptEvidence(**SMALL)
    followed = set()
    ends = np.unique(np.linspace(0, len(table), 20).astype(int))[1:]
    for end in ends:
        rows = _rows_so_far(table, end)
        _assert_evidence_equal(kept.update(rows), stream_evidence(rows, hskit.analyze(rows)))
        followed |= kept.followed
    assert followed == {0}, "the stream should have been followed"


@pytest.fixture(scope="module")
def ring(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The ring files: :data:`RING_CAPTURES` concatenated, cut into pieces of
    :data:`RING_PIECE` frames."""
    captures = [SAMPLE_DIR / name for name in RING_CAPTURES]
    return ring_of(captures, RING_PIECE, tmp_path_factory.mktemp("ring"))


def test_live_findings_after_every_ring_file_equal_those_of_the_files_so_far_loaded(
    ring: list[Path], tmp_path: Path
) -> None:
    recorder = ReplayedRing(tmp_path)
    live = LiveCapture(recorder)  # type: ignore[arg-type]
    kinds: set[str] = set()
    for count, path in enumerate(ring, start=1):
        recorder.hand(path)
        assert live.wait(since=count - 1, timeout=TIMEOUT)
        findings, files = live.findings(every=1)
        assert files == count
        whole = tmp_path / f"first{count}.pcapng"
        subprocess.run(["mergecap", "-a", "-w", str(whole), *map(str, ring[:count])],
                       check=True)  # fmt: skip
        truth = hskit.load(whole, progress=False).diagnose()
        pd.testing.assert_frame_equal(findings, truth)
        kinds |= set(findings["kind"].astype(str))
    truth = hskit.load(whole, progress=False).diagnose(stall_time=5.0)
    pd.testing.assert_frame_equal(live.diagnose(stall_time=5.0), truth)
    live.stop()
    assert len(ring) > 10 and {"refused", "no_answer", "syn_flood", "loss", "zero_window",
                               "retransmissions", "slow_handshake"} <= kinds  # fmt: skip


def test_a_ring_that_keeps_every_file_holds_a_file_s_table_only_until_it_is_merged(
    ring: list[Path], tmp_path: Path
) -> None:
    # ``files=None``: nothing is merged again, so the merged table is the only copy of
    # the segments (each file's own table was held beside it before)
    recorder = ReplayedRing(tmp_path)
    live = LiveCapture(recorder)  # type: ignore[arg-type]
    for count, path in enumerate(ring, start=1):
        recorder.hand(path)
        assert live.wait(since=count - 1, timeout=TIMEOUT)
        segments = live.segments
        assert live._parts == []
        whole = tmp_path / f"first{count}.pcapng"
        subprocess.run(["mergecap", "-a", "-w", str(whole), *map(str, ring[:count])],
                       check=True)  # fmt: skip
        pd.testing.assert_frame_equal(segments, hskit.load(whole, progress=False).segments)
    live.stop()
    assert live.snapshot().final and live._parts == []
