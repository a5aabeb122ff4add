"""The static HTML report: findings first with their telling ladders, every problem listed.

The expected problem connections are computed here from ``cap.connections`` with the
definition spelled out (handshake not complete, or a termination other than a clean
FIN close), independently of :func:`hskit.report.problem_mask`; the report's HTML is
parsed, not searched for substrings of its own making.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from browser.chromium import chromium_path, offline_chromium, require_playwright
from click.testing import CliRunner
from conftest import ALL_CAPTURES, REPO, SAMPLE_DIR

import hskit
import hskit.cli.report_commands  # registers `hskit report` on the group
from hskit.capture import Capture, LoadReport
from hskit.cli import main
from hskit.report import report_html, write_report
from hskit.schema import empty_segments

UNCLEAN_ENDS = {"reset", "fin_then_reset", "half_closed", "open", "not_established"}
BUSY = SAMPLE_DIR / "busy_server.pcap.gz"
REPORT_SCREENSHOT = REPO / "artifacts" / "report.png"


def expected_problem_streams(connections: pd.DataFrame) -> list[int]:
    handshake = connections["handshake"].astype(object)
    termination = connections["termination"].astype(object)
    problem = (handshake != "complete") | termination.isin(UNCLEAN_ENDS)
    return [int(stream) for stream in connections.loc[problem, "stream"]]


class ReportParser(HTMLParser):
    """Scripts, figures, links and tables (as rows of cell texts) of a report."""

    def __init__(self) -> None:
        super().__init__()
        self.script_srcs: list[str] = []
        self.inline_scripts: list[str] = []
        self.urls: list[str] = []
        self.figures: list[tuple[str, int | None]] = []
        self.graph_divs = 0
        self.tables: dict[str, list[list[str]]] = {}
        self._in_script = False
        self._rows: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in ("src", "href"):
            if attributes.get(name):
                self.urls.append(str(attributes[name]))
        css = attributes.get("class") or ""
        if tag == "script":
            self._in_script = True
            if "src" in attributes:
                self.script_srcs.append(str(attributes["src"]))
            self.inline_scripts.append("")
        elif tag == "figure" and "hskit-figure" in css:
            stream = attributes.get("data-stream")
            kind = str(attributes["data-kind"])
            self.figures.append((kind, None if stream is None else int(stream)))
        elif tag == "div" and "plotly-graph-div" in css:
            self.graph_divs += 1
        elif tag == "table":
            self._rows = []
            self.tables[attributes.get("id") or f"table-{len(self.tables)}"] = self._rows
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False
        elif tag == "table":
            self._rows = None
        elif tag in ("td", "th") and self._rows is not None and self._cell is not None:
            self._rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_scripts[-1] += data
        elif self._cell is not None:
            self._cell.append(data)

    def table(self, first_header: str) -> pd.DataFrame:
        """The table whose first column is ``first_header``, cells as text."""
        for header, *rows in self.tables.values():
            if header and header[0] == first_header:
                return pd.DataFrame(rows, columns=header)
        raise AssertionError(f"no table with a {first_header!r} column")

    @property
    def problem_streams(self) -> list[int]:
        """Streams listed in the problem table, in order (none when it is absent)."""
        header, *rows = self.tables.get("hskit-problems", [["stream"]])
        return [int(row[header.index("stream")]) for row in rows]


def parse(text: str) -> ReportParser:
    parser = ReportParser()
    parser.feed(text)
    return parser


def expected_figures(cap: hskit.Capture, findings: pd.DataFrame, per_finding: int):
    """The figures the report must hold: the summary's, the counts, and per finding the
    ladders of ``per_finding`` of its own streams."""
    figures: Counter[tuple[str, int | None]] = Counter(
        {("handshake", None): 1, ("termination", None): 1}
    )
    if cap.connections["handshake_time"].notna().any():
        figures[("handshake_rtt", None)] = 1
    if len(cap.states):
        figures[("state_counts", None)] = 1
    ladders = sum(min(per_finding, len(streams)) for streams in findings["streams"])
    return figures, ladders


def check_figures(report: ReportParser, cap, findings, per_finding: int) -> None:
    figures, ladders = expected_figures(cap, findings, per_finding)
    drawn = Counter(report.figures)
    ladder_streams = [stream for kind, stream in report.figures if kind == "ladder"]
    assert len(ladder_streams) == ladders
    assert Counter({k: v for k, v in drawn.items() if k[0] != "ladder"}) == figures
    every_finding_stream = {int(s) for streams in findings["streams"] for s in streams}
    assert set(ladder_streams) <= every_finding_stream


@pytest.mark.parametrize("capture", ALL_CAPTURES, ids=lambda path: path.name)
def test_report_lists_every_problem_connection_and_draws_each_findings_ladders(
    capture: Path,
) -> None:
    cap = hskit.load(capture, progress=False)
    problems = expected_problem_streams(cap.connections)
    findings = cap.diagnose()
    text = report_html(cap, max_drawn=2)
    report = parse(text)

    assert report.problem_streams == problems
    check_figures(report, cap, findings, 2)
    assert report.graph_divs == len(report.figures)


@pytest.fixture(scope="module")
def busy() -> hskit.Capture:
    """The busy server capture: thousands of connections, hundreds of them with problems."""
    return hskit.load(BUSY, progress=False)


@pytest.fixture(scope="module")
def busy_report(busy: hskit.Capture) -> str:
    """The busy server's report with the default limits."""
    return report_html(busy)


