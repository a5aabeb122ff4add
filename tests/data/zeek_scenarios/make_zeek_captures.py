"""Regenerate the captures of ``tests/data/zeek_scenarios`` and their manifest (run as root).

    python tests/data/zeek_scenarios/make_zeek_captures.py

Real kernel TCP between two network namespaces (``zk-cli`` 10.88.0.1 and ``zk-srv``
10.88.0.2, joined by the veth ``zk-c0``/``zk-s0`` with offloads off), captured by
tcpdump on the client side, for the rules of Zeek's connection tracking that the Zeek
oracle's traces barely contain:

- ``refused_retries.pcap``: a client binds source port 41000 and connects three times
  to a closed port; each SYN is refused with a RST.
- ``idle.pcap``: one connection, a request and its answer, 3 s of silence, a second
  request and answer, then the client closes.
- ``exchange.pcap``: one connection with a request, a 4-segment answer and a close;
  the source of the derived captures below.

Derived from those by changing a copy (the rule of each change is written beside it):

- ``idle_shifted.pcap``: ``idle.pcap`` with every packet after the silence moved 300 s
  later (editcap -t on that part, mergecap): a silence longer than Zeek's default
  ``tcp_inactivity_timeout``.
- ``bad_checksum_data.pcap``: ``exchange.pcap`` with the TCP checksum of every segment
  that carries server data made wrong (scapy: the checksum field + 1).
- ``bad_checksum_client.pcap``: ``exchange.pcap`` with the TCP checksum of every client
  segment made wrong (a host capturing its own offloaded packets).
- ``gap.pcap``: ``exchange.pcap`` without the second server data segment (editcap -d).
- ``no_syn.pcap``: ``exchange.pcap`` without its first packet, the client's SYN.
- ``reversed_handshake.pcap``: ``exchange.pcap`` with its first two packets, the SYN and
  the SYN-ACK, in the other order (their timestamps exchanged too): what a capture
  merged from two interfaces can show.

The manifest (``manifest.csv``) gives, for each capture, the connections Zeek delimits
and the ``conn_state`` and ``history`` it logs, derived from how the capture was made by
the rules written in ``RULES`` below -- never from hskit.
"""

from __future__ import annotations

import contextlib
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent.parent / "sample_pcaps"))

from netlab import offloads_off  # noqa: E402 (the sample captures' lab helper)

NS_CLIENT, NS_SERVER = "zk-cli", "zk-srv"
CLIENT_IP, SERVER_IP = "10.88.0.1", "10.88.0.2"
SERVER_PORT, CLOSED_PORT, CLIENT_PORT = 8080, 9999, 41000
#: seconds every process and capture may run at most
TIME_LIMIT = 30

#: Zeek's likely server ports: a plain run's, or none (a bare run loading no analyzer).
PORTS_DEFAULT, PORTS_NONE = "default", "none"

#: (capture, Zeek's settings as (ignore_checksums, likely server ports), how the Zeek
#: rows follow from how the capture was made, rows as (orig_p, resp_p, conn_state,
#: history)); a port 0 is the client's ephemeral port.
RULES: list[tuple[str, tuple[bool, str], str, list[tuple[int, int, str, str]]]] = [
    (
        "refused_retries.pcap",
        (True, PORTS_DEFAULT),
        "three SYN/RST pairs on one 4-tuple: after a RST the next SYN is a reuse, each "
        "pair a rejected attempt (REJ, Sr); tshark numbers them as three streams too "
        "(each SYN has another initial sequence number)",
        [(CLIENT_PORT, CLOSED_PORT, "REJ", "Sr")] * 3,
    ),
    (
        "idle.pcap",
        (True, PORTS_DEFAULT),
        "one complete exchange closed by both FINs, the 3 s silence shorter than any timeout (SF)",
        [(0, SERVER_PORT, "SF", "ShADadFf")],
    ),
    (
        "idle_shifted.pcap",
        (True, PORTS_DEFAULT),
        "the silence is 303 s (as Zeek's baseline core.expire-all-timers: a packet after "
        "300 s of silence starts a new connection): the connection ends at the last "
        "packet before it (still "
        "established: S1); the next packet, client data, starts a connection without a "
        "SYN (the client, not from a likely server port, stays its originator): its "
        "data D, the server's answer d, the client's ACK A, then both FINs (SF)",
        [
            (0, SERVER_PORT, "S1", "ShADad"),
            (0, SERVER_PORT, "SF", "DdAFf"),
        ],
    ),
    (
        "exchange.pcap",
        (False, PORTS_DEFAULT),
        "one complete exchange closed by both FINs (SF)",
        [(0, SERVER_PORT, "SF", "ShADadFf")],
    ),
    (
        "bad_checksum_data.pcap",
        (False, PORTS_DEFAULT),
        "the server's data segments are dropped: the responder logs c (one dropped "
        "packet) and no d; the client still acknowledges the data, so its bytes count "
        "(sequence numbers) but never arrive: a content gap g",
        [(0, SERVER_PORT, "SF", "ShADacgFf")],
    ),
    (
        "bad_checksum_client.pcap",
        (False, PORTS_NONE),
        "every client segment is dropped: its SYN makes a connection where nothing is "
        "processed (C, OTH); the server's SYN-ACK then reuses the 4-tuple (the responder "
        "of a connection with an inactive originator has no initial sequence number yet) "
        "and starts a connection the server originates (no likely server port flips it, "
        "and the c of the client's dropped ACK keeps the SYN-ACK flip off), the server's "
        "ACK, data and FIN its own: SH (as Zeek's baseline core.checksums_ignore_nets)",
        [(0, SERVER_PORT, "OTH", "C"), (SERVER_PORT, 0, "SH", "HcADF")],
    ),
    (
        "no_syn.pcap",
        (False, PORTS_NONE),
        "the connection starts with the server's SYN-ACK, no port decides its direction, "
        "and the client's ACK answers it: Zeek flips it and logs ^h (as its baseline "
        "core.tcp.flip-without-syn); both FINs: SF",
        [(0, SERVER_PORT, "SF", "^hADadFf")],
    ),
    (
        "reversed_handshake.pcap",
        (False, PORTS_NONE),
        "the SYN-ACK comes first and no port flips it: the server is the originator (H) "
        "in SYN_ACK_SENT; the client's SYN, from the inactive responder, is no reuse (its "
        "sequence number is the one the SYN-ACK acknowledged) and is the SYN/SYN-ACK "
        "reversal of UpdateInactiveState: logged s, then FlipRoles adds ^ and makes the "
        "client the originator, both established; the rest as in exchange.pcap: SF",
        [(0, SERVER_PORT, "SF", "Hs^ADadFf")],
    ),
    (
        "gap.pcap",
        (False, PORTS_DEFAULT),
        "one server data segment is missing and acknowledged by the client: a content gap "
        "g at the acknowledgment, SF (missed_bytes its payload, as Zeek's baseline "
        "core.tcp.miss-end-data)",
        [(0, SERVER_PORT, "SF", "ShADadgFf")],
    ),
]

