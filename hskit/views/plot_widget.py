"""A light plotly widget: draws a ``go.Figure`` in JupyterLab and reports clicks.

plotly's own ``FigureWidget`` costs seconds to import in a fresh kernel (its renderer
stack pulls in nbformat and jsonschema) and ships 5 MB of JavaScript with every
instance. :class:`PlotWidget` is an ``anywidget`` of a few lines instead: the kernel
sends the figure as JSON, and plotly.js (the basic bundle, scatter and bar, about
400 kB gzipped) once per page, on the first widget's request. Clicks come back as
``(trace index, point index)``.

>>> plot = PlotWidget()  # doctest: +SKIP
>>> plot.figure = ladder_figure(cap.segments, cap.connections, 0)  # doctest: +SKIP
>>> plot.on_click(lambda trace, point: print(trace, point))  # doctest: +SKIP
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import anywidget
import plotly.graph_objects as go
import traitlets

ASSETS = Path(__file__).parent / "assets"
#: plotly.js's basic bundle (scatter, bar, pie), gzipped; see ``assets/README.md``.
PLOTLY_BUNDLE = ASSETS / "plotly-basic.min.js.gz"

ClickHandler = Callable[[int, int], None]


@cache
def plotly_bundle_gzipped() -> bytes:
    """The gzipped plotly.js basic bundle shipped with hskit, read once."""
    return PLOTLY_BUNDLE.read_bytes()


def plotly_bundle() -> str:
    """The plotly.js basic bundle's source text (for static HTML).

    >>> "plotly.js (basic - minified)" in plotly_bundle()[:200]
    True
    """
    return gzip.decompress(plotly_bundle_gzipped()).decode("utf-8")


def figure_json(figure: go.Figure) -> str:
    """The figure as plotly JSON, numeric arrays as compact typed arrays.

    >>> figure_json(go.Figure(layout={"height": 300})).startswith('{"data":[]')
    True
    """
    return figure.to_json(validate=False)


class PlotWidget(anywidget.AnyWidget):
    """One plotly figure in a notebook; set :attr:`figure` to redraw it.

    ``on_click(handler)`` registers ``handler(trace_index, point_index)``, called when
    the user clicks a point of the figure drawn at that moment.
    """

    _esm = ASSETS / "plot_widget.js"
    _figure_json = traitlets.Unicode("{}").tag(sync=True)
    #: plotly.js config (``displayModeBar``, ``scrollZoom`` …).
    config = traitlets.Dict().tag(sync=True)

    def __init__(self, figure: go.Figure | None = None, **kwargs: Any) -> None:
        # As wide as its container, and free to shrink in a flex row: plotly sizes the
        # figure to this element, and a flex item's content width would be plotly's
        # default 700 px, clipped when the row is narrower.
        kwargs.setdefault("layout", {"width": "100%", "min_width": "0"})
        super().__init__(**kwargs)
        self._figure = go.Figure() if figure is None else figure
        self._click_handlers: list[ClickHandler] = []
        self._figure_json = figure_json(self._figure)
        self.on_msg(self._on_frontend_message)

    @property
    def figure(self) -> go.Figure:
        """The figure drawn."""
        return self._figure

    @figure.setter
    def figure(self, figure: go.Figure) -> None:
        self._figure = figure
        self._figure_json = figure_json(figure)

    def on_click(self, handler: ClickHandler) -> None:
        """Call ``handler(trace_index, point_index)`` on every click on a point."""
        self._click_handlers.append(handler)

    def click(self, trace_index: int, point_index: int) -> None:
        """Act as if the user clicked point ``point_index`` of trace ``trace_index``."""
        self._on_frontend_message(self, {"type": "click", "trace": trace_index,
                                         "point": point_index}, [])  # fmt: skip

    def _on_frontend_message(self, _widget: object, content: Any, _buffers: object) -> None:
        if not isinstance(content, dict):
            return
        if content.get("type") == "need plotly.js":
            self.send({"type": "plotly.js"}, buffers=[plotly_bundle_gzipped()])
        elif content.get("type") == "click":
            trace, point = int(content["trace"]), int(content["point"])
            if 0 <= trace < len(self._figure.data):
                for handler in self._click_handlers:
                    handler(trace, point)
