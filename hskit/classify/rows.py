"""The segments columns the classifier reads, as NumPy arrays in stream order, and
the flag masks every step shares.

A segment with RST is a reset and nothing else; a SYN is a segment with SYN and
without RST (SYN+FIN counts as a SYN); a FIN is a segment with FIN and neither SYN
nor RST.

A *duplicate* is the same frame captured twice (``tcpdump -i any`` sees a bridged
packet on both veths, 1-6 µs apart): the previous row of its stream, in the same
direction, with identical flags, seq, ack, window, payload length and TCP timestamp,
less than :data:`DUPLICATE_WINDOW` seconds earlier. Without the IP ID (not in the
segments table) nothing else tells a copy from a genuine identical segment; Zeek's
test traces hold such segments 440 µs and 8 µs apart (two RSTs; ACKs of three
SYN-ACKs), so the window is short, and the 8 µs pair still counts once.

A *keep-alive* probe, as Wireshark defines it, carries at most one byte at the
sender's next sequence number minus one, without SYN, FIN or RST: it is neither data
nor a retransmission.

>>> from hskit import schema
>>> rows = Rows.from_segments(schema.empty_segments(), StreamIndex.from_streams([]))
>>> len(rows.syn)
0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from hskit.classify.streams import Bool, StreamIndex
from hskit.schema import ACK, FIN, RST, SYN

#: Two identical segments of a stream closer in time than this are one frame captured twice.
DUPLICATE_WINDOW = 20e-6


@dataclass(frozen=True)
class Rows:
    """Columns of a segments table, reordered by :class:`StreamIndex`, and flag masks."""

    flags: npt.NDArray[np.uint16]
    seq: npt.NDArray[np.uint32]
    ack: npt.NDArray[np.uint32]
    payload_len: npt.NDArray[np.uint32]
    client: Bool
    time: npt.NDArray[np.float64]
    #: RST set
    rst: Bool
    #: SYN set, RST not
    syn: Bool
    #: SYN without ACK (and without RST)
    syn_only: Bool
    #: SYN with ACK (and without RST)
    syn_ack: Bool
    #: FIN set, SYN and RST not
    fin: Bool
    #: ACK set
    has_ack: Bool
    #: the same frame captured again (see the module docstring)
    duplicate: Bool
    #: a keep-alive probe (see the module docstring)
    keep_alive: Bool
    #: ``time`` and ``frame`` with a last entry for position ``-1`` (NaN and ``-1``)
    time_or_nan: npt.NDArray[np.float64]
    frame_or_none: npt.NDArray[np.int64]

    def time_at(self, positions: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Capture time at each position, NaN for ``-1``."""
        return self.time_or_nan[positions]

    def frame_at(self, positions: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Frame number at each position, ``-1`` for ``-1``."""
        return self.frame_or_none[positions]

    @classmethod
    def from_segments(
        cls, segments: pd.DataFrame, index: StreamIndex, from_client: Bool | None = None
    ) -> Rows:
        """Gather ``segments``' columns in ``index`` order; ``from_client`` overrides the
        table's own column (same row order as ``segments``)."""
        order = index.order
        client_column = (
            segments["from_client"].to_numpy(bool) if from_client is None else from_client
        )

        def column(name: str, dtype: str) -> npt.NDArray:
            return segments[name].to_numpy(dtype)[order]

        def padded(name: str, dtype: str, spare: float) -> npt.NDArray:
            """The column in stream order and ``spare`` after it (for position ``-1``)."""
            out = np.empty(len(order) + 1, dtype=dtype)
            np.take(segments[name].to_numpy(dtype), order, out=out[:-1])
            out[-1] = spare
            return out

        flags = column("flags", "uint16")
        seq, ack = column("seq", "uint32"), column("ack", "uint32")
        payload_len = column("payload_len", "uint32")
        time_or_nan = padded("time", "float64", np.nan)
        time = time_or_nan[:-1]
        client = client_column[order]
        rst = (flags & RST) != 0
        syn = ((flags & SYN) != 0) & ~rst
        has_ack = (flags & ACK) != 0
        duplicate = _duplicates(segments, index, client, flags, seq, ack, payload_len, time)
        syn_or_fin = syn | ((flags & FIN) != 0)
        rel_seq = column("rel_seq", "int64")
        sent_before = _highest_sent_before(index, client, rel_seq + payload_len + syn_or_fin)
        keep_alive = (payload_len <= 1) & ~syn_or_fin & ~rst & (rel_seq + 1 == sent_before)
        frame_or_none = padded("frame", "int64", -1)
        return cls(
            flags=flags,
            seq=seq,
            ack=ack,
            payload_len=payload_len,
            client=client,
            time=time,
            rst=rst,
            syn=syn,
            syn_only=syn & ~has_ack,
            syn_ack=syn & has_ack,
            fin=((flags & FIN) != 0) & ~syn & ~rst,
            has_ack=has_ack,
            duplicate=duplicate,
            keep_alive=keep_alive,
            time_or_nan=time_or_nan,
            frame_or_none=frame_or_none,
        )


def _duplicates(
    segments: pd.DataFrame,
    index: StreamIndex,
    client: Bool,
    flags: npt.NDArray[np.uint16],
    seq: npt.NDArray[np.uint32],
    ack: npt.NDArray[np.uint32],
    payload_len: npt.NDArray[np.uint32],
    time: npt.NDArray[np.float64],
) -> Bool:
    """Rows that repeat the previous row of their stream (see the module docstring);
    window and TCP timestamp are compared only where everything else matched."""
    same = np.zeros(len(flags), dtype=bool)
    same[1:] = (
        (index.group[1:] == index.group[:-1])
        & (client[1:] == client[:-1])
        & (flags[1:] == flags[:-1])
        & (seq[1:] == seq[:-1])
        & (ack[1:] == ack[:-1])
        & (payload_len[1:] == payload_len[:-1])
        & (time[1:] - time[:-1] < DUPLICATE_WINDOW)
    )
    candidates = np.flatnonzero(same)
    if len(candidates):
        this, previous = index.order[candidates], index.order[candidates - 1]

        def at(name: str, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
            return segments[name].iloc[rows].to_numpy("int64", na_value=-1)

        same[candidates] = (at("win", this) == at("win", previous)) & (
            at("ts_val", this) == at("ts_val", previous)
        )
    return same


def _highest_sent_before(
    index: StreamIndex, client: Bool, end: npt.NDArray[np.int64]
) -> npt.NDArray:
    """Per row, the highest relative sequence end its sender reached in earlier rows of
    its stream (``-1`` before the first): one running maximum per direction, each
    stream lifted above the previous ones so the maximum never crosses streams."""
    lifted = end + (index.group << np.int64(34))
    highest = np.empty(len(end), dtype=np.int64)
    for mine in (client, ~client):
        # that direction's rows alone, in stream order
        positions = np.flatnonzero(mine)
        running = np.maximum.accumulate(lifted[positions]) if len(positions) else end[:0]
        group = index.group[positions]
        before = np.empty_like(running)
        before[:1] = -1
        before[1:] = np.where(
            group[1:] == group[:-1], running[:-1] - (group[1:] << np.int64(34)), -1
        )
        highest[positions] = before
    return highest
