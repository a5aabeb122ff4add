"""The one place that owns hskit's table schemas, flag bits and label vocabularies.

Every other module imports column names, dtypes and categories from here instead
of spelling strings, so a rename or a new label happens in exactly one place.

>>> from hskit import schema
>>> schema.SYN | schema.ACK
18
>>> schema.empty_segments().dtypes["stream"]
dtype('uint32')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from hskit.errors import SchemaError

# --------------------------------------------------------------------------- flag bits
FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20
ECE = 0x40
CWR = 0x80
AE = 0x100

#: flag bits in bit order, with tcpdump's letter and Wireshark's name for each.
FLAG_BITS: tuple[tuple[int, str, str], ...] = (
    (FIN, "F", "FIN"),
    (SYN, "S", "SYN"),
    (RST, "R", "RST"),
    (PSH, "P", "PSH"),
    (ACK, ".", "ACK"),
    (URG, "U", "URG"),
    (ECE, "E", "ECE"),
    (CWR, "W", "CWR"),
    (AE, "e", "AE"),
)

# --------------------------------------------------------------------------- dtypes
IP_DTYPE = "category"
TS_DTYPE = pd.DatetimeTZDtype("ns", "UTC")

#: segments: one row per TCP segment, in capture order (DESIGN.md).
SEGMENT_DTYPES: dict[str, object] = {
    "frame": np.dtype("uint32"),
    "ts": TS_DTYPE,
    "time": np.dtype("float64"),
    "stream": np.dtype("uint32"),
    "src_ip": IP_DTYPE,
    "dst_ip": IP_DTYPE,
    "src_port": np.dtype("uint16"),
    "dst_port": np.dtype("uint16"),
    "ip_version": np.dtype("uint8"),
    "flags": np.dtype("uint16"),
    "seq": np.dtype("uint32"),
    "ack": np.dtype("uint32"),
    "rel_seq": np.dtype("uint32"),
    "rel_ack": np.dtype("uint32"),
    "win": np.dtype("uint16"),
    "payload_len": np.dtype("uint32"),
    "from_client": np.dtype("bool"),
    "mss": pd.UInt16Dtype(),
    "wscale": pd.UInt8Dtype(),
    "sack_perm": np.dtype("bool"),
    "tfo": np.dtype("bool"),
    "ts_val": pd.UInt32Dtype(),
    "ts_ecr": pd.UInt32Dtype(),
    "ip_len": np.dtype("uint32"),
    "checksum_ok": pd.BooleanDtype(),
}
SEGMENT_COLUMNS: tuple[str, ...] = tuple(SEGMENT_DTYPES)

# --------------------------------------------------------------------------- vocabularies
HANDSHAKE_LABELS: tuple[str, ...] = (
    "complete",
    "refused",
    "no_answer",
    "no_final_ack",
    "reset_in_handshake",
    "simultaneous_open",
    "midstream",
)
TERMINATION_LABELS: tuple[str, ...] = (
    "fin_4way",
    "fin_3way",
    "simultaneous_close",
    "half_closed",
    "fin_then_reset",
    "reset",
    "open",
    "not_established",
)
CLOSER_LABELS: tuple[str, ...] = ("client", "server", "both")
RESET_BY_LABELS: tuple[str, ...] = ("client", "server")
CONN_STATES: tuple[str, ...] = (
    "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR",
    "RSTOS0", "RSTRH", "SH", "SHR", "OTH",
)  # fmt: skip
ENDPOINTS: tuple[str, ...] = ("client", "server")
#: RFC 9293 states, in the order they are usually passed through.
TCP_STATES: tuple[str, ...] = (
    "LISTEN",
    "SYN_SENT",
    "SYN_RECEIVED",
    "ESTABLISHED",
    "FIN_WAIT_1",
    "FIN_WAIT_2",
    "CLOSE_WAIT",
    "CLOSING",
    "LAST_ACK",
    "TIME_WAIT",
    "CLOSED",
)

HANDSHAKE_DTYPE = pd.CategoricalDtype(HANDSHAKE_LABELS)
TERMINATION_DTYPE = pd.CategoricalDtype(TERMINATION_LABELS)
CLOSER_DTYPE = pd.CategoricalDtype(CLOSER_LABELS)
RESET_BY_DTYPE = pd.CategoricalDtype(RESET_BY_LABELS)
CONN_STATE_DTYPE = pd.CategoricalDtype(CONN_STATES)
ENDPOINT_DTYPE = pd.CategoricalDtype(ENDPOINTS)
TCP_STATE_DTYPE = pd.CategoricalDtype(TCP_STATES, ordered=True)

#: Linux's TIME_WAIT length (2×MSL as Linux implements it), seconds.
DEFAULT_TIME_WAIT = 60.0

#: connections: one row per stream (DESIGN.md).
CONNECTION_DTYPES: dict[str, object] = {
    "stream": np.dtype("uint32"),
    "client_ip": IP_DTYPE,
    "client_port": np.dtype("uint16"),
    "server_ip": IP_DTYPE,
    "server_port": np.dtype("uint16"),
    "ip_version": np.dtype("uint8"),
    "first_ts": TS_DTYPE,
    "last_ts": TS_DTYPE,
    "duration": np.dtype("float64"),
    "packets_c2s": np.dtype("uint32"),
    "packets_s2c": np.dtype("uint32"),
    "bytes_c2s": np.dtype("uint64"),
    "bytes_s2c": np.dtype("uint64"),
    "handshake": HANDSHAKE_DTYPE,
    "syn_count": np.dtype("uint32"),
    "synack_count": np.dtype("uint32"),
    "isn_client": pd.UInt32Dtype(),
    "isn_server": pd.UInt32Dtype(),
    "rtt_syn_synack": np.dtype("float64"),
    "rtt_synack_ack": np.dtype("float64"),
    "handshake_time": np.dtype("float64"),
    "mss_client": pd.UInt16Dtype(),
    "mss_server": pd.UInt16Dtype(),
    "wscale_client": pd.UInt8Dtype(),
    "wscale_server": pd.UInt8Dtype(),
    "sack_perm": np.dtype("bool"),
    "timestamps": np.dtype("bool"),
    "ecn": np.dtype("bool"),
    "tfo": np.dtype("bool"),
    "termination": TERMINATION_DTYPE,
    "closer": CLOSER_DTYPE,
    "reset_by": RESET_BY_DTYPE,
    "time_wait_end": np.dtype("float64"),
    "conn_state": CONN_STATE_DTYPE,
    "history": pd.StringDtype(),
    "retrans_c2s": np.dtype("uint32"),
    "retrans_s2c": np.dtype("uint32"),
    "lost_c2s": np.dtype("uint32"),
    "lost_s2c": np.dtype("uint32"),
    "dup_acks_c2s": np.dtype("uint32"),
    "dup_acks_s2c": np.dtype("uint32"),
    "zero_windows_c2s": np.dtype("uint32"),
    "zero_windows_s2c": np.dtype("uint32"),
}
CONNECTION_COLUMNS: tuple[str, ...] = tuple(CONNECTION_DTYPES)

#: states: endpoint state intervals, long format (DESIGN.md).
STATE_DTYPES: dict[str, object] = {
    "stream": np.dtype("uint32"),
    "endpoint": ENDPOINT_DTYPE,
    "state": TCP_STATE_DTYPE,
    "start": np.dtype("float64"),
    "end": np.dtype("float64"),
    "cause_frame": pd.UInt32Dtype(),
}
STATE_COLUMNS: tuple[str, ...] = tuple(STATE_DTYPES)

#: analysis: one row per segment, aligned with segments (same index): Wireshark's
#: ``tcp.analysis.*`` flags, named as tshark's field suffixes (hskit.analyze).
ANALYSIS_FLAGS: tuple[str, ...] = (
    "retransmission",
    "fast_retransmission",
    "spurious_retransmission",
    "out_of_order",
    "lost_segment",
    "ack_lost_segment",
    "duplicate_ack",
    "zero_window",
    "zero_window_probe",
    "zero_window_probe_ack",
    "window_full",
    "window_update",
    "keep_alive",
    "keep_alive_ack",
    "reused_ports",
)
ANALYSIS_DTYPES: dict[str, object] = {
    **{name: np.dtype("bool") for name in ANALYSIS_FLAGS},
    "duplicate_ack_num": pd.UInt32Dtype(),
    "duplicate_ack_frame": pd.UInt32Dtype(),
    "window": np.dtype("int64"),
    "ack_rtt": np.dtype("float64"),
    "bytes_in_flight": pd.UInt32Dtype(),
}
ANALYSIS_COLUMNS: tuple[str, ...] = tuple(ANALYSIS_DTYPES)


#: transport protocols of Zeek's ``transport_proto`` enum (conn.log ``proto``).
TRANSPORT_PROTOS: tuple[str, ...] = ("tcp", "udp", "icmp", "unknown_transport")
TRANSPORT_PROTO_DTYPE = pd.CategoricalDtype(TRANSPORT_PROTOS)

#: conn_log: one row per connection as Zeek delimits and logs them (Zeek's conn.log
#: fields and names, plus ``community_id`` and hskit's ``stream``). Optional Zeek fields
#: are nullable: NA where Zeek logs ``-``.
CONN_LOG_DTYPES: dict[str, object] = {
    "ts": TS_DTYPE,
    "uid": pd.StringDtype(),
    "id.orig_h": IP_DTYPE,
    "id.orig_p": np.dtype("uint16"),
    "id.resp_h": IP_DTYPE,
    "id.resp_p": np.dtype("uint16"),
    "proto": TRANSPORT_PROTO_DTYPE,
    "service": pd.StringDtype(),
    "duration": pd.Float64Dtype(),
    "orig_bytes": pd.UInt64Dtype(),
    "resp_bytes": pd.UInt64Dtype(),
    "conn_state": CONN_STATE_DTYPE,
    "local_orig": pd.BooleanDtype(),
    "local_resp": pd.BooleanDtype(),
    "missed_bytes": np.dtype("uint64"),
    "history": pd.StringDtype(),
    "orig_pkts": np.dtype("uint64"),
    "orig_ip_bytes": np.dtype("uint64"),
    "resp_pkts": np.dtype("uint64"),
    "resp_ip_bytes": np.dtype("uint64"),
    "tunnel_parents": pd.StringDtype(),
    "community_id": pd.StringDtype(),
    "stream": np.dtype("uint32"),
}
CONN_LOG_COLUMNS: tuple[str, ...] = tuple(CONN_LOG_DTYPES)
#: the Zeek type of each conn_log column, as a conn.log's ``#types`` line gives it.
CONN_LOG_ZEEK_TYPES: dict[str, str] = {
    "ts": "time",
    "uid": "string",
    "id.orig_h": "addr",
    "id.orig_p": "port",
    "id.resp_h": "addr",
    "id.resp_p": "port",
    "proto": "enum",
    "service": "string",
    "duration": "interval",
    "orig_bytes": "count",
    "resp_bytes": "count",
    "conn_state": "string",
    "local_orig": "bool",
    "local_resp": "bool",
    "missed_bytes": "count",
    "history": "string",
    "orig_pkts": "count",
    "orig_ip_bytes": "count",
    "resp_pkts": "count",
    "resp_ip_bytes": "count",
    "tunnel_parents": "set[string]",
    "community_id": "string",
    "stream": "count",
}


#: findings of ``hskit.diagnose``: one row per problem and endpoint.
#: finding kinds, in the order the pipeline meets them (opening, load, closing, transfer).
FINDING_KINDS: tuple[str, ...] = (
    "no_answer",
    "refused",
    "syn_flood",
    "slow_handshake",
    "time_wait_pressure",
    "resets",
    "zero_window",
    "stalled",
    "loss",
    "retransmissions",
)
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
FINDING_DTYPES: dict[str, object] = {
    "kind": pd.CategoricalDtype(FINDING_KINDS),
    "severity": pd.CategoricalDtype(SEVERITIES, ordered=True),
    "endpoint": pd.StringDtype(),
    "streams": np.dtype("object"),
    "count": np.dtype("int64"),
    "first_time": np.dtype("float64"),
    "last_time": np.dtype("float64"),
    "evidence": pd.StringDtype(),
    "explanation": pd.StringDtype(),
    #: shell commands to run next, one a line, with ``# comments``.
    "next_checks": pd.StringDtype(),
}
FINDING_COLUMNS: tuple[str, ...] = tuple(FINDING_DTYPES)


# --------------------------------------------------------------------------- meanings
# What every flag bit, column and label means, in words. The documentation's contract
# page (docs/reference/contract.md) is generated from these at build time, and a test
# checks that every column and label of the schema has its meaning here.

#: flag bit -> what it says (RFC 9293; ECE and CWR: RFC 3168; AE: accurate ECN).
FLAG_MEANINGS: dict[int, str] = {
    FIN: "no more data from the sender",
    SYN: "synchronize sequence numbers: open a connection",
    RST: "reset the connection",
    PSH: "push the data to the application",
    ACK: "the acknowledgement number is valid",
    URG: "the urgent pointer is valid",
    ECE: "ECN echo: congestion seen (in a SYN: ECN capable)",
    CWR: "congestion window reduced",
    AE: "accurate ECN",
}

SEGMENT_MEANINGS: dict[str, str] = {
    "frame": "1-based frame number in the file, counting every frame (Wireshark's `frame.number`)",
    "ts": "capture timestamp",
    "time": "seconds since the first frame of the file",
    "stream": "connection id, 0-based in order of first appearance (tshark's `tcp.stream`); "
    "the same dtype in every table",
    "src_ip": "sender's IP address",
    "dst_ip": "receiver's IP address",
    "src_port": "sender's TCP port",
    "dst_port": "receiver's TCP port",
    "ip_version": "4 or 6",
    "flags": "TCP flag bits (see the flag bits)",
    "seq": "sequence number, raw header value",
    "ack": "acknowledgement number, raw header value",
    "rel_seq": "sequence number relative to the sender's initial sequence number, modulo "
    "2^32 (Wireshark's relative numbers)",
    "rel_ack": "acknowledgement number relative to the peer's initial sequence number, modulo 2^32",
    "win": "window field, raw (not scaled)",
    "payload_len": "TCP payload bytes, from the IP lengths (not the captured length)",
    "from_client": "True when sent by the connection's client",
    "mss": "maximum segment size option, NA when absent",
    "wscale": "window scale option (shift count), NA when absent",
    "sack_perm": "SACK-permitted option present",
    "tfo": "TCP Fast Open option present",
    "ts_val": "timestamp option's TSval, NA when absent",
    "ts_ecr": "timestamp option's TSecr, NA when absent",
    "ip_len": "the IP total length (IPv6: payload length + 40; a 0 left by segmentation "
    "offload read as the rest of the frame, as tshark's `ip.len`); Zeek's "
    "`orig_ip_bytes`/`resp_ip_bytes` add it up",
    "checksum_ok": "TCP checksum right (True) or wrong (False), as tshark's "
    "`tcp.checksum.status` with checksum checking on; NA where it cannot be verified: the "
    "segment cut by the snap length, or in an IP fragment. A checksum the sending host "
    "left to its NIC (captured before the NIC fills it in) is wrong here, as for tshark "
    "and Zeek",
}

#: the column a segments table has only when a capture set (several files) is loaded.
SOURCE = "source"
#: columns a segments table has only in some loads, with their meanings.
OPTIONAL_SEGMENT_MEANINGS: dict[str, str] = {
    SOURCE: "the file of a capture set that holds the segment (categorical: file names, or "
    "paths where names repeat, in reading order); only when more than one file is loaded. "
    "`frame` and `time` then count from the set's first frame, as in `mergecap -a` of the "
    "files in that order",
}

CONNECTION_MEANINGS: dict[str, str] = {
    "stream": "connection id (the segments' `stream`)",
    "client_ip": "the client: the sender of the first SYN without ACK; without one, the "
    "receiver of the first SYN-ACK; without either, the sender of the first segment",
    "client_port": "the client's TCP port",
    "server_ip": "the server (the client's peer)",
    "server_port": "the server's TCP port",
    "ip_version": "4 or 6",
    "first_ts": "timestamp of the connection's first segment",
    "last_ts": "timestamp of the connection's last segment",
    "duration": "seconds from the first segment to the last",
    "packets_c2s": "segments from the client (duplicate captures of one frame left out)",
    "packets_s2c": "segments from the server (duplicate captures of one frame left out)",
    "bytes_c2s": "TCP payload bytes from the client as sent, retransmissions included, "
    "keep-alive probes' byte left out",
    "bytes_s2c": "TCP payload bytes from the server, counted as `bytes_c2s`",
    "handshake": "how the connection opened (a handshake label)",
    "syn_count": "SYNs without ACK the client sent, retransmissions included",
    "synack_count": "SYN-ACKs the server sent, retransmissions included",
    "isn_client": "the client's initial sequence number, NA without its SYN",
    "isn_server": "the server's initial sequence number, NA without its SYN-ACK",
    "rtt_syn_synack": "seconds from the SYN the SYN-ACK answers to the first answering "
    "SYN-ACK; NaN unless the handshake is complete",
    "rtt_synack_ack": "seconds from the latest answering SYN-ACK to the final ACK; NaN "
    "unless the handshake is complete",
    "handshake_time": "seconds from the latest client SYN to the final ACK; NaN unless the "
    "handshake is complete. tshark's `tcp.analysis.initial_rtt` where the final ACK is the "
    "first segment with ACK and without SYN after the SYN; tshark stops at a server's segment "
    "that comes first (data, a challenge ACK)",
    "mss_client": "maximum segment size the client announced, NA when absent",
    "mss_server": "maximum segment size the server announced, NA when absent",
    "wscale_client": "the client's window scale shift, NA unless both SYNs carry window "
    "scaling (RFC 7323)",
    "wscale_server": "the server's window scale shift, NA unless both SYNs carry window scaling",
    "sack_perm": "both SYNs carry SACK-permitted",
    "timestamps": "both SYNs carry the timestamp option",
    "ecn": "ECN negotiated: the SYN has ECE and CWR, the SYN-ACK ECE without CWR (RFC 3168)",
    "tfo": "TCP Fast Open used: the SYN carries the option and data, and the SYN-ACK "
    "acknowledges the data (RFC 7413)",
    "termination": "how the connection closed (a termination label)",
    "closer": "sender of the first FIN: client, server, or both for a simultaneous close; "
    "NA without FIN",
    "reset_by": "sender of the first RST after establishment (of any RST when never "
    "established); NA without RST",
    "time_wait_end": "capture time at which TIME_WAIT ends: the last ACK of the close plus "
    "the TIME_WAIT length (`DEFAULT_TIME_WAIT`, Linux's 60 s), or an earlier RST; NaN when "
    "no endpoint reached TIME_WAIT",
    "conn_state": "Zeek's `conn_state` for the connection",
    "history": "Zeek's `history`: one letter per event, upper case from the originator, "
    "lower case from the responder",
    "retrans_c2s": "client segments tshark marks tcp.analysis.retransmission (fast and "
    "spurious included; see the analysis table)",
    "retrans_s2c": "server segments marked as retransmissions",
    "lost_c2s": "client segments after a gap the capture missed (tcp.analysis.lost_segment)",
    "lost_s2c": "server segments after a gap the capture missed",
    "dup_acks_c2s": "duplicate ACKs the client sent (tcp.analysis.duplicate_ack)",
    "dup_acks_s2c": "duplicate ACKs the server sent",
    "zero_windows_c2s": "client segments advertising a zero window (tcp.analysis.zero_window)",
    "zero_windows_s2c": "server segments advertising a zero window",
}

CONN_LOG_MEANINGS: dict[str, str] = {
    "ts": "time of the connection's first packet",
    "uid": "connection id: `C` and base-62 digits, as Zeek's, but derived from the flow, "
    "first timestamp and first frame (the same on every run)",
    "id.orig_h": "originator's address (Zeek's orientation: `^` in history when flipped)",
    "id.orig_p": "originator's port",
    "id.resp_h": "responder's address",
    "id.resp_p": "responder's port",
    "proto": "transport protocol: `tcp`",
    "service": "protocols Zeek's analyzers confirmed: NA, hskit runs no application analyzer",
    "duration": "seconds from the first packet to the last that set Zeek's `last_time` (not "
    "the ACKs after both FINs); NA when 0",
    "orig_bytes": "originator's payload bytes from sequence numbers (`TCP_Endpoint::Size`); "
    "NA when duration is",
    "resp_bytes": "responder's payload bytes, likewise",
    "conn_state": "Zeek's connection state (a conn_state label)",
    "local_orig": "originator in `Site::local_nets`: NA, no local networks are set",
    "local_resp": "responder in `Site::local_nets`: NA",
    "missed_bytes": "bytes in content gaps: acknowledged but never captured whole",
    "history": "Zeek's history letters (see the history letters)",
    "orig_pkts": "packets the originator sent that Zeek processed (not those dropped for a "
    "bad checksum)",
    "orig_ip_bytes": "sum of those packets' IP total lengths",
    "resp_pkts": "packets the responder sent that Zeek processed",
    "resp_ip_bytes": "sum of those packets' IP total lengths",
    "tunnel_parents": "uids of encapsulating connections: NA, tunnels are not followed",
    "community_id": "Community ID v1 flow hash (as Zeek 6+'s community-id logging)",
    "stream": "the hskit connection (tshark's `tcp.stream`) the row belongs to",
}

TRANSPORT_PROTO_MEANINGS: dict[str, str] = {
    "tcp": "TCP",
    "udp": "UDP",
    "icmp": "ICMP",
    "unknown_transport": "another protocol",
}

STATE_MEANINGS: dict[str, str] = {
    "stream": "connection id",
    "endpoint": "which end of the connection",
    "state": "the endpoint's RFC 9293 state",
    "start": "capture time of the segment that moved the endpoint into the state",
    "end": "capture time at which the endpoint left the state (TIME_WAIT: `time_wait_end`)",
    "cause_frame": "frame of the segment that caused the transition, NA when none did",
}

ANALYSIS_MEANINGS: dict[str, str] = {
    "retransmission": "payload, SYN or FIN below the next expected sequence number that is "
    "not a keep-alive, fast retransmission or out-of-order segment; also set on fast and "
    "spurious retransmissions, as tshark does",
    "fast_retransmission": "a retransmission of the sequence number the peer sent at least "
    "2 duplicate ACKs for, the last one less than 20 ms earlier",
    "spurious_retransmission": "a retransmission of data the peer had already acknowledged",
    "out_of_order": "a segment below the next expected sequence number that came less than "
    "the initial RTT (3 ms without one) after the highest segment",
    "lost_segment": "the segment starts beyond the next expected sequence number: the "
    "capture missed the previous one ('Previous segment not captured')",
    "ack_lost_segment": "an ACK beyond everything the peer was seen to send ('ACKed unseen "
    "segment')",
    "duplicate_ack": "no payload, same ACK, window and sequence number as the direction's "
    "previous segment",
    "zero_window": "the receiver advertises a window of 0 (not on SYN, FIN or RST)",
    "zero_window_probe": "1 byte at the next expected sequence number while the peer's window is 0",
    "zero_window_probe_ack": "a zero-window ACK answering the peer's zero window probe",
    "window_full": "the payload fills the peer's advertised window to its right edge",
    "window_update": "no payload, same sequence and ACK numbers, a new non-zero window",
    "keep_alive": "0 or 1 byte starting one byte before the next expected sequence number",
    "keep_alive_ack": "a repeated ACK (same window) answering the peer's keep-alive",
    "reused_ports": "the SYN of a new connection on the address/port pair of an earlier one",
    "duplicate_ack_num": "which duplicate of its ACK this is (1, 2, …); NA if not one "
    "(tcp.analysis.duplicate_ack_num)",
    "duplicate_ack_frame": "the frame whose ACK this one duplicates; NA if not a duplicate",
    "window": "the calculated window in bytes (tcp.window_size): the raw field shifted by "
    "the sender's window scale when both SYNs carried the option, the raw field otherwise "
    "(and on SYNs)",
    "ack_rtt": "seconds from the segment this ACK acknowledges exactly to the ACK "
    "(tcp.analysis.ack_rtt); NaN if none",
    "bytes_in_flight": "bytes sent and not yet acknowledged after this segment with payload "
    "(tcp.analysis.bytes_in_flight); NA where Wireshark shows none",
}

FINDING_MEANINGS: dict[str, str] = {
    "kind": "what went wrong (a finding kind)",
    "severity": "how bad it is",
    "endpoint": "where it happens: a server's `ip:port`, or a client's address",
    "streams": "the connections that show it, as a list of stream ids",
    "count": "how many connections show it",
    "first_time": "capture time of the first affected connection's start",
    "last_time": "capture time of the last affected connection's end",
    "evidence": "the numbers that made it a finding",
    "explanation": "what it means and its likely causes",
    "next_checks": "shell commands to run next, one a line, with `# comments`",
}

HANDSHAKE_MEANINGS: dict[str, str] = {
    "complete": "SYN, SYN-ACK, ACK seen (retransmissions counted, not a different label)",
    "refused": "SYN answered by RST, no SYN-ACK (no listener, or a firewall's reset)",
    "no_answer": "SYN(s) and nothing back (filtered, host down, wrong address)",
    "no_final_ack": "SYN-ACK seen, the client's ACK never (half-open: the SYN flood signature)",
    "reset_in_handshake": "SYN-ACK answered by the client's RST (e.g. a half-open port scan)",
    "simultaneous_open": "both sides sent SYN without ACK",
    "midstream": "no SYN seen: the capture started after the handshake",
}

TERMINATION_MEANINGS: dict[str, str] = {
    "fin_4way": "FIN, ACK, FIN, ACK: each side's FIN acknowledged separately",
    "fin_3way": "the passive side's ACK and FIN travel in one segment",
    "simultaneous_close": "both FINs sent before either was acknowledged",
    "half_closed": "one side's FIN only; the other side never closed in the capture",
    "fin_then_reset": "a FIN exchange cut short by a RST",
    "reset": "RST after establishment, no FIN",
    "open": "neither FIN nor RST: still open when the capture ended",
    "not_established": "the handshake never completed (see `handshake`)",
}

CLOSER_MEANINGS: dict[str, str] = {
    "client": "the client sent the first FIN",
    "server": "the server sent the first FIN",
    "both": "simultaneous close: both FINs before either was acknowledged",
}

RESET_BY_MEANINGS: dict[str, str] = {
    "client": "the client sent the first RST",
    "server": "the server sent the first RST",
}

#: Zeek's meanings (base/protocols/conn/main.zeek).
CONN_STATE_MEANINGS: dict[str, str] = {
    "S0": "connection attempt seen, no reply",
    "S1": "connection established, not terminated",
    "SF": "established and closed normally",
    "REJ": "connection attempt rejected",
    "S2": "established, and only the originator tried to close",
    "S3": "established, and only the responder tried to close",
    "RSTO": "the originator sent a RST after establishment (or aborted the attempt)",
    "RSTR": "the responder sent a RST after establishment",
    "RSTOS0": "the originator sent a SYN then a RST; no SYN-ACK seen",
    "RSTRH": "the responder sent a SYN-ACK then a RST; no SYN seen",
    "SH": "the originator sent a SYN then a FIN; no SYN-ACK",
    "SHR": "the responder sent a SYN-ACK then a FIN; no SYN",
    "OTH": "no SYN seen: midstream traffic",
}

#: Zeek's history letters, upper case (from the originator) only; the responder's are
#: the same letters in lower case. ``^`` has no case.
HISTORY_LETTERS: dict[str, str] = {
    "S": "SYN without ACK",
    "H": "SYN-ACK",
    "A": "pure ACK (once per direction)",
    "D": "payload (once per direction)",
    "F": "FIN",
    "R": "RST",
    "C": "bad checksum (logged at counts 1, 10, 100, …)",
    "G": "content gap (logged at counts 1, 10, 100, …)",
    "T": "retransmitted payload (logged at counts 1, 10, 100, …)",
    "W": "zero window (logged at counts 1, 10, 100, …)",
    "I": "inconsistent flags, e.g. FIN+RST (once per direction)",
    "Q": "SYN+FIN or SYN+RST (once per direction)",
    "^": "direction flipped by Zeek's port heuristic",
}

ENDPOINT_MEANINGS: dict[str, str] = {
    "client": "the end that opened the connection",
    "server": "the end that was connected to",
}

TCP_STATE_MEANINGS: dict[str, str] = {
    "LISTEN": "the server waits for a SYN",
    "SYN_SENT": "SYN sent, waiting for the SYN-ACK",
    "SYN_RECEIVED": "SYN received and SYN-ACK sent, waiting for the ACK",
    "ESTABLISHED": "the connection is open; data flows",
    "FIN_WAIT_1": "FIN sent (active close), not yet acknowledged",
    "FIN_WAIT_2": "own FIN acknowledged, waiting for the peer's FIN",
    "CLOSE_WAIT": "the peer's FIN received (passive close); the application has not closed",
    "CLOSING": "FIN sent and the peer's FIN received before the ACK of ours (simultaneous close)",
    "LAST_ACK": "passive closer's FIN sent, waiting for its ACK",
    "TIME_WAIT": "the active closer waits 2×MSL so late segments die out",
    "CLOSED": "no connection",
}

FINDING_KIND_MEANINGS: dict[str, str] = {
    "no_answer": "SYNs that got no reply at all",
    "refused": "SYNs answered by RST: no listener on the port, or a firewall's reject",
    "syn_flood": "half-open connections piling up at one listener",
    "slow_handshake": "handshakes much slower than usual, or than the server's median",
    "time_wait_pressure": "a client near ephemeral port exhaustion, or reusing 4-tuples "
    "still in TIME_WAIT",
    "resets": "connections aborted by RST once the server had answered",
    "zero_window": "a receiver closed its window",
    "stalled": "no payload progress for a while although a side kept trying",
    "loss": "signs that the network lost packets: gaps, ACKs of unseen data, fast "
    "retransmissions (Wireshark's analysis)",
    "retransmissions": "payload or FINs sent again, per direction, as a share of the "
    "payload segments",
}

SEVERITY_MEANINGS: dict[str, str] = {
    "info": "worth knowing, no harm seen",
    "warning": "something failed for some connections",
    "critical": "the service failed or is under attack",
}


class Table(NamedTuple):
    """One table of the contract: what a row is, and its columns' dtypes and meanings."""

    #: what one row stands for ("TCP segment, in capture order").
    row: str
    dtypes: Mapping[str, object]
    meanings: Mapping[str, str]


