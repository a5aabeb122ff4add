"""Per-connection, per-direction counts of Wireshark's analysis flags (``retrans_c2s`` …).

The flags come from :func:`hskit.analyze`; a direction is the classifier's (``rows.client``),
so the counts follow a client/server flip by Zeek's port heuristic too.

>>> loss_counts(hskit.analyze(segments), rows, index)["retrans_c2s"]  # doctest: +SKIP
array([3])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from hskit.classify.rows import Rows
    from hskit.classify.streams import StreamIndex

#: connection column prefix -> the analysis flag it counts.
COUNTED_FLAGS: dict[str, str] = {
    "retrans": "retransmission",
    "lost": "lost_segment",
    "dup_acks": "duplicate_ack",
    "zero_windows": "zero_window",
}


def loss_counts(analysis: pd.DataFrame, rows: Rows, index: StreamIndex) -> dict[str, np.ndarray]:
    """``retrans_c2s``, ``retrans_s2c``, ``lost_c2s`` … per stream, in stream order."""
    counts: dict[str, np.ndarray] = {}
    for prefix, flag in COUNTED_FLAGS.items():
        marked = analysis[flag].to_numpy(bool)[index.order]
        counts[f"{prefix}_c2s"] = index.count(marked & rows.client)
        counts[f"{prefix}_s2c"] = index.count(marked & ~rows.client)
    return counts
