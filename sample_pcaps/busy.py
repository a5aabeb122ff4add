"""The "busy server" capture: a few thousand connections with every outcome mixed.

``run(path)`` (called by ``generate.py busy``) builds a lab, starts one server
process with a listener per behaviour (ports 9001-9013), and one client process
that opens ``N_CONNS`` connections on a fixed schedule (one every
``SPACING`` seconds, source port ``20000 + i``, kind ``PATTERN[i % len(PATTERN)]``),
plus a few connections made before the capture starts (midstream), a few left
open at the end, and a burst of spoofed SYNs (half-open, SYN cookies).
The same file runs the two sides inside the namespaces::

    ip netns exec hsk-srv python3 busy.py server
    ip netns exec hsk-cli python3 busy.py client START_AT
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers

N_CONNS = 2000
SPACING = 0.0105  # seconds between scheduled connection starts (~21 s in all)
BASE_CPORT = 20000
PRE_CPORT = 19900  # midstream connections, opened before the capture starts
OPEN_CPORT = 19950  # connections still open when the capture ends
N_PRE, N_OPEN, N_FLOOD = 6, 10, 60
FLOOD_SPORT = 30000
BODY = 300

# kind: (server port, server behaviour options, client options, note)
KINDS: dict[str, tuple[int, dict[str, Any], dict[str, Any], str]] = {
    "client_close": (
        9001,
        {"behaviour": "respond_then_wait_eof"},
        {"ending": "close"},
        "GET, client closes first",
    ),
    "server_close": (
        9002,
        {"behaviour": "respond_then_close"},
        {"ending": "read_until_eof"},
        "GET, server closes first",
    ),
    "slow_close": (
        9003,
        {"behaviour": "respond_then_wait_eof", "close_delay": 0.15},
        {"ending": "close"},
        "GET, server closes 150 ms after EOF",
    ),
    "client_abort": (
        9004,
        {"behaviour": "respond_then_wait_eof"},
        {"ending": "linger0"},
        "GET, client aborts (linger 0)",
    ),
    "server_abort": (
        9005,
        {"behaviour": "respond_then_abort"},
        {"ending": "read_until_eof"},
        "GET, server aborts mid-response",
    ),
    "refused": (9006, {}, {"kind": "attempt", "connect_timeout": 3.0}, "connect to a closed port"),
    "no_answer": (
        9007,
        {},
        {"kind": "attempt", "connect_timeout": 1.5},
        "SYN dropped by the server's firewall",
    ),
    "unread_close": (
        9008,
        {"behaviour": "close_unread", "close_delay": 0.1},
        {"ending": "send_shutdown_close", "pause": 0.4},
        "request + FIN, server closes unread: RST",
    ),
    "give_up": (
        9009,
        {"behaviour": "sink"},
        {"kind": "give_up", "give_up_after": 0.2, "linger_after": 0.0},
        "client gives up before the late (500 ms RTT) SYN-ACK",
    ),
    "server_hold": (
        9010,
        {"behaviour": "respond_then_hold", "hold": 60.0},
        {"ending": "close"},
        "GET, client closes, server never does",
    ),
    "sync_close": (
        9012,
        {"behaviour": "respond_then_sync_close"},
        {"ending": "sync_close"},
        "GET, both sides shutdown at the same instant",
    ),
    "client_close6": (9001, {}, {"ending": "close", "v6": True}, "GET over IPv6"),
}
PATTERN = (
    ["client_close"] * 6
    + ["server_close"] * 4
    + ["slow_close"] * 2
    + [
        "client_abort",
        "server_abort",
        "refused",
        "no_answer",
        "unread_close",
        "give_up",
        "server_hold",
        "client_close6",
        "sync_close",
    ]
)
HOLD_PORT, PRE_PORT, FLOOD_PORT = 9011, 9011, 9013
SERVER_IP, SERVER_IP6 = "10.77.0.2", "fd77::2"

FIN_ANY = ("fin_3way", "fin_4way")
# What each kind must look like in the capture (checked by generate.py).
EXPECT: dict[str, dict[str, Any]] = {
    "client_close": {"handshake": "complete", "termination": FIN_ANY, "closer": "client"},
    "client_close6": {"handshake": "complete", "termination": FIN_ANY, "closer": "client"},
    "server_close": {"handshake": "complete", "termination": FIN_ANY, "closer": "server"},
    "slow_close": {"handshake": "complete", "termination": "fin_4way", "closer": "client"},
    "client_abort": {"handshake": "complete", "termination": "reset", "reset_by": "client"},
    "server_abort": {"handshake": "complete", "termination": "reset", "reset_by": "server"},
    "refused": {"handshake": "refused", "termination": "not_established"},
    "no_answer": {"handshake": "no_answer", "termination": "not_established"},
    "unread_close": {
        "handshake": "complete",
        "termination": "fin_then_reset",
        "reset_by": "server",
    },
    "give_up": {"handshake": "reset_in_handshake", "termination": "not_established"},
    "server_hold": {"handshake": "complete", "termination": "half_closed", "closer": "client"},
    # Under load a FIN may occasionally arrive before the peer's own shutdown() runs.
    "sync_close": {
        "handshake": "complete",
        "termination": ("simultaneous_close", "fin_3way", "fin_4way"),
    },
    "midstream": {"handshake": "midstream", "termination": FIN_ANY},
    "open": {"handshake": "complete", "termination": "open"},
    "flood": {"handshake": "no_final_ack", "termination": "not_established"},
}


def kind_of(cport: int) -> str:
    """The kind of connection a client port was scheduled for."""
    if BASE_CPORT <= cport < BASE_CPORT + N_CONNS:
        return PATTERN[(cport - BASE_CPORT) % len(PATTERN)]
    if PRE_CPORT <= cport < PRE_CPORT + N_PRE:
        return "midstream"
    if OPEN_CPORT <= cport < OPEN_CPORT + N_OPEN:
        return "open"
    if FLOOD_SPORT <= cport < FLOOD_SPORT + N_FLOOD:
        return "flood"
    raise KeyError(cport)


def note_of(cport: int) -> str:
    """The manifest note for a client port: ``busy/<kind>`` (kinds are listed in README.md)."""
    return f"busy/{kind_of(cport)}"


# --------------------------------------------------------------------------- namespace sides


def server_main() -> None:
    """One listener per behaviour port; a thread per accepted connection; ~70 s at most."""
    listeners: dict[int, tuple[socket.socket, dict[str, Any]]] = {}
    for kind, (port, behaviour, _client, _note) in KINDS.items():
        if not behaviour or port in listeners:
            continue
        spec = {"port": port, "addr": "::", **behaviour}
        if kind == "sync_close":
            spec["close_at"] = 0.0  # per connection: parsed from the request path
        listeners[port] = (make_dual_listener(port, 256), spec)
    listeners[HOLD_PORT] = (
        make_dual_listener(HOLD_PORT, 64),
        {"behaviour": "respond_then_wait_eof"},
    )
    listeners[FLOOD_PORT] = (make_dual_listener(FLOOD_PORT, 16), {"behaviour": "sink"})
    for sock, _spec in listeners.values():
        sock.setblocking(False)
    print("READY", flush=True)
    deadline = time.monotonic() + 70.0
    import select

    socks = {sock.fileno(): (sock, spec) for sock, spec in listeners.values()}
    while time.monotonic() < deadline:
        readable, _w, _x = select.select(list(socks), [], [], 0.2)
        for fd in readable:
            sock, spec = socks[fd]
            try:
                conn, _peer = sock.accept()
            except BlockingIOError:
                continue
            conn.setblocking(True)
            threading.Thread(target=serve_busy, args=(conn, spec), daemon=True).start()


def make_dual_listener(port: int, backlog: int) -> socket.socket:
    """A listener on [::]:port accepting IPv4 (mapped) and IPv6."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", port))
    sock.listen(backlog)
    return sock


