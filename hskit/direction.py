"""Who is the client of each stream: the ``from_client`` column, shared by both backends.

The client is the sender of the stream's first SYN without ACK; without one, the
receiver of its first SYN-ACK; without either, the sender of its first segment.

>>> import pandas as pd
>>> rows = pd.DataFrame({"stream": [0, 0], "src_ip": ["b", "a"], "dst_ip": ["a", "b"],
...                      "src_port": [80, 5000], "dst_port": [5000, 80], "flags": [0x12, 0x10]})
>>> from_client(rows).tolist()
[False, True]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from hskit.schema import ACK, SYN

_SYN_ONLY, _SYN_ACK, _ANY = 0, 1, 2


def from_client(segments: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """True for each row sent by its stream's client.

    Needs the columns ``stream, src_ip, dst_ip, src_port, dst_port, flags`` in capture
    order; one pass of column operations, no loop per stream.
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

    src_key, dst_key = _endpoint_keys(segments)
    # For a SYN-ACK the client is its receiver, otherwise the sender.
    client_key_of_deciding = np.where(
        kind[deciding] == _SYN_ACK, dst_key[deciding], src_key[deciding]
    )
    client_key = np.zeros(int(stream.max()) + 1, dtype=np.int64)
    client_key[deciding_stream] = client_key_of_deciding
    return src_key == client_key[stream]


def _endpoint_keys(
    segments: pd.DataFrame,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """One integer per (address, port) endpoint, comparable between src and dst."""
    addresses = pd.concat(
        [segments["src_ip"].astype("string"), segments["dst_ip"].astype("string")],
        ignore_index=True,
    )
    codes, _ = pd.factorize(addresses)
    count = len(segments)
    ports = np.concatenate(
        [segments["src_port"].to_numpy(np.int64), segments["dst_port"].to_numpy(np.int64)]
    )
    keys = codes.astype(np.int64) * 65536 + ports
    return keys[:count], keys[count:]
