"""State timelines: endpoint states as coloured bars over capture time, and state counts.

What the capture shows is drawn solid; what is inferred past the capture's end (the
TIME_WAIT timer running to ``time_wait_end``) is hatched and faded, and the capture's
end is marked. One connection is a pair of bar rows whose x range always covers its
segments; every connection at once is one line per endpoint and connection (one line
trace per state, so 50,000 connections cost a dozen traces), none left out; counts
over time are small multiples, one panel and scale per state.

>>> cap = hskit.load("sample_pcaps/close_client_first.pcap")  # doctest: +SKIP
>>> state_timeline_figure(cap.states, 0).write_html("states.html")  # doctest: +SKIP
>>> state_counts(cap.states).loc[:, "TIME_WAIT"].max()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.graph_objects as go

from hskit.schema import ENDPOINTS, TCP_STATES
from hskit.timing import endpoint_text
from hskit.views.palette import STATE_COLORS

#: States without a socket: ``ss`` never lists them, so counts leave them out by default.
NO_SOCKET_STATES: tuple[str, ...] = ("CLOSED",)
#: The state whose end is a timer, not a segment: past the capture's end it is inferred.
TIMER_STATE = "TIME_WAIT"
#: Rows on screen at first in the all-connections view (drag or scroll for the others).
VISIBLE_ROWS = 60
#: Above this many rows the all-connections view has no per-row tick labels …
ROW_LABELS_LIMIT = 300
#: … and above this many intervals no hover points (the lines alone stay light).
HOVER_LIMIT = 20_000
#: Hatching of what is inferred rather than seen.
INFERRED_PATTERN = {"shape": "/", "fgcolor": "#444444", "solidity": 0.25}
INFERRED_OPACITY = 0.4
_ROW_PX = 12
_MAX_HEIGHT = 760
_BAR_WIDTH = 0.36
_PANEL_PX = 95
_MARGIN_TOP = 60
_NOTE_PX = 14


def interval_ends(states: pd.DataFrame) -> npt.NDArray[np.float64]:
    """Each interval's end, with an open end (NaN or infinite) cut at the last known time.

    >>> rows = pd.DataFrame({"start": [0.0, 1.0], "end": [1.0, float("nan")]})
    >>> interval_ends(rows).tolist()
    [1.0, 1.0]
    """
    start = states["start"].to_numpy(float)
    end = states["end"].to_numpy(float)
    known = np.concatenate([start[np.isfinite(start)], end[np.isfinite(end)]])
    last = known.max() if len(known) else 0.0
    return np.where(np.isfinite(end), end, last)


def _interval_hover(states: pd.DataFrame, end: npt.NDArray[np.float64]) -> pd.Series:
    """Stream, endpoint, state, start → end (duration) and cause frame of each interval."""
    start = states["start"].to_numpy(float)
    index = states.index

    def seconds(values: npt.NDArray[np.float64]) -> pd.Series:
        return pd.Series(np.char.mod("%.6f", values), index=index)

    return (
        "stream "
        + states["stream"].astype("string")
        + " · "
        + states["endpoint"].astype("string")
        + "<br><b>"
        + states["state"].astype("string")
        + "</b><br>"
        + seconds(start)
        + " → "
        + seconds(end)
        + " s (for "
        + seconds(end - start)
        + " s)<br>cause frame "
        + states["cause_frame"].astype("string").fillna("-")
    )


def split_at_capture_end(
    states: pd.DataFrame, capture_end: float | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The intervals as observed (cut at the capture's end) and their inferred rest after it.

    Each part keeps the interval's columns with ``start``/``end`` clipped to its side;
    an interval entirely after the capture's end is all inferred. Without a capture
    end everything is observed.

    >>> rows = pd.DataFrame({"state": ["ESTABLISHED", "TIME_WAIT"], "start": [0.0, 1.0],
    ...                      "end": [1.0, 61.0]})
    >>> seen, inferred = split_at_capture_end(rows, 2.0)
    >>> seen["end"].tolist(), inferred[["start", "end"]].values.tolist()
    ([1.0, 2.0], [[2.0, 61.0]])
    """
    if capture_end is None:
        return states, states.iloc[:0]
    start = states["start"].to_numpy(float)
    end = interval_ends(states)
    seen = states.loc[start <= capture_end].copy()
    seen["end"] = np.minimum(end[start <= capture_end], capture_end)
    past = end > capture_end
    inferred = states.loc[past].copy()
    inferred["start"] = np.maximum(start[past], capture_end)
    inferred["end"] = end[past]
    return seen, inferred


