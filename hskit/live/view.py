"""``live.view()``: a JupyterLab widget that follows a live capture.

Five parts, redrawn by a background thread when a new ring file has been loaded
(checked every ``refresh`` seconds, so the kernel stays free): connections by state
now, new connections per second by handshake outcome, handshake time percentiles
over a sliding window, the findings with the time they fired, and the latest
connections, where choosing one opens its ladder.

>>> live = hskit.live("lo", bpf="tcp port 8080")  # doctest: +SKIP
>>> live.view()  # doctest: +SKIP
"""

from __future__ import annotations

import html
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

from hskit.live.capture import FINDINGS_EVERY
from hskit.live.figures import new_connections_figure, rtt_percentiles_figure, states_now_figure
from hskit.views.plot_widget import PlotWidget
from hskit.views.widgets import Quiet, ladder_widget
from hskit.wording import counted

if TYPE_CHECKING:
    from hskit.live.capture import LiveCapture, Snapshot

#: rows of the latest-connections list.
LATEST = 12
#: the findings columns shown, in order (the evidence shows on hover).
FINDING_COLUMNS = ("kind", "severity", "endpoint", "count")


class LiveView(Quiet, widgets.VBox):
    """The live widget; :meth:`update` redraws it now, :meth:`close` stops following."""

    def __init__(self, live: LiveCapture, *, refresh: float = 0.5) -> None:
        self.live = live
        self.refresh = refresh
        self.status = widgets.HTML()
        self.states_plot = PlotWidget()
        self.new_plot = PlotWidget()
        self.rtt_plot = PlotWidget()
        self.findings = widgets.HTML("<b>findings</b> <small>(running…)</small>")
        self.latest = widgets.Select(options=[], rows=8, description="latest",
                                     layout={"width": "100%"})  # fmt: skip
        self.ladder_box = widgets.VBox()
        #: when each finding (kind, endpoint) was first shown, wall clock UTC.
        self.fired: dict[tuple[str, str], datetime] = {}
        #: how many times the view was redrawn, and the ring files it showed last.
        self.updates = 0
        self.files_shown = -1
        #: the tables drawn last are those of the ended capture.
        self.final_shown = False
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.latest.observe(self._on_latest, names="value")
        live.before_last_pass(self._announce_last_pass)
        super().__init__(
            [
                self.status,
                widgets.HBox([self.states_plot, self.new_plot]),
                widgets.HBox([self.rtt_plot, self.findings]),
                self.latest,
                self.ladder_box,
            ],
            layout={"width": "100%"},
        )
        for box in self.children[1:3]:
            for child in box.children:
                child.layout.width = "50%"
        self.update()
        self._follower = threading.Thread(target=self._follow, name="hskit-live-view", daemon=True)
        self._follower.start()

    def _follow(self) -> None:
        """Redraw as soon as a ring file newer than the drawn ones is loaded (at most once
        per ``refresh`` seconds) until the capture has ended and is drawn: once no newer
        file comes, the tables of the ended capture (its final snapshot) are drawn."""
        drawn_at = time.monotonic()
        while not self._closing.wait(max(0.0, drawn_at + self.refresh - time.monotonic())):
            ended = not self.live.running
            if self.live.wait(files=1, timeout=self.refresh, since=self.files_shown):
                drawn_at = time.monotonic()
                self.update()
            elif ended and self.live.loaded_all:
                if not self.final_shown:
                    self.update()
                return

    def update(self) -> None:
        """Redraw every part from the live capture's tables now."""
        with self._lock:
            snapshot = self.live.snapshot()
            connections = snapshot.connections
            self.states_plot.figure = states_now_figure(connections)
            self.new_plot.figure = new_connections_figure(connections)
            self.rtt_plot.figure = rtt_percentiles_figure(connections)
            self._update_latest(connections)
            self.status.value = self._status_html(snapshot)
            self.files_shown = snapshot.files
            self.final_shown = snapshot.final
            self.updates += 1
        self.live.findings_later(FINDINGS_EVERY, self._show_findings)

    def _announce_last_pass(self, long_connections: int) -> None:
        """Say in the status line that the ended capture's long connections are being
        classified whole, until the final snapshot is drawn. Called by the live capture
        on the thread that runs that pass (this view's redraw or the findings thread)."""
        self.status.value = (
            f"{self._headline('stopped')}classifying "
            f"{counted(long_connections, 'long connection')} whole…"
        )

    def _show_findings(self, findings: pd.DataFrame, files: int) -> None:
        """Draw the findings (called on the findings thread, which runs ``diagnose``
        beside the tables so they never wait for it)."""
        with self._lock:
            self.findings.value = self._findings_html(findings, files)

    def _status_html(self, snapshot: Snapshot) -> str:
        state = "capturing" if self.live.running else "stopped"
        connections = snapshot.connections
        short = (
            "; <b>long connections not classified whole</b> (not enough memory: their rows"
            " are grown from windows of their segments)"
            if snapshot.final and not snapshot.exact
            else ""
        )
        return (
            f"{self._headline(state)}{counted(snapshot.files, 'ring file')}, "
            f"{counted(len(connections), 'connection')}, "
            f"{int((connections['termination'] == 'open').sum())} open{short}"
        )

    def _headline(self, state: str) -> str:
        """The status line's start: the interface and ``state``."""
        return f"<b>{html.escape(self.live.recorder.settings.interface)}</b> ({state}): "

    def _findings_html(self, findings: pd.DataFrame, files: int) -> str:
        now = datetime.now(UTC)
        rows = []
        for _, finding in findings.iterrows():
            fired = self.fired.setdefault((str(finding["kind"]), str(finding["endpoint"])), now)
            cells = [fired.strftime("%H:%M:%S"), f"{float(finding['first_time']):.1f}"]
            cells += [str(finding[column]) for column in FINDING_COLUMNS]
            rows.append("".join(f"<td>{html.escape(cell)}</td>" for cell in cells))
        header = "".join(
            f"<th>{name}</th>" for name in ("fired (UTC)", "capture s", *FINDING_COLUMNS)
        )
        body = "".join(
            f"<tr class='hskit-live-finding' title='{html.escape(str(evidence))}'>{row}</tr>"
            for row, evidence in zip(rows, findings["evidence"], strict=True)
        )
        empty = "" if rows else "<p><i>no findings yet</i></p>"
        note = f"as of ring file {files}"
        return (
            f"<b>findings</b> <small>({note})</small><table><tr>{header}</tr>{body}</table>{empty}"
        )

    def _update_latest(self, connections: pd.DataFrame) -> None:
        rows = connections.tail(LATEST).iloc[::-1]
        options = [
            (f"{row.stream}: {row.client_ip}:{row.client_port} → {row.server_ip}:"
             f"{row.server_port}  {row.handshake}, {row.termination}, "
             f"{row.client_state}/{row.server_state}", int(row.stream))
            for row in rows.itertuples(index=False)
        ]  # fmt: skip
        chosen = self.latest.value
        with self._quietly():
            self.latest.options = options
            self.latest.value = chosen if chosen in {s for _, s in options} else None

    def _on_latest(self, change: dict[str, Any]) -> None:
        if self._quiet or change["new"] is None:
            return
        self.ladder_box.children = [ladder_widget(self.live.capture, int(change["new"]))]

    def close(self) -> None:
        """Stop following the capture and close the widget."""
        self._closing.set()
        super().close()
