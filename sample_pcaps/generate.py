"""Regenerate hskit's sample captures and their manifest from real kernel TCP sockets.

Run as root (network namespaces need CAP_NET_ADMIN)::

    sudo python sample_pcaps/generate.py              # every scenario
    sudo python sample_pcaps/generate.py refused ecn  # just these (manifest rows merged)
    python sample_pcaps/generate.py --list

Each scenario builds a fresh lab (see ``netlab.py``: namespaces ``hsk-cli`` and
``hsk-srv`` joined by a veth, a userspace delay line giving a ~40 ms RTT),
captures on the client side with tcpdump/dumpcap, then labels every connection
of the capture with the written rules of ``LABELING.md`` (``labeller.py``) and
checks the labels against what the scenario meant to produce.  A scenario whose
capture does not show what it should is retried, then reported as a failure.
"""

from __future__ import annotations

import argparse
import atexit
import csv
import gzip
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import labeller
import netlab
from netlab import CLIENT_IP, CLIENT_IP6, SERVER_IP, SERVER_IP6, SLOW_SERVER_IP, Lab

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.csv"
Expect = dict[str, str | tuple[str, ...]]
Notes = list[str] | dict[int, str]  # per stream in order, or by client port
FIN_ANY = ("fin_3way", "fin_4way")


@dataclass
class Scenario:
    """One capture: how to make it and what its connections must look like."""

    name: str
    file: str
    summary: str
    run: Callable[[Scenario, Path], Notes]
    expect: list[Expect]
    lab: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


SCENARIOS: dict[str, Scenario] = {}


def scenario(
    name: str,
    file: str,
    summary: str,
    expect: list[Expect],
    lab: dict[str, Any] | None = None,
    **params: Any,
) -> Callable[[Callable[[Scenario, Path], Notes]], Callable[[Scenario, Path], Notes]]:
    """Register a scenario function; it returns one manifest note per connection."""

    def register(
        func: Callable[[Scenario, Path], Notes],
    ) -> Callable[[Scenario, Path], Notes]:
        SCENARIOS[name] = Scenario(name, file, summary, func, expect, lab or {}, params)
        return func

    return register


# --------------------------------------------------------------------------- building blocks


def web(
    lab: Lab,
    port: int,
    server: dict[str, Any],
    conns: list[dict[str, Any]],
    server_ns: str = "srv",
    client: dict[str, Any] | None = None,
) -> netlab.Proc:
    """Start a server (waits for READY), run the client connections to completion."""
    srv = lab.spawn(server_ns, "server", {"port": port, "conns": len(conns), **server})
    srv.wait_for("READY")
    cli = lab.spawn("cli", "client", {"conns": conns, **(client or {})})
    cli.wait(60)
    cli.wait_for("DONE", 1)
    return srv


def simple_web(
    sc: Scenario,
    path: Path,
    server: dict[str, Any],
    ending: str = "close",
    lab_kwargs: dict[str, Any] | None = None,
    capture_extra: tuple[str, ...] = (),
    iface: str = "hsk-c0",
    server_ip: str = SERVER_IP,
    settle: float = 0.6,
    client: dict[str, Any] | None = None,
) -> None:
    """The common case: one capture, one server, one client connection to ``sc.params``."""
    port, cport = sc.params["port"], sc.params["cport"]
    with Lab(**{**sc.lab, **(lab_kwargs or {})}) as lab:
        cap = lab.capture(path, f"tcp port {port}", iface=iface, extra=capture_extra)
        web(
            lab,
            port,
            server,
            [{"server": server_ip, "port": port, "cport": cport, "ending": ending}],
            client=client,
        )
        lab.stop_capture(cap, settle)


# --------------------------------------------------------------------------- teardown scenarios


@scenario(
    "close_client_first",
    "close_client_first.pcap",
    "browser-style GET/response, the client closes first",
    [{"handshake": "complete", "termination": FIN_ANY, "closer": "client", "conn_state": "SF"}],
    port=8001,
    cport=40001,
)
def s_close_client_first(sc: Scenario, path: Path) -> list[str]:
    """HTTP/1.1 keep-alive style: the client closes after the response, the server on EOF."""
    simple_web(sc, path, {"behaviour": "respond_then_wait_eof", "body": 1800})
    return ["GET + 1.8 KB response; client close(), server close() on EOF"]


@scenario(
    "close_server_first",
    "close_server_first.pcap",
    "browser-style GET/response, the server closes first (Connection: close)",
    [{"handshake": "complete", "termination": FIN_ANY, "closer": "server", "conn_state": "SF"}],
    port=8002,
    cport=40002,
)
def s_close_server_first(sc: Scenario, path: Path) -> list[str]:
    """HTTP/1.0 style: the server closes right after its response."""
    simple_web(sc, path, {"behaviour": "respond_then_close", "body": 1800}, ending="read_until_eof")
    return ["GET + 1.8 KB response with Connection: close; server close() first"]


@scenario(
    "fin_4way",
    "fin_4way.pcap",
    "textbook 4-way close: FIN, ACK, (pause) FIN, ACK",
    [{"handshake": "complete", "termination": "fin_4way", "closer": "client", "conn_state": "SF"}],
    port=8003,
    cport=40003,
)
def s_fin_4way(sc: Scenario, path: Path) -> list[str]:
    """The passive side waits 300 ms after EOF, so its ACK of the FIN goes out alone."""
    simple_web(
        sc,
        path,
        {"behaviour": "respond_then_wait_eof", "close_delay": 0.3, "body": 600},
        settle=0.8,
    )
    return ["server close() 300 ms after EOF: its ACK and FIN are separate segments"]


@scenario(
    "fin_3way",
    "fin_3way.pcap",
    "3-way close: FIN, FIN+ACK, ACK (passive side closes at once on EOF)",
    [{"handshake": "complete", "termination": "fin_3way", "closer": "client", "conn_state": "SF"}],
    port=8004,
    cport=40004,
)
def s_fin_3way(sc: Scenario, path: Path) -> list[str]:
    """The passive side closes immediately on EOF; its delayed ACK rides on its FIN."""
    simple_web(sc, path, {"behaviour": "respond_then_wait_eof", "body": 600})
    return ["server close() immediately on EOF: delayed ACK carried by its FIN"]


