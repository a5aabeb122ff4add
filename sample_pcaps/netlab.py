"""The lab: two network namespaces joined by a veth pair, a delay line, captures.

``Lab`` builds (and always tears down) this topology::

    hsk-cli  [hsk-c0 10.77.0.1/24 fd77::1/64] ==veth== [hsk-s0 10.77.0.2,.3/24 fd77::2/64]  hsk-srv
      tcpdump here (client side)                      iptables -j NFQUEUE -> delayline.py

All TCP packets entering or leaving the server namespace wait in the userspace
delay line (``delayline.py``) for the one-way delay, so the capture on the client
side sees a realistic round-trip time.  Offloads are switched off on the veth so
the capture holds wire-sized segments with correct checksums.  Everything lives in
namespaces this module creates: deleting them removes the links, addresses,
routes, iptables rules and sysctls; processes are ended by their own id.

    with Lab(rtt_ms=40) as lab:
        lab.spawn("srv", ["server", {...}]).wait_for("READY")
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NS = {"cli": "hsk-cli", "srv": "hsk-srv"}
CLIENT_IP, SERVER_IP, SLOW_SERVER_IP = "10.77.0.1", "10.77.0.2", "10.77.0.3"
CLIENT_IP6, SERVER_IP6 = "fd77::1", "fd77::2"
MAC = {"hsk-c0": "02:77:00:00:00:01", "hsk-s0": "02:77:00:00:00:02"}
SIOCETHTOOL = 0x8946
# Legacy ethtool "set" commands: tx checksum, scatter-gather, TSO, GSO, GRO.
ETHTOOL_OFFLOAD_SETS = (0x17, 0x19, 0x1F, 0x24, 0x2C)


class LabError(RuntimeError):
    """A step of the lab failed (command error, timeout, missing READY line)."""


def run(cmd: Sequence[str], timeout: float = 30.0, check: bool = True) -> str:
    """Run a command (argument list, no shell) and return its stdout."""
    try:
        out = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timed out: {' '.join(cmd)}") from exc
    if check and out.returncode != 0:
        raise LabError(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip()}")
    return out.stdout


def ns_cmd(ns: str, cmd: Sequence[str]) -> list[str]:
    """Prefix a command with ``ip netns exec`` for the lab namespace ``ns`` (cli/srv)."""
    return ["ip", "netns", "exec", NS.get(ns, ns), *cmd]


def offloads_off(ifname: str) -> None:
    """Switch off checksum/segmentation offloads (ethtool ioctl) in the current namespace."""
    for cmd in ETHTOOL_OFFLOAD_SETS:
        buf = ctypes.create_string_buffer(struct.pack("II", cmd, 0), 8)
        ifr = struct.pack("16sP", ifname.encode(), ctypes.addressof(buf)) + b"\0" * 16
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            fcntl.ioctl(sock, SIOCETHTOOL, ifr)


class Proc:
    """A child process inside a namespace, with line-oriented, time-bounded output reading."""

    def __init__(self, name: str, argv: list[str], stdin: bool = False) -> None:
        self.name = name
        self.argv = argv
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            bufsize=0,
        )
        self.lines: list[str] = []
        self.partial = ""

    def _read_available(self, timeout: float) -> bool:
        """Read what the pipe has (unbuffered, so select() sees every byte); split lines."""
        assert self.popen.stdout is not None
        fd = self.popen.stdout.fileno()
        ready, _w, _x = select.select([fd], [], [], timeout)
        if not ready:
            return False
        chunk = os.read(fd, 65536)
        if not chunk:
            if self.partial:
                self.lines.append(self.partial)
                self.partial = ""
            return False
        text = self.partial + chunk.decode(errors="replace")
        *complete, self.partial = text.split("\n")
        self.lines.extend(complete)
        return True

    def wait_for(self, token: str, timeout: float = 10.0) -> str:
        """Wait until an output line contains ``token``; LabError after ``timeout`` seconds."""
        end = time.monotonic() + timeout
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if token in line:
                    return line
            seen = len(self.lines)
            remaining = end - time.monotonic()
            if remaining <= 0:
                break
            if not self._read_available(min(remaining, 0.2)) and self.popen.poll() is not None:
                while self._read_available(0):
                    pass
                if not any(token in line for line in self.lines[seen:]):
                    break
        raise LabError(f"{self.name}: no {token!r} within {timeout}s; output: {self.lines[-8:]}")

    def send_line(self, text: str) -> None:
        """Write one line to the process's stdin."""
        assert self.popen.stdin is not None
        self.popen.stdin.write((text + "\n").encode())
        self.popen.stdin.flush()

    def wait(self, timeout: float) -> int:
        """Wait for exit (draining output); LabError on timeout."""
        end = time.monotonic() + timeout
        while self.popen.poll() is None and time.monotonic() < end:
            self._read_available(0.1)
        while self._read_available(0):
            pass
        if self.popen.poll() is None:
            raise LabError(f"{self.name} still running after {timeout}s: {self.lines[-8:]}")
        return self.popen.returncode

    def stop(self, sig: int = signal.SIGTERM, grace: float = 3.0) -> None:
        """Signal the process (by its own pid), then SIGKILL it if it is still alive."""
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(sig)
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                self.popen.kill()
            self.popen.wait(5)


