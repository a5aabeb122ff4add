"""The widgets react to their controls: the picker, the toggles, the explorer, a click.

Widgets are driven as a notebook user would, through their controls' values; a click
goes through the plot widget's own message handler, as the browser's message would.
"""

from __future__ import annotations

import gzip
import re

import numpy as np
import pytest
from conftest import SAMPLE_DIR

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
    assert view.range.max == len(frames_of(cap, 3))


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


def test_range_slider_counts_segments_from_one_as_the_title_does(long_cap):
    view = ladder_widget(long_cap, 0)
    view.range.value = (4, 8)
    assert drawn_frames(view.figure) == frames_of(long_cap, 0)[3:8]
    assert "segments 4–8 of" in view.figure.layout.title.text
    assert view.range.min == 1 and view.range.max == len(frames_of(long_cap, 0))


def test_default_range_stops_at_max_segments(long_cap):
    view = ladder_widget(long_cap, 0, max_segments=20)
    assert view.range.value == (1, 20)
    assert drawn_frames(view.figure) == frames_of(long_cap, 0)[:20]


def test_range_slider_spans_at_most_max_range_segments(long_cap):
    view = ladder_widget(long_cap, 0, max_range=20)
    assert view.range.value == (1, 20)
    view.range.value = (6, 46)
    assert view.range.value == (6, 25)
    assert drawn_frames(view.figure) == frames_of(long_cap, 0)[5:25]
    view.range.value = (6, 46)
    assert view.range.value == (27, 46)
    assert drawn_frames(view.figure) == frames_of(long_cap, 0)[26:46]


def test_handshake_only_checkbox_hides_the_middle_and_disables_the_range(long_cap):
    view = ladder_widget(long_cap, 0)
    view.handshake_only.value = True
    assert view.range.disabled
    drawn = drawn_frames(view.figure)
    every = frames_of(long_cap, 0)
    assert every[:3] == drawn[:3] and every[-1] in drawn
    assert len(drawn) < len(every)


def trace_index(figure, role: str) -> int:
    return next(i for i, t in enumerate(figure.data) if t.meta and t.meta.get("role") == role)


def test_clicking_an_arrow_shows_its_frames_dissection_tcp_first(cap, tshark):
    view = ladder_widget(cap, 3)
    index = trace_index(view.figure, "segments")
    frame = int(view.figure.data[index].customdata[0])
    view.plot.click(index, 0)
    assert view.selected_frame == frame
    assert f"<b>frame {frame}</b>" in view.details.value
    # a collapsible tree, TCP first and unfolded, the other layers folded
    layers = re.findall(r"<details( open)? data-layer='([\w.-]+)'", view.details.value)
    assert layers[0] == (" open", "tcp")
    assert all(opened == "" for opened, _ in layers[1:]) and len(layers) >= 3
    assert "Transmission Control Protocol" in view.details.value
    (selected,) = [t for t in view.figure.data if t.meta and t.meta.get("role") == "selected"]
    assert selected.meta["frame"] == frame


def test_a_click_anywhere_along_an_arrow_selects_that_segment(cap, tshark):
    view = ladder_widget(cap, 3)
    index = trace_index(view.figure, "hits")
    hits = view.figure.data[index]
    point = len(hits.customdata) - 1  # the point nearest the receiver of the last arrow
    view.plot.click(index, point)
    assert view.selected_frame == int(hits.customdata[point])


def test_a_click_on_another_trace_leaves_the_details_alone(cap):
    view = ladder_widget(cap, 3)
    before = view.details.value
    view.plot.click(trace_index(view.figure, "lane_states"), 0)
    view.plot.click(trace_index(view.figure, "arrows"), 0)
    assert view.details.value == before and view.selected_frame is None


def test_the_plot_widget_sends_plotly_js_once_asked():
    from hskit.views.plot_widget import PlotWidget, plotly_bundle_gzipped

    plot = PlotWidget()
    sent = []
    plot.send = lambda content, buffers=None: sent.append((content, buffers))
    plot._on_frontend_message(plot, {"type": "need plotly.js"}, [])
    ((content, buffers),) = sent
    assert content == {"type": "plotly.js"} and buffers == [plotly_bundle_gzipped()]
    assert gzip.decompress(buffers[0]).startswith(b"/**\n* plotly.js (basic - minified) v")


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
    return view.shown_streams().tolist()


def option_counts(dropdown) -> dict[str, int]:
    return {value: int(label.rsplit("(", 1)[1].rstrip(")").replace(",", ""))
            for label, value in dropdown.options}  # fmt: skip


def test_explorer_grid_holds_every_connection(busy):
    view = explorer(busy)
    assert view.grid._row_count == len(busy.connections)
    assert listed(view) == busy.connections["stream"].tolist()


