"""JupyterLab views: the ladder, the state timeline and the connection explorer as widgets.

Each function returns an ``ipywidgets`` container that displays as is and exposes its
parts as attributes (``.picker``, ``.figure``, ``.details``, ``.table`` …), so a
notebook or a test can drive them. Figures are ``plotly`` ``FigureWidget``\\ s redrawn
from the pure builders of :mod:`hskit.views.ladder` and :mod:`hskit.views.timeline`.

>>> cap = hskit.load("sample_pcaps/close_client_first.pcap")  # doctest: +SKIP
>>> view = ladder_widget(cap, 0)  # doctest: +SKIP
>>> view.numbers.value = "absolute"  # doctest: +SKIP
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from hskit.errors import HskitError
from hskit.schema import CONN_STATES, HANDSHAKE_LABELS, TERMINATION_LABELS
from hskit.timing import endpoint_text
from hskit.views.ladder import DEFAULT_MAX_SEGMENTS, ladder_figure
from hskit.views.timeline import (
    connection_labels,
    connections_timeline_figure,
    state_counts_figure,
    state_timeline_figure,
)

if TYPE_CHECKING:
    from plotly.callbacks import Points

    from hskit.capture import Capture

#: Most segments the range slider spans (a browser draws 2000 arrows in about a second).
MAX_RANGE = 2_000
#: Rows the explorer lists at most (the filters narrow a larger capture down).
EXPLORER_ROWS = 500
#: The timeline picker's value for "every connection".
ALL_CONNECTIONS = -1
_PRE_STYLE = "font-size: 11px; line-height: 1.25; white-space: pre; margin: 0"
_TABLE_CLASS = "hskit-explorer-table"
_TABLE_FONT = "font-family: monospace; font-size: 12px;"


def _replace_figure(target: go.FigureWidget, source: go.Figure) -> None:
    """Swap ``target``'s traces and layout for ``source``'s in one update."""
    with target.batch_update():
        target.data = ()
        target.add_traces(source.data)
        target.layout = source.layout


def _picker_options(cap: Capture) -> list[tuple[str, int]]:
    """``(label, stream)`` of every connection: endpoints, handshake and termination."""
    connections = cap.connections
    text = connection_labels(connections).reset_index(drop=True)
    text = text + " · " + connections["handshake"].astype("string").fillna("?").to_numpy()
    text = text + "/" + connections["termination"].astype("string").fillna("?").to_numpy()
    return list(zip(text.tolist(), connections["stream"].tolist(), strict=True))


class LadderWidget(widgets.VBox):
    """The ladder of one connection with its controls and a dissection panel.

    Parts: ``picker`` (connection), ``numbers`` (relative/absolute), ``spacing``
    (even/time), ``label_style`` (wireshark/tcpdump), ``range`` (positions of the
    segments shown, at most ``max_range`` of them), ``handshake_only``, ``figure``
    (``FigureWidget``) and ``details`` (the clicked frame's full dissection).

    >>> view = LadderWidget(cap)  # doctest: +SKIP
    >>> view.picker.value = 3  # doctest: +SKIP
    """

    def __init__(
        self,
        cap: Capture,
        stream: int | None = None,
        *,
        max_segments: int = DEFAULT_MAX_SEGMENTS,
        max_range: int = MAX_RANGE,
    ) -> None:
        self.cap = cap
        self.max_segments = max_segments
        self.max_range = max_range
        self._segment_counts = np.bincount(cap.segments["stream"].to_numpy(np.int64))
        options = _picker_options(cap)
        first = options[0][1] if options else None
        self.picker = widgets.Dropdown(
            options=options,
            value=first if stream is None else stream,
            description="connection",
            layout={"width": "48em"},
        )
        self.numbers = _toggle("numbers", ["relative", "absolute"])
        self.spacing = _toggle("rows", [("evenly spaced", "even"), ("time-scaled", "time")])
        self.label_style = _toggle("labels", ["wireshark", "tcpdump"])
        self.range = widgets.IntRangeSlider(
            description="segments",
            continuous_update=False,
            layout={"width": "48em"},
        )
        self.handshake_only = widgets.Checkbox(
            description="handshake and teardown only", indent=False, layout={"width": "auto"}
        )
        self.figure = go.FigureWidget()
        self.figure.layout.height = 500
        self.details = widgets.HTML(
            "<i>click an arrow to see its frame's full dissection</i>",
            layout={"width": "34%", "max_height": "760px", "overflow": "auto"},
        )
        self._quiet = False
        self._reset_range()
        self._redraw()
        self.picker.observe(self._on_picker, names="value")
        for control in (self.numbers, self.spacing, self.label_style):
            control.observe(self._on_control, names="value")
        self.range.observe(self._on_range, names="value")
        self.handshake_only.observe(self._on_handshake_only, names="value")
        super().__init__(
            [
                widgets.HBox([self.picker, self.numbers]),
                widgets.HBox([self.spacing, self.label_style]),
                widgets.HBox([self.range, self.handshake_only]),
                widgets.HBox([widgets.Box([self.figure], layout={"width": "66%"}), self.details]),
            ]
        )

    @property
    def stream(self) -> int | None:
        """The connection shown."""
        return self.picker.value

    def show_frame(self, frame: int) -> None:
        """Put frame ``frame``'s full dissection (tshark ``-V``) in the details panel."""
        self.details.value = f"<i>dissecting frame {frame} …</i>"
        from hskit.tshark.dissect import dissect_frame

        try:
            text = dissect_frame(self.cap.load_report.path, frame)
        except HskitError as error:
            self.details.value = f"<b>frame {frame}</b>: {html.escape(str(error))}"
            return
        self.details.value = (
            f"<b>frame {frame}</b><pre style='{_PRE_STYLE}'>{html.escape(text)}</pre>"
        )

    def on_segment_click(self, trace: Any, points: Points, selector: Any) -> None:
        """``FigureWidget`` click handler of the segment markers: dissect the clicked frame."""
        if not points.point_inds:
            return
        self.show_frame(int(trace.customdata[points.point_inds[0]]))

    def _reset_range(self) -> None:
        count = int(self._segment_counts[self.picker.value]) if self.picker.value is not None else 1
        self._quiet = True
        try:
            self.range.min = 0
            self.range.max = max(count - 1, 0)
            self.range.value = (0, min(count, self.max_segments, self.max_range) - 1)
        finally:
            self._quiet = False

    def _redraw(self) -> None:
        if self.picker.value is None:
            return
        low, high = self.range.value
        figure = ladder_figure(
            self.cap.segments,
            self.cap.connections,
            self.picker.value,
            numbers=self.numbers.value,
            spacing=self.spacing.value,
            frames=None if self.handshake_only.value else slice(low, high + 1),
            handshake_only=self.handshake_only.value,
            label_style=self.label_style.value,
            max_segments=self.max_segments,
        )
        _replace_figure(self.figure, figure)
        for trace in self.figure.data:
            if trace.meta and trace.meta.get("role") == "segments":
                trace.on_click(self.on_segment_click)

    def _on_picker(self, _change: object) -> None:
        self._reset_range()
        self._redraw()

    def _on_control(self, _change: object) -> None:
        if not self._quiet:
            self._redraw()

    def _on_range(self, change: dict[str, Any]) -> None:
        """Redraw the new range, first narrowed to ``max_range`` around the end that moved."""
        if self._quiet:
            return
        low, high = change["new"]
        if high - low + 1 > self.max_range:
            self._quiet = True
            try:
                if low != change["old"][0]:
                    self.range.value = (low, low + self.max_range - 1)
                else:
                    self.range.value = (high - self.max_range + 1, high)
            finally:
                self._quiet = False
        self._redraw()

    def _on_handshake_only(self, change: dict[str, Any]) -> None:
        self.range.disabled = bool(change["new"])
        self._redraw()


def ladder_widget(
    cap: Capture,
    stream: int | None = None,
    *,
    max_segments: int = DEFAULT_MAX_SEGMENTS,
    max_range: int = MAX_RANGE,
) -> LadderWidget:
    """The interactive ladder of ``cap``'s connection ``stream`` (default: the first).

    It starts on the first ``max_segments`` segments; the range slider spans at most
    ``max_range``, and the handshake-and-teardown checkbox jumps to both ends.

    >>> ladder_widget(cap, 0)  # doctest: +SKIP
    """
    return LadderWidget(cap, stream, max_segments=max_segments, max_range=max_range)


class TimelineWidget(widgets.VBox):
    """State timeline of one connection, or of all of them (one row each, or state counts).

    Parts: ``picker`` (a stream, or :data:`ALL_CONNECTIONS`), ``mode`` (``rows`` or
    ``counts``, for all connections) and ``figure``.

    >>> TimelineWidget(cap).mode.value = "counts"  # doctest: +SKIP
    """

    def __init__(self, cap: Capture, stream: int | None = None) -> None:
        self.cap = cap
        self.picker = widgets.Dropdown(
            options=[("all connections", ALL_CONNECTIONS), *_picker_options(cap)],
            value=ALL_CONNECTIONS if stream is None else stream,
            description="connection",
            layout={"width": "48em"},
        )
        self.mode = _toggle(
            "all as", [("one row per connection", "rows"), ("sockets per state", "counts")]
        )
        self.figure = go.FigureWidget()
        self._redraw()
        self.picker.observe(self._on_change, names="value")
        self.mode.observe(self._on_change, names="value")
        super().__init__([widgets.HBox([self.picker, self.mode]), self.figure])

    @property
    def stream(self) -> int | None:
        """The connection shown, or None for all."""
        return None if self.picker.value == ALL_CONNECTIONS else self.picker.value

    def _redraw(self) -> None:
        cap = self.cap
        self.mode.disabled = self.stream is not None
        if self.stream is not None:
            figure = state_timeline_figure(cap.states, self.stream, connections=cap.connections)
        elif self.mode.value == "counts":
            figure = state_counts_figure(cap.states)
        else:
            figure = connections_timeline_figure(cap.states, cap.connections)
        _replace_figure(self.figure, figure)

    def _on_change(self, _change: object) -> None:
        self._redraw()


def timeline_widget(cap: Capture, stream: int | None = None) -> TimelineWidget:
    """The interactive state timeline of connection ``stream``, or of all (``None``).

    >>> timeline_widget(cap)  # doctest: +SKIP
    """
    return TimelineWidget(cap, stream)


def _table_lines(connections: pd.DataFrame) -> pd.Series:
    """One fixed-width text line per connection row, for the explorer's list."""
    endpoints = (
        endpoint_text(connections["client_ip"], connections["client_port"]).astype("string")
        + " → "
        + endpoint_text(connections["server_ip"], connections["server_port"]).astype("string")
    )
    packets = connections["packets_c2s"].astype(np.int64) + connections["packets_s2c"].astype(
        np.int64
    )
    columns = [
        (connections["stream"].astype("string"), 7),
        (endpoints, 46),
        (connections["handshake"].astype("string").fillna("-"), 19),
        (connections["termination"].astype("string").fillna("-"), 19),
        (connections["conn_state"].astype("string").fillna("-"), 7),
        (packets.astype("string"), 8),
    ]
    line = pd.Series("", index=connections.index, dtype="string")
    for values, width in columns:
        line = line + values.str.pad(width, side="right")
    return line + pd.Series(
        np.char.mod("%.6f s", connections["duration"].to_numpy(float)), index=connections.index
    )


class Explorer(widgets.VBox):
    """The connection table with filters, linked to a ladder and a state timeline.

    Parts: the filters ``handshake``, ``termination``, ``conn_state`` (multi-selects;
    nothing selected = no filter) and ``search`` (text in ``ip:port`` of either end);
    ``table`` (a ``Select`` of the filtered rows, value = stream), ``count``, and the
    linked ``ladder`` (:class:`LadderWidget`) and ``timeline`` (:class:`TimelineWidget`).

    >>> view = Explorer(cap)  # doctest: +SKIP
    >>> view.handshake.value = ("refused",)  # doctest: +SKIP
    """

    def __init__(self, cap: Capture, *, max_rows: int = EXPLORER_ROWS) -> None:
        self.cap = cap
        self.max_rows = max_rows
        connections = cap.connections
        self._lines = _table_lines(connections).to_numpy(dtype=object)
        self._endpoints = (
            connection_labels(connections).str.split(" · ", n=1).str[1].fillna("").to_numpy()
        )
        self.handshake = _multi_select("handshake", HANDSHAKE_LABELS)
        self.termination = _multi_select("termination", TERMINATION_LABELS)
        self.conn_state = _multi_select("conn_state", CONN_STATES)
        self.search = widgets.Text(
            description="address",
            placeholder="ip or :port (Enter)",
            continuous_update=False,
        )
        self.count = widgets.HTML()
        self.table = widgets.Select(rows=12, layout={"width": "100%"})
        self.table.add_class(_TABLE_CLASS)
        self.ladder = LadderWidget(cap)
        self.timeline = TimelineWidget(cap, self.ladder.stream)
        self.table.observe(self._on_row, names="value")
        self._apply_filters()
        for control in (self.handshake, self.termination, self.conn_state, self.search):
            control.observe(self._on_filter, names="value")
        header = (
            "stream".ljust(7)
            + "client → server".ljust(46)
            + "handshake".ljust(19)
            + "termination".ljust(19)
            + "state".ljust(7)
            + "packets".ljust(8)
            + "duration"
        )
        style = widgets.HTML(
            f"<style>.{_TABLE_CLASS} select, .{_TABLE_CLASS} option {{{_TABLE_FONT}}}</style>"
            f"<pre style='{_TABLE_FONT} margin: 0; padding-left: 5px'>{html.escape(header)}</pre>"
        )
        super().__init__(
            [
                widgets.HBox([self.handshake, self.termination, self.conn_state, self.search]),
                self.count,
                style,
                self.table,
                self.ladder,
                self.timeline,
            ]
        )

    def filtered(self) -> pd.DataFrame:
        """The connection rows that pass every filter."""
        connections = self.cap.connections
        return connections.loc[self._mask()]

    def _mask(self) -> np.ndarray:
        connections = self.cap.connections
        mask = np.ones(len(connections), dtype=bool)
        for control, column in (
            (self.handshake, "handshake"),
            (self.termination, "termination"),
            (self.conn_state, "conn_state"),
        ):
            if control.value:
                mask &= connections[column].isin(control.value).to_numpy(bool)
        needle = self.search.value.strip()
        if needle:
            mask &= pd.Series(self._endpoints).str.contains(needle, regex=False).to_numpy(bool)
        return mask

    def _apply_filters(self) -> None:
        mask = self._mask()
        rows = np.flatnonzero(mask)
        shown = rows[: self.max_rows]
        streams = self.cap.connections["stream"].to_numpy(np.int64)[shown]
        self.count.value = f"<b>{len(rows)}</b> of {len(mask)} connections match" + (
            f" (first {len(shown)} listed)" if len(rows) > len(shown) else ""
        )
        current = self.table.value
        self.table.unobserve(self._on_row, names="value")
        try:
            self.table.options = list(
                zip(self._lines[shown].tolist(), streams.tolist(), strict=True)
            )
            if len(streams):
                self.table.value = current if current in set(streams.tolist()) else int(streams[0])
        finally:
            self.table.observe(self._on_row, names="value")
        self._show(self.table.value)

    def _on_filter(self, _change: object) -> None:
        self._apply_filters()

    def _on_row(self, change: dict[str, Any]) -> None:
        self._show(change["new"])

    def _show(self, stream: int | None) -> None:
        """Point the ladder and the timeline at ``stream`` (each redraws only on a change)."""
        if stream is None:
            return
        self.ladder.picker.value = stream
        self.timeline.picker.value = stream


def _toggle(name: str, options: list[Any]) -> widgets.ToggleButtons:
    return widgets.ToggleButtons(
        options=options,
        description=name,
        style={"button_width": "auto", "description_width": "initial"},
    )


def _multi_select(name: str, labels: tuple[str, ...]) -> widgets.SelectMultiple:
    return widgets.SelectMultiple(
        options=list(labels),
        description=name,
        rows=min(len(labels), 6),
        style={"description_width": "initial"},
        layout={"width": "15em"},
    )


def explorer(cap: Capture, *, max_rows: int = EXPLORER_ROWS) -> Explorer:
    """``cap``'s connections, filterable, linked to the ladder and the state timeline.

    >>> explorer(cap)  # doctest: +SKIP
    """
    return Explorer(cap, max_rows=max_rows)
