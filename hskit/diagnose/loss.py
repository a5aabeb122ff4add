"""Transfer findings from Wireshark's analysis (:func:`hskit.analyze`): ``loss`` and
``retransmissions``, per server, each direction counted apart, from the per-direction
counts of the evidence (:mod:`hskit.diagnose.evidence`).

- *loss*: signs that the network dropped data: segments after a gap the capture missed
  (``lost_segment``), ACKs of data never seen (``ack_lost_segment``) and fast
  retransmissions (the receiver's duplicate ACKs reported a gap);
- *retransmissions*: payload or FIN sent again (SYNs are the handshake findings'
  business), as a share of the direction's payload segments.

>>> find_retransmissions(context, Thresholds())[["endpoint", "evidence"]]  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hskit.diagnose.table import Context, Thresholds, empty_findings, finalize, per_endpoint

#: direction label -> the segments' ``from_client`` value.
DIRECTIONS = {"client→server": True, "server→client": False}


def _per_direction(context: Context, column: str) -> pd.DataFrame:
    """Per stream and direction: segments counted in the evidence's ``column``
    (``marked``) and payload segments."""
    directions = context.evidence.directions
    return directions[[column, "payload"]].rename(columns={column: "marked"})


def _evidence(
    counts: pd.DataFrame, conns: pd.DataFrame, table: pd.DataFrame, what: str
) -> pd.Series:
    """Per server: '<direction>: N <what> in M payload segments (r %), worst stream S (n)'."""
    per_stream = counts.reset_index().merge(conns[["stream", "server"]], on="stream")
    parts: dict[str, list[str]] = {server: [] for server in table.index}
    for label, from_client in DIRECTIONS.items():
        side = per_stream[per_stream["from_client"] == from_client]
        side = side[side["server"].isin(table.index)]
        totals = side.groupby("server")[["marked", "payload"]].sum()
        worst = side.sort_values(["marked", "stream"], ascending=[False, True])
        worst = worst.drop_duplicates("server").set_index("server")
        for server, row in totals.iterrows():
            if row["marked"] == 0:
                continue
            rate = row["marked"] / max(row["payload"], 1) * 100
            parts[server].append(
                f"{label}: {row['marked']} {what} in {row['payload']} payload segments "
                f"({rate:.1f} %), worst stream {worst.loc[server, 'stream']} "
                f"({worst.loc[server, 'marked']})"
            )
    return pd.Series(["; ".join(parts[server]) for server in table.index], index=table.index)


def _servers(context: Context, counts: pd.DataFrame, keep: pd.Series) -> pd.DataFrame:
    """The per-endpoint table of the connections whose streams ``keep`` selects."""
    conns = context.connections
    streams = keep[keep].index.get_level_values("stream").unique()
    return per_endpoint(conns[conns["stream"].isin(streams)], "server")


def find_retransmissions(context: Context, thresholds: Thresholds) -> pd.DataFrame:
    """Servers whose connections resent payload or FINs: at least ``retransmission_min``
    segments in a direction, and ``retransmission_rate`` of its payload segments."""
    counts = _per_direction(context, "retransmitted")
    server = context.connections.set_index("stream")["server"]
    by_server = (
        counts.join(server, on="stream")
        .groupby(["server", "from_client"])[["marked", "payload"]]
        .sum()
    )
    rate = by_server["marked"] / by_server["payload"].clip(lower=1)
    hit = (by_server["marked"] >= thresholds.retransmission_min) & (
        rate >= thresholds.retransmission_rate
    )
    servers = hit[hit].index.get_level_values("server").unique()
    keep = (counts["marked"] > 0) & counts.join(server, on="stream")["server"].isin(servers)
    table = _servers(context, counts, keep)
    if table.empty:
        return empty_findings()
    evidence = _evidence(counts, context.connections, table, "retransmitted")
    checks = (
        "ss -ti dst " + table["host"] + "  # retrans, rto, cwnd on the sender"
        + "\nnstat -az TcpRetransSegs TcpExtTCPLostRetransmit"
        + "\nmtr -rwc 50 " + table["host"] + "  # loss per hop"
        + "\nip -s link  # drops and errors on the interfaces"
    )  # fmt: skip
    worst_rate = rate[hit].groupby(level="server").max().reindex(table.index)
    return finalize(
        "retransmissions",
        table,
        np.where(worst_rate >= thresholds.retransmission_warning_rate, "warning", "info"),
        evidence,
        "Senders had to send data again: the first copy, or its ACK, was lost (a "
        "retransmission timeout), the receiver reported a gap with duplicate ACKs (fast "
        "retransmission), or the sender gave up waiting too early (spurious). Each costs "
        "at least a round trip, a timeout costs 200 ms or more, and the sender halves "
        "its congestion window.",
        checks,
    )


def find_loss(context: Context, thresholds: Thresholds) -> pd.DataFrame:
    """Servers with at least ``loss_min_events`` signs of lost packets in a direction."""
    # ACKed-unseen is counted for the direction of the data it acknowledges
    counts = _per_direction(context, "lost_data")
    acked_unseen = _per_direction(context, "acked_unseen")["marked"]
    flipped = acked_unseen.rename(index=lambda side: not side, level="from_client")
    counts["marked"] = counts["marked"].add(flipped, fill_value=0).astype(int)
    server = context.connections.set_index("stream")["server"]
    by_server = counts.join(server, on="stream").groupby(["server", "from_client"])["marked"].sum()
    servers = (
        by_server[by_server >= thresholds.loss_min_events].index.get_level_values("server").unique()
    )
    keep = (counts["marked"] > 0) & counts.join(server, on="stream")["server"].isin(servers)
    table = _servers(context, counts, keep)
    if table.empty:
        return empty_findings()
    evidence = _evidence(counts, context.connections, table, "signs of loss")
    evidence = evidence + " (segments after a gap, ACKs of unseen data, fast retransmissions)"
    checks = (
        "mtr -rwc 50 " + table["host"] + "  # loss per hop"
        + "\nip -s link ; ethtool -S IFACE | grep -i -e drop -e err  # local drops"
        + "\ntc -s qdisc  # queue drops on the sender"
        + "\n# capture at both ends: a gap seen only in this capture means the capture "
        "dropped it"
    )  # fmt: skip
    return finalize(
        "loss",
        table,
        "warning",
        evidence,
        "Packets were lost between the sender and the receiver: the capture saw a gap in "
        "the sequence numbers, an ACK for data it never saw, or a fast retransmission "
        "triggered by the receiver's duplicate ACKs. Loss is usually congestion "
        "(a full queue), a faulty link, or a capture point dropping packets itself.",
        checks,
    )
