"""The connections and states of a growing capture, classified again only where it grew.

``hskit.classify`` works per stream: a connection's row and its state intervals depend
on that stream's segments, and on the capture's last time only through the end of each
endpoint's last interval (which runs to the capture's end unless it is CLOSED). So when
a ring file is appended, :class:`Classified` runs the classifier on the rows of the
streams that have segments in the new file (all their rows, earlier files' too), keeps
the cached rows of every other stream, moves those streams' open interval ends to the
new capture end, and puts the rows back in stream order: the tables equal
``hskit.classify`` of the whole capture, at the cost of the touched streams.

>>> tables = Classified()  # doctest: +SKIP
>>> connections, states = tables.update(segments, touched)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hskit.capture import Capture
from hskit.classify import classify
from hskit.schema import TCP_STATES

if TYPE_CHECKING:
    import numpy.typing as npt

    from hskit.capture import LoadReport

_CLOSED = TCP_STATES.index("CLOSED")


class Classified:
    """``(connections, states)`` of a segments table that only grows at its end."""

    def __init__(self) -> None:
        self.tables: tuple[pd.DataFrame, pd.DataFrame] | None = None

    def update(
        self, segments: pd.DataFrame, touched: npt.NDArray[np.int64] | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The tables of ``segments``, which are the previous call's rows plus new rows of
        the streams ``touched`` (``None``: classify everything again)."""
        if self.tables is None or touched is None:
            self.tables = classify(segments)
            return self.tables
        if len(touched) == 0:
            return self.tables
        stream = segments["stream"].to_numpy(np.int64)
        fresh_connections, fresh_states = classify(segments[np.isin(stream, touched)])
        connections, states = self.tables
        kept_connections = connections[~np.isin(connections["stream"].to_numpy(), touched)]
        kept_states = _open_ends_moved(
            states[~np.isin(states["stream"].to_numpy(), touched)], float(segments["time"].max())
        )
        self.tables = (
            _in_stream_order(kept_connections, fresh_connections),
            _in_stream_order(kept_states, fresh_states),
        )
        return self.tables


def _open_ends_moved(states: pd.DataFrame, capture_end: float) -> pd.DataFrame:
    """``states`` (whole streams) with each endpoint's last interval ending at
    ``capture_end``, or where it starts if it is CLOSED: the classifier's rule."""
    if not len(states):
        return states
    stream = states["stream"].to_numpy(np.int64)
    endpoint = states["endpoint"].cat.codes.to_numpy(np.int64)
    last = np.ones(len(states), dtype=bool)
    last[:-1] = (stream[1:] != stream[:-1]) | (endpoint[1:] != endpoint[:-1])
    start = states["start"].to_numpy()
    closed = states["state"].cat.codes.to_numpy() == _CLOSED
    end = states["end"].to_numpy(copy=True)
    end[last] = np.maximum(np.where(closed[last], start[last], capture_end), start[last])
    states = states.copy()
    states["end"] = end
    return states


def _in_stream_order(kept: pd.DataFrame, fresh: pd.DataFrame) -> pd.DataFrame:
    """``kept`` and ``fresh`` rows together, by stream (each stream's own order kept);
    categorical columns take ``fresh``'s categories (addresses seen since ``kept`` was
    classified)."""
    changed = {
        column: dtype
        for column, dtype in fresh.dtypes.items()
        if isinstance(dtype, pd.CategoricalDtype) and dtype != kept[column].dtype
    }
    both = pd.concat([kept.astype(changed), fresh], ignore_index=True)
    order = np.argsort(both["stream"].to_numpy(), kind="stable")
    return both.take(order).reset_index(drop=True)


class ClassifiedCapture(Capture):
    """A :class:`~hskit.capture.Capture` whose tables were classified already.

    >>> tables = Classified().update(segments, None)  # doctest: +SKIP
    >>> capture = ClassifiedCapture(segments, report, tables)  # doctest: +SKIP
    """

    def __init__(
        self,
        segments: pd.DataFrame,
        load_report: LoadReport,
        tables: tuple[pd.DataFrame, pd.DataFrame],
    ) -> None:
        super().__init__(segments, load_report)
        self._classified = tables