@scenario(
    "simultaneous_close",
    "simultaneous_close.pcap",
    "simultaneous close: both sides shutdown() at the same instant, FINs cross",
    [
        {
            "handshake": "complete",
            "termination": "simultaneous_close",
            "closer": "both",
            "conn_state": "SF",
        }
    ],
    port=8005,
    cport=40005,
)
def s_simultaneous_close(sc: Scenario, path: Path) -> list[str]:
    """Both sides call shutdown(SHUT_WR) at the same wall-clock time; the RTT makes FINs cross."""
    close_at = time.time() + 2.0
    simple_web(
        sc,
        path,
        {"behaviour": "respond_then_sync_close", "close_at": close_at},
        ending="sync_close",
        client={"close_at": close_at},
    )
    return ["both shutdown(SHUT_WR) at the same instant; FINs cross in flight"]


@scenario(
    "half_close",
    "half_close.pcap",
    "half-close: client shutdown(SHUT_WR), then the server sends data, then closes",
    [{"handshake": "complete", "termination": "fin_4way", "closer": "client", "conn_state": "SF"}],
    port=8006,
    cport=40006,
)
def s_half_close(sc: Scenario, path: Path) -> list[str]:
    """The request ends with the client's FIN; three responses flow back after it."""
    simple_web(
        sc,
        path,
        {"behaviour": "eof_then_respond", "chunks": 3, "body": 500},
        ending="shutdown_then_read",
    )
    return ["client FIN after the request; 3 server responses after that FIN; server FIN"]


@scenario(
    "one_sided_close",
    "one_sided_close.pcap",
    "one-sided close: the client's FIN is acknowledged, the server never closes",
    [
        {
            "handshake": "complete",
            "termination": "half_closed",
            "closer": "client",
            "conn_state": "S2",
        }
    ],
    port=8007,
    cport=40007,
)
def s_one_sided_close(sc: Scenario, path: Path) -> list[str]:
    """The server keeps its socket open past the end of the capture."""
    simple_web(sc, path, {"behaviour": "respond_then_hold", "hold": 8.0}, settle=1.0)
    return ["client close(); server holds its socket open until after the capture"]


# --------------------------------------------------------------------------- failed handshakes


@scenario(
    "refused",
    "refused.pcap",
    "connection refused: SYN answered by RST-ACK (no listener)",
    [
        {
            "handshake": "refused",
            "termination": "not_established",
            "reset_by": "server",
            "conn_state": "REJ",
        }
    ],
    port=8008,
    cport=40008,
)
def s_refused(sc: Scenario, path: Path) -> list[str]:
    """connect() to a port nobody listens on."""
    port = sc.params["port"]
    with Lab(**sc.lab) as lab:
        cap = lab.capture(path, f"tcp port {port}")
        cli = lab.spawn(
            "cli",
            "client",
            {
                "conns": [
                    {
                        "kind": "attempt",
                        "server": SERVER_IP,
                        "port": port,
                        "cport": sc.params["cport"],
                    }
                ]
            },
        )
        cli.wait(20)
        cli.wait_for("ConnectionRefusedError", 1)
        lab.stop_capture(cap)
    return ["connect() to a closed port: kernel answers the SYN with RST-ACK"]


@scenario(
    "no_answer",
    "no_answer.pcap",
    "no answer: SYNs dropped by iptables, retransmitted after 1 s, 2 s, 4 s",
    [{"handshake": "no_answer", "termination": "not_established", "conn_state": "S0"}],
    lab={"sysctl_cli": {"net.ipv4.tcp_syn_linear_timeouts": "0", "net.ipv4.tcp_syn_retries": "3"}},
    port=8009,
    cport=40009,
)
def s_no_answer(sc: Scenario, path: Path) -> list[str]:
    """The server namespace drops the SYNs; the client's connect() gives up after 7.5 s."""
    port = sc.params["port"]
    with Lab(**sc.lab) as lab:
        lab.iptables(
            "srv", "-I", "INPUT", "1", "-p", "tcp", "--dport", str(port), "--syn", "-j", "DROP"
        )
        cap = lab.capture(path, f"tcp port {port}")
        cli = lab.spawn(
            "cli",
            "client",
            {
                "conns": [
                    {
                        "kind": "attempt",
                        "server": SERVER_IP,
                        "port": port,
                        "cport": sc.params["cport"],
                        "connect_timeout": 7.5,
                    }
                ]
            },
        )
        cli.wait(20)
        cli.wait_for("TimeoutError", 1)
        lab.stop_capture(cap, 0.2)
    return [
        "SYN at 0 s, retransmitted at 1 s, 3 s, 7 s (tcp_syn_linear_timeouts=0); "
        "connect timeout 7.5 s"
    ]


@scenario(
    "reset_in_handshake",
    "reset_in_handshake.pcap",
    "reset in handshake: the client gave up in SYN_SENT, its kernel RSTs the late SYN-ACK",
    [
        {
            "handshake": "reset_in_handshake",
            "termination": "not_established",
            "reset_by": "client",
            "conn_state": "RSTO",
        }
    ],
    lab={"delay_rules": ["*:8010:250"]},
    port=8010,
    cport=40010,
)
def s_reset_in_handshake(sc: Scenario, path: Path) -> list[str]:
    """500 ms RTT for this port; the client closes its socket 200 ms after connect()."""
    port = sc.params["port"]
    with Lab(**sc.lab) as lab:
        cap = lab.capture(path, f"tcp port {port}")
        srv = lab.spawn(
            "srv", "server", {"port": port, "conns": 1, "behaviour": "sink", "max_seconds": 3}
        )
        srv.wait_for("READY")
        cli = lab.spawn(
            "cli",
            "client",
            {
                "conns": [
                    {
                        "kind": "give_up",
                        "server": SERVER_IP,
                        "port": port,
                        "cport": sc.params["cport"],
                        "give_up_after": 0.2,
                        "linger_after": 0.8,
                    }
                ]
            },
        )
        cli.wait(20)
        lab.stop_capture(cap, 0.5)
    return [
        "client close() in SYN_SENT after 200 ms; SYN-ACK arrives at ~500 ms and is answered by RST"
    ]


# --------------------------------------------------------------------------- resets


