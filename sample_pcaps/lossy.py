"""Make the lossy sample captures for hskit's TCP analysis (issue 13) from real kernel TCP.

Run as root (network namespaces need CAP_NET_ADMIN)::

    sudo python sample_pcaps/lossy.py            # every capture
    sudo python sample_pcaps/lossy.py loss       # just this one
    sudo python sample_pcaps/lossy.py duplicate reorder

Three namespaces: client ``hsk-lc`` and server ``hsk-ls``, each on a veth to a
forwarding router ``hsk-lr`` whose forward hook loses, duplicates or reorders the
server's packets (a drop in a sender's own OUTPUT chain is no loss on the wire: TCP just
sends the segment again at once). Each
scenario makes the kernel do what Wireshark's analysis names:

- ``loss``: a 60 KB download; the router drops every 9th data segment from the server;
  captured at the server (the sender): every segment and its retransmission, the
  client's duplicate ACKs, fast retransmissions.
- ``loss_unseen``: the same loss captured at the client (the receiver): the capture
  misses what the router dropped, "previous segment not captured" (lost_segment), then
  the retransmissions arrive out of order.
- ``zero_window_stall``: the client stops reading for 3 s while the server sends 100 KB
  into a 4 KB receive buffer: zero windows, probes, window updates, window full.
- ``duplicate``: a 60 KB download; the router sends a second copy of every 6th data
  segment from the server (nftables ``dup``); captured at the client: each copy is a
  retransmission of data already received, which the client answers with a duplicate ACK
  carrying a D-SACK block.
- ``reorder``: a 60 KB download; the router queues the server's packets to
  ``delayline.py`` (NFQUEUE in its FORWARD chain), which passes them after 5 ms but holds
  every 7th until the next one has gone, so the two swap places; captured at the client:
  out-of-order segments and the duplicate ACK each causes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLIENT_NS, ROUTER_NS, SERVER_NS = "hsk-lc", "hsk-lr", "hsk-ls"
#: (namespace, interface, address/prefix, peer namespace, peer interface, peer address)
LINKS = (
    (CLIENT_NS, "hsk-lc0", "10.79.0.1/24", ROUTER_NS, "hsk-lr0", "10.79.0.254/24"),
    (SERVER_NS, "hsk-ls0", "10.79.1.2/24", ROUTER_NS, "hsk-lr1", "10.79.1.254/24"),
)
CLIENT_IP, SERVER_IP = "10.79.0.1", "10.79.1.2"
PORT = 8301

SERVER = r"""
import socket, sys, time
size, pause = int(sys.argv[1]), float(sys.argv[2])
listener = socket.socket(); listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("{ip}", {port})); listener.listen(1); print("READY", flush=True)
conn, _ = listener.accept(); conn.recv(100)
conn.sendall(b"x" * size); conn.shutdown(socket.SHUT_WR); conn.recv(100); conn.close()
"""
CLIENT = r"""
import socket, sys, time
size, pause, rcvbuf = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
sock = socket.socket()
if rcvbuf: sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
sock.connect(("{ip}", {port})); sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
if pause: time.sleep(pause)
got = 0
while True:
    data = sock.recv(65536)
    if not data: break
    got += len(data)
