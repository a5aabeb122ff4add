"""Handshake timing: per-connection RTTs, per-server percentiles, SYN backoff, vantage point.

The handshake splits into two legs as the capture sees them: ``rtt_syn_synack`` (SYN →
SYN-ACK, the path from the capture point to the server and back) and ``rtt_synack_ack``
(SYN-ACK → ACK, the path to the client and back). Their ratio tells where the capture
was taken (:func:`vantage_point`).

>>> from hskit import timing
>>> timing.server_percentiles(cap.connections)  # doctest: +SKIP
>>> timing.vantage_point(cap.connections).label  # doctest: +SKIP
'client'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from hskit.schema import ACK, SYN

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: columns of :func:`handshake_rtts`.
RTT_COLUMNS: tuple[str, ...] = (
    "stream",
    "client_ip",
    "client_port",
    "server_ip",
    "server_port",
    "syn_count",
    "rtt_syn_synack",
    "rtt_synack_ack",
    "handshake_time",
)
PERCENTILES: dict[str, float] = {"p50": 0.5, "p90": 0.9, "p99": 0.99}
#: a leg ``VANTAGE_FACTOR`` times longer than the other puts the capture near one end.
VANTAGE_FACTOR = 10.0


def endpoint_text(ips: pd.Series, ports: pd.Series) -> pd.Series:
    """``ip:port`` text per row, with IPv6 addresses in brackets (``[::1]:80``); written
    once per distinct endpoint (a capture has far fewer than rows).

    >>> endpoint_text(pd.Series(["10.0.0.1", "::1", "10.0.0.1"]), pd.Series([80, 443, 80])).tolist()
    ['10.0.0.1:80', '[::1]:443', '10.0.0.1:80']
    """
    ip_codes, _ = pd.factorize(ips)
    port_codes, port_values = pd.factorize(ports)
    pair = (ip_codes.astype(np.int64) + 1) * (len(port_values) + 1) + port_codes + 1
    _, first, row_pair = np.unique(pair, return_index=True, return_inverse=True)
    text = ips.iloc[first].astype("string")
    bracketed = text.where(~text.str.contains(":", regex=False), "[" + text + "]")
    written = (bracketed + ":" + ports.iloc[first].astype("string")).astype(object).to_numpy()
    return pd.Series(written[row_pair.reshape(-1)], index=ips.index, dtype=object)


def handshake_rtts(connections: pd.DataFrame) -> pd.DataFrame:
    """One row per connection whose handshake completed: both legs, the total, ``server``
    (``ip:port`` text) and ``leg_ratio`` (SYN → SYN-ACK over SYN-ACK → ACK).

    >>> handshake_rtts(cap.connections).sort_values("handshake_time").tail(3)  # doctest: +SKIP
    """
    timed = connections[connections["handshake_time"].notna()]
    table = timed.loc[:, list(RTT_COLUMNS)].reset_index(drop=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = table["rtt_syn_synack"].to_numpy(float) / table["rtt_synack_ack"].to_numpy(float)
    return table.assign(
        server=endpoint_text(table["server_ip"], table["server_port"]).to_numpy(), leg_ratio=ratio
    )


def server_percentiles(connections: pd.DataFrame, column: str = "handshake_time") -> pd.DataFrame:
    """Per server ``ip:port``: count, p50, p90, p99 and max of ``column`` (seconds).

    >>> server_percentiles(cap.connections)[["server", "p50", "max"]]  # doctest: +SKIP
    """
    timed = connections[connections[column].notna()]
    servers = endpoint_text(timed["server_ip"], timed["server_port"])
    grouped = timed[column].astype("float64").groupby(servers.to_numpy(), sort=True)
    table = pd.DataFrame(
        {
            "count": grouped.size(),
            **{name: grouped.quantile(share) for name, share in PERCENTILES.items()},
            "max": grouped.max(),
        }
    )
    return table.rename_axis("server").reset_index()


def syn_retransmissions(segments: pd.DataFrame) -> pd.DataFrame:
    """Every repeated SYN (without ACK) of a stream, with its delay since the previous one.

    Columns ``stream, frame, time, attempt`` (2 for the first retransmission),
    ``delay`` (seconds since the stream's previous SYN) and ``since_first``. Linux
    doubles the delay each time (1 s, 2 s, 4 s … from ``tcp_syn_retries``).

    >>> syn_retransmissions(cap.segments)["delay"].round(1).tolist()  # doctest: +SKIP
    [1.0, 2.0, 4.0]
    """
    flags = segments["flags"].to_numpy(dtype=np.int64)
    syns = segments.loc[(flags & (SYN | ACK)) == SYN, ["stream", "frame", "time"]]
    by_stream = syns.groupby("stream", sort=False)["time"]
    table = syns.assign(
        attempt=syns.groupby("stream", sort=False).cumcount() + 1,
        delay=by_stream.diff(),
        since_first=syns["time"] - by_stream.transform("first"),
    )
    return table[table["attempt"] > 1].reset_index(drop=True)


class Vantage(NamedTuple):
    """Where the capture was taken: ``client``, ``server``, ``between`` or ``unknown``."""

    label: str
    #: median(rtt_syn_synack) / median(rtt_synack_ack); NaN without a complete handshake.
    ratio: float
    #: completed handshakes the medians are taken over.
    connections: int


def vantage_label(server_leg: float, client_leg: float, factor: float = VANTAGE_FACTOR) -> str:
    """``client``, ``server``, ``between`` or ``unknown`` from the two handshake legs.

    ``server_leg`` is SYN → SYN-ACK (the capture point's round trip to the server),
    ``client_leg`` SYN-ACK → ACK (its round trip to the client). One leg ``factor``
    times the other puts the capture near the opposite end.

    >>> vantage_label(0.04, 0.001), vantage_label(0.001, 0.03), vantage_label(0.02, 0.02)
    ('client', 'server', 'between')
    """
    if not (np.isfinite(server_leg) and np.isfinite(client_leg)) or server_leg + client_leg <= 0:
        return "unknown"
    if server_leg >= factor * client_leg:
        return "client"
    if client_leg >= factor * server_leg:
        return "server"
    return "between"


def vantage_point(connections: pd.DataFrame, factor: float = VANTAGE_FACTOR) -> Vantage:
    """Infer the capture point from the two handshake legs.

    Near the client the SYN → SYN-ACK leg holds the whole network round trip and the
    SYN-ACK → ACK leg only the client's reaction time, so their ratio is large; near
    the server it is the other way round; in between both legs carry a share.

    >>> import pandas as pd
    >>> vantage_point(pd.DataFrame({"rtt_syn_synack": [0.04], "rtt_synack_ack": [1e-4]}))
    Vantage(label='client', ratio=400.0, connections=1)
    """
    legs = connections[["rtt_syn_synack", "rtt_synack_ack"]].astype("float64").dropna()
    if legs.empty:
        return Vantage("unknown", float("nan"), 0)
    server_leg = float(legs["rtt_syn_synack"].median())
    client_leg = float(legs["rtt_synack_ack"].median())
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.float64(server_leg) / np.float64(client_leg))
    label = vantage_label(server_leg, client_leg, factor)
    return Vantage(label, ratio, len(legs))


def _timed_ms(connections: pd.DataFrame, column: str) -> pd.DataFrame:
    timed = connections[connections[column].notna()]
    return pd.DataFrame(
        {
            f"{column} (ms)": timed[column].astype("float64").to_numpy() * 1000.0,
            "server": endpoint_text(timed["server_ip"], timed["server_port"]).to_numpy(),
        }
    )


def rtt_histogram(connections: pd.DataFrame, column: str = "handshake_time") -> go.Figure:
    """Histogram of ``column`` in milliseconds, one colour per server.

    >>> rtt_histogram(cap.connections).show()  # doctest: +SKIP
    """
    import plotly.express as px  # plotly only when a figure is asked for: keeps the CLI quick

    data = _timed_ms(connections, column)
    figure = px.histogram(data, x=f"{column} (ms)", color="server", barmode="overlay")
    figure.update_layout(title=f"{column} per connection", yaxis_title="connections")
    return figure


def rtt_ecdf(connections: pd.DataFrame, column: str = "handshake_time") -> go.Figure:
    """Empirical CDF of ``column`` in milliseconds, one line per server.

    >>> rtt_ecdf(cap.connections, "rtt_syn_synack").show()  # doctest: +SKIP
    """
    import plotly.express as px

    data = _timed_ms(connections, column)
    figure = px.ecdf(data, x=f"{column} (ms)", color="server")
    figure.update_layout(title=f"{column}: share of connections at or below")
    return figure