@scenario(
    "rst_client",
    "rst_client.pcap",
    "abort by the client: SO_LINGER 0 close() sends RST",
    [{"handshake": "complete", "termination": "reset", "reset_by": "client", "conn_state": "RSTO"}],
    port=8011,
    cport=40011,
)
def s_rst_client(sc: Scenario, path: Path) -> list[str]:
    """The client reads the response, then aborts with a linger-0 close."""
    simple_web(sc, path, {"behaviour": "respond_then_wait_eof"}, ending="linger0")
    return ["client SO_LINGER{1,0} close() after the response: RST instead of FIN"]


@scenario(
    "rst_server",
    "rst_server.pcap",
    "abort by the server: half a response, then SO_LINGER 0 close() (RST)",
    [{"handshake": "complete", "termination": "reset", "reset_by": "server", "conn_state": "RSTR"}],
    port=8012,
    cport=40012,
)
def s_rst_server(sc: Scenario, path: Path) -> list[str]:
    """The server sends part of its response and aborts."""
    simple_web(sc, path, {"behaviour": "respond_then_abort", "body": 1200}, ending="read_until_eof")
    return ["server sends half the response then SO_LINGER{1,0} close(): RST"]


@scenario(
    "fin_then_reset",
    "fin_then_reset.pcap",
    "FIN then RST: the client half-closes, the server close()s with unread data",
    [
        {
            "handshake": "complete",
            "termination": "fin_then_reset",
            "closer": "client",
            "reset_by": "server",
            "conn_state": "RSTR",
        }
    ],
    port=8013,
    cport=40013,
)
def s_fin_then_reset(sc: Scenario, path: Path) -> list[str]:
    """close() with unread bytes in the receive queue makes Linux send RST (RFC 2525)."""
    simple_web(
        sc,
        path,
        {"behaviour": "close_unread", "close_delay": 0.3},
        ending="send_shutdown_close",
        client={"pause": 1.0},
    )
    return ["client request + shutdown(SHUT_WR); server close() without reading: RST"]


# --------------------------------------------------------------------------- opens


@scenario(
    "simultaneous_open",
    "simultaneous_open.pcap",
    "simultaneous open: both sides connect() to each other at once, SYNs cross",
    [{"handshake": "simultaneous_open", "termination": (*FIN_ANY, "simultaneous_close")}],
    port=8014,
    cport=8114,
)
def s_simultaneous_open(sc: Scenario, path: Path) -> list[str]:
    """Both namespaces bind their port and connect() to the other at the same instant."""
    port, cport = sc.params["port"], sc.params["cport"]
    start_at = time.time() + 1.5
    with Lab(**sc.lab) as lab:
        cap = lab.capture(path, f"tcp port {port}")
        srv = lab.spawn(
            "srv",
            "simopen",
            {"local": [SERVER_IP, port], "remote": [CLIENT_IP, cport], "start_at": start_at},
        )
        cli = lab.spawn(
            "cli",
            "simopen",
            {
                "local": [CLIENT_IP, cport],
                "remote": [SERVER_IP, port],
                "start_at": start_at,
                "speaks_first": True,
            },
        )
        cli.wait(20)
        srv.wait(20)
        for proc in (cli, srv):
            proc.wait_for("CONNECTED", 1)
        lab.stop_capture(cap)
    return ["both bind() and connect() at the same instant; SYN crosses SYN (real kernel)"]


@scenario(
    "midstream",
    "midstream.pcap",
    "midstream: tcpdump starts after the handshake",
    [{"handshake": "midstream", "termination": FIN_ANY, "closer": "client"}],
    port=8015,
    cport=40015,
)
def s_midstream(sc: Scenario, path: Path) -> list[str]:
    """The client connects, the capture starts, then the request/response and close."""
    port, cport = sc.params["port"], sc.params["cport"]
    with Lab(**sc.lab) as lab:
        srv = lab.spawn(
            "srv", "server", {"port": port, "conns": 1, "behaviour": "respond_then_wait_eof"}
        )
        srv.wait_for("READY")
        cli = lab.spawn(
            "cli",
            "client",
            {"conns": [{"server": SERVER_IP, "port": port, "cport": cport, "announce": True}]},
            stdin=True,
        )
        cli.wait_for("CONNECTED")
        time.sleep(0.3)
        cap = lab.capture(path, f"tcp port {port}")
        cli.send_line("go")
        cli.wait(20)
        lab.stop_capture(cap)
    return ["capture started 0.3 s after the handshake; request, response, client close"]


# --------------------------------------------------------------------------- SYN flood


@scenario(
    "syn_flood",
    "syn_flood.pcap",
    "SYN flood: 200 spoofed SYNs, half-open pile-up, SYN-ACK retransmits, SYN cookies",
    [{"handshake": "no_final_ack", "termination": "not_established", "conn_state": "S1"}],
    lab={
        "sysctl_srv": {
            "net.ipv4.tcp_syncookies": "1",
            "net.core.somaxconn": "8",
            "net.ipv4.tcp_max_syn_backlog": "8",
            "net.ipv4.tcp_synack_retries": "2",
        }
    },
    port=8016,
    cport=40016,
    flood=200,
    expect_by_client_port={
        40016: {"handshake": "complete", "termination": FIN_ANY, "conn_state": "SF"}
    },
)
def s_syn_flood(sc: Scenario, path: Path) -> Notes:
    """scapy SYNs from 10.77.1.0/24 (local to the client ns, SYN-ACKs dropped there) plus one
    legitimate connection in the middle of the flood, which completes through a SYN cookie."""
    port, cport, flood = sc.params["port"], sc.params["cport"], sc.params["flood"]
    with Lab(**sc.lab) as lab:
        netlab.run(
            netlab.ns_cmd("cli", ["ip", "route", "add", "local", "10.77.1.0/24", "dev", "lo"])
        )
        lab.iptables(
            "cli", "-A", "INPUT", "-d", "10.77.1.0/24", "-p", "tcp", "-j", "DROP", v6=False
        )
        netlab.run(netlab.ns_cmd("srv", ["ip", "route", "add", "10.77.1.0/24", "via", CLIENT_IP]))
        cap = lab.capture(path, f"tcp port {port}")
        srv = lab.spawn(
            "srv",
            "server",
            {
                "port": port,
                "conns": 1,
                "backlog": 8,
                "behaviour": "respond_then_wait_eof",
                "max_seconds": 15,
                "hold_listener": True,
            },
        )
        srv.wait_for("READY")
        start_at = time.time() + 3.0  # scapy's import takes a while
        fl = lab.spawn(
            "cli",
            "synflood",
            {
                "iface": "hsk-c0",
                "count": flood,
                "interval": 0.01,
                "dport": port,
                "src_mac": netlab.MAC["hsk-c0"],
                "dst_mac": netlab.MAC["hsk-s0"],
                "dst": SERVER_IP,
                "start_at": start_at,
            },
        )
        # The legitimate client connects 1.005 s into the flood (between two spoofed SYNs).
        cli = lab.spawn(
            "cli",
            "client",
            {
                "start_at": start_at + 1.005,
                "conns": [{"server": SERVER_IP, "port": port, "cport": cport}],
            },
        )
        cli.wait(20)
        fl.wait(20)
        time.sleep(3.5)  # SYN-ACK retransmissions of the queued half-open entries (1 s, 3 s)
        counters = netlab.run(
            netlab.ns_cmd(
                "srv",
                [
                    "nstat",
                    "-az",
                    "TcpExtSyncookiesSent",
                    "TcpExtSyncookiesRecv",
                    "TcpExtTCPReqQFullDoCookies",
                ],
            )
        )
        print(
            "  server counters: "
            + " ".join(
                f"{line.split()[0]}={line.split()[1]}"
                for line in counters.splitlines()
                if line.startswith("TcpExt")
            ),
            flush=True,
        )
        lab.stop_capture(cap)
    notes = {30000 + i: f"flood SYN #{i} from spoofed 10.77.1.{1 + i % 250}" for i in range(flood)}
    notes[cport] = "legitimate client during the flood (handshake via SYN cookie)"
    return notes


