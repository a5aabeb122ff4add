"""Socket programs that ``generate.py`` runs inside the lab's network namespaces.

Each program is a real kernel TCP socket user, started as::

    ip netns exec hsk-srv python3 peers.py server '{"port": 8001, "behaviour": "..."}'
    ip netns exec hsk-cli python3 peers.py client '{"server": "10.77.0.2", ...}'

A server prints ``READY`` once it listens and stops by itself after its
connections are served or its deadline passes; a client prints ``DONE`` (and
``CONNECTED`` when asked to pause after the handshake).  Every wait is bounded.
Behaviours are named after what they do to the connection's teardown, e.g.
``respond_then_wait_eof`` (the client will close first) or ``respond_then_close``
(the server closes first).
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

Spec = dict[str, Any]
IO_TIMEOUT = 10.0
MSG_FASTOPEN = 0x20000000
TCP_FASTOPEN = 23
TCP_KEEPIDLE = 4
TCP_KEEPINTVL = 5
TCP_KEEPCNT = 6


def request_bytes(host: str, path: str = "/") -> bytes:
    """A small HTTP/1.1 GET request, as a browser would send it (trimmed)."""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: hskit-sample/1.0\r\n"
        "Accept: */*\r\n\r\n"
    ).encode()


def response_bytes(body_len: int, close: bool = False) -> bytes:
    """An HTTP/1.1 200 response with a deterministic body of ``body_len`` bytes."""
    body = (b"hskit sample body " * (body_len // 18 + 1))[:body_len]
    conn = "close" if close else "keep-alive"
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body_len}\r\n"
        f"Connection: {conn}\r\n\r\n"
    ).encode()
    return head + body


def family_of(addr: str) -> socket.AddressFamily:
    """AF_INET6 for addresses with a colon, AF_INET otherwise."""
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def read_request(conn: socket.socket) -> bytes:
    """Read until the end of the HTTP request head (or EOF); bounded by the socket timeout."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def read_response(sock: socket.socket) -> bytes:
    """Read one HTTP response: head plus Content-Length bytes (or until EOF)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _sep, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def read_until_eof(sock: socket.socket) -> int:
    """Read until the peer's FIN; returns the byte count (stops on reset too)."""
    total = 0
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return total
            total += len(chunk)
    except (ConnectionResetError, TimeoutError):
        return total


