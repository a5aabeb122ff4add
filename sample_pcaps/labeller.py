"""Rule-based labeller: reads a capture with tshark and labels each TCP connection.

The rules are written out in ``LABELING.md`` (same directory); this module is
their implementation, kept short so a person can audit it against that text.
It uses only tshark's per-packet header fields (stream number, addresses, ports,
flags, raw seq/ack, payload length) and never hskit itself.

    rows = label_capture(Path("sample_pcaps/refused.pcap"))
    rows[0].handshake, rows[0].termination   # ('refused', 'not_established')
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
MOD = 1 << 32

TSHARK_FIELDS = [
    "frame.number",
    "frame.time_relative",
    "tcp.stream",
    "ip.src",
    "ipv6.src",
    "ip.dst",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.len",
]

MANIFEST_COLUMNS = [
    "file",
    "stream",
    "client_ip",
    "client_port",
    "server_ip",
    "server_port",
    "handshake",
    "termination",
    "closer",
    "reset_by",
    "conn_state",
    "note",
]


@dataclass(frozen=True)
class Packet:
    """The TCP header facts the rules look at, for one frame."""

    frame: int
    time: float
    stream: int
    src: str
    sport: int
    dst: str
    dport: int
    flags: int
    seq: int
    ack: int
    length: int

    def has(self, bits: int) -> bool:
        """True when every flag bit in ``bits`` is set."""
        return self.flags & bits == bits


@dataclass
class Label:
    """One manifest row (without ``file`` and ``note``, which the generator adds)."""

    stream: int
    client_ip: str
    client_port: int
    server_ip: str
    server_port: int
    handshake: str
    termination: str
    closer: str
    reset_by: str
    conn_state: str
    packets: int = 0

    def as_row(self, file: str, note: str) -> dict[str, str]:
        """The manifest.csv row for this connection."""
        return {
            "file": file,
            "stream": str(self.stream),
            "client_ip": self.client_ip,
            "client_port": str(self.client_port),
            "server_ip": self.server_ip,
            "server_port": str(self.server_port),
            "handshake": self.handshake,
            "termination": self.termination,
            "closer": self.closer,
            "reset_by": self.reset_by,
            "conn_state": self.conn_state,
            "note": note,
        }


def run_tshark(path: Path, fields: list[str], display_filter: str = "tcp") -> list[list[str]]:
    """tshark -T fields output as rows of strings (no name resolution, empty profile)."""
    with tempfile.TemporaryDirectory(prefix="hsk-wsconf-") as conf:
        env = {**os.environ, "WIRESHARK_CONFIG_DIR": conf}
        cmd = ["tshark", "-n", "-r", str(path), "-Y", display_filter, "-T", "fields"]
        cmd += ["-E", "separator=\t", "-E", "occurrence=f"]
        for name in fields:
            cmd += ["-e", name]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=True)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def read_packets(path: Path) -> list[Packet]:
    """Every TCP segment of a capture, in capture order."""
    packets = []
    for row in run_tshark(path, TSHARK_FIELDS):
        (frame, rel, stream, src4, src6, dst4, dst6, sport, dport, flags, seq, ack, length) = row
        packets.append(
            Packet(
                frame=int(frame),
                time=float(rel),
                stream=int(stream),
                src=src4 or src6,
                sport=int(sport),
                dst=dst4 or dst6,
                dport=int(dport),
                flags=int(flags, 16),
                seq=int(seq),
                ack=int(ack or 0),
                length=int(length or 0),
            )
        )
    return packets


def seq_ge(a: int, b: int) -> bool:
    """``a >= b`` in 32-bit sequence space."""
    return (a - b) % MOD < (MOD >> 1)


# --------------------------------------------------------------------------- Zeek conn_state

INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = range(7)


@dataclass
class ZeekEndpoint:
    """The parts of Zeek's TCP_Endpoint that decide ``conn_state``."""

    state: int = INACTIVE
    prev_state: int = INACTIVE
    size: int = 0

    def set(self, state: int) -> None:
        """Zeek's SetState: remember the previous state."""
        self.prev_state, self.state = self.state, state