sock.close(); print("GOT", got, flush=True)
"""

#: name -> (file, capture (namespace, interface), bytes the server sends, client pause s,
#: client SO_RCVBUF, what the router does to the server's packets: ("drop", N) drops
#: every Nth data segment, ("dup", N) duplicates it, ("hold", N) delays every Nth packet
#: longer than the others, None leaves them alone)
SCENARIOS = {
    "loss": ("loss.pcap", (SERVER_NS, "hsk-ls0"), 60_000, 0.0, 0, ("drop", 9)),
    "loss_unseen": ("loss_unseen.pcap", (CLIENT_NS, "hsk-lc0"), 60_000, 0.0, 0, ("drop", 9)),
    "zero_window_stall": ("zero_window_stall.pcap", (CLIENT_NS, "hsk-lc0"), 100_000, 3.0,
                          4096, None),
    "duplicate": ("duplicate.pcap", (CLIENT_NS, "hsk-lc0"), 60_000, 0.0, 0, ("dup", 6)),
    "reorder": ("reorder.pcap", (CLIENT_NS, "hsk-lc0"), 60_000, 0.0, 0, ("hold", 7)),
}  # fmt: skip
#: the reorder scenario's delay line: every packet from the server 5 ms (so the handshake's
#: round trip, Wireshark's out-of-order threshold, is at least that), every 7th swapped
#: with the next, waiting for it at most 50 ms
HOLD_DEFAULT_MS, HOLD_MS = 5, 50


def sh(*argv: str, check: bool = True) -> str:
    """Run a command, return its output."""
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=30).stdout


def in_ns(ns: str, *argv: str) -> list[str]:
    """``argv`` run inside namespace ``ns``."""
    return ["ip", "netns", "exec", ns, *argv]


def setup() -> None:
    """Fresh namespaces: client and server on two links through a forwarding router,
    offloads off so captures show wire-sized segments."""
    teardown()
    for ns in (CLIENT_NS, ROUTER_NS, SERVER_NS):
        sh("ip", "netns", "add", ns)
        sh(*in_ns(ns, "ip", "link", "set", "lo", "up"))
    sh(*in_ns(ROUTER_NS, "sysctl", "-qw", "net.ipv4.ip_forward=1"))
    for ns, ifname, address, peer_ns, peer_if, peer_address in LINKS:
        sh("ip", "link", "add", ifname, "netns", ns, "type", "veth", "peer", "name", peer_if,
           "netns", peer_ns)  # fmt: skip
        for where, name, cidr in ((ns, ifname, address), (peer_ns, peer_if, peer_address)):
            sh(*in_ns(where, "ip", "addr", "add", cidr, "dev", name))
            sh(*in_ns(where, "ip", "link", "set", name, "up"))
            offloads_off = f"import sys; sys.path.insert(0, {str(HERE)!r}); import netlab; "
            offloads_off += f"netlab.offloads_off({name!r})"
            sh(*in_ns(where, sys.executable, "-c", offloads_off))
        sh(*in_ns(ns, "ip", "route", "add", "default", "via", peer_address.split("/")[0]))


def teardown() -> None:
    """Delete the namespaces (their veth goes with them)."""
    existing = sh("ip", "netns", "list", check=False)
    for ns in (CLIENT_NS, ROUTER_NS, SERVER_NS):
        if ns in existing.split():
            sh("ip", "netns", "del", ns, check=False)


def router(action: tuple[str, int] | None) -> subprocess.Popen[str] | None:
    """Make the router do ``action`` to the server's packets; the delay line it started,
    if any."""
    if action is None:
        return None
    kind, every = action
    if kind == "drop":
        sh(*in_ns(ROUTER_NS, "iptables", "-A", "FORWARD", "-p", "tcp", "--sport", str(PORT),
                  "-m", "length", "--length", "200:65535", "-m", "statistic", "--mode", "nth",
                  "--every", str(every), "--packet", "1", "-j", "DROP"))  # fmt: skip
        return None
    if kind == "dup":
        sh(*in_ns(ROUTER_NS, "nft", "add table ip hsk_dup"))
        hook = "{ type filter hook forward priority 0; }"
        sh(*in_ns(ROUTER_NS, "nft", f"add chain ip hsk_dup forward {hook}"))
        sh(*in_ns(ROUTER_NS, "nft", f"add rule ip hsk_dup forward ip saddr {SERVER_IP} "
                  f"tcp sport {PORT} meta length 200-65535 numgen inc mod {every} == 0 "
                  f"dup to {CLIENT_IP} device {LINKS[0][4]}"))  # fmt: skip
        return None
    sh(*in_ns(ROUTER_NS, "iptables", "-A", "FORWARD", "-p", "tcp", "--sport", str(PORT),
              "-j", "NFQUEUE", "--queue-num", "0"))  # fmt: skip
    line = subprocess.Popen(
        in_ns(ROUTER_NS, sys.executable, str(HERE / "delayline.py"), "--delay-ms",
              str(HOLD_DEFAULT_MS), "--hold-every", str(every), "--hold-ms", str(HOLD_MS),
              "--max-seconds", "60"),
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert line.stdout is not None
    line.stdout.readline()
    return line


def make(name: str) -> Path:
    """Run one scenario and return its capture."""
    file, (capture_ns, capture_if), size, pause, rcvbuf, action = SCENARIOS[name]
    setup()
    line = router(action)
    path = HERE / file
    server = subprocess.Popen(
        in_ns(
            SERVER_NS,
            sys.executable,
            "-c",
            SERVER.format(ip=SERVER_IP, port=PORT),
            str(size),
            str(pause),
        ),
        stdout=subprocess.PIPE,
        text=True,
    )
    capture = subprocess.Popen(
        in_ns(
            capture_ns,
            "tcpdump",
            "-i",
            capture_if,
            "-n",
            "-U",
            "-w",
            str(path),
            "tcp",
            "port",
            str(PORT),
        ),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and capture.stderr is not None
        server.stdout.readline()
        capture.stderr.readline()
        time.sleep(0.3)
        client = subprocess.run(
            in_ns(
                CLIENT_NS,
                sys.executable,
                "-c",
                CLIENT.format(ip=SERVER_IP, port=PORT),
                str(size),
                str(pause),
                str(rcvbuf),
            ),
            capture_output=True,
            text=True,
            timeout=60,
        )
        print(name, client.stdout.strip())
        time.sleep(0.5)
    finally:
        capture.terminate()
        capture.wait(5)
        server.kill()
        server.wait(5)
        if line is not None:
            line.terminate()
            print(name, line.communicate(timeout=5)[0].strip())
        teardown()
    return path


def main(names: list[str]) -> int:
    """Make the named scenarios (all without names)."""
    for name in names or list(SCENARIOS):
        path = make(name)
        print(f"{path.name}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
