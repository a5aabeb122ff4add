"""``DataFrame.hs``: hskit's helpers on a segments or connections table, like pandas' ``df.str``.

``import hskit`` registers it. The accessor tells once, from the columns, which table it
is on (a whole segments or connections table, extra columns allowed); each method
declares the tables it works on, and any other raises :class:`hskit.errors.SchemaError`
naming them. Nothing is cached: a method on a changed table sees the change.

>>> import hskit
>>> segments = hskit.load(hskit.samples.path("close_client_first")).segments
>>> segments.hs.filter("syn")["frame"].tolist()
[1]
>>> connections = segments.hs.connections()
>>> connections.hs.filter("SF")["stream"].tolist()
[0]
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from hskit import filters, schema
from hskit.errors import SchemaError
from hskit.label_counts import COUNTED, label_counts

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from hskit.diagnose import Thresholds

SEGMENTS = "segments"
CONNECTIONS = "connections"
#: the tables the accessor works on, and the columns that make a DataFrame one of them.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    SEGMENTS: schema.SEGMENT_COLUMNS,
    CONNECTIONS: schema.CONNECTION_COLUMNS,
}

Method = TypeVar("Method", bound=Callable[..., Any])


def table_kind(frame: pd.DataFrame) -> str:
    """``"segments"`` or ``"connections"``: the table whose columns ``frame`` has.

    >>> table_kind(hskit.schema.empty_connections())
    'connections'
    """
    present = set(frame.columns)
    for kind, columns in TABLE_COLUMNS.items():
        if present.issuperset(columns):
            return kind
    closest = min(TABLE_COLUMNS, key=lambda kind: len(set(TABLE_COLUMNS[kind]) - present))
    missing = [name for name in TABLE_COLUMNS[closest] if name not in present]
    raise SchemaError(
        f"df.hs works on a {' or a '.join(TABLE_COLUMNS)} table (all of its columns, as "
        f"hskit.load and hskit.classify give them); this DataFrame lacks the {closest} "
        f"columns {', '.join(missing)}"
    )


def works_on(*kinds: str) -> Callable[[Method], Method]:
    """Declare the tables a method works on; on any other it raises ``SchemaError``."""

    def declare(method: Method) -> Method:
        @functools.wraps(method)
        def checked(self: HsAccessor, *args: Any, **kwargs: Any) -> Any:
            if self.kind not in kinds:
                raise SchemaError(
                    f"df.hs.{method.__name__}() works on a {' or a '.join(kinds)} table, "
                    f"not on a {self.kind} table"
                )
            return method(self, *args, **kwargs)

        checked.table_kinds = kinds  # type: ignore[attr-defined]
        return checked  # type: ignore[return-value]

    return declare


@pd.api.extensions.register_dataframe_accessor("hs")
class HsAccessor:
    """hskit's helpers on a segments or connections table: ``df.hs.stream(3)`` and so on."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame
        #: ``"segments"`` or ``"connections"``: which table this is.
        self.kind = table_kind(frame)

    @works_on(SEGMENTS, CONNECTIONS)
    def stream(self, stream: int | Iterable[int]) -> pd.DataFrame:
        """The rows of one stream (or of several); empty when the table has none of them.

        >>> cap.segments.hs.stream(3)  # doctest: +SKIP
        """
        wanted = [stream] if isinstance(stream, int | np.integer) else list(stream)
        return self._frame[self._frame["stream"].isin(wanted)]

    @works_on(SEGMENTS, CONNECTIONS)
    def filter(self, name: str) -> pd.DataFrame:
        """The rows matching ``name``: on segments a pattern of :mod:`hskit.filters`
        (``"syn"``, ``"rst"``, ``"data"`` …), on connections a label of ``handshake``,
        ``termination`` or ``conn_state`` (``"refused"``, ``"fin_4way"``, ``"SF"`` …).

        >>> cap.segments.hs.filter("syn-ack")  # doctest: +SKIP
        >>> cap.connections.hs.filter("no_final_ack")  # doctest: +SKIP
        """
        if self.kind == SEGMENTS:
            return self._frame[filters.mask(self._frame, name)]
        column = next((c for c in COUNTED if name in schema.VOCABULARIES[c].labels), None)
        if column is None:
            labels = [label for c in COUNTED for label in schema.VOCABULARIES[c].labels]
            raise ValueError(f"unknown label {name!r}; choose one of {', '.join(labels)}")
        return self._frame[self._frame[column].to_numpy() == name]

    @works_on(SEGMENTS)
    def ladder(self, stream: int | None = None, **options: Any) -> go.Figure:
        """The ladder diagram of ``stream`` (default: the table's first) as a plotly figure.

        ``options`` are those of :func:`hskit.views.ladder_figure` (``spacing="time"`` …).

        >>> cap.segments.hs.ladder(0, spacing="time").write_html("stream0.html")  # doctest: +SKIP
        """
        from hskit.classify import classify
        from hskit.views.ladder import ladder_figure

        if stream is None:
            if self._frame.empty:
                raise ValueError("no segments: there is no stream to draw")
            stream = int(self._frame["stream"].iloc[0])
        rows = self.stream(stream)
        connections, _ = classify(rows)
        return ladder_figure(rows, connections, stream, **options)

    @works_on(SEGMENTS, CONNECTIONS)
    def summary(self) -> pd.DataFrame:
        """Connections counted by ``handshake``, ``termination`` and ``conn_state`` label,
        most frequent first: the counts ``hskit summary`` prints.

        >>> cap.connections.hs.summary().loc["handshake"]  # doctest: +SKIP
        """
        return label_counts(self._connections())

    @works_on(SEGMENTS)
    def connections(self, **options: Any) -> pd.DataFrame:
        """The connections table of these segments (``hskit.classify``; ``options`` are its
        keywords, e.g. ``time_wait=30.0``).

        >>> cap.segments.hs.filter("data").hs.connections()  # doctest: +SKIP
        """
        return self._classify(**options)[0]

    @works_on(SEGMENTS)
    def states(self, **options: Any) -> pd.DataFrame:
        """The endpoint states of these segments (``hskit.classify``, with its keywords)."""
        return self._classify(**options)[1]

    @works_on(SEGMENTS)
    def diagnose(self, thresholds: Thresholds | None = None, **overrides: Any) -> pd.DataFrame:
        """Findings of these segments, as ``Capture.diagnose`` gives them.

        >>> segments.hs.diagnose(stall_time=5.0)  # doctest: +SKIP
        """
        from hskit.diagnose import diagnose

        connections, states = self._classify()
        return diagnose(self._frame, connections, states, thresholds, **overrides)

    def _classify(self, **options: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        from hskit.classify import classify

        return classify(self._frame, **options)

    def _connections(self) -> pd.DataFrame:
        return self._frame if self.kind == CONNECTIONS else self._classify()[0]
