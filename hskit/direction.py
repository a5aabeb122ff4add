"""Who is the client of each stream: the ``from_client`` column, shared by both backends.

The client is the sender of the stream's first SYN without ACK; without one, the
receiver of its first SYN-ACK; without either, the sender of its first segment. Given
Zeek's ``likely_server_ports``, a stream with neither SYN nor SYN-ACK is oriented as
Zeek orients it: the receiver of its first segment is the client when the segment
comes from a likely server port (:func:`zeek_flipped`).

>>> import pandas as pd
>>> rows = pd.DataFrame({"stream": [0, 0], "src_ip": ["b", "a"], "dst_ip": ["a", "b"],
...                      "src_port": [80, 5000], "dst_port": [5000, 80], "flags": [0x12, 0x10]})
>>> from_client(rows).tolist()
[False, True]
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import numpy.typing as npt
import pandas as pd

from hskit.schema import ACK, SYN

_SYN_ONLY, _SYN_ACK, _ANY = 0, 1, 2


def from_client(
    segments: pd.DataFrame, likely_server_ports: Collection[int] | None = None
) -> npt.NDArray[np.bool_]:
    """True for each row sent by its stream's client.

    Needs the columns ``stream, src_ip, dst_ip, src_port, dst_port, flags`` in capture
    order; one pass of column operations, no loop per stream. ``likely_server_ports``
    (e.g. :data:`hskit.classify.zeek.ports.DEFAULT_LIKELY_SERVER_PORTS`) turns on Zeek's
    port heuristic for streams without SYN and SYN-ACK; ``None`` leaves it off.

    >>> rows = pd.DataFrame({"stream": [0], "src_ip": ["s"], "dst_ip": ["c"],
    ...                      "src_port": [80], "dst_port": [5000], "flags": [0x18]})
    >>> from_client(rows).tolist(), from_client(rows, likely_server_ports={80}).tolist()
    ([True], [False])
    """
    count = len(segments)
    if count == 0:
        return np.zeros(0, dtype=bool)
    stream = segments["stream"].to_numpy(dtype=np.int64)
    flags = segments["flags"].to_numpy(dtype=np.int64)
    kind = np.full(count, _ANY, dtype=np.int8)
    kind[(flags & (SYN | ACK)) == SYN] = _SYN_ONLY
    kind[(flags & (SYN | ACK)) == (SYN | ACK)] = _SYN_ACK

    # The deciding row of each stream: smallest kind, then earliest row.
    order = np.lexsort((np.arange(count), kind, stream))
    first_of_stream = np.ones(count, dtype=bool)
    first_of_stream[1:] = stream[order][1:] != stream[order][:-1]
    deciding = order[first_of_stream]
    deciding_stream = stream[deciding]

    # For a SYN-ACK the client is its receiver, otherwise the sender …
    receiver_is_client = kind[deciding] == _SYN_ACK
    if likely_server_ports is not None:
        # … or, for a stream without SYN and SYN-ACK, when Zeek's port heuristic says so.
        receiver_is_client |= zeek_flipped(
            flags[deciding],
            segments["src_port"].to_numpy()[deciding],
            segments["dst_port"].to_numpy()[deciding],
            likely_server_ports,
        )
    src_key, dst_key = endpoint_keys(segments)
    client_key = np.zeros(int(stream.max()) + 1, dtype=np.int64)
    client_key[deciding_stream] = np.where(receiver_is_client, dst_key[deciding], src_key[deciding])
    return src_key == client_key[stream]


def zeek_flipped(
    flags: npt.ArrayLike,
    src_port: npt.ArrayLike,
    dst_port: npt.ArrayLike,
    likely_server_ports: Collection[int],
) -> npt.NDArray[np.bool_]:
    """For a connection's first packet: does Zeek make its receiver the originator?

    Zeek's port heuristic (``TCPAnalyzer::WantConnection``): the sender of a SYN without
    ACK stays the originator; any other first packet is flipped when its source port is
    a likely server port and its destination port is not, or when both are, the packet
    is not a SYN-ACK and its source port is the lower one. Zeek logs a flip as ``^`` in
    ``history``. (A connection that starts with a SYN-ACK and is not flipped here may be
    flipped later, see :func:`hskit.classify.zeek.fields.orientation`.)

    >>> zeek_flipped([0x10, 0x10, 0x12, 0x12, 0x02], [80, 5000, 8000, 80, 80],
    ...              [5000, 80, 1080, 5000, 5000], {80, 1080, 8000}).tolist()
    [True, False, False, True, False]
    """
    flags = np.asarray(flags, dtype=np.int64)
    src = np.asarray(src_port, dtype=np.int64)
    dst = np.asarray(dst_port, dtype=np.int64)
    ports = np.fromiter(likely_server_ports, dtype=np.int64)
    src_likely = np.isin(src, ports)
    dst_likely = np.isin(dst, ports)
    syn = (flags & SYN) != 0
    partial = ~syn | ((flags & ACK) != 0)
    return partial & src_likely & (~dst_likely | (~syn & (src < dst)))


def endpoint_keys(
    segments: pd.DataFrame,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """One integer per (address, port) endpoint for each row's source and destination.

    >>> rows = pd.DataFrame({"src_ip": ["a"], "dst_ip": ["b"], "src_port": [1], "dst_port": [2]})
    >>> src, dst = endpoint_keys(rows); bool(src[0] != dst[0])
    True
    """
    src_ip, dst_ip = segments["src_ip"], segments["dst_ip"]
    shared_categories = (
        isinstance(src_ip.dtype, pd.CategoricalDtype)
        and isinstance(dst_ip.dtype, pd.CategoricalDtype)
        and src_ip.cat.categories.equals(dst_ip.cat.categories)  # same order, not just same set
    )
    if shared_categories:
        # As both loaders produce: the codes already identify addresses.
        codes = np.concatenate([src_ip.cat.codes.to_numpy(), dst_ip.cat.codes.to_numpy()])
    else:
        addresses = pd.concat([src_ip.astype("string"), dst_ip.astype("string")], ignore_index=True)
        codes, _ = pd.factorize(addresses)
    count = len(segments)
    ports = np.concatenate(
        [segments["src_port"].to_numpy(np.int64), segments["dst_port"].to_numpy(np.int64)]
    )
    keys = codes.astype(np.int64) * 65536 + ports
    return keys[:count], keys[count:]
