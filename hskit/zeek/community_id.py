"""Community ID v1 flow hashes (https://github.com/corelight/community-id-spec), as Zeek
6+ logs them in conn.log (``community_id_v1``, policy/protocols/conn/community-id-logging).

The hash covers the two endpoints in a fixed order (the lower address, then port,
first), so both directions of a connection hash alike: SHA-1 over the seed (16 bits),
the two addresses, the protocol number, a zero byte and the two ports, base64-encoded
behind ``1:``.

>>> community_ids(["128.232.110.120"], [34855], ["66.35.250.204"], [80])
['1:LQU9qZlK+B5F3KDmev6m5PMibrg=']
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
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
    """The Community ID of each (orig_h, orig_p, resp_h, resp_p) flow.

    Each distinct flow is hashed once (a capture holds few distinct 4-tuples compared
    with its connections).
    """
    flows = pd.DataFrame(
        {
            "orig_h": pd.Series(orig_h, dtype="string").to_numpy(object),
            "orig_p": np.asarray(orig_p, dtype=np.int64),
            "resp_h": pd.Series(resp_h, dtype="string").to_numpy(object),
            "resp_p": np.asarray(resp_p, dtype=np.int64),
        }
    )
    codes, distinct = pd.factorize(pd.MultiIndex.from_frame(flows))
    hashes = [_community_id(*flow, proto=proto, seed=seed) for flow in distinct]
    return [hashes[code] for code in codes]


def _community_id(
    orig_h: str, orig_p: int, resp_h: str, resp_p: int, *, proto: int, seed: int
) -> str:
    """The Community ID v1 of one flow."""
    orig = ipaddress.ip_address(orig_h).packed
    resp = ipaddress.ip_address(resp_h).packed
    if (resp, resp_p) < (orig, orig_p):
        orig, orig_p, resp, resp_p = resp, resp_p, orig, orig_p
    material = (
        seed.to_bytes(2, "big")
        + orig
        + resp
        + bytes((proto, 0))
        + int(orig_p).to_bytes(2, "big")
        + int(resp_p).to_bytes(2, "big")
    )
    return "1:" + base64.b64encode(hashlib.sha1(material).digest()).decode("ascii")
