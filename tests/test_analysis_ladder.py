"""The ladder shows Wireshark's analysis as its Info column does: the prefixes (compared
with tshark's own Info column), the calculated window, a SYN's options, and a distinct
line style with its legend entry for analysed segments."""

from __future__ import annotations

import subprocess
import tempfile

import pytest

import hskit
from hskit.views import ladder_figure
from hskit.views.ladder import ANALYSIS_DASH

SAMPLES = ["no_answer", "loss", "loss_unseen", "zero_window", "keepalive", "port_reuse"]


def labels(figure) -> dict[int, str]:
    return {
        int(frame): text
        for trace in figure.data
        if trace.meta and trace.meta.get("role") == "segments"
        for frame, text in zip(trace.customdata, trace.text, strict=True)
    }


def tshark_prefixes(tshark: str, path: str) -> dict[int, str]:
    """The ``[TCP …]`` prefixes of tshark's Info column, by frame."""
    command = [tshark, "-n", "-r", path, "-Y", "tcp", "-T", "fields"]
    command += ["-e", "frame.number", "-e", "_ws.col.Info"]
    with tempfile.TemporaryDirectory() as home:
        environment = {"HOME": home, "WIRESHARK_CONFIG_DIR": home, "PATH": "/usr/bin:/bin"}
        output = subprocess.run(command, capture_output=True, text=True, env=environment).stdout
    result = {}
    for line in output.splitlines():
        frame, info = line.split("\t", 1)
        parts = []
        while info.startswith("[TCP "):
            end = info.index("] ") + 1
            parts.append(info[:end])
            info = info[end + 1 :]
        result[int(frame)] = " ".join(parts)
    return result


@pytest.mark.parametrize("sample", SAMPLES)
def test_ladder_prefixes_equal_tsharks_info_column(sample, tshark) -> None:
    path = str(hskit.samples.path(sample))
    cap = hskit.load(path)
    expected = tshark_prefixes(tshark, path)
    for stream in cap.connections["stream"]:
        figure = ladder_figure(
            cap.segments, cap.connections, int(stream), analysis=cap.analysis,
            frames=slice(None),
        )  # fmt: skip
        for frame, text in labels(figure).items():
            assert _prefix(text) == expected[frame], (frame, text)


def _prefix(label: str) -> str:
    """The ``[TCP …]`` parts at the start of a ladder label."""
    parts = []
    while label.startswith("[TCP "):
        end = label.index("] ") + 1
        parts.append(label[:end])
        label = label[end + 1 :]
    return " ".join(parts)


def test_no_answer_ladder_marks_the_repeated_syns_and_shows_syn_options() -> None:
    cap = hskit.load(hskit.samples.path("no_answer"))
    texts = list(labels(ladder_figure(cap.segments, cap.connections, 0)).values())
    assert texts[0] == "[SYN] Seq=0 Win=64240 MSS=1460 SACK_PERM WS=1024"
    assert texts[1:] == ["[TCP Retransmission] " + texts[0]] * 3


def test_labels_show_the_calculated_window_not_the_raw_field() -> None:
    cap = hskit.load(hskit.samples.path("close_client_first"))
    rows = cap.segments[cap.segments["stream"] == 0]
    after_syns = rows[(rows["flags"] & hskit.schema.SYN) == 0].iloc[0]
    shift = int(cap.connections.loc[0, "wscale_client"])
    texts = labels(ladder_figure(cap.segments, cap.connections, 0))
    text = texts[int(after_syns["frame"])]
    assert f" Win={int(after_syns['win']) << shift}" in text
    assert f" Win={int(after_syns['win'])} " not in text + " "


def test_analysed_segments_get_a_dotted_overlay_with_a_legend_entry() -> None:
    cap = hskit.load(hskit.samples.path("loss"))
    figure = ladder_figure(cap.segments, cap.connections, 0, frames=slice(None))
    (overlay,) = [t for t in figure.data if t.meta and t.meta.get("role") == "analysis"]
    flagged = cap.analysis[list(hskit.schema.ANALYSIS_FLAGS)].any(axis=1).sum()
    assert overlay.line.dash == ANALYSIS_DASH and overlay.showlegend is not False
    assert overlay.name == f"TCP analysis flags ({flagged})"
    clean = hskit.load(hskit.samples.path("close_client_first"))
    figure = ladder_figure(clean.segments, clean.connections, 0)
    assert not [t for t in figure.data if t.meta and t.meta.get("role") == "analysis"]


@pytest.mark.parametrize("sample", ["port_reuse", "no_answer", "loss"])
def test_ladder_widget_prefixes_equal_tsharks_info_column(sample, tshark) -> None:
    """The widget draws with the capture's analysis: every prefix tshark shows, the reused
    ports too (which the analysis of one stream alone cannot know)."""
    from hskit.views.widgets import LadderWidget

    path = str(hskit.samples.path(sample))
    cap = hskit.load(path)
    expected = tshark_prefixes(tshark, path)
    view = LadderWidget(cap, picker=False)
    shown = []
    for stream in cap.connections["stream"]:
        view.show(int(stream))
        shown += [(frame, _prefix(text)) for frame, text in labels(view.figure).items()]
    assert shown == [(frame, expected[frame]) for frame, _ in shown]
    assert any(prefix for _, prefix in shown)
    if sample == "port_reuse":
        assert any("[TCP Port numbers reused]" in prefix for _, prefix in shown)
