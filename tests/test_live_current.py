"""The current states kept from file to file equal the written rule on the tables so far.

The rule (:func:`tests.test_live_view.current_states_by_rule`): an endpoint's current
state is the state of its last interval, in table order, that began at or before the
capture's last time. :class:`hskit.live.current.CurrentStates` reads only the streams
the classifier replaced and lets kept-aside intervals begin as time passes; these
tests feed it what a live capture does and compare with the rule after every step.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hskit
from hskit.live.current import CurrentStates
from hskit.live.incremental import Classified
from tests.conftest import SAMPLE_CAPTURES
from tests.test_live_incremental import SMALL, growing

#: pieces each capture is cut into (rows, about evenly).
PIECES = 12


def states_by_rule(states: pd.DataFrame, now: float) -> dict[tuple[int, str], str]:
    """Per (stream, endpoint): the state of its last row, in table order, with
    ``start <= now`` (the rule, row by row)."""
    current: dict[tuple[int, str], str] = {}
    for row in states.itertuples():
        if row.start <= now:
            current[(int(row.stream), str(row.endpoint))] = str(row.state)
    return current


def assert_rule_holds(
    current: CurrentStates, connections: pd.DataFrame, states: pd.DataFrame, now: float
) -> None:
    expected = states_by_rule(states, now)
    table = current.connections(connections)
    for endpoint in hskit.schema.ENDPOINTS:
        column = table[f"{endpoint}_state"]
        found = column.astype(object).where(column.notna(), None).tolist()
        truth = [expected.get((int(stream), endpoint)) for stream in connections["stream"]]
        assert found == truth, endpoint
    pd.testing.assert_frame_equal(table[list(connections.columns)], connections)


@pytest.mark.parametrize("thresholds", [{}, SMALL], ids=["whole", "followed"])
@pytest.mark.parametrize("capture", SAMPLE_CAPTURES, ids=lambda p: p.name)
def test_current_states_grown_with_the_replaced_streams_follow_the_rule(
    capture: Path, thresholds: dict[str, int]
) -> None:
    """Pieces of rows through the classifier (long connections followed from a window
    with ``SMALL``), then ``exact``; after each, the kept current states."""
    segments = hskit.load(capture, progress=False).segments
    classified, current = Classified(**thresholds), CurrentStates()
    for rows, touched in growing(segments, PIECES):
        connections, states = classified.update(rows, touched)
        current.update(states, classified.replaced, classified.end)
        assert_rule_holds(current, connections, states, float(rows["time"].max()))
    connections, states = classified.exact(rows)
    current.update(states, classified.replaced, classified.end)
    assert_rule_holds(current, connections, states, float(rows["time"].max()))


@pytest.mark.parametrize("capture", SAMPLE_CAPTURES, ids=lambda p: p.name)
def test_intervals_kept_aside_begin_as_the_last_time_passes_their_start(capture: Path) -> None:
    """The whole tables, then nothing replaced while the last time moves over every
    interval's start (the CLOSED after each TIME_WAIT included): what began by then."""
    whole = hskit.load(capture, progress=False)
    starts = np.unique(whole.states["start"].to_numpy())
    times = np.unique(np.concatenate([starts, (starts[1:] + starts[:-1]) / 2]))
    picked = times[np.linspace(0, len(times) - 1, min(len(times), 40)).astype(int)]
    current = CurrentStates()
    current.update(whole.states, None, float(picked[0]) - 1.0)
    assert_rule_holds(current, whole.connections, whole.states, float(picked[0]) - 1.0)
    for now in picked.tolist():
        current.update(whole.states, np.zeros(0, np.int64), now)
        assert_rule_holds(current, whole.connections, whole.states, now)


def _states(rows: list[tuple[int, str, str, float]]) -> pd.DataFrame:
    """A states table of (stream, endpoint, state, start) rows, by stream."""
    table = pd.DataFrame(rows, columns=["stream", "endpoint", "state", "start"])
    return table.astype(
        {"endpoint": hskit.schema.ENDPOINT_DTYPE, "state": hskit.schema.TCP_STATE_DTYPE}
    )


def test_a_replaced_streams_intervals_kept_aside_are_dropped() -> None:
    """A stream in TIME_WAIT (its CLOSED kept aside until 61) is classified again with
    rows that end ESTABLISHED: at 62 it is ESTABLISHED, not the old CLOSED."""
    before = _states([(0, "client", "ESTABLISHED", 0.0), (0, "client", "TIME_WAIT", 1.0),
                      (0, "client", "CLOSED", 61.0), (1, "client", "SYN_SENT", 0.5)])  # fmt: skip
    after = _states([(0, "client", "ESTABLISHED", 0.0), (1, "client", "SYN_SENT", 0.5)])
    connections = pd.DataFrame({"stream": [0, 1]})
    current = CurrentStates()
    current.update(before, None, 2.0)
    assert_rule_holds(current, connections, before, 2.0)
    current.update(after, np.array([0]), 3.0)
    assert_rule_holds(current, connections, after, 3.0)
    current.update(after, np.zeros(0, np.int64), 62.0)
    assert_rule_holds(current, connections, after, 62.0)


def test_an_interval_earlier_in_the_table_does_not_take_over_when_it_begins() -> None:
    """Starts out of table order (no classifier writes them, the rule covers them): at
    4 the third row has begun; at 6 the second begins too, and the third stays current
    (the last in table order)."""
    states = _states([(0, "server", "LISTEN", 0.0), (0, "server", "SYN_RECEIVED", 5.0),
                      (0, "server", "ESTABLISHED", 3.0)])  # fmt: skip
    connections = pd.DataFrame({"stream": [0]})
    current = CurrentStates()
    for now in (4.0, 6.0):
        current.update(states, None if now == 4.0 else np.zeros(0, np.int64), now)
        assert_rule_holds(current, connections, states, now)
