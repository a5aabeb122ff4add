"""Reused ports: a new connection's SYN on the 4-tuple of an earlier connection
(``tcp.analysis.reused_ports``, "A new tcp session is started with the same ports as
an earlier session in this trace").

>>> reused_ports(rows)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hskit.analysis.rows import Rows
from hskit.schema import ACK, SYN


def reused_ports(rows: Rows, segments: pd.DataFrame) -> np.ndarray:
    """True on the SYN (without ACK) that opens a connection whose address/port pair
    (either way round) an earlier connection of the capture used."""
    first = rows.connection.is_first()
    syn = rows.has(SYN) & ~rows.has(ACK)
    ends = segments[["src_ip", "src_port", "dst_ip", "dst_port"]].astype(str)
    one = ends["src_ip"] + "|" + ends["src_port"]
    other = ends["dst_ip"] + "|" + ends["dst_port"]
    pair = np.where(one < other, one + "/" + other, other + "/" + one)
    openers = pd.Series(pair[first])
    earlier = openers.duplicated(keep="first").to_numpy()
    result = np.zeros(len(rows), dtype=bool)
    result[np.flatnonzero(first)[earlier]] = True
    return result & syn
