"""``hskit.classify`` against tshark's own TCP analysis, on every capture in the repo.

- ``handshake_time`` of every complete handshake equals tshark's
  ``tcp.analysis.initial_rtt`` (the most recent SYN to the first ACK) to 1 µs;
- packets and payload bytes of each direction agree with tshark's, where payload bytes
  leave out the frames tshark marks ``tcp.analysis.keep_alive`` and both counts leave
  out a frame captured twice (found here from tshark's fields: the previous segment of
  its stream, same direction, identical header fields, less than 20 µs earlier);
- the SYNs and SYN-ACKs each stream counts (without duplicate frames) agree with
  tshark's flags; for every complete handshake, the ISNs and negotiated options agree
  with tshark's fields of the first SYN and SYN-ACK;
- what each stream contains agrees with tshark's ``tcp.completeness`` bits. In tshark
  4.0 the bits are: 1 a SYN without ACK, 2 a SYN-ACK, 4 a bare ACK (no payload),
  8 payload, 16 a FIN, 32 a RST — established by comparing with the segments of the
  repository's captures. Bit 4 has no counterpart among the connection columns.

tshark runs once per capture, two-pass (so every packet shows the stream's final
completeness and initial RTT), with an empty configuration and the FTP dissector off:
with it on, tshark 4.0 does not count the SYN and SYN-ACK of passive-mode FTP data
connections (it creates those conversations from the ``227`` reply before their first
segment arrives).
"""

from __future__ import annotations

import functools
import io
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ALL_CAPTURES

import hskit
from hskit.schema import ACK, CWR, ECE, RST, SYN

FIELDS = (
    "tcp.stream", "frame.time_epoch", "ip.src", "ipv6.src", "tcp.srcport", "tcp.flags",
    "tcp.seq_raw", "tcp.ack_raw", "tcp.window_size_value", "tcp.len",
    "tcp.options.mss_val", "tcp.options.wscale.shift", "tcp.options.sack_perm",
    "tcp.options.timestamp.tsval", "tcp.options.tfo", "tcp.analysis.keep_alive",
    "tcp.completeness", "tcp.analysis.initial_rtt",
)  # fmt: skip
HEADER = ("tcp.flags", "tcp.seq_raw", "tcp.ack_raw", "tcp.window_size_value", "tcp.len",
          "tcp.options.timestamp.tsval")  # fmt: skip
TERMINATIONS_WITH_FIN = {"fin_4way", "fin_3way", "simultaneous_close", "half_closed"}
TERMINATIONS_WITH_FIN.add("fin_then_reset")
CAPTURE_IDS = {"ids": lambda path: Path(path).name}


