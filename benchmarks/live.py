"""Live capture under load: does ``hskit.live`` keep up with loopback traffic?

    sudo python benchmarks/live.py                     # 60,000 packets/s for 20 s
    sudo python benchmarks/live.py --rate 80000 --seconds 30 --connections 200
    sudo python benchmarks/live.py --keep /tmp/ring; python benchmarks/live.py --replay /tmp/ring

A generator process (this script with ``--generate``) sends a paced stream of 88-byte
segments over one loopback connection (``TCP_MAXSEG`` 88, ``TCP_NODELAY``: one segment
per write, plus the receiver's ACKs) and opens ``--connections`` short connections per
second beside it, so handshakes keep arriving. ``hskit.live("lo")`` captures both
ports with one-second ring files while this process redraws what ``live.view()``
draws (the snapshot of every ring file so far and its three figures) each time a
newer ring file is loaded, as the view's thread does (not again while none is: a
redraw of the same files would only measure how late the capture program closed the
next file), and asks for the findings on their own thread.

Prints the load average, the packets offered and captured and their rate, the frames
dumpcap reported dropped, the longest connection's size, the segments table's size and
this process's memory (its RSS when the traffic ended, and its peak), and how far the
drawn view lagged behind the ring: for every redraw, the seconds from the newest file it
shows being closed to the redraw being done, in ring periods (max, p95, median), and how
many closed files were not drawn yet when a redraw ended; the findings run every
``FINDINGS_EVERY`` files on their own thread, as the view's: for every run, the seconds
from the newest file they cover being closed to the run being done, in ring periods
(max, p95, median), how many files behind they were when done, and at every redraw how
many files the findings shown were behind the tables drawn. Then the targets: ≥ 50,000
packets/s with no drops, the view and the findings at most one ring period behind. The
ring is deleted at the end. Needs root (or the capture privilege) and dumpcap.

``--replay`` replays a ring kept by ``--keep`` file by file through the same steps
(load, merge, classify, current states, figures; then the findings: the evidence kept
from file to file, and the finders) and prints each one's CPU seconds per file, which a
loaded machine disturbs less than the lag.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import hskit
from hskit.diagnose import diagnose_evidence
from hskit.live.capture import FINDINGS_EVERY, Snapshot, warm_up
from hskit.live.current import CurrentStates
from hskit.live.evidence import KeptEvidence
from hskit.live.figures import new_connections_figure, rtt_percentiles_figure, states_now_figure
from hskit.live.incremental import Classified
from hskit.live.merge import Merger
from hskit.loader import load

#: bytes per write, and the MSS that makes each write one segment (Linux's smallest MSS).
SEGMENT = 88
#: pacing tick of the generator, seconds.
TICK = 0.005
#: packets per data segment: the segment, and about one ACK per two segments.
PACKETS_PER_SEGMENT = 1.5
STREAM_PORT, CONNECT_PORT = 47410, 47411


def generate(rate: float, seconds: float, connections: int) -> None:
    """The traffic: a paced stream of small segments and short connections beside it."""
    stream_server = socket.create_server(("127.0.0.1", STREAM_PORT))
    stream_server.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, SEGMENT)
    connect_server = socket.create_server(("127.0.0.1", CONNECT_PORT), backlog=1024)

    def drain(conn: socket.socket) -> None:
        while conn.recv(1 << 20):
            pass

    def accept_short() -> None:
        while True:
            conn, _ = connect_server.accept()
            conn.close()

    threading.Thread(target=accept_short, daemon=True).start()
    client = socket.socket()
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, SEGMENT)
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.connect(("127.0.0.1", STREAM_PORT))
    accepted, _ = stream_server.accept()
    threading.Thread(target=drain, args=(accepted,), daemon=True).start()

    payload = b"x" * SEGMENT
    writes_per_tick = rate / PACKETS_PER_SEGMENT * TICK
    connects_per_tick = connections * TICK
    started = time.monotonic()
    writes = connects = 0.0
    while (elapsed := time.monotonic() - started) < seconds:
        target = elapsed / TICK
        while writes < target * writes_per_tick:
            client.send(payload)
            writes += 1
        while connects < target * connects_per_tick:
            socket.create_connection(("127.0.0.1", CONNECT_PORT)).close()
            connects += 1
        time.sleep(TICK)
    client.close()


def redraw(live: hskit.LiveCapture) -> tuple[Snapshot, float]:
    """What the view's thread does once: snapshot and three figures (the findings run on
    their own thread, as the view's do); the snapshot drawn and when it was ready."""
    snapshot = live.snapshot()
    ready = time.monotonic()
    for figure in (states_now_figure, new_connections_figure, rtt_percentiles_figure):
        figure(snapshot.connections).to_json(validate=False)
    return snapshot, ready