def _state_bars(
    states: pd.DataFrame,
    y: npt.NDArray[np.float64],
    *,
    width: float,
    show_text: bool,
    inferred: bool = False,
) -> list[go.Bar]:
    """One horizontal bar trace per state present: bars from ``start`` to ``end`` at ``y``.

    ``inferred`` bars (past the capture's end) are hatched and faded, role ``inferred``.
    """
    end = interval_ends(states)
    start = states["start"].to_numpy(float)
    hover = _interval_hover(states, end).to_numpy(dtype=object)
    if inferred:
        hover = hover + "<br><i>after the capture ended: inferred, not seen</i>"
    names = states["state"].to_numpy().astype(str)
    traces = []
    for state in TCP_STATES:
        mask = names == state
        if not mask.any():
            continue
        marker: dict[str, object] = {"color": STATE_COLORS[state], "line": {"width": 0}}
        if inferred:
            marker["pattern"] = INFERRED_PATTERN
        traces.append(
            go.Bar(
                orientation="h",
                base=start[mask],
                x=end[mask] - start[mask],
                y=y[mask],
                width=width,
                name=f"{state} (inferred)" if inferred else state,
                legendgroup=state,
                showlegend=not inferred,
                opacity=INFERRED_OPACITY if inferred else None,
                marker=marker,
                text=names[mask] if show_text else None,
                textposition="inside",
                insidetextanchor="middle",
                hovertext=hover[mask],
                hovertemplate="%{hovertext}<extra></extra>",
                meta={"role": "inferred" if inferred else "states", "state": state},
            )
        )
    return traces


def _endpoint_rows(states: pd.DataFrame) -> npt.NDArray[np.float64]:
    return np.where(states["endpoint"].to_numpy().astype(str) == ENDPOINTS[0], 0.0, 1.0)


def covered_span(states: pd.DataFrame, times: npt.NDArray[np.float64]) -> tuple[float, float]:
    """The capture times a connection's view must cover: its segments, and the start and
    end of every state a segment caused, except a timer's end (TIME_WAIT runs on after
    the last segment; its end is noted, not squeezed in).

    >>> rows = pd.DataFrame({"state": ["SYN_SENT"], "start": [0.0], "end": [7.0],
    ...                      "cause_frame": [1]})
    >>> covered_span(rows, np.array([0.0, 1.0, 3.0]))
    (0.0, 7.0)
    """
    caused = states.loc[states["cause_frame"].notna().to_numpy()] if len(states) else states
    if len(caused) == 0 and len(times) == 0:
        caused = states
    end = interval_ends(caused) if len(caused) else np.array([])
    not_timer = caused["state"].astype(str).to_numpy() != TIMER_STATE
    known = np.concatenate([times, caused["start"].to_numpy(float), end[not_timer]])
    known = known[np.isfinite(known)]
    if not len(known):
        return 0.0, 1.0
    return float(known.min()), float(known.max())


def state_timeline_figure(
    states: pd.DataFrame,
    stream: int,
    *,
    connections: pd.DataFrame | None = None,
    segments: pd.DataFrame | None = None,
) -> go.Figure:
    """Both endpoints' states of ``stream`` as bars over capture time, with transition marks.

    The x range covers the connection: its segments and every state change caused by
    one (a timer's end, TIME_WAIT's, is noted at the right edge, not squeezed in).
    ``connections`` puts the endpoints' addresses in the title; ``segments`` adds a
    tick per segment on its sender's row, marks the capture's end and hatches what is
    inferred past it.

    >>> fig = state_timeline_figure(cap.states, 0, segments=cap.segments)  # doctest: +SKIP
    >>> [trace.name for trace in fig.data][:2]  # doctest: +SKIP
    ['SYN_SENT', 'ESTABLISHED']
    """
    rows = states.loc[states["stream"].to_numpy() == stream].reset_index(drop=True)
    own = None
    capture_end = None
    if segments is not None and len(segments):
        capture_end = float(segments["time"].max())
        own = segments.loc[segments["stream"].to_numpy() == stream]
    seen, inferred = split_at_capture_end(rows, capture_end)
    figure = go.Figure(_state_bars(seen, _endpoint_rows(seen), width=0.6, show_text=True))
    figure.add_traces(
        _state_bars(inferred, _endpoint_rows(inferred), width=0.6, show_text=True, inferred=True)
    )
    _add_transitions(figure, rows)
    times = np.array([]) if own is None else own["time"].to_numpy(float)
    if own is not None and len(own):
        _add_segment_ticks(figure, own)
    labels = _endpoint_labels(connections, stream)
    _timeline_layout(figure, f"stream {stream}: endpoint states", height=340)
    figure.update_yaxes(tickvals=[0, 1], ticktext=labels, range=[1.6, -0.75])
    first, last = covered_span(rows, times)
    span = max(last - first, 1e-6)
    high = last + 0.12 * span
    figure.update_xaxes(range=[first - 0.05 * span, high])
    notes = _range_notes(rows, capture_end, high)
    if capture_end is not None:
        _mark_capture_end(figure, capture_end)
    if notes:  # one a line: a narrow view (the explorer's) would cut a long line off
        figure.update_layout(
            title_subtitle={"text": "<br>".join(notes), "font": {"size": 11, "color": "#555555"}},
            margin_t=_MARGIN_TOP + _NOTE_PX * (len(notes) - 1),
        )
    figure.update_layout(legend_font_size=10)
    return figure