# --------------------------------------------------------------------------- other behaviours


@scenario(
    "port_reuse",
    "port_reuse.pcap",
    "one 4-tuple reused by 3 consecutive connections (server closes first, no client TIME_WAIT)",
    [{"handshake": "complete", "termination": FIN_ANY, "closer": "server", "conn_state": "SF"}] * 3,
    port=8017,
    cport=40017,
)
def s_port_reuse(sc: Scenario, path: Path) -> list[str]:
    """The client binds the same source port each time; the server's TIME_WAIT accepts the
    new SYN because its sequence number / timestamp is newer."""
    port, cport = sc.params["port"], sc.params["cport"]
    with Lab(**sc.lab) as lab:
        cap = lab.capture(path, f"tcp port {port}")
        conn = {
            "server": SERVER_IP,
            "port": port,
            "cport": cport,
            "ending": "read_until_eof",
            "gap": 0.4,
        }
        web(lab, port, {"behaviour": "respond_then_close"}, [conn, conn, conn])
        lab.stop_capture(cap)
    return [f"same 4-tuple, connection {i + 1} of 3" for i in range(3)]


@scenario(
    "keepalive",
    "keepalive.pcap",
    "keep-alive probes (TCP_KEEPIDLE/INTVL 1 s) on an idle connection left open",
    [{"handshake": "complete", "termination": "open", "conn_state": "S1"}],
    port=8018,
    cport=40018,
)
def s_keepalive(sc: Scenario, path: Path) -> list[str]:
    """After one exchange the client idles with keep-alive on; the capture ends while open."""
    port, cport = sc.params["port"], sc.params["cport"]
    with Lab(**sc.lab) as lab:
        cap = lab.capture(path, f"tcp port {port}")
        srv = lab.spawn(
            "srv", "server", {"port": port, "conns": 1, "behaviour": "respond_then_wait_eof"}
        )
        srv.wait_for("READY")
        cli = lab.spawn(
            "cli",
            "client",
            {
                "conns": [
                    {
                        "server": SERVER_IP,
                        "port": port,
                        "cport": cport,
                        "ending": "keepalive_idle",
                        "idle": 6.0,
                    }
                ]
            },
        )
        cli.wait_for("IDLE")
        time.sleep(4.3)
        lab.stop_capture(cap, 0.0)
    return ["idle with SO_KEEPALIVE, TCP_KEEPIDLE=1, TCP_KEEPINTVL=1; capture ends while open"]


@scenario(
    "tcp_fastopen",
    "tcp_fastopen.pcap",
    "TCP Fast Open: cookie request, then data in the SYN with the cookie",
    [{"handshake": "complete", "termination": FIN_ANY, "closer": "client"}] * 2,
    lab={
        "sysctl_cli": {"net.ipv4.tcp_fastopen": "3"},
        "sysctl_srv": {"net.ipv4.tcp_fastopen": "3"},
    },
    port=8019,
    cport=40019,
)
def s_tcp_fastopen(sc: Scenario, path: Path) -> list[str]:
    """Two sendto(MSG_FASTOPEN) connections: the first obtains the cookie, the second uses it."""
    port, cport = sc.params["port"], sc.params["cport"]
    with Lab(**sc.lab) as lab:
        cap = lab.capture(path, f"tcp port {port}")
        conns = [
            {
                "kind": "fastopen",
                "server": SERVER_IP,
                "port": port,
                "cport": cport + i * 100,
                "gap": 0.4,
            }
            for i in range(2)
        ]
        web(lab, port, {"behaviour": "respond_then_wait_eof", "fastopen": True}, conns)
        lab.stop_capture(cap)
    return [
        "TFO cookie request (empty TFO option in SYN), data after the handshake",
        "TFO with cookie: GET carried in the SYN",
    ]


@scenario(
    "ecn",
    "ecn.pcap",
    "ECN negotiated: SYN with ECE+CWR, SYN-ACK with ECE (tcp_ecn=1)",
    [{"handshake": "complete", "termination": FIN_ANY, "closer": "client", "conn_state": "SF"}],
    lab={"sysctl_cli": {"net.ipv4.tcp_ecn": "1"}},
    port=8020,
    cport=40020,
)
def s_ecn(sc: Scenario, path: Path) -> list[str]:
    """The client requests ECN; the server (tcp_ecn=2, the default) accepts."""
    simple_web(sc, path, {"behaviour": "respond_then_wait_eof"})
    return ["client tcp_ecn=1: ECN-setup SYN (ECE+CWR), ECN-setup SYN-ACK (ECE), ECT(0) data"]


