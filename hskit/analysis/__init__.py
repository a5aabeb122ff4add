"""Per-segment TCP analysis equal to Wireshark's ``tcp.analysis.*``.

``hskit.analyze(segments)`` returns one row per segment, aligned with the segments
table (same index), with one boolean column per Wireshark analysis flag, named as
tshark's field suffix (``retransmission``, ``duplicate_ack``, ``zero_window`` …), the
duplicate-ACK number and frame, the calculated window (``tcp.window_size``), the ACK
round-trip time (``tcp.analysis.ack_rtt``) and the bytes in flight. The column
meanings live in :data:`hskit.schema.ANALYSIS_MEANINGS`.

>>> cap = hskit.load(hskit.samples.path("no_answer"))  # doctest: +SKIP
>>> hskit.analyze(cap.segments)["retransmission"].tolist()  # doctest: +SKIP
[False, True, True, True]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hskit.analysis.acks import ack_rtt, bytes_in_flight
from hskit.analysis.reused import reused_ports
from hskit.analysis.rows import Rows
from hskit.analysis.sequence import sequence_flags
from hskit.analysis.window import scaled_window, window_scales
from hskit.schema import ANALYSIS_DTYPES, SYN, conform

__all__ = ["analyze"]


def analyze(segments: pd.DataFrame) -> pd.DataFrame:
    """Wireshark's TCP analysis of every segment of ``segments`` (capture order).

    >>> hskit.analyze(cap.segments).query("retransmission")  # doctest: +SKIP
    """
    if not len(segments):
        return _empty(segments.index)
    rows = Rows.of(segments)
    window = scaled_window(rows.win, window_scales(rows), rows.has(SYN))
    flags, expected = sequence_flags(rows, window)
    columns: dict[str, object] = {name: flags[name] for name in ANALYSIS_DTYPES if name in flags}
    columns["reused_ports"] = reused_ports(rows, segments)
    columns["duplicate_ack_num"] = _present(flags["duplicate_ack_num"])
    columns["duplicate_ack_frame"] = _present(flags["duplicate_ack_frame"])
    columns["window"] = window
    columns["ack_rtt"] = ack_rtt(rows, expected)
    columns["bytes_in_flight"] = _present(bytes_in_flight(rows, expected, flags["lost_segment"]))
    table = conform(pd.DataFrame(columns), ANALYSIS_DTYPES)
    table.index = segments.index
    return table


def _empty(index: pd.Index) -> pd.DataFrame:
    table = conform(pd.DataFrame({name: [] for name in ANALYSIS_DTYPES}), ANALYSIS_DTYPES)
    table.index = index
    return table


def _present(values: np.ndarray) -> pd.Series:
    """Zero as NA: Wireshark shows these fields only when they are set."""
    return pd.Series(values).where(values > 0).astype("UInt32")