class Vocabulary(NamedTuple):
    """The labels a categorical column can hold, in order, and what each means."""

    labels: tuple[str, ...]
    meanings: Mapping[str, str]


#: every table hskit returns, by name.
TABLES: dict[str, Table] = {
    "segments": Table("TCP segment, in capture order", SEGMENT_DTYPES, SEGMENT_MEANINGS),
    "connections": Table("connection (stream)", CONNECTION_DTYPES, CONNECTION_MEANINGS),
    "states": Table("state interval of one endpoint", STATE_DTYPES, STATE_MEANINGS),
    "findings": Table("problem at one endpoint", FINDING_DTYPES, FINDING_MEANINGS),
    "conn_log": Table(
        "connection as Zeek delimits and logs it", CONN_LOG_DTYPES, CONN_LOG_MEANINGS
    ),
    "analysis": Table("TCP segment, aligned with segments", ANALYSIS_DTYPES, ANALYSIS_MEANINGS),
}

#: every label vocabulary, by the column that holds it.
VOCABULARIES: dict[str, Vocabulary] = {
    "handshake": Vocabulary(HANDSHAKE_LABELS, HANDSHAKE_MEANINGS),
    "termination": Vocabulary(TERMINATION_LABELS, TERMINATION_MEANINGS),
    "closer": Vocabulary(CLOSER_LABELS, CLOSER_MEANINGS),
    "reset_by": Vocabulary(RESET_BY_LABELS, RESET_BY_MEANINGS),
    "conn_state": Vocabulary(CONN_STATES, CONN_STATE_MEANINGS),
    "endpoint": Vocabulary(ENDPOINTS, ENDPOINT_MEANINGS),
    "state": Vocabulary(TCP_STATES, TCP_STATE_MEANINGS),
    "kind": Vocabulary(FINDING_KINDS, FINDING_KIND_MEANINGS),
    "severity": Vocabulary(SEVERITIES, SEVERITY_MEANINGS),
    "proto": Vocabulary(TRANSPORT_PROTOS, TRANSPORT_PROTO_MEANINGS),
}