SERVER_CODE = f"""
import socket, time
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("{SERVER_IP}", {SERVER_PORT}))
server.listen(4)
server.settimeout({TIME_LIMIT})
print("READY", flush=True)
connection, _ = server.accept()
connection.settimeout({TIME_LIMIT})
while True:
    request = connection.recv(4096)
    if not request:
        break
    size = int(request.split()[1])
    answer = b"x" * size
    for start in range(0, size, 1000):
        connection.send(answer[start : start + 1000])
        time.sleep(0.01)
connection.close()
"""

CLIENT_CODE = """
import socket, sys, time
plan = sys.argv[1]
client = socket.create_connection(("{server}", {port}), timeout={limit})
client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
def exchange(size):
    client.sendall(b"GET %d\\n" % size)
    received = 0
    while received < size:
        received += len(client.recv(65536))
exchange(4000)
if plan == "idle":
    time.sleep(3)
    exchange(1000)
time.sleep(0.2)
client.close()
time.sleep(0.5)
"""

REFUSED_CODE = """
import socket, time
for attempt in range(3):
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    client.bind(("{client}", {client_port}))
    client.settimeout(5)
    try:
        client.connect(("{server}", {closed}))
    except ConnectionRefusedError:
        print("refused", flush=True)
    client.close()
    time.sleep(0.3)
"""


def run(*command: str, timeout: float = TIME_LIMIT) -> str:
    return subprocess.run(
        list(command), check=True, capture_output=True, text=True, timeout=timeout
    ).stdout


def in_ns(namespace: str, *command: str) -> list[str]:
    return ["ip", "netns", "exec", namespace, *command]


@contextlib.contextmanager
def lab() -> Iterator[None]:
    """The two namespaces and their veth, removed however the block ends."""
    teardown()
    try:
        for namespace in (NS_CLIENT, NS_SERVER):
            run("ip", "netns", "add", namespace)
        run("ip", "link", "add", "zk-c0", "type", "veth", "peer", "name", "zk-s0")
        for link, namespace, address in (
            ("zk-c0", NS_CLIENT, CLIENT_IP),
            ("zk-s0", NS_SERVER, SERVER_IP),
        ):
            offloads_off(link)  # checksums computed by the kernel, not left to a NIC
            run("ip", "link", "set", link, "netns", namespace)
            run(*in_ns(namespace, "ip", "addr", "add", f"{address}/24", "dev", link))
            run(*in_ns(namespace, "ip", "link", "set", link, "up"))
            run(*in_ns(namespace, "ip", "link", "set", "lo", "up"))
        yield
    finally:
        teardown()


def teardown() -> None:
    for namespace in (NS_CLIENT, NS_SERVER):
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=10)