def _add_transitions(figure: go.Figure, rows: pd.DataFrame) -> None:
    start = rows["start"].to_numpy(float)
    states_text = rows["state"].to_numpy().astype(str)
    frames = rows["cause_frame"].astype("string").fillna("-").to_numpy().astype(str)
    figure.add_trace(
        go.Scatter(
            x=start,
            y=_endpoint_rows(rows),
            mode="markers",
            marker={"symbol": "line-ns", "size": 22, "line": {"width": 2, "color": "#222222"}},
            customdata=rows["cause_frame"].astype("Float64").to_numpy(float, na_value=np.nan),
            hovertext=np.char.add(np.char.add(np.char.add("→ ", states_text), " · frame "), frames),
            hovertemplate="%{hovertext}<br>%{x:.6f} s<extra></extra>",
            name="transition",
            meta={"role": "transitions"},
        )
    )


def _add_segment_ticks(figure: go.Figure, own: pd.DataFrame) -> None:
    """A small tick per segment above its sender's bar: when each was seen."""
    from hskit import flags

    y = np.where(own["from_client"].to_numpy(bool), 0.0, 1.0) - 0.42
    text = (
        "frame " + own["frame"].astype("string") + " · "
        + flags.label(own["flags"], style="wireshark").astype("string")
    )  # fmt: skip
    figure.add_trace(
        go.Scatter(
            x=own["time"].to_numpy(float),
            y=y,
            mode="markers",
            marker={"symbol": "triangle-down", "size": 7, "color": "#333333"},
            customdata=own["frame"].to_numpy(np.int64),
            hovertext=text.to_numpy(dtype=object),
            hovertemplate="%{hovertext}<br>%{x:.6f} s<extra></extra>",
            name="segment sent",
            meta={"role": "segment_times"},
        )
    )


def _endpoint_labels(connections: pd.DataFrame | None, stream: int) -> list[str]:
    if connections is None:
        return list(ENDPOINTS)
    match = connections.loc[connections["stream"].to_numpy() == stream]
    if match.empty:
        return list(ENDPOINTS)
    row = match.iloc[[0]]
    client = endpoint_text(row["client_ip"], row["client_port"]).iloc[0]
    server = endpoint_text(row["server_ip"], row["server_port"]).iloc[0]
    return [f"{ENDPOINTS[0]}<br>{client}", f"{ENDPOINTS[1]}<br>{server}"]


def _range_notes(rows: pd.DataFrame, capture_end: float | None, high: float) -> list[str]:
    """What the x range leaves out or cannot show: timers running on, LISTEN, the end."""
    notes = []
    ends = interval_ends(rows) if len(rows) else np.array([])
    timers = rows.loc[(rows["state"].astype(str).to_numpy() == TIMER_STATE) & (ends > high)]
    if len(timers):
        last = float(timers["end"].max())
        inferred = capture_end is not None and last > capture_end
        who = " and ".join(timers["endpoint"].astype(str).unique())
        notes.append(
            f"{who} {TIMER_STATE} runs on to {last:.3f} s"
            + (" (inferred: past the capture's end)" if inferred else "")
        )
    if (rows["state"].astype(str) == "LISTEN").any():
        notes.append("LISTEN before the SYN: not captured")
    if capture_end is not None and capture_end > high:
        notes.append(f"capture ends at {capture_end:.3f} s")
    return notes


