"""The live view's figures and ``client_state``/``server_state``, on the sample captures.

Truths: the sample manifest's handshake label per connection (written by the sample
generator's own rules), the TIME_WAIT of the active closer (RFC 9293: the side that
closes first waits), and numpy's percentiles of the handshake times.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hskit
from hskit.live.capture import LiveCapture, _with_current_states
from hskit.live.figures import (
    new_connections,
    new_connections_figure,
    rtt_percentiles,
    rtt_percentiles_figure,
    states_now,
    states_now_figure,
)
from hskit.live.incremental import ClassifiedCapture
from hskit.live.recorder import RingSettings
from hskit.live.view import LiveView

#: seconds: longer than any sample capture, so every connection is in the window.
WHOLE = 600


def live_connections(name: str) -> pd.DataFrame:
    return _with_current_states(hskit.load(hskit.samples.path(name), progress=False))


@pytest.mark.parametrize(
    ("name", "closer", "other"),
    [("close_client_first", "client", "server"), ("close_server_first", "server", "client")],
)
def test_the_active_closer_is_in_time_wait_now_and_its_peer_closed(
    name: str, closer: str, other: str
) -> None:
    connections = live_connections(name)
    assert connections[f"{closer}_state"].tolist() == ["TIME_WAIT"]
    assert connections[f"{other}_state"].tolist() == ["CLOSED"]
    assert states_now(connections).loc["TIME_WAIT", closer] == 1


def test_half_open_connections_of_a_syn_flood_are_syn_received_now() -> None:
    connections = live_connections("syn_flood")
    half_open = connections[connections["handshake"] == "no_final_ack"]
    assert len(half_open) > 0
    assert set(half_open["server_state"]) == {"SYN_RECEIVED"}


def test_new_connections_per_second_add_up_to_the_manifest_labels() -> None:
    connections = live_connections("busy_server")
    manifest = hskit.samples.manifest()
    labels = manifest[manifest["file"] == "busy_server.pcap.gz"]["handshake"].astype(str)
    expected = labels.value_counts()
    per_second = new_connections(connections, window=WHOLE)
    totals = per_second.sum()
    assert totals[totals > 0].to_dict() == expected.to_dict()
    assert per_second.index.freq == "s" and len(per_second) == WHOLE
    figure = new_connections_figure(connections, window=WHOLE)
    assert {trace.name: sum(trace.y) for trace in figure.data} == expected.to_dict()


def test_rtt_percentiles_are_numpys_over_the_sliding_window() -> None:
    connections = live_connections("busy_server")
    table = rtt_percentiles(connections, window=WHOLE, sliding=WHOLE)
    complete = connections[connections["handshake"] == "complete"]
    times = complete["handshake_time"].dropna().to_numpy(float) * 1e3
    np.testing.assert_allclose(table.iloc[-1].to_numpy(), np.percentile(times, [50, 90, 99]))
    last_second = connections["first_ts"].max().floor("s")
    recent = complete[complete["first_ts"].dt.floor("s") > last_second - pd.Timedelta(seconds=3)]
    short = rtt_percentiles(connections, window=5, sliding=3)
    np.testing.assert_allclose(
        short.iloc[-1, 0], np.percentile(recent["handshake_time"].dropna() * 1e3, 50)
    )
    assert len(rtt_percentiles_figure(connections).data) == 3


def test_states_figure_shows_every_state_with_client_and_server_bars() -> None:
    connections = live_connections("busy_server")
    figure = states_now_figure(connections)
    assert [trace.name for trace in figure.data] == ["clients", "servers"]
    assert all(list(trace.x) == list(hskit.schema.TCP_STATES) for trace in figure.data)
    assert sum(figure.data[0].y) == sum(figure.data[1].y) == len(connections)


def current_states_by_rule(capture: hskit.Capture) -> dict[tuple[int, str], str]:
    """Per (stream, endpoint): the state of the last interval, in table order, that began
    at or before the capture's last segment time (the written rule, row by row)."""
    now = float(capture.segments["time"].max())
    current: dict[tuple[int, str], str] = {}
    for row in capture.states.itertuples():
        if row.start <= now:
            current[(int(row.stream), str(row.endpoint))] = str(row.state)
    return current


