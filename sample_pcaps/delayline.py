"""Userspace delay line for TCP over NFQUEUE, in pure Python (no libnetfilter_queue).

The kernel here has no ``tc netem``, so latency is added in userspace: iptables in
the server namespace sends every TCP packet (INPUT and OUTPUT hooks) to NFQUEUE
number 0, this process receives the packet's metadata over an ``nfnetlink_queue``
socket, holds it for the configured one-way delay and then issues the ACCEPT
verdict.  Packets of one direction of one flow all get the same delay, so nothing
is reordered.  Run it inside the namespace whose queue it serves::

    ip netns exec hsk-srv python3 delayline.py --delay-ms 20 --rule 10.77.0.3:0:150

``--rule ADDR:PORT:MS`` gives the packets whose *local* (server-side) address and
port match a different one-way delay (``*`` or 0 = any).  The process prints
``READY`` once bound, stops by itself after ``--max-seconds`` and on SIGTERM.

To reorder on purpose, ``--hold-every N --hold-ms M`` holds every Nth queued packet
(counted from the first, whatever its hook) back until the next packet is queued, then
releases it just after that one: the two swap places, so a receiver sees one segment
overtaken by exactly one other (at most M ms of waiting, when no next packet comes).
A longer time-based hold lets several segments overtake it; their duplicate ACKs make
the sender retransmit, and the late original is then a retransmission, not a segment
out of order.  ``lossy.py reorder`` runs it in a router's FORWARD chain::

    ip netns exec hsk-lr python3 delayline.py --delay-ms 5 --hold-every 7 --hold-ms 50
"""

from __future__ import annotations

import argparse
import heapq
import ipaddress
import os
import select
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_PACKET = 2
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_PAYLOAD = 10
NF_ACCEPT = 1
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2
NLMSG_DONE = 3
HOOK_LOCAL_IN = 1
HOOK_LOCAL_OUT = 3
COPY_RANGE = 128


@dataclass(frozen=True)
class Rule:
    """A one-way delay for packets whose server-side address/port match."""

    addr: str | None
    port: int | None
    delay_s: float

    def matches(self, addr: str, port: int) -> bool:
        """True when ``addr``/``port`` (the local side of the packet) match this rule."""
        return (self.addr is None or self.addr == addr) and (self.port is None or self.port == port)


def parse_rule(text: str) -> Rule:
    """Parse ``ADDR:PORT:MS`` (IPv6 addresses in brackets); ``*`` or ``0`` means any."""
    if text.startswith("["):
        addr, rest = text[1:].split("]:", 1)
        port_s, ms_s = rest.split(":")
    else:
        addr, port_s, ms_s = text.split(":")
    return Rule(
        None if addr in ("*", "") else str(ipaddress.ip_address(addr)),
        None if port_s in ("*", "0") else int(port_s),
        float(ms_s) / 1000.0,
    )


def nlattr(attr_type: int, payload: bytes) -> bytes:
    """One netlink attribute, padded to 4 bytes."""
    length = 4 + len(payload)
    return struct.pack("=HH", length, attr_type) + payload + b"\0" * ((4 - length % 4) % 4)


def nfmsg(msg_type: int, queue: int, attrs: bytes, flags: int, seq: int) -> bytes:
    """An nfnetlink message for the queue subsystem (nlmsghdr + nfgenmsg + attributes)."""
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + attrs
    header = struct.pack(
        "=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, seq, 0
    )
    return header + body


def parse_attrs(data: bytes) -> dict[int, bytes]:
    """Netlink attributes of one message body, by type (nested flag bits masked off)."""
    attrs: dict[int, bytes] = {}
    pos = 0
    while pos + 4 <= len(data):
        length, attr_type = struct.unpack_from("=HH", data, pos)
        if length < 4:
            break
        attrs[attr_type & 0x3FFF] = data[pos + 4 : pos + length]
        pos += (length + 3) & ~3
    return attrs


def local_endpoint(packet: bytes, hook: int) -> tuple[str, int] | None:
    """The server-side (local) address and TCP port of an IPv4/IPv6 TCP packet."""
    if not packet:
        return None
    version = packet[0] >> 4
    if version == 4:
        ihl = (packet[0] & 0x0F) * 4
        src, dst = packet[12:16], packet[16:20]
        tcp = packet[ihl:]
    elif version == 6:
        src, dst = packet[8:24], packet[24:40]
        tcp = packet[40:]
    else:
        return None
    if len(tcp) < 4:
        return None
    sport, dport = struct.unpack_from("!HH", tcp)
    if hook == HOOK_LOCAL_OUT:
        return str(ipaddress.ip_address(src)), sport
    return str(ipaddress.ip_address(dst)), dport


