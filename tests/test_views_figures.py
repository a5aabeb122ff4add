"""The figure builders draw what the tables say: arrows, labels, bars and counts.

Every expectation is computed here from ``cap.segments`` / ``cap.states`` (or the
hand-derived manifest), never copied from an earlier hskit output.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE_CAPTURES, SAMPLE_DIR

import hskit
from hskit import flags
from hskit.schema import ACK, FIN, RST, SYN
from hskit.views import (
    capture_vantage,
    connections_timeline_figure,
    handshake_figure,
    handshake_rtt_figure,
    ladder_figure,
    state_counts_figure,
    state_timeline_figure,
    termination_figure,
)
from hskit.views.palette import STATE_COLORS

#: A long connection (zero-window probes): range, handshake-only and label checks.
LONG = SAMPLE_DIR / "zero_window.pcap"
#: Four connections whose handshakes took from 40 ms to 1 s: time-scaled geometry.
SLOW = SAMPLE_DIR / "slow_handshake.pcap"
#: 200 half-open connections and one complete: state counts over time.
FLOOD = SAMPLE_DIR / "syn_flood.pcap"
_LOADED: dict[str, hskit.Capture] = {}


def load(path) -> hskit.Capture:
    """Each sample capture loaded once per test session."""
    if str(path) not in _LOADED:
        _LOADED[str(path)] = hskit.load(path)
    return _LOADED[str(path)]


@pytest.fixture(scope="module")
def cap() -> hskit.Capture:
    return load(LONG)


@pytest.fixture(params=SAMPLE_CAPTURES, ids=lambda path: path.name)
def sample(request) -> hskit.Capture:
    return load(request.param)


def traces(figure, role: str) -> list:
    return [trace for trace in figure.data if trace.meta and trace.meta.get("role") == role]


def segment_frames(figure) -> np.ndarray:
    """Frame numbers of the arrows drawn, in drawing order per kind."""
    return np.concatenate(
        [np.asarray(t.customdata, dtype=np.int64) for t in traces(figure, "segments")]
    )


def arrow_pieces(figure) -> int:
    """Arrows in the line traces: NaN-separated (start, head) pairs."""
    total = 0
    for trace in traces(figure, "arrows"):
        x = np.asarray(trace.x, dtype=float)
        assert np.isnan(x[2::3]).all()
        total += len(x) // 3
    return total


def representative_streams(cap: hskit.Capture) -> list[int]:
    """The first stream of each (handshake, termination) pair, and the longest stream."""
    firsts = cap.connections.drop_duplicates(["handshake", "termination"])["stream"]
    longest = cap.segments["stream"].value_counts().index[0]
    return sorted({int(stream) for stream in firsts} | {int(longest)})


def stream_segments(cap: hskit.Capture, stream: int) -> pd.DataFrame:
    return cap.segments.loc[cap.segments["stream"] == stream]


def test_ladder_draws_one_arrow_per_segment_of_each_kind_of_stream(sample):
    cap = sample
    for stream in representative_streams(cap):
        figure = ladder_figure(cap.segments, cap.connections, stream, frames=slice(None))
        expected = stream_segments(cap, stream)["frame"].to_numpy()
        assert arrow_pieces(figure) == len(expected)
        assert sorted(segment_frames(figure)) == sorted(expected)


def test_ladder_default_range_is_the_first_segments(cap):
    figure = ladder_figure(cap.segments, cap.connections, 0, max_segments=10)
    expected = stream_segments(cap, 0)["frame"].to_numpy()[:10]
    assert sorted(segment_frames(figure)) == sorted(expected)
    assert arrow_pieces(figure) == 10


def test_ladder_frames_slice_picks_positions_within_the_stream(cap):
    figure = ladder_figure(cap.segments, cap.connections, 0, frames=slice(5, 9))
    expected = stream_segments(cap, 0)["frame"].to_numpy()[5:9]
    assert sorted(segment_frames(figure)) == sorted(expected)


@pytest.mark.parametrize("numbers", ["relative", "absolute"])
def test_ladder_labels_show_flags_and_sequence_numbers_of_the_segment(sample, numbers):
    cap = sample
    stream = int(cap.segments["stream"].value_counts().index[0])
    figure = ladder_figure(
        cap.segments, cap.connections, stream, numbers=numbers, frames=slice(None)
    )
    by_frame = stream_segments(cap, stream).set_index("frame")
    seq_col, ack_col = ("rel_seq", "rel_ack") if numbers == "relative" else ("seq", "ack")
    # Wireshark's analysis prefixes in front, a SYN's options behind (test_analysis_ladder)
    pattern = re.compile(
        r"^(?:\[TCP [^\]]+\] )*(\[[A-Z, ]+\]) Seq=(\d+)(?: Ack=(\d+))? Win=(\d+)(?: Len=(\d+))?"
        r"(?: MSS=\d+)?(?: SACK_PERM)?(?: WS=\d+)?$"
    )
    window = cap.analysis["window"].set_axis(cap.segments["frame"].to_numpy())
    checked = 0
    for trace in traces(figure, "segments"):
        for frame, text in zip(trace.customdata, trace.text, strict=True):
            row = by_frame.loc[int(frame)]
            match = pattern.match(text)
            assert match, text
            bracket, seq, ack, win, length = match.groups()
            assert bracket == flags.label(int(row["flags"]), style="wireshark")
            assert int(seq) == row[seq_col]
            assert (ack is not None) == bool(row["flags"] & ACK)
            if ack is not None:
                assert int(ack) == row[ack_col]
            assert int(win) == window[int(frame)]  # the calculated window
            assert int(length or 0) == row["payload_len"]
            checked += 1
    assert checked == len(by_frame)


def test_ladder_tcpdump_style_labels_use_tcpdump_flags(cap):
    figure = ladder_figure(cap.segments, cap.connections, 0, label_style="tcpdump")
    by_frame = stream_segments(cap, 0).set_index("frame")
    for trace in traces(figure, "segments"):
        for frame, text in zip(trace.customdata, trace.text, strict=True):
            row = by_frame.loc[int(frame)]
            assert text.startswith(f"[{flags.label(int(row['flags']))}] seq {row['rel_seq']}")
            assert text.endswith(f"length {row['payload_len']}")


def test_ladder_hover_text_carries_every_field_of_the_segment(sample):
    cap = sample
    figure = ladder_figure(cap.segments, cap.connections, 0)
    by_frame = stream_segments(cap, 0).set_index("frame")
    for trace in traces(figure, "segments"):
        for frame, hover in zip(trace.customdata, trace.hovertext, strict=True):
            row = by_frame.loc[int(frame)]
            assert f"frame {int(frame)}</b>" in hover
            assert f"(raw {row['seq']})" in hover and f"(raw {row['ack']})" in hover
            assert f"seq {row['rel_seq']} " in hover and f"ack {row['rel_ack']} " in hover
            assert f"win {row['win']}" in hover and f"len {row['payload_len']}" in hover
            assert flags.label(int(row["flags"]), style="wireshark") in hover
            assert f"{row['time']:.6f} s" in hover
            for option, name in (("mss", "MSS="), ("wscale", "WS="), ("ts_val", "TSval=")):
                present = not pd.isna(row[option])
                assert (f"{name}{row[option]}" in hover) if present else (name not in hover)
            assert ("SACK_PERM" in hover) == bool(row["sack_perm"])
            assert ("TFO" in hover) == bool(row["tfo"])


def test_ladder_colours_segments_by_kind_from_their_flags(sample):
    cap = sample
    figure = ladder_figure(cap.segments, cap.connections, 0, frames=slice(None))
    by_frame = stream_segments(cap, 0).set_index("frame")
    for trace in traces(figure, "segments"):
        bits = by_frame.loc[np.asarray(trace.customdata, dtype=np.int64), "flags"].to_numpy()
        payload = by_frame.loc[np.asarray(trace.customdata, dtype=np.int64), "payload_len"]
        expected = {
            "SYN": (bits & (SYN | ACK | RST)) == SYN,
            "SYN-ACK": (bits & (SYN | ACK | RST)) == (SYN | ACK),
            "RST": (bits & RST) != 0,
            "FIN": ((bits & FIN) != 0) & ((bits & (SYN | RST)) == 0),
            "data": ((bits & (SYN | FIN | RST)) == 0) & (payload.to_numpy() > 0),
            "ACK": ((bits & (SYN | FIN | RST)) == 0) & (payload.to_numpy() == 0),
        }[trace.meta["kind"]]
        assert expected.all(), trace.meta["kind"]


def test_ladder_arrows_go_from_the_sender_lane_to_the_receiver_lane(sample):
    cap = sample
    figure = ladder_figure(cap.segments, cap.connections, 0, frames=slice(None))
    by_frame = stream_segments(cap, 0).set_index("frame")
    for arrows, points in zip(traces(figure, "arrows"), traces(figure, "segments"), strict=True):
        x = np.asarray(arrows.x, dtype=float).reshape(-1, 3)
        from_client = by_frame.loc[np.asarray(points.customdata, dtype=np.int64), "from_client"]
        assert (x[:, 0] == np.where(from_client, 0.0, 1.0)).all()
        assert (x[:, 1] == np.where(from_client, 1.0, 0.0)).all()


@pytest.mark.parametrize("stream", [0, 1, 2, 3])
def test_time_scaled_arrows_cross_the_capture_point_at_capture_time(stream):
    cap = load(SLOW)
    connection = cap.connections.set_index("stream").loc[stream]
    figure = ladder_figure(
        cap.segments, cap.connections, stream, spacing="time", frames=slice(None)
    )
    by_frame = stream_segments(cap, stream).set_index("frame")
    # Capture point: one-way delays are half the round trips seen from it.
    to_client = connection["rtt_synack_ack"] / 2
    to_server = connection["rtt_syn_synack"] / 2
    position = to_client / (to_client + to_server)
    for arrows, points in zip(traces(figure, "arrows"), traces(figure, "segments"), strict=True):
        x = np.asarray(arrows.x, dtype=float).reshape(-1, 3)
        y = np.asarray(arrows.y, dtype=float).reshape(-1, 3)
        frames = np.asarray(points.customdata, dtype=np.int64)
        seen = by_frame.loc[frames, "time"].to_numpy()
        at_capture = y[:, 0] + (y[:, 1] - y[:, 0]) * (position - x[:, 0]) / (x[:, 1] - x[:, 0])
        np.testing.assert_allclose(at_capture, seen, rtol=0, atol=1e-9)
        np.testing.assert_allclose(y[:, 1] - y[:, 0], to_client + to_server, atol=1e-9)
        assert (y[:, 0] <= seen).all() and (seen <= y[:, 1]).all()


def test_vantage_is_near_the_end_with_the_short_round_trip():
    near_client = capture_vantage(pd.Series({"rtt_syn_synack": 0.080, "rtt_synack_ack": 0.0001}))
    near_server = capture_vantage(pd.Series({"rtt_syn_synack": 0.0001, "rtt_synack_ack": 0.080}))
    middle = capture_vantage(pd.Series({"rtt_syn_synack": 0.040, "rtt_synack_ack": 0.040}))
    unknown = capture_vantage(pd.Series({"rtt_syn_synack": np.nan, "rtt_synack_ack": np.nan}))
    assert near_client.where == "near the client" and near_client.position < 0.01
    assert near_server.where == "near the server" and near_server.position > 0.99
    assert middle.where == "between client and server" and middle.position == 0.5
    assert unknown.where == "unknown"


def test_vantage_of_the_sample_captures_is_near_the_client():
    """The lab captures on the client's interface; its delay line sits in the server's.
    (lossy.py's captures have no delay line, and loss.pcap is taken at the server.)"""
    manifest = pd.read_csv(SAMPLE_DIR / "manifest.csv")
    complete = manifest.loc[
        (manifest["handshake"] == "complete")
        & ~manifest["client_ip"].isin(["127.0.0.1", "::1"])
        & ~manifest["note"].str.contains("lossy.py", regex=False)
    ]
    assert len(complete) > 10
    for file, rows in complete.groupby("file"):
        connections = load(SAMPLE_DIR / file).connections.set_index("stream")
        for stream in rows["stream"]:
            assert capture_vantage(connections.loc[stream]).where == "near the client", (
                file,
                stream,
            )


def test_handshake_only_keeps_handshake_and_teardown_segments(cap):
    rows = stream_segments(cap, 0)
    figure = ladder_figure(cap.segments, cap.connections, 0, handshake_only=True)
    shown = set(segment_frames(figure).tolist())
    bits = rows["flags"].to_numpy()
    assert set(rows.loc[(bits & (SYN | FIN | RST)) != 0, "frame"]) <= shown
    first_close = rows.loc[(bits & (FIN | RST)) != 0, "frame"].min()
    last_syn = rows.loc[(bits & SYN) != 0, "frame"].max()
    # Between the handshake's last step and the first FIN, nothing is drawn but its ACK.
    middle = rows.loc[(rows["frame"] > last_syn) & (rows["frame"] < first_close), "frame"]
    assert len(shown & set(middle)) == 1
    assert len(shown) < len(rows)


def test_handshake_only_draws_every_syn_fin_and_rst(sample):
    cap = sample
    for stream in representative_streams(cap):
        rows = stream_segments(cap, stream)
        figure = ladder_figure(cap.segments, cap.connections, stream, handshake_only=True)
        control = rows.loc[(rows["flags"].to_numpy() & (SYN | FIN | RST)) != 0, "frame"]
        assert set(control) <= set(segment_frames(figure).tolist()), stream


def test_figures_export_to_standalone_html(cap, tmp_path):
    for name, figure in {
        "ladder": ladder_figure(cap.segments, cap.connections, 0, spacing="time"),
        "states": state_timeline_figure(cap.states, 0),
        "all": connections_timeline_figure(cap.states, cap.connections),
        "counts": state_counts_figure(cap.states),
        "handshake": handshake_figure(cap.connections),
        "termination": termination_figure(cap.connections),
        "rtt": handshake_rtt_figure(cap.connections),
    }.items():
        path = tmp_path / f"{name}.html"
        figure.write_html(path)
        assert "plotly" in path.read_text()[:5000].lower()


def bar_intervals(figure, role: str = "states") -> set[tuple]:
    """(state, y, start, end) of every bar drawn."""
    found = set()
    for trace in traces(figure, role):
        for base, width, y in zip(trace.base, trace.x, trace.y, strict=True):
            found.add((trace.meta["state"], float(y), round(base, 9), round(base + width, 9)))
    return found


def test_state_timeline_bars_are_the_intervals_of_both_endpoints(sample):
    cap = sample
    for stream in representative_streams(cap):
        rows = cap.states.loc[cap.states["stream"] == stream]
        figure = state_timeline_figure(cap.states, stream)
        expected = {
            (
                str(state),
                0.0 if endpoint == "client" else 1.0,
                round(start, 9),
                round(end, 9),
            )
            for state, endpoint, start, end in zip(
                rows["state"], rows["endpoint"], rows["start"], rows["end"], strict=True
            )
        }
        assert bar_intervals(figure) == expected
        ticks = dict(zip(figure.layout.yaxis.tickvals, figure.layout.yaxis.ticktext, strict=True))
        assert ticks[0].startswith("client") and ticks[1].startswith("server")


def test_state_timeline_marks_each_transition_with_its_cause_frame(sample):
    cap = sample
    rows = cap.states.loc[cap.states["stream"] == 0]
    (marks,) = traces(state_timeline_figure(cap.states, 0), "transitions")
    np.testing.assert_allclose(np.sort(marks.x), np.sort(rows["start"].to_numpy()))
    drawn = sorted(int(f) for f in np.asarray(marks.customdata, float) if np.isfinite(f))
    assert drawn == sorted(int(f) for f in rows["cause_frame"].dropna())


def line_intervals(figure, role: str = "states") -> set[tuple]:
    """(state, y, start, end) of every line piece drawn (NaN-separated start, end pairs)."""
    found = set()
    for trace in traces(figure, role):
        x = np.asarray(trace.x, dtype=float).reshape(-1, 3)
        y = np.asarray(trace.y, dtype=float).reshape(-1, 3)
        for (start, end, _), (row, _, _) in zip(x, y, strict=True):
            found.add((trace.meta["state"], float(row), round(start, 9), round(end, 9)))
    return found


def test_connections_timeline_has_one_row_per_connection():
    cap = load(FLOOD)
    figure = connections_timeline_figure(cap.states, cap.connections)
    assert len(figure.layout.yaxis.tickvals) == len(cap.connections)
    rows_per_stream = {row: stream for row, stream in enumerate(cap.connections["stream"])}
    drawn = line_intervals(figure)
    expected = {
        (str(state), rows_per_stream[stream] + (-0.2 if endpoint == "client" else 0.2))
        for state, endpoint, stream in zip(
            cap.states["state"], cap.states["endpoint"], cap.states["stream"], strict=True
        )
    }
    assert {(state, round(y, 1)) for state, y, _, _ in drawn} == expected


def test_connections_timeline_draws_only_the_chosen_streams():
    cap = load(FLOOD)
    figure = connections_timeline_figure(cap.states, cap.connections, streams=[3, 1])
    labels = list(figure.layout.yaxis.ticktext)
    assert [label.split(" ")[0] for label in labels] == ["3", "1"]
    assert len(line_intervals(figure)) == int(cap.states["stream"].isin([1, 3]).sum())


def test_connections_timeline_of_a_busy_capture_draws_every_connection():
    """Busy server: 2,076 connections; every interval of every one is drawn, none dropped."""
    cap = load(SAMPLE_DIR / "busy_server.pcap.gz")
    end = float(cap.segments["time"].max())
    figure = connections_timeline_figure(cap.states, cap.connections, capture_end=end)
    seen = line_intervals(figure, "states")
    inferred = line_intervals(figure, "inferred")
    rows = {int(y + 0.5) for _, y, _, _ in seen | inferred}
    assert rows == set(range(len(cap.connections)))
    assert f"{len(cap.connections):,} connections" in figure.layout.title.text
    assert all(stop <= end + 1e-9 for _, _, _, stop in seen)
    assert all(start >= end - 1e-9 for _, _, start, _ in inferred)
    # every interval that outlives the capture has its inferred rest drawn
    outliving = int((cap.states["end"] > end + 1e-9).sum())
    assert len(inferred) == outliving
    assert figure.layout.xaxis.range[1] < cap.states["end"].max()


def capture_end_marks(figure) -> list[float]:
    return [shape.x0 for shape in figure.layout.shapes if shape.name == "capture end"]


@pytest.mark.parametrize(
    "path",
    [SAMPLE_DIR / "no_answer.pcap", SAMPLE_DIR / "simultaneous_close.pcap", SLOW, LONG],
    ids=lambda p: p.name,
)
def test_state_timeline_x_range_covers_the_whole_connection(path):
    cap = load(path)
    for stream in cap.connections["stream"]:
        times = stream_segments(cap, int(stream))["time"]
        figure = state_timeline_figure(
            cap.states, int(stream), connections=cap.connections, segments=cap.segments
        )
        low, high = figure.layout.xaxis.range
        assert low <= times.min() and high >= times.max(), (stream, low, high)
        assert high - low >= (times.max() - times.min())
        ticks = traces(figure, "segment_times")[0]
        assert sorted(ticks.customdata) == sorted(stream_segments(cap, int(stream))["frame"])


def test_no_answer_timeline_shows_every_syn_over_seven_seconds():
    cap = load(SAMPLE_DIR / "no_answer.pcap")
    syn_times = stream_segments(cap, 0)["time"]
    assert syn_times.max() - syn_times.min() > 5
    figure = state_timeline_figure(cap.states, 0, segments=cap.segments)
    low, high = figure.layout.xaxis.range
    assert high - low > syn_times.max() - syn_times.min()


def test_state_timeline_marks_the_capture_end_and_hatches_what_is_inferred():
    cap = load(SAMPLE_DIR / "simultaneous_close.pcap")
    end = float(cap.segments["time"].max())
    figure = state_timeline_figure(cap.states, 0, segments=cap.segments)
    assert capture_end_marks(figure) == [end]
    seen, inferred = bar_intervals(figure, "states"), bar_intervals(figure, "inferred")
    assert inferred and all(start >= end - 1e-9 for _, _, start, _ in inferred)
    assert all(stop <= end + 1e-9 for _, _, _, stop in seen)
    for trace in traces(figure, "inferred"):
        assert trace.marker.pattern.shape and trace.opacity < 1
    for trace in traces(figure, "states"):
        assert not trace.marker.pattern.shape and trace.opacity in (None, 1)
    # observed and inferred pieces add up to the intervals of the states table
    rows = cap.states.loc[cap.states["stream"] == 0]
    for state, endpoint, start, stop in rows[["state", "endpoint", "start", "end"]].itertuples(
        index=False
    ):
        y = 0.0 if endpoint == "client" else 1.0
        pieces = sorted((a, b) for s, row, a, b in seen | inferred if s == str(state) and row == y)
        assert (round(start, 9), round(stop, 9)) in {(pieces[0][0], pieces[-1][1])} | set(pieces), (
            state,
            endpoint,
        )


def test_counts_over_time_are_small_multiples_with_one_scale_per_state():
    cap = load(SAMPLE_DIR / "busy_server.pcap.gz")
    end = float(cap.segments["time"].max())
    figure = state_counts_figure(cap.states, capture_end=end, connections=cap.connections)
    lines = traces(figure, "counts")
    axes = [trace.yaxis for trace in lines]
    assert len(set(axes)) == len(lines) > 3
    assert capture_end_marks(figure) == [end]
    assert figure.layout.xaxis.range[1] < cap.states["end"].max()
    assert "LISTEN" in figure.layout.title.subtitle.text


@pytest.mark.parametrize("endpoint", [None, "server"])
@pytest.mark.parametrize("path", [FLOOD, SAMPLE_DIR / "port_reuse.pcap"], ids=lambda p: p.name)
def test_state_counts_at_sampled_times_equal_a_direct_count(path, endpoint):
    states = load(path).states
    figure = state_counts_figure(states, endpoint=endpoint)
    if endpoint is not None:
        states = states.loc[states["endpoint"] == endpoint]
    edges = np.union1d(states["start"].to_numpy(), states["end"].to_numpy())
    samples = np.concatenate([edges, (edges[1:] + edges[:-1]) / 2])
    lines = {trace.meta["state"]: trace for trace in traces(figure, "counts")}
    for state in states["state"].cat.categories:
        of_state = states.loc[states["state"] == state]
        start = of_state["start"].to_numpy()[:, None]
        end = of_state["end"].to_numpy()[:, None]
        direct = ((start <= samples) & (samples < end)).sum(axis=0)
        if state == "CLOSED" or state not in lines:
            assert state == "CLOSED" or not direct.any()
            continue
        x = np.asarray(lines[state].x, dtype=float)
        y = np.asarray(lines[state].y)
        drawn = np.where(samples < x[0], 0, y[np.searchsorted(x, samples, side="right") - 1])
        np.testing.assert_array_equal(drawn, direct, err_msg=state)


def test_handshake_and_termination_bars_count_connections_per_label():
    cap = load(FLOOD)
    (bars,) = traces(handshake_figure(cap.connections), "handshake")
    counts = cap.connections["handshake"].astype(str).value_counts()
    assert dict(zip(bars.x, bars.y, strict=True)) == {
        label: counts.get(label, 0) for label in bars.x
    }
    figure = termination_figure(cap.connections)
    total = sum(np.asarray(trace.y) for trace in traces(figure, "termination"))
    counts = cap.connections["termination"].astype(str).value_counts()
    assert dict(zip(figure.data[0].x, total, strict=True)) == {
        label: counts.get(label, 0) for label in figure.data[0].x
    }


@pytest.mark.parametrize("kind", ["ecdf", "histogram"])
def test_handshake_rtt_figure_plots_every_measured_handshake(kind):
    cap = load(SLOW)
    figure = handshake_rtt_figure(cap.connections, kind=kind)
    for trace in traces(figure, "rtt"):
        values = cap.connections[trace.meta["column"]].dropna().to_numpy() * 1e3
        np.testing.assert_allclose(np.sort(trace.x), np.sort(values))


def test_ecdf_of_many_handshakes_keeps_its_ends_and_steps(monkeypatch):
    from hskit.views import summary

    monkeypatch.setattr(summary, "ECDF_POINTS", 50)
    connections = load(SAMPLE_DIR / "busy_server.pcap.gz").connections
    for trace in traces(handshake_rtt_figure(connections), "rtt"):
        # drawn in float32 (the report's size budget): compare at that precision
        values = (connections[trace.meta["column"]].dropna().to_numpy() * 1e3).astype(np.float32)
        x, y = np.asarray(trace.x), np.asarray(trace.y, dtype=np.float64)
        assert len(values) > 50 and len(x) <= 50
        assert x[0] == values.min() and x[-1] == values.max() and y[-1] == 1.0
        below = (values[None, :] < x[:, None]).mean(axis=1)
        at_or_below = (values[None, :] <= x[:, None]).mean(axis=1)
        assert ((below < y + 1e-6) & (y <= at_or_below + 1e-6)).all()


# --------------------------------------------------------------------------- ladder, better
def lane_state_names(figure, endpoint: str) -> list[str]:
    (trace,) = [t for t in traces(figure, "lane_states") if t.meta["endpoint"] == endpoint]
    return list(trace.customdata)


def test_each_lane_carries_its_endpoints_states_in_order(sample):
    cap = sample
    for stream in representative_streams(cap):
        figure = ladder_figure(
            cap.segments, cap.connections, stream, states=cap.states, frames=slice(None)
        )
        rows = cap.states.loc[cap.states["stream"] == stream]
        for endpoint in ("client", "server"):
            expected = rows.loc[rows["endpoint"] == endpoint, "state"].astype(str).tolist()
            assert lane_state_names(figure, endpoint) == expected, (stream, endpoint)


@pytest.mark.parametrize("spacing", ["even", "time"])
def test_each_lane_is_drawn_as_bands_of_its_endpoints_states_one_after_another(sample, spacing):
    """Under the names, the lanes themselves: a dark line each, and along it one band per
    state in ``cap.states``' order and colour, each band starting where the previous ends."""
    cap = sample
    for stream in representative_streams(cap):
        figure = ladder_figure(
            cap.segments, cap.connections, stream, states=cap.states, frames=slice(None),
            spacing=spacing,
        )  # fmt: skip
        shapes = figure.layout.shapes
        lanes = sorted(s.x0 for s in shapes if s.type == "line" and s.x0 == s.x1 and s.xref != "x")
        assert lanes == [0.0, 1.0], (stream, [s.to_plotly_json() for s in shapes])
        rows = cap.states.loc[cap.states["stream"] == stream]
        for endpoint, lane in (("client", 0.0), ("server", 1.0)):
            bands = [s for s in shapes if s.type == "rect" and s.x0 < lane < s.x1]
            states = rows.loc[rows["endpoint"] == endpoint, "state"].astype(str).tolist()
            assert [s.fillcolor for s in bands] == [STATE_COLORS[state] for state in states]
            assert [s.name for s in bands] == [f"{endpoint} {state}" for state in states]
            (names,) = [t for t in traces(figure, "lane_states") if t.meta["endpoint"] == endpoint]
            assert [s.y0 for s in bands] == list(names.y)
            assert all(a.y1 == b.y0 for a, b in itertools.pairwise(bands))


def test_lane_state_changes_sit_where_their_cause_segment_leaves_or_arrives():
    cap = load(SAMPLE_DIR / "close_client_first.pcap")
    figure = ladder_figure(cap.segments, cap.connections, 0, states=cap.states)
    arrows = {}
    for lines, points in zip(traces(figure, "arrows"), traces(figure, "segments"), strict=True):
        x = np.asarray(lines.x, dtype=float).reshape(-1, 3)
        y = np.asarray(lines.y, dtype=float).reshape(-1, 3)
        for frame, xs, ys in zip(points.customdata, x, y, strict=True):
            arrows[int(frame)] = (xs[0], ys[0], ys[1])
    rows = cap.states.loc[(cap.states["stream"] == 0) & cap.states["cause_frame"].notna()]
    for trace in traces(figure, "lane_states"):
        lane = 0.0 if trace.meta["endpoint"] == "client" else 1.0
        own = rows.loc[rows["endpoint"] == trace.meta["endpoint"]]
        by_state = dict(zip(trace.customdata, trace.y, strict=True))
        for state, frame in zip(own["state"].astype(str), own["cause_frame"], strict=True):
            sender_lane, sent, arrived = arrows[int(frame)]
            assert by_state[state] == (sent if sender_lane == lane else arrived), state


def fin_arrows(figure) -> list[tuple[float, float, float, float]]:
    (fins,) = [t for t in traces(figure, "arrows") if t.meta["kind"] == "FIN"]
    x = np.asarray(fins.x, dtype=float).reshape(-1, 3)
    y = np.asarray(fins.y, dtype=float).reshape(-1, 3)
    return [(a[0], b[0], a[1], b[1]) for a, b in zip(x, y, strict=True)]


@pytest.mark.parametrize("spacing", ["even", "time"])
def test_the_fins_of_a_simultaneous_close_cross_in_flight(spacing):
    """Manifest: simultaneous_close.pcap stream 0 is a simultaneous close; its FINs cross."""
    manifest = pd.read_csv(SAMPLE_DIR / "manifest.csv")
    row = manifest.loc[manifest["file"] == "simultaneous_close.pcap"].iloc[0]
    assert row["termination"] == "simultaneous_close"
    cap = load(SAMPLE_DIR / "simultaneous_close.pcap")
    figure = ladder_figure(cap.segments, cap.connections, int(row["stream"]), spacing=spacing)
    (x0, y0, x1, y1), (u0, v0, u1, v1) = fin_arrows(figure)
    assert x0 != u0  # one from each side
    # where both lines are at the same x, the first is above the second at one lane and
    # below it at the other: they cross
    first_at = {x0: y0, x1: y1}
    second_at = {u0: v0, u1: v1}
    assert (first_at[0.0] - second_at[0.0]) * (first_at[1.0] - second_at[1.0]) < 0


def test_the_whole_arrow_is_clickable_not_only_its_midpoint(sample):
    cap = sample
    figure = ladder_figure(cap.segments, cap.connections, 0, frames=slice(None))
    (hits,) = traces(figure, "hits")
    frames = np.asarray(hits.customdata, dtype=np.int64)
    assert set(frames) == set(stream_segments(cap, 0)["frame"])
    per_arrow = np.bincount(np.unique(frames, return_inverse=True)[1])
    assert (per_arrow >= 3).all()
    # each point lies on its arrow, spread from near the sender to near the receiver
    arrows = {}
    for lines, points in zip(traces(figure, "arrows"), traces(figure, "segments"), strict=True):
        x = np.asarray(lines.x, dtype=float).reshape(-1, 3)
        y = np.asarray(lines.y, dtype=float).reshape(-1, 3)
        for frame, xs, ys in zip(points.customdata, x, y, strict=True):
            arrows[int(frame)] = (xs[0], ys[0], xs[1], ys[1])
    ends = np.array([arrows[int(f)] for f in frames])
    along = (np.asarray(hits.x, dtype=float) - ends[:, 0]) / (ends[:, 2] - ends[:, 0])
    np.testing.assert_allclose(
        np.asarray(hits.y, dtype=float), ends[:, 1] + along * (ends[:, 3] - ends[:, 1])
    )
    assert along.min() < 0.15 and along.max() > 0.85


def test_the_selected_frame_is_highlighted():
    cap = load(SAMPLE_DIR / "rst_server.pcap")
    frame = int(stream_segments(cap, 0)["frame"].iloc[2])
    figure = ladder_figure(cap.segments, cap.connections, 0, selected_frame=frame)
    (selected,) = traces(figure, "selected")
    assert selected.meta["frame"] == frame and selected.line.width > 5
    assert traces(ladder_figure(cap.segments, cap.connections, 0), "selected") == []


@pytest.mark.parametrize("spacing", ["even", "time"])
def test_drawn_labels_never_overlap(spacing):
    """busy_server's longest connection, time-scaled: arrows close in time keep one label."""
    from hskit.views.ladder import LABEL_GAP_PX

    cap = load(SAMPLE_DIR / "busy_server.pcap.gz")
    stream = int(cap.segments["stream"].value_counts().index[0])
    figure = ladder_figure(cap.segments, cap.connections, stream, spacing=spacing)
    shown_y = np.concatenate(
        [
            np.asarray(t.y, dtype=float)[np.char.strip(np.asarray(t.texttemplate, dtype=str)) != ""]
            for t in traces(figure, "segments")
        ]
    )
    every_y = np.concatenate([np.asarray(t.y, dtype=float) for t in traces(figure, "segments")])
    assert len(shown_y) >= 1
    height = figure.layout.height - figure.layout.margin.t - figure.layout.margin.b
    if spacing == "even":
        pixels_per_unit = 26
    else:
        (low, high) = every_y.min(), every_y.max()
        pixels_per_unit = height / (high - low) if high > low else 1.0
    gaps = np.diff(np.sort(shown_y)) * pixels_per_unit
    assert (gaps >= LABEL_GAP_PX - 1e-6).all()


def test_rst_is_red_and_stands_apart_from_fin():
    from hskit.views.palette import KIND_COLORS, KIND_WIDTH

    red, green, blue = (int(KIND_COLORS["RST"][i : i + 2], 16) for i in (1, 3, 5))
    assert red > 180 and green < 60 and blue < 60
    assert KIND_COLORS["RST"] != KIND_COLORS["FIN"]
    assert KIND_WIDTH["RST"] > KIND_WIDTH["FIN"]


def test_label_prefixes_go_in_front_of_the_label(cap):
    rows = stream_segments(cap, 0)
    prefixes = pd.Series(["[TCP Retransmission]"], index=[int(rows["frame"].iloc[1])])
    figure = ladder_figure(cap.segments, cap.connections, 0, label_prefixes=prefixes)
    texts = {
        int(f): text
        for t in traces(figure, "segments")
        for f, text in zip(t.customdata, t.text, strict=True)
    }
    assert texts[int(rows["frame"].iloc[1])].startswith("[TCP Retransmission] [")
    assert texts[int(rows["frame"].iloc[0])].startswith("[SYN]")
