"""Reused ports: a new connection's SYN on the 4-tuple of an earlier connection
(``tcp.analysis.reused_ports``, "A new tcp session is started with the same ports as
an earlier session in this trace").

>>> reused_ports(rows, segments)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hskit.analysis.rows import Rows
from hskit.schema import ACK, SYN

#: port numbers per address in an endpoint number (address id * PORTS + port).
PORTS = 1 << 16


def reused_ports(rows: Rows, segments: pd.DataFrame) -> np.ndarray:
    """True on the SYN (without ACK) that opens a connection whose address/port pair
    (either way round) an earlier connection of the capture used."""
    by_direction = rows.firsts.of_direction.reshape(-1, 2)  # (server, client) per connection
    unseen = np.iinfo(np.int64).max
    first = np.where(by_direction >= 0, by_direction, unseen).min(axis=1)
    first = np.sort(first[first != unseen])  # one row per connection, in order of appearance
    one, other = _endpoints(segments, first)
    ids, _ = pd.factorize(np.concatenate([one, other]))
    one_id, other_id = ids[: len(first)], ids[len(first) :]
    pair = np.minimum(one_id, other_id) * len(ids) + np.maximum(one_id, other_id)
    earlier = pd.Series(pair).duplicated(keep="first").to_numpy()
    result = np.zeros(len(rows), dtype=bool)
    result[first[earlier]] = True
    return result & rows.has(SYN) & ~rows.has(ACK)


def _endpoints(segments: pd.DataFrame, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Source and destination (address, port) of the rows at ``positions``, each as one
    number (addresses numbered in common, so equal endpoints get equal numbers)."""
    addresses = pd.concat(
        [segments["src_ip"].iloc[positions], segments["dst_ip"].iloc[positions]],
        ignore_index=True,
    )
    ids, _ = pd.factorize(addresses)
    count = len(positions)
    ports = [
        segments[name].to_numpy()[positions].astype(np.int64) for name in ("src_port", "dst_port")
    ]
    return ids[:count] * PORTS + ports[0], ids[count:] * PORTS + ports[1]