@scenario(
    "ipv6",
    "ipv6.pcap",
    "IPv6: the browser-style exchange over fd77::/64",
    [{"handshake": "complete", "termination": FIN_ANY, "closer": "client", "conn_state": "SF"}],
    port=8021,
    cport=40021,
)
def s_ipv6(sc: Scenario, path: Path) -> list[str]:
    """Same as close_client_first, over IPv6."""
    simple_web(sc, path, {"behaviour": "respond_then_wait_eof", "addr": "::"}, server_ip=SERVER_IP6)
    return [f"GET over IPv6 {CLIENT_IP6} -> {SERVER_IP6}"]


@scenario(
    "zero_window",
    "zero_window.pcap",
    "zero-window stall: the receiver stops reading (SO_RCVBUF 4 KB), sender probes",
    [{"handshake": "complete", "termination": FIN_ANY, "closer": "client", "conn_state": "SF"}],
    port=8022,
    cport=40022,
)
def s_zero_window(sc: Scenario, path: Path) -> list[str]:
    """The client uploads 24 KB to a server that sleeps 3 s before reading anything."""
    port, cport = sc.params["port"], sc.params["cport"]
    with Lab(**sc.lab) as lab:
        cap = lab.capture(path, f"tcp port {port}")
        web(
            lab,
            port,
            {"behaviour": "slow_reader", "rcvbuf": 4096, "stall": 3.0, "body": 100},
            [{"kind": "bulk", "server": SERVER_IP, "port": port, "cport": cport, "bytes": 24576}],
        )
        lab.stop_capture(cap)
    return ["24 KB upload to a receiver that reads nothing for 3 s: window 0, probes"]


@scenario(
    "slow_handshake",
    "slow_handshake.pcap",
    "slow handshake: the same service on a 40 ms server and on a 300 ms-RTT server",
    [{"handshake": "complete", "termination": FIN_ANY, "closer": "client", "conn_state": "SF"}] * 4,
    lab={"delay_rules": [f"{SLOW_SERVER_IP}:0:150"]},
    port=8023,
    cport=40023,
)
def s_slow_handshake(sc: Scenario, path: Path) -> list[str]:
    """Two requests to 10.77.0.2 (40 ms RTT) and two to 10.77.0.3 (300 ms RTT)."""
    port, cport = sc.params["port"], sc.params["cport"]
    targets = [SERVER_IP, SLOW_SERVER_IP, SERVER_IP, SLOW_SERVER_IP]
    with Lab(**sc.lab) as lab:
        cap = lab.capture(path, f"tcp port {port}")
        web(
            lab,
            port,
            {"behaviour": "respond_then_wait_eof"},
            [{"server": t, "port": port, "cport": cport + 100 * i} for i, t in enumerate(targets)],
        )
        lab.stop_capture(cap, 1.0)
    return [f"{t}: {'300 ms (slow)' if t == SLOW_SERVER_IP else '40 ms'} RTT" for t in targets]


# --------------------------------------------------------------------------- format variants


@scenario(
    "vlan",
    "vlan.pcap",
    "802.1Q VLAN 100 tags, captured on the trunk veth (tap + tagging relay per side)",
    [{"handshake": "complete", "termination": FIN_ANY, "closer": "client", "conn_state": "SF"}],
    port=8024,
    cport=40024,
)
def s_vlan(sc: Scenario, path: Path) -> list[str]:
    """The kernel here has no 8021q module: each namespace gets a tap device whose frames a
    small relay (vlanrelay.py) tags with VLAN 100 onto the veth and untags back."""
    port, cport = sc.params["port"], sc.params["cport"]
    with Lab(**sc.lab) as lab:
        for ns, tap, mac, cidr, trunk in (
            ("cli", "hsk-cv", "02:77:00:00:64:01", "10.77.100.1/24", "hsk-c0"),
            ("srv", "hsk-sv", "02:77:00:00:64:02", "10.77.100.2/24", "hsk-s0"),
        ):
            relay = lab.spawn_raw(
                f"vlanrelay:{ns}",
                netlab.ns_cmd(
                    ns,
                    [
                        sys.executable,
                        str(HERE / "vlanrelay.py"),
                        "--tap",
                        tap,
                        "--trunk",
                        trunk,
                        "--vid",
                        "100",
                        "--mac",
                        mac,
                        "--max-seconds",
                        "60",
                    ],
                ),
            )
            relay.wait_for("READY", 10)
            lab.addr(ns, tap, cidr)
        lab.neigh("cli", "hsk-cv", "02:77:00:00:64:02", "10.77.100.2")
        lab.neigh("srv", "hsk-sv", "02:77:00:00:64:01", "10.77.100.1")
        cap = lab.capture(path, f"vlan 100 and tcp port {port}")
        web(
            lab,
            port,
            {"behaviour": "respond_then_wait_eof"},
            [{"server": "10.77.100.2", "port": port, "cport": cport}],
        )
        lab.stop_capture(cap)
    return ["GET over VLAN 100 (10.77.100.0/24); frames carry 802.1Q tags on the wire"]


@scenario(
    "two_interfaces",
    "two_interfaces.pcapng",
    "pcapng from dumpcap on two interfaces (two IDBs), one connection on each",
    [{"handshake": "complete", "termination": FIN_ANY, "closer": "client", "conn_state": "SF"}] * 2,
    port=8025,
    cport=40025,
)
def s_two_interfaces(sc: Scenario, path: Path) -> list[str]:
    """A second veth pair (10.77.2.0/24); dumpcap -i hsk-c0 -i hsk-c1."""
    port, cport = sc.params["port"], sc.params["cport"]
    with Lab(**sc.lab) as lab:
        lab.add_veth("hsk-c1", "hsk-s1", "02:77:00:00:02:01", "02:77:00:00:02:02")
        lab.addr("cli", "hsk-c1", "10.77.2.1/24")
        lab.addr("srv", "hsk-s1", "10.77.2.2/24")
        lab.neigh("cli", "hsk-c1", "02:77:00:00:02:02", "10.77.2.2")
        lab.neigh("srv", "hsk-s1", "02:77:00:00:02:01", "10.77.2.1")
        cap = lab.capture_dumpcap(path, f"tcp port {port}", ["hsk-c0", "hsk-c1"])
        web(
            lab,
            port,
            {"behaviour": "respond_then_wait_eof"},
            [
                {"server": SERVER_IP, "port": port, "cport": cport},
                {"server": "10.77.2.2", "port": port, "cport": cport + 100},
            ],
        )
        lab.stop_capture(cap)
    return ["on interface 0 (hsk-c0)", "on interface 1 (hsk-c1, 10.77.2.0/24)"]


