"""The explorer's data grid: ipydatagrid's streaming grid with rows kept by a mask.

ipydatagrid's ``StreamingDataGrid`` keeps the table in the kernel and sends the browser
only the rows on screen, sorted and filtered by the column headers' menus (its
"transforms", applied in the kernel). :class:`MaskedGrid` adds one step in front of
those: only the rows of ``keep`` (the explorer's own filters) take part. Changing
``keep`` re-runs the transforms and tells the browser the new row count, as a header
filter does. Replacing the grid's ``data`` instead would serialise the whole table
again and make the browser rebuild its data and selection models at every filter.

>>> grid = MaskedGrid(table, selection_mode="row")  # doctest: +SKIP
>>> grid.show_rows(table["handshake"].to_numpy() == "refused")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from ipydatagrid import StreamingDataGrid
from traitlets import observe


class MaskedGrid(StreamingDataGrid):
    """A streaming data grid of ``table`` showing the rows where ``keep`` is true.

    ``rows`` holds what the grid shows, in its order: the kept rows, after the
    headers' sort and filters.
    """

    def __init__(self, table: pd.DataFrame, **kwargs: Any) -> None:
        self._table = table
        self._keep = np.ones(len(table), dtype=bool)
        self.rows = table
        super().__init__(table, **kwargs)
        # ipydatagrid 1.4's DataGrid handler reads content["event_type"], which the
        # streaming grid's own row requests lack: each scroll raised a KeyError whose
        # traceback the kernel formatted and published (1.5 s on a loaded machine,
        # before the rows went out). It handles cell edits and clicks, which carry one.
        self._grid_events = self._DataGrid__handle_custom_msg
        self.on_msg(self._grid_events, remove=True)
        self.on_msg(self._on_grid_event)

    def show_rows(self, keep: npt.NDArray[np.bool_]) -> None:
        """Show only the rows of the table where ``keep`` is true (headers' sort kept)."""
        self._keep = keep
        self._on_transforms_changed({"new": list(self._transforms)})

    def _on_grid_event(self, widget: object, content: dict[str, Any], buffers: list) -> None:
        if "event_type" in content:
            self._grid_events(widget, content, buffers)

    @observe("_transforms")
    def _on_transforms_changed(self, change: dict[str, Any]) -> None:
        """The kept rows through the headers' transforms; the browser re-asks for its rows."""
        kept = self._table.loc[self._keep]
        self.rows = self._apply_frontend_transforms(change["new"], kept)
        # The streaming grid serves the browser's row requests from _transformed_data.
        self._transformed_data = self.rows
        self._row_count = len(self.rows)
        self.tick()
