"""sample_pcaps/manifest.csv checked against the captures, with tshark's own output.

Each manifest row claims a connection (tcp.stream + 4-tuple) and its labels; these
tests re-derive the facts behind every label from tshark's per-packet flags and
raw sequence/acknowledgement numbers, independently of the generator's labeller
(the rules are in sample_pcaps/LABELING.md).  They also check that every
connection tshark finds has exactly one row, and that each format-variant capture
really has its format (VLAN tags, two pcapng interfaces, nanosecond magic, ...).
"""

from __future__ import annotations

import csv
import gzip
import itertools
import os
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "sample_pcaps"
MANIFEST = SAMPLES / "manifest.csv"
FIN, SYN, RST, ACK, ECE, CWR = 0x01, 0x02, 0x04, 0x10, 0x40, 0x80
MOD = 1 << 32

COLUMNS = [
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
HANDSHAKES = {
    "complete",
    "refused",
    "no_answer",
    "no_final_ack",
    "reset_in_handshake",
    "simultaneous_open",
    "midstream",
}
TERMINATIONS = {
    "fin_4way",
    "fin_3way",
    "simultaneous_close",
    "half_closed",
    "fin_then_reset",
    "reset",
    "open",
    "not_established",
}
CONN_STATES = {
    "S0",
    "S1",
    "SF",
    "REJ",
    "S2",
    "S3",
    "RSTO",
    "RSTR",
    "RSTOS0",
    "RSTRH",
    "SH",
    "SHR",
    "OTH",
}
FIELDS = [
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
# Extra per-frame facts some tests look at (FT_NONE analysis flags print "1" when set).
EXTRA_FIELDS = [
    "tcp.checksum.status",
    "tcp.analysis.keep_alive",
    "tcp.analysis.keep_alive_ack",
    "tcp.analysis.zero_window",
    "vlan.id",
    "frame.interface_id",
    "eth.src",
]


@dataclass(frozen=True)
class Seg:
    """One TCP segment as tshark reports it, with its direction in the connection."""

    frame: int
    time: float
    src: tuple[str, int]
    dst: tuple[str, int]
    flags: int
    seq: int
    ack: int
    length: int
    from_client: bool

    def has(self, bits: int) -> bool:
        """True when all of ``bits`` are set."""
        return self.flags & bits == bits


def tshark_fields(
    tshark: str, path: Path, fields: list[str], dfilter: str = "tcp", options: tuple[str, ...] = ()
) -> list[list[str]]:
    """Rows of tshark -T fields output (no name resolution, empty profile)."""
    with tempfile.TemporaryDirectory(prefix="hsk-test-ws-") as conf:
        cmd = [
            tshark,
            "-n",
            "-r",
            str(path),
            *options,
            "-Y",
            dfilter,
            "-T",
            "fields",
            "-E",
            "separator=\t",
            "-E",
            "occurrence=f",
        ]
        for name in fields:
            cmd += ["-e", name]
        out = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
            env={**os.environ, "WIRESHARK_CONFIG_DIR": conf},
        )
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def read_manifest() -> list[dict[str, str]]:
    """All manifest rows."""
    with MANIFEST.open(newline="") as fh:
        return list(csv.DictReader(fh))


ROWS = read_manifest() if MANIFEST.exists() else []
FILES = sorted({row["file"] for row in ROWS})


def rows_with(**criteria: str) -> list[dict[str, str]]:
    """Manifest rows whose columns equal all the given values."""
    return [r for r in ROWS if all(r[k] == v for k, v in criteria.items())]


def row_id(row: dict[str, str]) -> str:
    """A readable pytest id: file#stream."""
    return f"{row['file']}#{row['stream']}"


@pytest.fixture(scope="session")
def frames(tshark: str) -> dict[str, list[dict[str, str]]]:
    """Per capture file, every TCP frame as {field: value} (one tshark run per file,
    TCP checksum validation on)."""
    names = FIELDS + EXTRA_FIELDS

    def read(file: str) -> list[dict[str, str]]:
        rows = tshark_fields(
            tshark, SAMPLES / file, names, "tcp", ("-o", "tcp.check_checksum:TRUE")
        )
        return [dict(zip(names, row, strict=True)) for row in rows]

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(zip(FILES, pool.map(read, FILES), strict=True))


@pytest.fixture(scope="session")
def streams(frames: dict[str, list[dict[str, str]]]) -> dict[str, dict[int, list[Seg]]]:
    """Per capture file, per tcp.stream, the raw segments (direction from the manifest row)."""
    client_of = {
        (r["file"], int(r["stream"])): (r["client_ip"], int(r["client_port"])) for r in ROWS
    }
    result: dict[str, dict[int, list[Seg]]] = {}
    for file in FILES:
        per: dict[int, list[Seg]] = defaultdict(list)
        for f in frames[file]:
            stream = int(f["tcp.stream"])
            src = (f["ip.src"] or f["ipv6.src"], int(f["tcp.srcport"]))
            dst = (f["ip.dst"] or f["ipv6.dst"], int(f["tcp.dstport"]))
            per[stream].append(
                Seg(
                    int(f["frame.number"]),
                    float(f["frame.time_relative"]),
                    src,
                    dst,
                    int(f["tcp.flags"], 16),
                    int(f["tcp.seq_raw"]),
                    int(f["tcp.ack_raw"] or 0),
                    int(f["tcp.len"] or 0),
                    src == client_of.get((file, stream)),
                )
            )
        result[file] = dict(per)
    return result


def segs(streams: dict[str, dict[int, list[Seg]]], row: dict[str, str]) -> list[Seg]:
    """The segments of the connection a manifest row describes."""
    return streams[row["file"]][int(row["stream"])]


def covers(ack: int, fin: Seg) -> bool:
    """True when an acknowledgement number covers this FIN (seq + len + 1), mod 2^32."""
    return (ack - (fin.seq + fin.length + 1)) % MOD < (MOD >> 1)


def first_fins(conn: list[Seg]) -> tuple[int, int]:
    """Indices of the first FIN segment, and of the first FIN from the other side."""
    first = next(i for i, s in enumerate(conn) if s.has(FIN))
    other = next(
        i for i, s in enumerate(conn) if s.has(FIN) and s.from_client != conn[first].from_client
    )
    return first, other


def first_ack_of(conn: list[Seg], fin_index: int) -> int | None:
    """Index of the first segment from the peer that acknowledges the FIN at ``fin_index``."""
    fin = conn[fin_index]
    return next(
        (
            i
            for i in range(fin_index + 1, len(conn))
            if conn[i].from_client != fin.from_client
            and conn[i].has(ACK)
            and covers(conn[i].ack, fin)
        ),
        None,
    )


def files_with(**criteria: str) -> list[str]:
    """Capture files having at least one row with these column values (test parameters)."""
    return sorted({r["file"] for r in rows_with(**criteria)})


def each(
    streams: dict[str, dict[int, list[Seg]]], file: str, **criteria: str
) -> Iterator[tuple[str, dict[str, str], list[Seg]]]:
    """(id, row, segments) for the rows of ``file`` matching ``criteria``."""
    for row in rows_with(file=file, **criteria):
        yield row_id(row), row, segs(streams, row)


# --------------------------------------------------------------------------- the manifest itself


def test_manifest_has_the_documented_columns() -> None:
    with MANIFEST.open(newline="") as fh:
        assert next(csv.reader(fh)) == COLUMNS
    assert ROWS, "manifest.csv has no rows"


def test_manifest_labels_use_the_design_vocabulary() -> None:
    for row in ROWS:
        assert row["handshake"] in HANDSHAKES, row_id(row)
        assert row["termination"] in TERMINATIONS, row_id(row)
        assert row["closer"] in {"client", "server", "both", ""}, row_id(row)
        assert row["reset_by"] in {"client", "server", ""}, row_id(row)
        assert row["conn_state"] in CONN_STATES, row_id(row)


def test_every_manifest_file_exists_and_captures_stay_small() -> None:
    total = 0
    for file in FILES:
        size = (SAMPLES / file).stat().st_size
        total += size
        limit = 450_000 if file.startswith("busy_server") else 200_000
        assert size < limit, f"{file} is {size} bytes"
    assert total < 5_000_000


def test_every_capture_file_in_the_directory_is_in_the_manifest() -> None:
    captures = {
        p.name
        for p in SAMPLES.iterdir()
        if p.name.endswith((".pcap", ".pcapng", ".pcap.gz")) and not p.name.startswith("failed-")
    }
    assert captures == set(FILES)


def test_every_connection_tshark_finds_has_exactly_one_manifest_row(streams) -> None:
    for file in FILES:
        listed = [int(r["stream"]) for r in rows_with(file=file)]
        assert len(listed) == len(set(listed)), f"{file}: duplicate stream rows"
        assert set(listed) == set(streams[file]), file


@pytest.mark.parametrize("file", FILES)
def test_rows_four_tuples_match_their_streams(streams, file) -> None:
    for rid, row, conn in each(streams, file):
        client = (row["client_ip"], int(row["client_port"]))
        server = (row["server_ip"], int(row["server_port"]))
        for seg in conn:
            assert {seg.src, seg.dst} == {client, server}, f"{rid} frame {seg.frame}"


@pytest.mark.parametrize("file", FILES)
def test_client_is_the_sender_of_the_first_syn(streams, file) -> None:
    for rid, _row, conn in each(streams, file):
        syn = next((s for s in conn if s.has(SYN) and not s.has(ACK)), None)
        synack = next((s for s in conn if s.has(SYN | ACK)), None)
        if syn is not None:
            assert syn.from_client, rid
        elif synack is not None:
            assert not synack.from_client, rid
        else:
            assert conn[0].from_client, rid


@pytest.mark.parametrize("file", FILES)
def test_reset_by_is_the_sender_of_the_first_rst(streams, file) -> None:
    for rid, row, conn in each(streams, file):
        rst = next((s for s in conn if s.has(RST)), None)
        expected = "" if rst is None else ("client" if rst.from_client else "server")
        assert row["reset_by"] == expected, rid


@pytest.mark.parametrize("file", FILES)
def test_closer_is_the_sender_of_the_first_fin(streams, file) -> None:
    for rid, row, conn in each(streams, file):
        fin = next((s for s in conn if s.has(FIN)), None)
        if row["termination"] == "simultaneous_close":
            assert row["closer"] == "both", rid
        else:
            expected = "" if fin is None else ("client" if fin.from_client else "server")
            assert row["closer"] == expected, rid


# --------------------------------------------------------------------------- handshakes


@pytest.mark.parametrize("file", files_with(handshake="complete"))
def test_complete_rows_have_syn_synack_then_client_ack(streams, file) -> None:
    for rid, _row, conn in each(streams, file, handshake="complete"):
        i_syn = next(i for i, s in enumerate(conn) if s.has(SYN) and not s.has(ACK))
        syn = conn[i_syn]
        assert syn.from_client, rid
        i_sa = next(i for i, s in enumerate(conn) if s.has(SYN | ACK))
        synack = conn[i_sa]
        assert i_sa > i_syn and not synack.from_client, rid
        assert synack.ack == (syn.seq + 1 + syn.length) % MOD, f"{rid}: SYN-ACK acks the SYN"
        assert any(
            s.from_client
            and s.has(ACK)
            and not s.flags & (SYN | RST)
            and s.ack == (synack.seq + 1) % MOD
            for s in conn[i_sa + 1 :]
        ), f"{rid}: no client ACK of the SYN-ACK"
        assert not any(s.has(SYN) and not s.has(ACK) for s in conn if not s.from_client), rid


@pytest.mark.parametrize("file", files_with(handshake="refused"))
def test_refused_rows_have_syn_then_rst_and_no_synack(streams, file) -> None:
    for rid, row, conn in each(streams, file, handshake="refused"):
        assert conn[0].from_client and conn[0].has(SYN) and not conn[0].has(ACK), rid
        assert not any(s.has(SYN | ACK) for s in conn), f"{rid}: a SYN-ACK was sent"
        rst = [s for s in conn if s.has(RST)]
        assert rst and not rst[0].from_client, f"{rid}: no RST from the server"
        assert rst[0].has(ACK) and rst[0].ack == (conn[0].seq + 1) % MOD, rid
        assert row["termination"] == "not_established" and row["conn_state"] == "REJ", rid


@pytest.mark.parametrize("file", files_with(handshake="no_answer"))
def test_no_answer_rows_have_only_client_syns(streams, file) -> None:
    for rid, row, conn in each(streams, file, handshake="no_answer"):
        assert all(s.from_client and s.has(SYN) and not s.has(ACK) for s in conn), rid
        assert len({s.seq for s in conn}) == 1, f"{rid}: retransmissions repeat the ISN"
        assert row["termination"] == "not_established" and row["conn_state"] == "S0", rid


def test_no_answer_capture_shows_exponential_syn_backoff(streams) -> None:
    (row,) = rows_with(file="no_answer.pcap")
    times = [s.time for s in segs(streams, row)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 4
    for gap, want in zip(gaps, (1.0, 2.0, 4.0), strict=True):
        assert want - 0.05 < gap < want + 0.25, gaps


@pytest.mark.parametrize("file", files_with(handshake="no_final_ack"))
def test_no_final_ack_rows_have_synack_but_no_client_ack(streams, file) -> None:
    for rid, _row, conn in each(streams, file, handshake="no_final_ack"):
        assert conn[0].from_client and conn[0].has(SYN) and not conn[0].has(ACK), rid
        synacks = [s for s in conn if s.has(SYN | ACK)]
        assert synacks and not any(s.from_client for s in synacks), rid
        assert all(s.has(SYN) for s in conn if s.from_client), f"{rid}: client sent more"
        assert not any(s.has(RST) for s in conn), rid


@pytest.mark.parametrize("file", files_with(handshake="reset_in_handshake"))
def test_reset_in_handshake_rows_have_client_rst_answering_the_synack(streams, file) -> None:
    for rid, _row, conn in each(streams, file, handshake="reset_in_handshake"):
        i_sa = next(i for i, s in enumerate(conn) if s.has(SYN | ACK))
        after = conn[i_sa + 1 :]
        assert after and after[0].from_client and after[0].has(RST), rid
        assert after[0].seq == conn[i_sa].ack, f"{rid}: RST seq is the SYN-ACK's ack"
        assert not any(s.from_client and s.has(ACK) and not s.has(RST) for s in after), rid


@pytest.mark.parametrize("file", files_with(handshake="simultaneous_open"))
def test_simultaneous_open_rows_have_a_syn_from_each_side_before_any_synack(streams, file) -> None:
    for rid, _row, conn in each(streams, file, handshake="simultaneous_open"):
        syns = [i for i, s in enumerate(conn) if s.has(SYN) and not s.has(ACK)]
        first_synack = next(i for i, s in enumerate(conn) if s.has(SYN | ACK))
        assert {conn[i].from_client for i in syns} == {True, False}, rid
        assert max(syns) < first_synack, f"{rid}: both SYNs left before any SYN-ACK"


@pytest.mark.parametrize("file", files_with(handshake="midstream"))
def test_midstream_rows_have_no_syn_at_all(streams, file) -> None:
    for rid, _row, conn in each(streams, file, handshake="midstream"):
        assert not any(s.has(SYN) for s in conn), rid
        assert conn[0].from_client, rid


# --------------------------------------------------------------------------- terminations


@pytest.mark.parametrize("file", files_with(termination="fin_4way"))
def test_fin_4way_rows_ack_the_first_fin_before_the_peer_fin(streams, file) -> None:
    for rid, _row, conn in each(streams, file, termination="fin_4way"):
        first, other = first_fins(conn)
        ack = first_ack_of(conn, first)
        assert ack is not None and ack < other, rid
        assert not conn[ack].has(FIN), f"{rid}: the ACK of the first FIN is a FIN"
        assert first_ack_of(conn, other) is not None, f"{rid}: last FIN not acknowledged"
        assert not any(s.has(RST) for s in conn), rid


@pytest.mark.parametrize("file", files_with(termination="fin_3way"))
def test_fin_3way_rows_answer_the_fin_with_a_fin_ack_that_acks_it(streams, file) -> None:
    for rid, _row, conn in each(streams, file, termination="fin_3way"):
        first, other = first_fins(conn)
        assert first_ack_of(conn, first) == other, f"{rid}: first ACK of the FIN is no FIN"
        assert conn[other].has(FIN | ACK) and covers(conn[other].ack, conn[first]), rid
        assert first_ack_of(conn, other) is not None, f"{rid}: last FIN not acknowledged"
        assert not any(s.has(RST) for s in conn), rid


@pytest.mark.parametrize("file", files_with(termination="simultaneous_close"))
def test_simultaneous_close_rows_send_both_fins_before_either_is_acked(streams, file) -> None:
    for rid, _row, conn in each(streams, file, termination="simultaneous_close"):
        first, other = first_fins(conn)
        assert not covers(conn[other].ack, conn[first]), f"{rid}: second FIN acks the first"
        ack_first = first_ack_of(conn, first)
        assert ack_first is not None and ack_first > other, rid
        assert first_ack_of(conn, other) is not None, rid


@pytest.mark.parametrize("file", files_with(termination="half_closed"))
def test_half_closed_rows_have_one_acked_fin_and_nothing_closing_back(streams, file) -> None:
    for rid, _row, conn in each(streams, file, termination="half_closed"):
        fins = [s for s in conn if s.has(FIN)]
        assert fins and len({s.from_client for s in fins}) == 1, rid
        assert first_ack_of(conn, conn.index(fins[0])) is not None, rid
        assert not any(s.has(RST) for s in conn), rid


@pytest.mark.parametrize("file", files_with(termination="open"))
def test_open_rows_have_neither_fin_nor_rst(streams, file) -> None:
    for rid, _row, conn in each(streams, file, termination="open"):
        assert not any(s.has(FIN) or s.has(RST) for s in conn), rid


@pytest.mark.parametrize("file", files_with(termination="reset"))
def test_reset_rows_have_rst_after_establishment_and_no_fin(streams, file) -> None:
    for rid, _row, conn in each(streams, file, termination="reset"):
        assert any(s.has(RST) for s in conn), rid
        assert not any(s.has(FIN) for s in conn), rid
        assert any(
            s.has(ACK) and not s.has(SYN) and not s.has(RST) for s in conn if s.from_client
        ), f"{rid}: never established"


@pytest.mark.parametrize("file", files_with(termination="fin_then_reset"))
def test_fin_then_reset_rows_have_a_fin_before_the_first_rst(streams, file) -> None:
    for rid, _row, conn in each(streams, file, termination="fin_then_reset"):
        i_fin = next(i for i, s in enumerate(conn) if s.has(FIN))
        i_rst = next(i for i, s in enumerate(conn) if s.has(RST))
        assert i_fin < i_rst, rid


def test_not_established_rows_have_a_failed_handshake() -> None:
    failed = {"refused", "no_answer", "no_final_ack", "reset_in_handshake"}
    for row in rows_with(termination="not_established"):
        assert row["handshake"] in failed, row_id(row)
    for row in ROWS:
        if row["handshake"] in failed:
            assert row["termination"] == "not_established", row_id(row)


ZEEK_STATE = {
    ("complete", "fin_4way"): "SF",
    ("complete", "fin_3way"): "SF",
    ("complete", "simultaneous_close"): "SF",
    ("midstream", "fin_3way"): "SF",
    ("midstream", "fin_4way"): "SF",
    ("simultaneous_open", "fin_3way"): "SF",
    ("complete", "open"): "S1",
    ("no_final_ack", "not_established"): "S1",
    ("no_answer", "not_established"): "S0",
    ("refused", "not_established"): "REJ",
    ("reset_in_handshake", "not_established"): "RSTO",
}


def test_conn_state_agrees_with_zeeks_rules_for_the_labels() -> None:
    for row in ROWS:
        key = (row["handshake"], row["termination"])
        if key in ZEEK_STATE:
            expected = ZEEK_STATE[key]
        elif row["termination"] == "half_closed":
            expected = "S2" if row["closer"] == "client" else "S3"
        elif row["termination"] in {"reset", "fin_then_reset"}:
            expected = "RSTO" if row["reset_by"] == "client" else "RSTR"
        else:
            pytest.fail(f"{row_id(row)}: no Zeek expectation for {key}")
        assert row["conn_state"] == expected, row_id(row)


# --------------------------------------------------------------------------- scenario facts


def test_every_scenario_capture_shows_its_named_outcome() -> None:
    expected = {
        "close_client_first.pcap": ("complete", None, "client"),
        "close_server_first.pcap": ("complete", None, "server"),
        "fin_4way.pcap": ("complete", "fin_4way", "client"),
        "fin_3way.pcap": ("complete", "fin_3way", "client"),
        "simultaneous_close.pcap": ("complete", "simultaneous_close", "both"),
        "half_close.pcap": ("complete", "fin_4way", "client"),
        "one_sided_close.pcap": ("complete", "half_closed", "client"),
        "refused.pcap": ("refused", "not_established", ""),
        "no_answer.pcap": ("no_answer", "not_established", ""),
        "reset_in_handshake.pcap": ("reset_in_handshake", "not_established", ""),
        "rst_client.pcap": ("complete", "reset", ""),
        "rst_server.pcap": ("complete", "reset", ""),
        "fin_then_reset.pcap": ("complete", "fin_then_reset", "client"),
        "simultaneous_open.pcap": ("simultaneous_open", None, None),
        "midstream.pcap": ("midstream", None, "client"),
        "keepalive.pcap": ("complete", "open", ""),
    }
    for file, (handshake, termination, closer) in expected.items():
        (row,) = rows_with(file=file)
        assert row["handshake"] == handshake, file
        assert termination is None or row["termination"] == termination, file
        assert closer is None or row["closer"] == closer, file
    assert rows_with(file="rst_client.pcap")[0]["reset_by"] == "client"
    assert rows_with(file="rst_server.pcap")[0]["reset_by"] == "server"
    assert rows_with(file="fin_then_reset.pcap")[0]["reset_by"] == "server"


def test_half_close_capture_has_server_data_after_the_client_fin(streams) -> None:
    (row,) = rows_with(file="half_close.pcap")
    conn = segs(streams, row)
    client_fin = next(i for i, s in enumerate(conn) if s.has(FIN) and s.from_client)
    assert sum(s.length for s in conn[client_fin:] if not s.from_client) > 0


def test_syn_flood_capture_piles_up_half_open_and_retransmits_synacks(streams) -> None:
    flood = rows_with(file="syn_flood.pcap", handshake="no_final_ack")
    assert len(flood) >= 150
    assert all(r["client_ip"].startswith("10.77.1.") for r in flood)
    retransmitted = [r for r in flood if sum(s.has(SYN | ACK) for s in segs(streams, r)) > 1]
    assert 1 <= len(retransmitted) < len(flood), "only the queued half-open SYN-ACKs repeat"
    legit = rows_with(file="syn_flood.pcap", handshake="complete")
    assert len(legit) == 1 and legit[0]["client_ip"] == "10.77.0.1"


def test_port_reuse_capture_has_three_streams_on_one_four_tuple() -> None:
    rows = rows_with(file="port_reuse.pcap")
    assert len(rows) == 3
    assert (
        len({(r["client_ip"], r["client_port"], r["server_ip"], r["server_port"]) for r in rows})
        == 1
    )


def test_keepalive_capture_has_probes_answered_by_the_server(frames) -> None:
    rows = frames["keepalive.pcap"]
    assert sum(f["tcp.analysis.keep_alive"] == "1" for f in rows) >= 3
    assert sum(f["tcp.analysis.keep_alive_ack"] == "1" for f in rows) >= 3


def test_zero_window_capture_advertises_zero_window_and_sender_probes(frames) -> None:
    rows = frames["zero_window.pcap"]
    assert any(f["tcp.analysis.zero_window"] == "1" for f in rows)
    assert sum(f["tcp.analysis.keep_alive"] == "1" for f in rows) >= 2


def test_tcp_fastopen_capture_carries_data_in_the_second_syn(streams) -> None:
    rows = rows_with(file="tcp_fastopen.pcap")
    syns = [next(s for s in segs(streams, r) if s.has(SYN)) for r in rows]
    assert syns[0].length == 0 and syns[1].length > 0


def test_ecn_capture_negotiates_ecn_in_the_handshake(streams) -> None:
    (row,) = rows_with(file="ecn.pcap")
    conn = segs(streams, row)
    syn = next(s for s in conn if s.has(SYN) and not s.has(ACK))
    synack = next(s for s in conn if s.has(SYN | ACK))
    assert syn.has(ECE | CWR) and synack.has(ECE) and not synack.has(CWR)


def test_slow_handshake_capture_has_one_slow_server(streams) -> None:
    rtts: dict[str, list[float]] = defaultdict(list)
    for row in rows_with(file="slow_handshake.pcap"):
        conn = segs(streams, row)
        syn = next(s for s in conn if s.has(SYN) and not s.has(ACK))
        synack = next(s for s in conn if s.has(SYN | ACK))
        rtts[row["server_ip"]].append(synack.time - syn.time)
    assert all(0.25 < r < 0.40 for r in rtts["10.77.0.3"])
    assert all(0.02 < r < 0.10 for r in rtts["10.77.0.2"])


def test_ipv6_capture_is_ipv6() -> None:
    (row,) = rows_with(file="ipv6.pcap")
    assert ":" in row["client_ip"] and ":" in row["server_ip"]


def test_tcp_checksums_are_valid_because_offloads_were_off(frames) -> None:
    # loopback.pcap excepted: Linux cannot switch checksum offload off on lo, so its
    # captured TCP checksums are unfilled, as on any real loopback capture.
    for file in FILES:
        status = {f["tcp.checksum.status"] for f in frames[file]}
        assert status == ({"0"} if file == "loopback.pcap" else {"1"}), file


# --------------------------------------------------------------------------- formats


def pcap_header(file: str) -> bytes:
    """The first 24 bytes of a (possibly gzip-compressed) capture."""
    path = SAMPLES / file
    opener = gzip.open if file.endswith(".gz") else open
    with opener(path, "rb") as fh:
        return fh.read(24)


@pytest.mark.parametrize(
    ("file", "linktype"),
    [
        ("close_client_first.pcap", 1),
        ("cooked_sll.pcap", 113),
        ("cooked_sll2.pcap", 276),
        ("loopback.pcap", 1),
        ("vlan.pcap", 1),
        ("compressed.pcap.gz", 1),
    ],
)
def test_pcap_link_types(file, linktype) -> None:
    header = pcap_header(file)
    assert header[:4] == bytes.fromhex("d4c3b2a1")  # little-endian microsecond pcap
    assert int.from_bytes(header[20:24], "little") == linktype


def test_nanosecond_capture_has_the_nanosecond_magic() -> None:
    assert pcap_header("nanosecond.pcap")[:4] == bytes.fromhex("4d3cb2a1")


def test_compressed_capture_is_gzip() -> None:
    assert (SAMPLES / "compressed.pcap.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (SAMPLES / "busy_server.pcap.gz").read_bytes()[:2] == b"\x1f\x8b"


def test_two_interfaces_capture_is_pcapng_with_a_connection_on_each(frames) -> None:
    assert (SAMPLES / "two_interfaces.pcapng").read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    pairs = {(f["frame.interface_id"], f["tcp.stream"]) for f in frames["two_interfaces.pcapng"]}
    assert pairs == {("0", "0"), ("1", "1")}


def test_vlan_capture_has_an_8021q_tag_on_every_frame(frames) -> None:
    vids = [f["vlan.id"] for f in frames["vlan.pcap"]]
    assert vids and set(vids) == {"100"}


def test_loopback_capture_is_127_0_0_1_with_zero_macs(frames) -> None:
    rows = frames["loopback.pcap"]
    assert rows and {(f["eth.src"], f["ip.src"]) for f in rows} == {
        ("00:00:00:00:00:00", "127.0.0.1")
    }


def test_busy_capture_mixes_thousands_of_connections_with_every_outcome() -> None:
    rows = rows_with(file="busy_server.pcap.gz")
    assert len(rows) >= 2000
    assert {r["handshake"] for r in rows} >= HANDSHAKES - {"simultaneous_open"}
    assert {r["termination"] for r in rows} >= TERMINATIONS
