"""JupyterLab views: the ladder, the state timeline and the connection explorer as widgets.

Each function returns an ``ipywidgets`` container that displays as is and exposes its
parts as attributes (``.picker``, ``.plot``, ``.details``, ``.grid`` …), so a notebook
or a test can drive them. Figures are drawn by :class:`~hskit.views.plot_widget.PlotWidget`
(a small anywidget; ``.figure`` is the ``go.Figure`` on screen) from the pure builders
of :mod:`hskit.views.ladder` and :mod:`hskit.views.timeline`. Only what a view needs is
imported: the explorer's data grid (``ipydatagrid``) loads with the explorer.

>>> cap = hskit.load("sample_pcaps/close_client_first.pcap")  # doctest: +SKIP
>>> view = ladder_widget(cap, 0)  # doctest: +SKIP
>>> view.numbers.value = "absolute"  # doctest: +SKIP
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np

from hskit.errors import HskitError
from hskit.views.ladder import DEFAULT_MAX_SEGMENTS, LADDER_MAX_HEIGHT, ladder_figure
from hskit.views.plot_widget import PlotWidget
from hskit.views.timeline import (
    connection_labels,
    connections_timeline_figure,
    state_counts_figure,
    state_timeline_figure,
)

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from hskit.capture import Capture

#: Most segments the range slider spans (a browser draws 2000 arrows in about a second).
MAX_RANGE = 2_000
#: The timeline picker's value for "every connection".
ALL_CONNECTIONS = -1
#: Above this many connections the pickers are a stream number box, not a dropdown list.
PICKER_LIMIT = 5_000
#: Height (px) of a compact one-connection timeline.
COMPACT_TIMELINE_HEIGHT = 250
#: Roles of the ladder traces whose points stand for a segment (customdata = frame).
_CLICKABLE_ROLES = frozenset({"segments", "hits", "selected"})
_LABEL_WIDTH = "6.5em"
_STYLE = {"description_width": _LABEL_WIDTH}
#: A control bar: controls side by side, wrapping onto a second line when narrow.
_BAR_LAYOUT = {"flex_flow": "row wrap", "align_items": "center", "grid_gap": "2px 12px",
               "margin": "0 0 4px 0"}  # fmt: skip


def _picker_options(cap: Capture) -> list[tuple[str, int]]:
    """``(label, stream)`` of every connection: endpoints, handshake and termination."""
    connections = cap.connections
    text = connection_labels(connections).reset_index(drop=True)
    text = text + " · " + connections["handshake"].astype("string").fillna("?").to_numpy()
    text = text + "/" + connections["termination"].astype("string").fillna("?").to_numpy()
    return list(zip(text.tolist(), connections["stream"].tolist(), strict=True))


def _stream_picker(cap: Capture, value: int | None, extra: list[tuple[str, int]]) -> Any:
    """A dropdown of every connection, or a stream number box for very large captures."""
    streams = cap.connections["stream"]
    if len(streams) > PICKER_LIMIT:
        return widgets.BoundedIntText(
            value=value if value is not None else int(streams.iloc[0]),
            min=extra[0][1] if extra else int(streams.min()),
            max=int(streams.max()),
            description="stream",
            style=_STYLE,
        )
    options = [*extra, *_picker_options(cap)]
    first = options[0][1] if options else None
    return widgets.Dropdown(
        options=options,
        value=first if value is None else value,
        description="connection",
        style=_STYLE,
        layout={"width": "min(100%, 52em)"},
    )


def _capture_end(cap: Capture) -> float | None:
    times = cap.segments["time"]
    return float(times.max()) if len(times) else None


class Quiet:
    """A widget's ``with self._quietly():`` marks the changes its own code makes, which its
    observers skip (they read ``self._quiet``).

    >>> class Box(Quiet): ...
    >>> box = Box()
    >>> with box._quietly():
    ...     box._quiet
    True
    >>> box._quiet
    False
    """

    _quiet = False

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False


class LadderWidget(Quiet, widgets.VBox):
    """The ladder of one connection with its controls and a dissection panel.

    Parts: ``picker`` (connection; absent with ``picker=False``), ``numbers``
    (relative/absolute), ``spacing`` (even/time), ``label_style`` (wireshark/tcpdump),
    ``range`` (1-based positions of the segments shown, at most ``max_range``),
    ``handshake_only``, ``plot`` (:class:`PlotWidget`; ``figure`` is its figure) and
    ``details`` (the clicked frame's dissection, TCP first; beside the plot, or left for
    the caller to place with ``details_beside=False``). Clicking anywhere on an arrow
    selects that segment: it is highlighted and dissected.

    >>> view = LadderWidget(cap)  # doctest: +SKIP
    >>> view.show(3)  # doctest: +SKIP
    """

    def __init__(
        self,
        cap: Capture,
        stream: int | None = None,
        *,
        max_segments: int = DEFAULT_MAX_SEGMENTS,
        max_range: int = MAX_RANGE,
        picker: bool = True,
        max_height: int = LADDER_MAX_HEIGHT,
        details_beside: bool = True,
    ) -> None:
        self.cap = cap
        self.max_height = max_height
        self.max_segments = max_segments
        self.max_range = max_range
        self._segment_counts = np.bincount(cap.segments["stream"].to_numpy(np.int64), minlength=1)
        if stream is None and len(cap.connections):
            stream = int(cap.connections["stream"].iloc[0])
        self._stream = stream
        self.picker = _stream_picker(cap, stream, []) if picker else None
        self.numbers = _toggle("numbers", ["relative", "absolute"])
        self.spacing = _toggle("rows", [("evenly spaced", "even"), ("time-scaled", "time")])
        self.label_style = _toggle("labels", ["wireshark", "tcpdump"])
        self.range = widgets.IntRangeSlider(
            description="segments",
            continuous_update=False,
            style={"description_width": "initial"},
            layout={"width": "min(100%, 26em)"},
        )
        self.handshake_only = widgets.Checkbox(
            description="handshake and teardown only", indent=False, layout={"width": "auto"}
        )
        self.plot = PlotWidget(config={"displayModeBar": "hover"})
        self.details = widgets.HTML(
            "<i>click an arrow to see its frame's dissection</i>",
            layout={"width": "32%", "min_width": "16em", "max_height": f"{max_height}px",
                    "overflow": "auto", "padding": "0 0 0 8px"},
        )  # fmt: skip
        self.selected_frame: int | None = None
        self._reset_range()
        self._redraw()
        if self.picker is not None:
            self.picker.observe(self._on_picker, names="value")
        for control in (self.numbers, self.spacing, self.label_style):
            control.observe(self._on_control, names="value")
        self.range.observe(self._on_range, names="value")
        self.handshake_only.observe(self._on_handshake_only, names="value")
        self.plot.on_click(self.on_plot_click)
        controls = [self.numbers, self.spacing, self.label_style, self.range,
                    self.handshake_only]  # fmt: skip
        bar = widgets.HBox(controls, layout=_BAR_LAYOUT)
        if details_beside:
            plot = widgets.Box([self.plot], layout={"flex": "1 1 0", "min_width": "0"})
            parts = [widgets.HBox([plot, self.details])]
        else:
            parts = [self.plot]
        super().__init__([*([self.picker] if self.picker is not None else []), bar, *parts])
        self.add_class("hskit-ladder")

    @property
    def stream(self) -> int | None:
        """The connection shown."""
        return self._stream

    @property
    def figure(self) -> go.Figure:
        """The ladder figure on screen."""
        return self.plot.figure

    def show(self, stream: int) -> None:
        """Show connection ``stream`` (from its first segments)."""
        if self.picker is not None and self.picker.value != stream:
            self.picker.value = stream  # the observer redraws
            return
        self._stream = stream
        self.selected_frame = None
        self._reset_range()
        self._redraw()

    def show_frame(self, frame: int) -> None:
        """Highlight frame ``frame``'s arrow and put its dissection (TCP first) in the panel."""
        self.selected_frame = frame
        self._redraw()
        self.details.value = f"<i>dissecting frame {frame} …</i>"
        from hskit.views.dissection import frame_layers, layers_html

        try:
            layers = frame_layers(self.cap.load_report.path, frame)
        except (HskitError, ValueError) as error:
            self.details.value = f"<b>frame {frame}</b>: {html.escape(str(error))}"
            return
        self.details.value = f"<b>frame {frame}</b>" + layers_html(layers)

    def on_plot_click(self, trace_index: int, point_index: int) -> None:
        """Click handler of the plot: a point on or along an arrow selects its segment."""
        trace = self.figure.data[trace_index]
        if not trace.meta or trace.meta.get("role") not in _CLICKABLE_ROLES:
            return
        if trace.customdata is None or not 0 <= point_index < len(trace.customdata):
            return
        self.show_frame(int(trace.customdata[point_index]))

    def _reset_range(self) -> None:
        stream = self._stream
        in_table = stream is not None and 0 <= stream < len(self._segment_counts)
        count = int(self._segment_counts[stream]) if in_table else 1
        with self._quietly():
            self.range.min = 1
            self.range.max = max(count, 1)
            self.range.value = (1, max(min(count, self.max_segments, self.max_range), 1))

    def _redraw(self) -> None:
        if self._stream is None:
            return
        low, high = self.range.value
        self.plot.figure = ladder_figure(
            self.cap.segments,
            self.cap.connections,
            self._stream,
            states=self.cap.states,
            analysis=self.cap.analysis,  # the whole capture's: it knows the reused ports
            numbers=self.numbers.value,
            spacing=self.spacing.value,
            frames=None if self.handshake_only.value else slice(low - 1, high),
            handshake_only=self.handshake_only.value,
            label_style=self.label_style.value,
            max_segments=self.max_segments,
            selected_frame=self.selected_frame,
            max_height=self.max_height,
        )

    def _on_picker(self, change: dict[str, Any]) -> None:
        self._stream = change["new"]
        self.selected_frame = None
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
            with self._quietly():
                if low != change["old"][0]:
                    self.range.value = (low, low + self.max_range - 1)
                else:
                    self.range.value = (high - self.max_range + 1, high)
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

    It starts on the first ``max_segments`` segments; the range slider (1-based, as the
    title) spans at most ``max_range``, and the handshake-and-teardown checkbox jumps
    to both ends.

    >>> ladder_widget(cap, 0)  # doctest: +SKIP
    """
    return LadderWidget(cap, stream, max_segments=max_segments, max_range=max_range)


class TimelineWidget(widgets.VBox):
    """State timeline of one connection, or of all of them (one row each, or state counts).

    Parts: ``picker`` (a stream, or :data:`ALL_CONNECTIONS`; absent with
    ``picker=False``), ``mode`` (``rows`` or ``counts``, for all connections; hidden
    without a picker while one connection is shown), ``plot`` and ``figure``.
    ``compact=True`` draws one connection's timeline short and without a legend (the
    explorer's, beside a ladder whose lanes name every state).

    >>> TimelineWidget(cap).mode.value = "counts"  # doctest: +SKIP
    """

    def __init__(
        self,
        cap: Capture,
        stream: int | None = None,
        *,
        picker: bool = True,
        compact: bool = False,
    ) -> None:
        self.cap = cap
        self._stream = stream
        self.compact = compact
        self.picker = (
            _stream_picker(cap, ALL_CONNECTIONS if stream is None else stream,
                           [("all connections", ALL_CONNECTIONS)])
            if picker
            else None
        )  # fmt: skip
        self.mode = _toggle(
            "all as", [("one row per connection", "rows"), ("sockets per state", "counts")]
        )
        self.plot = PlotWidget(config={"displayModeBar": "hover", "scrollZoom": True})
        controls = [self.mode] if self.picker is None else [self.picker, self.mode]
        self._bar = widgets.HBox(controls, layout=_BAR_LAYOUT)
        self._redraw()
        if self.picker is not None:
            self.picker.observe(self._on_picker, names="value")
        self.mode.observe(self._on_change, names="value")
        super().__init__([self._bar, self.plot])
        self.add_class("hskit-timeline")

    @property
    def stream(self) -> int | None:
        """The connection shown, or None for all."""
        return self._stream

    @property
    def figure(self) -> go.Figure:
        """The timeline figure on screen."""
        return self.plot.figure

    def show(self, stream: int | None) -> None:
        """Show connection ``stream``, or every connection (``None``)."""
        if self.picker is not None:
            value = ALL_CONNECTIONS if stream is None else stream
            if self.picker.value != value:
                self.picker.value = value  # the observer redraws
                return
        self._stream = stream
        self._redraw()

    def _redraw(self) -> None:
        cap = self.cap
        self.mode.disabled = self._stream is not None
        self._bar.layout.display = "none" if self.picker is None and self.mode.disabled else None
        if self._stream is not None:
            figure = state_timeline_figure(
                cap.states, self._stream, connections=cap.connections, segments=cap.segments
            )
            if self.compact:
                figure.update_layout(height=COMPACT_TIMELINE_HEIGHT, showlegend=False,
                                     margin_b=50)  # fmt: skip
        elif self.mode.value == "counts":
            figure = state_counts_figure(
                cap.states, capture_end=_capture_end(cap), connections=cap.connections
            )
        else:
            figure = connections_timeline_figure(
                cap.states, cap.connections, capture_end=_capture_end(cap)
            )
        self.plot.figure = figure

    def _on_picker(self, change: dict[str, Any]) -> None:
        self._stream = None if change["new"] == ALL_CONNECTIONS else change["new"]
        self._redraw()

    def _on_change(self, _change: object) -> None:
        self._redraw()


def timeline_widget(cap: Capture, stream: int | None = None) -> TimelineWidget:
    """The interactive state timeline of connection ``stream``, or of all (``None``).

    >>> timeline_widget(cap)  # doctest: +SKIP
    """
    return TimelineWidget(cap, stream)


def _toggle(name: str, options: list[Any]) -> widgets.ToggleButtons:
    """Buttons with their name to their left (ipywidgets would put it above)."""
    return widgets.ToggleButtons(
        options=options,
        description=name,
        style={"description_width": "initial", "button_width": "auto"},
        layout={"display": "flex", "align_items": "center", "width": "auto"},
    )


def explorer(cap: Capture) -> Explorer:
    """``cap``'s connections in a sortable, filterable data grid, linked to the ladder and
    the state timeline beside it.

    >>> explorer(cap)  # doctest: +SKIP
    """
    return Explorer(cap)


# The explorer lives in its own module (it needs ipydatagrid); imported last, it uses
# the widgets above.
from hskit.views.explorer import Explorer  # noqa: E402
