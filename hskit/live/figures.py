"""The live view's figures, from a live connections table (plotly, usable anywhere).

- :func:`states_now_figure`: clients and servers in each TCP state now (the live
  ``ss -tan | awk '{print $1}' | sort | uniq -c``);
- :func:`new_connections_figure`: connections started per second, stacked by
  handshake outcome, over the last ``window`` seconds;
- :func:`rtt_percentiles_figure`: p50/p90/p99 of the handshake time of complete
  handshakes that started in the ``sliding`` seconds before each second.

>>> states_now_figure(live.connections).data[0].y  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from hskit.schema import HANDSHAKE_LABELS, TCP_STATES
from hskit.views.palette import HANDSHAKE_COLORS, OKABE_ITO

#: seconds of history the per-second figures show.
WINDOW = 60
#: seconds of connections each RTT percentile is computed over.
SLIDING = 10
#: the handshake time percentiles drawn, with their colours.
PERCENTILES: dict[int, str] = {
    50: OKABE_ITO["bluish_green"],
    90: OKABE_ITO["orange"],
    99: OKABE_ITO["vermillion"],
}
#: the endpoints counted in the states figure, with their colours.
ENDPOINT_COLORS: dict[str, str] = {"client": OKABE_ITO["blue"], "server": OKABE_ITO["orange"]}
HEIGHT = 260


def states_now(connections: pd.DataFrame) -> pd.DataFrame:
    """Clients and servers in each TCP state now: one row per state of the vocabulary.

    >>> rows = pd.DataFrame({"client_state": ["ESTABLISHED"], "server_state": ["ESTABLISHED"]})
    >>> states_now(rows).loc["ESTABLISHED"].tolist()
    [1, 1]
    """
    return pd.DataFrame(
        {
            endpoint: connections[f"{endpoint}_state"]
            .value_counts()
            .reindex(TCP_STATES, fill_value=0)
            .astype(int)
            for endpoint in ENDPOINT_COLORS
        },
        index=pd.Index(TCP_STATES, name="state"),
    )


def states_now_figure(connections: pd.DataFrame) -> go.Figure:
    """Grouped bars: clients and servers in each state now, every state shown."""
    counts = states_now(connections)
    return go.Figure(
        [
            go.Bar(name=f"{endpoint}s", x=list(TCP_STATES), y=counts[endpoint].tolist(),
                   marker_color=color, text=counts[endpoint].tolist(), cliponaxis=False)
            for endpoint, color in ENDPOINT_COLORS.items()
        ],
        layout=_layout("connections by state now", "connections"),
    )  # fmt: skip


def _seconds(connections: pd.DataFrame) -> pd.Series:
    """Each connection's first segment, floored to the second (UTC)."""
    return connections["first_ts"].dt.floor("s")


def _window(connections: pd.DataFrame, window: int) -> pd.DatetimeIndex:
    """The last ``window`` whole seconds up to the newest connection's start."""
    if connections.empty:
        return pd.DatetimeIndex([], tz="UTC")
    last = _seconds(connections).max()
    return pd.date_range(end=last, periods=window, freq="s")


def new_connections(connections: pd.DataFrame, window: int = WINDOW) -> pd.DataFrame:
    """Connections started per second by handshake outcome, over the last ``window`` s.

    >>> new_connections(live.connections).sum()["complete"]  # doctest: +SKIP
    """
    seconds = _window(connections, window)
    recent = _since(connections, seconds)
    # one count per (second, outcome) cell: a bincount of the cells' flat positions
    # (a crosstab costs a pivot table at every redraw)
    labels = recent["handshake"].cat.set_categories(HANDSHAKE_LABELS).cat.codes.to_numpy()
    first = seconds.asi8[0] if len(seconds) else 0  # no seconds: no connections either
    second = (_seconds(recent).array.asi8 - first) // 1_000_000_000
    known = labels >= 0
    cells = second[known] * len(HANDSHAKE_LABELS) + labels[known]
    counts = np.bincount(cells, minlength=len(seconds) * len(HANDSHAKE_LABELS))
    return pd.DataFrame(
        counts.reshape(len(seconds), len(HANDSHAKE_LABELS)).astype(int),
        index=seconds.rename("second"),
        columns=pd.Index(HANDSHAKE_LABELS, name="handshake"),
    )


