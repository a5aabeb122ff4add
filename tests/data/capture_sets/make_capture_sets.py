"""Regenerate the capture sets in ``tests/data/capture_sets`` (run as root: it captures on lo).

    python tests/data/capture_sets/make_capture_sets.py

Loopback TCP that spans file rotations, captured twice at once by real rotating capture
tools, so connections continue from one file to the next:

- ``dumpcap_ring/``: ``dumpcap -b filesize:12`` (pcapng files of about 12 kB);
- ``tcpdump_rotated/``: ``tcpdump -G 1`` (a pcap file per second, ``tcpdump_<epoch>.pcap``;
  this tcpdump's ``-C`` counts whole megabytes, too big for the repository).

The traffic (bounded: 2.5 s at most): two long-lived connections sending a 120-byte
message every 20 ms each way, and a short connection (request, response, close) every
100 ms, on ports 47410–47411. ``manifest.json`` lists each set's files in capture
order with their frame counts and SHA-256. ``tests/test_capture_sets.py`` proves that
loading a set equals tshark's reading of ``mergecap -a`` of its files.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PORTS = (47410, 47411)
DURATION = 2.5
FILTER = "tcp portrange 47410-47411"


def _serve(listener: socket.socket, stop: threading.Event) -> None:
    listener.settimeout(0.1)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        threading.Thread(target=_echo, args=(conn,), daemon=True).start()


def _echo(conn: socket.socket) -> None:
    with conn:
        conn.settimeout(DURATION + 1)
        while data := conn.recv(4096):
            conn.sendall(data)


def _long_lived(port: int, deadline: float) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while time.monotonic() < deadline:
            sock.sendall(b"m" * 120)
            sock.recv(4096)
            time.sleep(0.02)


def _short(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"request")
            sock.recv(4096)
        time.sleep(0.1)


def _traffic() -> None:
    stop = threading.Event()
    listeners = []
    for port in PORTS:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(16)
        listeners.append(listener)
    servers = [
        threading.Thread(target=_serve, args=(listener, stop), daemon=True)
        for listener in listeners
    ]
    for server in servers:
        server.start()
    deadline = time.monotonic() + DURATION
    clients = [threading.Thread(target=_long_lived, args=(port, deadline)) for port in PORTS]
    clients.append(threading.Thread(target=_short, args=(PORTS[0], deadline)))
    for client in clients:
        client.start()
    for client in clients:
        client.join(DURATION + 2)
    stop.set()
    for server in servers:
        server.join(1)
    for listener in listeners:
        listener.close()


def _frames(path: Path) -> int:
    out = subprocess.run(
        ["capinfos", "-T", "-r", "-c", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return int(out.split()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        ring, rotated = Path(work) / "dumpcap_ring", Path(work) / "tcpdump_rotated"
        ring.mkdir()
        rotated.mkdir()
        tools = [
            subprocess.Popen(
                ["dumpcap", "-q", "-i", "lo", "-f", FILTER, "-b", "filesize:12",
                 "-w", str(ring / "ring.pcapng")],
                stderr=subprocess.DEVNULL,
            ),
            subprocess.Popen(
                ["tcpdump", "-q", "-i", "lo", "-U", "-Z", "root", "-G", "1",
                 "-w", str(rotated / "tcpdump_%s.pcap"), FILTER],
                stderr=subprocess.DEVNULL,
            ),
        ]  # fmt: skip
        time.sleep(1.5)  # both capturing
        _traffic()
        time.sleep(0.5)
        for tool in tools:
            tool.terminate()
            tool.wait(10)
        manifest = {}
        for folder in (ring, rotated):
            target = HERE / folder.name
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            files = sorted(folder.iterdir())  # both name their files in time order
            for path in files:
                shutil.copy(path, target / path.name)
            manifest[folder.name] = [
                {"file": p.name, "frames": _frames(p),
                 "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
                for p in files
            ]  # fmt: skip
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
