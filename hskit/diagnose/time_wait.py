"""The ``time_wait_pressure`` finding, per client address.

Two signs: the peak number of the client's connections in TIME_WAIT at once, against
the size of its ephemeral port range (each one holds a port for ``time_wait_end``);
and a 4-tuple reused while its previous connection would still be in TIME_WAIT on one
of the sides (``time_wait_end`` of the previous connection after the new one's start).

>>> find_time_wait_pressure(context, Thresholds())[["endpoint", "evidence"]]  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hskit.diagnose.table import (
    Context,
    Thresholds,
    empty_findings,
    finalize,
    num,
    peak_concurrent,
    per_endpoint,
)
from hskit.wording import counted_each

_TUPLE = ["client_ip", "client_port", "server_ip", "server_port"]
#: the other connection columns the finding reads.
_READ = ["stream", "start", "end", "time_wait_end", "closer"]


def reused_in_time_wait(connections: pd.DataFrame) -> pd.DataFrame:
    """Per connection: ``reused`` (it started before its 4-tuple's previous ``time_wait_end``)
    and ``holder`` (the previous connection's ``closer``, the side holding TIME_WAIT).

    Needs ``start`` (first segment time) beside the connections columns. Each 4-tuple's
    connections are taken by ``start`` (equal starts in table order).

    >>> conns = pd.DataFrame({"client_ip": ["a", "a"], "client_port": [1, 1],
    ...                       "server_ip": ["b", "b"], "server_port": [2, 2],
    ...                       "start": [0.0, 5.0], "time_wait_end": [60.0, 65.0],
    ...                       "closer": ["client", "client"]})
    >>> reused_in_time_wait(conns)["reused"].tolist()
    [False, True]
    """
    tuples = np.array([pd.factorize(connections[column])[0] for column in _TUPLE])
    start = connections["start"].to_numpy(float)
    order = np.lexsort((start, *tuples[::-1]))
    ordered = tuples[:, order]
    # the previous connection of the same 4-tuple (none where a part of it is missing)
    follows = np.zeros(len(order), dtype=bool)
    follows[1:] = (ordered[:, 1:] == ordered[:, :-1]).all(axis=0) & (ordered[:, 1:] >= 0).all(
        axis=0
    )
    previous = np.roll(order, 1)
    time_wait_end = connections["time_wait_end"].to_numpy(float)[previous]
    closer = pd.Categorical(connections["closer"])
    reused = np.zeros(len(order), dtype=bool)
    holder = np.full(len(order), -1, dtype=closer.codes.dtype)
    reused[order] = follows & (start[order] < time_wait_end)
    holder[order] = np.where(follows, closer.codes[previous], -1)
    return pd.DataFrame(
        {"reused": reused, "holder": pd.Categorical.from_codes(holder, dtype=closer.dtype)},
        index=connections.index,
    )


def find_time_wait_pressure(context: Context, thresholds: Thresholds) -> pd.DataFrame:
    """Clients near port exhaustion, or reusing 4-tuples still in TIME_WAIT."""
    # the columns read here and by per_endpoint: a copy of the rows found costs less
    conns = context.connections[[*_TUPLE, *_READ]]
    conns = conns.assign(client=conns["client_ip"].astype(str))
    reuse = reused_in_time_wait(conns)
    reused = reuse["reused"]

    states = context.states
    waiting = states[(states["endpoint"] == "client") & (states["state"] == "TIME_WAIT")]
    clients = conns.set_index("stream")["client"]
    waiting_client = clients.reindex(waiting["stream"].to_numpy())
    peak = peak_concurrent(waiting_client, waiting["start"], waiting["end"], np.inf)

    low, high = thresholds.ephemeral_ports
    ports = high - low + 1
    pressured = peak[peak >= thresholds.time_wait_fraction * ports].index
    in_waiting = conns["stream"].isin(waiting["stream"]) & conns["client"].isin(pressured)
    rows = conns[reused | in_waiting]
    table = per_endpoint(rows, "client")
    if table.empty:
        return empty_findings()
    peak = peak.reindex(table.index, fill_value=0)
    reuse = reuse.loc[rows.index].assign(client=rows["client"])
    by_holder = [
        (reuse["reused"] & (reuse["holder"] == side)).groupby(reuse["client"]).sum()
        for side in ("client", "server")
    ]
    by_client, by_server = (count.reindex(table.index) for count in by_holder)
    evidence = (
        "peak " + num(peak, "d") + " of the client's connections in TIME_WAIT at once ("
        + num(peak / ports, ".1%") + f" of the {ports} ephemeral ports {low}-{high}); "
        + counted_each(by_client + by_server, "connection") + " reused a 4-tuple still in "
        + "TIME_WAIT (held by the client in " + num(by_client, "d")
        + ", by the server in " + num(by_server, "d") + ")"
    )  # fmt: skip
    severity = np.where(
        peak.to_numpy() >= thresholds.time_wait_fraction * ports, "critical", "warning"
    )
    return finalize(
        "time_wait_pressure",
        table,
        severity,
        evidence,
        "The side that closes first keeps each connection in TIME_WAIT (60 s on Linux), "
        "holding its 4-tuple. Many short connections from one client can use up its "
        "ephemeral ports (connect() fails with EADDRNOTAVAIL), and a new connection on a "
        "4-tuple still in TIME_WAIT is accepted only if its sequence number or timestamp "
        "is newer; otherwise it is answered by a stale ACK or RST.",
        "ss -tan state time-wait | wc -l\n"
        "sysctl net.ipv4.ip_local_port_range net.ipv4.tcp_tw_reuse net.ipv4.tcp_timestamps\n"
        "ss -tan state time-wait | awk '{print $5}' | sort | uniq -c | sort -rn | head"
        "  # per peer; connection pooling / keep-alive avoids the churn",
    )
