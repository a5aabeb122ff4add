"""``by_connection``: segments regrouped so that every connection is whole in one partition.

The recipe, each step a Dask task per partition:

1. key every row by its direction-independent endpoint pair (a hash of the two
   ``address:port`` endpoints, the same whichever side sent the row);
2. shuffle on that key: all rows of a 4-tuple, from every file, land in one partition;
3. in each partition, order the rows by capture position (``frame``) and split reused
   4-tuples into conversations with hskit's own numbering
   (:func:`hskit.native.streams.streams`, Wireshark's rule), which also gives the
   relative sequence numbers; ``from_client`` comes from :func:`hskit.direction.from_client`;
4. number the conversations globally in order of their first frame (as ``tcp.stream``
   does), from a small catalog of every partition's first frames, and give the address
   columns the set's categories in address order (as the native reader orders them).

>>> import hskit.dask as hd
>>> whole = hd.by_connection(hd.read_segments("sample_pcaps/port_reuse.pcap"))  # doctest: +SKIP
>>> whole.compute().sort_values("frame")["stream"].unique().tolist()  # doctest: +SKIP
[0, 1]
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

import dask
import dask.dataframe as dd
import numpy as np
import numpy.typing as npt
import pandas as pd

from hskit.direction import endpoint_keys, from_client
from hskit.native.streams import streams

#: the shuffle key column, dropped again after the shuffle.
PAIR = "_pair"
#: the local conversation number of a row, before global numbering.
LOCAL = "_local"
_ADDRESS_COLUMNS = ("src_ip", "dst_ip")


@dataclass(frozen=True)
class Catalog:
    """What global numbering needs from every partition: small, one entry per connection.

    >>> Catalog(np.array([1, 7]), ("10.0.0.1",), 0.5).stream_of(np.array([7]))
    array([1])
    """

    #: the first frame of every connection of the capture, sorted.
    first_frames: npt.NDArray[np.int64]
    #: every address, in the native reader's order (IPv4 by value, then IPv6 by value).
    addresses: tuple[str, ...]
    #: the capture's last time (seconds), the end of every interval still open.
    capture_end: float

    def stream_of(self, first_frames: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Global stream numbers of connections starting at ``first_frames``."""
        return np.searchsorted(self.first_frames, first_frames)


def by_connection(segments: dd.DataFrame, npartitions: int | None = None) -> dd.DataFrame:
    """``segments`` shuffled so each connection is whole in one partition, in capture order
    inside it, with ``stream``, ``rel_seq``, ``rel_ack`` and ``from_client`` computed across
    files; ``frame`` must be unique (as :func:`hskit.dask.read_segments` makes it).

    >>> hd.by_connection(hd.read_segments(["a.pcap", "b.pcap"]), npartitions=4)  # doctest: +SKIP
    """
    local, catalog = conversations(segments, npartitions)
    meta = dd.utils.clear_known_categories(segments._meta, cols=list(_ADDRESS_COLUMNS))
    parts = [
        dask.delayed(numbered, pure=True)(part, catalog)
        for part in local.to_delayed(optimize_graph=False)
    ]
    return dd.from_delayed(parts, meta=meta, verify_meta=False)