#: the findings thread's steps, in order, as ``live.findings(between_steps=...)`` times
#: them (the first holds the snapshot the findings read when the view has not made it,
#: and the evidence kept from file to file grown by the new files).
FINDINGS_STEPS = (
    "snapshot+evidence", "no_answer", "refused", "syn_flood", "slow_handshake", "time_wait",
    "resets", "zero_window", "stalled", "loss", "retransmissions", "combined",
)  # fmt: skip


def _step_name(number: int) -> str:
    """The name of the findings thread's step ``number`` (a version of hskit with other
    steps, run against this script for a comparison, has them numbered)."""
    return FINDINGS_STEPS[number] if number < len(FINDINGS_STEPS) else f"step {number}"


@dataclass(frozen=True)
class Redraw:
    """One redraw's times (``time.monotonic()``): the newest file drawn closed, its load
    began and ended, the snapshot was asked for and ready, the figures were drawn."""

    files: int
    closed: float
    load_started: float
    loaded: float
    asked: float
    ready: float
    drawn: float

    def parts(self) -> dict[str, float]:
        """The lag split into where it went, seconds."""
        return {
            "queue": self.load_started - self.closed,  # the loader busy with older files
            "load": self.loaded - self.load_started,
            "idle": self.asked - self.loaded,  # the view drawing an older file or pausing
            "snapshot": self.ready - self.asked,  # merge, classify, states (and its lock)
            "draw": self.drawn - self.ready,
        }


class FindingsSteps:
    """Records what the findings thread did and when: ``(step, started, ended)``."""

    def __init__(self, live: hskit.LiveCapture) -> None:
        self.steps: list[tuple[str, float, float]] = []
        self._findings = live.findings
        live.findings = self.findings  # type: ignore[method-assign]

    def findings(self, every: int = 1, *, between_steps: Callable[[], None] | None = None):
        """``live.findings`` timing each step between two calls of ``between_steps``."""
        number, began = 0, time.monotonic()

        def paused() -> None:
            nonlocal number, began
            self.steps.append((_step_name(number), began, time.monotonic()))
            if between_steps is not None:
                between_steps()
            number, began = number + 1, time.monotonic()

        answer = self._findings(every, between_steps=paused)
        self.steps.append((_step_name(number) if number else "cached", began,
                           time.monotonic()))  # fmt: skip
        return answer

    def during(self, start: float, end: float) -> list[tuple[str, float]]:
        """The steps that ran between ``start`` and ``end``: name and whole duration."""
        return [(name, b - a) for name, a, b in self.steps if a < end and b > start]


