"""The ``DataFrame.hs`` accessor gives what ``Capture`` and the manifest give, on the samples."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import hskit
from hskit import samples, views
from hskit.errors import SchemaError
from hskit.schema import ACK, FIN, RST, SYN


@pytest.fixture(scope="module")
def busy() -> hskit.Capture:
    return hskit.load(samples.path("busy_server"), progress=False)


def test_import_hskit_registers_the_accessor() -> None:
    code = "import pandas as pd, hskit; print(pd.DataFrame.hs.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "HsAccessor"


def test_stream_selects_that_streams_rows(busy) -> None:
    segments, connections = busy.segments, busy.connections
    for stream in (0, 3, int(segments["stream"].max())):
        rows = segments.hs.stream(stream)
        assert len(rows) == int(connections.loc[stream, ["packets_c2s", "packets_s2c"]].sum())
        assert (rows["stream"] == stream).all()
        assert connections.hs.stream(stream)["stream"].tolist() == [stream]
    assert len(segments.hs.stream([1, 2])) == (segments["stream"].isin([1, 2])).sum()
    assert segments.hs.stream(10**6).empty


def test_filter_on_segments_selects_the_patterns_flags(busy) -> None:
    segments = busy.segments
    bits = segments["flags"].to_numpy(np.int64)
    assert segments.hs.filter("syn").index.equals(segments.index[(bits & (SYN | ACK)) == SYN])
    assert segments.hs.filter("rst").index.equals(segments.index[(bits & RST) != 0])
    fin_or_rst = (bits & (FIN | RST)) != 0
    assert segments.hs.filter("termination").index.equals(segments.index[fin_or_rst])
    assert (segments.hs.filter("data")["payload_len"] > 0).all()


def test_filter_on_connections_selects_a_label_of_any_label_column(busy) -> None:
    connections = busy.connections
    manifest = samples.manifest().query("file == 'busy_server.pcap.gz'")
    for column, label in [
        ("handshake", "refused"),
        ("termination", "fin_4way"),
        ("conn_state", "SF"),
    ]:
        expected = manifest.loc[manifest[column] == label, "stream"].tolist()
        assert connections.hs.filter(label)["stream"].tolist() == expected, label
    with pytest.raises(ValueError, match="unknown label 'refuse'"):
        connections.hs.filter("refuse")


def test_summary_counts_the_manifests_labels(busy) -> None:
    manifest = samples.manifest().query("file == 'busy_server.pcap.gz'")
    summary = busy.connections.hs.summary()
    pd.testing.assert_frame_equal(busy.segments.hs.summary(), summary)
    for column in ("handshake", "termination", "conn_state"):
        counted = summary.loc[column, "connections"].to_dict()
        assert counted == manifest[column].value_counts().loc[lambda c: c > 0].to_dict(), column
    assert summary.loc["handshake", "connections"].is_monotonic_decreasing


def test_connections_and_states_are_the_captures(busy) -> None:
    pd.testing.assert_frame_equal(busy.segments.hs.connections(), busy.connections)
    pd.testing.assert_frame_equal(busy.segments.hs.states(), busy.states)


def test_ladder_is_the_views_figure_of_that_stream(busy) -> None:
    for stream in (0, 7):
        expected = views.ladder_figure(busy.segments, busy.connections, stream)
        assert busy.segments.hs.ladder(stream).to_json() == expected.to_json()
    first = int(busy.segments["stream"].iloc[0])
    expected = views.ladder_figure(busy.segments, busy.connections, first, spacing="time")
    assert busy.segments.hs.ladder(spacing="time").to_json() == expected.to_json()


def test_diagnose_finds_what_the_capture_finds() -> None:
    cap = hskit.load(samples.path("syn_flood"))
    findings = cap.segments.hs.diagnose()
    pd.testing.assert_frame_equal(findings, cap.diagnose())
    assert "syn_flood" in set(findings["kind"])


def test_extra_columns_are_allowed(busy) -> None:
    labelled = busy.segments.assign(kind=hskit.flags.label(busy.segments["flags"]))
    assert set(labelled.hs.filter("syn-ack")["kind"]) == {"S."}


def test_a_method_on_the_wrong_table_names_the_tables_it_works_on(busy) -> None:
    with pytest.raises(SchemaError, match=r"ladder\(\) works on a segments table, not on a conn"):
        busy.connections.hs.ladder()
    with pytest.raises(SchemaError, match="works on a segments or a connections table"):
        busy.states.hs.stream(0)
    with pytest.raises(SchemaError, match="lacks the segments columns flags"):
        busy.segments.drop(columns=["flags"]).hs.filter("syn")