def _mark_capture_end(figure: go.Figure, capture_end: float, *, panels: bool = False) -> None:
    """A dashed vertical line at the capture's last segment, labelled (once across
    ``panels`` of shared-x small multiples)."""
    figure.add_shape(
        type="line", xref="x", yref="paper", x0=capture_end, x1=capture_end, y0=0, y1=1,
        line={"color": "#222222", "width": 1.5, "dash": "dash"}, name="capture end",
    )  # fmt: skip
    figure.add_annotation(
        x=capture_end, xref="x", y=0 if not panels else 1, yref="paper",
        xanchor="right", yanchor="bottom", text="capture ends", showarrow=False,
        font={"size": 10},
    )  # fmt: skip


def connections_timeline_figure(
    states: pd.DataFrame,
    connections: pd.DataFrame,
    streams: Iterable[int] | None = None,
    *,
    capture_end: float | None = None,
) -> go.Figure:
    """One row per connection: the client's states (upper line) and the server's (lower).

    Every connection is drawn (``streams`` picks some, in that order); the first
    :data:`VISIBLE_ROWS` rows are on screen, the others a drag or a scroll away. Lines
    (one trace per state) keep 50,000 connections light. The x range is the capture;
    with ``capture_end`` the end is marked and what runs past it (TIME_WAIT timers)
    is drawn faded and dotted.

    >>> connections_timeline_figure(cap.states, cap.connections, capture_end=22.1)  # doctest: +SKIP
    """
    every = connections["stream"].to_numpy(np.int64)
    chosen = every if streams is None else np.fromiter(streams, dtype=np.int64)
    order = pd.Series(np.arange(len(chosen)), index=chosen)
    rows = states.loc[np.isin(states["stream"].to_numpy(np.int64), chosen)]
    rows = rows.reset_index(drop=True)
    seen, inferred = split_at_capture_end(rows, capture_end)
    visible = min(len(chosen), VISIBLE_ROWS)
    height = int(min(_MAX_HEIGHT, 170 + _ROW_PX * max(visible, 6) * 2))
    row_px = (height - 170) / max(visible, 1)
    width = float(np.clip(0.3 * row_px, 1.0, 7.0))
    figure = go.Figure()
    for part, is_inferred in ((seen, False), (inferred, True)):
        row_of = order.reindex(part["stream"].to_numpy(np.int64)).to_numpy(float)
        is_client = part["endpoint"].to_numpy().astype(str) == ENDPOINTS[0]
        y = row_of + np.where(is_client, -_BAR_WIDTH / 2, _BAR_WIDTH / 2)
        figure.add_traces(_state_lines(part, y, width, inferred=is_inferred))
    if len(rows) <= HOVER_LIMIT:
        _add_interval_hover(figure, seen, order)
    shown = (
        f"rows 1–{visible} on screen, drag or scroll for the rest"
        if visible < len(chosen)
        else "all on screen"
    )
    _timeline_layout(
        figure,
        f"all {len(chosen):,} connections, client (upper) and server (lower) line: {shown}",
        height,
    )
    figure.update_layout(hovermode="closest")
    labels = len(chosen) <= ROW_LABELS_LIMIT
    figure.update_yaxes(
        tickvals=np.arange(len(chosen)) if labels else None,
        ticktext=connection_labels(connections, chosen).tolist() if labels else None,
        title=None if labels else "connection (row, in stream order)",
        range=[visible - 0.5, -0.5],
        showgrid=False,
    )
    if capture_end is not None:
        _mark_capture_end(figure, capture_end)
        figure.update_xaxes(range=[0, capture_end * 1.02])
    return figure


def _state_lines(
    part: pd.DataFrame, y: npt.NDArray[np.float64], width: float, *, inferred: bool
) -> list[go.Scatter]:
    """One line trace per state: each interval a horizontal piece at its row."""
    start = part["start"].to_numpy(float)
    end = interval_ends(part) if len(part) else start
    names = part["state"].to_numpy().astype(str)
    traces = []
    for state in TCP_STATES:
        mask = names == state
        if not mask.any():
            continue
        pieces_x = np.full((int(mask.sum()), 3), np.nan)
        pieces_x[:, 0], pieces_x[:, 1] = start[mask], end[mask]
        pieces_y = np.full_like(pieces_x, np.nan)
        pieces_y[:, 0] = pieces_y[:, 1] = y[mask]
        traces.append(
            go.Scatter(
                x=pieces_x.ravel(),
                y=pieces_y.ravel(),
                mode="lines",
                line={"color": STATE_COLORS[state], "width": width,
                      "dash": "dot" if inferred else "solid"},
                opacity=INFERRED_OPACITY if inferred else 1.0,
                name=f"{state} (inferred)" if inferred else state,
                legendgroup=state,
                showlegend=not inferred,
                hoverinfo="skip",
                meta={"role": "inferred" if inferred else "states", "state": state},
            )
        )  # fmt: skip
    return traces


