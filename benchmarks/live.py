"""Live capture under load: does ``hskit.live`` keep up with loopback traffic?

    sudo python benchmarks/live.py                     # 60,000 packets/s for 20 s
    sudo python benchmarks/live.py --rate 80000 --seconds 30 --connections 200

A generator process (this script with ``--generate``) sends a paced stream of 88-byte
segments over one loopback connection (``TCP_MAXSEG`` 88, ``TCP_NODELAY``: one segment
per write, plus the receiver's ACKs) and opens ``--connections`` short connections per
second beside it, so handshakes keep arriving. ``hskit.live("lo")`` captures both
ports with one-second ring files while this process redraws what ``live.view()``
draws (the snapshot of every ring file so far, its three figures and the findings) as
fast as it can, as the view's thread does.

Prints the packets captured and their rate, the frames dumpcap reported dropped, and
how far the drawn tables lagged behind the ring: for every redraw, the seconds from
the newest file it shows being closed to the redraw being done, in ring periods
(median and max), and how many closed files were not drawn yet when a redraw ended.
Then the targets: ≥ 50,000 packets/s with no drops, and the view at most one ring
period behind. Needs root (or the capture privilege) and dumpcap.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import threading
import time

import numpy as np

import hskit
from hskit.live.figures import new_connections_figure, rtt_percentiles_figure, states_now_figure
from hskit.live.view import FINDINGS_EVERY

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


def redraw(live: hskit.LiveCapture) -> float:
    """What the view's thread does once: snapshot, three figures, findings (every
    ``FINDINGS_EVERY`` ring files, as the view)."""
    snapshot = live.snapshot()
    for figure in (states_now_figure, new_connections_figure, rtt_percentiles_figure):
        figure(snapshot.connections).to_json(validate=False)
    live.findings(every=FINDINGS_EVERY)
    return snapshot.ready_at


def measure(rate: float, seconds: float, connections: int, period: int, files: int | None) -> None:
    live = hskit.live(
        "lo",
        bpf=f"tcp port {STREAM_PORT} or tcp port {CONNECT_PORT}",
        period=period,
        files=files,
    )
    generator = subprocess.Popen(
        [sys.executable, __file__, "--generate", "--rate", str(rate), "--seconds",
         str(seconds), "--connections", str(connections)]
    )  # fmt: skip
    lags, behind = [], []
    started = time.monotonic()
    try:
        while generator.poll() is None:
            redraw(live)
            drawn = live.snapshot()
            if drawn.newest_closed_at is not None:
                lags.append((drawn.ready_at - drawn.newest_closed_at) / period)
                behind.append(live.files_seen - drawn.files)
            live.wait(files=1, timeout=period)
    finally:
        generator.wait(30)
        traffic = time.monotonic() - started
        live.stop()
    received, dropped = live.recorder.counts()
    rate_seen = (received or 0) / traffic
    lag = np.array(lags) if lags else np.array([np.nan])
    print(f"traffic: {traffic:.1f} s; dumpcap received {received:,} frames = "
          f"{rate_seen:,.0f} packets/s, dropped {dropped:,}")  # fmt: skip
    print(f"segments loaded: {live.segments_seen:,} in {live.files_seen} ring files; "
          f"the tables hold {len(live.segments):,} segments, {len(live.connections):,} "
          "connections")  # fmt: skip
    print(f"redraws: {len(lags)}; lag of a redraw behind its newest file's closing, in ring "
          f"periods: median {np.median(lag):.2f}, max {np.max(lag):.2f}; closed files not "
          f"yet drawn when a redraw ended: max {max(behind, default=0)}")  # fmt: skip
    print("lag of each redraw, ring periods:", " ".join(f"{x:.2f}" for x in lag))
    print("targets:")
    print(f"  >= 50,000 packets/s with no drops: "
          f"{'met' if rate_seen >= 50_000 and dropped == 0 else 'NOT met'}")  # fmt: skip
    print(f"  view at most one ring period behind: "
          f"{'met' if np.nanmax(lag) <= 1.0 else 'NOT met'}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=60_000, help="packets per second")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=100, help="new connections/s")
    parser.add_argument("--period", type=int, default=1, help="seconds per ring file")
    parser.add_argument("--files", type=int, help="ring size: the tables cover this many files")
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(args.rate, args.seconds, args.connections)
    else:
        measure(args.rate, args.seconds, args.connections, args.period, args.files)


if __name__ == "__main__":
    main()
