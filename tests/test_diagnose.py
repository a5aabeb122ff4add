"""``diagnose`` finds each sample's problem, and nothing in the clean samples.

The expected findings of a sample come from outside hskit: the hand-derived labels of
``sample_pcaps/manifest.csv`` (handshake, termination, reset_by, 4-tuples) and
tshark's own analysis (zero-window frames, initial RTTs, retransmitted SYNs), each
put through the documented rule of the finding kind and its default threshold.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import SAMPLE_CAPTURES, SAMPLE_DIR

import hskit
import hskit.cli.diagnose_commands  # registers ``hskit diagnose`` on main
from hskit.cli import main
from hskit.diagnose import FINDING_COLUMNS, Thresholds, diagnose

DEFAULTS = Thresholds()
TUPLE = ["client_ip", "client_port", "server_ip", "server_port"]


def _manifest() -> pd.DataFrame:
    return pd.read_csv(SAMPLE_DIR / "manifest.csv", dtype=str, keep_default_na=False)


def _endpoint(ip: pd.Series, port: pd.Series) -> pd.Series:
    host = ip.where(~ip.str.contains(":"), "[" + ip + "]")
    return host + ":" + port


def _tshark(tshark: str, capture: Path, display_filter: str, fields: list[str]) -> pd.DataFrame:
    command = [tshark, "-n", "-r", str(capture), "-Y", display_filter, "-T", "fields"]
    command += ["-E", "occurrence=a", "-E", "aggregator=|"]
    for field in fields:
        command += ["-e", field]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return pd.DataFrame([line.split("\t") for line in out.splitlines()], columns=fields)


@functools.cache
def expected_findings(capture: Path, tshark: str) -> set[tuple[str, str]]:
    """(kind, endpoint) pairs the sample must yield, from the manifest and from tshark."""
    rows = _manifest()
    rows = rows[rows["file"] == capture.name].assign(
        server=lambda r: _endpoint(r["server_ip"], r["server_port"]),
        stream=lambda r: r["stream"].astype(int),
    )
    server_of = rows.set_index("stream")["server"]
    found: set[tuple[str, str]] = set()

    def add(kind: str, endpoints: pd.Series) -> None:
        found.update((kind, endpoint) for endpoint in endpoints.unique())

    add("no_answer", rows.loc[rows["handshake"] == "no_answer", "server"])
    add("refused", rows.loc[rows["handshake"] == "refused", "server"])
    half_open = rows[rows["handshake"] == "no_final_ack"].groupby("server").size()
    add("syn_flood", half_open[half_open >= DEFAULTS.flood_min_half_open].index.to_series())
    aborted = rows["termination"].isin(["reset", "fin_then_reset"]) | (
        rows["handshake"] == "reset_in_handshake"
    )
    add("resets", rows.loc[aborted, "server"])
    reused = rows[rows.duplicated(TUPLE, keep=False)]
    add("time_wait_pressure", reused["client_ip"])

    zero = _tshark(
        tshark, capture, "tcp.analysis.zero_window", ["tcp.stream", "frame.time_relative"]
    )
    zero = zero.astype({"tcp.stream": int, "frame.time_relative": float})
    add("zero_window", server_of[zero["tcp.stream"].unique()])
    add("stalled", server_of[_stalled_streams(tshark, capture)])

    rtt = _tshark(
        tshark, capture, "tcp.analysis.initial_rtt", ["tcp.stream", "tcp.analysis.initial_rtt"]
    )
    rtt = rtt.drop_duplicates("tcp.stream").astype(
        {"tcp.stream": int, "tcp.analysis.initial_rtt": float}
    )
    complete = rows.loc[rows["handshake"] == "complete", "stream"]
    rtt = rtt[rtt["tcp.stream"].isin(complete)].set_index("tcp.stream")["tcp.analysis.initial_rtt"]
    servers = server_of[rtt.index]
    median = rtt.groupby(servers.to_numpy()).transform("median")
    outlier = (rtt > DEFAULTS.slow_factor * median) & (rtt > DEFAULTS.slow_outlier_min)
    retried = _tshark(
        tshark, capture, "tcp.flags.syn == 1 && tcp.analysis.retransmission", ["tcp.stream"]
    )["tcp.stream"].astype(int)
    slow = rtt.index[(rtt > DEFAULTS.slow_handshake_time) | outlier].union(
        retried[retried.isin(complete)]
    )
    add("slow_handshake", server_of[slow])
    found.update(_loss_findings(tshark, capture, rows))
    return found


def _loss_findings(tshark: str, capture: Path, rows: pd.DataFrame) -> set[tuple[str, str]]:
    """``retransmissions`` and ``loss`` from tshark's analysis flags, per server and
    direction, with the default thresholds."""
    sides = _transfer_sides(tshark, capture, rows)
    rate = sides["resent"] / sides["payload"].clip(lower=1)
    hit = (sides["resent"] >= DEFAULTS.retransmission_min) & (rate >= DEFAULTS.retransmission_rate)
    found = {("retransmissions", server) for server, _ in hit[hit].index}
    losses = sides["lost"]
    found.update(("loss", server) for server, _ in losses[losses >= DEFAULTS.loss_min_events].index)
    return found


def _transfer_frames(tshark: str, capture: Path, rows: pd.DataFrame) -> pd.DataFrame:
    """Per frame of the manifest's streams, from tshark's analysis flags: its stream,
    server, whether the client sent it (``by_client``), whether it was ``resent``
    (payload or FIN, not a SYN), carries ``payload``, and is a sign of ``lost`` data of
    its direction; ACKs of unseen segments are rows of the other direction."""
    flags = ["retransmission", "lost_segment", "ack_lost_segment", "fast_retransmission"]
    fields = ["tcp.stream", "tcp.srcport", "tcp.flags.syn", "tcp.len"]
    frames = _tshark(tshark, capture, "tcp", fields + [f"tcp.analysis.{f}" for f in flags])
    frames = frames[frames["tcp.stream"].astype(int).isin(rows["stream"])]
    stream = frames["tcp.stream"].astype(int)
    client_port = rows.set_index("stream")["client_port"]
    by_client = (frames["tcp.srcport"] == client_port.reindex(stream).to_numpy()).to_numpy()
    marked = {f: (frames[f"tcp.analysis.{f}"] != "").to_numpy() for f in flags}
    not_syn = (frames["tcp.flags.syn"].str.split("|").str[0] != "1").to_numpy()
    table = pd.DataFrame({
        "stream": stream.to_numpy(),
        "server": rows.set_index("stream")["server"].reindex(stream).to_numpy(),
        "by_client": by_client,
        "resent": marked["retransmission"] & not_syn,
        "payload": (frames["tcp.len"].str.split("|").str[0].astype(int) > 0).to_numpy(),
        "lost": marked["lost_segment"] | marked["fast_retransmission"],
    })  # fmt: skip
    acked_unseen = table.assign(
        by_client=~by_client, resent=False, payload=False, lost=marked["ack_lost_segment"]
    )
    return pd.concat([table, acked_unseen], ignore_index=True)


def _transfer_sides(tshark: str, capture: Path, rows: pd.DataFrame) -> pd.DataFrame:
    """Per server and direction: resent, payload and lost frames (:func:`_transfer_frames`)."""
    frames = _transfer_frames(tshark, capture, rows)
    return frames.groupby(["server", "by_client"])[["resent", "payload", "lost"]].sum()


def _stalled_streams(tshark: str, capture: Path) -> list[int]:
    """Streams with a gap longer than ``stall_time`` between frames carrying new data
    (payload, not a retransmission in tshark's analysis) in which a zero-window segment or
    a retransmission (tshark's expert info) shows that a side was still trying.
    """
    frames = _tshark(
        tshark,
        capture,
        "tcp && !icmp && !icmpv6",
        ["tcp.stream", "frame.time_relative", "tcp.len", "tcp.flags.syn", "_ws.expert.message"],
    )
    stream = frames["tcp.stream"].astype(int)
    message = frames["_ws.expert.message"].str.lower()
    retransmission = message.str.contains("retransmission")
    progress = (frames["tcp.len"].astype(int) > 0) & ~retransmission
    trying = (message.str.contains("zero window") | retransmission) & (
        frames["tcp.flags.syn"].str.split("|").str[0] != "1"
    )
    gaps = pd.DataFrame(
        {
            "stream": stream,
            "gap": progress.groupby(stream).cumsum(),
            "time": frames["frame.time_relative"].astype(float),
            "trying": trying,
        }
    ).groupby(["stream", "gap"], sort=True)
    table = gaps.agg(start=("time", "first"), last=("time", "last"), trying=("trying", "sum"))
    table = table.reset_index()
    end = table.groupby("stream")["start"].shift(-1).fillna(table["last"])
    stalled = table[(end - table["start"] > DEFAULTS.stall_time) & (table["trying"] > 0)]
    return sorted(stalled["stream"].unique())


def _findings(capture: Path) -> pd.DataFrame:
    cap = hskit.load(capture)
    return diagnose(cap.segments, cap.connections, cap.states)


@pytest.mark.parametrize("capture", SAMPLE_CAPTURES, ids=lambda path: path.name)
def test_transfer_findings_quote_tsharks_counts_per_direction_and_worst_stream(
    capture: Path, tshark: str
) -> None:
    """The evidence of ``retransmissions`` and ``loss`` (thresholds lowered so that any
    marked segment is a finding): per direction, the marked and payload segments and the
    stream with the most marked ones (the lowest number among equals), from tshark."""
    cap = hskit.load(capture)
    findings = diagnose(
        cap.segments, cap.connections, cap.states,
        retransmission_min=1, retransmission_rate=0.0, loss_min_events=1,
    )  # fmt: skip
    rows = _manifest()
    rows = rows[rows["file"] == capture.name].assign(
        server=lambda r: _endpoint(r["server_ip"], r["server_port"]),
        stream=lambda r: r["stream"].astype(int),
    )
    frames = _transfer_frames(tshark, capture, rows)
    for kind, column, what in [("retransmissions", "resent", "retransmitted"),
                               ("loss", "lost", "signs of loss")]:  # fmt: skip
        per_stream = frames.groupby(["server", "by_client", "stream"])[[column, "payload"]].sum()
        expected = {}
        for server, of_server in per_stream.groupby(level="server"):
            parts = []
            for label, by_client in [("client→server", True), ("server→client", False)]:
                side = of_server.xs(by_client, level="by_client")
                if side.empty or side[column].sum() == 0:
                    continue
                marked, payload = int(side[column].sum()), int(side["payload"].sum())
                worst = side.reset_index().sort_values([column, "stream"], ascending=[False, True])
                parts.append(
                    f"{label}: {marked} {what} in {payload} payload segments "
                    f"({marked / max(payload, 1) * 100:.1f} %), worst stream "
                    f"{worst['stream'].iloc[0]} ({worst[column].iloc[0]})"
                )
            if parts:
                expected[server] = "; ".join(parts)
        found = findings[findings["kind"] == kind]
        evidence = dict(
            zip(found["endpoint"].astype(str), found["evidence"].astype(str), strict=True)
        )
        assert {server: text.split(" (segments after")[0] for server, text in evidence.items()} == (
            expected
        )


@pytest.mark.parametrize("capture", SAMPLE_CAPTURES, ids=lambda path: path.name)
def test_each_sample_yields_exactly_the_findings_its_labels_imply(
    capture: Path, tshark: str
) -> None:
    findings = _findings(capture)
    found = set(zip(findings["kind"].astype(str), findings["endpoint"].astype(str), strict=True))
    assert found == expected_findings(capture, tshark)


def test_clean_samples_exist_and_problem_samples_exist(tshark: str) -> None:
    """Guards the test above: both kinds of sample are really there."""
    verdicts = [bool(expected_findings(capture, tshark)) for capture in SAMPLE_CAPTURES]
    assert any(verdicts) and not all(verdicts)


def test_findings_table_follows_its_schema_and_streams_are_real() -> None:
    capture = SAMPLE_DIR / "syn_flood.pcap"
    cap = hskit.load(capture)
    findings = diagnose(cap.segments, cap.connections, cap.states)
    assert tuple(findings.columns) == FINDING_COLUMNS
    assert (findings["count"] == findings["streams"].map(len)).all()
    for streams in findings["streams"]:
        assert set(streams) <= set(cap.connections["stream"].astype(int))
    assert (findings["first_time"] <= findings["last_time"]).all()


def test_a_higher_threshold_silences_the_syn_flood() -> None:
    cap = hskit.load(SAMPLE_DIR / "syn_flood.pcap")
    rows = _manifest()
    half_open = int(
        ((rows["file"] == "syn_flood.pcap") & (rows["handshake"] == "no_final_ack")).sum()
    )
    quiet = diagnose(cap.segments, cap.connections, cap.states, flood_min_half_open=half_open + 1)
    loud = diagnose(cap.segments, cap.connections, cap.states, flood_min_half_open=half_open)
    assert "syn_flood" not in set(quiet["kind"])
    assert "syn_flood" in set(loud["kind"])


def test_unknown_threshold_is_a_type_error_naming_the_known_ones() -> None:
    cap = hskit.load(SAMPLE_CAPTURES[0])
    with pytest.raises(TypeError, match="stall_time"):
        diagnose(cap.segments, cap.connections, cap.states, stall_seconds=3)


def _manifest_server(file: str, handshake: str) -> str:
    rows = _manifest()
    rows = rows[(rows["file"] == file) & (rows["handshake"] == handshake)]
    return _endpoint(rows["server_ip"], rows["server_port"]).iloc[0]


@pytest.mark.parametrize(("file", "handshake", "kind"), [
    ("syn_flood.pcap", "no_final_ack", "syn_flood"),
    ("no_answer.pcap", "no_answer", "no_answer"),
])  # fmt: skip
def test_cli_prints_the_finding_and_the_server(file: str, handshake: str, kind: str) -> None:
    result = CliRunner().invoke(main, ["diagnose", str(SAMPLE_DIR / file)])
    assert result.exit_code == 0, result.output
    assert kind in result.output
    assert _manifest_server(file, handshake) in result.output


def test_cli_says_no_findings_on_a_clean_sample() -> None:
    result = CliRunner().invoke(main, ["diagnose", str(SAMPLE_DIR / "close_client_first.pcap")])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "no findings"


def test_cli_json_and_csv_carry_the_same_findings() -> None:
    path = str(SAMPLE_DIR / "no_answer.pcap")
    as_json = json.loads(CliRunner().invoke(main, ["diagnose", path, "--format", "json"]).output)
    as_csv = CliRunner().invoke(main, ["diagnose", path, "--format", "csv"]).output
    header, *rows = csv.reader(io.StringIO(as_csv))
    assert header == list(FINDING_COLUMNS)
    assert [record["kind"] for record in as_json] == [row[0] for row in rows]
    assert [record["next_checks"] for record in as_json] == [row[-1] for row in rows]
    assert all(isinstance(record["streams"], list) for record in as_json)


def test_cli_threshold_option_reaches_diagnose() -> None:
    path = str(SAMPLE_DIR / "syn_flood.pcap")
    result = CliRunner().invoke(main, ["diagnose", path, "-t", "flood_min_half_open=100000"])
    assert "syn_flood" not in result.output
    bad = CliRunner().invoke(main, ["diagnose", path, "-t", "no_such=1"])
    assert bad.exit_code != 0 and "stall_time" in bad.output


def test_time_wait_held_by_the_client_fills_a_tiny_port_range() -> None:
    """Every connection the client closed first puts it in TIME_WAIT (manifest: closer)."""
    rows = _manifest()
    rows = rows[(rows["file"] == "close_client_first.pcap") & (rows["closer"] == "client")]
    cap = hskit.load(SAMPLE_DIR / "close_client_first.pcap")
    ports = (40000, 40000 + len(rows) - 1)
    findings = diagnose(
        cap.segments, cap.connections, cap.states, ephemeral_ports=ports, time_wait_fraction=1.0
    )
    (finding,) = findings[findings["kind"] == "time_wait_pressure"].itertuples()
    assert finding.endpoint == rows["client_ip"].iloc[0]
    assert finding.severity == "critical"
    assert f"peak {len(rows)} of the client's connections" in finding.evidence


@pytest.mark.parametrize(
    ("file", "fail_on", "status"),
    [
        ("syn_flood.pcap", "critical", 3),  # manifest: 200 half-open, a critical flood
        ("syn_flood.pcap", "warning", 3),
        ("close_client_first.pcap", "warning", 0),  # clean sample: no findings
    ],
)
def test_cli_fail_on_exits_3_when_a_finding_reaches_that_severity(file, fail_on, status):
    result = CliRunner().invoke(main, ["diagnose", str(SAMPLE_DIR / file), "--fail-on", fail_on])
    assert result.exit_code == status, result.output
    assert result.output.strip()  # the findings are printed first


def test_cli_fail_on_critical_passes_a_capture_with_warnings_only():
    """refused.pcap: the refused server also completes no handshake -> critical; so use
    busy_server's findings to find a warning-only case from diagnose's own severities."""
    cap = hskit.load(SAMPLE_DIR / "slow_handshake.pcap")
    severities = set(diagnose(cap.segments, cap.connections, cap.states)["severity"].astype(str))
    assert severities == {"warning"}
    path = str(SAMPLE_DIR / "slow_handshake.pcap")
    assert CliRunner().invoke(main, ["diagnose", path, "--fail-on", "critical"]).exit_code == 0
    assert CliRunner().invoke(main, ["diagnose", path, "--fail-on", "warning"]).exit_code == 3


def test_backoff_is_claimed_only_from_two_doubling_intervals(tshark: str) -> None:
    """tshark's retransmitted SYNs: no_answer.pcap doubles (1, 2, 4 s); busy_server's
    unanswered clients retry once (a single interval proves no backoff)."""
    for file, claims in (("no_answer.pcap", True), ("busy_server.pcap.gz", False)):
        retried = _tshark(tshark, SAMPLE_DIR / file,
                          "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.analysis.retransmission",
                          ["tcp.stream"])  # fmt: skip
        per_stream = retried["tcp.stream"].value_counts()
        assert (per_stream.max() >= 2) == claims
        finding = _findings(SAMPLE_DIR / file).query("kind == 'no_answer'").iloc[0]
        assert ("exponential backoff" in finding.explanation) == claims


def test_syn_flood_evidence_counts_cookie_signs_without_contradiction() -> None:
    """README: the server sent SYN cookies (TcpExtSyncookiesSent=192); with timestamps
    on, a cookie keeps the options, so no 'without the options' claim appears."""
    finding = _findings(SAMPLE_DIR / "syn_flood.pcap").query("kind == 'syn_flood'").iloc[0]
    assert "SYN cookies: " in finding.evidence
    assert "without the options" not in finding.evidence
    assert "no sign of SYN cookies" not in finding.evidence


@pytest.mark.parametrize("file", ["no_answer.pcap", "syn_flood.pcap", "busy_server.pcap.gz"])
def test_findings_table_shows_every_finding_whole_in_jupyter(file: str) -> None:
    """What notebook 08 displays: each finding's evidence and explanation uncut, and its
    next checks one command a line in a <pre> (no literal "\\n", no "…" that the
    findings themselves do not hold)."""
    from html.parser import HTMLParser

    from hskit.diagnose import findings_table

    findings = _findings(SAMPLE_DIR / file)
    shown = findings_table(findings)._repr_html_()

    class Blocks(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.pre: list[str] = []
            self.text: list[str] = []
            self._in_pre = False

        def handle_starttag(self, tag: str, attrs: object) -> None:
            self._in_pre = self._in_pre or tag == "pre"
            if tag == "pre":
                self.pre.append("")

        def handle_endtag(self, tag: str) -> None:
            self._in_pre = self._in_pre and tag != "pre"

        def handle_data(self, data: str) -> None:
            self.text.append(data)
            if self._in_pre:
                self.pre[-1] += data

    blocks = Blocks()
    blocks.feed(shown)
    text = "".join(blocks.text)
    assert len(findings) >= 1
    assert blocks.pre == findings["next_checks"].astype(str).tolist()
    for _, finding in findings.iterrows():
        assert str(finding["evidence"]) in text and str(finding["explanation"]) in text
    assert "\\n" not in text
    assert text.count("…") == sum(
        str(finding[column]).count("…")
        for _, finding in findings.iterrows()
        for column in ("evidence", "explanation", "next_checks")
    ) + sum(len(streams) > 30 for streams in findings["streams"])
