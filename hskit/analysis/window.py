"""The calculated window (``tcp.window_size``): the raw field shifted by the sender's
window scale, with Wireshark's rules for when a scale is known.

Wireshark scales a direction's window only when both SYNs carried the window-scale
option. A SYN without it, or a SYN-ACK without it, means no scaling at all (shift 0,
Wireshark's ``-2``). With only one SYN in the capture the other direction's scale is
unknown (``-1``): its windows are shown raw, and "window full" is not checked against
it. SYN segments are never scaled.

>>> scaled_window(np.array([63]), np.array([7]), np.array([False])).tolist()
[8064]
"""

from __future__ import annotations

import numpy as np

from hskit.analysis.rows import Rows
from hskit.schema import ACK, SYN

#: Wireshark's ``win_scale`` values besides a shift.
UNKNOWN_SCALE = -1  # no SYN of this direction seen, nor anything ruling scaling out
NO_SCALING = -2  # a SYN without the option: windows are raw

#: the largest shift RFC 7323 allows; Wireshark caps larger ones to it.
MAX_SHIFT = 14


def window_scales(rows: Rows) -> np.ndarray:
    """Each row's sender's Wireshark ``win_scale``: a shift, ``-1`` or ``-2``.

    >>> window_scales(rows)  # doctest: +SKIP
    """
    syn = rows.has(SYN) & ~rows.has(ACK)
    synack = rows.has(SYN) & rows.has(ACK)
    streams = int(rows.stream.max()) + 1 if len(rows) else 0
    syn_seen = _first_option(rows, syn, streams)
    synack_seen = _first_option(rows, synack, streams)
    client = np.full(streams, UNKNOWN_SCALE)
    server = np.full(streams, UNKNOWN_SCALE)
    has_syn, has_synack = syn_seen >= -1, synack_seen >= -1
    syn_ws, synack_ws = syn_seen >= 0, synack_seen >= 0
    rules = [  # first match wins
        ("SYN without the option: no scaling", has_syn & ~syn_ws, NO_SCALING, NO_SCALING),
        ("SYN-ACK without it", has_synack & ~synack_ws, NO_SCALING, NO_SCALING),
        ("both carried it", has_syn & has_synack, syn_seen, synack_seen),
        ("only the SYN seen", has_syn, syn_seen, UNKNOWN_SCALE),
        ("only the SYN-ACK seen", has_synack, UNKNOWN_SCALE, synack_seen),
    ]
    decided = np.zeros(streams, dtype=bool)
    for _, condition, client_scale, server_scale in rules:
        pick = condition & ~decided
        client = np.where(pick, client_scale, client)
        server = np.where(pick, server_scale, server)
        decided |= pick
    client, server = np.minimum(client, MAX_SHIFT), np.minimum(server, MAX_SHIFT)
    return np.where(rows.from_client, client[rows.stream], server[rows.stream])


def _first_option(rows: Rows, mask: np.ndarray, streams: int) -> np.ndarray:
    """Per stream, the window-scale shift of the first ``mask`` row: -1 when it had no
    option, -2 when the stream has no such row."""
    result = np.full(streams, -2, dtype=np.int64)
    positions = np.flatnonzero(mask)[::-1]  # reversed, so the first row is written last
    result[rows.stream[positions]] = rows.wscale[positions]
    return result


def scaled_window(raw: np.ndarray, scale: np.ndarray, syn: np.ndarray) -> np.ndarray:
    """``raw << scale`` where the scale is a shift and the segment is not a SYN."""
    shift = np.where((scale >= 0) & ~syn, scale, 0)
    return raw.astype(np.int64) << shift