def test_report_is_one_offline_file_with_plotly_inlined_once(busy_report: str) -> None:
    report = parse(busy_report)

    assert report.script_srcs == []
    assert not [url for url in report.urls if url.startswith(("http:", "https:", "//"))]
    bundles = [script for script in report.inline_scripts if "plotly.js (basic" in script[:300]]
    assert len(bundles) == 1
    first_figure_script = next(
        i for i, script in enumerate(report.inline_scripts) if "Plotly.newPlot" in script
    )
    assert report.inline_scripts.index(bundles[0]) < first_figure_script


def test_report_of_the_busy_server_fits_its_size_budget(busy_report: str, figures) -> None:
    size = len(busy_report.encode("utf-8"))
    figures(f"busy_server report: {size / 1e6:.2f} MB (budget 2 MB), one plotly.js bundle")
    assert size <= 2_000_000


def test_report_leads_with_the_findings_most_severe_first(
    busy: hskit.Capture, busy_report: str
) -> None:
    findings = busy.diagnose()
    assert len(findings) > 1
    sections = re.findall(r"<section class='hskit-finding' data-kind='(\w+)' "
                          r"data-severity='(\w+)'", busy_report)  # fmt: skip
    assert sections == list(zip(findings["kind"].astype(str), findings["severity"].astype(str),
                                strict=True))  # fmt: skip
    assert busy_report.index("hskit-finding") < busy_report.index("<h2>Summary</h2>")
    for finding in findings.itertuples():
        assert html.escape(finding.evidence) in busy_report
        assert html.escape(finding.next_checks) in busy_report  # newlines kept, in a <pre>


def test_syn_flood_ladders_are_the_floods_half_open_connections() -> None:
    """syn_flood.pcap: the manifest's half-open (no_final_ack) streams; the ladders drawn
    for the flood are among them, the retried SYN-ACKs (synack_count > 1) first."""
    manifest = pd.read_csv(SAMPLE_DIR / "manifest.csv")
    rows = manifest.loc[manifest["file"] == "syn_flood.pcap"]
    half_open = set(rows.loc[rows["handshake"] == "no_final_ack", "stream"].astype(int))
    cap = hskit.load(SAMPLE_DIR / "syn_flood.pcap", progress=False)
    report = parse(report_html(cap, max_drawn=3))
    drawn = [stream for kind, stream in report.figures if kind == "ladder"]
    assert len(drawn) == 3 and set(drawn) <= half_open
    synacks = cap.connections.set_index("stream")["synack_count"]
    assert (synacks.loc[drawn] > 1).all()


def test_report_table_stops_at_max_listed_and_says_how_many_more(busy: hskit.Capture) -> None:
    problems = expected_problem_streams(busy.connections)
    text = report_html(busy, max_drawn=0, max_listed=5)

    assert parse(text).problem_streams == problems[:5]
    assert f"… and {len(problems) - 5} more problem connections not listed here." in text


def test_report_summary_counts_match_the_connections_table(
    busy: hskit.Capture, busy_report: str
) -> None:
    report = parse(busy_report)
    for column in ("handshake", "termination", "conn_state"):
        shown = report.table(column).set_index(column)["connections"].astype(int).to_dict()
        truth = busy.connections[column].astype(object).value_counts().to_dict()
        assert shown == {str(label): count for label, count in truth.items()}


def test_handshake_percentiles_are_those_of_the_complete_handshakes(
    busy: hskit.Capture, busy_report: str
) -> None:
    rtt = parse(busy_report).table("interval").set_index("interval")
    millis = busy.connections["handshake_time"].dropna().to_numpy() * 1000
    row = rtt.loc["SYN → final ACK"]
    assert int(row["connections"]) == len(millis)
    assert float(row["p50"]) == pytest.approx(float(np.median(millis)), abs=5e-4)
    assert float(row["max"]) == pytest.approx(float(millis.max()), abs=5e-4)