@pytest.mark.parametrize("name", hskit.samples.names())
@pytest.mark.parametrize("share", [0.5, 1.0])
def test_current_states_are_the_last_interval_begun_by_the_last_segment(
    name: str, share: float
) -> None:
    """Also with the segments cut at ``share`` of them and the tables of them all, so
    some intervals begin after the last segment."""
    whole = hskit.load(hskit.samples.path(name), progress=False)
    cut = whole.segments.iloc[: max(1, int(len(whole.segments) * share))]
    capture = ClassifiedCapture(cut, whole.load_report, (whole.connections, whole.states))
    expected = current_states_by_rule(capture)
    connections = _with_current_states(capture)
    for endpoint in hskit.schema.ENDPOINTS:
        found = (
            connections[f"{endpoint}_state"]
            .astype(object)
            .where(connections[f"{endpoint}_state"].notna(), None)
        )
        truth = [expected.get((int(stream), endpoint)) for stream in connections["stream"]]
        assert found.tolist() == truth
    assert connections.drop(columns=["client_state", "server_state"]).equals(whole.connections)


#: seconds a test waits at most for the live capture's threads.
TIMEOUT = 60.0


class ReplayedRing:
    """A recorder stand-in: capture files handed to it are its closed ring files."""

    def __init__(self, folder: Path) -> None:
        self.settings = RingSettings("replay", None, folder)
        self.running = True
        self._closed: queue.Queue[Path | None] = queue.Queue()
        self.files_closed = 0
        self.closed_at: dict[Path, float] = {}

    def hand(self, path: Path) -> None:
        """Close ``path`` and give it to the loader at once."""
        self.close(path)
        self.deliver(path)

    def close(self, path: Path) -> None:
        """Say ``path`` closed (the loader is busy: it gets it on :meth:`deliver`)."""
        self.closed_at[path] = time.monotonic()
        self.files_closed += 1

    def deliver(self, path: Path) -> None:
        self._closed.put(path)

    def stop(self) -> None:
        self.running = False
        self._closed.put(None)

    def closed_files(self) -> Iterator[Path]:
        while (path := self._closed.get()) is not None:
            yield path

    def counts(self) -> tuple[int | None, int | None]:
        """Frames received and dropped: no capture program reports them here."""
        return None, None


def test_a_wait_counts_only_files_closed_after_it_not_older_ones_loaded_late(
    tmp_path: Path,
) -> None:
    ring = ReplayedRing(tmp_path)
    live = LiveCapture(ring)  # type: ignore[arg-type]
    older = hskit.samples.path("syn_flood")
    ring.close(older)  # closed before the wait, not yet loaded: no traffic of ours
    answers: list[bool] = []
    waiter = threading.Thread(target=lambda: answers.append(live.wait(files=1, timeout=TIMEOUT)))
    waiter.start()
    time.sleep(0.2)
    ring.deliver(older)
    assert live.wait(since=0, timeout=TIMEOUT)  # the older file is loaded now...
    waiter.join(0.5)
    assert waiter.is_alive() and answers == []  # ...and the wait goes on
    ring.hand(hskit.samples.path("close_client_first"))  # the file that held the traffic
    waiter.join(TIMEOUT)
    assert answers == [True] and live.files_seen == 2
    live.stop()


def _drawn(view: LiveView, files: int) -> bool:
    """Whether ``view`` draws ``files`` ring files within :data:`TIMEOUT` (looked at
    every 50 ms)."""
    for _ in range(int(TIMEOUT / 0.05)):
        if view.files_shown >= files:
            return True
        time.sleep(0.05)
    return False


def test_the_view_draws_each_ring_file_once_loaded_and_waits_counted_from_a_given_file(
    tmp_path: Path,
) -> None:
    ring = ReplayedRing(tmp_path)
    live = LiveCapture(ring)  # type: ignore[arg-type]
    view = live.view(refresh=0.0)
    names = ["close_client_first", "syn_flood"]
    for number, name in enumerate(names, start=1):
        ring.hand(hskit.samples.path(name))
        assert live.wait(since=number - 1, timeout=TIMEOUT)
        assert _drawn(view, number)
    assert live.wait(since=1, timeout=0)  # the second file is already loaded
    assert not live.wait(since=2, timeout=0)  # no third file yet
    live.stop()
    assert not live.wait(since=2, timeout=TIMEOUT)  # ended: returns, no third file
    view._follower.join(TIMEOUT)
    assert not view._follower.is_alive()
    loaded = sum(len(hskit.load(hskit.samples.path(n), progress=False).connections) for n in names)
    assert view.files_shown == 2 and len(live.connections) == loaded
    assert f"2 ring files, {loaded} connections" in view.status.value
