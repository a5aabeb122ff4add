"""``https_browser.pcap`` is the HTTPS exchange notebook 12 says it is, by tshark's own dissection.

The notebook reads TCP headers only (hskit has no TLS dissector); these tests check its
claims about the records against tshark's TLS dissector, and hskit's data segments against
tshark's, so the lesson's "ClientHello first, ServerHello second, application data both
ways, FIN answered by FIN+ACK" is true of the committed capture.
"""

from __future__ import annotations

import subprocess

import pytest
from conftest import SAMPLE_DIR

import hskit

CAPTURE = SAMPLE_DIR / "https_browser.pcap"
FIELDS = ("frame.number", "tcp.srcport", "tcp.len", "tcp.flags.fin", "tcp.ack", "tcp.seq",
          "tls.record.content_type", "tls.record.opaque_type", "tls.handshake.type")  # fmt: skip
#: TLS record content types (RFC 8446 §5.1; an encrypted TLS 1.3 record's outer type, which
#: tshark calls opaque_type, is always application_data) and handshake message types (§4).
HANDSHAKE_RECORD, APPLICATION_DATA = "22", "23"
CLIENT_HELLO, SERVER_HELLO = "1", "2"


@pytest.fixture(scope="module")
def packets(tshark: str) -> list[dict[str, str]]:
    """One dict per frame of tshark's fields (relative sequence numbers, as hskit's)."""
    argv = [tshark, "-n", "-r", str(CAPTURE), "-o", "tcp.relative_sequence_numbers:TRUE",
            "-T", "fields", "-E", "occurrence=a"]  # fmt: skip
    for field in FIELDS:
        argv += ["-e", field]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout
    return [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in out.splitlines()]


def test_hskit_data_segments_are_tsharks(packets: list[dict[str, str]]) -> None:
    segments = hskit.load(CAPTURE).segments
    data = segments[segments["payload_len"] > 0]
    theirs = [(int(p["frame.number"]), int(p["tcp.len"])) for p in packets if p["tcp.len"] != "0"]
    assert list(zip(data["frame"], data["payload_len"], strict=True)) == theirs


def test_client_hello_first_server_hello_second_application_data_both_ways(
    packets: list[dict[str, str]],
) -> None:
    conn = hskit.load(CAPTURE).connections.iloc[0]
    server = str(conn["server_port"])
    data = [p for p in packets if p["tcp.len"] != "0"]
    first, second = data[0], data[1]
    assert first["tcp.srcport"] != server and second["tcp.srcport"] == server
    assert HANDSHAKE_RECORD in first["tls.record.content_type"].split(",")
    assert first["tls.handshake.type"].split(",")[0] == CLIENT_HELLO
    assert second["tls.handshake.type"].split(",")[0] == SERVER_HELLO
    for from_server in (False, True):
        records = [p["tls.record.opaque_type"] for p in data
                   if (p["tcp.srcport"] == server) is from_server]  # fmt: skip
        assert any(APPLICATION_DATA in r.split(",") for r in records), from_server


def test_the_close_is_fin_then_fin_ack_as_hskit_labels_it(packets: list[dict[str, str]]) -> None:
    conn = hskit.load(CAPTURE).connections.iloc[0]
    server = str(conn["server_port"])
    fins = [p for p in packets if p["tcp.flags.fin"] in ("1", "True")]
    assert [p["tcp.srcport"] == server for p in fins] == [False, True]
    client_fin, server_fin = fins
    assert int(server_fin["tcp.ack"]) == int(client_fin["tcp.seq"]) + 1
    assert (conn["termination"], conn["closer"]) == ("fin_3way", "client")
