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
    first = np.flatnonzero(rows.connection.is_first())
    openers = segments.iloc[first]  # one row per connection: cheap to spell out
    one = openers["src_ip"].astype(str) + "|" + openers["src_port"].astype(str)
    other = openers["dst_ip"].astype(str) + "|" + openers["dst_port"].astype(str)
    pair = np.where(one < other, one + "/" + other, other + "/" + one)
    order = np.argsort(first, kind="stable")  # connections in order of appearance
    earlier = np.zeros(len(first), dtype=bool)
    earlier[order] = pd.Series(pair[order]).duplicated(keep="first").to_numpy()
    result = np.zeros(len(rows), dtype=bool)
    result[first[earlier]] = True
    syn = rows.has(SYN) & ~rows.has(ACK)
    return result & syn