def serve_busy(conn: socket.socket, spec: dict[str, Any]) -> None:
    """Serve one connection; sync_close takes its close time from the request path."""
    if spec.get("behaviour") == "respond_then_sync_close":
        conn.settimeout(peers.IO_TIMEOUT)
        try:
            request = peers.read_request(conn)
            close_at = float(request.split(b" ")[1].split(b"/")[-1])
            conn.sendall(peers.response_bytes(BODY))
            peers.sleep_until(close_at)
            conn.shutdown(socket.SHUT_WR)
            peers.read_until_eof(conn)
        except (OSError, ValueError, IndexError):
            pass
        finally:
            conn.close()
        return
    peers.serve_connection(conn, {**spec, "body": BODY})


def one_client(i: int, kind: str, cport: int) -> None:
    """Run one scheduled client connection of the given kind."""
    port, _behaviour, options, _note = KINDS[kind]
    server = SERVER_IP6 if options.get("v6") else SERVER_IP
    spec: dict[str, Any] = {"think": 0.02, **options}
    try:
        if spec.get("kind") == "attempt":
            peers.attempt(spec, server, port, cport)
        elif spec.get("kind") == "give_up":
            peers.give_up(spec, server, port, cport)
        elif kind == "sync_close":
            sync_client(server, port, cport)
        else:
            peers.client_exchange(spec, server, port, cport)
    except OSError as exc:
        print(f"ERR {i} {kind}: {exc}", flush=True)


def sync_client(server: str, port: int, cport: int) -> None:
    """Request, response, then shutdown at the instant named in the request path."""
    close_at = time.time() + 0.3
    sock = peers.connect({}, server, port, cport)
    try:
        sock.sendall(peers.request_bytes(server, f"/sync/{close_at:.6f}"))
        peers.read_response(sock)
        peers.sleep_until(close_at)
        sock.shutdown(socket.SHUT_WR)
        peers.read_until_eof(sock)
    finally:
        sock.close()


