"""The per-row facts Wireshark's TCP analysis reads, gathered once as NumPy arrays.

:class:`Rows` holds, for every segment in capture order, the header fields the analysis
reads (in the segments schema's dtypes, so gathering them copies nothing and each
compiled pass has one signature) and the small integer ids its state arrays are indexed
by: the direction ``conn * 2 + from_client`` (``conn`` a connection id), whose peer is
``direction ^ 1`` (Wireshark's ``fwd`` and ``rev``). :class:`Firsts` are the rows the
analysis needs to know before its pass: each direction's first segment (its first
sequence number anchors the peer's acknowledgement numbers) and each connection's first
SYN and SYN-ACK (their window-scale options decide the scaling).

>>> rows = Rows.of(hskit.load(hskit.samples.path("refused")).segments)  # doctest: +SKIP
>>> rows.direction.tolist()  # doctest: +SKIP
[1, 0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hskit.compiled import exported
from hskit.schema import ACK, FIN, SEGMENT_DTYPES, SYN

#: a sequence number below every unwrapped one: "nothing seen yet".
NOTHING = np.iinfo(np.int64).min // 4
#: stream numbers up to this many times the rows are used as connection ids directly
#: (state arrays that large cost less than renumbering); sparser ones are renumbered.
DENSE_STREAMS = 4


@dataclass(frozen=True)
class Firsts:
    """Row positions (-1 for none) of the first segment of each direction, and of the
    first SYN (without ACK) and SYN-ACK of each connection."""

    of_direction: np.ndarray
    syn: np.ndarray
    synack: np.ndarray


@dataclass(frozen=True)
class Rows:
    """Every segment's fields the analysis reads, and its connection and direction ids."""

    frame: np.ndarray
    #: capture time, integer nanoseconds (Wireshark compares times in ns).
    ns: np.ndarray
    #: direction id, ``conn * 2 + from_client`` where ``conn`` is the connection id (the
    #: stream number where streams are dense, 0 ≤ conn < ``connections``).
    direction: np.ndarray
    flags: np.ndarray
    seq: np.ndarray  # raw
    ack: np.ndarray  # raw
    seglen: np.ndarray
    win: np.ndarray  # raw window field
    #: window-scale option shift (a pandas masked array: NA where absent).
    wscale: pd.api.extensions.ExtensionArray
    #: number of connection ids (state arrays per connection have this length).
    connections: int
    firsts: Firsts

    @classmethod
    def of(cls, segments: pd.DataFrame) -> Rows:
        """Gather the arrays of a segments table."""

        def column(name: str) -> np.ndarray:
            return _readonly(segments[name].to_numpy(SEGMENT_DTYPES[name]))

        conn, connections = _connection_ids(column("stream"))
        direction = _readonly(conn * 2 + column("from_client"))
        flags = column("flags")
        return cls(
            frame=column("frame"),
            ns=_readonly(segments["ts"].astype("int64").to_numpy()),
            direction=direction,
            flags=flags,
            seq=column("seq"),
            ack=column("ack"),
            seglen=column("payload_len"),
            win=column("win"),
            wscale=segments["wscale"].astype(SEGMENT_DTYPES["wscale"]).array,
            connections=connections,
            firsts=Firsts(*_firsts(direction, flags, connections * 2)),
        )

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def directions(self) -> int:
        """Number of direction ids."""
        return self.connections * 2

    def has(self, bits: int) -> np.ndarray:
        """True where any of the flag ``bits`` is set."""
        return (self.flags & bits) != 0

    @property
    def seq_space(self) -> np.ndarray:
        """Sequence space each segment takes: payload, plus one for a SYN or a FIN."""
        return self.seglen + self.has(SYN | FIN)


def _readonly(values: np.ndarray) -> np.ndarray:
    """A read-only view of ``values``: pandas gives read-only or writable arrays depending
    on how a table was made, and numba's JIT (where the loops are not built) compiles a
    pass once for each kind."""
    view = values.view()
    view.flags.writeable = False
    return view


def _connection_ids(stream: np.ndarray) -> tuple[np.ndarray, int]:
    """Stream numbers as ids for state arrays: themselves when dense enough, else their
    rank among the distinct streams; and how many ids there are."""
    stream = stream.astype(np.int64)
    if not len(stream):
        return stream, 0
    highest = int(stream.max())
    if highest < DENSE_STREAMS * len(stream):
        return stream, highest + 1
    distinct, conn = np.unique(stream, return_inverse=True)
    return conn.astype(np.int64), len(distinct)


@exported("UniTuple(int64[::1], 3)(int64[::1], uint16[::1], int64)")
def _firsts(
    direction: np.ndarray, flags: np.ndarray, directions: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fields of :class:`Firsts`, in one pass."""
    of_direction = np.full(directions, -1, dtype=np.int64)
    syn = np.full(directions // 2, -1, dtype=np.int64)
    synack = np.full(directions // 2, -1, dtype=np.int64)
    for row in range(len(direction)):
        own, conn = direction[row], direction[row] >> 1
        if of_direction[own] < 0:
            of_direction[own] = row
        opening = flags[row] & (SYN | ACK)
        if opening == SYN and syn[conn] < 0:
            syn[conn] = row
        if opening == SYN | ACK and synack[conn] < 0:
            synack[conn] = row
    return of_direction, syn, synack
