"""How each connection opened: the ``handshake`` label, ISNs, counts and handshake RTTs.

Sequence numbers decide, not flag counts:

- a SYN-ACK (or the RST+ACK of a refusal) *answers* the client's latest SYN only if
  its ack is that SYN's seq + 1 (+ the SYN's payload, which a TCP Fast Open server may
  acknowledge); other SYN-ACKs do not complete anything, unless the client *took* one
  as the answer (see below);
- the final ACK is the first client segment with ACK (not SYN, not RST) after the
  answering SYN-ACK whose ack covers the server ISN + 1, compared modulo 2^32 — a data
  segment does it too when the bare ACK was not captured;
- a RST in SYN-SENT counts only with an acceptable ACK (RFC 9293 §3.10.7.3);
- where no SYN-ACK answers, the first SYN-ACK after a client SYN that acknowledges another
  number still answers when the client then acknowledges that SYN-ACK's sequence number
  + 1: the client took it as the answer (its stack sends a RST for a SYN-ACK it refuses,
  never an ACK of the server's ISN), as when a middlebox rewrote the SYN's sequence
  number after the capture point. Its connection is ``complete`` (Zeek's ``S1``/``SF``),
  not ``no_answer``, and its times count from it.

Labels, first match wins: both sides sent a SYN without ACK → ``simultaneous_open``
(established once each side's SYN is acknowledged); no client SYN → ``midstream``
(established from the first segment); an answering SYN-ACK and a final ACK before any
client RST → ``complete``; an answering SYN-ACK, then a client RST →
``reset_in_handshake``; an answering SYN-ACK only → ``no_final_ack``; a refusing RST →
``refused``; else ``no_answer`` — also when the capture saw only the client's side
(the server's SYN-ACK went another way).

Times: ``rtt_syn_synack`` runs from the SYN the SYN-ACK answers (the latest client
SYN before it) to the first answering SYN-ACK; ``rtt_synack_ack`` from the latest
answering SYN-ACK before the final ACK to the final ACK; ``handshake_time`` from the
latest client SYN before the final ACK to the final ACK. All three are NaN unless the
handshake is ``complete``.

tshark's ``tcp.analysis.initial_rtt`` is the same number where the final ACK is the
first segment of the connection with ACK and without SYN after a client SYN. Wireshark
stops its clock at that first segment whichever side sends it — a server's data or ACK
before the client's final ACK, a challenge ACK answering the SYN (RFC 5961) — and never
measures again, from the latest SYN without ACK seen by then; ``handshake_time`` runs to
the final ACK of the handshake that completed, as its name says.

>>> HANDSHAKE_CODE["refused"]
1
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hskit.classify.rows import Rows
from hskit.classify.streams import NONE, Bool, Int, StreamIndex, covers, select, take
from hskit.schema import HANDSHAKE_LABELS

#: code of each handshake label in :data:`hskit.schema.HANDSHAKE_DTYPE`
HANDSHAKE_CODE: dict[str, int] = {label: code for code, label in enumerate(HANDSHAKE_LABELS)}
Float = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Handshake:
    """Per-stream handshake results (one entry per :class:`StreamIndex` group)."""

    code: npt.NDArray[np.int8]
    #: positions (``-1`` = none) of the key segments
    first_client_syn: Int
    first_server_syn: Int
    synack: Int
    answered_syn: Int
    refusal: Int
    #: where each endpoint became ESTABLISHED (simultaneous open and complete)
    client_established: Int
    server_established: Int
    established: Bool
    #: position from which teardown is looked for (first row for midstream)
    established_at: Int
    #: the client's and server's SYN that the options are read from
    client_syn_row: Int
    server_syn_row: Int
    isn_client: npt.NDArray[np.uint32]
    isn_server: npt.NDArray[np.uint32]
    has_isn_client: Bool
    has_isn_server: Bool
    syn_count: Int
    synack_count: Int
    rtt_syn_synack: Float
    rtt_synack_ack: Float
    handshake_time: Float


def analyse(rows: Rows, index: StreamIndex) -> Handshake:
    """Label every stream's handshake and locate its SYN, SYN-ACK and final ACK.

    >>> from hskit import schema
    >>> empty = schema.empty_segments()
    >>> index = StreamIndex.from_streams([])
    >>> analyse(Rows.from_segments(empty, index), index).code.tolist()
    []
    """
    client, server = rows.client, ~rows.client
    client_syn = index.hits(rows.syn_only & client)
    first_client_syn = index.first(client_syn)
    first_server_syn = index.first(rows.syn_only & server)

    # Server segments that acknowledge the client's latest SYN: SYN-ACKs and refusals.
    answers = np.flatnonzero(server & rows.has_ack & (rows.syn_ack | rows.rst))
    syn_of = index.last_before(client_syn, answers)
    safe = np.maximum(syn_of, 0)
    offset = rows.ack[answers] - rows.seq[safe] - np.uint32(1)
    acked = (syn_of >= 0) & (offset <= rows.payload_len[safe])
    plain_ack = rows.has_ack & ~rows.syn & ~rows.rst
    answering = _mask(len(rows.flags), answers[acked & rows.syn_ack[answers]])
    wrong = answers[~acked & rows.syn_ack[answers] & (syn_of >= 0)]
    answering |= _taken_synacks(
        rows, index, wrong, answered=index.first(answering), plain_ack=plain_ack
    )
    valid_synack = index.hits(answering)
    synack = index.first(valid_synack)
    refusal = index.first(_mask(len(rows.flags), answers[acked & rows.rst[answers]]))
    answered_syn = index.last_before(client_syn, synack)

    client_syn_row = np.where(synack >= 0, answered_syn, index.first(rows.syn & client))
    server_syn_row = np.where(synack >= 0, synack, index.first(rows.syn & server))
    isn_client = take(rows.seq, client_syn_row, 0).astype(np.uint32)
    isn_server = take(rows.seq, server_syn_row, 0).astype(np.uint32)
    has_isn_client, has_isn_server = client_syn_row >= 0, server_syn_row >= 0

    server_isn_acked = covers(rows.ack, index.per_row(isn_server + np.uint32(1)))
    client_isn_acked = covers(rows.ack, index.per_row(isn_client + np.uint32(1)))
    final_ack = _where(synack >= 0, index.first(plain_ack & client & server_isn_acked, synack))
    client_reset = _where(synack >= 0, index.first(rows.rst & client, synack))

    # Simultaneous open: each side is established once the peer acknowledges its SYN.
    simultaneous = (first_client_syn >= 0) & (first_server_syn >= 0)
    acking = rows.has_ack & ~rows.rst
    sim_client = index.first(acking & server & client_isn_acked, first_client_syn)
    sim_server = index.first(acking & client & server_isn_acked, first_server_syn)

    code = np.full(index.size, HANDSHAKE_CODE["no_answer"], dtype=np.int8)
    code[refusal >= 0] = HANDSHAKE_CODE["refused"]
    code[synack >= 0] = HANDSHAKE_CODE["no_final_ack"]
    code[(synack >= 0) & (client_reset >= 0)] = HANDSHAKE_CODE["reset_in_handshake"]
    complete = (final_ack >= 0) & ((client_reset < 0) | (final_ack < client_reset))
    code[complete] = HANDSHAKE_CODE["complete"]
    midstream = first_client_syn < 0
    code[midstream] = HANDSHAKE_CODE["midstream"]
    code[simultaneous] = HANDSHAKE_CODE["simultaneous_open"]

    complete &= ~simultaneous & ~midstream
    sim_done = simultaneous & (sim_client >= 0) & (sim_server >= 0)
    client_established = select(
        [complete, sim_done, midstream], [synack, sim_client, index.starts], NONE
    )
    server_established = select(
        [complete, sim_done, midstream], [final_ack, sim_server, index.starts], NONE
    )
    established = complete | sim_done | midstream
    established_at = np.where(established, np.maximum(client_established, server_established), NONE)

    last_synack = index.last_before(valid_synack, final_ack)
    last_syn = index.last_before(client_syn, final_ack)
    rtt_syn_synack = rows.time_at(synack) - rows.time_at(answered_syn)
    rtt_synack_ack = rows.time_at(final_ack) - rows.time_at(last_synack)
    handshake_time = rows.time_at(final_ack) - rows.time_at(last_syn)
    unique = ~rows.duplicate
    return Handshake(
        code=code,
        first_client_syn=first_client_syn,
        first_server_syn=first_server_syn,
        synack=synack,
        answered_syn=answered_syn,
        refusal=refusal,
        client_established=client_established,
        server_established=server_established,
        established=established,
        established_at=established_at,
        client_syn_row=client_syn_row,
        server_syn_row=server_syn_row,
        isn_client=isn_client,
        isn_server=isn_server,
        has_isn_client=has_isn_client,
        has_isn_server=has_isn_server,
        syn_count=index.count(rows.syn_only & unique),
        synack_count=index.count(rows.syn_ack & unique),
        rtt_syn_synack=np.where(complete, rtt_syn_synack, np.nan),
        rtt_synack_ack=np.where(complete, rtt_synack_ack, np.nan),
        handshake_time=np.where(complete, handshake_time, np.nan),
    )


def _taken_synacks(
    rows: Rows, index: StreamIndex, wrong: Int, *, answered: Int, plain_ack: Bool
) -> Bool:
    """Where no SYN-ACK answers (``answered`` -1), the SYN-ACKs with the sequence number of
    the first ``wrong`` one (a SYN-ACK after a client SYN acknowledging another number)
    when a later client ACK acknowledges that number + 1: the client took it as the answer.
    """
    first_wrong = _where(answered < 0, index.first(_mask(len(rows.flags), wrong)))
    server_isn = take(rows.seq, first_wrong, 0).astype(np.uint32)
    isn_acked = covers(rows.ack, index.per_row(server_isn + np.uint32(1)))
    client_ack = index.first(plain_ack & rows.client & isn_acked, first_wrong)
    taken = (first_wrong >= 0) & (client_ack >= 0)
    same_isn = rows.seq[wrong] == index.per_row(server_isn)[wrong]
    return _mask(len(rows.flags), wrong[same_isn & index.per_row(taken)[wrong]])


def _mask(size: int, positions: Int) -> Bool:
    mask = np.zeros(size, dtype=bool)
    mask[positions] = True
    return mask


def _where(condition: Bool, positions: Int) -> Int:
    return np.where(condition, positions, NONE)