def zeek_conn_state(packets: list[Packet], is_orig: list[bool]) -> str:
    """Zeek's conn_state, from a port of TCP_Analyzer::UpdateStateMachine (orig = client)."""
    orig, resp = ZeekEndpoint(), ZeekEndpoint()
    for pkt, from_orig in zip(packets, is_orig, strict=True):
        ep, peer = (orig, resp) if from_orig else (resp, orig)
        syn, fin, rst, ack = (
            pkt.has(SYN),
            pkt.has(FIN),
            pkt.has(RST),
            pkt.has(ACK),
        )
        if not rst:
            ep.size += pkt.length
        if ep.state == INACTIVE:
            if syn:
                if from_orig:
                    ep.set(SYN_ACK_SENT if ack else SYN_SENT)
                else:
                    if peer.state == SYN_SENT:
                        peer.set(ESTABLISHED)
                    ep.set(ESTABLISHED)
            if fin:
                ep.set(CLOSED)
            if rst:
                ep.set(RESET)
            if ep.state == INACTIVE:
                if not from_orig and pkt.length == 0 and orig.state == SYN_SENT:
                    pass
                elif ack and peer.state == ESTABLISHED:
                    ep.set(ESTABLISHED)
                else:
                    ep.set(PARTIAL)
        elif ep.state in (SYN_SENT, SYN_ACK_SENT):
            if fin:
                ep.set(CLOSED)
            if rst:
                ep.set(RESET)
        elif ep.state in (ESTABLISHED, PARTIAL):
            if syn and ep.state == PARTIAL and peer.state == INACTIVE and not ack:
                ep.set(SYN_SENT)  # Zeek: SYN_after_partial
            if fin and not rst:
                ep.set(CLOSED)
                if peer.state == RESET and peer.prev_state == CLOSED:
                    peer.set(CLOSED)
            if rst:
                ep.set(RESET)
        elif ep.state == CLOSED and rst and peer.state != CLOSED:
            ep.set(RESET)  # RST after our FIN, before the peer's FIN
    os_, rs = orig.state, resp.state
    o_inactive = os_ in (INACTIVE, PARTIAL)
    r_inactive = rs in (INACTIVE, PARTIAL)
    if rs == RESET:
        if os_ in (SYN_SENT, SYN_ACK_SENT) or (os_ == RESET and orig.size == 0 and resp.size == 0):
            return "REJ"
        return "RSTRH" if o_inactive else "RSTR"
    if os_ == RESET:
        if r_inactive:
            # Zeek: RSTOS0 when the history matches ^?S[^HAFGIQ]*R (SYN, then RST, no reply).
            first = next((p for p, o in zip(packets, is_orig, strict=True) if o), None)
            return "RSTOS0" if first is not None and first.has(SYN) else "OTH"
        return "RSTO"
    if rs == CLOSED and os_ == CLOSED:
        return "SF"
    if os_ == CLOSED:
        return "SH" if r_inactive else "S2"
    if rs == CLOSED:
        return "SHR" if o_inactive else "S3"
    if os_ == SYN_SENT and rs == INACTIVE:
        return "S0"
    if os_ == ESTABLISHED and rs == ESTABLISHED:
        return "S1"
    return "OTH"


# --------------------------------------------------------------------------- hskit labels


