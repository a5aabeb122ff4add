"""How each connection closed: ``termination``, ``closer``, ``reset_by``, ``time_wait_end``.

Only segments from the moment the connection was established count. A side's FIN is
its first FIN before the first RST; it is *acknowledged* by the first later segment
of the peer with ACK whose ack covers FIN seq + payload + 1 (modulo 2^32). With both
FINs sent, the ACK of the first one decides the pattern: a separate earlier segment is
``fin_4way``, the second FIN itself is ``fin_3way``, later or never is
``simultaneous_close``. A RST before both FINs are acknowledged makes a close with
FINs ``fin_then_reset``; a RST after a complete close leaves its label as it is.
RSTs are not checked against the receive window, which a capture cannot know exactly.

``reset_by`` is the sender of the first RST (after establishment; for a connection
never established, of any RST, e.g. the server of a ``refused`` one). ``closer`` is
the sender of the first FIN, ``both`` for a simultaneous close, NA without FIN (for a
connection never established: of any FIN, SYN+FIN included).

``time_wait_end``: the endpoint in TIME_WAIT leaves it ``time_wait`` seconds after the
last ACK of the close (for a simultaneous close each endpoint after the ACK of its own
FIN; the column holds the later end), or at an earlier RST, which ends TIME_WAIT on
Linux (``net.ipv4.tcp_rfc1337=0``). NA when no endpoint reached TIME_WAIT or the last
ACK was not captured.

>>> TERMINATION_CODE["fin_3way"]
1
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hskit.classify.handshake import Float, Handshake
from hskit.classify.rows import Rows
from hskit.classify.streams import NONE, Bool, Int, StreamIndex, covers, select, take
from hskit.schema import CLOSER_LABELS, FIN, RESET_BY_LABELS, TERMINATION_LABELS

TERMINATION_CODE: dict[str, int] = {label: code for code, label in enumerate(TERMINATION_LABELS)}
CLOSER_CODE: dict[str, int] = {label: code for code, label in enumerate(CLOSER_LABELS)}
RESET_BY_CODE: dict[str, int] = {label: code for code, label in enumerate(RESET_BY_LABELS)}


@dataclass(frozen=True)
class Termination:
    """Per-stream teardown results (one entry per :class:`StreamIndex` group)."""

    code: npt.NDArray[np.int8]
    closer: npt.NDArray[np.int8]
    reset_by: npt.NDArray[np.int8]
    #: positions (``-1`` = none): each side's FIN, the peer's ACK of it, the first RST
    client_fin: Int
    server_fin: Int
    client_fin_acked: Int
    server_fin_acked: Int
    reset: Int
    #: the client sent the first FIN
    client_first: Bool
    #: both FINs were sent before either was acknowledged (also when a RST cut it short)
    simultaneous: Bool
    #: when each endpoint's TIME_WAIT ends (NaN: none, or still running at capture end)
    client_time_wait_end: Float
    server_time_wait_end: Float
    #: the endpoint's TIME_WAIT was ended by :attr:`reset`
    client_time_wait_reset: Bool
    server_time_wait_reset: Bool
    time_wait_end: Float


def analyse(rows: Rows, index: StreamIndex, handshake: Handshake, time_wait: float) -> Termination:
    """Label every stream's teardown from its FINs, their ACKs and the first RST.

    >>> from hskit import schema
    >>> from hskit.classify import handshake as hs
    >>> index = StreamIndex.from_streams([])
    >>> rows = Rows.from_segments(schema.empty_segments(), index)
    >>> analyse(rows, index, hs.analyse(rows, index), 60.0).code.tolist()
    []
    """
    client, server = rows.client, ~rows.client
    established = handshake.established
    after = np.where(established, handshake.established_at - 1, NONE)
    resets = index.hits(rows.rst)
    reset = _where(established, index.first(resets, after))
    client_fin = _where(established, index.first(rows.fin & client, after, before=reset))
    server_fin = _where(established, index.first(rows.fin & server, after, before=reset))
    acking = rows.has_ack & ~rows.rst
    client_fin_acked = _acked(rows, index, client_fin, acking & server)
    server_fin_acked = _acked(rows, index, server_fin, acking & client)

    has_client, has_server = client_fin >= 0, server_fin >= 0
    client_first = has_client & (~has_server | (client_fin < server_fin))
    second_fin = np.where(client_first, server_fin, client_fin)
    first_acked = np.where(client_first, client_fin_acked, server_fin_acked)
    both = has_client & has_server
    done = both & (client_fin_acked >= 0) & (server_fin_acked >= 0)
    done_at = np.where(done, np.maximum(client_fin_acked, server_fin_acked), NONE)
    cut = (reset >= 0) & (~done | (reset < done_at))
    simultaneous = both & ((first_acked < 0) | (first_acked > second_fin))

    code = select(
        [
            ~established,
            ~has_client & ~has_server & (reset >= 0),
            ~has_client & ~has_server,
            cut,
            ~both,
            simultaneous,
            first_acked == second_fin,
        ],
        [
            TERMINATION_CODE[label]
            for label in (
                "not_established",
                "reset",
                "open",
                "fin_then_reset",
                "half_closed",
                "simultaneous_close",
                "fin_3way",
            )
        ],
        TERMINATION_CODE["fin_4way"],
    ).astype(np.int8)
    # Never established: whoever sent a FIN (e.g. a capture of the client's side only).
    any_fin = index.first(((rows.flags & FIN) != 0) & ~rows.rst)
    closer = select(
        [
            established & ~has_client & ~has_server,
            established & simultaneous & ~cut,
            established & client_first,
            established,
            any_fin < 0,
            take(rows.client, any_fin, False),
        ],
        [
            NONE,
            CLOSER_CODE["both"],
            CLOSER_CODE["client"],
            CLOSER_CODE["server"],
            NONE,
            CLOSER_CODE["client"],
        ],
        CLOSER_CODE["server"],
    ).astype(np.int8)

    first_reset = np.where(established, reset, index.first(resets))
    reset_by = select(
        [first_reset < 0, take(rows.client, first_reset, False)],
        [NONE, RESET_BY_CODE["client"]],
        RESET_BY_CODE["server"],
    ).astype(np.int8)

    # TIME_WAIT: the active closer after ACKing the peer's FIN; both sides of a
    # simultaneous close after their own FIN is acknowledged.
    orderly = done & ~cut
    last_ack_time = rows.time_at(np.where(client_first, server_fin_acked, client_fin_acked))
    client_base = np.where(
        simultaneous,
        rows.time_at(client_fin_acked),
        np.where(client_first, last_ack_time, np.nan),
    )
    server_base = np.where(
        simultaneous,
        rows.time_at(server_fin_acked),
        np.where(client_first, np.nan, last_ack_time),
    )
    reset_time = np.where(reset > done_at, rows.time_at(reset), np.inf)
    client_end, client_cut = _time_wait_end(orderly, client_base, time_wait, reset_time)
    server_end, server_cut = _time_wait_end(orderly, server_base, time_wait, reset_time)
    with np.errstate(invalid="ignore"):
        time_wait_end = np.fmax(client_end, server_end)
    return Termination(
        code=code,
        closer=closer,
        reset_by=reset_by,
        client_fin=client_fin,
        server_fin=server_fin,
        client_fin_acked=client_fin_acked,
        server_fin_acked=server_fin_acked,
        reset=reset,
        client_first=client_first,
        simultaneous=simultaneous,
        client_time_wait_end=client_end,
        server_time_wait_end=server_end,
        client_time_wait_reset=client_cut,
        server_time_wait_reset=server_cut,
        time_wait_end=time_wait_end,
    )


def _acked(rows: Rows, index: StreamIndex, fin: Int, peer_acks: Bool) -> Int:
    """The first peer segment after ``fin`` that acknowledges it (``-1`` where none)."""
    safe = np.maximum(fin, 0)
    fin_end = rows.seq[safe] + rows.payload_len[safe] + np.uint32(1)
    hit = peer_acks & covers(rows.ack, index.per_row(fin_end))
    return _where(fin >= 0, index.first(hit, fin))


def _time_wait_end(
    orderly: Bool, base: Float, time_wait: float, reset_time: Float
) -> tuple[Float, Bool]:
    end = np.where(orderly, base + time_wait, np.nan)
    cut = end > reset_time
    return np.where(cut, reset_time, end), cut


def _where(condition: Bool, positions: Int) -> Int:
    return np.where(condition, positions, NONE)
