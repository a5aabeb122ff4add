"""Who talked to whom, when and how much: the identity and size columns of connections.

Packets and bytes leave out duplicate captures of one frame, and bytes the byte of
keep-alive probes (see :mod:`hskit.classify.rows`); bytes are TCP payload bytes as
sent, retransmissions included.

>>> from hskit import schema
>>> index = StreamIndex.from_streams([])
>>> rows = Rows.from_segments(schema.empty_segments(), index)
>>> sorted(identity(schema.empty_segments(), rows, index))[:3]
['bytes_c2s', 'bytes_s2c', 'client_ip']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hskit.classify.rows import Rows
from hskit.classify.streams import StreamIndex


def identity(segments: pd.DataFrame, rows: Rows, index: StreamIndex) -> dict[str, object]:
    """Identity and size columns of every stream, one array per column."""
    first_rows = index.order[index.starts]
    sent_by_client = rows.client[index.starts]

    def endpoint(src: str, dst: str) -> object:
        source, destination = segments[src], segments[dst]
        if isinstance(source.dtype, pd.CategoricalDtype) and source.dtype == destination.dtype:
            codes = np.where(
                sent_by_client,
                source.cat.codes.to_numpy()[first_rows],
                destination.cat.codes.to_numpy()[first_rows],
            )
            return pd.Categorical.from_codes(codes, dtype=source.dtype, validate=False)
        if isinstance(source.dtype, np.dtype) and source.dtype == destination.dtype:
            return np.where(
                sent_by_client, source.to_numpy()[first_rows], destination.to_numpy()[first_rows]
            )
        source, destination = source.iloc[first_rows], destination.iloc[first_rows]
        return np.where(sent_by_client, source.to_numpy(object), destination.to_numpy(object))

    ns = segments["ts"].to_numpy("datetime64[ns]").view("int64")[index.order]
    if index.size:
        first_ns = np.minimum.reduceat(ns, index.starts)
        last_ns = np.maximum.reduceat(ns, index.starts)
    else:
        first_ns = last_ns = np.zeros(0, dtype=np.int64)
    unique = ~rows.duplicate
    to_server, to_client = unique & rows.client, unique & ~rows.client
    payload = np.where(rows.keep_alive, np.uint32(0), rows.payload_len)
    return {
        "stream": index.ids,
        "client_ip": endpoint("src_ip", "dst_ip"),
        "client_port": endpoint("src_port", "dst_port"),
        "server_ip": endpoint("dst_ip", "src_ip"),
        "server_port": endpoint("dst_port", "src_port"),
        "ip_version": segments["ip_version"].to_numpy()[first_rows],
        "first_ts": pd.to_datetime(first_ns, unit="ns", utc=True),
        "last_ts": pd.to_datetime(last_ns, unit="ns", utc=True),
        "duration": (last_ns - first_ns) / 1e9,
        "packets_c2s": index.count(to_server),
        "packets_s2c": index.count(to_client),
        "bytes_c2s": _sum(np.where(to_server, payload, np.uint32(0)), index),
        "bytes_s2c": _sum(np.where(to_client, payload, np.uint32(0)), index),
    }


def _sum(values: np.ndarray, index: StreamIndex) -> np.ndarray:
    if index.size == 0:
        return np.zeros(0, dtype=np.uint64)
    return np.add.reduceat(values, index.starts, dtype=np.uint64)
