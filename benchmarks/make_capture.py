"""Make (once) the benchmark capture: >= 400k packets of real kernel TCP traffic on loopback.

Many short connections to local servers (request, response, close by either side), some
refused (a port with no listener) and some reset (``SO_LINGER`` 0), captured with tcpdump
on ``lo`` with a port filter. The file is cached outside the repository and reused.

    python benchmarks/make_capture.py            # prints the path of the cached capture
    python benchmarks/make_capture.py --force    # capture again
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path

CACHE = Path.home() / ".cache" / "hskit" / "bench-loopback.pcap"
MIN_PACKETS = 400_000
BASE_PORT = 47_300
SERVER_PORTS = tuple(range(BASE_PORT, BASE_PORT + 4))
CLOSED_PORT = BASE_PORT + 9  # inside the capture filter, nobody listens
DESTINATIONS = tuple(f"127.0.0.{n}" for n in range(1, 9))
CONNECTIONS_PER_CLIENT = 26_000
CLIENTS = 2
TIME_LIMIT = 600.0  # seconds for the whole traffic run, whatever happens
RESPONSE = b"HTTP/1.0 200 OK\r\nContent-Length: 64\r\n\r\n" + b"x" * 64


def serve(port: int) -> None:
    """Answer each request; close first when the request asks for it (b"...s")."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen(1024)
    deadline = time.monotonic() + TIME_LIMIT
    while time.monotonic() < deadline:
        connection, _ = listener.accept()
        with connection:
            try:
                request = connection.recv(256)
                connection.sendall(RESPONSE)
                if not request.endswith(b"s"):
                    connection.recv(256)  # wait for the client's FIN (or RST)
            except OSError:
                pass


def client(worker: int) -> None:
    """A bounded run of connections: 80 % normal (half server-close), 10 % reset, 10 % refused."""
    deadline = time.monotonic() + TIME_LIMIT
    for n in range(CONNECTIONS_PER_CLIENT):
        if time.monotonic() > deadline:
            return
        kind = n % 10
        host = DESTINATIONS[(n + worker) % len(DESTINATIONS)]
        port = CLOSED_PORT if kind == 9 else SERVER_PORTS[n % len(SERVER_PORTS)]
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.connect((host, port))
            sock.sendall(b"GET / s" if kind < 4 else b"GET / c")
            sock.recv(4096)
            if kind == 8:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except ConnectionRefusedError:
            pass
        finally:
            sock.close()


def packet_count(path: Path) -> int:
    """Packets in ``path``, by capinfos."""
    output = subprocess.run(
        ["capinfos", "-M", "-c", "-T", "-r", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return int(output.split("\t")[-1])


def capture(destination: Path) -> int:
    """Run the traffic under tcpdump and move the capture to ``destination``; its packet count."""
    with tempfile.TemporaryDirectory(prefix="hskit-bench-") as workdir:
        raw = Path(workdir) / "capture.pcap"
        port_filter = f"tcp portrange {BASE_PORT}-{CLOSED_PORT}"
        tcpdump = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-n", "-B", "262144", "-w", str(raw), port_filter],
            stderr=subprocess.PIPE,
            text=True,
        )
        assert tcpdump.stderr is not None
        tcpdump.stderr.readline()  # "listening on lo ..."
        servers = [multiprocessing.Process(target=serve, args=(p,)) for p in SERVER_PORTS]
        clients = [multiprocessing.Process(target=client, args=(w,)) for w in range(CLIENTS)]
        try:
            for process in servers + clients:
                process.start()
            for process in clients:
                process.join(TIME_LIMIT)
            time.sleep(1.0)
        finally:
            for process in servers + clients:
                process.terminate()
                process.join()
            tcpdump.send_signal(signal.SIGINT)
            report = tcpdump.communicate(timeout=30)[1]
        print(report.strip())
        count = packet_count(raw)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(raw, destination)
    return count


def main() -> None:
    """Print the cached capture's path, making it first when missing (or with ``--force``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="capture again")
    parser.add_argument("--output", type=Path, default=CACHE)
    args = parser.parse_args()
    if args.force or not args.output.exists():
        if os.geteuid() != 0:
            raise SystemExit("capturing on lo needs root (or CAP_NET_RAW for tcpdump)")
        count = capture(args.output)
        if count < MIN_PACKETS:
            raise SystemExit(f"only {count} packets captured (< {MIN_PACKETS}); try --force")
    print(args.output)


if __name__ == "__main__":
    main()
