"""Hand-built TCP conversations as segments tables, for tests, docs and teaching.

A :class:`Conversation` keeps each side's next sequence number, so a segment needs
only its sender and its flags (tcpdump letters: ``S``, ``S.``, ``.``, ``P.``, ``F.``,
``R``, ``R.`` …); by default it acknowledges everything the peer has sent. Override
``seq``/``ack`` to write retransmissions, keep-alives or broken peers, ``at`` to place
it in time (otherwise 1 ms after the previous one).

>>> talk = Conversation()
>>> _ = talk.client("S").server("S.").client(".").client("F.").server("F.").client(".")
>>> table = segments(talk)
>>> table[["stream", "flags", "rel_seq", "rel_ack", "from_client"]].head(3).values.tolist()
[[0, 2, 0, 0, True], [0, 18, 0, 1, False], [0, 16, 1, 1, True]]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hskit import schema
from hskit.direction import from_client

_LETTERS = {letter: bit for bit, letter, _ in schema.FLAG_BITS}
_MASK32 = 0xFFFFFFFF


def flag_bits(letters: str) -> int:
    """Flag bits of tcpdump-style letters.

    >>> flag_bits("S."), flag_bits("FR")
    (18, 5)
    """
    return sum(_LETTERS[letter] for letter in dict.fromkeys(letters))


@dataclass
class Conversation:
    """One TCP connection's segments, written in order, seq/ack tracked per side."""

    client_addr: tuple[str, int] = ("10.0.0.1", 40000)
    server_addr: tuple[str, int] = ("10.0.0.2", 80)
    isn_client: int = 1000
    isn_server: int = 900000
    start: float = 0.0
    rows: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._next = {True: self.isn_client, False: self.isn_server}
        self._time = self.start - 0.001

    def client(self, flags: str, **fields: Any) -> Conversation:
        """Add a segment from the client (see :meth:`send`)."""
        return self.send(True, flags, **fields)

    def server(self, flags: str, **fields: Any) -> Conversation:
        """Add a segment from the server (see :meth:`send`)."""
        return self.send(False, flags, **fields)

    def send(
        self,
        by_client: bool,
        flags: str,
        *,
        data: int = 0,
        seq: int | None = None,
        ack: int | None = None,
        at: float | None = None,
        copies: int = 1,
        **options: Any,
    ) -> Conversation:
        """Add a segment; ``copies=2`` writes the same frame twice (as ``-i any`` does).

        ``seq``/``ack`` default to the sender's next sequence number and the peer's;
        ``options`` are segment columns (``mss``, ``wscale``, ``sack_perm``, ``tfo``,
        ``ts_val``, ``ts_ecr``, ``win``).
        """
        bits = flag_bits(flags)
        seq = self._next[by_client] if seq is None else seq
        ack = (self._next[not by_client] if bits & schema.ACK else 0) if ack is None else ack
        self._time = self._time + 0.001 if at is None else at
        length = data + bool(bits & schema.SYN) + bool(bits & schema.FIN)
        if not bits & schema.RST:
            end = (seq + length) & _MASK32
            if (end - self._next[by_client]) & _MASK32 < 2**31:
                self._next[by_client] = end
        src, dst = (
            (self.client_addr, self.server_addr)
            if by_client
            else (self.server_addr, self.client_addr)
        )
        row = {
            "time": self._time,
            "src_ip": src[0],
            "src_port": src[1],
            "dst_ip": dst[0],
            "dst_port": dst[1],
            "flags": bits,
            "seq": seq & _MASK32,
            "ack": ack & _MASK32,
            "payload_len": data,
            "by_client": by_client,
            "win": 65535,
            **options,
        }
        self.rows.extend(dict(row) for _ in range(copies))
        return self


def segments(*conversations: Conversation) -> pd.DataFrame:
    """One segments table (schema :data:`hskit.schema.SEGMENT_DTYPES`) of the
    conversations, in time order, each its own stream numbered by first appearance;
    ``time`` counts from the first segment.

    >>> len(segments(Conversation().client("S"), Conversation().client("S")))
    2
    """
    parts = []
    for number, conversation in enumerate(conversations):
        part = pd.DataFrame(conversation.rows)
        part["conversation"] = number
        part["isn_by_client"] = part["by_client"].map(
            {True: conversation.isn_client, False: conversation.isn_server}
        )
        part["isn_of_peer"] = part["by_client"].map(
            {True: conversation.isn_server, False: conversation.isn_client}
        )
        parts.append(part)
    table = pd.concat(parts, ignore_index=True).sort_values(["time"], kind="stable")
    table = table.reset_index(drop=True)
    first_seen = table.drop_duplicates("conversation")["conversation"].tolist()
    table["stream"] = table["conversation"].map({c: i for i, c in enumerate(first_seen)})
    table["frame"] = np.arange(1, len(table) + 1)
    nanoseconds = 1_700_000_000 * 10**9 + (table["time"] * 1e9).round().astype("int64")
    table["ts"] = pd.to_datetime(nanoseconds, unit="ns", utc=True)
    table["time"] = table["time"] - table["time"].iloc[0]
    table["ip_version"] = np.where(table["src_ip"].str.contains(":"), 6, 4)
    table["rel_seq"] = (table["seq"] - table["isn_by_client"]) & _MASK32
    has_ack = (table["flags"] & schema.ACK) != 0
    table["rel_ack"] = np.where(has_ack, (table["ack"] - table["isn_of_peer"]) & _MASK32, 0)
    for name, default in (("sack_perm", False), ("tfo", False)):
        table[name] = table[name].fillna(default) if name in table else default
    for name in ("mss", "wscale", "ts_val", "ts_ecr"):
        if name not in table:
            table[name] = pd.NA
    # an IPv4/IPv6 and a TCP header without options, then the payload; checksums right
    table["ip_len"] = np.where(table["ip_version"] == 6, 60, 40) + table["payload_len"]
    table["checksum_ok"] = True
    table["from_client"] = from_client(table)
    return schema.conform(table, schema.SEGMENT_DTYPES)
