"""The findings thread runs a step only once the tables have every loaded ring file and
when the step (as long as it took the last time) ends before the next file is due.

A :class:`tests.test_live_view.ReplayedRing` hands sample captures to a
:class:`hskit.live.capture.LiveCapture` as its ring files, with a long ring period so
that when the next file is due is far from the test's own timing.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import hskit
from hskit.live.capture import LiveCapture
from hskit.live.recorder import RingSettings
from tests.test_live_view import TIMEOUT, ReplayedRing

#: the ring period, seconds: the next file is due this long after the last closed.
PERIOD = 60


def test_a_findings_step_fits_between_the_tables_and_the_next_ring_file(tmp_path: Path) -> None:
    ring = ReplayedRing(tmp_path)
    ring.settings = RingSettings("replay", None, tmp_path, period=PERIOD)
    live = LiveCapture(ring)  # type: ignore[arg-type]
    ring.hand(hskit.samples.path("close_client_first"))
    assert live.wait(since=0, timeout=TIMEOUT)
    with live._changed:
        assert not live._free_for(0.0)  # loaded, not in the tables yet
    live.snapshot()
    due = live.files[-1].closed_at + PERIOD
    with live._changed:
        assert live._free_for(1.0)  # ends long before the next file
        assert not live._free_for(due - time.monotonic() + 1.0)  # would still run then
    answered = threading.Event()
    live.findings_later(1, lambda findings, files: answered.set())  # each step fits
    assert answered.wait(TIMEOUT), "the findings thread did not answer"
    assert len(live._step_seconds) > 1  # a duration per step, for the next run
    live.stop()
    with live._changed:
        assert live._free_for(10 * PERIOD)  # ended: no file is due
