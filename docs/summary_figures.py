"""Draw the printable summary's pictures (docs/img/summary/*.png) from the sample captures.

Each picture is one of hskit's own figures (ladder, state timeline, state counts) for the
capture that shows a cheatsheet section, screenshotted by Debian's Chromium through
Playwright (offline: plotly.js is inlined in a temporary page). The PNGs are committed, so
the docs build does not need a browser; run this again when a figure or a capture changes::

    python docs/summary_figures.py            # every picture
    python docs/summary_figures.py ladder_rst # just these

>>> FIGURES["handshake"].capture
'close_client_first'
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go

import hskit
from hskit import views

OUT = Path(__file__).resolve().parent / "img" / "summary"
#: picture size in CSS pixels: two pictures side by side fit an A4 page's width.
WIDTH, HEIGHT = 560, 340
CHROMIUM = "/usr/bin/chromium"


@dataclass(frozen=True)
class Picture:
    """One summary picture: which capture, and how to draw it from the loaded capture."""

    capture: str
    draw: Callable[[hskit.Capture], go.Figure]


def _ladder(stream: int = 0, **options: object) -> Callable[[hskit.Capture], go.Figure]:
    return lambda cap: views.ladder_figure(cap.segments, cap.connections, stream, **options)


def _timeline(cap: hskit.Capture) -> go.Figure:
    return views.state_timeline_figure(
        cap.states, 0, segments=cap.segments, connections=cap.connections
    )


def _counts(cap: hskit.Capture) -> go.Figure:
    end = float(cap.segments["time"].max())
    return views.state_counts_figure(cap.states, capture_end=end, connections=cap.connections)


def _connections(cap: hskit.Capture) -> go.Figure:
    end = float(cap.segments["time"].max())
    return views.connections_timeline_figure(cap.states, cap.connections, capture_end=end)


#: the summary's pictures by file name (without .png), in page order.
FIGURES: dict[str, Picture] = {
    "handshake": Picture("close_client_first", _ladder(handshake_only=True)),
    "sequence_numbers": Picture("close_client_first", _ladder()),
    "close_4way": Picture("fin_4way", _ladder(handshake_only=True)),
    "time_wait": Picture("fin_4way", _timeline),
    "rst_in_flight": Picture("rst_in_flight", _ladder()),
    "refused": Picture("refused", _ladder()),
    "ecn_flags": Picture("ecn", _ladder(handshake_only=True)),
    "urgent": Picture("urgent", _ladder()),
    "no_answer": Picture("no_answer", _ladder(spacing="time")),
    "syn_flood": Picture("syn_flood", _counts),
    "port_reuse": Picture("port_reuse", _connections),
    "keepalive": Picture("keepalive", _ladder(spacing="time")),
    "tcp_fastopen": Picture("tcp_fastopen", _ladder(1)),
    "http_pooled": Picture("http_browser", _ladder(0)),
}


def page_html(figure: go.Figure) -> str:
    """A standalone page with ``figure`` at the picture size and plotly.js inlined."""
    figure = go.Figure(figure)
    figure.update_layout(width=WIDTH, height=min(HEIGHT * 2, figure.layout.height or HEIGHT))
    return figure.to_html(include_plotlyjs=True, full_html=True, config={"staticPlot": True})


def draw(names: list[str]) -> list[Path]:
    """Screenshot the pictures ``names`` into ``OUT``; returns the files written."""
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": WIDTH + 40, "height": 2 * HEIGHT + 40})
        for name in names:
            picture = FIGURES[name]
            cap = hskit.load(hskit.samples.path(picture.capture))
            html = Path(tmp) / f"{name}.html"
            html.write_text(page_html(picture.draw(cap)), encoding="utf-8")
            page.goto(html.as_uri())
            page.wait_for_selector(".main-svg")
            target = OUT / f"{name}.png"
            page.locator(".plotly-graph-div").first.screenshot(path=str(target))
            written.append(target)
            print(f"{target.relative_to(OUT.parent.parent)}: {target.stat().st_size} bytes")
        browser.close()
    return written


if __name__ == "__main__":
    chosen = sys.argv[1:] or list(FIGURES)
    unknown = [name for name in chosen if name not in FIGURES]
    if unknown:
        sys.exit(f"unknown picture(s) {unknown}; known: {', '.join(FIGURES)}")
    draw(chosen)
