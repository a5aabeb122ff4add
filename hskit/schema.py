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