# --------------------------------------------------------------------------- helpers
def _empty(dtypes: Mapping[str, object]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in dtypes.items()})


def empty_segments() -> pd.DataFrame:
    """A segments table with no rows and the right dtypes.

    >>> list(empty_segments().columns[:3])
    ['frame', 'ts', 'time']
    """
    return _empty(SEGMENT_DTYPES)


def empty_connections() -> pd.DataFrame:
    """A connections table with no rows and the right dtypes."""
    return _empty(CONNECTION_DTYPES)


def empty_conn_log() -> pd.DataFrame:
    """A conn_log table with no rows and the right dtypes."""
    return _empty(CONN_LOG_DTYPES)


def empty_states() -> pd.DataFrame:
    """A states table with no rows and the right dtypes."""
    return _empty(STATE_DTYPES)


def conform(frame: pd.DataFrame, dtypes: Mapping[str, object]) -> pd.DataFrame:
    """Select and order ``dtypes``' columns of ``frame`` and cast each to its dtype.

    >>> import pandas as pd
    >>> conform(pd.DataFrame({"stream": [1]}), {"stream": "uint32"}).dtypes.iloc[0]
    dtype('uint32')
    """
    missing = [name for name in dtypes if name not in frame.columns]
    if missing:
        raise SchemaError(f"missing columns: {', '.join(missing)}")
    return pd.DataFrame(
        {name: frame[name].astype(dtype) for name, dtype in dtypes.items()},
        index=pd.RangeIndex(len(frame)),
    )