class DelayLine:
    """Holds queued packets for their delay, then accepts them in release order."""

    def __init__(
        self,
        queue: int,
        default_s: float,
        rules: list[Rule],
        hold_every: int = 0,
        hold_s: float = 0.0,
    ) -> None:
        self.queue = queue
        self.default_s = default_s
        self.rules = rules
        #: every ``hold_every``-th queued packet (0: none) waits for the next one, at
        #: most ``hold_s``; ``waiting`` is (deadline, packet id) of the one waiting.
        self.hold_every = hold_every
        self.hold_s = hold_s
        self.waiting: tuple[float, int] | None = None
        self.seq = 0
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
        self.sock.bind((0, 0))
        self.held: list[tuple[float, int, int]] = []
        self.counter = 0
        self.packets = 0

    def _request(self, msg_type: int, attrs: bytes) -> None:
        self.seq += 1
        self.sock.send(nfmsg(msg_type, self.queue, attrs, NLM_F_REQUEST | NLM_F_ACK, self.seq))
        reply = self.sock.recv(65536)
        (msg_kind,) = struct.unpack_from("=H", reply, 4)
        if msg_kind == NLMSG_ERROR:
            (err,) = struct.unpack_from("=i", reply, 16)
            if err != 0:
                raise OSError(-err, f"nfqueue config failed: {os.strerror(-err)}")

    def bind(self) -> None:
        """Bind to the queue and ask for the first COPY_RANGE bytes of each packet."""
        self._request(
            NFQNL_MSG_CONFIG, nlattr(NFQA_CFG_CMD, struct.pack("!BBH", NFQNL_CFG_CMD_BIND, 0, 0))
        )
        self._request(
            NFQNL_MSG_CONFIG,
            nlattr(NFQA_CFG_PARAMS, struct.pack("!IB", COPY_RANGE, NFQNL_COPY_PACKET))
            + nlattr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", 8192)),
        )

    def delay_for(self, packet: bytes, hook: int) -> float:
        """One-way delay (seconds) of a packet: first matching rule, else the default."""
        endpoint = local_endpoint(packet, hook)
        if endpoint is not None:
            for rule in self.rules:
                if rule.matches(*endpoint):
                    return rule.delay_s
        return self.default_s

    def verdict(self, packet_id: int) -> None:
        """Accept one packet (no payload change)."""
        attrs = nlattr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, packet_id))
        self.sock.send(nfmsg(NFQNL_MSG_VERDICT, self.queue, attrs, NLM_F_REQUEST, 0))

    def receive(self) -> None:
        """Read every pending queued-packet message and schedule its release."""
        while True:
            try:
                data = self.sock.recv(1 << 20, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            now = time.monotonic()
            pos = 0
            while pos + 16 <= len(data):
                length, msg_type = struct.unpack_from("=IH", data, pos)
                if length < 16:
                    break
                if msg_type == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                    attrs = parse_attrs(data[pos + 20 : pos + length])
                    packet_id, _proto, hook = struct.unpack("!IHB", attrs[NFQA_PACKET_HDR][:7])
                    release = now + self.delay_for(attrs.get(NFQA_PAYLOAD, b""), hook)
                    self.packets += 1
                    self.schedule(packet_id, release, now)
                pos += (length + 3) & ~3

    def schedule(self, packet_id: int, release: float, now: float) -> None:
        """Hold ``packet_id`` until ``release``, or until the next packet when it is the
        ``hold_every``-th; a waiting packet is released just after the next one."""
        waiting, self.waiting = self.waiting, None
        if waiting is None and self.hold_every and self.packets % self.hold_every == 0:
            self.waiting = (now + self.hold_s, packet_id)
            return
        for held_id in (packet_id,) if waiting is None else (packet_id, waiting[1]):
            self.counter += 1
            heapq.heappush(self.held, (release, self.counter, held_id))

    def release_due(self) -> None:
        """Accept every held packet whose release time has come."""
        now = time.monotonic()
        if self.waiting is not None and self.waiting[0] <= now:
            self.verdict(self.waiting[1])
            self.waiting = None
        while self.held and self.held[0][0] <= now:
            _release, _n, packet_id = heapq.heappop(self.held)
            self.verdict(packet_id)

    def run(self, max_seconds: float) -> None:
        """Serve the queue until ``max_seconds`` have passed or SIGTERM arrives."""
        stop = time.monotonic() + max_seconds
        stopping = False

        def on_term(_signum: int, _frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)
        while not stopping and time.monotonic() < stop:
            timeout = 0.05
            if self.held:
                timeout = max(0.0, min(timeout, self.held[0][0] - time.monotonic()))
            try:
                readable, _w, _x = select.select([self.sock], [], [], timeout)
            except InterruptedError:
                continue
            if readable:
                self.receive()
            self.release_due()
        # Let what is still held go, so nothing is stranded in the kernel queue.
        for _release, _n, packet_id in sorted(self.held):
            self.verdict(packet_id)
        self.held.clear()
        if self.waiting is not None:
            self.verdict(self.waiting[1])
            self.waiting = None


def main(argv: list[str] | None = None) -> int:
    """Command line entry: bind queue, print READY, delay packets until told to stop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=20.0, help="default one-way delay")
    parser.add_argument("--rule", action="append", default=[], help="ADDR:PORT:MS override")
    parser.add_argument("--hold-every", type=int, default=0, help="swap every Nth packet")
    parser.add_argument("--hold-ms", type=float, default=50.0, help="longest it waits")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    args = parser.parse_args(argv)
    rules = [parse_rule(r) for r in args.rule]
    line = DelayLine(
        args.queue, args.delay_ms / 1000.0, rules, args.hold_every, args.hold_ms / 1000.0
    )
    line.bind()
    print("READY", flush=True)
    line.run(args.max_seconds)
    print(f"DONE packets={line.packets}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
