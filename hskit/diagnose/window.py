"""Transfer findings: ``zero_window`` (a receiver closed its window) and ``stalled``.

Per segment, with group-wise cumulative operations over each stream:

- *zero-window advertisement*: a segment other than SYN / RST with window field 0;
- *window probe*: a segment of at most one byte, without SYN / FIN / RST, sent while
  the peer's last advertised window is 0;
- *progress*: a segment whose payload reaches beyond every byte its side sent before;
- *trying*: a zero-window advertisement, a window probe, or a payload segment that
  makes no progress (a retransmission).

A stall is a gap between two progress segments of a stream (or from the last one to
the stream's last segment) longer than ``stall_time`` in which a side kept trying: an
idle connection (keep-alives only) is not stalled.

>>> find_stalled(context, Thresholds())[["endpoint", "evidence"]]  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hskit.diagnose.steps import Steps, finished
from hskit.diagnose.table import (
    Context,
    Thresholds,
    empty_findings,
    finalize,
    num,
    per_endpoint,
)
from hskit.schema import FIN, RST, SYN
from hskit.wording import counted_each


def segment_signs(segments: pd.DataFrame) -> pd.DataFrame:
    """Per segment: ``zero_window``, ``probe``, ``progress``, ``trying`` (booleans).

    >>> segment_signs(cap.segments).sum()  # doctest: +SKIP
    """
    return finished(segment_signs_steps(segments))


def segment_signs_steps(segments: pd.DataFrame) -> Steps[pd.DataFrame]:
    """:func:`segment_signs` in two steps (the windows, then the progress): yields
    between them and returns the signs.

    >>> finished(segment_signs_steps(cap.segments))  # doctest: +SKIP
    """
    flags = segments["flags"].to_numpy(dtype=np.int64)
    payload = segments["payload_len"].to_numpy(dtype=np.int64)
    from_client = segments["from_client"].to_numpy()
    win = segments["win"].to_numpy(dtype=np.int64)
    stream = segments["stream"]

    zero_window = (win == 0) & ((flags & (SYN | RST)) == 0)
    client_win = pd.Series(np.where(from_client, win, np.nan), index=segments.index)
    server_win = pd.Series(np.where(from_client, np.nan, win), index=segments.index)
    client_win = client_win.groupby(stream, sort=False).ffill()
    server_win = server_win.groupby(stream, sort=False).ffill()
    peer_win = np.where(from_client, server_win.to_numpy(), client_win.to_numpy())
    probe = (peer_win == 0) & (payload <= 1) & ((flags & (SYN | FIN | RST)) == 0)
    yield

    seq_end = segments["rel_seq"].to_numpy(dtype=np.int64) + payload
    sent_end = pd.Series(np.where(payload > 0, seq_end, 0), index=segments.index)
    side = [stream, pd.Series(from_client, index=segments.index)]
    before = sent_end.groupby(side, sort=False).cummax().groupby(side, sort=False).shift()
    progress = (payload > 0) & (seq_end > before.fillna(0).to_numpy())
    retransmission = (payload > 0) & ~progress & ((flags & SYN) == 0)
    return pd.DataFrame(
        {
            "zero_window": zero_window,
            "probe": probe,
            "progress": progress,
            "trying": zero_window | probe | retransmission,
        },
        index=segments.index,
    )


def _with_server(context: Context, rows: pd.DataFrame) -> pd.DataFrame:
    conns = context.connections.set_index("stream")
    streams = rows["stream"].to_numpy()
    return rows.assign(
        server=conns["server"].reindex(streams).to_numpy(),
        server_ip=conns["server_ip"].reindex(streams).to_numpy(),
        server_port=conns["server_port"].reindex(streams).to_numpy(),
    )


def find_zero_window(context: Context, thresholds: Thresholds) -> pd.DataFrame:
    """Per server and per advertising side: zero-window advertisements and window probes."""
    directions = context.evidence.directions.reset_index()
    findings = []
    for side, is_client in (("client", True), ("server", False)):
        mine = directions["from_client"].to_numpy() == is_client
        advertised = directions[mine & (directions["zero_windows"].to_numpy() > 0)]
        if advertised.empty:
            continue
        advertised = _with_server(context, advertised).assign(
            start=advertised["zero_window_first"], end=advertised["zero_window_last"]
        )
        table = per_endpoint(advertised, "server")
        grouped = advertised.groupby("server")
        probes = _with_server(context, directions[~mine])
        probe_count = probes.groupby("server")["probes"].sum().reindex(table.index, fill_value=0)
        other = "server" if is_client else "client"
        evidence = (
            num(grouped["zero_windows"].sum().reindex(table.index), "d")
            + " zero-window advertisements by the "
            + side + " in " + counted_each(table["count"], "connection") + " over "
            + num(table["last_time"] - table["first_time"], ".1f") + " s; "
            + num(probe_count, "d") + " window probes from the " + other
        )  # fmt: skip
        checks = (
            "ss -tmi dst " + table["host"] + "  # on the " + side + ": rcv_space, skmem"
            + "\nstrace -p PID -e trace=read,recvfrom  # is the " + side + " application reading?"
            + "\nsysctl net.ipv4.tcp_rmem net.core.rmem_max"
        )  # fmt: skip
        findings.append(
            finalize(
                "zero_window",
                table,
                "warning",
                evidence,
                f"The {side}'s receive buffer filled up: it advertised a zero window, so "
                f"the {other} had to stop sending and probe until the window reopened. "
                f"The receiving application reads too slowly (or not at all), or its "
                f"buffer is too small.",
                checks,
            )
        )
    return pd.concat(findings, ignore_index=True) if findings else empty_findings()


def stall_gaps(segments: pd.DataFrame, signs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each stream's gaps between progress segments: ``stream, start, end, trying``,
    ordered by stream and time (``signs``: :func:`segment_signs` of ``segments`` when it
    is at hand).

    >>> stall_gaps(cap.segments).sort_values("end").tail()  # doctest: +SKIP
    """
    if signs is None:
        signs = segment_signs(segments)
    stream = segments["stream"].to_numpy()
    # each stream's rows together, in capture order within it: a gap's rows follow one
    # another, as the progress segment that opens it (a stable sort on the stream alone)
    order = np.argsort(stream, kind="stable")
    stream, time = stream[order], segments["time"].to_numpy()[order]
    progress = signs["progress"].to_numpy(bool)[order]
    trying = signs["trying"].to_numpy(bool)[order].astype(np.int64)
    new_stream = np.ones(len(stream), bool)
    new_stream[1:] = stream[1:] != stream[:-1]
    first = np.flatnonzero(new_stream | progress)  # each gap's first row
    if not len(first):
        return pd.DataFrame({"stream": stream, "start": time, "end": time, "trying": trying})
    last = np.append(first[1:], len(stream)) - 1
    start = time[first]
    same_stream_next = np.append(~new_stream[first[1:]], False)
    end = np.where(same_stream_next, np.append(start[1:], 0.0), time[last])
    return pd.DataFrame(
        {
            "stream": stream[first],
            "start": start,
            "end": end,
            "trying": np.add.reduceat(trying, first),
        }
    )


