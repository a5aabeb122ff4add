"""The connections' per-direction loss counts (``retrans_c2s`` …) against tshark's own
``tcp.analysis.*`` flags counted per stream and sender, and the analysis computed once
per capture (``classify`` reads ``Capture.analysis`` instead of analysing again)."""

from __future__ import annotations

import subprocess
import sys
import tempfile

import pandas as pd
import pytest

import hskit
import hskit.diagnose.evidence
from hskit.classify.losses import COUNTED_FLAGS
from hskit.errors import SchemaError

SAMPLES = ["loss", "loss_unseen", "no_answer", "zero_window"]


def tshark_counts(tshark: str, path: str) -> pd.DataFrame:
    """Per (stream, source port), how many segments tshark gives each counted flag."""
    fields = ["tcp.stream", "tcp.srcport"] + [f"tcp.analysis.{f}" for f in COUNTED_FLAGS.values()]
    command = [tshark, "-n", "-r", path, "-Y", "tcp", "-T", "fields", "-E", "separator=\t"]
    for name in fields:
        command += ["-e", name]
    with tempfile.TemporaryDirectory() as home:
        environment = {"HOME": home, "WIRESHARK_CONFIG_DIR": home, "PATH": "/usr/bin:/bin"}
        output = subprocess.run(command, capture_output=True, text=True, env=environment).stdout
    rows = [line.split("\t") for line in output.splitlines()]
    table = pd.DataFrame(rows, columns=["stream", "port", *COUNTED_FLAGS.values()])
    marked = table[list(COUNTED_FLAGS.values())] != ""
    keys = [table["stream"].astype(int), table["port"].astype(int)]
    return marked.groupby(keys).sum()


@pytest.mark.parametrize("sample", SAMPLES)
def test_loss_counts_equal_tsharks_flags_per_direction(sample, tshark) -> None:
    path = str(hskit.samples.path(sample))
    connections = hskit.load(path).connections
    theirs = tshark_counts(tshark, path)
    checked = 0
    for row in connections.itertuples():
        for direction, port in (("c2s", row.client_port), ("s2c", row.server_port)):
            for prefix, flag in COUNTED_FLAGS.items():
                key = (int(row.stream), int(port))
                expected = int(theirs.loc[key, flag]) if key in theirs.index else 0
                assert getattr(row, f"{prefix}_{direction}") == expected, (key, flag)
                checked += expected
    assert checked > 0  # each sample shows some of them


def test_classify_with_the_analysis_given_equals_classify_alone() -> None:
    cap = hskit.load(hskit.samples.path("loss"))
    alone, states = hskit.classify(cap.segments)
    given, given_states = hskit.classify(cap.segments, analysis=cap.analysis)
    pd.testing.assert_frame_equal(alone, given)
    pd.testing.assert_frame_equal(states, given_states)


def test_a_capture_analyses_its_segments_once(monkeypatch) -> None:
    calls = []
    analyze = hskit.analysis.analyze

    def counted(segments: pd.DataFrame) -> pd.DataFrame:
        calls.append(len(segments))
        return analyze(segments)

    monkeypatch.setattr(hskit.analysis, "analyze", counted)
    monkeypatch.setattr(sys.modules["hskit.classify"], "analyze", counted)
    monkeypatch.setattr(sys.modules["hskit.diagnose"], "analyze", counted)
    cap = hskit.load(hskit.samples.path("loss"))
    _ = cap.connections, cap.analysis, cap.states
    findings = cap.diagnose()
    assert calls == [len(cap.segments)]
    assert "loss" in set(findings["kind"])  # the findings did read that analysis


def test_an_analysis_of_other_segments_is_refused() -> None:
    cap = hskit.load(hskit.samples.path("loss"))
    with pytest.raises(SchemaError, match="analysis"):
        hskit.classify(cap.segments, analysis=cap.analysis.iloc[1:])
