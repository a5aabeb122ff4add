"""Stream numbers and relative sequence numbers, computed the way Wireshark's TCP dissector does.

Wireshark keeps one conversation per address/port pair and starts a new one when a SYN
(without ACK) arrives whose sequence number differs from the base sequence number that
conversation already holds for that direction (a reused 4-tuple). Conversations are
numbered (``tcp.stream``) in order of first appearance. Each direction's base sequence
number is set by the first of: its first segment (``seq`` for a SYN, else ``seq - 1``)
or the first segment with ACK from the other side (``ack - 1``). A SYN-ACK re-bases its
sender's relative numbers from there on (Wireshark marks one with a new sequence number
``tcp.analysis.reused_ports`` and keeps the stream). ``tcp.ack`` is relative only when
the ACK flag is set, and the raw field otherwise.

The rules run as one compiled pass over the rows in capture order
(:func:`hskit.native.numbering.number_streams`), with each endpoint pair's latest
conversation kept from one chunk to the next (:class:`StreamCarry`).

>>> import numpy as np
>>> keys = np.array([1, 2, 1]), np.array([2, 1, 2])
>>> flags, seq, ack = np.array([2, 0x12, 0x10]), np.array([100, 500, 101]), np.array([0, 101, 501])
>>> streams(*keys, flags, seq, ack).rel_ack.tolist()
[0, 1, 1]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hskit.native.keys import KeyIds

Int = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]


@dataclass
class StreamColumns:
    stream: Int
    rel_seq: Int
    rel_ack: Int


def streams(
    src_key: Int, dst_key: Int, flags: Int, seq: Int, ack: Int, analyzed: Bool | None = None
) -> StreamColumns:
    """``tcp.stream``, relative ``tcp.seq`` and ``tcp.ack`` for segments in capture order.

    ``src_key``/``dst_key`` identify endpoints (address and port) as integers. Rows not
    ``analyzed`` (TCP headers quoted in ICMP errors, first IP fragments) take part in
    conversation numbering only: they set no base and keep raw sequence numbers.

    >>> keys = np.array([1, 2, 1, 2]), np.array([2, 1, 2, 1])
    >>> streams(*keys, np.array([2, 0x12, 2, 0x12]), np.array([7, 50, 9, 80]),
    ...         np.array([0, 8, 0, 10])).stream.tolist()  # a second SYN, new sequence number
    [0, 0, 1, 1]
    """
    return StreamCarry().streams(src_key, dst_key, flags, seq, ack, analyzed)


class StreamCarry:
    """Stream numbering continued chunk after chunk, as if the chunks were one capture.

    What a conversation carries into the next chunk is its stream number and, per
    direction, its base sequence number once set and what relative numbers subtract:
    the state of each endpoint pair's latest conversation, kept in arrays by pair id.

    >>> carry = StreamCarry()
    >>> keys = np.array([1, 2]), np.array([2, 1])
    >>> first = carry.streams(*keys, np.array([2, 0x12]), np.array([100, 500]), np.array([0, 101]))
    >>> later = carry.streams(*keys, np.array([0x10, 0x10]), np.array([101, 501]),
    ...                       np.array([501, 101]))
    >>> later.stream.tolist(), later.rel_seq.tolist(), later.rel_ack.tolist()
    ([0, 0], [1, 1], [1, 1])
    """

    def __init__(self) -> None:
        self._pairs = KeyIds()
        #: per endpoint pair: stream number of its latest conversation (-1: none yet)
        self._stream = np.zeros(0, dtype=np.int64)
        #: per endpoint pair and direction: is the latest conversation's base set, to what,
        #: and what its relative numbers subtract
        self._base_set = np.zeros((0, 2), dtype=bool)
        self._base = np.zeros((0, 2), dtype=np.uint32)
        self._rel_base = np.zeros((0, 2), dtype=np.uint32)
        #: streams numbered so far
        self.count = 0

    def streams(
        self, src_key: Int, dst_key: Int, flags: Int, seq: Int, ack: Int,
        analyzed: Bool | None = None,
    ) -> StreamColumns:  # fmt: skip
        """:func:`streams` of the next chunk, continuing the conversations of earlier ones."""
        from hskit.native import numbering  # loaded on first use, not on import

        rows = len(flags)
        columns = [np.ascontiguousarray(a, dtype=np.int64) for a in (src_key, dst_key, flags,
                                                                     seq, ack)]  # fmt: skip
        if any(len(column) != rows for column in columns) or (
            analyzed is not None and len(analyzed) != rows
        ):
            raise ValueError("stream numbering needs columns of one length")
        src, dst, flags64, seq64, ack64 = columns
        analyzed = (
            np.ones(rows, dtype=bool)
            if analyzed is None
            else np.ascontiguousarray(analyzed, dtype=bool)
        )
        pair = self._pairs.ids(np.minimum(src, dst), np.maximum(src, dst))
        self._grow(len(self._pairs))
        stream, rel_seq, rel_ack = (np.empty(rows, dtype=np.int64) for _ in range(3))
        count = numbering.number_streams(
            pair, src > dst, flags64, seq64, ack64, analyzed, self._stream, self._base_set,
            self._base, self._rel_base, self.count, stream, rel_seq, rel_ack,
        )  # fmt: skip
        if count == numbering.BROKEN:
            raise RuntimeError("stream state out of bounds (a bug in hskit.native.streams)")
        self.count = count
        return StreamColumns(stream, rel_seq, rel_ack)

    def _grow(self, pairs: int) -> None:
        """Room for the state of ``pairs`` endpoint pairs (doubling when short)."""
        if pairs <= len(self._stream):
            return
        capacity = max(pairs, 2 * len(self._stream))
        known = len(self._stream)
        stream = np.full(capacity, -1, dtype=np.int64)
        stream[:known] = self._stream
        self._stream = stream
        for name, dtype in (("_base_set", bool), ("_base", np.uint32), ("_rel_base", np.uint32)):
            grown = np.zeros((capacity, 2), dtype=dtype)
            grown[:known] = getattr(self, name)
            setattr(self, name, grown)
