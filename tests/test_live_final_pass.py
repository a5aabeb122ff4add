"""Once a live capture has ended, its view draws the tables of the whole capture, and
while the last pass classifies the long connections (followed from windows while it ran)
whole, which takes seconds per million of their segments, the view and ``hskit watch``
say so.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import pytest
from click.testing import CliRunner

import hskit
from hskit.cli import main
from hskit.live import capture as live_capture
from hskit.live.incremental import Classified
from hskit.wording import counted
from tests.test_live_budget import SAMPLE, _pcap_pieces
from tests.test_live_incremental import SMALL
from tests.test_live_view import TIMEOUT, ReplayedRing


def test_the_view_says_it_classifies_long_connections_whole_then_draws_the_ended_capture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sample handed as a ring of 4 files to a live capture whose long connections are
    followed from windows (SMALL), drawn by a view made while it runs; once stopped, the
    status line read from inside the last pass names it, and the view ends on the final
    snapshot, equal to a load of the sample."""
    monkeypatch.setattr(live_capture, "Classified", partial(Classified, **SMALL))
    ring = ReplayedRing(tmp_path)
    live = live_capture.LiveCapture(ring)  # type: ignore[arg-type]
    view = live.view(refresh=0.0)
    for number, path in enumerate(_pcap_pieces(hskit.samples.path(SAMPLE), tmp_path, 4)):
        ring.hand(path)
        assert live.wait(since=number, timeout=TIMEOUT)
        live.snapshot()  # the tables of each file (the view may draw them too)
    followed = live.classifying_whole
    assert followed > 0, "the sample should have connections followed from windows"
    during: list[str] = []
    exact = Classified.exact

    def watched(self: Classified, segments: object) -> object:
        # the pass waits until the view says it runs (it may run on the findings thread)
        deadline = time.monotonic() + TIMEOUT
        while "classifying" not in view.status.value and time.monotonic() < deadline:
            time.sleep(0.01)
        during.append(view.status.value)
        return exact(self, segments)  # type: ignore[arg-type]

    monkeypatch.setattr(Classified, "exact", watched)
    live.stop()
    view._follower.join(TIMEOUT)
    assert not view._follower.is_alive()
    assert len(during) == 1
    assert f"(stopped): classifying {counted(followed, 'long connection')} whole" in during[0]
    assert view.final_shown and live.classifying_whole == 0
    assert "(stopped)" in view.status.value and "classifying" not in view.status.value
    whole = hskit.load(hskit.samples.path(SAMPLE), progress=False)
    assert len(live.connections) == len(whole.connections)
    assert counted(len(whole.connections), "connection") in view.status.value


def test_a_view_of_a_capture_without_long_connections_ends_on_the_ended_capture(
    tmp_path: Path,
) -> None:
    """No connection is followed (default thresholds): no last pass to announce, and the
    view still ends on the final snapshot, with "stopped" in its status line."""
    ring = ReplayedRing(tmp_path)
    live = live_capture.LiveCapture(ring)  # type: ignore[arg-type]
    view = live.view(refresh=0.0)
    ring.hand(hskit.samples.path("refused"))
    assert live.wait(since=0, timeout=TIMEOUT)
    live.stop()
    view._follower.join(TIMEOUT)
    assert not view._follower.is_alive()
    assert live.classifying_whole == 0
    assert view.final_shown and "(stopped)" in view.status.value


def test_watch_says_it_classifies_long_connections_whole_before_its_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``hskit watch`` on a live capture with a followed long connection (the ring handed
    before the command starts): once stopped, it says so before the summary."""
    monkeypatch.setattr(live_capture, "Classified", partial(Classified, **SMALL))
    ring = ReplayedRing(tmp_path / "ring")
    live = live_capture.LiveCapture(ring)  # type: ignore[arg-type]
    for number, path in enumerate(_pcap_pieces(hskit.samples.path(SAMPLE), tmp_path, 4)):
        ring.hand(path)
        assert live.wait(since=number, timeout=TIMEOUT)
        live.snapshot()  # the tables of each file, as the view makes them
    followed = live.classifying_whole
    assert followed > 0
    monkeypatch.setattr(hskit, "live", lambda *args, **kwargs: live)
    result = CliRunner().invoke(main, ["watch", "--duration", "0"])
    assert result.exit_code == 0, result.output
    notice = f"stopped: classifying {counted(followed, 'long connection')} whole…"
    assert notice in result.output
    assert result.output.index(notice) < result.output.index(f"{ring.settings.folder}: ")
    assert live.classifying_whole == 0
