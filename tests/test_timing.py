"""Handshake timing against tshark's own measurements, and the vantage-point rule."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ALL_CAPTURES, SAMPLE_CAPTURES, SAMPLE_DIR

import hskit
from hskit import timing


def _tshark_rows(
    tshark: str, capture: Path, display_filter: str, fields: list[str]
) -> pd.DataFrame:
    command = [tshark, "-n", "-r", str(capture), "-Y", display_filter, "-T", "fields"]
    for field in fields:
        command += ["-e", field]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    return pd.DataFrame(rows, columns=fields)


def _tshark_initial_rtt(tshark: str, capture: Path) -> pd.DataFrame:
    """Per stream: tshark's iRTT (first SYN to the ACK completing the handshake), server.

    Only streams with a SYN-ACK, without any RST and with SYNs from one side: tshark also
    reports an iRTT when it saw no SYN-ACK, when the handshake was reset and data followed
    anyway, and for a simultaneous open (no client/server handshake to time).
    """
    syns = _tshark_rows(
        tshark,
        capture,
        "tcp.flags.syn == 1 && tcp.flags.ack == 0 && !icmp && !icmpv6",
        ["tcp.stream", "ip.dst", "ipv6.dst", "tcp.dstport"],
    )
    one_sided = syns.groupby("tcp.stream")["tcp.dstport"].transform("nunique") == 1
    syns = syns[one_sided].drop_duplicates("tcp.stream")
    rtts = _tshark_rows(
        tshark,
        capture,
        "tcp.analysis.initial_rtt && !icmp",
        ["tcp.stream", "tcp.analysis.initial_rtt"],
    ).drop_duplicates("tcp.stream")
    synacks = _tshark_rows(
        tshark, capture, "tcp.flags.syn == 1 && tcp.flags.ack == 1", ["tcp.stream"]
    )
    resets = _tshark_rows(tshark, capture, "tcp.flags.reset == 1", ["tcp.stream"])
    table = syns.merge(rtts, on="tcp.stream")
    table = table[
        table["tcp.stream"].isin(synacks["tcp.stream"])
        & ~table["tcp.stream"].isin(resets["tcp.stream"])
    ]
    host = table["ip.dst"].where(table["ip.dst"] != "", "[" + table["ipv6.dst"] + "]")
    return pd.DataFrame(
        {
            "stream": table["tcp.stream"].astype(int),
            "server": host + ":" + table["tcp.dstport"],
            "rtt": table["tcp.analysis.initial_rtt"].astype(float),
        }
    )


@pytest.mark.parametrize("capture", ALL_CAPTURES, ids=lambda path: path.name)
def test_per_server_percentiles_match_tshark_initial_rtts(capture: Path, tshark: str) -> None:
    truth = _tshark_initial_rtt(tshark, capture)
    connections = hskit.load(capture).connections
    same_streams = connections[connections["stream"].isin(truth["stream"])]
    table = timing.server_percentiles(same_streams).set_index("server")
    assert sorted(table.index) == sorted(truth["server"].unique())
    for server, rtts in truth.groupby("server")["rtt"]:
        row = table.loc[server]
        assert row["count"] == len(rtts)
        expected = [*np.percentile(rtts, [50, 90, 99]).tolist(), rtts.max()]
        assert row[["p50", "p90", "p99", "max"]].tolist() == pytest.approx(expected, abs=2e-6)


@pytest.mark.parametrize("capture", ALL_CAPTURES, ids=lambda path: path.name)
def test_syn_retransmission_delays_match_tshark(capture: Path, tshark: str) -> None:
    syns = _tshark_rows(
        tshark,
        capture,
        "tcp.flags.syn == 1 && tcp.flags.ack == 0 && !icmp && !icmpv6",
        ["tcp.stream", "frame.number", "frame.time_epoch"],
    ).astype({"tcp.stream": int, "frame.number": int, "frame.time_epoch": float})
    expected_delay = syns.groupby("tcp.stream")["frame.time_epoch"].diff().dropna()
    found = timing.syn_retransmissions(hskit.load(capture).segments)
    assert found["frame"].tolist() == syns.loc[expected_delay.index, "frame.number"].tolist()
    assert found["delay"].tolist() == pytest.approx(expected_delay.tolist(), abs=2e-6)


def test_no_answer_sample_shows_linux_exponential_syn_backoff() -> None:
    """The README's no_answer scenario: SYN retransmitted after 1 s, then 2 s, then 4 s."""
    capture = SAMPLE_DIR / "no_answer.pcap"
    with (SAMPLE_DIR / "manifest.csv").open(newline="") as handle:
        labels = [row["handshake"] for row in csv.DictReader(handle) if row["file"] == capture.name]
    assert labels == ["no_answer"]
    delays = timing.syn_retransmissions(hskit.load(capture).segments)["delay"]
    assert delays.tolist() == pytest.approx([1.0, 2.0, 4.0], abs=0.25)


def _lossy_captures() -> set[str]:
    """The captures of sample_pcaps/lossy.py: no delay line, and loss.pcap taken at the server."""
    with (SAMPLE_DIR / "manifest.csv").open(newline="") as handle:
        return {row["file"] for row in csv.DictReader(handle) if "lossy.py" in row["note"]}


@pytest.mark.parametrize(
    "capture",
    [p for p in SAMPLE_CAPTURES if "loopback" not in p.name and p.name not in _lossy_captures()],
    ids=lambda path: path.name,
)
def test_client_side_samples_are_recognised_as_captured_near_the_client(capture: Path) -> None:
    """Every sample of generate.py but the loopback one was captured in the client's
    namespace, behind the delay line that makes the two legs tell the vantage apart."""
    connections = hskit.load(capture).connections
    vantage = timing.vantage_point(connections)
    if vantage.connections == 0:
        assert vantage.label == "unknown"
    else:
        assert vantage.label == "client", vantage


@pytest.mark.parametrize(
    ("server_leg", "client_leg", "label"),
    [(0.050, 0.0001, "client"), (0.0001, 0.050, "server"), (0.020, 0.030, "between")],
)
def test_vantage_label_follows_the_ratio_of_the_two_legs(
    server_leg: float, client_leg: float, label: str
) -> None:
    legs = pd.DataFrame({"rtt_syn_synack": [server_leg] * 3, "rtt_synack_ack": [client_leg] * 3})
    vantage = timing.vantage_point(legs)
    assert vantage.label == label
    assert vantage.ratio == pytest.approx(server_leg / client_leg)


def test_figures_plot_every_completed_handshake_in_milliseconds() -> None:
    capture = max(ALL_CAPTURES, key=lambda path: path.stat().st_size)
    connections = hskit.load(capture).connections
    timed = connections["handshake_time"].dropna().to_numpy() * 1000.0
    for figure in (timing.rtt_histogram(connections), timing.rtt_ecdf(connections)):
        plotted = np.concatenate([np.asarray(trace.x, dtype=float) for trace in figure.data])
        assert sorted(plotted) == pytest.approx(sorted(timed))
