"""The calculated window (``tcp.window_size``): the raw field shifted by the sender's
window scale, with Wireshark's rules for when a scale is known.

Wireshark scales a direction's window only when both SYNs carried the window-scale
option. A SYN without it, or a SYN-ACK without it, means no scaling at all (shift 0,
Wireshark's ``-2``). With only one SYN in the capture the other direction's scale is
unknown (``-1``): its windows are shown raw, and "window full" is not checked against
it. SYN segments are never scaled.

>>> calculated_window(63, 7, False)
8064
"""

from __future__ import annotations

import numpy as np

from hskit.analysis.rows import Rows
from hskit.compiled import inlined

#: Wireshark's ``win_scale`` values besides a shift.
UNKNOWN_SCALE = -1  # no SYN of this direction seen, nor anything ruling scaling out
NO_SCALING = -2  # a SYN without the option: windows are raw

#: the largest shift RFC 7323 allows; Wireshark caps larger ones to it.
MAX_SHIFT = 14


def window_scales(rows: Rows) -> np.ndarray:
    """Each direction's Wireshark ``win_scale`` (by direction id): a shift, ``-1`` or ``-2``.

    >>> window_scales(rows)  # doctest: +SKIP
    """
    syn_seen = _option(rows, rows.firsts.syn)
    synack_seen = _option(rows, rows.firsts.synack)
    client = np.full(rows.connections, UNKNOWN_SCALE)
    server = np.full(rows.connections, UNKNOWN_SCALE)
    has_syn, has_synack = syn_seen >= -1, synack_seen >= -1
    syn_ws, synack_ws = syn_seen >= 0, synack_seen >= 0
    rules = [  # first match wins
        ("SYN without the option: no scaling", has_syn & ~syn_ws, NO_SCALING, NO_SCALING),
        ("SYN-ACK without it", has_synack & ~synack_ws, NO_SCALING, NO_SCALING),
        ("both carried it", has_syn & has_synack, syn_seen, synack_seen),
        ("only the SYN seen", has_syn, syn_seen, UNKNOWN_SCALE),
        ("only the SYN-ACK seen", has_synack, UNKNOWN_SCALE, synack_seen),
    ]
    decided = np.zeros(rows.connections, dtype=bool)
    for _, condition, client_scale, server_scale in rules:
        pick = condition & ~decided
        client = np.where(pick, client_scale, client)
        server = np.where(pick, server_scale, server)
        decided |= pick
    scales = np.empty(rows.directions, dtype=np.int64)
    scales[1::2] = np.minimum(client, MAX_SHIFT)  # direction conn * 2 + from_client
    scales[0::2] = np.minimum(server, MAX_SHIFT)
    return scales


def _option(rows: Rows, first: np.ndarray) -> np.ndarray:
    """Per connection, the window-scale shift of the row at ``first``: -1 when it had no
    option, -2 when there is no such row (``first`` -1)."""
    shift = rows.wscale[np.maximum(first, 0)].to_numpy(dtype=np.int64, na_value=-1)
    return np.where(first >= 0, shift, -2)


@inlined
def calculated_window(raw: int, scale: int, syn: bool) -> int:
    """``raw << scale`` where the scale is a shift and the segment is not a SYN."""
    return raw << scale if scale >= 0 and not syn else raw