@scenario(
    "nanosecond",
    "nanosecond.pcap",
    "pcap with nanosecond timestamps (magic a1b23c4d)",
    [{"handshake": "complete", "termination": FIN_ANY, "closer": "client", "conn_state": "SF"}],
    port=8026,
    cport=40026,
)
def s_nanosecond(sc: Scenario, path: Path) -> list[str]:
    """tcpdump --time-stamp-precision=nano."""
    simple_web(
        sc,
        path,
        {"behaviour": "respond_then_wait_eof"},
        capture_extra=("--time-stamp-precision=nano",),
    )
    return ["browser-style exchange; nanosecond-resolution timestamps"]


@scenario(
    "compressed",
    "compressed.pcap.gz",
    "gzip-compressed pcap (.pcap.gz)",
    [{"handshake": "complete", "termination": FIN_ANY, "closer": "client", "conn_state": "SF"}],
    port=8027,
    cport=40027,
)
def s_compressed(sc: Scenario, path: Path) -> list[str]:
    """Captured as plain pcap, then gzip-compressed (mtime 0, no name: reproducible bytes)."""
    raw = path.with_suffix("")  # compressed.pcap
    simple_web(sc, raw, {"behaviour": "respond_then_wait_eof"})
    gzip_file(raw, path)
    return ["browser-style exchange; file is gzip-compressed"]


@scenario(
    "cooked_sll",
    "cooked_sll.pcap",
    "Linux cooked capture v1 (tcpdump -i any -y LINUX_SLL)",
    [{"handshake": "complete", "termination": FIN_ANY, "closer": "client", "conn_state": "SF"}],
    port=8028,
    cport=40028,
)
def s_cooked_sll(sc: Scenario, path: Path) -> list[str]:
    """-i any gives the cooked pseudo link layer (DLT_LINUX_SLL)."""
    simple_web(
        sc,
        path,
        {"behaviour": "respond_then_wait_eof"},
        iface="any",
        capture_extra=("-y", "LINUX_SLL"),
    )
    return ["browser-style exchange captured on 'any' (SLL)"]


@scenario(
    "cooked_sll2",
    "cooked_sll2.pcap",
    "Linux cooked capture v2 (tcpdump -i any -y LINUX_SLL2)",
    [{"handshake": "complete", "termination": FIN_ANY, "closer": "client", "conn_state": "SF"}],
    port=8029,
    cport=40029,
)
def s_cooked_sll2(sc: Scenario, path: Path) -> list[str]:
    """-i any with DLT_LINUX_SLL2 (carries the interface index)."""
    simple_web(
        sc,
        path,
        {"behaviour": "respond_then_wait_eof"},
        iface="any",
        capture_extra=("-y", "LINUX_SLL2"),
    )
    return ["browser-style exchange captured on 'any' (SLL2)"]


@scenario(
    "loopback",
    "loopback.pcap",
    "loopback (lo) capture: 127.0.0.1 to itself, no delay line",
    [{"handshake": "complete", "termination": FIN_ANY, "closer": "client", "conn_state": "SF"}],
    port=8030,
    cport=40030,
)
def s_loopback(sc: Scenario, path: Path) -> list[str]:
    """Client and server both in hsk-cli, over lo (link type EN10MB with zero MACs)."""
    port, cport = sc.params["port"], sc.params["cport"]
    with Lab(**sc.lab) as lab:
        cap = lab.capture(path, f"tcp port {port}", iface="lo")
        web(
            lab,
            port,
            {"behaviour": "respond_then_wait_eof", "addr": "127.0.0.1"},
            [{"server": "127.0.0.1", "port": port, "cport": cport}],
            server_ns="cli",
        )
        lab.stop_capture(cap)
    return ["127.0.0.1 -> 127.0.0.1 on lo (sub-millisecond RTT)"]


# --------------------------------------------------------------------------- busy server


def busy_expectation(label: labeller.Label) -> Expect:
    """What a busy-mix connection must look like, from the kind its client port was given."""
    import busy

    return busy.EXPECT[busy.kind_of(label.client_port)]


@scenario(
    "busy",
    "busy_server.pcap.gz",
    "busy server: ~2000 connections mixing the outcomes above (gzip)",
    [],
    port=9000,
    cport=20000,
    expect_fn=busy_expectation,
)
def s_busy(sc: Scenario, path: Path) -> Notes:
    """See busy.py: a schedule of connections with every outcome, run concurrently."""
    import busy  # local module beside this file

    raw = path.with_suffix("")
    notes = busy.run(raw)
    gzip_file(raw, path)
    return notes


# ------------------------------------------------------------- tutorial scenarios (issue 19)
# Captures the tutorial notebooks need and no other scenario shows: data in flight when a RST
# arrives, a real HTTP exchange on port 80 (curl against a Python HTTP/1.1 server, one pooled
# connection and two single ones), the URG flag (one byte of MSG_OOB data) and a real HTTPS
# exchange on port 443 (curl -k against openssl s_server with a key made for the run).

#: a tiny HTTP/1.1 server (keep-alive, so curl can pool) for the lab's server namespace.
HTTP_SERVER = """
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = (b"<html><body>" + self.path.encode() + b"</body></html>\\n") * 8
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer((sys.argv[1], 80), Handler)
print("READY", flush=True)
server.timeout = 8.0
for _ in range(int(sys.argv[2])):
    server.handle_request()
"""

#: reads until EOF with SO_OOBINLINE (the urgent byte arrives in line), then closes.
OOB_SERVER = """
import socket, sys
listener = socket.create_server((sys.argv[1], int(sys.argv[2])))
print("READY", flush=True)
conn, _ = listener.accept()
conn.setsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE, 1)
while conn.recv(4096):
    pass
conn.close()
"""