def linger_zero(sock: socket.socket) -> None:
    """Make close() abort the connection with a RST (SO_LINGER on, timeout 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def sleep_until(wall_time: float) -> None:
    """Sleep until an absolute ``time.time()`` value (both namespaces share the clock)."""
    delay = wall_time - time.time()
    if delay > 0:
        time.sleep(min(delay, 30.0))


# --------------------------------------------------------------------------- server side


def serve_connection(conn: socket.socket, spec: Spec) -> None:
    """Run the configured server behaviour on one accepted connection."""
    behaviour = spec["behaviour"]
    body = int(spec.get("body", 1200))
    conn.settimeout(IO_TIMEOUT)
    try:
        if behaviour == "respond_then_wait_eof":
            # Client closes first; the server closes after EOF (optionally after a pause).
            read_request(conn)
            conn.sendall(response_bytes(body))
            read_until_eof(conn)
            time.sleep(float(spec.get("close_delay", 0.0)))
        elif behaviour == "respond_then_close":
            # HTTP/1.0 style: the server closes right after its response.
            read_request(conn)
            conn.sendall(response_bytes(body, close=True))
            time.sleep(float(spec.get("close_delay", 0.0)))
        elif behaviour == "eof_then_respond":
            # Half-close: the request ends with the client's FIN, data then flows back.
            data = b""
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            for _ in range(int(spec.get("chunks", 3))):
                time.sleep(float(spec.get("chunk_gap", 0.1)))
                conn.sendall(response_bytes(body))
        elif behaviour == "respond_then_hold":
            # Never closes while the capture runs (one-sided close / open connection).
            read_request(conn)
            conn.sendall(response_bytes(body))
            read_until_eof(conn)
            time.sleep(float(spec.get("hold", 5.0)))
        elif behaviour == "respond_then_abort":
            read_request(conn)
            conn.sendall(response_bytes(body)[: body // 2])
            time.sleep(float(spec.get("abort_delay", 0.05)))
            linger_zero(conn)
        elif behaviour == "close_unread":
            # close() with unread data in the receive queue makes the kernel send RST.
            time.sleep(float(spec.get("close_delay", 0.3)))
        elif behaviour == "respond_then_sync_close":
            read_request(conn)
            conn.sendall(response_bytes(body))
            sleep_until(float(spec["close_at"]))
            conn.shutdown(socket.SHUT_WR)
            read_until_eof(conn)
        elif behaviour == "slow_reader":
            # Small SO_RCVBUF (set on the listener) and no reading: the window closes.
            time.sleep(float(spec.get("stall", 3.0)))
            read_until_eof(conn)
            conn.sendall(response_bytes(int(spec.get("body", 100))))
        elif behaviour == "sink":
            read_until_eof(conn)
        else:
            raise ValueError(f"unknown server behaviour {behaviour!r}")
    except (ConnectionResetError, BrokenPipeError, TimeoutError):
        pass
    finally:
        conn.close()


def make_listener(spec: Spec) -> socket.socket:
    """A listening socket configured from ``spec`` (address, port, backlog, options)."""
    addr = spec.get("addr", "0.0.0.0")
    sock = socket.socket(family_of(addr), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if "rcvbuf" in spec:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(spec["rcvbuf"]))
    if spec.get("fastopen"):
        sock.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN, 16)
    sock.bind((addr, int(spec["port"])))
    sock.listen(int(spec.get("backlog", 64)))
    return sock


def run_server(spec: Spec) -> None:
    """Accept up to ``conns`` connections per listener, one thread each, until the deadline."""
    listeners = [make_listener({**spec, **extra}) for extra in spec.get("listeners", [{}])]
    deadline = time.monotonic() + float(spec.get("max_seconds", 20.0))
    wanted = int(spec.get("conns", 1))
    print("READY", flush=True)
    if spec.get("accept", True) is False:
        time.sleep(max(0.0, deadline - time.monotonic()))
        return
    threads: list[threading.Thread] = []
    served = 0
    for sock in listeners:
        sock.settimeout(0.1)
    while served < wanted * len(listeners) and time.monotonic() < deadline:
        for sock in listeners:
            try:
                conn, _peer = sock.accept()
            except TimeoutError:
                continue
            served += 1
            thread = threading.Thread(target=serve_connection, args=(conn, spec), daemon=True)
            thread.start()
            threads.append(thread)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if spec.get("hold_listener"):
        # Keep listening (without accepting) until the deadline, e.g. during a SYN flood.
        time.sleep(max(0.0, deadline - time.monotonic()))
    for sock in listeners:
        sock.close()


# --------------------------------------------------------------------------- client side


def connect(spec: Spec, server: str, port: int, cport: int | None) -> socket.socket:
    """Connect from a fixed source port (SO_REUSEADDR) so captures keep their 4-tuples."""
    sock = socket.socket(family_of(server), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if cport:
        sock.bind((spec.get("bind", "::" if ":" in server else "0.0.0.0"), cport))
    sock.settimeout(float(spec.get("connect_timeout", IO_TIMEOUT)))
    sock.connect((server, port))
    sock.settimeout(IO_TIMEOUT)
    return sock


def client_exchange(spec: Spec, server: str, port: int, cport: int | None) -> None:
    """One client connection: connect, request, response, then the configured ending."""
    ending = spec.get("ending", "close")
    sock = connect(spec, server, port, cport)
    try:
        if spec.get("announce"):
            print("CONNECTED", flush=True)
            sys.stdin.readline()  # the generator writes a line once tcpdump runs
        sock.sendall(request_bytes(server))
        if ending == "shutdown_then_read":
            sock.shutdown(socket.SHUT_WR)
            read_until_eof(sock)
            return
        if ending == "send_shutdown_close":
            sock.shutdown(socket.SHUT_WR)
            time.sleep(float(spec.get("pause", 1.0)))
            return
        if ending == "read_until_eof":
            read_until_eof(sock)
            return
        read_response(sock)
        time.sleep(float(spec.get("think", 0.05)))
        if ending == "close":
            return
        if ending == "linger0":
            linger_zero(sock)
        elif ending == "read_eof_of_abort":
            read_until_eof(sock)
        elif ending == "sync_close":
            sleep_until(float(spec["close_at"]))
            sock.shutdown(socket.SHUT_WR)
            read_until_eof(sock)
        elif ending == "keepalive_idle":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            sock.setsockopt(socket.IPPROTO_TCP, TCP_KEEPIDLE, 1)
            sock.setsockopt(socket.IPPROTO_TCP, TCP_KEEPINTVL, 1)
            sock.setsockopt(socket.IPPROTO_TCP, TCP_KEEPCNT, 9)
            print("IDLE", flush=True)
            time.sleep(float(spec.get("idle", 5.0)))
            linger_zero(sock)  # after the capture stopped: leave nothing behind
        elif ending == "hold":
            time.sleep(float(spec.get("hold", 5.0)))
        else:
            raise ValueError(f"unknown client ending {ending!r}")
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        sock.close()


def run_client(spec: Spec) -> None:
    """Run ``spec["conns"]`` (a list of {server, port, cport, ...}) one after another."""
    if "start_at" in spec:
        sleep_until(float(spec["start_at"]))
    for item in spec["conns"]:
        merged = {**spec, **item}
        kind = merged.get("kind", "exchange")
        server, port, cport = merged["server"], int(merged["port"]), merged.get("cport")
        try:
            if kind == "exchange":
                client_exchange(merged, server, port, cport)
            elif kind == "attempt":
                attempt(merged, server, port, cport)
            elif kind == "give_up":
                give_up(merged, server, port, cport)
            elif kind == "fastopen":
                fastopen(merged, server, port, cport)
            elif kind == "bulk":
                bulk_send(merged, server, port, cport)
            else:
                raise ValueError(f"unknown client kind {kind!r}")
        except OSError as exc:
            print(f"ERR {server}:{port} {type(exc).__name__}: {exc}", flush=True)
        time.sleep(float(merged.get("gap", 0.2)))
    print("DONE", flush=True)


def attempt(spec: Spec, server: str, port: int, cport: int | None) -> None:
    """A connect() expected to fail (refused / timed out); the error is reported, not raised."""
    sock = socket.socket(family_of(server), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if cport:
        sock.bind(("0.0.0.0", cport))
    sock.settimeout(float(spec.get("connect_timeout", 7.5)))
    try:
        sock.connect((server, port))
        print("UNEXPECTED connected", flush=True)
    except OSError as exc:
        print(f"RESULT {type(exc).__name__}", flush=True)
    finally:
        sock.close()


def give_up(spec: Spec, server: str, port: int, cport: int | None) -> None:
    """Non-blocking connect, then close while still in SYN_SENT (before the SYN-ACK)."""
    sock = socket.socket(family_of(server), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if cport:
        sock.bind(("0.0.0.0", cport))
    sock.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        sock.connect((server, port))
    time.sleep(float(spec.get("give_up_after", 0.2)))
    sock.close()
    time.sleep(float(spec.get("linger_after", 0.6)))


def fastopen(spec: Spec, server: str, port: int, cport: int | None) -> None:
    """A TCP Fast Open request: sendto(MSG_FASTOPEN) puts the data (and cookie) in the SYN."""
    sock = socket.socket(family_of(server), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if cport:
        sock.bind(("0.0.0.0", cport))
    try:
        # Blocking on purpose: a non-blocking MSG_FASTOPEN without a cookie yet returns
        # EINPROGRESS (the data then waits for the handshake).
        sock.sendto(request_bytes(server), MSG_FASTOPEN, (server, port))
        sock.settimeout(IO_TIMEOUT)
        read_response(sock)
        time.sleep(float(spec.get("think", 0.05)))
    finally:
        sock.close()


def bulk_send(spec: Spec, server: str, port: int, cport: int | None) -> None:
    """Send ``bytes`` of data as fast as the receiver allows, then shut down and read."""
    sock = connect(spec, server, port, cport)
    try:
        sock.sendall(b"z" * int(spec.get("bytes", 32768)))
        sock.shutdown(socket.SHUT_WR)
        read_until_eof(sock)
    finally:
        sock.close()


# --------------------------------------------------------------------------- simultaneous open


def run_simopen(spec: Spec) -> None:
    """Bind ``local`` and connect() to ``remote`` at the wall-clock time ``start_at``."""
    local_addr, local_port = spec["local"]
    remote_addr, remote_port = spec["remote"]
    sock = socket.socket(family_of(local_addr), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((local_addr, int(local_port)))
    sock.settimeout(IO_TIMEOUT)
    print("READY", flush=True)
    sleep_until(float(spec["start_at"]))
    try:
        sock.connect((remote_addr, int(remote_port)))
        print("CONNECTED", flush=True)
        if spec.get("speaks_first"):
            sock.sendall(request_bytes(remote_addr))
            read_response(sock)
            time.sleep(0.05)
        else:
            read_request(sock)
            sock.sendall(response_bytes(400))
            read_until_eof(sock)
    except OSError as exc:
        print(f"ERR {type(exc).__name__}: {exc}", flush=True)
    finally:
        sock.close()
    print("DONE", flush=True)


# --------------------------------------------------------------------------- SYN flood


def run_synflood(spec: Spec) -> None:
    """Send ``count`` crafted SYNs (scapy, layer 2 on ``iface``) from 10.77.1.0/24, paced.

    Sources, ports, ISNs and options are fixed per index so re-runs are identical; the
    packets only ever go to ``dst`` (the lab's server namespace, over the lab veth).
    """
    from scapy.config import conf
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    count = min(int(spec.get("count", 200)), 300)
    interval = max(float(spec.get("interval", 0.01)), 0.005)
    src_net = spec.get("src_net", "10.77.1.")
    frames = []
    for i in range(count):
        frames.append(
            Ether(src=spec["src_mac"], dst=spec["dst_mac"])
            / IP(src=f"{src_net}{1 + i % 250}", dst=spec["dst"], ttl=64, id=i + 1)
            / TCP(
                sport=int(spec.get("sport_base", 30000)) + i,
                dport=int(spec["dport"]),
                flags="S",
                seq=(0x10000000 + i * 7919) % (1 << 32),
                window=64240,
                options=[
                    ("MSS", 1460),
                    ("SAckOK", b""),
                    ("Timestamp", (1000 + i, 0)),
                    ("NOP", None),
                    ("WScale", 7),
                ],
            )
        )
    raw_frames = [bytes(frame) for frame in frames]
    l2 = conf.L2socket(iface=spec["iface"])
    print("SENDING", flush=True)
    if "start_at" in spec:
        sleep_until(float(spec["start_at"]))
    started = time.monotonic()
    sent = 0
    try:
        for i, frame in enumerate(raw_frames):
            sleep_until_mono(started + i * interval)
            l2.send(frame)
            sent += 1
            if time.monotonic() - started > 5.0:  # hard bound: never more than 5 s of flooding
                break
    finally:
        l2.close()
    print(f"DONE sent={sent} in {time.monotonic() - started:.2f}s", flush=True)


def sleep_until_mono(when: float) -> None:
    """Sleep until a time.monotonic() value."""
    delay = when - time.monotonic()
    if delay > 0:
        time.sleep(delay)


ROLES: dict[str, Callable[[Spec], None]] = {
    "server": run_server,
    "client": run_client,
    "simopen": run_simopen,
    "synflood": run_synflood,
}


def main(argv: list[str]) -> int:
    """``peers.py ROLE JSON``: run one role with its JSON spec."""
    if len(argv) != 3 or argv[1] not in ROLES:
        print(f"usage: peers.py {{{','.join(ROLES)}}} JSON", file=sys.stderr)
        return 2
    ROLES[argv[1]](json.loads(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
