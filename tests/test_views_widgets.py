"""The widgets react to their controls: the picker, the toggles, the explorer, a click.

Widgets are driven as a notebook user would, through their controls' values; a click
is dispatched through plotly's own callback machinery with a constructed ``Points``.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SAMPLE_DIR
from plotly.callbacks import Points

import hskit
from hskit.views import explorer, ladder_widget, timeline_widget


@pytest.fixture(scope="module")
def cap() -> hskit.Capture:
    """Four connections (slow handshakes)."""
    return hskit.load(SAMPLE_DIR / "slow_handshake.pcap")


@pytest.fixture(scope="module")
def long_cap() -> hskit.Capture:
    """One connection of 46 segments (zero-window probes)."""
    return hskit.load(SAMPLE_DIR / "zero_window.pcap")


@pytest.fixture(scope="module")
def busy() -> hskit.Capture:
    """A busy server: about two thousand connections of every kind."""
    return hskit.load(SAMPLE_DIR / "busy_server.pcap.gz")


def segment_traces(figure) -> list:
    return [t for t in figure.data if t.meta and t.meta.get("role") == "segments"]


def drawn_frames(figure) -> list[int]:
    return sorted(int(f) for trace in segment_traces(figure) for f in trace.customdata)


def frames_of(cap: hskit.Capture, stream: int) -> list[int]:
    return sorted(cap.segments.loc[cap.segments["stream"] == stream, "frame"].tolist())


def test_ladder_widget_starts_on_the_requested_stream(cap):
    view = ladder_widget(cap, 2)
    assert view.picker.value == 2
    assert drawn_frames(view.figure) == frames_of(cap, 2)


def test_changing_the_picker_draws_the_new_streams_arrows(cap):
    view = ladder_widget(cap)
    assert drawn_frames(view.figure) == frames_of(cap, 0)
    view.picker.value = 3
    assert drawn_frames(view.figure) == frames_of(cap, 3)
    assert view.range.max == len(frames_of(cap, 3)) - 1


def test_numbers_toggle_switches_labels_to_absolute_sequence_numbers(cap):
    view = ladder_widget(cap, 1)
    first_seq = cap.segments.loc[cap.segments["stream"] == 1].set_index("frame")
    view.numbers.value = "absolute"
    for trace in segment_traces(view.figure):
        for frame, text in zip(trace.customdata, trace.text, strict=True):
            assert f"Seq={first_seq.loc[int(frame), 'seq']} " in text


def test_spacing_toggle_puts_capture_time_on_the_y_axis(cap):
    view = ladder_widget(cap, 1)
    assert view.figure.layout.yaxis.visible is False
    view.spacing.value = "time"
    times = cap.segments.loc[cap.segments["stream"] == 1, "time"]
    y = np.concatenate([np.asarray(t.y, dtype=float) for t in segment_traces(view.figure)])
    assert y.min() >= times.min() - 1 and y.max() <= times.max() + 1
    assert view.figure.layout.yaxis.autorange == "reversed"


def test_range_slider_limits_the_arrows_to_its_positions(long_cap):
    view = ladder_widget(long_cap, 0)
    view.range.value = (3, 7)
    assert drawn_frames(view.figure) == frames_of(long_cap, 0)[3:8]


def test_default_range_stops_at_max_segments(long_cap):
    view = ladder_widget(long_cap, 0, max_segments=20)
    assert view.range.value == (0, 19)
    assert drawn_frames(view.figure) == frames_of(long_cap, 0)[:20]


def test_range_slider_spans_at_most_max_range_segments(long_cap):
    view = ladder_widget(long_cap, 0, max_range=20)
    assert view.range.value == (0, 19)
    view.range.value = (5, 45)
    assert view.range.value == (5, 24)
    assert drawn_frames(view.figure) == frames_of(long_cap, 0)[5:25]
    view.range.value = (5, 45)
    assert view.range.value == (26, 45)
    assert drawn_frames(view.figure) == frames_of(long_cap, 0)[26:46]


def test_handshake_only_checkbox_hides_the_middle_and_disables_the_range(long_cap):
    view = ladder_widget(long_cap, 0)
    view.handshake_only.value = True
    assert view.range.disabled
    drawn = drawn_frames(view.figure)
    every = frames_of(long_cap, 0)
    assert every[:3] == drawn[:3] and every[-1] in drawn
    assert len(drawn) < len(every)


def test_clicking_an_arrow_shows_its_frames_dissection(cap, tshark):
    view = ladder_widget(cap, 3)
    trace = segment_traces(view.figure)[0]
    frame = int(trace.customdata[0])
    index = list(view.figure.data).index(trace)
    points = Points(point_inds=[0], xs=[0.5], ys=[0.0], trace_name=trace.name, trace_index=index)
    trace._dispatch_on_click(points, None)
    assert f"Frame {frame}:" in view.details.value
    assert "Transmission Control Protocol" in view.details.value


def test_a_click_on_another_trace_leaves_the_details_alone(cap):
    view = ladder_widget(cap, 3)
    before = view.details.value
    trace = segment_traces(view.figure)[0]
    trace._dispatch_on_click(Points(point_inds=[], xs=[], ys=[], trace_index=0), None)
    assert view.details.value == before


def test_timeline_widget_shows_one_connection_or_all(cap):
    view = timeline_widget(cap)
    ticks = view.figure.layout.yaxis.tickvals
    assert len(ticks) == len(cap.connections)
    view.mode.value = "counts"
    assert {t.meta["role"] for t in view.figure.data} == {"counts"}
    view.picker.value = 3
    starts = sorted(cap.states.loc[cap.states["stream"] == 3, "start"])
    marks = [t for t in view.figure.data if t.meta["role"] == "transitions"]
    assert sorted(marks[0].x) == starts
    assert view.mode.disabled


def listed(view) -> list[int]:
    return [stream for _, stream in view.table.options]


def test_explorer_filters_list_only_matching_connections(busy):
    connections = busy.connections
    view = explorer(busy)
    assert len(view.table.options) == min(len(connections), view.max_rows)
    view.handshake.value = ("refused", "no_answer")
    expected = connections.loc[connections["handshake"].isin(["refused", "no_answer"]), "stream"]
    assert listed(view) == expected.tolist()[: view.max_rows]
    assert view.filtered()["stream"].tolist() == expected.tolist()
    assert view.ladder.stream == view.timeline.stream == expected.iloc[0]
    view.termination.value = ("fin_4way",)
    assert listed(view) == []
    view.handshake.value = ()
    view.conn_state.value = ("RSTO", "RSTR")
    expected = connections.loc[
        (connections["termination"] == "fin_4way")
        & connections["conn_state"].isin(["RSTO", "RSTR"])
    ]
    assert listed(view) == expected["stream"].tolist()


def test_explorer_search_matches_address_and_port_of_either_end(busy):
    connections = busy.connections
    port = int(connections["client_port"].iloc[7])
    view = explorer(busy)
    view.search.value = f":{port}"
    ports = connections[["client_port", "server_port"]].astype(str)
    mentions = ports.apply(lambda column: column.str.startswith(str(port))).any(axis=1)
    assert listed(view) == connections.loc[mentions, "stream"].tolist()
    assert int(connections["stream"].iloc[7]) in listed(view)


def test_choosing_an_explorer_row_updates_ladder_and_timeline(busy):
    view = explorer(busy)
    view.handshake.value = ("refused",)
    stream = listed(view)[3]
    view.table.value = stream
    assert view.ladder.picker.value == stream
    assert drawn_frames(view.ladder.figure) == frames_of(busy, stream)
    marks = [t for t in view.timeline.figure.data if t.meta["role"] == "transitions"]
    expected = busy.states.loc[busy.states["stream"] == stream, "start"]
    assert sorted(marks[0].x) == sorted(expected)


def test_capture_methods_open_the_widgets_on_the_requested_stream(cap):
    assert cap.ladder(2).picker.value == 2
    assert cap.timeline().stream is None and cap.timeline(1).stream == 1
    assert cap.explore().ladder.stream == cap.connections["stream"].iloc[0]
