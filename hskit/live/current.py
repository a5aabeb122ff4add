"""Each endpoint's state right now, kept from ring file to ring file.

An endpoint's current state is its last state interval, in table order, that began at
or before the capture's last time (a TIME_WAIT still running is TIME_WAIT; the CLOSED
after it begins later). A stream's state rows change only when the classifier
classifies it again; what else changes with the capture's last time is which of its
intervals have begun. So :class:`CurrentStates` reads the state rows of the streams
classified again (:attr:`hskit.live.incremental.Classified.replaced`), keeps the
intervals that have not begun yet aside, and lets them begin as the last time passes
their start: a file costs what it touched, not every connection held.

>>> current = CurrentStates()
>>> current.update(cap.states, None, now=float(cap.segments["time"].max()))  # doctest: +SKIP
>>> current.connections(cap.connections)[["client_state", "server_state"]]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hskit import schema

if TYPE_CHECKING:
    import numpy.typing as npt

#: the endpoints, in the order of the kept arrays' columns.
ENDPOINTS = tuple(schema.ENDPOINT_DTYPE.categories)
#: the current state's code where an endpoint has no interval begun (NaN in the table).
NONE = -1


class CurrentStates:
    """``client_state``/``server_state`` of every stream, grown with the streams
    classified again at each file.

    Per stream and endpoint it keeps the code of the current state and the table
    position (rank) of its interval; the intervals of those streams that begin after the
    last time are kept aside (start, rank, code) and take over once the last time
    reaches their start, if they come later in the table than the current one.

    >>> current = CurrentStates()
    >>> states = pd.DataFrame({"stream": [0, 0, 0], "endpoint": ["client"] * 3,
    ...                        "state": ["ESTABLISHED", "TIME_WAIT", "CLOSED"],
    ...                        "start": [0.0, 1.0, 61.0]})
    >>> current.update(states, None, now=2.0)
    >>> current.codes(np.array([0]))[0].tolist() == [schema.TCP_STATES.index("TIME_WAIT"), -1]
    True
    >>> current.update(states.iloc[:0], np.zeros(0, np.int64), now=61.0)  # nothing touched
    >>> str(current.connections(pd.DataFrame({"stream": [0]}))["client_state"][0])
    'CLOSED'
    """

    def __init__(self) -> None:
        #: per stream (rows) and endpoint (columns): the current state's code, and the
        #: rank of its interval (-1: none begun).
        self._code = np.full((0, len(ENDPOINTS)), NONE, np.int8)
        self._rank = np.full((0, len(ENDPOINTS)), -1, np.int64)
        #: the intervals not begun yet: start, stream, endpoint, rank, code.
        self._later = _no_intervals()

    def update(
        self, states: pd.DataFrame, replaced: npt.NDArray[np.int64] | None, now: float
    ) -> None:
        """Take in ``states`` (the whole table, by stream) after the streams ``replaced``
        (None: every stream) were classified again, as of the capture's last time
        ``now``."""
        stream = states["stream"].to_numpy(np.int64)
        if replaced is None:
            self._code, self._rank = self._code[:0], self._rank[:0]
            self._later = _no_intervals()
            at = np.arange(len(states))
            replaced = np.unique(stream)
        else:
            at = _rows_of_streams(stream, replaced)
        size = max(len(self._code), int(stream.max()) + 1 if len(stream) else 0)
        self._code, self._rank = _grown(self._code, size, NONE), _grown(self._rank, size, -1)
        self._code[replaced[replaced < size]] = NONE
        self._rank[replaced[replaced < size]] = -1
        kept = ~np.isin(self._later["stream"], replaced)
        rows = {
            "start": states["start"].to_numpy(np.float64)[at],
            "stream": stream[at],
            "endpoint": _codes(states["endpoint"].array[at], schema.ENDPOINT_DTYPE),
            "rank": at.astype(np.int64),
            "code": _codes(states["state"].array[at], schema.TCP_STATE_DTYPE),
        }
        later = {name: np.concatenate([self._later[name][kept], rows[name]]) for name in rows}
        begun = later["start"] <= now
        self._take(*(later[name][begun] for name in ("stream", "endpoint", "rank", "code")))
        self._later = {name: later[name][~begun] for name in later}

    def _take(
        self,
        stream: npt.NDArray[np.int64],
        endpoint: npt.NDArray[np.int64],
        rank: npt.NDArray[np.int64],
        code: npt.NDArray[np.int64],
    ) -> None:
        """Make each begun interval current where it comes later in the table than the
        current one of its endpoint (the last of them per endpoint)."""
        if not len(stream):
            return
        later = rank > self._rank[stream, endpoint]
        stream, endpoint, rank, code = stream[later], endpoint[later], rank[later], code[later]
        order = np.lexsort((rank, endpoint, stream))
        key = stream[order] * len(ENDPOINTS) + endpoint[order]
        last = order[np.r_[key[1:] != key[:-1], True]] if len(key) else order
        self._code[stream[last], endpoint[last]] = code[last]
        self._rank[stream[last], endpoint[last]] = rank[last]

    def codes(self, streams: npt.NDArray[np.int64]) -> npt.NDArray[np.int8]:
        """The current state codes of ``streams`` (rows) per endpoint (columns), -1 where
        none has begun."""
        known = streams < len(self._code)
        codes = np.full((len(streams), len(ENDPOINTS)), NONE, np.int8)
        codes[known] = self._code[streams[known]]
        return codes

    def connections(self, connections: pd.DataFrame) -> pd.DataFrame:
        """``connections`` with ``client_state`` and ``server_state`` (the live table)."""
        codes = self.codes(connections["stream"].to_numpy(np.int64))
        current = {
            f"{side}_state": pd.Categorical.from_codes(
                codes[:, column], dtype=schema.LIVE_CONNECTION_DTYPES[f"{side}_state"]
            )
            for column, side in enumerate(ENDPOINTS)
        }
        return connections.assign(**current)


def _no_intervals() -> dict[str, npt.NDArray]:
    """The columns of no interval kept aside (start, stream, endpoint, rank, code).

    >>> sorted(_no_intervals())
    ['code', 'endpoint', 'rank', 'start', 'stream']
    """
    return {
        "start": np.zeros(0, np.float64),
        "stream": np.zeros(0, np.int64),
        "endpoint": np.zeros(0, np.int64),
        "rank": np.zeros(0, np.int64),
        "code": np.zeros(0, np.int64),
    }


def _codes(values: pd.api.extensions.ExtensionArray, dtype: pd.CategoricalDtype) -> npt.NDArray:
    """The codes of categorical ``values`` in ``dtype``'s categories.

    >>> _codes(pd.Categorical(["server"]), schema.ENDPOINT_DTYPE).tolist()
    [1]
    """
    return pd.Categorical(values, dtype=dtype).codes.astype(np.int64)


def _grown(array: npt.NDArray, size: int, fill: int) -> npt.NDArray:
    """``array`` with rows up to ``size``, the new ones ``fill``.

    >>> _grown(np.zeros((1, 2), np.int8), 3, -1).tolist()
    [[0, 0], [-1, -1], [-1, -1]]
    """
    if len(array) >= size:
        return array
    more = np.full((size - len(array), array.shape[1]), fill, array.dtype)
    return np.concatenate([array, more])


def _rows_of_streams(
    stream: npt.NDArray[np.int64], numbers: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """The positions of the rows of the streams ``numbers`` in a table sorted by
    ``stream``: a binary search per stream, not a pass over the table.

    >>> _rows_of_streams(np.array([0, 0, 2, 3, 3]), np.array([0, 3, 5])).tolist()
    [0, 1, 3, 4]
    """
    low = np.searchsorted(stream, numbers, side="left")
    high = np.searchsorted(stream, numbers, side="right")
    sizes = high - low
    starts = np.repeat(low - np.cumsum(sizes) + sizes, sizes)
    return starts + np.arange(int(sizes.sum()))
