"""Zeek's ``history`` letters, computed from TCP headers with column masks.

Per packet Zeek (``update_history`` in TCPSessionAdapter.cc) records at most one of
``S H A D F R I Q``, then ``W`` (zero window, ``update_window``), then ``T``
(retransmitted payload, ``update_last_seq``); upper case from the originator, lower
case from the responder:

- ``I`` FIN+RST, ``Q`` another multi-flag packet (SYN+FIN, SYN+RST), ``D`` payload,
  ``A`` pure ACK: the first of each kind per direction only;
- ``S`` SYN, ``H`` SYN-ACK, ``F`` FIN, ``R`` RST: the first, then again whenever the
  sequence number differs from the previous such packet in that direction (for FIN the
  sequence number after its payload). Zeek measures a SYN's sequence number from the
  endpoint's initial one, which a SYN resets unless the endpoint has closed or reset, so
  a SYN repeats its letter only after its sender's FIN or RST;
- ``W``, ``T``: when their count in that direction reaches 1, 10, 100, …

Not derivable from the segments table: ``C`` (bad checksum: segments carry no checksum
validity), ``G`` (content gap: needs Zeek's reassembler, active only with application
analyzers) and ``X`` (analyzer limits).

>>> import numpy as np, pandas as pd
>>> rows = pd.DataFrame({"flags": [0x02, 0x12, 0x10, 0x18, 0x11, 0x11], "seq": [0, 5, 1, 1, 4, 6],
...                      "payload_len": [0, 0, 0, 3, 0, 0], "win": [9] * 6})
>>> history(np.zeros(6, dtype=np.int64), np.array([1, 0, 1, 1, 1, 0], dtype=bool), rows,
...         np.zeros(1, dtype=bool)).tolist()
['ShADFf']
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hskit.schema import ACK, FIN, RST, SYN

#: Zeek's limit on sequence jumps it trusts in SYN and RST packets (TOO_LARGE_SEQ_DELTA).
TOO_LARGE_SEQ_DELTA = 1_048_576
_POWERS_OF_TEN = 10 ** np.arange(10, dtype=np.int64)

# order of a packet's letters: the flag letter, then W, then T; ^ before the first packet
_FLIP, _FLAG, _ZERO_WINDOW, _RETRANSMIT = -1, 0, 1, 2


def history(
    conn: npt.NDArray[np.int64],
    is_orig: npt.NDArray[np.bool_],
    rows: pd.DataFrame,
    flipped: npt.NDArray[np.bool_],
) -> pd.Series:
    """Zeek's history string of each connection.

    ``rows`` (columns ``flags, seq, payload_len, win``) are sorted by ``conn``, in capture
    order within it; ``flipped[c]`` is True when Zeek made connection ``c``'s first
    receiver its originator. Returns a ``string`` Series indexed by connection number.
    """
    flags = rows["flags"].to_numpy(np.int64)
    seq = rows["seq"].to_numpy(np.int64)
    payload = rows["payload_len"].to_numpy(np.int64)
    syn, ack = (flags & SYN) != 0, (flags & ACK) != 0
    fin, rst = (flags & FIN) != 0, (flags & RST) != 0
    side = conn * 2 + is_orig  # one group per connection and direction
    own_rst_before = count_before(side, rst) > 0
    own_close_before = count_before(side, fin | rst) > 0
    peer_fin_before = count_before(conn, fin) - count_before(side, fin) > 0

    sources = [
        _flag_letters(side, syn, ack, fin, rst, seq, payload, own_close_before),
        _scaled(side, _zero_window(rows, rst, own_rst_before, peer_fin_before), "W", _ZERO_WINDOW),
        _scaled(
            side,
            _retransmitted(side, syn, fin, rst, seq, payload, own_rst_before),
            "T",
            _RETRANSMIT,
        ),
    ]
    events = pd.concat(
        [_events(position, letter, order) for position, letter, order in sources],
        ignore_index=True,
    )
    position = events["position"].to_numpy()
    events["conn"] = conn[position]
    events["letter"] = events["letter"].where(is_orig[position], events["letter"].str.lower())
    first_rows = np.flatnonzero(np.r_[True, conn[1:] != conn[:-1]])
    flips = first_rows[flipped[conn[first_rows]]]
    events = pd.concat(
        [
            events,
            pd.DataFrame({"position": flips, "letter": "^", "order": _FLIP, "conn": conn[flips]}),
        ]
    )
    events = events.sort_values(["conn", "position", "order"], kind="stable")
    count = int(conn.max()) + 1 if len(conn) else 0
    offsets = np.zeros(count + 1, dtype=np.int32)
    np.cumsum(np.bincount(events["conn"].to_numpy(), minlength=count), out=offsets[1:])
    letters = pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(events["letter"].to_numpy(str), type=pa.string())
    )
    joined = pc.binary_join(letters, "")
    return pd.Series(pd.array(joined, dtype="string"))


def _events(
    position: npt.NDArray[np.int64], letter: npt.NDArray[np.str_] | str, order: int
) -> pd.DataFrame:
    return pd.DataFrame({"position": position, "letter": letter, "order": order})


def count_before(group: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_]) -> npt.NDArray:
    """How many earlier rows of the same group have ``mask`` set.

    >>> count_before(np.array([0, 0, 1, 0]), np.array([True, True, True, False])).tolist()
    [0, 1, 0, 2]
    """
    counts = pd.Series(mask.astype(np.int64)).groupby(group).cumsum().to_numpy()
    return counts - mask


def _flag_letters(
    side: npt.NDArray[np.int64],
    syn: npt.NDArray[np.bool_],
    ack: npt.NDArray[np.bool_],
    fin: npt.NDArray[np.bool_],
    rst: npt.NDArray[np.bool_],
    seq: npt.NDArray[np.int64],
    payload: npt.NDArray[np.int64],
    own_close_before: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.str_], int]:
    bits = syn.astype(np.int64) + fin + rst
    letter = np.select(
        [
            (bits > 1) & fin & rst,
            bits > 1,
            (bits == 1) & syn & ack,
            (bits == 1) & syn,
            (bits == 1) & fin,
            (bits == 1) & rst,
            payload > 0,
            ack,
        ],
        ["I", "Q", "H", "S", "F", "R", "D", "A"],
        default="",
    )
    # S and H share one "last SYN" per direction in Zeek; the others have their own.
    kind = np.where(letter == "H", "S", letter)
    value = np.where(fin, (seq + payload) % 2**32, seq)
    frame = pd.DataFrame({"side": side, "kind": kind, "value": value})
    candidates = frame[letter != ""]
    grouped = candidates.groupby(["side", "kind"], sort=False)
    first = grouped.cumcount().to_numpy() == 0
    changed = grouped["value"].diff().fillna(0).to_numpy() != 0
    kind = candidates["kind"].to_numpy()
    repeatable = np.isin(kind, ("F", "R")) | ((kind == "S") & own_close_before[candidates.index])
    chosen = candidates.index.to_numpy()[first | (repeatable & changed)]
    return chosen, letter[chosen], _FLAG


def _zero_window(
    rows: pd.DataFrame,
    rst: npt.NDArray[np.bool_],
    own_rst_before: npt.NDArray[np.bool_],
    peer_fin_before: npt.NDArray[np.bool_],
) -> npt.NDArray[np.bool_]:
    """A zero window, except with or after one's own RST or after the peer's FIN."""
    return (rows["win"].to_numpy() == 0) & ~rst & ~own_rst_before & ~peer_fin_before


def _retransmitted(
    side: npt.NDArray[np.int64],
    syn: npt.NDArray[np.bool_],
    fin: npt.NDArray[np.bool_],
    rst: npt.NDArray[np.bool_],
    seq: npt.NDArray[np.int64],
    payload: npt.NDArray[np.int64],
    own_rst_before: npt.NDArray[np.bool_],
) -> npt.NDArray[np.bool_]:
    """Payload that ends at or below the highest sequence number the sender reached.

    Zeek's ``last_seq`` starts at the end of a first SYN (so data on a SYN counts as a
    retransmission) or at the start of any other first packet; a FIN sent when nothing but
    the SYN was, moves it without counting. Sequence numbers are unwrapped per direction
    from 32-bit differences.
    """
    grouped = pd.Series(seq).groupby(side)
    step = (grouped.diff().fillna(0).to_numpy().astype(np.int64) + 2**31) % 2**32 - 2**31
    position = pd.Series(step).groupby(side).cumsum().to_numpy()
    end = position + payload * ~rst + syn + fin
    first = grouped.cumcount().to_numpy() == 0
    initial_last = np.where(first & syn, end, position)
    reached = pd.Series(np.where(first, initial_last, end)).groupby(side).cummax()
    last = np.where(first, initial_last, reached.groupby(side).shift(1).to_numpy())
    delta = end - last
    trusted = ~((syn | rst) & (np.abs(delta) > TOO_LARGE_SEQ_DELTA))
    opened_with_syn = pd.Series(syn).groupby(side).transform("first").to_numpy(bool)
    fin_after_syn_only = fin & opened_with_syn & (last == 1)
    return (payload > 0) & (delta <= 0) & trusted & ~fin_after_syn_only & ~own_rst_before


def _scaled(
    side: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_], letter: str, order: int
) -> tuple[npt.NDArray[np.int64], str, int]:
    """Rows where the per-direction count of ``mask`` reaches 1, 10, 100, …"""
    count = pd.Series(mask.astype(np.int64)).groupby(side).cumsum().to_numpy()
    return np.flatnonzero(mask & np.isin(count, _POWERS_OF_TEN)), letter, order