def measure(
    rate: float,
    seconds: float,
    connections: int,
    period: int,
    files: int | None,
    findings: bool,
    keep: Path | None,
    breakdown: int = 0,
) -> None:
    load_before = os.getloadavg()
    live = hskit.live(
        "lo",
        bpf=f"tcp port {STREAM_PORT} or tcp port {CONNECT_PORT}",
        folder=keep,
        period=period,
        files=files,
    )
    generator = subprocess.Popen(
        [sys.executable, __file__, "--generate", "--rate", str(rate), "--seconds",
         str(seconds), "--connections", str(connections)]
    )  # fmt: skip
    lags: list[float] = []
    redraws: list[Redraw] = []
    steps = FindingsSteps(live)
    behind: list[int] = []
    findings_behind: list[int] = []
    findings_lags: list[float] = []
    #: per redraw of the tables: ring files the findings shown then were behind them.
    panel_behind: list[int] = []
    shown_findings = [0]

    #: the lag of the findings that ran once the traffic had ended (the last ones, of
    #: the whole capture: the followed long connections computed whole).
    final_lags: list[float] = []
    traffic_over = threading.Event()

    def findings_drawn(findings: object, covered: int) -> None:
        done = time.monotonic()
        ring, seen = live.files, live.files_seen
        at = covered - 1 - (seen - len(ring))  # the newest file they cover, in the ring
        lag = (done - ring[at].closed_at) / period if 0 <= at < len(ring) else None
        if traffic_over.is_set():
            final_lags.extend([] if lag is None else [lag])
            return
        findings_behind.append(seen - covered)
        findings_lags.extend([] if lag is None else [lag])
        shown_findings[0] = covered

    started = time.monotonic()
    traffic = seconds
    try:
        shown: int | None = None
        while generator.poll() is None:
            if shown is not None and not live.wait(files=1, timeout=period, since=shown):
                continue  # as the view: it redraws only once a newer ring file is loaded
            asked = time.monotonic()
            drawn, ready = redraw(live)
            done = time.monotonic()
            if findings:
                live.findings_later(FINDINGS_EVERY, findings_drawn)
                panel_behind.append(drawn.files - shown_findings[0])
            if drawn.newest_closed_at is not None:
                lags.append((done - drawn.newest_closed_at) / period)
                behind.append(live.files_seen - drawn.files)
                ring = {f.closed_at: f for f in live.files}[drawn.newest_closed_at]
                times = (ring.closed_at, ring.load_started_at, ring.loaded_at, asked, ready, done)
                redraws.append(Redraw(drawn.files, *times))
            traffic, shown = done - started, drawn.files
    finally:
        generator.wait(30)
        traffic_over.set()
        rss_at_end = _status_mb("VmRSS")
        live.stop()
    received, dropped = live.recorder.counts()
    segments = live.segments
    span = float(segments["time"].max()) if len(segments) else traffic
    rate_seen = (received or 0) / span
    lag = np.array(lags) if lags else np.array([np.nan])
    longest = live.connections.assign(
        packets=lambda c: c["packets_c2s"].astype(int) + c["packets_s2c"].astype(int)
    ).nlargest(1, "packets")
    print(f"load average before: {load_before[0]:.2f}, after: {os.getloadavg()[0]:.2f} "
          f"(2 cores); ring period {period} s"
          + (f", ring of {files} files" if files else ", every file kept"))  # fmt: skip
    print(f"offered: {rate:,.0f} packets/s asked for {seconds:.0f} s beside "
          f"{connections} new connections/s; frames captured over {span:.1f} s")  # fmt: skip
    print(f"dumpcap received {received or 0:,} frames = {rate_seen:,.0f} packets/s "
          "(first to last frame), "
          f"dropped {dropped if dropped is not None else 'unknown'}")  # fmt: skip
    print(f"segments loaded: {live.segments_seen:,} in {live.files_seen} ring files; "
          f"{len(live.connections):,} connections; the longest has "
          f"{int(longest['packets'].iloc[0]) if len(longest) else 0:,} packets")  # fmt: skip
    table_mb = segments.memory_usage(deep=True).sum() / 2**20
    print(f"memory: segments table {table_mb:,.0f} MB; this process's RSS when the traffic "
          f"ended {rss_at_end:,.0f} MB, peak {_status_mb('VmHWM'):,.0f} MB (with the last, "
          "whole classification)")  # fmt: skip
    print(f"view lag (tables and figures drawn, behind the newest file's closing) over "
          f"{len(lags)} redraws, ring periods: max {np.max(lag):.2f}, "
          f"p95 {np.percentile(lag, 95):.2f}, median {np.median(lag):.2f}; closed files "
          f"not yet drawn when a redraw ended: max {max(behind, default=0)}")  # fmt: skip
    print("lag of each redraw, ring periods:", " ".join(f"{x:.2f}" for x in lag))
    closings = np.diff([ring.closed_at for ring in live.files])
    if len(closings):  # how regularly the capture program closed them
        print(f"ring files closed every (s): median {np.median(closings):.2f}, "
              f"max {np.max(closings):.2f}")  # fmt: skip
    warm = min((one.load_started for one in redraws), default=0.0)
    after = np.array([(r.drawn - r.closed) / period for r in redraws if r.closed >= warm])
    if len(after):  # the files that closed while the loader waited for the warm-up left out
        print(f"  of the {len(after)} redraws of files closed after the warm-up: max "
              f"{np.max(after):.2f}, p95 {np.percentile(after, 95):.2f}, "
              f"median {np.median(after):.2f}")  # fmt: skip
    if breakdown:
        _print_breakdown(redraws, steps, period, breakdown)
    if findings:
        flag = np.array(findings_lags) if findings_lags else np.array([np.nan])
        print(f"findings (every {FINDINGS_EVERY} files or less often, own thread): "
              f"{len(findings_behind)} runs; lag (done, behind the newest file they cover "
              f"closing), ring periods: max {np.max(flag):.2f}, p95 "
              f"{np.percentile(flag, 95):.2f}, median {np.median(flag):.2f}; ring files "
              f"behind when done: max {max(findings_behind, default=0)}; at each redraw "
              f"of the tables, the findings shown were files behind them: max "
              f"{max(panel_behind, default=0)}, median "
              f"{np.median(panel_behind) if panel_behind else 0:.0f}")  # fmt: skip
        print("findings lag of each run, ring periods:", " ".join(f"{x:.2f}" for x in flag))
        print("findings run after the traffic ended (the whole capture), lag in ring "
              "periods:", " ".join(f"{x:.2f}" for x in final_lags) or "none")  # fmt: skip
    else:
        print("findings: not run (--no-findings)")
    if keep is None:
        shutil.rmtree(live.folder, ignore_errors=True)  # the ring: about 100 MB per 1M frames
    else:
        print(f"ring kept in {keep}: replay it with --replay {keep}")
    print("targets:")
    print(f"  >= 50,000 packets/s with no drops: "
          f"{'met' if rate_seen >= 50_000 and dropped == 0 else 'NOT met'}")  # fmt: skip
    print(f"  view at most one ring period behind: "
          f"{'met' if np.nanmax(lag) <= 1.0 else 'NOT met'}")  # fmt: skip
    if findings:
        met = findings_lags and np.max(findings_lags) <= 1.0
        print(f"  findings at most one ring period behind: {'met' if met else 'NOT met'}")