#: sends a request, one urgent byte (MSG_OOB: URG flag and urgent pointer), then closes.
OOB_CLIENT = """
import socket, sys, time
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("0.0.0.0", int(sys.argv[3])))
sock.connect((sys.argv[1], int(sys.argv[2])))
sock.sendall(b"START long job\\n")
time.sleep(0.2)
sock.send(b"!", socket.MSG_OOB)
time.sleep(0.2)
sock.close()
print("DONE", flush=True)
"""


def python_in(lab: Lab, ns: str, name: str, code: str, *args: object) -> netlab.Proc:
    """Run ``code`` (a script) with ``args`` in namespace ``ns`` (cli/srv) as a lab process."""
    argv = [sys.executable, "-c", code, *(str(arg) for arg in args)]
    return lab.spawn_raw(f"{ns}:{name}", netlab.ns_cmd(ns, argv))


#: reads the first chunk of an upload, then aborts (SO_LINGER {1, 0}: RST, queues flushed).
ABORT_SERVER = """
import socket, struct, sys
listener = socket.create_server((sys.argv[1], int(sys.argv[2])))
print("READY", flush=True)
conn, _ = listener.accept()
conn.recv(1000)
conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
conn.close()
"""

#: uploads 20,000 bytes in one sendall(); the server's RST ends it.
UPLOAD_CLIENT = """
import socket, sys
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("0.0.0.0", int(sys.argv[3])))
sock.connect((sys.argv[1], int(sys.argv[2])))
try:
    sock.sendall(b"u" * 20000)
    sock.recv(1)
except OSError as exc:
    print("RESET", type(exc).__name__, flush=True)
sock.close()
print("DONE", flush=True)
"""


@scenario(
    "rst_in_flight",
    "rst_in_flight.pcap",
    "the server aborts during a 20 KB upload: the RST meets the client's data in flight",
    [{"handshake": "complete", "termination": "reset", "reset_by": "server", "conn_state": "RSTR"}],
    port=8030,
    cport=40030,
)
def s_rst_in_flight(sc: Scenario, path: Path) -> list[str]:
    """The client's first window of data (~14 KB) is on its way when the server, having read
    1,000 bytes, aborts: the bytes sent after the last acknowledged one are lost."""
    port, cport = sc.params["port"], sc.params["cport"]
    with Lab(**sc.lab) as lab:
        cap = lab.capture(path, f"tcp port {port}")
        srv = python_in(lab, "srv", "abort-server", ABORT_SERVER, SERVER_IP, port)
        srv.wait_for("READY")
        cli = python_in(lab, "cli", "upload-client", UPLOAD_CLIENT, SERVER_IP, port, cport)
        cli.wait_for("DONE", 10)
        srv.wait(10)
        lab.stop_capture(cap, 0.6)
    return ["client uploads 20 KB; server reads 1,000 B then SO_LINGER{1,0} close(): RST"]


@scenario(
    "http_browser",
    "http_browser.pcap",
    "curl against an HTTP/1.1 server on port 80: two GETs on one pooled connection, then two curls",
    [
        {
            "handshake": "complete",
            "termination": (*FIN_ANY, "simultaneous_close"),
            "closer": "client",
        }
    ]
    * 3,
    port=80,
)
def s_http_browser(sc: Scenario, path: Path) -> list[str]:
    """Real HTTP: ``curl URL1 URL2`` reuses one connection (keep-alive); two separate curl
    runs open one connection each."""
    with Lab(**sc.lab) as lab:
        cap = lab.capture(path, "tcp port 80")
        srv = python_in(lab, "srv", "http", HTTP_SERVER, SERVER_IP, 4)
        srv.wait_for("READY")
        urls = [f"http://{SERVER_IP}/index.html", f"http://{SERVER_IP}/style.css"]
        for argv in (["curl", "-s", "-o", "/dev/null", "-o", "/dev/null", *urls],
                     ["curl", "-s", "-o", "/dev/null", urls[0]],
                     ["curl", "-s", "-o", "/dev/null", urls[1]]):  # fmt: skip
            netlab.run(netlab.ns_cmd("cli", argv))
            time.sleep(0.3)
        lab.stop_capture(cap)
    return [
        "curl GET /index.html and GET /style.css on one keep-alive connection",
        "curl GET /index.html, its own connection",
        "curl GET /style.css, its own connection",
    ]


@scenario(
    "urgent",
    "urgent.pcap",
    "URG: the client sends one byte of urgent data (MSG_OOB) after its request",
    [{"handshake": "complete", "termination": FIN_ANY, "closer": "client", "conn_state": "SF"}],
    port=8031,
    cport=40031,
)
def s_urgent(sc: Scenario, path: Path) -> list[str]:
    """send(MSG_OOB) sets URG and the urgent pointer on the segment carrying the byte."""
    port, cport = sc.params["port"], sc.params["cport"]
    with Lab(**sc.lab) as lab:
        cap = lab.capture(path, f"tcp port {port}")
        srv = python_in(lab, "srv", "oob-server", OOB_SERVER, SERVER_IP, port)
        srv.wait_for("READY")
        cli = python_in(lab, "cli", "oob-client", OOB_CLIENT, SERVER_IP, port, cport)
        cli.wait_for("DONE", 10)
        srv.wait(10)
        lab.stop_capture(cap)
    return ["request, then send(b'!', MSG_OOB): URG flag with the urgent pointer; client close()"]


@scenario(
    "https_browser",
    "https_browser.pcap",
    "curl -k against openssl s_server on port 443: TLS 1.3 handshake, a GET, the teardown",
    [{"handshake": "complete", "termination": (*FIN_ANY, "simultaneous_close")}],
    port=443,
    cport=40443,
)
def s_https_browser(sc: Scenario, path: Path) -> list[str]:
    """Real HTTPS: ``openssl s_server -www`` with a throwaway self-signed EC key made for this
    run (deleted with its temporary folder), and one ``curl -k`` fetching ``/``."""
    port, cport = sc.params["port"], sc.params["cport"]
    with tempfile.TemporaryDirectory(prefix="hsk-tls-") as keys, Lab(**sc.lab) as lab:
        key, cert = Path(keys) / "key.pem", Path(keys) / "cert.pem"
        netlab.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "1", "-subj", f"/CN={SERVER_IP}"])  # fmt: skip
        cap = lab.capture(path, f"tcp port {port}")
        argv = ["openssl", "s_server", "-accept", f"{SERVER_IP}:{port}", "-naccept", "1",
                "-www", "-key", str(key), "-cert", str(cert)]  # fmt: skip
        srv = lab.spawn_raw("srv:s_server", netlab.ns_cmd("srv", argv))
        srv.wait_for("ACCEPT", 10)
        url = f"https://{SERVER_IP}/"
        netlab.run(netlab.ns_cmd("cli", ["curl", "-sk", "--local-port", str(cport),
                                         "-o", "/dev/null", url]))  # fmt: skip
        srv.wait(10)
        lab.stop_capture(cap)
    return ["curl -k https://10.77.0.2/ against openssl s_server -www (self-signed key)"]


