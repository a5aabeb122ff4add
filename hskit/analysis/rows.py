"""The per-row facts Wireshark's TCP analysis reads, gathered once as NumPy arrays.

:class:`Rows` holds, for every segment in capture order, its header fields, its
direction's grouping and the sequence numbers made comparable (unwrapped) inside a
direction, plus the two group views the analysis needs: rows of one direction of a
connection (Wireshark's ``fwd``), and rows of one connection (to read the ``rev``
direction's latest state).

>>> rows = Rows.of(hskit.load(hskit.samples.path("refused")).segments)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from hskit.analysis.groups import Groups, take
from hskit.schema import ACK, FIN, RST, SYN

#: a sequence number below every unwrapped one: "nothing seen yet".
NOTHING = np.iinfo(np.int64).min // 4


@dataclass(frozen=True)
class Rows:
    """Every segment's fields the analysis reads, and its groupings."""

    frame: np.ndarray
    #: capture time, integer nanoseconds (Wireshark compares times in ns).
    ns: np.ndarray
    stream: np.ndarray
    from_client: np.ndarray
    flags: np.ndarray
    seq: np.ndarray  # raw, int64
    ack: np.ndarray  # raw, int64
    seglen: np.ndarray  # int64
    win: np.ndarray  # raw window field, int64
    wscale: np.ndarray  # window-scale option shift, -1 where absent
    #: rows of one direction of one connection.
    direction: Groups
    #: rows of one connection.
    connection: Groups
    #: sequence number, unwrapped inside the direction (int64).
    seq_u: np.ndarray
    #: acknowledgement number in the peer direction's unwrapped sequence space; only
    #: meaningful where the ACK flag is set.
    ack_u: np.ndarray

    @classmethod
    def of(cls, segments: pd.DataFrame) -> Rows:
        """Gather the arrays of a segments table."""
        stream = segments["stream"].to_numpy(np.int64)
        from_client = segments["from_client"].to_numpy(bool)
        flags = segments["flags"].to_numpy(np.int64)
        seq = segments["seq"].to_numpy(np.int64)
        ack = segments["ack"].to_numpy(np.int64)
        direction_key = stream * 2 + from_client
        direction = Groups.of(direction_key)
        seq_u = direction.unwrap(seq, anchor=seq)
        has_ack = (flags & ACK) != 0
        # acks are unwrapped over a direction's ACK rows only, next to the peer's first seq
        peer_first_seq = _peer_first(direction_key, direction, seq, fallback=ack)
        ack_groups = Groups.of(direction_key * 2 + ~has_ack)
        ack_u = ack_groups.unwrap(ack, anchor=peer_first_seq)
        return cls(
            frame=segments["frame"].to_numpy(np.int64),
            ns=segments["ts"].astype("int64").to_numpy(),
            stream=stream,
            from_client=from_client,
            flags=flags,
            seq=seq,
            ack=ack,
            seglen=segments["payload_len"].to_numpy(np.int64),
            win=segments["win"].to_numpy(np.int64),
            wscale=segments["wscale"].astype("Int64").fillna(-1).to_numpy(np.int64),
            direction=direction,
            connection=Groups.of(stream),
            seq_u=seq_u,
            ack_u=ack_u,
        )

    def __len__(self) -> int:
        return len(self.frame)

    def has(self, bits: int) -> np.ndarray:
        """True where any of the flag ``bits`` is set."""
        return (self.flags & bits) != 0

    @property
    def plain(self) -> np.ndarray:
        """True where none of SYN, FIN, RST is set (Wireshark's window and ACK checks)."""
        return ~self.has(SYN | FIN | RST)

    def peer_last(self, values: np.ndarray, fill: object) -> np.ndarray:
        """For each row, ``values`` at the latest earlier row of the other direction of
        its connection (Wireshark's ``rev`` state), ``fill`` where there is none."""
        return take(values, self.peer_row, fill)

    @cached_property
    def peer_row(self) -> np.ndarray:
        """Each row's latest earlier row of the other direction (a row position), -1
        where there is none."""
        client = self.from_client
        of_client = self.connection.latest_row(client)
        of_server = self.connection.latest_row(~client)
        return np.where(client, of_server, of_client)


def _peer_first(
    key: np.ndarray, direction: Groups, seq: np.ndarray, fallback: np.ndarray
) -> np.ndarray:
    """Each row's peer direction's first raw sequence number (``fallback`` without one)."""
    firsts = direction.order[direction.first == np.arange(len(key))]
    first_seq = pd.Series(seq[firsts], index=key[firsts])
    peer = first_seq.reindex(key ^ 1).to_numpy()
    return np.where(np.isnan(peer), fallback, peer).astype(np.int64)
