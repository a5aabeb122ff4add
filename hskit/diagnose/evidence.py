"""What the findings need from the segments, reduced per stream: :class:`Evidence`.

The findings read the connections and states tables whole, and the segments only
through these small tables (one row per stream, per stream and direction, per SYN-ACK,
per repeated SYN, per stall candidate). Each is computed stream by stream, so the
evidence of a whole capture is the concatenation of the evidence of any split of its
segments that keeps each connection whole (:func:`concat_evidence`): in memory
:func:`stream_evidence` runs on the whole table, on Dask on every partition of
:func:`hskit.dask.by_connection`, and the driver never holds a segment.

>>> from hskit.diagnose.evidence import stream_evidence
>>> evidence = stream_evidence(cap.segments, hskit.analyze(cap.segments))  # doctest: +SKIP
>>> evidence.directions.loc[(0, True), "payload"]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hskit.diagnose.steps import Steps, finished
from hskit.diagnose.table import Context
from hskit.diagnose.window import segment_signs_steps, stall_gaps
from hskit.schema import ACK, SYN
from hskit.timing import endpoint_text, syn_retransmissions

#: per direction: the column of ``Evidence.directions`` and what it counts.
DIRECTION_COUNTS = {
    "payload": "segments carrying payload",
    "retransmitted": "payload or FIN segments Wireshark marks as retransmissions (no SYNs)",
    "lost_data": "segments after a gap (lost_segment) and fast retransmissions",
    "acked_unseen": "ACKs of data the capture never saw (ack_lost_segment)",
    "zero_windows": "zero-window advertisements",
    "probes": "window probes",
}


@dataclass(frozen=True)
class Evidence:
    """The segments' share of a diagnosis, per stream; a few rows per connection.

    >>> import hskit
    >>> stream_evidence(hskit.schema.empty_segments(), hskit.analyze(
    ...     hskit.schema.empty_segments())).capture_end is None
    True
    """

    #: indexed by stream: ``start``, ``end`` (first and last segment's time) and
    #: ``resent_syns`` (SYNs and SYN-ACKs Wireshark marks as retransmissions).
    streams: pd.DataFrame
    #: indexed by ``(stream, from_client)``, sorted: the :data:`DIRECTION_COUNTS`, and
    #: ``zero_window_first`` / ``zero_window_last`` (times of the first and last
    #: zero-window advertisement, NaN without one).
    directions: pd.DataFrame
    #: every repeated SYN (:func:`hskit.timing.syn_retransmissions`), in capture order.
    syn_retries: pd.DataFrame
    #: per SYN-ACK from the server: ``stream``, its ``sack_perm``, ``has_wscale`` and
    #: ``no_ts`` (no timestamp option), and, where the stream's SYN had no timestamp
    #: option, what the SYN offered (``syn_sack``, ``syn_wscale``; else missing).
    synacks: pd.DataFrame
    #: gaps between payload-progress segments in which a side kept trying
    #: (:func:`hskit.diagnose.window.stall_gaps` with ``trying > 0``): the stall candidates.
    gaps: pd.DataFrame
    #: the last segment's time (``None`` without segments).
    capture_end: float | None


def stream_evidence(segments: pd.DataFrame, analysis: pd.DataFrame) -> Evidence:
    """The evidence of ``segments`` (whole connections, capture order) and their Wireshark
    analysis (:func:`hskit.analyze`, aligned with them).

    >>> stream_evidence(cap.segments, hskit.analyze(cap.segments)).gaps  # doctest: +SKIP
    """
    return finished(evidence_steps(segments, analysis))


def evidence_steps(segments: pd.DataFrame, analysis: pd.DataFrame) -> Steps[Evidence]:
    """:func:`stream_evidence` one table at a time: yields between them and returns the
    :class:`Evidence` (``yield from`` it in a caller that lets other work run between
    steps, as the live capture's findings thread does).

    >>> finished(evidence_steps(cap.segments, cap.analysis)).capture_end  # doctest: +SKIP
    """
    stream = segments["stream"].to_numpy(np.int64)
    syn = (segments["flags"].to_numpy(np.int64) & SYN) != 0
    retransmission = analysis["retransmission"].to_numpy(bool)
    streams = (
        pd.DataFrame({"time": segments["time"].to_numpy(), "resent_syns": syn & retransmission})
        .groupby(stream, sort=True)
        .agg(start=("time", "min"), end=("time", "max"), resent_syns=("resent_syns", "sum"))
        .rename_axis("stream")
    )
    yield
    signs = yield from segment_signs_steps(segments)
    yield
    gaps = stall_gaps(segments, signs)
    yield
    directions = _directions(segments, analysis, syn, signs)
    yield
    syn_retries = syn_retransmissions(segments)
    synacks = _synacks(segments)
    return Evidence(
        streams=streams,
        directions=directions,
        syn_retries=syn_retries,
        synacks=synacks,
        gaps=gaps[gaps["trying"] > 0].reset_index(drop=True),
        capture_end=float(segments["time"].max()) if len(segments) else None,
    )


def context_of(evidence: Evidence, connections: pd.DataFrame, states: pd.DataFrame) -> Context:
    """The tables with the columns every finding kind needs: each connection's server
    text and its first/last time (from ``evidence``).

    >>> context_of(evidence, cap.connections, cap.states).connections["server"]  # doctest: +SKIP
    """
    streams = connections["stream"].to_numpy()
    conns = connections.assign(
        server=endpoint_text(connections["server_ip"], connections["server_port"]).to_numpy(),
        start=evidence.streams["start"].reindex(streams).to_numpy(),
        end=evidence.streams["end"].reindex(streams).to_numpy(),
    )
    capture_end = 0.0 if evidence.capture_end is None else evidence.capture_end
    return Context(conns, states, capture_end, evidence)


def _directions(
    segments: pd.DataFrame, analysis: pd.DataFrame, syn: np.ndarray, signs: pd.DataFrame
) -> pd.DataFrame:
    """Per ``(stream, from_client)``, sorted: the :data:`DIRECTION_COUNTS` and the
    zero-window times (``signs``: :func:`hskit.diagnose.window.segment_signs`)."""
    zero_window = signs["zero_window"].to_numpy(bool)
    counted = {
        "payload": segments["payload_len"].to_numpy() > 0,
        "retransmitted": analysis["retransmission"].to_numpy(bool) & ~syn,
        "lost_data": (analysis["lost_segment"] | analysis["fast_retransmission"]).to_numpy(bool),
        "acked_unseen": analysis["ack_lost_segment"].to_numpy(bool),
        "zero_windows": zero_window,
        "probes": signs["probe"].to_numpy(bool),
    }
    stream = segments["stream"].to_numpy(np.int64)
    from_client = segments["from_client"].to_numpy(bool)
    keys, direction = np.unique(stream * 2 + from_client, return_inverse=True)
    advertised = np.flatnonzero(zero_window)
    advertised_at = segments["time"].to_numpy(np.float64)[advertised]
    first = np.full(len(keys), np.nan)
    last = np.full(len(keys), np.nan)
    np.fmin.at(first, direction[advertised], advertised_at)
    np.fmax.at(last, direction[advertised], advertised_at)
    index = pd.MultiIndex.from_arrays([keys // 2, keys % 2 == 1], names=["stream", "from_client"])
    return pd.DataFrame(
        {
            **{
                name: np.bincount(direction, rows, len(keys)).astype(np.int64)
                for name, rows in counted.items()
            },
            "zero_window_first": first,
            "zero_window_last": last,
        },
        index=index,
    )


def _synacks(segments: pd.DataFrame) -> pd.DataFrame:
    """Per SYN-ACK from the server: its options, and the options its stream's SYN offered
    when that SYN carried no timestamp option."""
    flags = segments["flags"].to_numpy(dtype=np.int64)
    handshake = segments[(flags & SYN) != 0]
    is_synack = (handshake["flags"].to_numpy(dtype=np.int64) & ACK) != 0
    syns = handshake[~is_synack & handshake["from_client"].to_numpy()]
    offered = (
        syns.assign(no_ts=syns["ts_val"].isna().to_numpy())
        .groupby("stream")
        .agg(
            syn_sack=("sack_perm", "first"),
            syn_wscale=("wscale", "first"),
            no_ts=("no_ts", "first"),
        )
    )
    offered["syn_wscale"] = offered["syn_wscale"].notna()
    offered = offered.loc[offered["no_ts"], ["syn_sack", "syn_wscale"]]
    synacks = handshake[is_synack & ~handshake["from_client"].to_numpy()]
    return (
        pd.DataFrame(
            {
                "stream": synacks["stream"].to_numpy(np.int64),
                "sack_perm": synacks["sack_perm"].to_numpy(bool),
                "has_wscale": synacks["wscale"].notna().to_numpy(),
                "no_ts": synacks["ts_val"].isna().to_numpy(),
            }
        )
        .join(offered, on="stream")
        .astype({"syn_sack": object, "syn_wscale": object})
    )


def concat_evidence(parts: Sequence[Evidence]) -> Evidence:
    """The evidence of the segments of ``parts`` together (each part whole connections,
    no connection in two parts), as :func:`stream_evidence` of them all gives it.

    >>> concat_evidence([evidence_of_bucket_1, evidence_of_bucket_2])  # doctest: +SKIP
    """
    ends = [part.capture_end for part in parts if part.capture_end is not None]
    return Evidence(
        streams=pd.concat([part.streams for part in parts]).sort_index(kind="stable"),
        directions=pd.concat([part.directions for part in parts]).sort_index(kind="stable"),
        syn_retries=pd.concat([part.syn_retries for part in parts], ignore_index=True).sort_values(
            "frame", kind="stable", ignore_index=True
        ),
        synacks=_by_stream([part.synacks for part in parts]),
        gaps=_by_stream([part.gaps for part in parts]),
        capture_end=float(pd.Series(ends, dtype="float64").max()) if ends else None,
    )


def _by_stream(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Tables of per-stream rows put together, each stream's rows in their order."""
    table = pd.concat(tables, ignore_index=True)
    return table.sort_values("stream", kind="stable", ignore_index=True)
