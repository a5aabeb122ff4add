"""Community ID v1 flow hashes (https://github.com/corelight/community-id-spec), as Zeek
6+ logs them in conn.log (``community_id_v1``, policy/protocols/conn/community-id-logging).

The hash covers the two endpoints in a fixed order (the lower address, then port,
first), so both directions of a connection hash alike: SHA-1 over the seed (16 bits),
the two addresses, the protocol number, a zero byte and the two ports, base64-encoded
behind ``1:``.

The hash input of every flow is assembled with NumPy (each distinct address is parsed
once); only the SHA-1 and base64 calls run per flow, on bytes.

>>> community_ids(["128.232.110.120"], [34855], ["66.35.250.204"], [80])
['1:LQU9qZlK+B5F3KDmev6m5PMibrg=']
"""

from __future__ import annotations

import base64
import hashlib
import socket
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

#: IP protocol number of TCP.
IPPROTO_TCP = 6


def community_ids(
    orig_h: Sequence[str] | pd.Series,
    orig_p: npt.ArrayLike,
    resp_h: Sequence[str] | pd.Series,
    resp_p: npt.ArrayLike,
    *,
    proto: int = IPPROTO_TCP,
    seed: int = 0,
) -> list[str]:
    """The Community ID of each (orig_h, orig_p, resp_h, resp_p) flow."""
    hosts = pd.Series(
        np.concatenate(
            [
                pd.Series(orig_h, dtype="string").to_numpy(object),
                pd.Series(resp_h, dtype="string").to_numpy(object),
            ]
        )
    )
    codes, addresses = pd.factorize(hosts)
    n = len(codes) // 2
    packed = [_packed(address) for address in addresses]
    # Order of the distinct addresses as byte strings (an IPv4 and an IPv6 address
    # never meet in one flow).
    rank = np.empty(len(packed), dtype=np.int64)
    rank[sorted(range(len(packed)), key=packed.__getitem__)] = np.arange(len(packed))
    width = np.fromiter((len(p) for p in packed), dtype=np.int64, count=len(packed))
    table = np.frombuffer(b"".join(p.ljust(16, b"\0") for p in packed), dtype=np.uint8).reshape(
        len(packed), 16
    )

    orig_code, resp_code = codes[:n], codes[n:]
    orig_port = np.asarray(orig_p, dtype=np.int64)
    resp_port = np.asarray(resp_p, dtype=np.int64)
    swap = (rank[resp_code] < rank[orig_code]) | (
        (resp_code == orig_code) & (resp_port < orig_port)
    )
    low_code = np.where(swap, resp_code, orig_code)
    high_code = np.where(swap, orig_code, resp_code)
    low_port = np.where(swap, resp_port, orig_port)
    high_port = np.where(swap, orig_port, resp_port)

    hashes = np.empty(n, dtype=object)
    family_width = width[orig_code] if n else width[:0]
    for size in (4, 16):
        rows = np.flatnonzero(family_width == size)
        if not len(rows):
            continue
        material = np.concatenate(
            [
                np.broadcast_to(np.frombuffer(seed.to_bytes(2, "big"), np.uint8), (len(rows), 2)),
                table[low_code[rows], :size],
                table[high_code[rows], :size],
                np.broadcast_to(np.array([proto, 0], np.uint8), (len(rows), 2)),
                _big_endian16(low_port[rows]),
                _big_endian16(high_port[rows]),
            ],
            axis=1,
        )
        step = material.shape[1]
        flat = np.ascontiguousarray(material).tobytes()
        hashes[rows] = [
            "1:" + base64.b64encode(hashlib.sha1(flat[at : at + step]).digest()).decode()
            for at in range(0, len(flat), step)
        ]
    return hashes.tolist()


def _packed(address: str) -> bytes:
    """The network-order bytes of one address."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return socket.inet_pton(family, address)


def _big_endian16(values: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    """Each value as two bytes, most significant first."""
    return np.stack([(values >> 8) & 0xFF, values & 0xFF], axis=1).astype(np.uint8)
