"""Named segment patterns as a tcpdump BPF string, a Wireshark display filter and a pandas mask.

Each pattern is one flag/payload expression written in all three languages, so a
pattern selects the same frames whether you run ``tcpdump``, ``tshark -Y`` or index
``cap.segments``. The patterns (``PATTERNS``):

============  ==========================================  ==================================
name          selects                                     as flags
============  ==========================================  ==================================
syn           connection requests                         SYN set, ACK clear
syn-ack       replies to a connection request             SYN and ACK set
ack-only      pure ACKs                                   ACK set, SYN/FIN/RST clear, no data
fin           closing segments                            FIN set
rst           resets                                      RST set
psh           pushed data                                 PSH set
handshake     both handshake openers                      SYN set
termination   teardown segments                           FIN or RST set
data          segments carrying payload                   TCP payload length > 0
============  ==========================================  ==================================

>>> from hskit import filters
>>> filters.display_filter("syn")
'tcp && !icmp && !icmpv6 && tcp.flags.syn == 1 && tcp.flags.ack == 0'

Limits of the BPF form (libpcap's, not hskit's): ``tcp[...]`` offsets are only defined
for IPv4, so IPv6 segments are matched with ``ip6[...]`` offsets that assume TCP
directly follows the 40-byte IPv6 header (no extension headers). VLAN-tagged frames
need libpcap's ``vlan`` keyword, which only exists for link types that carry tags
(Ethernet): ask for it with ``bpf(name, vlan=True)``, which also matches single- and
double-tagged (QinQ) frames. TCP inside tunnels or inside ICMP errors is matched by
neither the BPF nor the display filter (the latter excludes ICMP explicitly), and is
not in the segments table either.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hskit.schema import ACK, FIN, PSH, RST, SYN

#: Wireshark display-filter field of each flag bit the patterns use.
_DF_FLAG_FIELDS: dict[int, str] = {
    FIN: "tcp.flags.fin",
    SYN: "tcp.flags.syn",
    RST: "tcp.flags.reset",
    PSH: "tcp.flags.push",
    ACK: "tcp.flags.ack",
}
#: TCP payload length, in BPF, for IPv4 (IP total length - IP header - TCP header)…
_BPF_PAYLOAD_V4 = "(ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2))"
#: … and for IPv6 without extension headers (payload length - TCP header).
_BPF_PAYLOAD_V6 = "(ip6[4:2] - ((ip6[52] & 0xf0) >> 2))"
#: Display-filter prefix: a TCP segment that is not quoted inside an ICMP error.
_DF_TCP = "tcp && !icmp && !icmpv6"

Mask = Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class Filter:
    """One selection of segments in three languages.

    >>> f = get("rst")
    >>> f.bpf
    '(ip and tcp[13] & 0x04 == 0x04) or (ip6 and ip6[6] == 6 and ip6[53] & 0x04 == 0x04)'
    """

    name: str
    #: tcpdump / libpcap filter, for link types without VLAN tags (see :meth:`with_vlan`).
    bpf: str
    #: Wireshark / tshark display filter (``tshark -Y``).
    display_filter: str
    _mask: Mask = field(repr=False, compare=False)

    def mask(self, segments: pd.DataFrame) -> pd.Series:
        """Boolean Series over ``segments``' rows: True where the pattern matches.

        >>> get("data").mask(segments)  # doctest: +SKIP
        """
        return pd.Series(
            np.asarray(self._mask(segments), dtype=bool), index=segments.index, name=self.name
        )

    def with_vlan(self) -> str:
        """The BPF string matching untagged, VLAN-tagged and QinQ frames (Ethernet only).

        >>> get("fin").with_vlan().count("vlan")
        2
        """
        expr = self.bpf
        return f"({expr}) or (vlan and (({expr}) or (vlan and ({expr}))))"


@dataclass(frozen=True)
class _Flags:
    """A pattern as ``flags & (set | clear) == set``, optional any-of bits, payload test."""

    set_bits: int = 0
    clear_bits: int = 0
    any_bits: int = 0
    #: True: payload > 0; False: payload == 0; None: either.
    payload: bool | None = None

    def bpf(self, flags_byte: str, payload: str) -> str:
        terms = []
        if self.set_bits or self.clear_bits:
            care = self.set_bits | self.clear_bits
            terms.append(f"{flags_byte} & 0x{care:02x} == 0x{self.set_bits:02x}")
        if self.any_bits:
            terms.append(f"{flags_byte} & 0x{self.any_bits:02x} != 0")
        if self.payload is not None:
            terms.append(f"{payload} {'!=' if self.payload else '=='} 0")
        return " and ".join(terms)

    def display_filter(self) -> str:
        terms = [_DF_TCP]
        terms += [f"{field} == 1" for bit, field in _DF_FLAG_FIELDS.items() if self.set_bits & bit]
        terms += [
            f"{field} == 0" for bit, field in _DF_FLAG_FIELDS.items() if self.clear_bits & bit
        ]
        if self.any_bits:
            alternatives = [
                f"{field} == 1" for bit, field in _DF_FLAG_FIELDS.items() if self.any_bits & bit
            ]
            terms.append("(" + " || ".join(alternatives) + ")")
        if self.payload is not None:
            terms.append(f"tcp.len {'>' if self.payload else '=='} 0")
        return " && ".join(terms)

    def mask(self, segments: pd.DataFrame) -> np.ndarray:
        flags = segments["flags"].to_numpy(dtype=np.int64)
        selected = (flags & (self.set_bits | self.clear_bits)) == self.set_bits
        if self.any_bits:
            selected &= (flags & self.any_bits) != 0
        if self.payload is not None:
            has_payload = segments["payload_len"].to_numpy(dtype=np.int64) > 0
            selected &= has_payload if self.payload else ~has_payload
        return selected


_PATTERNS: dict[str, _Flags] = {
    "syn": _Flags(set_bits=SYN, clear_bits=ACK),
    "syn-ack": _Flags(set_bits=SYN | ACK),
    "ack-only": _Flags(set_bits=ACK, clear_bits=SYN | FIN | RST, payload=False),
    "fin": _Flags(set_bits=FIN),
    "rst": _Flags(set_bits=RST),
    "psh": _Flags(set_bits=PSH),
    "handshake": _Flags(set_bits=SYN),
    "termination": _Flags(any_bits=FIN | RST),
    "data": _Flags(payload=True),
}
#: Names of the patterns, in the order of the table above.
PATTERNS: tuple[str, ...] = tuple(_PATTERNS)


def get(name: str) -> Filter:
    """The :class:`Filter` of pattern ``name`` (one of :data:`PATTERNS`).

    >>> get("syn-ack").display_filter
    'tcp && !icmp && !icmpv6 && tcp.flags.syn == 1 && tcp.flags.ack == 1'
    """
    if name not in _PATTERNS:
        raise ValueError(f"unknown pattern {name!r}; choose one of {', '.join(PATTERNS)}")
    spec = _PATTERNS[name]
    v4 = spec.bpf("tcp[13]", _BPF_PAYLOAD_V4)
    v6 = spec.bpf("ip6[53]", _BPF_PAYLOAD_V6)
    bpf_text = f"(ip and {v4}) or (ip6 and ip6[6] == 6 and {v6})"
    return Filter(name, bpf_text, spec.display_filter(), spec.mask)


def bpf(name: str, vlan: bool = False) -> str:
    """tcpdump/libpcap filter of pattern ``name``; ``vlan=True`` also matches tagged frames.

    >>> bpf("syn")
    '(ip and tcp[13] & 0x12 == 0x02) or (ip6 and ip6[6] == 6 and ip6[53] & 0x12 == 0x02)'
    """
    pattern = get(name)
    return pattern.with_vlan() if vlan else pattern.bpf


def display_filter(name: str) -> str:
    """Wireshark display filter of pattern ``name``.

    >>> display_filter("termination")
    'tcp && !icmp && !icmpv6 && (tcp.flags.fin == 1 || tcp.flags.reset == 1)'
    """
    return get(name).display_filter


def mask(segments: pd.DataFrame, name: str) -> pd.Series:
    """Boolean mask of ``segments`` rows matching pattern ``name``.

    >>> cap.segments[mask(cap.segments, "rst")]  # doctest: +SKIP
    """
    return get(name).mask(segments)


def connection(client_ip: str, client_port: int, server_ip: str, server_port: int) -> Filter:
    """Both directions of one 4-tuple (every connection that reused it, too).

    >>> connection("10.0.0.1", 40000, "10.0.0.2", 80).display_filter
    '(ip.src == 10.0.0.1 && tcp.srcport == 40000 && ip.dst == 10.0.0.2 && tcp.dstport == 80) || (ip.src == 10.0.0.2 && tcp.srcport == 80 && ip.dst == 10.0.0.1 && tcp.dstport == 40000)'
    """  # noqa: E501
    client = ipaddress.ip_address(client_ip)
    server = ipaddress.ip_address(server_ip)
    if client.version != server.version:
        raise ValueError(f"{client_ip} and {server_ip} are not the same IP version")
    a, b, pa, pb = str(client), str(server), int(client_port), int(server_port)
    ip_field = "ip" if client.version == 4 else "ipv6"
    bpf_text = (
        f"tcp and ((src host {a} and src port {pa} and dst host {b} and dst port {pb}) or "
        f"(src host {b} and src port {pb} and dst host {a} and dst port {pa}))"
    )

    def direction(src: str, sport: int, dst: str, dport: int) -> str:
        return (
            f"{ip_field}.src == {src} && tcp.srcport == {sport} && "
            f"{ip_field}.dst == {dst} && tcp.dstport == {dport}"
        )

    df_text = f"({direction(a, pa, b, pb)}) || ({direction(b, pb, a, pa)})"

    def select(segments: pd.DataFrame) -> np.ndarray:
        src = segments["src_ip"].astype("string").to_numpy(dtype=object)
        dst = segments["dst_ip"].astype("string").to_numpy(dtype=object)
        sport = segments["src_port"].to_numpy(dtype=np.int64)
        dport = segments["dst_port"].to_numpy(dtype=np.int64)
        forward = (src == a) & (sport == pa) & (dst == b) & (dport == pb)
        backward = (src == b) & (sport == pb) & (dst == a) & (dport == pa)
        return forward | backward

    return Filter(f"connection {a}:{pa} <-> {b}:{pb}", bpf_text, df_text, select)