def new_connections_figure(connections: pd.DataFrame, window: int = WINDOW) -> go.Figure:
    """Stacked bars: connections started per second by handshake outcome."""
    table = new_connections(connections, window)
    return go.Figure(
        [
            go.Bar(name=label, x=table.index, y=table[label].tolist(),
                   marker_color=HANDSHAKE_COLORS[label])
            for label in HANDSHAKE_LABELS
            if table[label].any()
        ],
        layout=_layout("new connections per second by handshake", "connections/s",
                       barmode="stack"),
    )  # fmt: skip


def rtt_percentiles(
    connections: pd.DataFrame, window: int = WINDOW, sliding: int = SLIDING
) -> pd.DataFrame:
    """Handshake time percentiles (ms) of complete handshakes that started in the
    ``sliding`` seconds up to each second of the last ``window``; NaN where none did.

    >>> rtt_percentiles(live.connections)[50].dropna()  # doctest: +SKIP
    """
    seconds = _window(connections, window)
    recent = _since(connections, seconds - pd.Timedelta(seconds=sliding))
    complete = recent[(recent["handshake"] == "complete") & recent["handshake_time"].notna()]
    order = np.argsort(_seconds(complete).array.asi8, kind="stable")
    started = _seconds(complete).array.asi8[order]
    times = complete["handshake_time"].to_numpy(dtype=float)[order] * 1e3
    # the handshakes started in (second - sliding, second], a slice of those by start
    ends = np.searchsorted(started, seconds.asi8, side="right")
    begins = np.searchsorted(started, seconds.asi8 - sliding * 1_000_000_000, side="right")
    rows = [
        np.percentile(times[begin:end], list(PERCENTILES)) if end > begin else
        np.full(len(PERCENTILES), np.nan)
        for begin, end in zip(begins, ends, strict=True)
    ]  # fmt: skip
    return pd.DataFrame(
        np.array(rows).reshape(len(seconds), len(PERCENTILES)),
        index=seconds.rename("second"),
        columns=list(PERCENTILES),
    )


def rtt_percentiles_figure(
    connections: pd.DataFrame, window: int = WINDOW, sliding: int = SLIDING
) -> go.Figure:
    """Lines: p50, p90, p99 of the handshake time over a sliding window."""
    table = rtt_percentiles(connections, window, sliding)
    return go.Figure(
        [
            go.Scatter(name=f"p{p}", x=table.index, y=table[p].tolist(), mode="lines+markers",
                       line_color=color, connectgaps=False)
            for p, color in PERCENTILES.items()
        ],
        layout=_layout(f"handshake time percentiles over the last {sliding} s", "ms"),
    )  # fmt: skip


def _since(connections: pd.DataFrame, seconds: pd.DatetimeIndex) -> pd.DataFrame:
    """The connections that started in or after the first of ``seconds`` (all when there
    are none): what a figure of those seconds counts, however long the capture.

    >>> len(_since(live.connections, pd.DatetimeIndex([], tz="UTC")))  # doctest: +SKIP
    """
    if not len(seconds):
        return connections
    return connections[_seconds(connections).array.asi8 >= seconds.asi8[0]]


def _layout(title: str, y_title: str, **more: object) -> dict[str, object]:
    """The layout every live figure has (passed to ``go.Figure``, which checks it once:
    ``update_layout`` after it would copy it again, at each redraw).

    >>> _layout("connections by state now", "connections")["height"]
    260
    """
    return {
        "title": title,
        "height": HEIGHT,
        "margin": {"l": 50, "r": 10, "t": 40, "b": 40},
        "yaxis_title": y_title,
        "legend": {"orientation": "h", "y": -0.25},
        "uirevision": "live",  # zoom and legend choices survive the updates
        **more,
    }