def label_connection(packets: list[Packet]) -> Label:
    """Apply the LABELING.md rules to the packets of one tcp.stream."""
    first = packets[0]
    syn_only = [p for p in packets if p.has(SYN) and not p.has(ACK)]
    syn_acks = [p for p in packets if p.has(SYN | ACK)]
    # Rule C (client): sender of the first SYN, else receiver of the first SYN-ACK,
    # else sender of the first segment.
    if syn_only:
        client = (syn_only[0].src, syn_only[0].sport)
    elif syn_acks:
        client = (syn_acks[0].dst, syn_acks[0].dport)
    else:
        client = (first.src, first.sport)
    server = (
        (first.dst, first.dport)
        if (first.src, first.sport) == client
        else (
            first.src,
            first.sport,
        )
    )
    from_c = [(p.src, p.sport) == client for p in packets]
    side = {True: "client", False: "server"}

    # Rule H (handshake).
    c_syn = [p for p, c in zip(packets, from_c, strict=True) if c and p.has(SYN) and not p.has(ACK)]
    s_syn = [
        p for p, c in zip(packets, from_c, strict=True) if not c and p.has(SYN) and not p.has(ACK)
    ]
    s_synack = [p for p, c in zip(packets, from_c, strict=True) if not c and p.has(SYN | ACK)]
    rst_from_s = any(p.has(RST) for p, c in zip(packets, from_c, strict=True) if not c)
    established = False
    if c_syn and s_syn:
        handshake = "simultaneous_open"
        established = _both_syns_acked(packets, from_c)
    elif not c_syn and not s_syn and not s_synack:
        handshake = "midstream"
        established = True
    elif c_syn and s_synack:
        first_synack = packets.index(s_synack[0])
        isn_s = s_synack[0].seq
        final_ack = rst = None
        for idx in range(first_synack + 1, len(packets)):
            p = packets[idx]
            if not from_c[idx]:
                continue
            if p.has(RST) and rst is None:
                rst = idx
            elif p.has(ACK) and not p.has(SYN) and p.ack == (isn_s + 1) % MOD and final_ack is None:
                final_ack = idx
        if final_ack is not None and (rst is None or final_ack < rst):
            handshake, established = "complete", True
        elif rst is not None:
            handshake = "reset_in_handshake"
        else:
            handshake = "no_final_ack"
    elif c_syn:
        handshake = "refused" if rst_from_s else "no_answer"
    else:
        handshake = "midstream"  # SYN-ACK without SYN: the capture missed the SYN
        established = True

    # Rule R (reset_by): sender of the first RST of the connection, if any.
    first_rst = next((i for i, p in enumerate(packets) if p.has(RST)), None)
    reset_by = side[from_c[first_rst]] if first_rst is not None else ""

    # Rule T (termination) and rule K (closer).
    fins: dict[bool, int] = {}
    for i, p in enumerate(packets):
        if p.has(FIN) and from_c[i] not in fins:
            fins[from_c[i]] = i
    first_fin = min(fins.values()) if fins else None
    closer = side[from_c[first_fin]] if first_fin is not None else ""
    if not established:
        termination = "not_established"
    elif first_rst is not None:
        before = first_fin is not None and first_fin < first_rst
        termination = "fin_then_reset" if before else "reset"
    elif len(fins) == 2:
        termination = _fin_exchange_kind(packets, from_c, fins)
        if termination == "simultaneous_close":
            closer = "both"
    elif len(fins) == 1:
        termination = "half_closed"
    else:
        termination = "open"

    return Label(
        stream=first.stream,
        client_ip=client[0],
        client_port=client[1],
        server_ip=server[0],
        server_port=server[1],
        handshake=handshake,
        termination=termination,
        closer=closer,
        reset_by=reset_by,
        conn_state=zeek_conn_state(packets, from_c),
        packets=len(packets),
    )


def _both_syns_acked(packets: list[Packet], from_c: list[bool]) -> bool:
    """Simultaneous open is established once each side acknowledged the other's SYN."""
    isn = {}
    for p, c in zip(packets, from_c, strict=True):
        if p.has(SYN) and c not in isn:
            isn[c] = p.seq
    acked = {
        c
        for p, c in zip(packets, from_c, strict=True)
        if p.has(ACK) and (not c) in isn and p.ack == (isn[not c] + 1) % MOD
    }
    return acked == {True, False}


def _fin_exchange_kind(packets: list[Packet], from_c: list[bool], fins: dict[bool, int]) -> str:
    """fin_4way / fin_3way / simultaneous_close for a connection where both sides sent FIN."""
    first_side = min(fins, key=lambda s: fins[s])
    i_first, i_second = fins[first_side], fins[not first_side]
    fin = packets[i_first]
    fin_end = (fin.seq + fin.length + 1) % MOD  # the ack value that acknowledges the FIN
    ack_of_first = next(
        (
            i
            for i in range(i_first + 1, len(packets))
            if from_c[i] != first_side and packets[i].has(ACK) and seq_ge(packets[i].ack, fin_end)
        ),
        None,
    )
    if ack_of_first is None or ack_of_first > i_second:
        return "simultaneous_close"  # the peer's FIN left before it knew of ours
    if ack_of_first == i_second:
        return "fin_3way"  # the peer's first acknowledgement of our FIN is its own FIN
    return "fin_4way"


def label_capture(path: Path) -> list[Label]:
    """Labels for every tcp.stream of a capture, in stream order."""
    streams: dict[int, list[Packet]] = {}
    for pkt in read_packets(path):
        streams.setdefault(pkt.stream, []).append(pkt)
    return [label_connection(streams[s]) for s in sorted(streams)]
