"""TCP flag bits as text, tcpdump-style (``S.``) or Wireshark-style (``[SYN, ACK]``).

>>> from hskit import flags
>>> flags.label(0x12), flags.label(0x12, style="wireshark")
('S.', '[SYN, ACK]')
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
import numpy.typing as npt
import pandas as pd

from hskit.schema import FLAG_BITS

Style = Literal["tcpdump", "wireshark"]
_ALL_BITS = 0x1FF


def _text(bits: int, style: Style) -> str:
    if style == "tcpdump":
        letters = "".join(letter for bit, letter, _ in FLAG_BITS if bits & bit)
        return letters or "none"
    names = [name for bit, _, name in FLAG_BITS if bits & bit]
    return "[" + ", ".join(names) + "]" if names else "<None>"


_TABLES: dict[str, npt.NDArray[np.object_]] = {
    style: np.array([_text(bits, style) for bits in range(_ALL_BITS + 1)], dtype=object)
    for style in ("tcpdump", "wireshark")
}


@overload
def label(bits: int, style: Style = "tcpdump") -> str: ...
@overload
def label(bits: pd.Series, style: Style = "tcpdump") -> pd.Series: ...
@overload
def label(bits: npt.ArrayLike, style: Style = "tcpdump") -> npt.NDArray[np.object_]: ...
def label(
    bits: int | pd.Series | npt.ArrayLike, style: Style = "tcpdump"
) -> str | pd.Series | npt.NDArray[np.object_]:
    """Flag bits as text; works on one int, a NumPy array or a pandas Series.

    tcpdump style prints ``F S R P . U E W e`` in bit order (``.`` is ACK, ``none``
    when no flag is set); Wireshark style lists the names (``<None>`` when none).

    >>> label(0x18), label(0x04, style="wireshark")
    ('P.', '[RST]')
    """
    if style not in _TABLES:
        raise ValueError(f"style must be 'tcpdump' or 'wireshark', not {style!r}")
    table = _TABLES[style]
    if isinstance(bits, pd.Series):
        values = table[bits.to_numpy(dtype=np.int64) & _ALL_BITS]
        return pd.Series(values, index=bits.index, name=bits.name, dtype="string")
    if isinstance(bits, int | np.integer):
        return str(table[int(bits) & _ALL_BITS])
    return table[np.asarray(bits, dtype=np.int64) & _ALL_BITS]