def test_explorer_grid_answers_the_browsers_row_requests_in_its_order_without_error(busy, caplog):
    """The browser asks the streaming grid for the rows on screen (a "data-request", as
    ipydatagrid's frontend sends it); the reply holds those rows of the filtered, sorted
    grid, and no message handler fails on the way (ipydatagrid's own one used to)."""
    view = explorer(busy)
    view.handshake.value = "refused"
    view.sort("duration_s", descending=True)
    replies = []
    view.grid.send = lambda content, buffers=None: replies.append(content)
    request = {"type": "data-request", "r1": 2, "r2": 6, "c1": 0, "c2": 0}
    with caplog.at_level("WARNING"):
        view.grid._handle_custom_msg(request, [])
    assert [r for r in caplog.records if "callback" in r.getMessage()] == []
    (reply,) = replies
    assert reply["event_type"] == "data-reply" and (reply["r1"], reply["r2"]) == (2, 6)
    refused = busy.connections.loc[busy.connections["handshake"] == "refused"]
    durations = refused["duration"].round(6).sort_values(ascending=False)
    assert durations.iloc[:8].is_unique  # rows 0-6 of the sort are determined
    assert listed(view)[2:7] == refused.loc[durations.index[2:7], "stream"].tolist()
    view.grid._handle_custom_msg({"event_type": "cell-click", "region": "body",
        "column": "stream", "column_index": 0, "row": 0, "primary_key_row": 0,
        "cell_value": 0}, [])  # fmt: skip


def test_explorer_filters_list_only_matching_connections_with_counts(busy):
    connections = busy.connections
    view = explorer(busy)
    counts = connections["handshake"].astype(str).value_counts()
    shown = option_counts(view.handshake)
    assert shown[""] == len(connections)
    assert {k: v for k, v in shown.items() if v and k} == counts[counts > 0].to_dict()
    view.handshake.value = "refused"
    expected = connections.loc[connections["handshake"] == "refused", "stream"]
    assert listed(view) == expected.tolist()
    assert view.grid._row_count == len(expected)
    assert view.filtered()["stream"].tolist() == expected.tolist()
    assert view.ladder.stream == view.timeline.stream == expected.iloc[0]
    # the other dropdowns count among the refused connections
    refused = connections.loc[connections["handshake"] == "refused"]
    termination = refused["termination"].astype(str).value_counts()
    assert {k: v for k, v in option_counts(view.termination).items() if v and k} == (
        termination[termination > 0].to_dict()
    )
    view.conn_state.value = "REJ"
    expected = refused.loc[refused["conn_state"] == "REJ", "stream"]
    assert listed(view) == expected.tolist()


def test_explorer_clear_button_resets_filters_search_and_sort(busy):
    view = explorer(busy)
    view.handshake.value = "no_answer"
    view.search.value = ":80"
    view.sort("duration_s", descending=True)
    view.clear.click()
    assert (view.handshake.value, view.search.value) == ("", "")
    assert listed(view) == busy.connections["stream"].tolist()


def test_explorer_sorts_by_any_column(busy):
    view = explorer(busy)
    table = view._table
    for column in ("duration_s", "server", "packets", "handshake"):
        view.sort(column, descending=True)
        expected = table.sort_values(column, ascending=False, kind="stable")["stream"]
        assert sorted(listed(view)) == sorted(expected.tolist())
        values = table.set_index("stream").loc[listed(view), column].tolist()
        assert values == sorted(values, reverse=True), column
        assert view.ladder.stream == listed(view)[0]


def test_explorer_search_matches_address_and_port_of_either_end(busy):
    connections = busy.connections
    port = int(connections["client_port"].iloc[7])
    view = explorer(busy)
    view.search.value = f":{port}"
    ports = connections[["client_port", "server_port"]].astype(str)
    mentions = ports.apply(lambda column: column.str.startswith(str(port))).any(axis=1)
    assert listed(view) == connections.loc[mentions, "stream"].tolist()
    assert int(connections["stream"].iloc[7]) in listed(view)


def test_selecting_an_explorer_row_updates_ladder_and_timeline(busy):
    view = explorer(busy)
    view.handshake.value = "refused"
    stream = listed(view)[3]
    view.grid.selections = [{"r1": 3, "c1": 0, "r2": 3, "c2": 3}]  # as the browser sends it
    assert view.ladder.stream == stream
    assert drawn_frames(view.ladder.figure) == frames_of(busy, stream)
    marks = [t for t in view.timeline.figure.data if t.meta["role"] == "transitions"]
    expected = busy.states.loc[busy.states["stream"] == stream, "start"]
    assert sorted(marks[0].x) == sorted(expected)


def test_capture_methods_open_the_widgets_on_the_requested_stream(cap):
    assert cap.ladder(2).picker.value == 2 == cap.ladder(2).stream
    assert cap.timeline().stream is None and cap.timeline(1).stream == 1
    assert cap.explore().ladder.stream == cap.connections["stream"].iloc[0]
