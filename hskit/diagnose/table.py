"""The findings table: its columns, the thresholds, and helpers every finding kind shares.

A finding is one problem at one endpoint (a server ``ip:port`` or a client address):
which streams show it, when, the numbers that triggered it, what it means and what
to run next.

>>> empty_findings().columns.tolist()[:4]
['kind', 'severity', 'endpoint', 'streams']
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hskit.schema import FINDING_DTYPES

if TYPE_CHECKING:
    from hskit.diagnose.evidence import Evidence


@dataclass(frozen=True)
class Thresholds:
    """When a pattern becomes a finding. Pass any field to ``diagnose`` as a keyword.

    >>> Thresholds(stall_time=5.0).stall_time
    5.0
    """

    #: an unanswered SYN that was never retransmitted counts only if the capture went
    #: on for this many seconds after it (a SYN in the capture's last moments is no sign).
    answer_wait: float = 1.0
    #: half-open connections (SYN-ACK sent, final ACK never seen) at one listener that
    #: make a SYN flood.
    flood_min_half_open: int = 10
    #: a half-open SYN-ACK not repeated within this many seconds was not retransmitted
    #: (Linux retransmits after 1 s, then 2 s …): a stateless SYN-cookie answer.
    synack_retransmit_wait: float = 1.5
    #: the client's ephemeral port range (Linux ``net.ipv4.ip_local_port_range``).
    ephemeral_ports: tuple[int, int] = (32768, 60999)
    #: share of the ephemeral range in TIME_WAIT at once that is a finding.
    time_wait_fraction: float = 0.5
    #: a handshake slower than this (seconds, SYN to final ACK as captured) is slow …
    slow_handshake_time: float = 0.2
    #: … and so is one above ``slow_factor`` × its server's median handshake time,
    slow_factor: float = 3.0
    #: provided it is also above this many seconds (no outliers among microseconds).
    slow_outlier_min: float = 0.05
    #: seconds without payload progress, while a side keeps trying, that make a stall.
    stall_time: float = 2.0
    #: payload/FIN retransmissions in one direction of a server's connections that make
    #: a ``retransmissions`` finding …
    retransmission_min: int = 2
    #: … provided they are at least this share of that direction's payload segments.
    retransmission_rate: float = 0.01
    #: a direction retransmitting at least this share of its payload segments makes the
    #: finding a warning (below: info).
    retransmission_warning_rate: float = 0.05
    #: signs of loss (lost segment, ACKed unseen segment, fast retransmission) in one
    #: direction of a server's connections that make a ``loss`` finding.
    loss_min_events: int = 2


@dataclass(frozen=True)
class Context:
    """What the finders read: the connections and states tables, with the columns every
    finding kind needs added once, and the segments' evidence reduced per stream."""

    #: connections plus ``server`` (``ip:port`` text), ``start`` and ``end`` (capture
    #: times of the stream's first and last segment).
    connections: pd.DataFrame
    states: pd.DataFrame
    capture_end: float
    #: the segments' evidence (:mod:`hskit.diagnose.evidence`), per stream.
    evidence: Evidence


def per_endpoint(rows: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    """Group connection rows by the ``endpoint`` column: streams, count, first/last time.

    The result is indexed by endpoint, sorted, with columns ``streams, count,
    first_time, last_time, host, port`` (host and port of the first row of each group).
    """
    grouped = rows.groupby(endpoint, sort=True, observed=True)
    # one reduction per column: a named aggregation costs milliseconds more per call,
    # which the live findings pay ten times per ring file
    return pd.DataFrame(
        {
            "streams": grouped["stream"].agg(lambda s: np.sort(s.to_numpy(np.int64)).tolist()),
            "count": grouped.size(),
            "first_time": grouped["start"].min(),
            "last_time": grouped["end"].max(),
            "host": grouped["server_ip"].first().astype("string"),
            "port": grouped["server_port"].first().astype("int64").astype("string"),
        }
    )


def num(values: pd.Series, fmt: str) -> pd.Series:
    """Format a numeric Series element-wise with a format spec (``".1f"``, ``"d"``).

    >>> num(pd.Series([1.25, 2.0]), ".1f").tolist()
    ['1.2', '2.0']
    """
    return values.map(lambda value: format(value, fmt)).astype("string")


def peak_concurrent(
    keys: pd.Series, starts: pd.Series, ends: pd.Series, open_end: float
) -> pd.Series:
    """Per key, the largest number of ``[start, end)`` intervals open at once.

    A missing end counts as ``open_end``. A sweep over sorted +1/−1 events, by key.

    >>> peak_concurrent(pd.Series(["a", "a", "a"]), pd.Series([0.0, 1.0, 5.0]),
    ...                 pd.Series([2.0, 3.0, 6.0]), 9.0).to_dict()
    {'a': 2}
    """
    codes, uniques = pd.factorize(keys, sort=True)
    ends = ends.astype("float64").fillna(open_end)
    key = np.concatenate([codes, codes])
    time = np.concatenate([starts.to_numpy(float), ends.to_numpy(float)])
    delta = np.repeat(np.array([1, -1], np.int64), len(codes))
    order = np.lexsort((delta, time, key))
    order = order[key[order] >= 0]  # a missing key is no key
    key, delta = key[order], delta[order]
    # per key, its running count of open intervals: the running sum since its first event
    opened = np.cumsum(delta)
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, int)
    opened -= np.repeat(opened[first] - delta[first], np.diff(np.r_[first, len(key)]))
    peaks = np.maximum.reduceat(opened, first) if len(key) else np.zeros(0, np.int64)
    return pd.Series(peaks, index=pd.Index(uniques[np.unique(key)], name="key"), name="open")


def finalize(
    kind: str,
    table: pd.DataFrame,
    severity: pd.Series | str,
    evidence: pd.Series,
    explanation: pd.Series | str,
    next_checks: pd.Series | str,
) -> pd.DataFrame:
    """Findings rows of ``kind`` from a :func:`per_endpoint`-style table and its texts."""
    result = pd.DataFrame(
        {
            "kind": kind,
            "severity": severity if isinstance(severity, str) else np.asarray(severity),
            "endpoint": table.index.astype("string"),
            "streams": table["streams"].to_numpy(),
            "count": table["count"].to_numpy(),
            "first_time": table["first_time"].to_numpy(),
            "last_time": table["last_time"].to_numpy(),
            "evidence": evidence.to_numpy(),
            "explanation": explanation
            if isinstance(explanation, str)
            else np.asarray(explanation, dtype=object),
            "next_checks": next_checks if isinstance(next_checks, str) else next_checks.to_numpy(),
        },
        index=pd.RangeIndex(len(table)),
    )
    return result.astype(FINDING_DTYPES)


def empty_findings() -> pd.DataFrame:
    """A findings table with no rows and the right dtypes (a copy of one made once:
    making it costs milliseconds, and every finder that finds nothing returns one).

    >>> empty = empty_findings()
    >>> len(empty), empty.dtypes.to_dict() == FINDING_DTYPES
    (0, True)
    """
    return _empty_findings_made_once().copy()


@cache
def _empty_findings_made_once() -> pd.DataFrame:
    return pd.DataFrame(
        {name: pd.Series([], dtype=dtype) for name, dtype in FINDING_DTYPES.items()}
    )
