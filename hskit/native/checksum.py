"""TCP checksum validation for whole columns of segments.

The TCP checksum is the ones'-complement sum of the 16-bit words of a pseudo-header
(addresses, protocol, TCP length) and of the TCP header and payload; a segment is intact
when that sum, folded to 16 bits, is ``0xFFFF`` -- equivalently, when the plain integer
sum of the words is a multiple of ``0xFFFF`` (a carry folded back adds ``2**16 - 1``
less than it removes). The words of every segment are summed by a compiled loop over the
capture buffer (:func:`hskit.native.kernels.word_sums`).

A segment is verifiable when all of it was captured (tshark and Zeek skip the check for a
segment cut by the snap length, and so does :func:`checksum_ok`: NA). A checksum left for
the NIC to fill in (offload: the sending host captures its own packets before the card
computes the checksum) is not told apart: it is wrong on the wire copy, and tshark and
Zeek both call it bad.

>>> segment = np.frombuffer(bytes.fromhex("0050c350000000010000000050020000d83e0000"), np.uint8)
>>> pseudo = pseudo_header_sum(4, np.array([[10, 0, 0, 1]]), np.array([[10, 0, 0, 2]]),
...                            np.array([20]))
>>> checksum_ok(segment, np.array([0]), np.array([20]), np.array([20]), pseudo).tolist()
[True]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

#: IP protocol number of TCP, part of the pseudo-header.
IPPROTO_TCP = 6
#: ones'-complement arithmetic is arithmetic modulo this.
_ONES_MODULUS = 0xFFFF

Int = npt.NDArray[np.int64]


def pseudo_header_sum(
    ip_version: int | npt.NDArray[np.integer],
    src_address: npt.NDArray[np.uint8],
    dst_address: npt.NDArray[np.uint8],
    tcp_len: npt.ArrayLike,
) -> Int:
    """Plain sum of the pseudo-header's 16-bit words, one per segment.

    ``src_address``/``dst_address`` are the address bytes, one row per segment (4 bytes
    for IPv4, 16 for IPv6); ``tcp_len`` is the TCP header plus payload length. IPv4's
    pseudo-header holds a 16-bit length, IPv6's a 32-bit one: for lengths under 64 KiB
    their words sum the same, and the protocol word is 6 in both.

    >>> pseudo_header_sum(4, np.array([[0, 1, 0, 2]]), np.array([[0, 3, 0, 4]]), [20]).tolist()
    [36]
    """
    tcp_len = np.asarray(tcp_len, dtype=np.int64)
    return (
        _word_sum(src_address)
        + _word_sum(dst_address)
        + IPPROTO_TCP
        + (tcp_len >> 16)
        + (tcp_len & 0xFFFF)
    )


def _word_sum(address: npt.NDArray[np.uint8]) -> Int:
    """Sum of the big-endian 16-bit words of each row of address bytes.

    >>> _word_sum(np.array([[1, 2, 3, 4]], np.uint8)).tolist()
    [1030]
    """
    from hskit.native.kernels import row_word_sums  # loaded on first use, not on import

    return row_word_sums(np.asarray(address, dtype=np.uint8))


def checksum_ok(
    buffer: npt.NDArray[np.uint8],
    tcp_at: npt.ArrayLike,
    tcp_len: npt.ArrayLike,
    captured: npt.ArrayLike,
    pseudo_sum: npt.ArrayLike,
) -> pd.arrays.BooleanArray:
    """Whether each segment's TCP checksum is right; NA where it cannot be checked.

    ``tcp_at``: offset of each TCP header in ``buffer``; ``tcp_len``: TCP header plus
    payload length, from the IP lengths; ``captured``: bytes of the segment present in ``buffer``;
    ``pseudo_sum``: :func:`pseudo_header_sum`. A segment whose ``captured`` is short of
    ``tcp_len``, or shorter than a TCP header, is NA.
    """
    from hskit.native.kernels import word_sums  # loaded on first use, not on import

    tcp_at = np.asarray(tcp_at, dtype=np.int64)
    tcp_len = np.asarray(tcp_len, dtype=np.int64)
    verifiable = (np.asarray(captured) >= tcp_len) & (tcp_len >= 20)
    total = np.asarray(pseudo_sum, dtype=np.int64)[verifiable] + word_sums(
        buffer, tcp_at[verifiable], tcp_len[verifiable]
    )
    ok = np.zeros(len(tcp_at), dtype=bool)
    ok[verifiable] = total % _ONES_MODULUS == 0
    return pd.arrays.BooleanArray(ok, ~verifiable)
