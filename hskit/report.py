"""A static, self-contained HTML report of a capture that leads with what went wrong.

First the ``diagnose()`` findings, most severe first, each with its evidence,
explanation, next checks and the ladders of its most telling connections (for a SYN
flood, the half-open connections whose SYN-ACKs were retried most; see
:data:`TELLING_ORDER`); then the summary, the states over time, the load report and the
table of every problem connection. The report is ONE file that opens offline:
plotly.js's basic bundle (1.2 MB) is inlined once in the head and every figure reuses
it. Each figure sits in a ``<figure class="hskit-figure" data-kind=... data-stream=...>``
so scripts can find them.

>>> import hskit
>>> from hskit.report import write_report
>>> write_report(hskit.load("sample_pcaps/refused.pcap"), "refused.html")  # doctest: +SKIP
PosixPath('refused.html')
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hskit.diagnose.display import FINDINGS_CSS, finding_html
from hskit.schema import TERMINATION_LABELS
from hskit.timing import endpoint_text
from hskit.views.ladder import ladder_figure
from hskit.views.plot_widget import plotly_bundle
from hskit.views.summary import handshake_figure, handshake_rtt_figure, termination_figure
from hskit.views.timeline import state_counts_figure
from hskit.wording import counted

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from hskit.capture import Capture

#: terminations that mean a connection did not close cleanly with FINs.
PROBLEM_TERMINATIONS: tuple[str, ...] = tuple(
    label
    for label in TERMINATION_LABELS
    if label not in ("fin_4way", "fin_3way", "simultaneous_close")
)
#: ladders drawn per finding by default (its most telling connections).
MAX_DRAWN = 2
#: Per finding kind, what makes a connection telling: the column to rank its streams
#: by, highest first (ties: earliest stream).
TELLING_ORDER: dict[str, str] = {
    "no_answer": "syn_count",  # the most SYN retransmissions: the backoff in full
    "refused": "syn_count",  # a retried SYN refused again
    "syn_flood": "synack_count",  # half-open, the server retrying its SYN-ACK
    "slow_handshake": "handshake_time",  # the slowest
    "time_wait_pressure": "duration",
    "resets": "packets",  # the reset that cut the most traffic
    "zero_window": "packets",
    "stalled": "duration",
    "loss": "lost_s2c",  # the most segments the capture saw missing from the server
    "retransmissions": "retrans_s2c",  # the server resending the most
}
#: problem connections listed in the table by default.
MAX_LISTED = 1000

_RTT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("handshake_time", "SYN → final ACK"),
    ("rtt_syn_synack", "SYN → SYN-ACK"),
    ("rtt_synack_ack", "SYN-ACK → ACK"),
)
_PERCENTILES: tuple[float, ...] = (0.5, 0.9, 0.99)
_PROBLEM_COLUMNS: tuple[str, ...] = (
    "stream",
    "client",
    "server",
    "handshake",
    "termination",
    "conn_state",
    "history",
    "duration",
    "packets_c2s",
    "packets_s2c",
)
#: Whitespace between two tags: pandas indents its tables (a third of a long one's bytes).
_BETWEEN_TAGS = re.compile(r">\s+<")
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table.hskit-table { border-collapse: collapse; margin: 0.5em 1.5em 1em 0; font-size: 0.9em; }
table.hskit-table th, table.hskit-table td { border: 1px solid #ddd; padding: 2px 8px; }
table.hskit-table td { text-align: right; } table.hskit-table th { background: #f3f3f3; }
.hskit-row { display: flex; flex-wrap: wrap; align-items: flex-start; }
.hskit-note { color: #555; font-style: italic; }
figure.hskit-figure { margin: 0.5em 0; }
.hskit-scroll { max-height: 30em; overflow: auto; display: inline-block; }
.hskit-scroll th { position: sticky; top: 0; }
"""


def problem_mask(connections: pd.DataFrame) -> pd.Series:
    """True for connections whose handshake is not ``complete`` or that did not close cleanly.

    Not clean: ``reset``, ``fin_then_reset``, ``half_closed``, ``open`` or ``not_established``.

    >>> problem_mask(hskit.load("sample_pcaps/refused.pcap").connections).tolist()  # doctest: +SKIP
    [True]
    """
    incomplete = connections["handshake"].astype("string").ne("complete").fillna(True)
    unclean = connections["termination"].isin(PROBLEM_TERMINATIONS)
    return (incomplete | unclean).astype(bool)


