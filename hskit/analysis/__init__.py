"""Per-segment TCP analysis equal to Wireshark's ``tcp.analysis.*``.

``hskit.analyze(segments)`` returns one row per segment, aligned with the segments
table (same index), with one boolean column per Wireshark analysis flag, named as
tshark's field suffix (``retransmission``, ``duplicate_ack``, ``zero_window`` …), the
duplicate-ACK number and frame, the calculated window (``tcp.window_size``), the ACK
round-trip time (``tcp.analysis.ack_rtt``) and the bytes in flight. The column
meanings live in :data:`hskit.schema.ANALYSIS_MEANINGS`.

Wireshark's analysis is a state machine run over the segments in capture order; here it
is too, compiled ahead of time (:mod:`hskit.compiled`): :mod:`~hskit.analysis.sequence`
(the flags), :mod:`~hskit.analysis.acks` (``ack_rtt``, ``bytes_in_flight``), with the per-connection
window scales (:mod:`~hskit.analysis.window`) and reused ports
(:mod:`~hskit.analysis.reused`) computed by NumPy beforehand.

>>> cap = hskit.load(hskit.samples.path("no_answer"))  # doctest: +SKIP
>>> hskit.analyze(cap.segments)["retransmission"].tolist()  # doctest: +SKIP
[False, True, True, True]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hskit.schema import ANALYSIS_DTYPES, ANALYSIS_FLAGS, conform

__all__ = ["analyze"]


def analyze(segments: pd.DataFrame) -> pd.DataFrame:
    """Wireshark's TCP analysis of every segment of ``segments`` (capture order).

    >>> hskit.analyze(cap.segments).query("retransmission")  # doctest: +SKIP
    """
    if not len(segments):
        return _empty(segments.index)
    # the compiled passes load on first use only (numba's JIT where they are not built)
    from hskit.analysis.acks import ack_rtt, bytes_in_flight
    from hskit.analysis.reused import reused_ports
    from hskit.analysis.rows import Rows
    from hskit.analysis.sequence import LOST_SEGMENT, sequence_flags
    from hskit.analysis.window import window_scales

    rows = Rows.of(segments)
    marks, numbers = sequence_flags(rows, window_scales(rows))
    marks[ANALYSIS_FLAGS.index("reused_ports")] = reused_ports(rows, segments)
    columns: dict[str, object] = dict(zip(ANALYSIS_FLAGS, marks, strict=True))
    columns["duplicate_ack_num"] = _present(numbers.duplicate_ack_num)
    columns["duplicate_ack_frame"] = _present(numbers.duplicate_ack_frame)
    columns["window"] = numbers.window
    columns["ack_rtt"] = ack_rtt(rows, numbers)
    columns["bytes_in_flight"] = _present(bytes_in_flight(rows, numbers, marks[LOST_SEGMENT]))
    return pd.DataFrame(columns, index=segments.index, copy=False)


def _empty(index: pd.Index) -> pd.DataFrame:
    table = conform(pd.DataFrame({name: [] for name in ANALYSIS_DTYPES}), ANALYSIS_DTYPES)
    table.index = index
    return table


def _present(values: np.ndarray) -> pd.arrays.IntegerArray:
    """Zero as NA (Wireshark shows these fields only when they are set), as UInt32."""
    return pd.arrays.IntegerArray(values.astype(np.uint32), values == 0)
