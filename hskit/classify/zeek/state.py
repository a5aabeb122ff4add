"""Zeek's TCP endpoint state machine as a table, and ``conn_state`` from its final states.

Zeek (``TCPSessionAdapter::UpdateStateMachine``) keeps a state per endpoint: INACTIVE,
SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET. A packet's effect depends
only on its direction, its SYN/ACK/FIN/RST bits, whether it carries payload, and the two
current states; so each of the 64 packet classes is a function on the 64 joint states
(orig, resp). A connection's final joint state is its packets' functions applied in
turn: for all connections at once, the first few packets one position at a time, the rest
of longer connections by pairwise composition in log2(longest connection) rounds; no loop
per packet or per connection.

>>> import numpy as np
>>> classes = packet_classes(np.array([True, False, True]), np.array([0x02, 0x12, 0x10]),
...                          np.zeros(3, dtype=np.int64))
>>> [endpoint_names(s) for s in final_states(np.zeros(3, dtype=np.int64), classes, 1)]
[('ESTABLISHED', 'ESTABLISHED')]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from hskit.classify.streams import first_rows, group_starts
from hskit.schema import ACK, CONN_STATES, FIN, RST, SYN

#: Zeek's endpoint states; RESET_AFTER_CLOSE is RESET entered from CLOSED (Zeek's
#: ``prev_state``), which a later FIN from the peer turns back into CLOSED.
ENDPOINT_STATES: tuple[str, ...] = (
    "INACTIVE", "SYN_SENT", "SYN_ACK_SENT", "PARTIAL", "ESTABLISHED",
    "CLOSED", "RESET", "RESET_AFTER_CLOSE",
)  # fmt: skip
INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET, RESET_AFTER_CLOSE = range(8)
ENDPOINT_COUNT = _N = len(ENDPOINT_STATES)

# packet class bits
_ORIG, _SYN, _ACK, _FIN, _RST, _DATA = 1, 2, 4, 8, 16, 32


def packet_classes(
    is_orig: npt.NDArray[np.bool_],
    flags: npt.NDArray[np.integer],
    payload_len: npt.ArrayLike,
    processed: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.uint8]:
    """The class (0–63) of each packet: direction, SYN/ACK/FIN/RST bits, payload or not;
    ``IGNORED`` where ``processed`` is False."""
    classes = _HEADER_CLASS_BITS[np.asarray(flags) & (SYN | ACK | FIN | RST)]
    classes |= np.asarray(is_orig, dtype=np.uint8) * np.uint8(_ORIG)
    classes |= (np.asarray(payload_len) > 0).astype(np.uint8) * np.uint8(_DATA)
    if processed is not None:
        classes[~processed] = IGNORED
    return classes


#: The class bits of each combination of the SYN, ACK, FIN and RST flag bits.
_HEADER_CLASS_BITS = np.array(
    [
        sum(
            bit
            for flag, bit in ((SYN, _SYN), (ACK, _ACK), (FIN, _FIN), (RST, _RST))
            if header & flag
        )
        for header in range((SYN | ACK | FIN | RST) + 1)
    ],
    dtype=np.uint8,
)


def _reset(state: int) -> int:
    return RESET_AFTER_CLOSE if state == CLOSED else RESET


def _step(joint: int, cls: int) -> int:
    """One packet of class ``cls`` applied to joint state ``orig * 8 + resp`` (Zeek's rules)."""
    is_orig = bool(cls & _ORIG)
    syn, ack, fin, rst, data = (bool(cls & bit) for bit in (_SYN, _ACK, _FIN, _RST, _DATA))
    orig, resp = divmod(joint, _N)
    me, peer = (orig, resp) if is_orig else (resp, orig)
    if me == INACTIVE:
        if syn:
            if is_orig:
                me = SYN_ACK_SENT if ack else SYN_SENT
            else:
                # The responder's SYN-ACK (or simultaneous SYN) establishes both sides.
                if peer == SYN_SENT or (peer == SYN_ACK_SENT and not ack):
                    peer = ESTABLISHED
                me = ESTABLISHED
        if fin:
            me = CLOSED
        if rst:
            me = _reset(me)
        if me == INACTIVE:
            if not is_orig and not data and peer == SYN_SENT:
                pass  # an ACK of the SYN before the SYN-ACK: still inactive
            elif ack and peer == ESTABLISHED:
                me = ESTABLISHED
            else:
                me = PARTIAL
    elif me in (SYN_SENT, SYN_ACK_SENT):
        if fin:
            me = CLOSED
        if rst:
            me = _reset(me)
    elif me in (PARTIAL, ESTABLISHED):
        if syn and not ack and me == PARTIAL and peer == INACTIVE:
            me = SYN_SENT
        if fin and not rst:
            me = CLOSED
            if peer == RESET_AFTER_CLOSE:  # the peer's FIN then RST was a normal close
                peer = CLOSED
        if rst:
            me = RESET
    elif me == CLOSED and rst and peer != CLOSED:
        me = RESET_AFTER_CLOSE
    orig, resp = (me, peer) if is_orig else (peer, me)
    return orig * _N + resp


#: Packets of each connection applied one at a time before the rest are composed.
STEPWISE = 16

#: The class of a packet Zeek does not process (a bad checksum): it changes no state.
IGNORED = 64

#: TRANSITIONS[class, joint] = joint state after a packet of that class (``IGNORED``: the
#: same state).
TRANSITIONS: npt.NDArray[np.uint8] = np.array(
    [[_step(joint, cls) for joint in range(_N * _N)] for cls in range(64)] + [list(range(_N * _N))],
    dtype=np.uint8,
)
_TRANSITIONS_FLAT = TRANSITIONS.reshape(-1)


def final_states(
    group: npt.NDArray[np.int64], classes: npt.NDArray[np.integer], n_groups: int
) -> npt.NDArray[np.int64]:
    """Final joint state of each group; rows sorted by group, in packet order within it.

    The first ``STEPWISE`` packets of every group are applied one position at a time,
    groups longest first so that those still going are a prefix (a step costs the groups
    that long); longer groups then compose their remaining packets' functions
    (:func:`_compose`) and apply the result.
    """
    firsts = first_rows(group)
    lengths = np.diff(np.append(firsts, len(group)))
    clipped = np.minimum(lengths, STEPWISE + 1).astype(np.uint8)
    longest_first = np.argsort(np.uint8(STEPWISE + 1) - clipped, kind="stable")
    going = np.cumsum(np.bincount(clipped, minlength=STEPWISE + 2)[::-1])[::-1]
    starts = firsts[longest_first]
    state = np.zeros(len(firsts), dtype=np.uint8)  # (INACTIVE, INACTIVE) before any packet
    for position in range(STEPWISE):
        count = going[position + 1]
        packet = classes[starts[:count] + position].astype(np.intp)
        state[:count] = _TRANSITIONS_FLAT[packet * _N * _N + state[:count]]
    longer = longest_first[: np.count_nonzero(lengths > STEPWISE)]
    if len(longer):
        rest_lengths = lengths[longer] - STEPWISE
        offsets = np.cumsum(rest_lengths) - rest_lengths
        rest_group = np.repeat(longer, rest_lengths)
        rest = np.repeat(firsts[longer] + STEPWISE - offsets, rest_lengths)
        rest += np.arange(len(rest))
        functions, ids = _compose(rest_group, classes[rest])
        state[: len(longer)] = functions[ids, state[: len(longer)]]
    final = np.zeros(n_groups, dtype=np.int64)
    final[group[firsts[longest_first]]] = state
    return final


#: Rows of a group composed into one function before :func:`row_states` walks the rows.
BLOCK = 64


def row_states(
    group: npt.NDArray[np.int64], classes: npt.NDArray[np.integer]
) -> npt.NDArray[np.uint8]:
    """The joint state after each row; rows sorted by group, in packet order within it.

    Each group is cut into blocks of ``BLOCK`` rows; each block's packets are composed
    into one function (:func:`_compose`), the blocks of a group then applied in turn
    from (INACTIVE, INACTIVE) to give each block's start state, and finally the rows of
    every block stepped through one position at a time: ``longest group / BLOCK +
    BLOCK`` vectorized steps, each over the groups or blocks still going.

    >>> classes = packet_classes(np.array([True, False]), np.array([0x02, 0x12]), np.zeros(2))
    >>> [endpoint_names(s) for s in row_states(np.zeros(2, dtype=np.int64), classes)]
    [('SYN_SENT', 'INACTIVE'), ('ESTABLISHED', 'ESTABLISHED')]
    """
    count = len(group)
    after = np.zeros(count, dtype=np.uint8)
    if count == 0:
        return after
    position = np.arange(count) - group_starts(group)
    block = np.cumsum(position % BLOCK == 0) - 1
    block_first = first_rows(block)
    functions, ids = _compose(block, classes)
    # Each block's start state: blocks of a group in turn, all groups at once.
    order_in_group = position[block_first] // BLOCK
    start = np.zeros(len(block_first), dtype=np.uint8)
    by_rank = np.argsort(order_in_group, kind="stable")
    bounds = np.searchsorted(order_in_group[by_rank], np.arange(order_in_group.max() + 2))
    for rank in range(1, len(bounds) - 1):
        blocks = by_rank[bounds[rank] : bounds[rank + 1]]
        start[blocks] = functions[ids[blocks - 1], start[blocks - 1]]
    # Rows of every block, one position at a time.
    offset = position % BLOCK
    by_offset = np.argsort(offset, kind="stable")
    row_bounds = np.searchsorted(offset[by_offset], np.arange(BLOCK + 1))
    state = start.copy()
    for step in range(BLOCK):
        rows = by_offset[row_bounds[step] : row_bounds[step + 1]]
        if len(rows) == 0:
            break
        blocks = block[rows]
        state[blocks] = _TRANSITIONS_FLAT[classes[rows].astype(np.intp) * _N * _N + state[blocks]]
        after[rows] = state[blocks]
    return after


def _compose(
    group: npt.NDArray[np.int64], ids: npt.NDArray[np.integer]
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Each group's packets composed into one function: ``(functions, ids)`` with
    ``functions[ids[i]]`` the composition for the i-th group (groups in given order).

    Each round composes neighbouring pairs of each group's functions; only the distinct
    functions are materialised, so a round costs O(rows) plus O(distinct pairs × 64), and
    there are log2(longest group) rounds.
    """
    functions = TRANSITIONS
    ids = ids.astype(np.int64)
    group = group.astype(np.int64)
    while True:
        same_next = np.zeros(len(ids), dtype=bool)
        same_next[:-1] = group[1:] == group[:-1]
        start = np.ones(len(ids), dtype=bool)
        start[1:] = ~same_next[:-1]
        index = np.arange(len(ids))
        position = index - np.maximum.accumulate(np.where(start, index, 0))
        left = same_next & (position % 2 == 0)
        if not left.any():
            return functions, ids
        lefts = np.flatnonzero(left)
        pairs, pair_id = np.unique(
            ids[lefts] * len(functions) + ids[lefts + 1], return_inverse=True
        )
        first, then = np.divmod(pairs, len(functions))
        composed = np.take_along_axis(functions[then], functions[first].astype(np.int64), axis=1)
        ids[lefts] = len(functions) + pair_id.reshape(-1)
        keep = np.ones(len(ids), dtype=bool)
        keep[lefts + 1] = False
        functions, renumber = np.unique(
            np.concatenate([functions, composed]), axis=0, return_inverse=True
        )
        ids = renumber.reshape(-1)[ids[keep]]
        group = group[keep]


def endpoint_names(joint: int) -> tuple[str, str]:
    """``(orig, resp)`` state names of a joint state.

    >>> endpoint_names(ESTABLISHED * 8 + RESET)
    ('ESTABLISHED', 'RESET')
    """
    orig, resp = divmod(int(joint), _N)
    return ENDPOINT_STATES[orig], ENDPOINT_STATES[resp]


def conn_state(
    joint: npt.NDArray[np.int64],
    no_payload: npt.NDArray[np.bool_],
    syn_then_rst: npt.NDArray[np.bool_],
) -> pd.Categorical:
    """Zeek's ``conn_state`` (``Conn::conn_state`` in base/protocols/conn/main.zeek).

    ``no_payload``: neither side sent payload (Zeek's sizes both 0, which makes two
    resets a REJ); ``syn_then_rst``: the history matches ``^?S[^HAFGIQ]*R.*`` (RSTOS0).
    Looked up in a table of :func:`_conn_state_codes` over every combination.

    >>> list(conn_state(np.array([SYN_SENT * 8 + INACTIVE, CLOSED * 8 + CLOSED]),
    ...                 np.array([True, False]), np.array([False, False])))
    ['S0', 'SF']
    """
    index = np.asarray(joint) * 4 + np.asarray(no_payload) * 2 + np.asarray(syn_then_rst)
    codes = _CONN_STATE_CODES[index]
    return pd.Categorical.from_codes(codes, categories=CONN_STATES, validate=False)


def _conn_state_codes(
    joint: npt.NDArray[np.int64],
    no_payload: npt.NDArray[np.bool_],
    syn_then_rst: npt.NDArray[np.bool_],
) -> npt.NDArray[np.int8]:
    """:func:`conn_state` as codes into ``CONN_STATES``, from Zeek's rules."""
    orig, resp = np.divmod(joint, _N)
    o_reset = np.isin(orig, (RESET, RESET_AFTER_CLOSE))
    r_reset = np.isin(resp, (RESET, RESET_AFTER_CLOSE))
    o_inactive = np.isin(orig, (INACTIVE, PARTIAL))
    r_inactive = np.isin(resp, (INACTIVE, PARTIAL))
    o_closed, r_closed = orig == CLOSED, resp == CLOSED
    conditions = [
        r_reset & (np.isin(orig, (SYN_SENT, SYN_ACK_SENT)) | (o_reset & no_payload)),
        r_reset & o_inactive,
        r_reset,
        o_reset & r_inactive & syn_then_rst,
        o_reset & r_inactive,
        o_reset,
        o_closed & r_closed,
        o_closed & r_inactive,
        o_closed,
        r_closed & o_inactive,
        r_closed,
        (orig == SYN_SENT) & (resp == INACTIVE),
        (orig == ESTABLISHED) & (resp == ESTABLISHED),
    ]
    choices = ["REJ", "RSTRH", "RSTR", "RSTOS0", "OTH", "RSTO", "SF", "SH", "S2", "SHR", "S3"]
    choices += ["S0", "S1"]
    codes = [CONN_STATES.index(choice) for choice in choices]
    return np.select(conditions, codes, default=CONN_STATES.index("OTH")).astype(np.int8)


#: ``_conn_state_codes`` of every ``joint * 4 + no_payload * 2 + syn_then_rst``.
_CONN_STATE_CODES = _conn_state_codes(
    np.arange(_N * _N * 4) // 4,
    np.arange(_N * _N * 4) // 2 % 2 == 1,
    np.arange(_N * _N * 4) % 2 == 1,
)
