"""Which protocols a load dissects: everything up to TCP, nothing above the transport layers.

A load without a display filter disables, in its ``disabled_protos`` file, every protocol
that sits directly on a transport layer: registered in one of the
:data:`TRANSPORT_TABLES` (``tcp.port``, ``udp.port`` …) or in the heuristic list of one of
the :data:`TRANSPORT_PROTOCOLS`, as tshark lists them (``-G decodes``,
``-G heuristic-decodes``). Their payload dissection is what costs time, and some of them
(VPNs over TCP) would otherwise carry a TCP header inside the TCP payload.

Everything below stays enabled, so TCP behind any link layer or encapsulation Wireshark
decodes (ARCNET, IP over InfiniBand, Juniper, PPP, MPLS, GRE …) is found as a full
dissection finds it, with two exceptions to the rule, both kept enabled:
:data:`ALWAYS_ENABLED` (the frame, link and network layers, TCP, UDP, ICMP), and the
:data:`UDP_TUNNELS`, which sit on UDP ports but carry IP.

>>> disabled_from(["tcp.port\\t80\\thttp", "udp.port\\t4789\\tvxlan", "ethertype\\t2048\\tip"],
...               ["udp\\tquic\\tT"])
'http\\nquic\\n'
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from hskit.tshark.isolation import isolated
from hskit.tshark.process import run

__all__ = [
    "ALWAYS_ENABLED",
    "ENABLED_PROTOCOLS",
    "TRANSPORT_PROTOCOLS",
    "TRANSPORT_TABLES",
    "UDP_TUNNELS",
    "disabled_from",
    "disabled_protocols",
]

#: dissector tables in which the protocols carried by a transport layer register.
TRANSPORT_TABLES: frozenset[str] = frozenset(
    ("tcp.port", "udp.port", "sctp.port", "sctp.ppi", "dccp.port")
)
#: transport layers whose heuristic dissectors are payload protocols too.
TRANSPORT_PROTOCOLS: frozenset[str] = frozenset(("tcp", "udp", "sctp", "dccp"))

#: never disabled, although some register in a transport table too: the frame, the link
#: layers and encapsulations hskit's tests name, IP, TCP, UDP, and ICMP (so TCP headers
#: quoted in ICMP errors are recognised as such and numbered into streams exactly as a
#: full dissection numbers them).
ALWAYS_ENABLED: frozenset[str] = frozenset(
    ("frame", "eth", "ethertype", "vlan", "ieee8021ad", "sll", "null", "loop", "raw", "llc",
     "ppp", "pppoes", "mpls", "gre", "erf", "nflog", "pktap", "wlan", "radiotap",
     "wlan_radio", "ip", "ipv6", "tcp", "udp", "icmp", "icmpv6")
)  # fmt: skip
#: protocols on UDP ports that carry IP (or a link layer that carries IP), kept enabled so
#: the TCP inside is found, with their default ports.
UDP_TUNNELS: dict[str, str] = {
    "vxlan": "VXLAN, 4789",
    "geneve": "Geneve, 6081",
    "gtp": "GTP-U, 2152",
    "l2tp": "L2TP, 1701",
    "teredo": "Teredo (IPv6 in UDP), 3544",
    "lisp-data": "LISP data plane, 4341",
    "mpls": "MPLS in UDP, 6635",
    "gre": "GRE in UDP, 4754",
    "capwap.data": "CAPWAP data (802.11 frames), 5247",
    "lwapp": "LWAPP (802.11 frames), 12222-12223",
    "tzsp": "TaZmen Sniffer Protocol (Ethernet, 802.11), 37008",
    "peekremote": "AiroPeek/OmniPeek remote (802.11 frames), 5000",
}
#: every protocol a load leaves enabled even where the rule would disable it.
ENABLED_PROTOCOLS: frozenset[str] = ALWAYS_ENABLED | frozenset(UDP_TUNNELS)


@lru_cache(maxsize=8)
def disabled_protocols(tshark: str) -> str:
    """The ``disabled_protos`` file for a load: :func:`disabled_from` tshark's own lists.

    >>> "http" in disabled_protocols("/usr/bin/tshark").split()  # doctest: +SKIP
    True
    """

    def listing(report: str) -> list[str]:
        with isolated(tshark) as isolation:
            return run([tshark, "-G", report], isolation).splitlines()

    with ThreadPoolExecutor(max_workers=2) as pool:
        decodes, heuristics = pool.map(listing, ("decodes", "heuristic-decodes"))
    return disabled_from(decodes, heuristics)


def disabled_from(decodes: list[str], heuristics: list[str]) -> str:
    """Protocols registered in a transport table (``-G decodes`` lines: table, selector,
    protocol) or a transport layer's heuristic list (``-G heuristic-decodes`` lines:
    underlying protocol, heuristic protocol, enabled), less :data:`ENABLED_PROTOCOLS`;
    sorted, one a line."""
    carried = {
        fields[2] for fields in _tab_separated(decodes, 3) if fields[0] in TRANSPORT_TABLES
    } | {fields[1] for fields in _tab_separated(heuristics, 3) if fields[0] in TRANSPORT_PROTOCOLS}
    return "".join(f"{name}\n" for name in sorted(carried - ENABLED_PROTOCOLS))


def _tab_separated(lines: list[str], count: int) -> list[list[str]]:
    return [fields for line in lines if len(fields := line.split("\t")) == count]