# ------------------------------------------------------------- end of tutorial scenarios


# --------------------------------------------------------------------------- driver


def gzip_file(src: Path, dst: Path) -> None:
    """gzip ``src`` into ``dst`` reproducibly (no name, mtime 0) and delete ``src``."""
    with (
        src.open("rb") as fin,
        dst.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as fout,
    ):
        shutil.copyfileobj(fin, fout)
    src.unlink()


def expected_labels(sc: Scenario, labels: list[labeller.Label]) -> list[Expect] | None:
    """The intended labels, one per connection found (None: the count is wrong)."""
    if "expect_fn" in sc.params:
        return [sc.params["expect_fn"](lab) for lab in labels]
    by_port: dict[int, Expect] = sc.params.get("expect_by_client_port", {})
    if by_port and len(sc.expect) == 1:
        return [by_port.get(lab.client_port, sc.expect[0]) for lab in labels]
    return sc.expect if len(sc.expect) == len(labels) else None


def check_expectations(sc: Scenario, labels: list[labeller.Label]) -> list[str]:
    """Differences between the labels found in the capture and what the scenario intended."""
    try:
        expect = expected_labels(sc, labels)
    except KeyError as exc:
        return [f"connection from an unscheduled client port {exc}"]
    if expect is None:
        return [f"expected {len(sc.expect)} connections, capture has {len(labels)}"]
    problems = []
    for lab, exp in zip(labels, expect, strict=True):
        for key, want in exp.items():
            got = getattr(lab, key)
            allowed = want if isinstance(want, tuple) else (want,)
            if got not in allowed:
                problems.append(
                    f"stream {lab.stream} (port {lab.client_port}): {key}={got!r}, "
                    f"expected {want!r}"
                )
    return problems


def run_scenario(sc: Scenario, outdir: Path, attempts: int = 3) -> list[dict[str, str]]:
    """Make the capture (retrying), label it, check it; returns its manifest rows."""
    final = outdir / sc.file
    last: list[str] = []
    for attempt in range(1, attempts + 1):
        with tempfile.TemporaryDirectory(prefix="hsk-gen-") as tmp:
            work = Path(tmp) / sc.file
            started = time.monotonic()
            made = sc.run(sc, work)
            labels = labeller.label_capture(work)
            notes = (
                [made.get(lab.client_port, "") for lab in labels]
                if isinstance(made, dict)
                else made
            )
            last = check_expectations(sc, labels)
            if len(notes) != len(labels):
                last.append(f"{len(labels)} connections in the capture, {len(notes)} notes")
            if not last:
                shutil.copyfile(work, final)
                elapsed = time.monotonic() - started
                print(
                    f"  {sc.file}: {len(labels)} connection(s), {final.stat().st_size} bytes, "
                    f"{elapsed:.1f} s",
                    flush=True,
                )
                if len(labels) > 20:
                    tally = Counter((lab.handshake, lab.termination) for lab in labels)
                    for (hs, term), n in sorted(tally.items()):
                        print(f"    {n:5d}  {hs} / {term}", flush=True)
                return [lab.as_row(sc.file, note) for lab, note in zip(labels, notes, strict=True)]
            shutil.copyfile(work, outdir / f"failed-{sc.file}")
        print(
            f"  attempt {attempt} of {sc.name} did not match: {last[:5]} "
            f"(capture kept as failed-{sc.file})",
            flush=True,
        )
    raise netlab.LabError(f"{sc.name}: capture does not show what it should: {last}")


def write_manifest(rows_by_file: dict[str, list[dict[str, str]]]) -> None:
    """Write manifest.csv: files in scenario order, streams ascending."""
    order = [sc.file for sc in SCENARIOS.values()]
    with MANIFEST.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=labeller.MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for file in sorted(rows_by_file, key=lambda f: order.index(f) if f in order else 999):
            for row in rows_by_file[file]:
                writer.writerow(row)


def read_manifest() -> dict[str, list[dict[str, str]]]:
    """The current manifest rows, grouped by file."""
    rows: dict[str, list[dict[str, str]]] = {}
    if MANIFEST.exists():
        with MANIFEST.open(newline="") as fh:
            for row in csv.DictReader(fh):
                rows.setdefault(row["file"], []).append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command line: run the named scenarios (default: all), update captures and manifest."""
    parser = argparse.ArgumentParser(description="Regenerate hskit's sample captures (root).")
    parser.add_argument("scenarios", nargs="*", help="scenario names (default: all)")
    parser.add_argument("--list", action="store_true", help="list scenarios and exit")
    parser.add_argument("--outdir", type=Path, default=HERE)
    args = parser.parse_args(argv)
    if args.list:
        for sc in SCENARIOS.values():
            print(f"{sc.name:20} {sc.file:28} {sc.summary}")
        return 0
    unknown = [n for n in args.scenarios if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}; see --list")
    netlab.require_root()
    atexit.register(Lab(delay=False).teardown)  # even on an unexpected exit
    chosen = [SCENARIOS[n] for n in (args.scenarios or SCENARIOS)]
    rows = read_manifest() if args.outdir == HERE else {}
    failures = []
    labs: list[Lab] = []
    with netlab.cleanup_on_signals(labs):
        for sc in chosen:
            print(f"{sc.name}: {sc.summary}", flush=True)
            try:
                rows[sc.file] = run_scenario(sc, args.outdir)
            except netlab.LabError as exc:
                failures.append(sc.name)
                print(f"  FAILED: {exc}", flush=True)
            finally:
                Lab(delay=False).teardown()  # belt and braces: nothing of ours is left
    if args.outdir == HERE:
        write_manifest(rows)
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
