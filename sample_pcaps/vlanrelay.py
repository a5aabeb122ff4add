"""802.1Q tagging relay between a tap device and a veth "trunk", for the VLAN capture.

This machine's kernel has no 8021q module (no VLAN subinterfaces, no bridge VLAN
filtering, no tc vlan action), so each lab namespace gets a tap device with the
VLAN's address, and this relay moves frames between it and the namespace's veth:
frames the kernel sends on the tap go out on the veth with an 802.1Q tag pushed
(VID ``--vid``), and tagged frames arriving on the veth with that VID are written
to the tap untagged.  The kernel TCP stacks on both ends are real; tcpdump on the
veth sees tagged frames in both directions::

    ip netns exec hsk-cli python3 vlanrelay.py --tap hsk-cv --trunk hsk-c0 --vid 100

Prints ``READY`` once the tap is up; stops on SIGTERM or after ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
ETH_P_ALL = 0x0003
ETH_P_8021Q = 0x8100
SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_OUTGOING = 4
TP_STATUS_VLAN_VALID = 0x10


def open_tap(name: str) -> int:
    """Create (and open) a tap device without packet-info header."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def push_tag(frame: bytes, vid: int) -> bytes:
    """Insert an 802.1Q header (priority 0, this VID) after the two MAC addresses."""
    return frame[:12] + struct.pack("!HH", ETH_P_8021Q, vid & 0x0FFF) + frame[12:]


def vlan_of(frame: bytes, ancdata: list[tuple[int, int, bytes]]) -> tuple[int | None, bytes]:
    """(VID, untagged frame) of a received frame: tag from auxdata or inline, else None."""
    for level, kind, data in ancdata:
        if level == SOL_PACKET and kind == PACKET_AUXDATA and len(data) >= 20:
            status, _len, _snap, _mac, _net, tci = struct.unpack_from("=IIIHHH", data)
            if status & TP_STATUS_VLAN_VALID:
                return tci & 0x0FFF, frame
    if len(frame) >= 18 and struct.unpack_from("!H", frame, 12)[0] == ETH_P_8021Q:
        (tci,) = struct.unpack_from("!H", frame, 14)
        return tci & 0x0FFF, frame[:12] + frame[16:]
    return None, frame


def relay(tap: str, trunk: str, vid: int, mac: str, max_seconds: float) -> int:
    """Move frames between ``tap`` and ``trunk`` until stopped; returns frames relayed."""
    tap_fd = open_tap(tap)
    subprocess.run(["ip", "link", "set", tap, "address", mac, "up"], check=True)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    sock.bind((trunk, ETH_P_ALL))
    stopping = False

    def on_term(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    print("READY", flush=True)
    deadline = time.monotonic() + max_seconds
    count = 0
    while not stopping and time.monotonic() < deadline:
        try:
            readable, _w, _x = select.select([tap_fd, sock], [], [], 0.2)
        except InterruptedError:
            continue
        if tap_fd in readable:
            frame = os.read(tap_fd, 65536)
            sock.send(push_tag(frame, vid))
            count += 1
        if sock in readable:
            frame, ancdata, _flags, addr = sock.recvmsg(65536, socket.CMSG_SPACE(32))
            if addr[2] == PACKET_OUTGOING:
                continue
            got_vid, untagged = vlan_of(frame, ancdata)
            if got_vid == vid:
                os.write(tap_fd, untagged)
                count += 1
    sock.close()
    os.close(tap_fd)
    return count


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tap", required=True)
    parser.add_argument("--trunk", required=True)
    parser.add_argument("--vid", type=int, default=100)
    parser.add_argument("--mac", required=True)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    count = relay(args.tap, args.trunk, args.vid, args.mac, args.max_seconds)
    print(f"DONE frames={count}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