def test_drawn_problems_are_linked_from_the_table(busy: hskit.Capture, busy_report: str) -> None:
    report = parse(busy_report)
    drawn = list(dict.fromkeys(stream for kind, stream in report.figures if kind == "ladder"))
    problems = set(expected_problem_streams(busy.connections))
    links = [url for url in report.urls if url.startswith("#stream-")]
    assert links == [f"#stream-{stream}" for stream in report.problem_streams if stream in drawn]
    assert all(f"id='stream-{stream}'" in busy_report for stream in drawn if stream in problems)


def test_capture_without_tcp_reports_no_connections_and_no_state_figure() -> None:
    load_report = LoadReport("udp-only.pcap", "native", frames=3, tcp_segments=0)
    load_report.skipped["not_tcp"] = 3
    text = report_html(Capture(empty_segments(), load_report))
    report = parse(text)

    assert report.problem_streams == []
    assert Counter(kind for kind, _ in report.figures) == {"handshake": 1, "termination": 1}
    assert "diagnose() found nothing wrong." in text
    assert "No TCP connections in this capture." in text
    assert report.table("item").set_index("item").loc["skipped: not_tcp", "value"] == "3"


def test_text_from_the_capture_is_escaped() -> None:
    load_report = LoadReport("<b>x</b>.pcap", "native", frames=0, tcp_segments=0)
    load_report.notes.append("<script>alert(1)</script>")
    text = report_html(Capture(empty_segments(), load_report))

    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<b>x</b>" not in text


def test_write_report_writes_what_report_html_returns(tmp_path: Path) -> None:
    cap = hskit.load(SAMPLE_DIR / "refused.pcap", progress=False)
    path = write_report(cap, tmp_path / "refused.html", max_drawn=1)
    report = parse(path.read_text(encoding="utf-8"))
    assert report.problem_streams == expected_problem_streams(cap.connections)
    check_figures(report, cap, cap.diagnose(), 1)


def test_report_opens_offline_in_chromium_and_draws_every_figure(
    tmp_path: Path, busy: hskit.Capture, figures
) -> None:
    require_playwright()
    chromium_path()
    path = write_report(busy, tmp_path / "busy.html")
    expected = len(parse(path.read_text(encoding="utf-8")).figures)

    with offline_chromium(tmp_path / "profile", height=1200) as (context, blocked):
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(path.as_uri())
        page.wait_for_function(
            f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {expected}",
            timeout=60_000,
        )
        paint = page.evaluate(
            "() => Object.fromEntries(performance.getEntriesByType('paint')"
            ".map(e => [e.name, e.startTime]))"
        )
        drawn_ms = page.evaluate("() => performance.now()")
        drawn = page.locator("figure.hskit-figure .js-plotly-plot").count()
        REPORT_SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(REPORT_SCREENSHOT), full_page=True)

    figures(
        f"busy_server report in Chromium: first contentful paint "
        f"{paint.get('first-contentful-paint', float('nan')):.0f} ms, every figure drawn by "
        f"{drawn_ms:.0f} ms (machine load varies; budget 2 s to first paint)"
    )
    assert drawn == expected
    assert errors == []
    assert blocked == []


# --------------------------------------------------------------------------- CLI
def test_report_command_writes_the_report_and_counts_problems(
    tmp_path: Path, busy: hskit.Capture
) -> None:
    output = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", str(BUSY), "-o", str(output), "--max-drawn", "1"])
    problems = expected_problem_streams(busy.connections)
    findings = busy.diagnose()

    assert result.exit_code == 0, result.output
    assert result.output == (
        f"wrote {output}: {len(busy.connections)} connections, {len(problems)} with problems; "
        f"{len(findings)} findings\n"
    )
    assert parse(output.read_text(encoding="utf-8")).problem_streams == problems


@pytest.mark.parametrize(
    ("make_input", "error"),
    [
        (lambda folder: folder / "missing.pcap", "CaptureNotFound"),
        (lambda folder: _text_file(folder / "notes.pcap"), "NotACapture"),
    ],
    ids=["missing-file", "not-a-capture"],
)
def test_report_command_on_bad_input_is_a_one_line_error(
    tmp_path: Path, make_input: object, error: str
) -> None:
    source = make_input(tmp_path)  # type: ignore[operator]
    result = CliRunner().invoke(main, ["report", str(source), "-o", str(tmp_path / "r.html")])

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {error}: ")
    assert result.output.count("\n") == 1
    assert not (tmp_path / "r.html").exists()


def test_report_command_into_a_missing_folder_is_a_one_line_error(tmp_path: Path) -> None:
    output = tmp_path / "no" / "such" / "folder" / "r.html"
    result = CliRunner().invoke(
        main, ["report", str(SAMPLE_DIR / "refused.pcap"), "-o", str(output)]
    )

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot write {output}: ")
    assert result.output.count("\n") == 1


def _text_file(path: Path) -> Path:
    path.write_text("not a packet capture\n")
    return path
