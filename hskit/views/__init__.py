"""Views of a capture: plotly figure builders (usable anywhere) and JupyterLab widgets.

The figure builders are pure functions of the segments, connections and states tables
and return ``plotly.graph_objects.Figure`` (``fig.write_html`` works outside Jupyter);
the widgets wrap them with controls for exploring in JupyterLab.

>>> from hskit import views
>>> fig = views.ladder_figure(cap.segments, cap.connections, 0)  # doctest: +SKIP
>>> views.explorer(cap)  # doctest: +SKIP
"""

from hskit.views.ladder import capture_vantage, ladder_figure
from hskit.views.summary import handshake_figure, handshake_rtt_figure, termination_figure
from hskit.views.tables import WrappedTable, wrapped
from hskit.views.timeline import (
    connections_timeline_figure,
    state_counts,
    state_counts_figure,
    state_timeline_figure,
)
from hskit.views.widgets import (
    Explorer,
    LadderWidget,
    TimelineWidget,
    explorer,
    ladder_widget,
    timeline_widget,
)

__all__ = [
    "Explorer",
    "LadderWidget",
    "TimelineWidget",
    "WrappedTable",
    "capture_vantage",
    "connections_timeline_figure",
    "explorer",
    "handshake_figure",
    "handshake_rtt_figure",
    "ladder_figure",
    "ladder_widget",
    "state_counts",
    "state_counts_figure",
    "state_timeline_figure",
    "termination_figure",
    "timeline_widget",
    "wrapped",
]