def find_stalled(context: Context, thresholds: Thresholds) -> pd.DataFrame:
    """Connections with no payload progress for ``stall_time`` while a side kept trying."""
    gaps = context.evidence.gaps
    stalls = gaps[(gaps["end"] - gaps["start"] > thresholds.stall_time) & (gaps["trying"] > 0)]
    if stalls.empty:
        return empty_findings()
    stalls = _with_server(context, stalls)
    table = per_endpoint(stalls.drop_duplicates("stream"), "server")
    grouped = stalls.groupby("server")
    table["first_time"] = grouped["start"].min()
    table["last_time"] = grouped["end"].max()
    longest = (stalls["end"] - stalls["start"]).groupby(stalls["server"]).max()
    evidence = (
        counted_each(table["count"], "connection") + " made no data progress for up to "
        + num(longest.reindex(table.index), ".1f") + " s while open ("
        + num(grouped["trying"].sum().reindex(table.index), "d")
        + " retransmissions, window probes or zero-window segments meanwhile)"
    )  # fmt: skip
    checks = (
        "ss -tin dst " + table["host"] + "  # retrans, rto, unacked, rwnd_limited"
        + "\nnstat -az TcpRetransSegs TcpExtTCPTimeouts TcpExtTCPLossProbes"
        + "\ntcpdump -nn host " + table["host"] + " and port " + table["port"]
    )  # fmt: skip
    return finalize(
        "stalled",
        table,
        "warning",
        evidence,
        "An established connection stopped moving data for a long time although a side "
        "still had something to send: it was retransmitting unacknowledged data (loss, "
        "a black hole, an MTU problem) or waiting for a zero window to reopen.",
        checks,
    )
