"""The connection explorer: every connection in a data grid, linked to the ladder and timeline.

The grid is ipydatagrid's ``StreamingDataGrid`` (Bloomberg's Lumino data grid, with the
explorer's filters in front: :class:`~hskit.views.grid.MaskedGrid`): the browser asks
the kernel only for the rows on screen, so 50,000 connections scroll as
smoothly as 50; a column header's menu sorts by that column (applied in the kernel),
arrow keys move the selected row. Above the grid, one dropdown per label column lists
each value with the number of connections that have it (among those passing the other
filters), an address box narrows to an ``ip``, ``:port`` or ``ip:port`` of either end,
and a button clears every filter and the sort. Selecting a row (click or arrow keys)
shows that connection's ladder and state timeline, side by side below the grid; a
click on an arrow puts its frame's dissection under the timeline.

>>> view = Explorer(cap)  # doctest: +SKIP
>>> view.handshake.value = "refused"; view.sort("duration_s", descending=True)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import numpy.typing as npt
import pandas as pd

from hskit.timing import endpoint_text
from hskit.views.widgets import LadderWidget, Quiet, TimelineWidget

if TYPE_CHECKING:
    from hskit.capture import Capture

#: The label columns with a filter dropdown, as named in the connections table.
FILTER_COLUMNS: tuple[str, ...] = ("handshake", "termination", "conn_state")
#: A filter dropdown's value for "no filter".
ANY = ""
#: Heights (px) in the explorer: the filters, the grid (8 rows), the ladder with its
#: control bar, and beside it the timeline over the dissection, all on a 1600x1000 screen
#: in JupyterLab without scrolling.
LADDER_HEIGHT = 450
_GRID_HEIGHT = "200px"
_DISSECTION_HEIGHT = "250px"
#: Wide enough for each header's name beside its menu icon.
COLUMN_WIDTHS = {
    "stream": 76, "client": 165, "server": 165, "handshake": 130, "termination": 130,
    "conn_state": 100, "history": 100, "packets": 82, "bytes": 80, "start_s": 90,
    "duration_s": 104, "handshake_ms": 124,
}  # fmt: skip


def connection_grid_table(cap: Capture) -> pd.DataFrame:
    """The explorer's rows: one per connection, the columns an analyst sorts and filters by.

    ``start_s`` is the connection's first segment time (seconds into the capture),
    ``handshake_ms`` SYN to final ACK as captured (NaN when incomplete).

    >>> connection_grid_table(cap).columns.tolist()[:3]  # doctest: +SKIP
    ['stream', 'client', 'server']
    """
    connections = cap.connections
    streams = connections["stream"].to_numpy(np.int64)
    start = cap.segments.groupby("stream", sort=True)["time"].min()
    table = pd.DataFrame(
        {
            "stream": streams,
            "client": endpoint_text(connections["client_ip"], connections["client_port"]),
            "server": endpoint_text(connections["server_ip"], connections["server_port"]),
        }
    )
    for column in (*FILTER_COLUMNS, "history"):
        table[column] = connections[column].astype("string").fillna("-").to_numpy()
    table["packets"] = connections["packets_c2s"].to_numpy(np.int64) + connections[
        "packets_s2c"
    ].to_numpy(np.int64)
    table["bytes"] = connections["bytes_c2s"].to_numpy(np.int64) + connections[
        "bytes_s2c"
    ].to_numpy(np.int64)
    table["start_s"] = start.reindex(streams).to_numpy(float).round(6)
    table["duration_s"] = connections["duration"].to_numpy(float).round(6)
    table["handshake_ms"] = (connections["handshake_time"].to_numpy(float) * 1e3).round(3)
    table = table.astype({"client": "string", "server": "string"})
    return table.astype(
        {column: object for column in table.columns if table[column].dtype == "string"}
    )


def value_counts_options(values: pd.Series, vocabulary: list[str]) -> list[tuple[str, str]]:
    """Dropdown options ``("label (count)", label)``, most frequent first, and "any" on top.

    >>> value_counts_options(pd.Series(["a", "b", "a"]), ["a", "b"])
    [('any (3)', ''), ('a (2)', 'a'), ('b (1)', 'b')]
    """
    counts = values.value_counts()
    counts = counts.reindex(sorted(set(vocabulary) | set(counts.index)), fill_value=0)
    counts = counts.sort_values(ascending=False, kind="stable")
    return [(f"any ({len(values):,})", ANY)] + [
        (f"{label} ({count:,})", label) for label, count in counts.items()
    ]


class Explorer(Quiet, widgets.VBox):
    """The connection grid with filters, linked to a ladder and a state timeline.

    Parts: ``handshake``, ``termination``, ``conn_state`` (dropdowns with counts; ``""``
    = any), ``search`` (``ip``, ``:port`` or ``ip:port`` of either end), ``clear``
    (button), ``count``, ``grid`` (ipydatagrid ``StreamingDataGrid``), ``ladder``
    (:class:`LadderWidget`) and ``timeline`` (:class:`TimelineWidget`).

    >>> view = Explorer(cap)  # doctest: +SKIP
    >>> view.handshake.value = "refused"  # doctest: +SKIP
    """

    def __init__(self, cap: Capture) -> None:
        from hskit.views.grid import MaskedGrid  # ipydatagrid: imported with the explorer

        self.cap = cap
        self._table = connection_grid_table(cap)
        self._search_text = (self._table["client"] + " → " + self._table["server"]).to_numpy()
        self.handshake, self.termination, self.conn_state = (
            widgets.Dropdown(description=column, style={"description_width": "initial"},
                             layout={"width": "auto", "max_width": "22em"})
            for column in FILTER_COLUMNS
        )  # fmt: skip
        self.search = widgets.Text(
            description="address",
            placeholder="ip, :port or ip:port (Enter)",
            continuous_update=False,
            style={"description_width": "initial"},
            layout={"width": "18em"},
        )
        self.clear = widgets.Button(description="clear filters", icon="times",
                                    layout={"width": "auto"})  # fmt: skip
        self.count = widgets.HTML()
        self.grid = MaskedGrid(
            self._table,
            selection_mode="row",
            header_visibility="column",
            base_row_size=22,
            base_column_size=90,
            column_widths=COLUMN_WIDTHS,
            layout={"height": _GRID_HEIGHT, "width": "100%"},
        )
        self.ladder = LadderWidget(cap, picker=False, max_height=LADDER_HEIGHT,
                                   details_beside=False)  # fmt: skip
        self.timeline = TimelineWidget(cap, self.ladder.stream, picker=False, compact=True)
        self._apply_filters()
        for control in (self.handshake, self.termination, self.conn_state, self.search):
            control.observe(self._on_filter, names="value")
        self.clear.on_click(self._on_clear)
        self.grid.observe(self._on_selection, names="selections")
        # A sort or a filter from a column header's menu reorders the rows: select the first.
        self.grid.observe(self._on_transforms, names="_transforms")
        filters = widgets.HBox(
            [self.handshake, self.termination, self.conn_state, self.search, self.clear,
             self.count],
            layout={"flex_flow": "row wrap", "align_items": "center"},
        )  # fmt: skip
        self.ladder.details.layout = {"max_height": _DISSECTION_HEIGHT, "overflow": "auto",
                                      "width": "100%"}  # fmt: skip
        beside = widgets.VBox([self.timeline, self.ladder.details],
                              layout={"flex": "2 1 380px", "min_width": "0"})  # fmt: skip
        self.ladder.layout = {"flex": "3 1 560px", "min_width": "0"}
        views = widgets.HBox(
            [self.ladder, beside],
            layout={"flex_flow": "row wrap", "align_items": "flex-start", "width": "100%",
                    "margin": "6px 0 0 0"},
        )  # fmt: skip
        super().__init__([filters, self.grid, views])
        self.add_class("hskit-explorer")

    def filtered(self) -> pd.DataFrame:
        """The connection rows that pass every filter (in the grid: before its sort)."""
        return self.cap.connections.loc[self._mask()]

    def shown_streams(self) -> npt.NDArray[np.int64]:
        """The streams in the grid's rows, in the grid's order (filters and sort applied)."""
        return self.grid.rows["stream"].to_numpy(np.int64)

    def sort(self, column: str, *, descending: bool = False) -> None:
        """Sort the grid by ``column``, as its header menu does; the first row is selected."""
        if column not in self._table.columns:
            raise ValueError(f"no column {column!r}; columns: {', '.join(self._table.columns)}")
        others = [t for t in self.grid._transforms if t.get("type") != "sort"]
        self.grid.transform([*others, {"type": "sort", "column": column, "desc": descending}])

    def select_row(self, row: int) -> None:
        """Select the grid's row ``row`` (0-based, in the grid's order): the views follow."""
        last = len(self._table.columns) - 1
        self.grid.selections = [{"r1": row, "c1": 0, "r2": row, "c2": last}]
        self._show_row(row)  # the same row of new rows is no change to the grid

    def _mask(self) -> np.ndarray:
        table = self._table
        mask = np.ones(len(table), dtype=bool)
        for control, column in self._filters():
            if _chosen(control) != ANY:
                mask &= table[column].to_numpy() == control.value
        needle = self.search.value.strip()
        if needle:
            mask &= pd.Series(self._search_text).str.contains(needle, regex=False).to_numpy(bool)
        return mask

    def _filters(self) -> list[tuple[widgets.Dropdown, str]]:
        return list(zip((self.handshake, self.termination, self.conn_state), FILTER_COLUMNS,
                        strict=True))  # fmt: skip

    def _update_filter_options(self) -> None:
        """Each dropdown counts its values among the rows that pass the *other* filters."""
        from hskit import schema

        vocabularies = {
            "handshake": schema.HANDSHAKE_LABELS,
            "termination": schema.TERMINATION_LABELS,
            "conn_state": schema.CONN_STATES,
        }
        table = self._table
        with self._quietly():
            for control, column in self._filters():
                kept = _chosen(control)
                others = np.ones(len(table), dtype=bool)
                for other, other_column in self._filters():
                    if other is not control and _chosen(other) != ANY:
                        others &= table[other_column].to_numpy() == other.value
                options = value_counts_options(table.loc[others, column],
                                               list(vocabularies[column]))  # fmt: skip
                control.options = options
                control.value = kept if kept in {value for _, value in options} else ANY

    def _apply_filters(self) -> None:
        self._update_filter_options()
        mask = self._mask()
        self.grid.show_rows(mask)
        self.count.value = f"<b>{int(mask.sum()):,}</b> of {len(mask):,} connections"
        self._select_first()

    def _select_first(self) -> None:
        if len(self.shown_streams()):
            self.select_row(0)

    def _on_filter(self, _change: object) -> None:
        if not self._quiet:
            self._apply_filters()

    def _on_clear(self, _button: object) -> None:
        with self._quietly():
            for control, _column in self._filters():
                control.value = ANY
            self.search.value = ""
            self.grid.revert()
        self._apply_filters()

    def _on_transforms(self, _change: object) -> None:
        if not self._quiet:
            self._select_first()

    def _on_selection(self, change: dict[str, Any]) -> None:
        selections = change["new"]
        if not selections:
            return
        self._show_row(int(selections[-1]["r1"]))

    def _show_row(self, row: int) -> None:
        """Point the ladder and the timeline at the connection in grid row ``row``."""
        streams = self.shown_streams()
        if 0 <= row < len(streams):
            stream = int(streams[row])
            if stream != self.ladder.stream:
                self.ladder.show(stream)
            if stream != self.timeline.stream:
                self.timeline.show(stream)


def _chosen(control: widgets.Dropdown) -> str:
    """A filter dropdown's value, :data:`ANY` before it has options."""
    return control.value if control.value is not None else ANY
