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

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hskit
from hskit.diagnose import Thresholds, finding_steps
from hskit.diagnose.evidence import Evidence, finished, stream_evidence
from hskit.live.evidence import KeptEvidence
from tests.conftest import SAMPLE_CAPTURES
from tests.test_live_incremental import _rows_so_far

#: pieces each capture is cut into (rows, about evenly).
PIECES = 12
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
    _equal_to_the_whole_after_every_piece(segments, kept, 4 * PIECES)
    rows = _rows_so_far(segments, len(segments))
    _assert_evidence_equal(kept.exact(rows), stream_evidence(rows, hskit.analyze(rows)))