def _add_interval_hover(figure: go.Figure, seen: pd.DataFrame, order: pd.Series) -> None:
    """Invisible points at each observed interval's middle, carrying its hover text."""
    if seen.empty:
        return
    end = interval_ends(seen)
    start = seen["start"].to_numpy(float)
    row_of = order.reindex(seen["stream"].to_numpy(np.int64)).to_numpy(float)
    is_client = seen["endpoint"].to_numpy().astype(str) == ENDPOINTS[0]
    figure.add_trace(
        go.Scatter(
            x=(start + end) / 2,
            y=row_of + np.where(is_client, -_BAR_WIDTH / 2, _BAR_WIDTH / 2),
            mode="markers",
            marker={"size": 8, "opacity": 0},
            hovertext=_interval_hover(seen, end).to_numpy(dtype=object),
            hovertemplate="%{hovertext}<extra></extra>",
            customdata=seen["stream"].to_numpy(np.int64),
            showlegend=False,
            name="intervals",
            meta={"role": "hover"},
        )
    )


def connection_labels(connections: pd.DataFrame, streams: npt.ArrayLike | None = None) -> pd.Series:
    """``stream · client ip:port → server ip:port`` for each of ``streams`` (default: all).

    >>> connection_labels(cap.connections, [0]).iloc[0]  # doctest: +SKIP
    '0 · 10.0.0.1:40000 → 10.0.0.2:80'
    """
    every = connections["stream"].to_numpy(np.int64)
    client = endpoint_text(connections["client_ip"], connections["client_port"])
    server = endpoint_text(connections["server_ip"], connections["server_port"])
    labels = pd.Series(
        (pd.Series(every).astype("string") + " · " + client + " → " + server).to_numpy(),
        index=every,
        dtype="string",
    )
    chosen = every if streams is None else np.asarray(streams, dtype=np.int64)
    number = pd.Series(chosen, index=chosen).astype("string")
    return labels.reindex(chosen).fillna(number)


def state_counts(
    states: pd.DataFrame,
    *,
    endpoint: str | None = None,
    exclude: Iterable[str] = NO_SOCKET_STATES,
) -> pd.DataFrame:
    """How many endpoints are in each state, from each change on: a sweep over the intervals.

    Each row is a capture time where some count changes; its values hold until the
    next row (intervals are ``[start, end)``; an open end never closes). Each
    endpoint is one socket, as ``ss -tan`` counts them; ``endpoint="client"`` or
    ``"server"`` counts one side only, ``exclude`` drops states without a socket.

    >>> rows = pd.DataFrame({"stream": [0, 1], "endpoint": ["client", "client"],
    ...                      "state": ["ESTABLISHED"] * 2, "start": [0.0, 1.0], "end": [2.0, 3.0]})
    >>> state_counts(rows)["ESTABLISHED"].tolist()
    [1, 2, 1, 0]
    """
    rows = states
    if endpoint is not None:
        rows = rows.loc[rows["endpoint"].to_numpy().astype(str) == endpoint]
    excluded = set(exclude)
    kept = [state for state in TCP_STATES if state not in excluded]
    code = pd.Index(kept).get_indexer(rows["state"].astype(str)).astype(np.int64)
    start = rows["start"].to_numpy(float)[code >= 0]
    end = rows["end"].to_numpy(float)[code >= 0]
    code = code[code >= 0]
    closes = np.isfinite(end)
    times, slot = np.unique(np.concatenate([start, end[closes]]), return_inverse=True)
    change = np.concatenate([np.ones(len(start)), -np.ones(int(closes.sum()))])
    cell = slot * len(kept) + np.concatenate([code, code[closes]])
    deltas = np.bincount(cell, weights=change, minlength=len(times) * len(kept))
    counts = deltas.reshape(len(times), len(kept)).cumsum(axis=0).round().astype(np.int64)
    return pd.DataFrame(
        counts, index=pd.Index(times, name="time"), columns=pd.Index(kept, name="state")
    )