def client_main(start_at: float) -> None:
    """Pre-open the midstream connections, wait for 'go', then run the schedule."""
    pre = []
    for j in range(N_PRE):
        sock = peers.connect({}, SERVER_IP, PRE_PORT, PRE_CPORT + j)
        pre.append(sock)
    print("PRECONNECTED", flush=True)
    sys.stdin.readline()
    threads = []
    for j, sock in enumerate(pre):
        thread = threading.Thread(
            target=finish_pre, args=(sock, start_at + (48.5 + 50 * j) * SPACING), daemon=True
        )
        thread.start()
        threads.append(thread)
    for i in range(N_CONNS):
        peers.sleep_until(start_at + i * SPACING)
        kind = PATTERN[i % len(PATTERN)]
        thread = threading.Thread(target=one_client, args=(i, kind, BASE_CPORT + i), daemon=True)
        thread.start()
        threads.append(thread)
    end = start_at + N_CONNS * SPACING
    opened = []
    for j in range(N_OPEN):
        peers.sleep_until(end + 0.1 * j)
        sock = peers.connect({}, SERVER_IP, HOLD_PORT, OPEN_CPORT + j)
        sock.sendall(peers.request_bytes(SERVER_IP))
        peers.read_response(sock)
        opened.append(sock)
    for thread in threads:
        thread.join(10.0)
    print("DONE", flush=True)
    sys.stdin.readline()  # keep the open connections open until the capture has stopped
    for sock in opened:
        peers.linger_zero(sock)
        sock.close()


def finish_pre(sock: socket.socket, when: float) -> None:
    """A connection made before the capture: talk and close at ``when``."""
    peers.sleep_until(when)
    try:
        sock.sendall(peers.request_bytes(SERVER_IP))
        peers.read_response(sock)
    finally:
        sock.close()


# --------------------------------------------------------------------------- orchestration


def run(path: Path) -> dict[int, str]:
    """Build the lab, make the capture at ``path``, return notes keyed by client port."""
    import netlab

    here = Path(__file__).resolve().parent
    lab_kwargs = {
        "delay_rules": ["*:9009:250"],
        # No TCP timestamps: 12 bytes less per packet, and far better gzip compression.
        "sysctl_cli": {"net.ipv4.tcp_timestamps": "0"},
        "sysctl_srv": {
            "net.ipv4.tcp_syncookies": "1",
            "net.ipv4.tcp_synack_retries": "2",
            "net.ipv4.tcp_timestamps": "0",
        },
    }
    with netlab.Lab(**lab_kwargs) as lab:
        lab.iptables(
            "srv", "-I", "INPUT", "1", "-p", "tcp", "--dport", "9007", "--syn", "-j", "DROP"
        )
        netlab.run(
            netlab.ns_cmd("cli", ["ip", "route", "add", "local", "10.77.1.0/24", "dev", "lo"])
        )
        lab.iptables(
            "cli", "-A", "INPUT", "-d", "10.77.1.0/24", "-p", "tcp", "-j", "DROP", v6=False
        )
        netlab.run(
            netlab.ns_cmd("srv", ["ip", "route", "add", "10.77.1.0/24", "via", netlab.CLIENT_IP])
        )
        srv = lab.spawn_raw(
            "busy:server", netlab.ns_cmd("srv", [sys.executable, str(here / "busy.py"), "server"])
        )
        srv.wait_for("READY")
        start_at = time.time() + 4.0
        cli = lab.spawn_raw(
            "busy:client",
            netlab.ns_cmd(
                "cli", [sys.executable, str(here / "busy.py"), "client", f"{start_at:.6f}"]
            ),
            stdin=True,
        )
        cli.wait_for("PRECONNECTED", 10)
        cap = lab.capture(path, "tcp portrange 9001-9013")
        cli.send_line("go")
        flood = lab.spawn(
            "cli",
            "synflood",
            {
                "iface": "hsk-c0",
                "count": N_FLOOD,
                "interval": 0.01,
                "dport": FLOOD_PORT,
                "src_mac": netlab.MAC["hsk-c0"],
                "dst_mac": netlab.MAC["hsk-s0"],
                "dst": SERVER_IP,
                "start_at": start_at + 10.0,
                "sport_base": FLOOD_SPORT,
            },
        )
        cli.wait_for("DONE", N_CONNS * SPACING + 40)
        flood.wait(10)
        lab.stop_capture(cap, 1.5)
        cli.send_line("stop")
        cli.wait(10)
    notes = {}
    for cport in [
        *range(BASE_CPORT, BASE_CPORT + N_CONNS),
        *range(PRE_CPORT, PRE_CPORT + N_PRE),
        *range(OPEN_CPORT, OPEN_CPORT + N_OPEN),
        *range(FLOOD_SPORT, FLOOD_SPORT + N_FLOOD),
    ]:
        notes[cport] = note_of(cport)
    return notes


def main(argv: list[str]) -> int:
    """``busy.py server`` or ``busy.py client START_AT`` (inside the lab namespaces)."""
    if len(argv) >= 2 and argv[1] == "server":
        server_main()
        return 0
    if len(argv) == 3 and argv[1] == "client":
        client_main(float(argv[2]))
        return 0
    print("usage: busy.py server | busy.py client START_AT", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
