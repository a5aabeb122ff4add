"""Transfer findings from Wireshark's analysis (:func:`hskit.analyze`): ``loss`` and
``retransmissions``, per server, each direction counted apart, from the per-direction
counts of the evidence (:mod:`hskit.diagnose.evidence`).

- *loss*: signs that the network dropped data: segments after a gap the capture missed
  (``lost_segment``), ACKs of data never seen (``ack_lost_segment``) and fast
  retransmissions (the receiver's duplicate ACKs reported a gap);
- *retransmissions*: payload or FIN sent again (SYNs are the handshake findings'
  business), as a share of the direction's payload segments.

The counts are summed per server and direction on integer codes (:class:`Sides`), not
by joining texts: the live capture runs these finders at every ring file, over every
connection it holds.

>>> find_retransmissions(context, Thresholds())[["endpoint", "evidence"]]  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandas as pd

from hskit.diagnose.table import Context, Thresholds, empty_findings, finalize, per_endpoint

#: direction label -> the segments' ``from_client`` value.
DIRECTIONS = {"client→server": True, "server→client": False}


@dataclass(frozen=True)
class Sides:
    """The evidence's directions of the connections' streams, each with its server as a
    code into ``servers`` and the segments a finder counts (``marked``); the sums are per
    server and direction, at ``server * 2 + from_client``.

    >>> sides = Sides.of(context, context.evidence.directions["retransmitted"])  # doctest: +SKIP
    >>> marked, payload = sides.totals  # doctest: +SKIP
    """

    stream: npt.NDArray[np.int64]
    server: npt.NDArray[np.int64]
    #: ``server * 2 + from_client``.
    pair: npt.NDArray[np.int64]
    marked: npt.NDArray[np.int64]
    payload: npt.NDArray[np.int64]
    #: the servers' ``ip:port`` texts, by code.
    servers: pd.Index

    @classmethod
    def of(cls, context: Context, marked: pd.Series) -> Sides:
        """The directions of ``context``'s evidence, ``marked`` (aligned with them)
        counted; directions of streams that are not connections are left out."""
        directions = context.evidence.directions
        codes, servers = pd.factorize(context.connections["server"])
        stream = directions.index.get_level_values("stream").to_numpy(np.int64)
        at = pd.Index(context.connections["stream"].to_numpy(np.int64)).get_indexer(stream)
        known = at >= 0
        server = codes[at[known]].astype(np.int64)
        from_client = directions.index.get_level_values("from_client").to_numpy(bool)[known]
        return cls(
            stream=stream[known],
            server=server,
            pair=server * 2 + from_client,
            marked=marked.to_numpy(np.int64)[known],
            payload=directions["payload"].to_numpy(np.int64)[known],
            servers=pd.Index(servers),
        )

    @cached_property
    def totals(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Per server and direction: the marked and the payload segments summed."""
        return self.summed(self.marked), self.summed(self.payload)

    def summed(self, values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """``values`` (one per direction of a stream) summed per server and direction."""
        return np.bincount(self.pair, values, 2 * len(self.servers)).astype(np.int64)

    def present(self) -> npt.NDArray[np.bool_]:
        """Per server and direction: whether a stream has it."""
        return np.bincount(self.pair, minlength=2 * len(self.servers)) > 0

    def marked_streams(self, hit: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        """The streams with marked segments at the servers with a ``hit`` direction."""
        hit_server = hit.reshape(-1, 2).any(axis=1)
        return np.unique(self.stream[(self.marked > 0) & hit_server[self.server]])

    def evidence(self, servers: pd.Index, what: str) -> pd.Series:
        """Per server of ``servers``, each direction with marked segments: '<direction>:
        N <what> in M payload segments (r %), worst stream S (n)', joined by '; '."""
        marked, payload = self.totals
        # per server and direction, its stream with the most marked segments, the lowest
        # number among equals
        order = np.lexsort((self.stream, -self.marked, self.pair))
        firsts = order[np.r_[True, self.pair[order][1:] != self.pair[order][:-1]]]
        worst = np.zeros(2 * len(self.servers), np.int64)
        worst[self.pair[firsts]] = firsts
        texts = []
        for code in self.servers.get_indexer(servers).tolist():
            parts = []
            for label, from_client in DIRECTIONS.items():
                pair = 2 * code + from_client
                if marked[pair] == 0:
                    continue
                rate = marked[pair] / max(payload[pair], 1) * 100
                row = worst[pair]
                parts.append(
                    f"{label}: {marked[pair]} {what} in {payload[pair]} payload segments "
                    f"({rate:.1f} %), worst stream {self.stream[row]} ({self.marked[row]})"
                )
            texts.append("; ".join(parts))
        return pd.Series(texts, index=servers)


def _servers(context: Context, streams: npt.NDArray[np.int64]) -> pd.DataFrame:
    """The per-endpoint table of the connections of ``streams``."""
    conns = context.connections
    return per_endpoint(conns[conns["stream"].isin(streams)], "server")


def find_retransmissions(context: Context, thresholds: Thresholds) -> pd.DataFrame:
    """Servers whose connections resent payload or FINs: at least ``retransmission_min``
    segments in a direction, and ``retransmission_rate`` of its payload segments."""
    sides = Sides.of(context, context.evidence.directions["retransmitted"])
    marked, payload = sides.totals
    rate = marked / np.maximum(payload, 1)
    hit = (
        sides.present()
        & (marked >= thresholds.retransmission_min)
        & (rate >= thresholds.retransmission_rate)
    )
    table = _servers(context, sides.marked_streams(hit))
    if table.empty:
        return empty_findings()
    evidence = sides.evidence(table.index, "retransmitted")
    checks = (
        "ss -ti dst " + table["host"] + "  # retrans, rto, cwnd on the sender"
        + "\nnstat -az TcpRetransSegs TcpExtTCPLostRetransmit"
        + "\nmtr -rwc 50 " + table["host"] + "  # loss per hop"
        + "\nip -s link  # drops and errors on the interfaces"
    )  # fmt: skip
    worst_rate = np.where(hit, rate, -np.inf).reshape(-1, 2).max(axis=1)
    worst_rate = worst_rate[sides.servers.get_indexer(table.index)]
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
    directions = context.evidence.directions
    # ACKed-unseen is counted for the direction of the data it acknowledges: the other one
    keys = pd.Index(
        directions.index.get_level_values("stream").to_numpy(np.int64) * 2
        + directions.index.get_level_values("from_client").to_numpy(int)
    )
    other = keys.get_indexer(keys.to_numpy() ^ 1)
    acked_unseen = directions["acked_unseen"].to_numpy(np.int64)
    flipped = np.where(other >= 0, acked_unseen[other], 0)
    signs = pd.Series(directions["lost_data"].to_numpy(np.int64) + flipped)
    sides = Sides.of(context, signs)
    hit = sides.present() & (sides.totals[0] >= thresholds.loss_min_events)
    table = _servers(context, sides.marked_streams(hit))
    if table.empty:
        return empty_findings()
    evidence = sides.evidence(table.index, "signs of loss")
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
