"""Options each connection negotiated in its handshake, read from the two SYNs.

The client's SYN is the one the SYN-ACK answered (else its first SYN), the server's
is that SYN-ACK (else its first SYN or SYN-ACK). ``mss_*`` is what each side
announced. Window scaling is in effect only when both SYNs carry the option (RFC 7323
§2.2), so ``wscale_*`` are NA unless both do; ``sack_perm`` and ``timestamps`` are
True when both SYNs carry them. ``ecn``: the SYN has ECE and CWR and the SYN-ACK ECE
without CWR (RFC 3168 §6.1.1). ``tfo``: TCP Fast Open was used — the SYN carries the
Fast Open option and data, and the SYN-ACK acknowledges that data (RFC 7413); a
cookie request, or a server that refuses the data, is not.

>>> sorted(OPTION_COLUMNS)[:3]
['ecn', 'mss_client', 'mss_server']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hskit.classify.handshake import Handshake
from hskit.classify.rows import Rows
from hskit.classify.streams import StreamIndex, take
from hskit.schema import CWR, ECE

OPTION_COLUMNS: tuple[str, ...] = (
    "mss_client",
    "mss_server",
    "wscale_client",
    "wscale_server",
    "sack_perm",
    "timestamps",
    "ecn",
    "tfo",
)


def negotiated(
    segments: pd.DataFrame, rows: Rows, index: StreamIndex, handshake: Handshake
) -> dict[str, object]:
    """The :data:`OPTION_COLUMNS` of every stream, one array per column.

    >>> from hskit import schema
    >>> from hskit.classify import handshake as hs
    >>> index = StreamIndex.from_streams([])
    >>> rows = Rows.from_segments(schema.empty_segments(), index)
    >>> len(negotiated(schema.empty_segments(), rows, index, hs.analyse(rows, index))["tfo"])
    0
    """
    client_row = handshake.client_syn_row
    server_row = handshake.server_syn_row
    both = (client_row >= 0) & (server_row >= 0)

    def original(positions: np.ndarray) -> np.ndarray:
        return np.where(positions >= 0, index.order[np.maximum(positions, 0)], -1)

    # rows of the original table (``-1``: none), looked up once per side
    client_original, server_original = original(client_row), original(server_row)

    def at(column: str, rows_: np.ndarray) -> pd.api.extensions.ExtensionArray:
        return segments[column].array.take(rows_, allow_fill=True)

    def flag(column: str, rows_: np.ndarray) -> np.ndarray:
        return np.where(rows_ >= 0, segments[column].to_numpy(bool)[rows_], False)

    wscale_client, wscale_server = at("wscale", client_original), at("wscale", server_original)
    scaling = both & ~pd.isna(wscale_client) & ~pd.isna(wscale_server)
    wscale_client[~scaling] = pd.NA
    wscale_server[~scaling] = pd.NA

    client_flags = take(rows.flags, client_row, 0)
    server_flags = take(rows.flags, server_row, 0)
    ecn_setup = ECE | CWR
    synack = handshake.synack
    data_acked = take(rows.ack, synack, 0) - handshake.isn_client - np.uint32(1)
    return {
        "mss_client": at("mss", client_original),
        "mss_server": at("mss", server_original),
        "wscale_client": wscale_client,
        "wscale_server": wscale_server,
        "sack_perm": both & flag("sack_perm", client_original) & flag("sack_perm", server_original),
        "timestamps": both
        & ~pd.isna(at("ts_val", client_original))
        & ~pd.isna(at("ts_val", server_original)),
        "ecn": both
        & ((client_flags & ecn_setup) == ecn_setup)
        & ((server_flags & ecn_setup) == ECE),
        "tfo": (synack >= 0)
        & flag("tfo", client_original)
        & (take(rows.payload_len, client_row, 0) > 0)
        & (data_acked.astype(np.uint32) > 0),
    }
