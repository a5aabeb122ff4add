"""What the ladder shows of Wireshark's analysis: Info-column prefixes (``[TCP
Retransmission]``, ``[TCP Dup ACK 11#2]`` …) and a SYN's options (``MSS=1460 SACK_PERM
WS=128``).

Wireshark prepends each prefix to the Info column in the order it checks the flags, so
the last one checked reads first (``[TCP Window Full] [TCP Retransmission]``).

>>> table = hskit.analyze(segments)  # doctest: +SKIP
>>> analysis_prefixes(table).tolist()  # doctest: +SKIP
['', '[TCP Retransmission]']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hskit.schema import SYN

#: (flag column, Info prefix) in the order Wireshark 4.0 prints them
#: (``tcp_print_sequence_number_analysis``); the duplicate ACK's text is built per row.
PRINT_ORDER: tuple[tuple[str, str], ...] = (
    ("reused_ports", "[TCP Port numbers reused]"),
    ("plain_retransmission", "[TCP Retransmission]"),
    ("fast_retransmission", "[TCP Fast Retransmission]"),
    ("spurious_retransmission", "[TCP Spurious Retransmission]"),
    ("out_of_order", "[TCP Out-Of-Order]"),
    ("lost_segment", "[TCP Previous segment not captured]"),
    ("ack_lost_segment", "[TCP ACKed unseen segment]"),
    ("window_update", "[TCP Window Update]"),
    ("window_full", "[TCP Window Full]"),
    ("keep_alive", "[TCP Keep-Alive]"),
    ("keep_alive_ack", "[TCP Keep-Alive ACK]"),
    ("duplicate_ack", "[TCP Dup ACK]"),
    ("zero_window_probe", "[TCP ZeroWindowProbe]"),
    ("zero_window", "[TCP ZeroWindow]"),
    ("zero_window_probe_ack", "[TCP ZeroWindowProbeAck]"),
)


def analysis_prefixes(analysis: pd.DataFrame) -> pd.Series:
    """Each segment's Info-column prefix, ``""`` where no flag is set (same index).

    >>> flags = hskit.analyze(segments)  # doctest: +SKIP
    """
    plain = analysis["retransmission"] & ~(
        analysis["fast_retransmission"] | analysis["spurious_retransmission"]
    )
    marks = analysis.assign(plain_retransmission=plain)
    dup_text = (
        "[TCP Dup ACK "
        + analysis["duplicate_ack_frame"].astype("string")
        + "#"
        + analysis["duplicate_ack_num"].astype("string")
        + "]"
    ).fillna("")
    prefix = pd.Series("", index=analysis.index, dtype="string")
    for column, text in reversed(PRINT_ORDER):
        piece = dup_text if column == "duplicate_ack" else pd.Series(text, index=analysis.index)
        mark = marks[column].to_numpy(bool)
        joined = (prefix + " " + piece).where(prefix != "", piece)
        prefix = joined.where(mark, prefix)
    return prefix


def analysed(analysis: pd.DataFrame) -> np.ndarray:
    """True for segments with any analysis flag (drawn with the analysis line style)."""
    from hskit.schema import ANALYSIS_FLAGS

    return analysis[list(ANALYSIS_FLAGS)].to_numpy(bool).any(axis=1)


def syn_options(rows: pd.DataFrame) -> pd.Series:
    """`` MSS=1460 SACK_PERM WS=128`` for SYN segments (WS as the multiplier, as
    Wireshark's Info column), ``""`` elsewhere or without those columns."""
    text = pd.Series("", index=rows.index, dtype="string")
    if not {"mss", "sack_perm", "wscale"} <= set(rows.columns):
        return text
    syn = (rows["flags"].to_numpy(np.int64) & SYN) != 0
    mss = (" MSS=" + rows["mss"].astype("string")).fillna("")
    sack = pd.Series(np.where(rows["sack_perm"].to_numpy(bool), " SACK_PERM", ""), index=rows.index)
    scale = rows["wscale"].astype("Int64")
    ws = (" WS=" + (2 ** scale.clip(upper=14)).astype("string")).fillna("")
    return (mss + sack + ws).where(syn, "").astype("string")