@contextlib.contextmanager
def capture(path: Path) -> Iterator[None]:
    """tcpdump on the client's side of the veth, stopped by its own pid."""
    tcpdump = subprocess.Popen(
        in_ns(NS_CLIENT, "tcpdump", "-i", "zk-c0", "-n", "-U", "-w", str(path), "tcp"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    try:
        yield
        time.sleep(0.5)
    finally:
        tcpdump.terminate()
        tcpdump.wait(timeout=10)


def python_in(namespace: str, code: str, *arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        in_ns(namespace, sys.executable, "-c", code, *arguments),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def exchange_capture(path: Path, plan: str) -> None:
    with lab(), capture(path):
        server = python_in(NS_SERVER, SERVER_CODE)
        assert server.stdout is not None and "READY" in server.stdout.readline()
        client_code = CLIENT_CODE.format(server=SERVER_IP, port=SERVER_PORT, limit=TIME_LIMIT)
        client = python_in(NS_CLIENT, client_code, plan)
        client.wait(timeout=TIME_LIMIT)
        server.wait(timeout=TIME_LIMIT)


def refused_capture(path: Path) -> None:
    code = REFUSED_CODE.format(
        client=CLIENT_IP, client_port=CLIENT_PORT, server=SERVER_IP, closed=CLOSED_PORT
    )
    with lab(), capture(path):
        client = python_in(NS_CLIENT, code)
        output, _ = client.communicate(timeout=TIME_LIMIT)
        assert output.count("refused") == 3, output


def shifted(source: Path, target: Path, silence: float, shift: float) -> None:
    """``source`` with every packet after the first silence longer than ``silence``
    seconds moved ``shift`` seconds later."""
    times = [float(line) for line in run("tshark", "-r", str(source), "-T", "fields",
                                         "-e", "frame.time_relative").split()]  # fmt: skip
    cut = next(i for i in range(1, len(times)) if times[i] - times[i - 1] > silence)
    with tempfile.TemporaryDirectory() as folder:
        before, after, moved = (Path(folder) / name for name in ("a", "b", "c"))
        run("editcap", "-r", str(source), str(before), f"1-{cut}")
        run("editcap", "-r", str(source), str(after), f"{cut + 1}-{len(times)}")
        run("editcap", "-t", str(shift), str(after), str(moved))
        run("mergecap", "-F", "pcap", "-w", str(target), str(before), str(moved))


def corrupted(source: Path, target: Path, chosen: str) -> None:
    """``source`` with the TCP checksum of the ``chosen`` segments ("server data":
    segments from the server with payload; "client": every client segment) plus one."""
    from scapy.all import TCP, rdpcap, wrpcap

    packets = rdpcap(str(source))
    for packet in packets:
        if TCP not in packet:
            continue
        segment = packet[TCP]
        from_server = segment.sport == SERVER_PORT
        pick = (
            (from_server and len(segment.payload) > 0)
            if chosen == "server data"
            else not from_server
        )
        if pick:
            segment.chksum = (segment.chksum + 1) & 0xFFFF
    wrpcap(str(target), packets)


def without_second_server_data(source: Path, target: Path) -> None:
    """``source`` without the second server segment that carries data."""
    lines = run("tshark", "-r", str(source), "-T", "fields", "-e", "frame.number",
                "-e", "tcp.srcport", "-e", "tcp.len").splitlines()  # fmt: skip
    data = [int(n) for n, port, size in (line.split("\t") for line in lines)
            if int(port) == SERVER_PORT and int(size) > 0]  # fmt: skip
    run("editcap", str(source), str(target), str(data[1]))


def reordered(source: Path, target: Path) -> None:
    """``source`` with its first two packets in the other order, timestamps exchanged."""
    from scapy.all import rdpcap, wrpcap

    packets = rdpcap(str(source))
    first, second = packets[0], packets[1]
    first.time, second.time = second.time, first.time
    wrpcap(str(target), [second, first, *packets[2:]])


def write_manifest() -> None:
    with (HERE / "manifest.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["file", "connection", "orig_p", "resp_p", "conn_state", "history",
                         "ignore_checksums", "likely_server_ports", "rule"])  # fmt: skip
        for name, (ignore, ports), rule, rows in RULES:
            for index, (orig_p, resp_p, state, history) in enumerate(rows):
                writer.writerow([name, index, orig_p, resp_p, state, history, int(ignore),
                                 ports, rule])  # fmt: skip


def main() -> None:
    if shutil.which("tcpdump") is None:
        raise SystemExit("tcpdump is needed")
    refused_capture(HERE / "refused_retries.pcap")
    exchange_capture(HERE / "idle.pcap", "idle")
    exchange_capture(HERE / "exchange.pcap", "once")
    shifted(HERE / "idle.pcap", HERE / "idle_shifted.pcap", silence=2.0, shift=300.0)
    corrupted(HERE / "exchange.pcap", HERE / "bad_checksum_data.pcap", "server data")
    corrupted(HERE / "exchange.pcap", HERE / "bad_checksum_client.pcap", "client")
    without_second_server_data(HERE / "exchange.pcap", HERE / "gap.pcap")
    run("editcap", str(HERE / "exchange.pcap"), str(HERE / "no_syn.pcap"), "1")
    reordered(HERE / "exchange.pcap", HERE / "reversed_handshake.pcap")
    write_manifest()


if __name__ == "__main__":
    main()