class Lab:
    """Namespaces, veth, addresses, delay line and child processes for one scenario."""

    def __init__(
        self,
        rtt_ms: float = 40.0,
        delay_rules: Sequence[str] = (),
        sysctl_cli: dict[str, str] | None = None,
        sysctl_srv: dict[str, str] | None = None,
        delay: bool = True,
    ) -> None:
        self.rtt_ms = rtt_ms
        self.delay_rules = list(delay_rules)
        self.sysctl_cli = sysctl_cli or {}
        self.sysctl_srv = sysctl_srv or {}
        self.delay = delay
        self.procs: list[Proc] = []
        self.extra_links: list[str] = []

    # ----------------------------------------------------------------- setup / teardown

    def __enter__(self) -> Lab:
        try:
            self.setup()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.teardown()

    def setup(self) -> None:
        """Create namespaces, veth, addresses, static neighbours, sysctls, delay line."""
        self.teardown()  # remove leftovers of an interrupted earlier run
        for ns in NS.values():
            run(["ip", "netns", "add", ns])
        self.add_veth("hsk-c0", "hsk-s0", MAC["hsk-c0"], MAC["hsk-s0"])
        self.addr("cli", "hsk-c0", f"{CLIENT_IP}/24", f"{CLIENT_IP6}/64")
        self.addr("srv", "hsk-s0", f"{SERVER_IP}/24", f"{SLOW_SERVER_IP}/24", f"{SERVER_IP6}/64")
        self.neigh("cli", "hsk-c0", MAC["hsk-s0"], SERVER_IP, SLOW_SERVER_IP, SERVER_IP6)
        self.neigh("srv", "hsk-s0", MAC["hsk-c0"], CLIENT_IP, CLIENT_IP6)
        for key, ns in (("sysctl_cli", "cli"), ("sysctl_srv", "srv")):
            for name, value in getattr(self, key).items():
                self.sysctl(ns, name, value)
        if self.delay:
            self.start_delay_line()

    def add_veth(self, cli_if: str, srv_if: str, cli_mac: str, srv_mac: str) -> None:
        """A veth pair made in the root namespace (offloads off there), then moved."""
        run(["ip", "link", "add", cli_if, "type", "veth", "peer", "name", srv_if])
        self.extra_links.append(cli_if)
        for ifname, mac, ns in ((cli_if, cli_mac, "cli"), (srv_if, srv_mac, "srv")):
            offloads_off(ifname)
            run(["ip", "link", "set", ifname, "address", mac])
            run(["ip", "link", "set", ifname, "netns", NS[ns]])
            run(ns_cmd(ns, ["ip", "link", "set", ifname, "up"]))
            run(ns_cmd(ns, ["ip", "link", "set", "lo", "up"]))

    def addr(self, ns: str, ifname: str, *cidrs: str) -> None:
        """Add addresses (IPv6 without duplicate address detection, usable at once)."""
        for cidr in cidrs:
            extra = ["nodad"] if ":" in cidr else []
            run(ns_cmd(ns, ["ip", "addr", "add", cidr, "dev", ifname, *extra]))

    def neigh(self, ns: str, ifname: str, mac: str, *addrs: str) -> None:
        """Permanent neighbour entries: no ARP/ND traffic, no resolution delay."""
        for addr in addrs:
            run(
                ns_cmd(
                    ns,
                    [
                        "ip",
                        "neigh",
                        "replace",
                        addr,
                        "lladdr",
                        mac,
                        "dev",
                        ifname,
                        "nud",
                        "permanent",
                    ],
                )
            )

    def sysctl(self, ns: str, name: str, value: str) -> None:
        """Set a (per-namespace) sysctl inside a lab namespace."""
        run(ns_cmd(ns, ["sysctl", "-q", "-w", f"{name}={value}"]))

    def iptables(self, ns: str, *args: str, v6: bool = True) -> None:
        """Run iptables (and ip6tables) with ``args`` inside a lab namespace."""
        run(ns_cmd(ns, ["iptables", *args]))
        if v6:
            run(ns_cmd(ns, ["ip6tables", *args]))

    def start_delay_line(self) -> None:
        """Queue every TCP packet of the server namespace to the delay line, and start it."""
        one_way = self.rtt_ms / 2.0
        argv = [
            sys.executable,
            str(HERE / "delayline.py"),
            "--delay-ms",
            str(one_way),
            "--max-seconds",
            "600",
        ]
        for rule in self.delay_rules:
            argv += ["--rule", rule]
        proc = self.spawn_raw("delayline", ns_cmd("srv", argv))
        proc.wait_for("READY", 10)
        for chain in ("INPUT", "OUTPUT"):
            self.iptables("srv", "-A", chain, "-p", "tcp", "-j", "NFQUEUE", "--queue-num", "0")

    def teardown(self) -> None:
        """Stop every process this lab started (newest first) and delete its namespaces."""
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                proc.stop()
        self.procs.clear()
        existing = run(["ip", "netns", "list"], check=False)
        for ns in NS.values():
            if any(line.split()[0] == ns for line in existing.splitlines() if line.strip()):
                run(["ip", "netns", "del", ns], check=False)
        links = run(["ip", "-o", "link", "show"], check=False)
        for name in ("hsk-c0", "hsk-c1", *self.extra_links):
            if f": {name}@" in links or f": {name}:" in links:
                run(["ip", "link", "del", name], check=False)

    # ----------------------------------------------------------------- processes

    def spawn_raw(self, name: str, argv: list[str], stdin: bool = False) -> Proc:
        """Start a command (already namespaced) and remember it for teardown."""
        proc = Proc(name, argv, stdin=stdin)
        self.procs.append(proc)
        return proc

    def spawn(self, ns: str, role: str, spec: dict[str, Any], stdin: bool = False) -> Proc:
        """Start ``peers.py ROLE JSON`` inside namespace ``ns`` (cli/srv)."""
        argv = [sys.executable, str(HERE / "peers.py"), role, json.dumps(spec)]
        return self.spawn_raw(f"{ns}:{role}", ns_cmd(ns, argv), stdin=stdin)

    def capture(
        self,
        path: Path,
        bpf: str,
        iface: str = "hsk-c0",
        ns: str = "cli",
        extra: Sequence[str] = (),
    ) -> Proc:
        """Start tcpdump writing ``path`` and wait until it is listening."""
        argv = [
            "tcpdump",
            "-i",
            iface,
            "-n",
            "-U",
            "--immediate-mode",
            "-Z",
            "root",
            "-w",
            str(path),
            *extra,
            bpf,
        ]
        proc = self.spawn_raw(f"tcpdump:{path.name}", ns_cmd(ns, argv))
        proc.wait_for("listening on", 10)
        time.sleep(0.2)
        return proc

    def capture_dumpcap(self, path: Path, bpf: str, ifaces: Sequence[str], ns: str = "cli") -> Proc:
        """Start dumpcap on several interfaces (one pcapng IDB each) and wait for it."""
        argv = ["dumpcap", "-q", "-f", bpf]
        for iface in ifaces:
            argv += ["-i", iface]
        argv += ["-w", str(path)]
        proc = self.spawn_raw(f"dumpcap:{path.name}", ns_cmd(ns, argv))
        time.sleep(1.0)
        deadline = time.monotonic() + 10
        while not path.exists() or path.stat().st_size == 0:
            if time.monotonic() > deadline or proc.popen.poll() is not None:
                raise LabError(f"dumpcap did not start: {proc.lines}")
            time.sleep(0.1)
        time.sleep(0.5)
        return proc

    @staticmethod
    def stop_capture(proc: Proc, settle: float = 0.5) -> None:
        """Let trailing packets arrive, then stop the capture cleanly (SIGINT)."""
        time.sleep(settle)
        proc.stop(signal.SIGINT, grace=5.0)


@contextlib.contextmanager
def cleanup_on_signals(lab_ref: list[Lab]) -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into SystemExit so ``finally`` blocks tear the lab down."""

    def handler(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for lab in lab_ref:
            lab.teardown()
        for sig, prev in old.items():
            signal.signal(sig, prev)


def require_root() -> None:
    """Exit with a message unless running as root (namespaces need CAP_NET_ADMIN)."""
    if os.geteuid() != 0:
        raise SystemExit("generate.py must run as root: sudo python sample_pcaps/generate.py")