def _status_mb(field: str) -> float:
    """This process's ``VmRSS`` or ``VmHWM`` (peak) from ``/proc/self/status``, in MB."""
    with open("/proc/self/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith(f"{field}:"))
    return kb / 1024


def _print_breakdown(redraws: list[Redraw], steps: FindingsSteps, period: int, worst: int) -> None:
    """The ``worst`` redraws' lag split into its parts, with the findings steps that ran
    meanwhile, and the median of each part over all redraws."""
    print(f"the {worst} worst redraws, seconds (queue: waiting for the loader; idle: "
          "loaded, the view busy with an older file) and findings steps meanwhile:")  # fmt: skip
    for one in sorted(redraws, key=lambda r: r.closed - r.drawn)[:worst]:
        parts = ", ".join(f"{name} {value:.2f}" for name, value in one.parts().items())
        during = steps.during(one.closed, one.drawn)
        meanwhile = ", ".join(f"{name} {took:.2f}" for name, took in during) or "none"
        print(f"  lag {(one.drawn - one.closed) / period:.2f} (file {one.files}): {parts}; "
              f"findings: {meanwhile}")  # fmt: skip
    if redraws:
        medians = {n: np.median([r.parts()[n] for r in redraws]) for n in redraws[0].parts()}
        print("  median of every redraw: "
              + ", ".join(f"{name} {value:.2f}" for name, value in medians.items()))  # fmt: skip
    longest: dict[str, float] = {}
    for name, began, ended in steps.steps:
        longest[name] = max(longest.get(name, 0.0), ended - began)
    print("  longest findings steps, s: " + ", ".join(
        f"{name} {took:.2f}" for name, took in sorted(longest.items(), key=lambda x: -x[1])[:6]
    ))  # fmt: skip


#: the steps of one ring file, as the live capture, its view and its findings do them.
STEPS = ("load", "merge", "classify", "snapshot", "figures", "evidence", "finders")


def replay(folder: Path) -> None:
    """Replay a kept ring (``--keep``) file by file as the live capture and its view do,
    printing each step's CPU seconds per file (the process's, all threads: a loaded
    machine's other work is not counted, waiting for the CPU is not either)."""
    files = sorted(folder.glob("ring_*"))
    merger, classified, kept = Merger(name=str(folder)), Classified(), KeptEvidence()
    current = CurrentStates()
    warm_up()
    costs = []
    for number, path in enumerate(files):
        clock = [time.process_time()]
        part = load(path, progress=False)
        clock.append(time.process_time())
        segments, _, touched = merger.add(part)
        clock.append(time.process_time())
        tables = classified.update(segments, touched if number else None)
        clock.append(time.process_time())
        current.update(tables[1], classified.replaced, classified.end)
        connections = current.connections(tables[0])
        clock.append(time.process_time())
        for figure in (states_now_figure, new_connections_figure, rtt_percentiles_figure):
            figure(connections).to_json(validate=False)
        clock.append(time.process_time())
        evidence = kept.update(segments)
        clock.append(time.process_time())
        diagnose_evidence(evidence, *tables)
        clock.append(time.process_time())
        costs.append(np.diff(clock))
        steps = zip(STEPS, costs[-1], strict=True)
        print(f"{path.name}: {len(part.segments):,} segments, CPU s "
              + ", ".join(f"{step} {cost:.3f}" for step, cost in steps))  # fmt: skip
    started = time.process_time()
    classified.exact(merger.segments)
    exact = time.process_time() - started
    table = np.array(costs[1:])  # the first file has no traffic yet
    print(f"{len(files)} ring files, {len(merger.segments):,} segments; CPU s per file "
          "after the first (median / max):")  # fmt: skip
    for step, column in zip((*STEPS, "total"), [*table.T, table.sum(axis=1)], strict=True):
        print(f"  {step:9} {np.median(column):.3f} / {np.max(column):.3f}")
    print(f"  exact() at the end (followed streams classified whole): {exact:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=60_000, help="packets per second")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=100, help="new connections/s")
    parser.add_argument("--period", type=int, default=1, help="seconds per ring file")
    parser.add_argument("--files", type=int, help="ring size: the tables cover this many files")
    parser.add_argument("--no-findings", action="store_true",
                        help="leave out the findings thread (the tables' lag alone)")  # fmt: skip
    parser.add_argument("--keep", type=Path, help="keep the ring in this folder")
    parser.add_argument("--replay", type=Path,
                        help="replay a kept ring: CPU seconds of each step per file")  # fmt: skip
    parser.add_argument("--breakdown", type=int, default=0, metavar="N",
                        help="split the lag of the N worst redraws into its parts")  # fmt: skip
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(args.rate, args.seconds, args.connections)
    elif args.replay:
        replay(args.replay)
    else:
        measure(args.rate, args.seconds, args.connections, args.period, args.files,
                findings=not args.no_findings, keep=args.keep,
                breakdown=args.breakdown)  # fmt: skip


if __name__ == "__main__":
    main()