def state_counts_figure(
    states: pd.DataFrame,
    *,
    endpoint: str | None = None,
    exclude: Iterable[str] = NO_SOCKET_STATES,
    capture_end: float | None = None,
    connections: pd.DataFrame | None = None,
) -> go.Figure:
    """Endpoints in each state over capture time, as step lines (see :func:`state_counts`).

    The capture-time version of ``ss -tan | awk '{print $1}' | sort | uniq -c``, as
    small multiples: one panel per state with its own scale, so a state that dwarfs the
    rest (thousands in TIME_WAIT) leaves the others readable. With ``capture_end`` the
    x range is the capture and what follows it (TIME_WAIT timers running out) is
    shaded as inferred. LISTEN is not counted: one listening socket serves every
    connection to its port, and the capture cannot tell how long it listened;
    ``connections`` adds how many listening ports answered.

    >>> state_counts_figure(cap.states, capture_end=22.1).show()  # doctest: +SKIP
    """
    from plotly.subplots import make_subplots

    counts = state_counts(states, endpoint=endpoint, exclude=exclude)
    present = [state for state in counts.columns if counts[state].to_numpy().any()]
    figure = make_subplots(
        rows=max(len(present), 1),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=min(0.04, 0.3 / max(len(present), 1)),
        subplot_titles=present or None,
    )
    times = counts.index.to_numpy(float)
    for panel, state in enumerate(present, start=1):
        values = counts[state].to_numpy()
        # Only the times where this state's count changes: a step line needs no others.
        changes = np.flatnonzero(np.diff(values, prepend=values[0] - 1))
        figure.add_trace(
            go.Scatter(
                x=times[changes],
                y=values[changes],
                mode="lines",
                line={"shape": "hv", "color": STATE_COLORS[state], "width": 2},
                name=state,
                hovertemplate=f"{state}: %{{y}} at %{{x:.6f}} s<extra></extra>",
                meta={"role": "counts", "state": state},
            ),
            row=panel,
            col=1,
        )
        figure.update_yaxes(rangemode="tozero", row=panel, col=1, nticks=3)
    side = "client and server sockets" if endpoint is None else f"{endpoint} sockets"
    _timeline_layout(
        figure, f"{side} in each state over time (each panel its own scale)",
        height=110 + _PANEL_PX * max(len(present), 1),
    )  # fmt: skip
    figure.update_layout(hovermode="x unified", showlegend=False, margin={"b": 60, "t": 95})
    figure.update_annotations(font={"size": 11}, x=0, xanchor="left")
    figure.update_layout(
        title_subtitle={"text": _listen_note(connections), "font": {"size": 11, "color": "#555555"}}
    )
    figure.update_xaxes(title=None)
    figure.update_xaxes(title="capture time (s)", row=max(len(present), 1), col=1)
    if capture_end is not None and len(times):
        last = float(times[np.isfinite(times)].max())
        if last > capture_end:
            figure.add_shape(
                type="rect", xref="x", yref="paper", x0=capture_end, x1=last, y0=0, y1=1,
                fillcolor="#999999", opacity=0.15, line_width=0, layer="below",
                name="inferred",
            )  # fmt: skip
        _mark_capture_end(figure, capture_end, panels=True)
        figure.update_xaxes(range=[0, capture_end * 1.08])
        figure.add_annotation(
            x=capture_end, xref="x", y=1, yref="paper", yanchor="bottom", xanchor="left",
            text="→ inferred",
            showarrow=False, font={"size": 10, "color": "#555555"},
        )  # fmt: skip
    return figure


def _listen_note(connections: pd.DataFrame | None) -> str:
    note = (
        "LISTEN is not counted: one listening socket serves all its connections, "
        "and the capture cannot tell how long it listened"
    )
    if connections is None or connections.empty:
        return note
    answered = connections["synack_count"].to_numpy(np.int64) > 0
    ports = connections.loc[answered, ["server_ip", "server_port"]].drop_duplicates()
    word = "port" if len(ports) == 1 else "ports"
    return f"{note} ({len(ports)} listening {word} answered a SYN)"


def _timeline_layout(figure: go.Figure, title: str, height: int) -> None:
    figure.update_layout(
        title={"text": title, "font": {"size": 14}},
        height=height,
        barmode="overlay",
        plot_bgcolor="white",
        margin={"l": 20, "r": 20, "t": _MARGIN_TOP, "b": 100},
        legend={"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0, "x": 0},
        modebar={"orientation": "v"},
        uniformtext={"minsize": 8, "mode": "hide"},
        dragmode="pan",
    )
    figure.update_xaxes(title="capture time (s)", showgrid=True, gridcolor="#EEEEEE")