def telling_streams(finding: pd.Series, connections: pd.DataFrame, count: int) -> list[int]:
    """The ``count`` most telling streams of a finding, by :data:`TELLING_ORDER`.

    >>> telling_streams(findings.iloc[0], cap.connections, 3)  # doctest: +SKIP
    [17, 4, 9]
    """
    streams = pd.Series(np.asarray(finding["streams"], dtype=np.int64))
    column = TELLING_ORDER.get(str(finding["kind"]), "stream")
    table = connections.set_index("stream")
    if column == "packets":
        score = table["packets_c2s"].astype("int64") + table["packets_s2c"].astype("int64")
    else:
        score = table[column].astype("float64") if column != "stream" else -table.index
    ranked = pd.DataFrame({"stream": streams, "score": score.reindex(streams).to_numpy()})
    ranked = ranked.sort_values(["score", "stream"], ascending=[False, True], kind="stable")
    return ranked["stream"].head(count).astype(int).tolist()


def report_html(
    cap: Capture,
    max_drawn: int = MAX_DRAWN,
    max_listed: int = MAX_LISTED,
    findings: pd.DataFrame | None = None,
) -> str:
    """The report of ``cap`` as one HTML document (plotly.js inlined once, no links out).

    Each finding (``findings``, by default ``cap.diagnose()``) gets the ladders of its
    ``max_drawn`` most telling connections; the first ``max_listed`` problem connections
    get a row in the problem table, and the report says how many more there are.

    >>> text = report_html(hskit.load("sample_pcaps/refused.pcap"))  # doctest: +SKIP
    """
    connections = cap.connections
    if findings is None:
        findings = cap.diagnose()
    problems = connections[problem_mask(connections)]
    figures = _FigureWriter()
    title = f"hskit report: {Path(cap.load_report.path).name}"
    body = [
        f"<h1>{_esc(title)}</h1>",
        f"<p class='hskit-note'>{_esc(_overview(cap, len(problems), len(findings)))}</p>",
        _findings_section(cap, findings, figures, max_drawn),
        _summary_section(connections, figures),
        _states_section(cap, figures),
        _load_section(cap),
        _problems_section(problems, figures.drawn, max_listed),
    ]
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{_esc(title)}</title>\n<style>{_STYLE}{FINDINGS_CSS}</style>\n"
        f"<script>{plotly_bundle()}</script>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def write_report(
    cap: Capture,
    path: str | os.PathLike[str],
    max_drawn: int = MAX_DRAWN,
    max_listed: int = MAX_LISTED,
    findings: pd.DataFrame | None = None,
) -> Path:
    """Write :func:`report_html` of ``cap`` to ``path`` (UTF-8) and return the path.

    >>> write_report(hskit.load("sample_pcaps/refused.pcap"), "refused.html")  # doctest: +SKIP
    PosixPath('refused.html')
    """
    target = Path(path)
    target.write_text(report_html(cap, max_drawn, max_listed, findings), encoding="utf-8")
    return target


# --------------------------------------------------------------------------- figures
@dataclass
class _FigureWriter:
    """Turns plotly figures into HTML fragments (plotly.js is in the report's head)."""

    written: int = 0
    #: streams drawn so far, in order: the problem table links to their first drawing.
    drawn: list[int] = field(default_factory=list)

    def __call__(self, figure: go.Figure, kind: str, stream: int | None = None) -> str:
        suffix = "" if stream is None else f"-{stream}-{self.written}"
        fragment = figure.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"hskit-{kind}{suffix}",
            config={"displaylogo": False},
        )
        self.written += 1
        if stream is not None and stream not in self.drawn:
            self.drawn.append(stream)
        stream_attr = "" if stream is None else f" data-stream='{stream}'"
        return f"<figure class='hskit-figure' data-kind='{kind}'{stream_attr}>{fragment}</figure>"


# --------------------------------------------------------------------------- sections
def _overview(cap: Capture, problems: int, findings: int) -> str:
    report = cap.load_report
    segments = cap.segments
    span = (segments["time"].max() - segments["time"].min()) if len(segments) else 0.0
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f"{report.path}: {counted(report.frames, 'frame')}, "
        f"{counted(report.tcp_segments, 'TCP segment')}, "
        f"{counted(len(cap.connections), 'connection')} ({problems} with problems, "
        f"{counted(findings, 'finding')}) over {span:.3f} s; "
        f"loaded with the {report.backend} backend; generated {generated}."
    )


def _summary_section(connections: pd.DataFrame, figures: _FigureWriter) -> str:
    counts = [
        _counts_table(connections[column], column)
        for column in ("handshake", "termination", "conn_state")
    ]
    parts = [
        "<h2>Summary</h2>",
        "<div class='hskit-row'>" + "".join(counts) + "</div>",
        "<div class='hskit-row'>"
        + figures(handshake_figure(connections), "handshake")
        + figures(termination_figure(connections), "termination")
        + "</div>",
        "<h3>Handshake times (ms)</h3>",
        _rtt_table(connections),
    ]
    if connections["handshake_time"].notna().any():
        parts.append(figures(handshake_rtt_figure(connections), "handshake_rtt"))
    return "\n".join(parts)


def _counts_table(labels: pd.Series, name: str) -> str:
    counts = labels.value_counts(sort=True)
    counts = counts[counts > 0]
    table = pd.DataFrame({name: counts.index.astype(str), "connections": counts.to_numpy()})
    return _table(table)


