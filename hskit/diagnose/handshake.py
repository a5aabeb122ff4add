"""Findings about opening connections: ``no_answer``, ``refused``, ``slow_handshake``.

>>> find_refused(context, Thresholds())[["endpoint", "count"]]  # doctest: +SKIP
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
    per_endpoint,
)
from hskit.wording import counted_each


def _completed_per_server(context: Context) -> pd.Series:
    """Per server text: how many of its connections completed the handshake."""
    conns = context.connections
    return (conns["handshake"] == "complete").groupby(conns["server"]).sum()


def _unreachable_severity(table: pd.DataFrame, context: Context) -> pd.Series:
    """critical when no connection to the server completed, warning when some did."""
    completed = _completed_per_server(context).reindex(table.index).fillna(0)
    return pd.Series(["critical", "warning"], dtype=object).take(
        (completed > 0).astype(int).to_numpy()
    )


def find_no_answer(context: Context, thresholds: Thresholds) -> pd.DataFrame:
    """SYNs that got no reply at all, per server, with the SYN retransmission backoff.

    A single SYN right at the end of the capture is not counted (``answer_wait``).
    """
    conns = context.connections
    attempts = conns[conns["handshake"] == "no_answer"]
    waited = (attempts["syn_count"] > 1) | (
        context.capture_end - attempts["end"] >= thresholds.answer_wait
    )
    attempts = attempts[waited]
    table = per_endpoint(attempts, "server")
    if table.empty:
        return empty_findings()
    syns = attempts.groupby("server")["syn_count"].sum()
    resent = _retransmitted_syns(context, attempts).reindex(table.index, fill_value=0)
    retries = context.evidence.syn_retries
    retries = retries.merge(attempts[["stream", "server"]], on="stream")
    backoff = retries.groupby(["server", "attempt"])["delay"].median()
    intervals = (num(backoff, ".1f") + " s").groupby(level="server").agg(", ".join)
    intervals = intervals.reindex(table.index).fillna("none (a single SYN each)")
    backing_off = doubling_intervals(backoff).reindex(table.index, fill_value=0) >= 2
    evidence = (
        counted_each(table["count"], "connection attempt")
        + ", "
        + counted_each(syns.reindex(table.index), "SYN")
        + " ("
        + num(resent, "d")
        + " retransmitted), no reply; SYN retransmission intervals "
        + intervals
    )
    checks = (
        "nc -vz " + table["host"] + " " + table["port"]
        + "\nping -c 3 " + table["host"]
        + "\nss -tuln | grep :" + table["port"] + "  # on the server: listening?"
        + "\niptables -S ; nft list ruleset  # a DROP rule for the port, on either side?"
    )  # fmt: skip
    retried = np.where(
        backing_off.to_numpy(),
        "the client retransmitted its SYN with exponential backoff (each wait twice the "
        "last) and gave up",
        "the client's SYN got no answer (too few retransmissions in the capture to see "
        "its backoff)",
    )
    explanation = (
        "Connection attempts got neither a SYN-ACK nor a RST: " + pd.Series(retried) + ". "
        "A firewall silently dropping the SYNs, a host that is down or unroutable, or a "
        "wrong address are the usual causes."
    )
    return finalize("no_answer", table, _unreachable_severity(table, context), evidence,
                    explanation, checks)  # fmt: skip


def _retransmitted_syns(context: Context, conns: pd.DataFrame) -> pd.Series:
    """Per server of ``conns``: SYNs and SYN-ACKs Wireshark's analysis marks as
    retransmissions (``tcp.analysis.retransmission`` on a SYN)."""
    per_stream = context.evidence.streams["resent_syns"]
    counts = per_stream.reindex(conns["stream"].to_numpy(np.int64), fill_value=0)
    return pd.Series(counts.to_numpy(), index=conns["server"].to_numpy()).groupby(level=0).sum()


def doubling_intervals(backoff: pd.Series) -> pd.Series:
    """Per server: how many SYN retransmission intervals were about twice the one before.

    ``backoff`` is the median delay per ``(server, attempt)``; an interval 1.6 to 2.5
    times the previous one counts as a doubling. Exponential backoff needs two of them
    (1 s, 2 s, 4 s): one interval alone proves nothing.

    >>> delays = pd.Series([1.0, 2.0, 4.1, 1.0], index=pd.MultiIndex.from_tuples(
    ...     [("a", 2), ("a", 3), ("a", 4), ("b", 2)], names=["server", "attempt"]))
    >>> doubling_intervals(delays).to_dict()
    {'a': 2, 'b': 0}
    """
    ratio = backoff / backoff.groupby(level="server").shift(1)
    return ratio.between(1.6, 2.5).groupby(level="server").sum().astype(int)


def find_refused(context: Context, thresholds: Thresholds) -> pd.DataFrame:
    """SYNs answered by RST (no listener on the port, or a firewall's reject), per server."""
    conns = context.connections
    refused = conns[conns["handshake"] == "refused"]
    table = per_endpoint(refused, "server")
    if table.empty:
        return empty_findings()
    syns = refused.groupby("server")["syn_count"].sum().reindex(table.index)
    evidence = (
        counted_each(table["count"], "connection attempt")
        + " answered by RST instead of SYN-ACK ("
        + counted_each(syns, "SYN")
        + ")"
    )
    checks = (
        "nc -vz " + table["host"] + " " + table["port"]
        + "\nss -tuln | grep :" + table["port"] + "  # on the server: is anything listening?"
        + "\niptables -S | grep -i reject ; nft list ruleset | grep -i reject"
    )  # fmt: skip
    return finalize(
        "refused",
        table,
        _unreachable_severity(table, context),
        evidence,
        "The server's kernel (or a firewall rejecting on its behalf) answered the SYN with "
        "a RST: nothing listens on that port, the service is down or bound to another "
        "address, or a reject rule is in place.",
        checks,
    )


def find_slow_handshake(context: Context, thresholds: Thresholds) -> pd.DataFrame:
    """Slow completed handshakes per server.

    A handshake (first SYN to final ACK as captured) is slow when it takes longer than
    ``slow_handshake_time``, or longer than ``slow_factor`` × its server's median and
    ``slow_outlier_min``, or when the SYN or SYN-ACK had to be retransmitted.
    """
    conns = context.connections
    timed = conns[conns["handshake_time"].notna()]
    seconds = timed["handshake_time"].astype("float64")
    server_median = seconds.groupby(timed["server"]).transform("median")
    outlier = (seconds > thresholds.slow_factor * server_median) & (
        seconds > thresholds.slow_outlier_min
    )
    resent = _retransmitted_syns(context, timed.assign(server=timed["stream"].to_numpy()))
    retransmitted = timed["stream"].map(resent).fillna(0).astype(int) > 0
    slow = timed[(seconds > thresholds.slow_handshake_time) | outlier | retransmitted]
    table = per_endpoint(slow, "server")
    if table.empty:
        return empty_findings()
    slowest_ms = (slow["handshake_time"].astype("float64") * 1000.0).groupby(slow["server"]).max()
    by_server = timed["server"].to_numpy()
    totals = seconds.groupby(by_server).size().reindex(table.index)
    medians = (seconds.groupby(by_server).median() * 1000.0).reindex(table.index)
    retried = retransmitted[slow.index].groupby(slow["server"]).sum().reindex(table.index)
    evidence = (
        num(table["count"], "d") + " of " + num(totals, "d") + " handshakes slow, up to "
        + num(slowest_ms.reindex(table.index), ".0f") + " ms (server median "
        + num(medians, ".0f") + " ms, capture median "
        + format(seconds.median() * 1000.0, ".0f") + " ms); "
        + num(retried, "d") + " delayed by a SYN or SYN-ACK retransmission"
    )  # fmt: skip
    checks = (
        "ping -c 5 " + table["host"] + "\nmtr -rwc 10 " + table["host"]
        + "\nss -ti dst " + table["host"] + "  # rtt, retrans"
        + "\nss -tln sport = :" + table["port"] + "  # on the server; Recv-Q: accept backlog"
        + "\nsysctl net.ipv4.tcp_max_syn_backlog net.core.somaxconn"
    )  # fmt: skip
    return finalize(
        "slow_handshake",
        table,
        "warning",
        evidence,
        "Opening a connection to this server takes long: a long or congested path, a "
        "loaded server slow to answer SYNs (full SYN or accept queue), or lost SYNs / "
        "SYN-ACKs that were only recovered by retransmission after a second or more.",
        checks,
    )