def check(frame: pd.DataFrame, dtypes: Mapping[str, object], table: str) -> None:
    """Raise :class:`SchemaError` unless ``frame`` has exactly ``dtypes``' columns and dtypes.

    >>> check(empty_segments(), SEGMENT_DTYPES, "segments")
    """
    if tuple(frame.columns) != tuple(dtypes):
        raise SchemaError(
            f"{table}: columns {list(frame.columns)} differ from the schema {list(dtypes)}"
        )
    wrong = [
        f"{name}: {frame[name].dtype} (expected {pd.api.types.pandas_dtype(dtype)})"
        for name, dtype in dtypes.items()
        if not _same_dtype(frame[name].dtype, dtype)
    ]
    if wrong:
        raise SchemaError(f"{table}: wrong dtypes: " + "; ".join(wrong))


def _same_dtype(actual: object, expected: object) -> bool:
    if expected == "category":
        return isinstance(actual, pd.CategoricalDtype)
    expected_dtype = pd.api.types.pandas_dtype(expected)
    if isinstance(expected_dtype, pd.CategoricalDtype):
        return isinstance(actual, pd.CategoricalDtype) and list(actual.categories) == list(
            expected_dtype.categories
        )
    return actual == expected_dtype


# --------------------------------------------------------------------------- live
#: columns ``hskit.live`` appends to its connections table: where each endpoint is now.
LIVE_CONNECTION_DTYPES: dict[str, object] = {
    "client_state": TCP_STATE_DTYPE,
    "server_state": TCP_STATE_DTYPE,
}
LIVE_CONNECTION_MEANINGS: dict[str, str] = {
    "client_state": "the client's state at the time of the last segment captured so far",
    "server_state": "the server's state at the time of the last segment captured so far",
}