def conversations(
    segments: dd.DataFrame,
    npartitions: int | None = None,
    *,
    key: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> tuple[dd.DataFrame, dask.delayed]:
    """Steps 1–3 (rows with local conversation numbers in :data:`LOCAL`) and the delayed
    :class:`Catalog` for step 4. ``key`` puts the shuffle key in :data:`PAIR` (default:
    :func:`with_pair`); any key equal for every row of a 4-tuple keeps connections whole,
    e.g. a dataset's connection bucket (:func:`hskit.dask.convert`)."""
    key = key or with_pair
    # meta from the empty table: Dask's made-up sample rows are no addresses
    keyed = segments.map_partitions(key, meta=key(segments._meta))
    shuffled = keyed.shuffle(PAIR, npartitions=npartitions or segments.npartitions)
    local = shuffled.map_partitions(split_conversations)
    summaries = [
        dask.delayed(_summary, pure=True)(part) for part in local.to_delayed(optimize_graph=False)
    ]
    return local, dask.delayed(catalog_of, pure=True)(summaries)


def with_pair(part: pd.DataFrame) -> pd.DataFrame:
    """Step 1: the direction-independent pair key of each row (a hash; equal keys of
    different pairs only share a partition, the split in step 3 uses exact endpoints).

    >>> with_pair(segments_of_one_file)[PAIR].nunique()  # doctest: +SKIP

    The addresses travel as text: each file has its own categories, which Arrow (Dask's
    shuffle format) cannot always unify into one dictionary; step 4 gives them the set's.
    """
    addresses = {column: part[column].astype(str) for column in _ADDRESS_COLUMNS}
    src, dst = (
        pd.util.hash_array(addresses[ip].to_numpy(object))
        ^ (part[port].to_numpy(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        for ip, port in (("src_ip", "src_port"), ("dst_ip", "dst_port"))
    )
    pair = np.minimum(src, dst) * np.uint64(31) + np.maximum(src, dst)
    return part.assign(**addresses, **{PAIR: pair})


def split_conversations(part: pd.DataFrame) -> pd.DataFrame:
    """Step 3 on one partition: rows in capture order, conversations numbered locally
    (0, 1 … in order of first frame), relative numbers and ``from_client`` recomputed.

    >>> split_conversations(shuffled_partition)[["frame", "_local"]]  # doctest: +SKIP
    """
    part = part.drop(columns=PAIR).sort_values("frame", kind="stable", ignore_index=True)
    src_key, dst_key = endpoint_keys(part)
    numbers = streams(
        src_key,
        dst_key,
        part["flags"].to_numpy(np.int64),
        part["seq"].to_numpy(np.int64),
        part["ack"].to_numpy(np.int64),
        ~left_raw(part),
    )
    part[LOCAL] = numbers.stream
    part["stream"] = numbers.stream.astype(np.uint32)
    part["rel_seq"] = numbers.rel_seq.astype(np.uint32)
    part["rel_ack"] = numbers.rel_ack.astype(np.uint32)
    part["from_client"] = from_client(part)
    return part


def left_raw(part: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Rows the native reader kept out of sequence analysis (segments in first IP
    fragments): it leaves their sequence numbers raw, their ``payload_len`` 0 and their
    checksum unverified. They go to :func:`hskit.native.streams.streams` as not
    ``analyzed``, so they set no base sequence number and keep raw numbers, as in
    ``hskit.load``. An analyzed row looks the same only if it is header-only, cut before
    its checksum by the snap length, and both its relative numbers equal the raw ones.

    >>> left_raw(hskit.load("tests/data/edge_fragments.pcap").segments).tolist()  # doctest: +SKIP
    [False, True, True]
    """
    return (
        (part["rel_seq"].to_numpy() == part["seq"].to_numpy())
        & (part["rel_ack"].to_numpy() == part["ack"].to_numpy())
        & (part["payload_len"].to_numpy() == 0)
        & part["checksum_ok"].isna().to_numpy()
    )


def _first_frames(part: pd.DataFrame) -> npt.NDArray[np.int64]:
    """Indexed by local conversation number: its first frame (rows are in frame order and
    conversations numbered in order of first row, so these are increasing)."""
    local = part[LOCAL].to_numpy()
    firsts = np.zeros(int(local.max()) + 1 if len(local) else 0, dtype=np.int64)
    firsts[local[::-1]] = part["frame"].to_numpy(np.int64)[::-1]
    return firsts


def _summary(part: pd.DataFrame) -> tuple[npt.NDArray[np.int64], set[str], float | None]:
    addresses = set().union(*(part[column].astype(str).unique() for column in _ADDRESS_COLUMNS))
    # np.max, as hskit.classify takes the capture's end: NaN if any time is unknown
    end = float(np.max(part["time"].to_numpy())) if len(part) else None
    return _first_frames(part), addresses, end


def catalog_of(summaries: list[tuple[npt.NDArray[np.int64], set[str], float | None]]) -> Catalog:
    """Step 4's catalog from every partition's first frames, addresses and last time."""
    firsts = np.sort(np.concatenate([s[0] for s in summaries] or [np.zeros(0, np.int64)]))
    addresses = sorted(set().union(*(s[1] for s in summaries)), key=_address_order)
    ends = [s[2] for s in summaries if s[2] is not None]
    return Catalog(firsts, tuple(addresses), float(np.max(ends)) if ends else 0.0)


def _address_order(text: str) -> tuple[int, int]:
    """The native reader's category order: IPv4 by value, then IPv6 by value.

    >>> sorted(["::1", "10.0.0.2", "9.0.0.1"], key=_address_order)
    ['9.0.0.1', '10.0.0.2', '::1']
    """
    address = ipaddress.ip_address(text)
    return address.version, int(address)


def numbered(part: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Step 4 on one partition: global ``stream`` numbers and the set's address categories."""
    local = part[LOCAL].to_numpy()
    addresses = pd.CategoricalDtype(list(catalog.addresses))
    return part.drop(columns=LOCAL).assign(
        stream=catalog.stream_of(_first_frames(part)[local]).astype(np.uint32),
        **{column: part[column].astype(str).astype(addresses) for column in _ADDRESS_COLUMNS},
    )
