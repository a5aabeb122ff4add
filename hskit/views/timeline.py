"""State timelines: endpoint states as coloured bars over capture time, and state counts.

One bar trace per TCP state (its intervals' coordinates side by side), so a figure
costs at most eleven bar traces whatever the number of connections.

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
#: Connections drawn by default in the one-row-per-connection timeline.
DEFAULT_MAX_ROWS = 500
#: Above this many points a count line is drawn with WebGL.
WEBGL_POINTS = 5_000
_ROW_PX = 30
_MAX_HEIGHT = 760
_BAR_WIDTH = 0.36


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


def _state_bars(
    states: pd.DataFrame, y: npt.NDArray[np.float64], *, width: float, show_text: bool
) -> list[go.Bar]:
    """One horizontal bar trace per state present: bars from ``start`` to ``end`` at ``y``."""
    end = interval_ends(states)
    start = states["start"].to_numpy(float)
    hover = _interval_hover(states, end).to_numpy(dtype=object)
    names = states["state"].to_numpy().astype(str)
    traces = []
    for state in TCP_STATES:
        mask = names == state
        if not mask.any():
            continue
        traces.append(
            go.Bar(
                orientation="h",
                base=start[mask],
                x=end[mask] - start[mask],
                y=y[mask],
                width=width,
                name=state,
                marker={"color": STATE_COLORS[state], "line": {"width": 0}},
                text=names[mask] if show_text else None,
                textposition="inside",
                insidetextanchor="middle",
                hovertext=hover[mask],
                hovertemplate="%{hovertext}<extra></extra>",
                meta={"role": "states", "state": state},
            )
        )
    return traces


def state_timeline_figure(
    states: pd.DataFrame, stream: int, *, connections: pd.DataFrame | None = None
) -> go.Figure:
    """Both endpoints' states of ``stream`` as bars over capture time, with transition marks.

    The initial x range covers the transitions caused by segments; a long TIME_WAIT
    runs on past its right edge (zoom out or double-click to see it whole). ``connections``, when
    given, puts the endpoints' addresses in the title.

    >>> fig = state_timeline_figure(cap.states, 0)  # doctest: +SKIP
    >>> [trace.name for trace in fig.data][:2]  # doctest: +SKIP
    ['SYN_SENT', 'ESTABLISHED']
    """
    rows = states.loc[states["stream"].to_numpy() == stream].reset_index(drop=True)
    y = np.where(rows["endpoint"].to_numpy().astype(str) == ENDPOINTS[0], 0.0, 1.0)
    figure = go.Figure(_state_bars(rows, y, width=0.6, show_text=True))
    start = rows["start"].to_numpy(float)
    states_text = rows["state"].to_numpy().astype(str)
    frames = rows["cause_frame"].astype("string").fillna("-").to_numpy().astype(str)
    figure.add_trace(
        go.Scatter(
            x=start,
            y=y,
            mode="markers",
            marker={"symbol": "line-ns", "size": 22, "line": {"width": 2, "color": "#222222"}},
            customdata=rows["cause_frame"].astype("Float64").to_numpy(float, na_value=np.nan),
            hovertext=np.char.add(np.char.add(np.char.add("→ ", states_text), " · frame "), frames),
            hovertemplate="%{hovertext}<br>%{x:.6f} s<extra></extra>",
            name="transition",
            meta={"role": "transitions"},
        )
    )
    title = f"stream {stream}: endpoint states"
    labels = list(ENDPOINTS)
    if connections is not None:
        match = connections.loc[connections["stream"].to_numpy() == stream]
        if not match.empty:
            row = match.iloc[0]
            labels = [
                f"{ENDPOINTS[0]}<br>{row['client_ip']}:{row['client_port']}",
                f"{ENDPOINTS[1]}<br>{row['server_ip']}:{row['server_port']}",
            ]
    _timeline_layout(figure, title, height=360)
    figure.update_yaxes(tickvals=[0, 1], ticktext=labels, range=[1.6, -0.6])
    # Frame-caused transitions set the initial range; a timer (TIME_WAIT's end) may run past it.
    caused = start[rows["cause_frame"].notna().to_numpy()]
    caused = caused if len(caused) else start
    if len(caused):
        first = min(float(start.min()), float(caused.min()))
        span = max(float(caused.max()) - first, 1e-6)
        figure.update_xaxes(range=[first - 0.05 * span, float(caused.max()) + 0.25 * span])
    return figure


def connections_timeline_figure(
    states: pd.DataFrame,
    connections: pd.DataFrame,
    streams: Iterable[int] | None = None,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> go.Figure:
    """One row per connection: the client's states (upper bar) and the server's (lower bar).

    ``streams`` picks the connections to draw, in that order; by default the first
    ``max_rows`` connections by stream (a browser draws a few thousand bars quickly,
    not a million).

    >>> connections_timeline_figure(cap.states, cap.connections, [0, 3])  # doctest: +SKIP
    """
    every = connections["stream"].to_numpy(np.int64)
    chosen = every[:max_rows] if streams is None else np.fromiter(streams, dtype=np.int64)
    order = pd.Series(np.arange(len(chosen)), index=chosen)
    rows = states.loc[np.isin(states["stream"].to_numpy(np.int64), chosen)]
    rows = rows.reset_index(drop=True)
    row_of = order.reindex(rows["stream"].to_numpy(np.int64)).to_numpy(float)
    is_client = rows["endpoint"].to_numpy().astype(str) == ENDPOINTS[0]
    y = row_of + np.where(is_client, -_BAR_WIDTH / 2 - 0.02, _BAR_WIDTH / 2 + 0.02)
    figure = go.Figure(_state_bars(rows, y, width=_BAR_WIDTH, show_text=False))
    labels = connection_labels(connections, chosen).tolist()
    height = int(min(_MAX_HEIGHT, 150 + _ROW_PX * max(len(chosen), 4)))
    _timeline_layout(
        figure, f"{len(chosen)} connections: client (upper) and server (lower)", height
    )
    visible = (_MAX_HEIGHT - 150) // _ROW_PX
    figure.update_yaxes(
        tickvals=np.arange(len(chosen)),
        ticktext=labels,
        range=[min(len(chosen), visible) - 0.5, -0.5],
    )
    return figure


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
) -> go.Figure:
    """Endpoints in each state over capture time, as step lines (see :func:`state_counts`).

    The capture-time version of ``ss -tan | awk '{print $1}' | sort | uniq -c``.

    >>> state_counts_figure(cap.states).write_html("counts.html")  # doctest: +SKIP
    """
    counts = state_counts(states, endpoint=endpoint, exclude=exclude)
    figure = go.Figure()
    times = counts.index.to_numpy(float)
    for state in counts.columns:
        values = counts[state].to_numpy()
        if not values.any():
            continue
        # Only the times where this state's count changes: a step line needs no others.
        changes = np.flatnonzero(np.diff(values, prepend=values[0] - 1))
        line_type = go.Scattergl if len(changes) > WEBGL_POINTS else go.Scatter
        figure.add_trace(
            line_type(
                x=times[changes],
                y=values[changes],
                mode="lines",
                line={"shape": "hv", "color": STATE_COLORS[state], "width": 2},
                name=state,
                hovertemplate=f"{state}: %{{y}} at %{{x:.6f}} s<extra></extra>",
                meta={"role": "counts", "state": state},
            )
        )
    side = "client and server sockets" if endpoint is None else f"{endpoint} sockets"
    _timeline_layout(figure, f"{side} in each state over time", height=420)
    figure.update_yaxes(title="sockets", rangemode="tozero")
    figure.update_layout(hovermode="x unified")
    return figure


def _timeline_layout(figure: go.Figure, title: str, height: int) -> None:
    figure.update_layout(
        title={"text": title, "font": {"size": 14}},
        height=height,
        barmode="overlay",
        plot_bgcolor="white",
        margin={"l": 20, "r": 20, "t": 60, "b": 100},
        legend={"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0, "x": 0},
        uniformtext={"minsize": 8, "mode": "hide"},
        dragmode="pan",
    )
    figure.update_xaxes(title="capture time (s)", showgrid=True, gridcolor="#EEEEEE")
