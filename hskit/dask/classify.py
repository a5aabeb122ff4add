"""``classify`` on a Dask DataFrame of segments: connections and states, equal to in-memory.

Every connection is whole in one partition (:func:`hskit.dask.by_connection`), so
hskit's own classifier (:func:`hskit.classify`) runs on each partition unchanged. One
thing of the whole capture enters a partition's result: the capture's end, where the
last interval of an endpoint that never reached CLOSED ends; the partition's own end is
replaced by the capture's (the rule of :func:`hskit.classify.states.endpoint_states`).

>>> import hskit.dask as hd
>>> segments = hd.read_segments("sample_pcaps/refused.pcap")  # doctest: +SKIP
>>> hd.compute(*hd.classify(segments))[0]["handshake"].tolist()  # doctest: +SKIP
['refused']
"""

from __future__ import annotations

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

import hskit
from hskit import schema
from hskit.dask.regroup import Catalog, conversations, numbered

#: the connections' address columns, whose categories a partition knows only when read.
_ADDRESS_COLUMNS = ["client_ip", "server_ip"]


def classify(
    segments: dd.DataFrame,
    *,
    time_wait: float = schema.DEFAULT_TIME_WAIT,
    npartitions: int | None = None,
) -> tuple[dd.DataFrame, dd.DataFrame]:
    """``(connections, states)`` of ``segments`` as Dask DataFrames, one partition per
    shuffled partition, each sorted by ``stream``; :func:`compute` gives the pandas tables
    exactly as ``hskit.load(...).connections`` / ``.states``.

    >>> connections, states = hd.classify(hd.read_segments("ring/"))  # doctest: +SKIP
    """
    local, catalog = conversations(segments, npartitions)
    parts = [
        dask.delayed(_classify_part, pure=True, nout=2)(part, catalog, time_wait)
        for part in local.to_delayed(optimize_graph=False)
    ]
    connections = dd.from_delayed(
        [part[0] for part in parts], meta=_meta(schema.empty_connections()), verify_meta=False
    )
    states = dd.from_delayed(
        [part[1] for part in parts], meta=schema.empty_states(), verify_meta=False
    )
    return connections, states


def _classify_part(
    part: pd.DataFrame, catalog: Catalog, time_wait: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    connections, states = hskit.classify(numbered(part, catalog), time_wait=time_wait)
    return connections, open_until(states, catalog.capture_end)


def open_until(states: pd.DataFrame, capture_end: float) -> pd.DataFrame:
    """``states`` with each endpoint's last interval, unless CLOSED, ending at
    ``capture_end`` (or at its start, if later), as in a classification of the whole capture.

    >>> open_until(states_of_one_partition, 120.0)  # doctest: +SKIP
    """
    if states.empty:
        return states
    stream = states["stream"].to_numpy()
    endpoint = states["endpoint"].cat.codes.to_numpy()
    last = np.ones(len(states), dtype=bool)
    last[:-1] = (stream[1:] != stream[:-1]) | (endpoint[1:] != endpoint[:-1])
    still_open = last & (states["state"] != "CLOSED").to_numpy()
    end = states["end"].to_numpy(copy=True)
    start = states["start"].to_numpy()
    end[still_open] = np.maximum(capture_end, start[still_open])
    return states.assign(end=end)


def compute(connections: dd.DataFrame, states: dd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables as pandas, in one Dask computation, ordered by stream as in memory.

    >>> connections, states = hd.compute(*hd.classify(segments))  # doctest: +SKIP
    """
    connections, states = dask.compute(connections, states)
    return in_stream_order(connections), in_stream_order(states)


def in_stream_order(table: pd.DataFrame) -> pd.DataFrame:
    """Partitions' rows put together in ``stream`` order (a stable sort: each stream's
    rows keep their order), index 0, 1 …

    >>> in_stream_order(pd.DataFrame({"stream": [2, 0]}))["stream"].tolist()
    [0, 2]
    """
    return table.sort_values("stream", kind="stable", ignore_index=True)


def _meta(empty: pd.DataFrame) -> pd.DataFrame:
    return dd.utils.clear_known_categories(empty, cols=_ADDRESS_COLUMNS)