def _rtt_table(connections: pd.DataFrame) -> str:
    rows = []
    for column, meaning in _RTT_COLUMNS:
        values = connections[column].dropna() * 1000.0
        row: dict[str, object] = {"interval": meaning, "connections": len(values)}
        for q in _PERCENTILES:
            row[f"p{round(q * 100)}"] = _ms(values.quantile(q)) if len(values) else "-"
        row["max"] = _ms(values.max()) if len(values) else "-"
        rows.append(row)
    return _table(pd.DataFrame(rows))


def _load_section(cap: Capture) -> str:
    report = cap.load_report
    rows: list[tuple[str, object]] = [
        ("file", report.path),
        ("backend", report.backend),
        ("link types", ", ".join(report.link_types) or "-"),
        ("frames", report.frames),
        ("TCP segments", report.tcp_segments),
    ]
    rows += [(f"skipped: {reason}", count) for reason, count in report.skipped.items()]
    rows.append(("bytes lost at the end", report.bytes_lost))
    rows += [("note", note) for note in report.notes]
    table = pd.DataFrame(rows, columns=["item", "value"]).astype(str)
    return "<h2>Load report</h2>\n" + _table(table)


def _states_section(cap: Capture, figures: _FigureWriter) -> str:
    heading = "<h2>Endpoint states over time</h2>\n"
    if cap.states.empty:
        return heading + "<p class='hskit-note'>No TCP connections in this capture.</p>"
    capture_end = float(cap.segments["time"].max())
    counts = state_counts_figure(cap.states, capture_end=capture_end, connections=cap.connections)
    return heading + figures(counts, "state_counts")


def _findings_section(
    cap: Capture, findings: pd.DataFrame, figures: _FigureWriter, max_drawn: int
) -> str:
    parts = [f"<h2 id='findings'>Findings ({len(findings)})</h2>"]
    if findings.empty:
        parts.append("<p class='hskit-note'>diagnose() found nothing wrong.</p>")
        return "\n".join(parts)
    for _, finding in findings.iterrows():
        ladders = []
        for stream in telling_streams(finding, cap.connections, max_drawn):
            anchor = "" if stream in figures.drawn else f" id='stream-{stream}'"
            ladder = ladder_figure(
                cap.segments,
                cap.connections,
                stream,
                states=cap.states,
                max_height=560,
                clickable=False,
            )
            ladders.append(f"<div{anchor}>{figures(ladder, 'ladder', stream)}</div>")
        extra = ""
        if ladders:
            extra = "<p><b>Most telling connections:</b></p>" + "".join(ladders)
        parts.append(finding_html(finding, extra))
    return "\n".join(parts)


def _problems_section(problems: pd.DataFrame, drawn: list[int], max_listed: int) -> str:
    parts = [f"<h2>Problem connections ({len(problems)})</h2>"]
    if problems.empty:
        parts.append("<p class='hskit-note'>Every connection opened and closed cleanly.</p>")
        return "\n".join(parts)
    listed = problems.head(max_listed)
    listed = listed.assign(
        client=endpoint_text(listed["client_ip"], listed["client_port"]),
        server=endpoint_text(listed["server_ip"], listed["server_port"]),
    )
    table = _table(
        _readable(listed[list(_PROBLEM_COLUMNS)], linked=set(drawn)),
        css_id="hskit-problems",
        escape=False,
    )
    parts.append(f"<div class='hskit-scroll'>{table}</div>")
    if len(problems) > len(listed):
        parts.append(_more(len(problems) - len(listed), "listed"))
    return "\n".join(parts)


# --------------------------------------------------------------------------- helpers
def _readable(table: pd.DataFrame, linked: set[int]) -> pd.DataFrame:
    """Every cell as escaped HTML text, durations to the microsecond, NA as ``-``.

    The streams in ``linked`` link to their drawings further down.
    """
    text = table.assign(duration=table["duration"].map("{:.6f}".format)).astype("string")
    text = text.fillna("-").map(html.escape)
    streams = table["stream"].astype(int)
    is_linked = streams.isin(linked).to_numpy()
    text.loc[is_linked, "stream"] = [f"<a href='#stream-{s}'>{s}</a>" for s in streams[is_linked]]
    return text


def _table(table: pd.DataFrame, css_id: str | None = None, escape: bool = True) -> str:
    """``table`` as an HTML table, without the indentation between its tags."""
    text = table.to_html(
        index=False, classes="hskit-table", table_id=css_id, na_rep="-", border=0, escape=escape
    )
    return _BETWEEN_TAGS.sub("><", text)


def _more(count: int, verb: str) -> str:
    return f"<p class='hskit-note'>… and {count} more problem connections not {verb} here.</p>"


def _ms(value: float) -> str:
    return f"{value:.3f}"


def _esc(value: object) -> str:
    return html.escape("-" if pd.isna(value) else str(value))
