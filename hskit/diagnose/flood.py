"""The ``syn_flood`` finding: half-open connections piling up at one listener.

Signs, per server: connections whose SYN-ACK never got its final ACK (``no_final_ack``),
how many distinct source addresses sent them and at what rate, the peak number of
half-open entries at once, SYN-ACK retransmissions (the server's SYN queue kept them),
and two signs of SYN cookies: SYN-ACKs without the SACK / window-scale options that the
client's SYN offered and that the server's other SYN-ACKs carry (a cookie without
timestamps cannot store them), and half-open SYN-ACKs never retransmitted although the
server retransmits others (a cookie keeps no state to retransmit from).

>>> find_syn_flood(context, Thresholds())[["endpoint", "evidence"]]  # doctest: +SKIP
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


def cookie_synacks(context: Context) -> pd.Series:
    """Per server: SYN-ACKs that dropped options the SYN offered and the server supports.

    Only SYN-ACKs without the timestamp option count: with timestamps, Linux keeps window
    scaling and SACK in the cookie (in the SYN-ACK's TSval), so a cookie SYN-ACK still
    carries them and kept options are no sign either way.

    >>> cookie_synacks(context)  # doctest: +SKIP
    """
    synacks = context.evidence.synacks
    servers = context.connections.set_index("stream")["server"]
    synacks = synacks.assign(server=servers.reindex(synacks["stream"].to_numpy()).to_numpy())
    server_sends = synacks.groupby("server")[["sack_perm", "has_wscale"]].transform("any")
    dropped_sack = synacks["syn_sack"].eq(True) & ~synacks["sack_perm"] & server_sends["sack_perm"]
    dropped_wscale = (
        synacks["syn_wscale"].eq(True) & ~synacks["has_wscale"] & server_sends["has_wscale"]
    )
    no_timestamps = synacks["no_ts"].to_numpy()
    return ((dropped_sack | dropped_wscale) & no_timestamps).groupby(synacks["server"]).sum()


def stateless_synacks(
    half_open: pd.DataFrame, capture_end: float, thresholds: Thresholds
) -> pd.Series:
    """Per server: half-open connections whose single SYN-ACK was never retransmitted
    although the capture went on ``synack_retransmit_wait`` seconds and the server did
    retransmit the SYN-ACKs of other half-open connections.
    """
    once = (half_open["synack_count"] == 1) & (
        capture_end - half_open["end"] >= thresholds.synack_retransmit_wait
    )
    retransmits = (half_open["synack_count"] > 1).groupby(half_open["server"]).transform("any")
    return (once & retransmits).groupby(half_open["server"]).sum()


def cookie_evidence(
    stateless: pd.Series, too_late: pd.Series, dropped_options: pd.Series
) -> pd.Series:
    """The SYN-cookie part of the evidence, per server: each sign counted, none contradicted.

    >>> text = cookie_evidence(pd.Series([154, 0]), pd.Series([37, 0]), pd.Series([0, 0]))
    >>> text.iloc[0][:60], text.iloc[1]
    ('SYN cookies: 154 half-open SYN-ACKs never retransmitted whil', 'no sign of SYN cookies')
    """
    text = (
        "SYN cookies: " + num(stateless, "d") + " half-open SYN-ACKs never retransmitted "
        "while the server retransmitted others"
    )  # fmt: skip
    late = " (" + num(too_late, "d") + " more too close to the capture's end to tell)"
    text = text + late.where(too_late > 0, "")
    options = "; " + num(dropped_options, "d") + " SYN-ACKs without the options their SYN offered"
    text = text + options.where(dropped_options > 0, "")
    found = (stateless > 0) | (dropped_options > 0)
    return text.where(found, "no sign of SYN cookies")


def find_syn_flood(context: Context, thresholds: Thresholds) -> pd.DataFrame:
    """Listeners with at least ``flood_min_half_open`` half-open connections."""
    conns = context.connections
    half_open = conns[conns["handshake"] == "no_final_ack"]
    table = per_endpoint(half_open, "server")
    table = table[table["count"] >= thresholds.flood_min_half_open]
    if table.empty:
        return empty_findings()
    half_open = half_open[half_open["server"].isin(table.index)]
    by_server = half_open.groupby("server")
    sources = by_server["client_ip"].nunique().reindex(table.index)
    starts = by_server["start"]
    span = (starts.max() - starts.min()).reindex(table.index).clip(lower=1e-9)
    retransmitted = (half_open["synack_count"].astype("int64") - 1).clip(lower=0)
    synack_retx = retransmitted.groupby(half_open["server"]).sum().reindex(table.index)

    states = context.states
    syn_received = states[(states["endpoint"] == "server") & (states["state"] == "SYN_RECEIVED")]
    servers = conns.set_index("stream")["server"]
    syn_received = syn_received.assign(
        server=servers.reindex(syn_received["stream"].to_numpy()).to_numpy()
    )
    peak = peak_concurrent(
        syn_received["server"], syn_received["start"], syn_received["end"], np.inf
    ).reindex(table.index, fill_value=0)
    cookies = cookie_synacks(context).reindex(table.index, fill_value=0)
    stateless = stateless_synacks(half_open, context.capture_end, thresholds)
    stateless = stateless.reindex(table.index, fill_value=0)
    late = (half_open["synack_count"] == 1) & (
        context.capture_end - half_open["end"] < thresholds.synack_retransmit_wait
    )
    too_late = late.groupby(half_open["server"]).sum().reindex(table.index, fill_value=0)
    evidence = (
        num(table["count"], "d") + " half-open connections from " + num(sources, "d")
        + " source addresses, their SYNs within " + num(span, ".1f") + " s ("
        + num(table["count"] / span, ".0f") + "/s); peak " + num(peak, "d")
        + " in SYN_RECEIVED at once; " + num(synack_retx, "d") + " SYN-ACK retransmissions; "
        + cookie_evidence(stateless, too_late, cookies)
    )  # fmt: skip
    checks = (
        "ss -tan state syn-recv '( sport = :" + table["port"] + " )' | wc -l  # on the server"
        + "\nsysctl net.ipv4.tcp_max_syn_backlog net.core.somaxconn net.ipv4.tcp_syncookies"
        + " net.ipv4.tcp_synack_retries\nnstat -az TcpExtSyncookiesSent TcpExtListenDrops"
        + " TcpExtListenOverflows\nss -tln sport = :" + table["port"] + "  # Recv-Q: accept queue"
    )  # fmt: skip
    return finalize(
        "syn_flood",
        table,
        "critical",
        evidence,
        "Many SYNs reached this listener and were answered, but the clients never "
        "completed the handshake: the half-open entries fill the SYN queue, the server "
        "retransmits its SYN-ACKs, and once the queue is full Linux answers with SYN "
        "cookies (or drops SYNs). Spoofed sources or a scanner are typical; legitimate "
        "clients see slow or failed connects.",
        checks,
    )