@functools.cache
def tshark_fields(tshark: str, capture: Path) -> pd.DataFrame:
    """tshark's :data:`FIELDS` of every TCP segment of ``capture``, as strings."""
    command = [tshark, "-n", "-2", "--disable-protocol", "ftp", "-r", str(capture), "-Y", "tcp"]
    command += ["-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for name in FIELDS:
        command += ["-e", name]
    with tempfile.TemporaryDirectory() as home:
        environment = {"HOME": home, "WIRESHARK_CONFIG_DIR": home, "PATH": "/usr/bin:/bin"}
        output = subprocess.run(
            command, capture_output=True, text=True, check=True, env=environment
        ).stdout
    fields = pd.read_csv(
        io.StringIO(output), sep="\t", names=list(FIELDS), dtype=str, keep_default_na=False
    )
    fields["stream"] = fields["tcp.stream"].astype(int)
    fields["flags"] = fields["tcp.flags"].map(lambda bits: int(bits, 16)).astype(int)
    return fields


def number(column: pd.Series) -> pd.Series:
    """A column of tshark number strings as nullable integers ('' = NA)."""
    return pd.to_numeric(column.replace("", None)).astype("Int64")


@pytest.fixture
def compared(request, tshark) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(hskit's connections indexed by stream, tshark's fields) of one capture."""
    capture = request.node.callspec.params["capture"]
    connections = hskit.load(capture).connections.set_index("stream")
    return connections, tshark_fields(tshark, capture)


@pytest.mark.parametrize("capture", ALL_CAPTURES, **CAPTURE_IDS)
def test_handshake_time_equals_tshark_initial_rtt(capture, compared, figures):
    connections, fields = compared
    initial_rtt = pd.to_numeric(fields["tcp.analysis.initial_rtt"]).groupby(fields["stream"]).max()
    complete = connections[connections["handshake"] == "complete"]
    both = complete[["handshake_time"]].join(initial_rtt.rename("initial_rtt"))
    difference = (both["handshake_time"] - both["initial_rtt"]).abs()
    worst = difference.max() if len(difference) else 0.0
    figures(f"{Path(capture).name}: {len(complete)} complete handshakes, "
          f"largest |handshake_time - initial_rtt| = {worst:.3g} s")  # fmt: skip
    assert both["initial_rtt"].notna().all(), both[both["initial_rtt"].isna()]
    assert (difference <= 1e-6).all(), both[difference > 1e-6]


@pytest.mark.parametrize("capture", ALL_CAPTURES, **CAPTURE_IDS)
def test_what_each_stream_contains_agrees_with_tshark_completeness(capture, compared, figures):
    connections, fields = compared
    completeness = fields["tcp.completeness"].astype(int).groupby(fields["stream"])
    bits = completeness.agg(lambda values: int(np.bitwise_or.reduce(values.to_numpy())))
    assert sorted(bits.index) == sorted(connections.index), "streams differ from tshark's"
    bits = bits.reindex(connections.index)
    established = connections["termination"] != "not_established"
    ours_and_theirs = {
        "SYN (1)": (connections["syn_count"] > 0, bits & 1 != 0),
        "SYN-ACK (2)": (connections["synack_count"] > 0, bits & 2 != 0),
        "payload (8)": (connections["bytes_c2s"] + connections["bytes_s2c"] > 0, bits & 8 != 0),
        "FIN (16), established": (
            connections["termination"].isin(TERMINATIONS_WITH_FIN)[established],
            (bits & 16 != 0)[established],
        ),
        "RST (32)": (connections["reset_by"].notna(), bits & 32 != 0),
    }
    disagreements = {
        name: sorted(ours.index[ours.to_numpy() != theirs.to_numpy()].tolist())
        for name, (ours, theirs) in ours_and_theirs.items()
    }
    figures(f"{Path(capture).name}: {len(connections)} streams, disagreements {disagreements}")
    assert not any(disagreements.values()), disagreements


@pytest.mark.parametrize("capture", ALL_CAPTURES, **CAPTURE_IDS)
def test_packets_bytes_and_syns_agree_with_tshark(capture, compared, figures):
    connections, fields = compared
    client = connections.loc[fields["stream"]]
    source = fields["ip.src"].where(fields["ip.src"] != "", fields["ipv6.src"])
    from_client = (source.to_numpy() == client["client_ip"].astype(str).to_numpy()) & (
        fields["tcp.srcport"].astype(int).to_numpy() == client["client_port"].to_numpy()
    )
    table = fields.assign(from_client=from_client, time=fields["frame.time_epoch"].astype(float))
    previous = table.groupby("stream").shift(1)
    same = (previous[[*HEADER, "from_client"]] == table[[*HEADER, "from_client"]]).all(axis=1)
    table["counted"] = ~(same & (table["time"] - previous["time"] < 20e-6))
    table["payload"] = table["tcp.len"].astype(int) * (table["tcp.analysis.keep_alive"] == "")
    syn = (table["flags"] & (SYN | RST)) == SYN
    table["syn"], table["synack"] = (
        syn & (table["flags"] & ACK == 0),
        syn & (table["flags"] & ACK != 0),
    )
    counted = table[table["counted"]]
    theirs = counted.groupby(["stream", "from_client"]).agg(
        packets=("payload", "size"), payload=("payload", "sum")
    ).unstack("from_client", fill_value=0)  # fmt: skip
    every = pd.MultiIndex.from_product([["packets", "payload"], [True, False]])
    theirs = theirs.reindex(index=connections.index, columns=every, fill_value=0)
    syns = counted.groupby("stream")[["syn", "synack"]].sum().reindex(connections.index)
    ours_and_theirs = {
        "packets_c2s": theirs[("packets", True)],
        "packets_s2c": theirs[("packets", False)],
        "bytes_c2s": theirs[("payload", True)],
        "bytes_s2c": theirs[("payload", False)],
        "syn_count": syns["syn"],
        "synack_count": syns["synack"],
    }
    wrong = {
        column: connections.index[connections[column].to_numpy() != expected.to_numpy()].tolist()
        for column, expected in ours_and_theirs.items()
    }
    keep_alives = int((table["tcp.analysis.keep_alive"] != "").sum())
    figures(f"{Path(capture).name}: {len(connections)} streams, {len(table)} segments, "
          f"{keep_alives} keep-alives, {int((~table['counted']).sum())} duplicates, "
          f"disagreements {wrong}")  # fmt: skip
    assert not any(wrong.values()), wrong


@pytest.mark.parametrize("capture", ALL_CAPTURES, **CAPTURE_IDS)
def test_isns_and_negotiated_options_agree_with_tshark(capture, compared, figures):
    connections, fields = compared
    complete = connections[connections["handshake"] == "complete"]
    syns = fields[(fields["flags"] & (SYN | RST)) == SYN]
    first = syns.groupby([syns["flags"] & ACK != 0, "stream"]).first()
    syn = first.loc[False].reindex(complete.index) if False in first.index else None
    synack = first.loc[True].reindex(complete.index) if True in first.index else None
    if syn is None or synack is None:
        assert complete.empty, "complete handshakes without SYN or SYN-ACK in tshark's view"
        return
    scaling = (syn["tcp.options.wscale.shift"] != "") & (synack["tcp.options.wscale.shift"] != "")
    syn_data = number(syn["tcp.len"])
    data_acked = number(synack["tcp.ack_raw"]) == number(syn["tcp.seq_raw"]) + 1 + syn_data
    ecn_setup = ECE | CWR
    expected = {
        "isn_client": number(syn["tcp.seq_raw"]),
        "isn_server": number(synack["tcp.seq_raw"]),
        "mss_client": number(syn["tcp.options.mss_val"]),
        "mss_server": number(synack["tcp.options.mss_val"]),
        "wscale_client": number(syn["tcp.options.wscale.shift"]).where(scaling),
        "wscale_server": number(synack["tcp.options.wscale.shift"]).where(scaling),
        "sack_perm": (syn["tcp.options.sack_perm"] != "") & (synack["tcp.options.sack_perm"] != ""),
        "timestamps": (syn["tcp.options.timestamp.tsval"] != "")
        & (synack["tcp.options.timestamp.tsval"] != ""),
        "ecn": (syn["flags"] & ecn_setup == ecn_setup) & (synack["flags"] & ecn_setup == ECE),
        "tfo": (syn["tcp.options.tfo"] != "") & (syn_data > 0) & data_acked,
    }
    wrong = {}
    for column, theirs in expected.items():
        ours = complete[column].astype(object).where(complete[column].notna(), None)
        theirs = theirs.astype(object).where(theirs.notna(), None)
        differs = [stream for stream in complete.index if ours[stream] != theirs[stream]]
        if differs:
            wrong[column] = differs
    found = {column: int(complete[column].sum()) for column in ("ecn", "tfo", "sack_perm")}
    figures(f"{Path(capture).name}: {len(complete)} complete handshakes, {found}, "
          f"disagreements {wrong}")  # fmt: skip
    assert not wrong, wrong
