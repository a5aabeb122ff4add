"""Capture-wide summaries: how connections opened and closed, and how long handshakes took.

>>> cap = hskit.load("sample_pcaps/busy_server.pcap")  # doctest: +SKIP
>>> handshake_figure(cap.connections).write_html("handshakes.html")  # doctest: +SKIP
>>> handshake_rtt_figure(cap.connections, kind="ecdf").show()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from hskit.schema import CLOSER_LABELS, HANDSHAKE_LABELS, TERMINATION_LABELS
from hskit.views.palette import CLOSER_COLORS, HANDSHAKE_COLORS, OKABE_ITO
from hskit.wording import counted

#: The handshake timings of a connection row, with their legend names.
RTT_COLUMNS: dict[str, str] = {
    "rtt_syn_synack": "SYN → SYN-ACK",
    "rtt_synack_ack": "SYN-ACK → ACK",
    "handshake_time": "handshake (SYN → ACK)",
}
_RTT_COLORS = (OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["bluish_green"])
_NO_CLOSER = "none"
#: An ECDF keeps at most this many of its steps (evenly spaced ranks): enough for the eye.
ECDF_POINTS = 2_000


def handshake_figure(connections: pd.DataFrame) -> go.Figure:
    """Connections per ``handshake`` label, every label of the vocabulary shown (zero too).

    >>> handshake_figure(cap.connections).data[0].x  # doctest: +SKIP
    """
    counts = connections["handshake"].value_counts().reindex(HANDSHAKE_LABELS, fill_value=0)
    figure = go.Figure(
        go.Bar(
            x=list(HANDSHAKE_LABELS),
            y=counts.to_numpy(),
            marker={"color": [HANDSHAKE_COLORS[label] for label in HANDSHAKE_LABELS]},
            text=counts.to_numpy(),
            textposition="outside",
            cliponaxis=False,  # the tallest bar's count above the plot area, not cut
            hovertemplate="%{x}: %{y} connections<extra></extra>",
            meta={"role": "handshake"},
        )
    )
    _layout(
        figure, f"how {counted(len(connections), 'connection')} opened", "handshake", "connections"
    )
    return figure


def termination_figure(connections: pd.DataFrame) -> go.Figure:
    """Connections per ``termination`` label, stacked by who closed first (``closer``).

    >>> termination_figure(cap.connections).data[0].name  # doctest: +SKIP
    'client'
    """
    closer = connections["closer"].astype("string").fillna(_NO_CLOSER)
    table = pd.crosstab(connections["termination"].astype("string"), closer)
    table = table.reindex(
        index=list(TERMINATION_LABELS), columns=[*CLOSER_LABELS, _NO_CLOSER], fill_value=0
    )
    figure = go.Figure(
        [
            go.Bar(
                x=list(TERMINATION_LABELS),
                y=table[who].to_numpy(),
                name=f"closer: {who}",
                marker={"color": CLOSER_COLORS[who]},
                hovertemplate=f"%{{x}}, closer {who}: %{{y}} connections<extra></extra>",
                meta={"role": "termination", "closer": who},
            )
            for who in table.columns
        ]
    )
    _layout(
        figure,
        f"how {counted(len(connections), 'connection')} closed",
        "termination",
        "connections",
    )
    figure.update_layout(barmode="stack")
    return figure


def handshake_rtt_figure(
    connections: pd.DataFrame, kind: Literal["histogram", "ecdf"] = "ecdf"
) -> go.Figure:
    """Distribution of the handshake timings, in milliseconds: an ECDF or a histogram.

    Connections without a complete handshake (NA timings) are left out; an ECDF of
    more than :data:`ECDF_POINTS` connections is drawn through that many of its steps.

    >>> handshake_rtt_figure(cap.connections, kind="histogram")  # doctest: +SKIP
    """
    if kind not in ("histogram", "ecdf"):
        raise ValueError(f"kind must be 'histogram' or 'ecdf', not {kind!r}")
    figure = go.Figure()
    for (column, name), color in zip(RTT_COLUMNS.items(), _RTT_COLORS, strict=True):
        values = connections[column].to_numpy(float)
        millis = np.sort(values[np.isfinite(values)]) * 1e3
        if kind == "histogram":
            trace: go.Histogram | go.Scatter = go.Histogram(
                x=millis, name=name, marker={"color": color}, opacity=0.6
            )
        else:
            ranks = np.unique(np.linspace(0, len(millis) - 1, ECDF_POINTS).round().astype(int))
            ranks = ranks if len(millis) > ECDF_POINTS else np.arange(len(millis))
            trace = go.Scatter(
                x=millis[ranks].astype(np.float32),
                y=((ranks + 1) / max(len(millis), 1)).astype(np.float32),
                mode="lines",
                line={"shape": "hv", "color": color, "width": 2},
                name=name,
                hovertemplate=f"{name}: %{{y:.1%}} ≤ %{{x:.3f}} ms<extra></extra>",
            )
        trace.meta = {"role": "rtt", "column": column}
        figure.add_trace(trace)
    y_title = "connections" if kind == "histogram" else "fraction of connections"
    _layout(figure, "handshake timings", "milliseconds", y_title)
    figure.update_layout(barmode="overlay")
    return figure


def _layout(figure: go.Figure, title: str, x_title: str, y_title: str) -> None:
    figure.update_layout(
        title={"text": title, "font": {"size": 14}},
        height=380,
        plot_bgcolor="white",
        margin={"l": 20, "r": 20, "t": 60, "b": 40},
    )
    figure.update_xaxes(title=x_title)
    figure.update_yaxes(title=y_title, showgrid=True, gridcolor="#EEEEEE", rangemode="tozero")
