"""Decoding of link, IP and TCP headers, in two paths.

The fast path (:func:`hskit.native.kernels.decode_tcp`, compiled) decodes the common
records in one pass, each straight into its row of the columns: Ethernet, Linux cooked
(SLL, SLL2), raw IP and NULL/LOOP frames carrying TCP in an IPv4 packet that is not a
fragment or in an IPv6 packet without extension headers, with the whole TCP header
captured. Every other record -- VLAN tags, 802.3/LLC, IPv6 extension headers, IP
fragments, ICMP errors quoting TCP, tunnels, cut headers, not IP, not TCP, link types
not decoded -- goes to the general path (:func:`decode_general`) which holds every rule,
and which counts what it skips and raises on what the native reader does not decode.
Both give the same columns for a common record; the two parts are merged in record
order.

The general path is vectorized: each header is gathered once per layer as a 2-D block
(one row per record, copied from the flat capture buffer at a per-row offset), so header
fields are fixed-offset column slices and variable lengths (VLAN tags, IPv4 options,
IPv6 extension headers, TCP options) cost a few array passes, never a Python loop per
packet.

>>> records = read_records(Path("capture.pcap"), progress=False)  # doctest: +SKIP
>>> tcp, skipped = decode(records)  # doctest: +SKIP
>>> tcp.src_port[:3], skipped  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from hskit.errors import UnsupportedLinkType
from hskit.native.checksum import checksum_ok, pseudo_header_sum
from hskit.native.records import PADDING, Records

Int = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
Bytes = npt.NDArray[np.uint8]

#: pcap LINKTYPE names of the link types the native reader decodes.
LINK_TYPE_NAMES: dict[int, str] = {
    0: "NULL",
    1: "EN10MB",
    12: "RAW",
    14: "RAW",
    101: "RAW",
    108: "LOOP",
    113: "LINUX_SLL",
    228: "IPV4",
    229: "IPV6",
    276: "LINUX_SLL2",
}
#: link types whose frame starts with the IP header.
_RAW_IP = {12: (4, 6), 14: (4, 6), 101: (4, 6), 228: (4,), 229: (6,)}
#: link types with an EtherType: (offset of the EtherType, offset of the payload).
_ETHERTYPE_AT = {1: (12, 14), 113: (14, 16), 276: (0, 20)}
#: link types whose frame starts with a 4-byte address family: NULL, LOOP.
_ADDRESS_FAMILY_LINKS = (0, 108)

_ETH_IPV4, _ETH_IPV6 = 0x0800, 0x86DD
_VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
_MAX_VLAN_TAGS = 3
#: EtherTypes of encapsulations that may carry TCP but are not decoded here.
_UNSUPPORTED_ETHERTYPES: dict[int, str] = {
    0x8847: "MPLS",
    0x8848: "MPLS multicast",
    0x8864: "PPPoE",
    0x88E7: "802.1ah PBB",
    0x894F: "NSH",
}
#: IP protocols of tunnels whose inner packets tshark would decode.
_UNSUPPORTED_IP_PROTOCOLS: dict[int, str] = {4: "IP-in-IP", 41: "IPv6-in-IP", 47: "GRE"}
#: UDP destination ports of tunnels whose inner packets tshark would decode.
_UNSUPPORTED_UDP_PORTS: dict[int, str] = {4789: "VXLAN", 6081: "Geneve"}
_AF_INET = 2
_AF_INET6 = (24, 28, 30)  # BSD, FreeBSD, Darwin (as Wireshark's null dissector)
_MAX_8023_LENGTH = 1500
_PROTO_TCP, _PROTO_UDP = 6, 17
_IPV6_EXTENSIONS = (0, 43, 60)  # hop-by-hop, routing, destination options
_IPV6_FRAGMENT, _IPV6_AH = 44, 51
_MAX_IPV6_EXTENSIONS = 8
_ICMP_ERRORS = (3, 4, 5, 11, 12)  # unreachable, source quench, redirect, time exceeded, …
_ICMPV6_ERRORS = (1, 2, 3, 4)
#: link header bytes gathered: SLL2 (20) + three VLAN tags + LLC/SNAP (8)
_LINK_WIDTH = 40
_IP_WIDTH = 40
_IPV4_WIDTH = 20
#: TCP header bytes gathered: the fixed header (options are read from the buffer).
_TCP_WIDTH = 20
#: header bytes Wireshark reads before anything else: ports, numbers, flags, window.
_TCP_FIELDS_LEN = 16
#: The fewest bytes of a record the fast path decodes: IPv4 and TCP headers, no link header.
_MIN_FAST_RECORD = _IPV4_WIDTH + _TCP_WIDTH
#: Why records are skipped, as counted by :func:`decode` (in this order).
SKIP_REASONS = ("not_ip", "truncated_headers", "not_tcp", "ip_fragment")


@dataclass
class TcpColumns:
    """Decoded header fields of the TCP headers, one entry per header, in record order."""

    record: Int  # 0-based record index (frame - 1)
    #: a TCP header quoted by an ICMP error: not a segment, but it takes part in stream
    #: numbering as in Wireshark.
    quoted: Bool
    #: Wireshark's sequence analysis ran on it (not quoted, not the first of several IP
    #: fragments): it sets base sequence numbers and gets relative numbers.
    analyzed: Bool
    ip_version: Int
    #: addresses as two 64-bit halves; IPv4 in the low half with ``hi == -1``.
    src_hi: Int
    src_lo: Int
    dst_hi: Int
    dst_lo: Int
    src_port: npt.NDArray[np.uint16]
    dst_port: npt.NDArray[np.uint16]
    seq: npt.NDArray[np.uint32]
    ack: npt.NDArray[np.uint32]
    flags: npt.NDArray[np.uint16]
    win: npt.NDArray[np.uint16]
    payload_len: Int
    mss: Int  # -1 when absent
    wscale: Int
    sack_perm: Bool
    tfo: Bool
    ts_val: Int
    ts_ecr: Int
    #: the IP total length (IPv6: payload length + 40); where the header says 0 (TCP
    #: segmentation offload), the rest of the frame, as tshark reads it
    ip_len: Int
    #: TCP checksum right (1), wrong (0), or not verifiable (-1: cut by the snap length,
    #: or in an IP fragment)
    checksum_ok: npt.NDArray[np.int8]

    def select(self, which: npt.NDArray | slice) -> TcpColumns:
        """The rows chosen by a mask, an index array or a slice (views, for a slice)."""
        return TcpColumns(*(getattr(self, f.name)[which] for f in fields(self)))

    @classmethod
    def empty(cls, count: int) -> TcpColumns:
        """Columns of ``count`` rows, not filled in.

        >>> TcpColumns.empty(2).seq.dtype
        dtype('uint32')
        """
        return cls(*(np.empty(count, dtype=_DTYPES.get(f.name, np.int64)) for f in fields(cls)))

    @staticmethod
    def concat(first: TcpColumns, second: TcpColumns) -> TcpColumns:
        """The rows of both, in record order (rows of one record keep their order)."""
        both = TcpColumns(
            *(np.concatenate([getattr(first, f.name), getattr(second, f.name)])
              for f in fields(first))
        )  # fmt: skip
        return both.select(np.argsort(both.record, kind="stable"))


#: dtypes of the :class:`TcpColumns` that are not int64.
_DTYPES: dict[str, type] = {
    "quoted": np.bool_, "analyzed": np.bool_, "sack_perm": np.bool_, "tfo": np.bool_,
    "ip_version": np.int8, "checksum_ok": np.int8, "src_port": np.uint16,
    "dst_port": np.uint16, "flags": np.uint16, "win": np.uint16, "seq": np.uint32,
    "ack": np.uint32,
}  # fmt: skip


# --------------------------------------------------------------------------- byte access
def _block(buf: Bytes, at: Int, width: int) -> Bytes:
    """``width`` bytes from each offset in ``at``, as an ``(len(at), width)`` array."""
    limit = len(buf) - width
    return sliding_window_view(buf, width)[np.minimum(at, limit)]


def _field(block: Bytes, offset: int, size: int, dtype: type = np.int64) -> npt.NDArray:
    """The big-endian unsigned integer at column ``offset`` of every row of ``block``."""
    if size == 1:
        return block[:, offset].astype(dtype)
    wire = {2: ">u2", 4: ">u4", 8: ">u8"}[size]
    if len(block) and block.flags.c_contiguous:
        # A strided (unaligned) view of the column: converted without a copy first.
        column = np.ndarray(
            (len(block),), dtype=wire, buffer=block, offset=offset, strides=(block.shape[1],)
        )
    else:
        column = np.ascontiguousarray(block[:, offset : offset + size]).view(wire)[:, 0]
    return column.astype(dtype)


def _u8(buf: Bytes, at: Int) -> Int:
    return buf[at].astype(np.int64)


def _u16(buf: Bytes, at: Int) -> Int:
    return (_u8(buf, at) << 8) | _u8(buf, at + 1)


def _unsupported(what: str) -> UnsupportedLinkType:
    return UnsupportedLinkType(
        f'{what} is not decoded by the native reader; load with backend="tshark"'
    )


# --------------------------------------------------------------------------- link layer
def link_layer(records: Records) -> tuple[Int, Int]:
    """``(network offset in buffer, IP version 4/6 or 0 for not IP)`` of every record.

    Raises :class:`UnsupportedLinkType` for a link type or encapsulation not decoded here.
    """
    start, link, captured = records.data_offset, records.link_type, records.caplen
    count = len(start)
    link_types = np.unique(link).tolist()
    if len(link_types) == 1:  # the usual case: no per-type scatter
        return _link_type_layer(records, link_types[0], start, captured)
    net = np.zeros(count, dtype=np.int64)
    version = np.zeros(count, dtype=np.int8)
    for link_type in link_types:
        rows = np.flatnonzero(link == link_type)
        net[rows], version[rows] = _link_type_layer(records, link_type, start[rows], captured[rows])
    return net, version


def _link_type_layer(records: Records, link_type: int, at: Int, captured: Int) -> tuple[Int, Int]:
    """``(network offset, IP version)`` of records of one link type starting at ``at``,
    ``captured`` bytes long."""
    if link_type in _ETHERTYPE_AT:
        type_at, payload_at = _ETHERTYPE_AT[link_type]
        # Only the few tagged or 802.3 frames need more of the link header than the type
        # (a frame cut before its payload has nothing to decode: it needs nothing more).
        ethertype = _field(_block(records.buffer, at + type_at, 2), 0, 2, np.int32)
        offset = np.full(len(at), payload_at, dtype=np.int32)
        tagged_or_8023 = np.isin(ethertype, _VLAN_TPIDS) | (ethertype <= _MAX_8023_LENGTH)
        special = np.flatnonzero(tagged_or_8023 & (captured > payload_at))
        if len(special):
            header = _block(records.buffer, at[special], _LINK_WIDTH)
            ethertype[special], offset[special] = _ethertype_after_tags(header, type_at, payload_at)
        bad = np.isin(ethertype, list(_UNSUPPORTED_ETHERTYPES))
        if bad.any():
            name = _UNSUPPORTED_ETHERTYPES[int(ethertype[bad][0])]
            raise _unsupported(f"{name} encapsulation")
        ip_version = np.zeros(len(at), dtype=np.int8)
        ip_version[ethertype == _ETH_IPV4] = 4
        ip_version[ethertype == _ETH_IPV6] = 6
    elif link_type in _RAW_IP:
        header = _block(records.buffer, at, _LINK_WIDTH)
        nibble = (header[:, 0] >> 4).astype(np.int8)
        ip_version = np.where(np.isin(nibble, _RAW_IP[link_type]), nibble, np.int8(0))
        offset = np.zeros(len(at), dtype=np.int64)
    elif link_type in _ADDRESS_FAMILY_LINKS:
        header = _block(records.buffer, at, _LINK_WIDTH)
        family = _field(header, 0, 4)
        # The family is in the capturing host's byte order: a big value means swapped.
        swapped = np.ascontiguousarray(header[:, :4]).view("<u4")[:, 0].astype(np.int64)
        family = np.where(family > 0xFFFF, swapped, family)
        ip_version = np.zeros(len(at), dtype=np.int8)
        ip_version[family == _AF_INET] = 4
        ip_version[np.isin(family, _AF_INET6)] = 6
        offset = np.full(len(at), 4, dtype=np.int64)
    else:
        raise _unsupported(f"link type {link_type}")
    return at + offset, ip_version


def _ethertype_after_tags(header: Bytes, type_at: int, payload_at: int) -> tuple[Int, Int]:
    """EtherType and payload offset after up to three 802.1Q/802.1ad tags and LLC/SNAP."""
    ethertype = _field(header, type_at, 2, np.int32)
    payload = np.full(len(header), payload_at, dtype=np.int32)
    for tag in range(_MAX_VLAN_TAGS):
        tagged = np.isin(ethertype, _VLAN_TPIDS)
        if not tagged.any():
            break
        inner = _field(header, payload_at + 4 * tag + 2, 2, np.int32)
        ethertype = np.where(tagged, inner, ethertype)
        payload = np.where(tagged, payload + 4, payload)
    # An 802.3 length instead of an EtherType: LLC/SNAP (AA AA 03, OUI, EtherType).
    snap = np.flatnonzero(ethertype <= _MAX_8023_LENGTH)
    if len(snap):
        at = payload[snap, None] + np.arange(8)
        llc = np.take_along_axis(header[snap], np.minimum(at, header.shape[1] - 1), axis=1)
        is_snap = (llc[:, 0] == 0xAA) & (llc[:, 1] == 0xAA) & (llc[:, 2] == 0x03)
        snap_type = llc[:, 6].astype(np.int64) << 8 | llc[:, 7]
        ethertype[snap] = np.where(is_snap, snap_type, ethertype[snap])
        payload[snap] = np.where(is_snap, payload[snap] + 8, payload[snap])
    return ethertype, payload


# --------------------------------------------------------------------------- IP layer
@dataclass
class _IpLayer:
    """The IP header of selected records (``rows``), in record order."""

    rows: Int
    net: Int
    version: Int
    ok: Bool  # a well-formed IPv4/IPv6 header
    proto: Int  # upper-layer protocol, after IPv6 extension headers
    first_fragment: Bool  # not a fragment, or the fragment at offset 0
    more_fragments: Bool
    transport: Int  # offset of the upper-layer header
    #: upper-layer bytes according to the IP lengths, at most what the frame held on the
    #: wire (an IP length claiming more counts the bytes that were there, as tshark does)
    payload: Int
    length: Int  # total length: the header's (IPv6: payload length + 40), or the frame's rest
    header: Bytes  # the first 40 bytes from the IP header on (20 when all are IPv4)

    def select(self, which: npt.NDArray) -> _IpLayer:
        """The rows chosen by a boolean mask (no copy when it keeps every row)."""
        if which.all():
            return self
        return _IpLayer(*(getattr(self, f.name)[which] for f in fields(self)))

    @staticmethod
    def concat(first: _IpLayer, second: _IpLayer) -> _IpLayer:
        return _IpLayer(
            *(
                np.concatenate([getattr(first, f.name), getattr(second, f.name)])
                for f in fields(first)
            )
        )


def _ip_layer(records: Records, rows: Int, net: Int, version: Int) -> _IpLayer:
    # IPv4 fields all lie in the first 20 bytes.
    width = _IP_WIDTH if (version == 6).any() else _IPV4_WIDTH
    header = _block(records.buffer, net, width)
    is4 = version == 4
    first = header[:, 0]
    ihl = (first & 0x0F) * 4  # uint8: at most 60
    frag = _field(header, 6, 2, np.uint16)
    proto = np.where(is4, header[:, 9], header[:, 6]).astype(np.int64)
    transport = net + np.where(is4, ihl, np.uint8(40))
    first_fragment = ~is4 | ((frag & 0x1FFF) == 0)
    more_fragments = is4 & ((frag & 0x2000) != 0)
    extended = np.flatnonzero(~is4 & np.isin(proto, (*_IPV6_EXTENSIONS, 44, 51)))
    if len(extended):
        ext_proto, ext_at, ext_first, ext_more = _ipv6_extensions(
            records.buffer, transport[extended], proto[extended]
        )
        proto[extended], transport[extended] = ext_proto, ext_at
        first_fragment[extended], more_fragments[extended] = ext_first, ext_more
    # The whole packet's length; 0 in the field (TCP segmentation offload) means the rest
    # of the frame.
    length = np.where(is4, _field(header, 2, 2, np.int32), _field(header, 4, 2, np.int32) + 40)
    if len(rows) == len(records.origlen):  # every record: rows is 0, 1, 2, …
        on_wire = records.origlen - (net - records.data_offset)
    else:
        on_wire = records.origlen[rows] - (net - records.data_offset[rows])
    total = np.where(np.where(is4, length == 0, length == 40), on_wire, length)
    existed = np.minimum(total, on_wire)
    return _IpLayer(
        rows=rows,
        net=net,
        version=version,
        ok=np.where(is4, (first >> 4 == 4) & (ihl >= 20), first >> 4 == 6),
        proto=proto,
        first_fragment=first_fragment,
        more_fragments=more_fragments,
        transport=transport,
        payload=existed - (transport - net),
        length=total,
        header=header,
    )


def _ipv6_extensions(buf: Bytes, at: Int, next_header: Int) -> tuple[Int, Int, Bool, Bool]:
    """Walk IPv6 extension headers: ``(protocol, its offset, first fragment, more fragments)``."""
    first_fragment = np.ones(len(at), dtype=bool)
    more_fragments = np.zeros(len(at), dtype=bool)
    at = np.minimum(at, len(buf) - PADDING)
    for _ in range(_MAX_IPV6_EXTENSIONS):
        generic = np.isin(next_header, _IPV6_EXTENSIONS)
        fragment = next_header == _IPV6_FRAGMENT
        auth = next_header == _IPV6_AH
        step = generic | fragment | auth
        if not step.any():
            break
        length = np.where(
            generic, (_u8(buf, at + 1) + 1) * 8, np.where(auth, (_u8(buf, at + 1) + 2) * 4, 8)
        )
        fragment_field = _u16(buf, at + 2)
        first_fragment &= ~(fragment & ((fragment_field >> 3) != 0))
        more_fragments |= fragment & ((fragment_field & 1) != 0)
        next_header = np.where(step, _u8(buf, at), next_header)
        at = np.minimum(np.where(step, at + length, at), len(buf) - PADDING)
    return next_header, at, first_fragment, more_fragments


def _check_tunnels(buf: Bytes, proto: Int, transport: Int) -> None:
    tunnel = np.isin(proto, list(_UNSUPPORTED_IP_PROTOCOLS))
    if tunnel.any():
        raise _unsupported(_UNSUPPORTED_IP_PROTOCOLS[int(proto[tunnel][0])] + " tunnel")
    udp_port = _u16(buf, transport[proto == _PROTO_UDP] + 2)
    tunnel = np.isin(udp_port, list(_UNSUPPORTED_UDP_PORTS))
    if tunnel.any():
        raise _unsupported(_UNSUPPORTED_UDP_PORTS[int(udp_port[tunnel][0])] + " tunnel")


# --------------------------------------------------------------------------- decode
def decode(records: Records) -> tuple[TcpColumns, dict[str, int]]:
    """Decode every record; return the TCP headers' columns and skip counts by reason.

    The columns also hold, with ``quoted`` set, the TCP headers quoted by ICMP errors:
    they are not segments, but Wireshark numbers streams with them. The common records
    take the compiled fast path, the others :func:`decode_general` (see the module's
    description); the result is :func:`decode_general`'s on every record.
    """
    from hskit.native.kernels import decode_tcp  # loaded on first use, not on import

    count = len(records.caplen)
    # rows for as many segments as the records' bytes can hold (none for empty records)
    columns = TcpColumns.empty(min(count, int(records.caplen.sum()) // _MIN_FAST_RECORD))
    general = np.empty(count, dtype=np.int64)
    fast, others = decode_tcp(
        records.buffer, records.data_offset, records.caplen, records.origlen,
        records.link_type, _link_plan(), general,
        tuple(getattr(columns, f.name) for f in fields(columns)),
    )  # fmt: skip
    columns = columns.select(slice(0, fast))
    if not others:
        return columns, dict.fromkeys(SKIP_REASONS, 0)
    if others == count:  # nothing for the fast path (hostile or exotic records): no copy
        del general
        return decode_general(records)
    rest, skipped = decode_general(records.select(general[:others]))
    rest.record = general[rest.record]
    return TcpColumns.concat(columns, rest), skipped


@cache
def _link_plan() -> Int:
    """How the fast path finds the IP header of each link type it decodes (a row per
    LINKTYPE: :data:`hskit.native.kernels.LINK_ETHERTYPE` and the others)."""
    from hskit.native import kernels

    plan = np.zeros((max(LINK_TYPE_NAMES) + 1, kernels.LINK_PLAN_COLUMNS), dtype=np.int64)
    for link_type, (type_at, payload_at) in _ETHERTYPE_AT.items():
        plan[link_type, :3] = kernels.LINK_ETHERTYPE, type_at, payload_at
    for link_type, versions in _RAW_IP.items():
        plan[link_type, 0] = kernels.LINK_RAW_IP
        plan[link_type, 3] = sum(1 << version for version in versions)
    for link_type in _ADDRESS_FAMILY_LINKS:
        plan[link_type, 0] = kernels.LINK_FAMILY
    return plan


def decode_general(records: Records) -> tuple[TcpColumns, dict[str, int]]:
    """:func:`decode` by array operations alone, on records of any kind: the reference
    for every rule of the decoder, and the path of the records the fast path leaves."""
    buf = records.buffer
    end = records.data_offset + records.caplen  # first byte past each record's data
    net, version = link_layer(records)
    after_link = end - net
    version[after_link < 0] = 0  # the link header itself is cut short: nothing to decode
    whole_ip = np.where(version == 4, after_link >= 20, (version == 6) & (after_link >= 40))
    rows = np.flatnonzero(whole_ip)
    if len(rows) == len(whole_ip):
        ip = _ip_layer(records, rows, net, version)
    else:
        ip = _ip_layer(records, rows, net[rows], version[rows])
    # A cut IP header counts as a truncated TCP header when its protocol field says TCP.
    cut = np.flatnonzero((version != 0) & ~whole_ip)
    proto_at = net[cut] + np.where(version[cut] == 4, 9, 6)
    cut_tcp = (proto_at < end[cut]) & (_u8(buf, np.minimum(proto_at, len(buf) - 1)) == _PROTO_TCP)
    skipped = dict.fromkeys(SKIP_REASONS, 0)
    skipped["not_ip"] = int((version == 0).sum() + (~ip.ok).sum())
    skipped["truncated_headers"] = int(cut_tcp.sum())
    skipped["not_tcp"] = int((~cut_tcp).sum())
    carried = ip.ok & ip.first_fragment
    _check_tunnels(buf, ip.proto[carried], ip.transport[carried])
    skipped["ip_fragment"] = int((ip.ok & ~ip.first_fragment).sum())
    is_tcp = carried & (ip.proto == _PROTO_TCP)
    skipped["not_tcp"] += int((carried & ~is_tcp).sum())

    tcp = ip.select(is_tcp)
    header = _block(buf, tcp.transport, _TCP_WIDTH)
    header_len = (header[:, 12] >> 4).astype(np.int64) * 4
    available = end[tcp.rows] - tcp.transport
    # Like tshark, a segment needs its first 16 header bytes (ports, numbers, flags,
    # window) captured; options cut short by the snap length are read as far as they go.
    whole = (available >= _TCP_FIELDS_LEN) & (header_len >= 20)
    skipped["truncated_headers"] += int((~whole).sum())
    if not whole.all():
        header, header_len, available = header[whole], header_len[whole], available[whole]
    kept = tcp.select(whole)
    columns = _tcp_columns(
        buf,
        kept,
        header,
        header_len,
        np.minimum(header_len, available),
        quoted=False,
        record_end=end[kept.rows],
    )

    quoted = _quoted_by_icmp(records, ip.select(carried & ~is_tcp), end)
    if len(quoted.rows):
        twenty = np.full(len(quoted.rows), 20, dtype=np.int64)
        quoted_header = _block(buf, quoted.transport, _TCP_WIDTH)
        quoted_columns = _tcp_columns(buf, quoted, quoted_header, twenty, twenty, quoted=True)
        both = [np.concatenate([getattr(columns, f.name), getattr(quoted_columns, f.name)])
                for f in fields(columns)]  # fmt: skip
        columns = TcpColumns(*both)
        columns = columns.select(np.argsort(columns.record, kind="stable"))
    return columns, skipped


def _quoted_by_icmp(records: Records, ip: _IpLayer, end: Int) -> _IpLayer:
    """The IP headers quoted by ICMP/ICMPv6 errors whose TCP header is quoted far enough.

    Wireshark reads ports, sequence and acknowledgment numbers, flags and window (16
    bytes) before it looks up the conversation, so shorter quotes never reach it.
    """
    buf = records.buffer
    icmp_type = _u8(buf, ip.transport)
    error = ((ip.version == 4) & (ip.proto == 1) & np.isin(icmp_type, _ICMP_ERRORS)) | (
        (ip.version == 6) & (ip.proto == 58) & np.isin(icmp_type, _ICMPV6_ERRORS)
    )
    outer = ip.select(error)
    inner_net = outer.transport + 8
    inner_version = _u8(buf, inner_net) >> 4
    inner = _ip_layer(records, outer.rows, inner_net, inner_version)
    minimum = np.where(inner_version == 4, 20, 40)
    usable = (inner_net + minimum <= end[outer.rows]) & inner.ok & inner.first_fragment
    usable &= (inner.proto == _PROTO_TCP) & (inner.transport + _TCP_FIELDS_LEN <= end[outer.rows])
    return inner.select(usable)


# --------------------------------------------------------------------------- TCP layer
def _addresses(ip: _IpLayer, source: bool) -> tuple[Int, Int]:
    """An address as ``(hi, lo)`` 64-bit halves; IPv4 has ``hi == -1``."""
    v6 = np.flatnonzero(ip.version == 6)
    hi = np.full(len(ip.rows), -1, dtype=np.int64)
    lo = _field(ip.header, 12 if source else 16, 4)
    if len(v6):
        at = 8 if source else 24
        block = ip.header[v6]
        hi[v6] = np.ascontiguousarray(block[:, at : at + 8]).view(">i8")[:, 0]
        lo[v6] = np.ascontiguousarray(block[:, at + 8 : at + 16]).view(">i8")[:, 0]
    return hi, lo


def _tcp_columns(
    buf: Bytes,
    ip: _IpLayer,
    header: Bytes,
    header_len: Int,
    captured_len: Int,
    *,
    quoted: bool,
    record_end: Int | None = None,
) -> TcpColumns:
    """Columns of TCP headers; options are read up to ``captured_len`` header bytes;
    checksums are verified where the segment lies whole before ``record_end`` (its
    record's end in ``buf``; none for quoted headers)."""
    count = len(ip.rows)
    src_hi, src_lo = _addresses(ip, source=True)
    dst_hi, dst_lo = _addresses(ip, source=False)
    analyzed = np.full(count, not quoted) & ~ip.more_fragments
    options = _options(buf, ip.transport, captured_len)
    return TcpColumns(
        record=ip.rows,
        quoted=np.full(count, quoted),
        analyzed=analyzed,
        ip_version=ip.version,
        src_hi=src_hi,
        src_lo=src_lo,
        dst_hi=dst_hi,
        dst_lo=dst_lo,
        src_port=_field(header, 0, 2, np.uint16),
        dst_port=_field(header, 2, 2, np.uint16),
        seq=_field(header, 4, 4, np.uint32),
        ack=_field(header, 8, 4, np.uint32),
        flags=_field(header, 12, 2, np.uint16) & 0x1FF,
        win=_field(header, 14, 2, np.uint16),
        # Without reassembly the TCP length of a fragmented segment is unknown.
        payload_len=np.where(analyzed, np.maximum(ip.payload - header_len, 0), 0),
        **options,
        ip_len=ip.length,
        checksum_ok=_checksums(buf, ip, analyzed, record_end),
    )


def _checksums(buf: Bytes, ip: _IpLayer, analyzed: Bool, record_end: Int | None) -> npt.NDArray:
    """1/0 for a right/wrong TCP checksum, -1 where it cannot be verified (a quoted
    header, an IP fragment, a segment cut by the snap length)."""
    result = np.full(len(ip.rows), -1, dtype=np.int8)
    if record_end is None:
        return result
    is6 = ip.version == 6
    for version, at, width in ((4, (12, 16), 4), (6, (8, 24), 16)):
        rows = np.flatnonzero((is6 if version == 6 else ~is6) & analyzed)
        if len(rows) == 0:
            continue
        block = ip.header if len(rows) == len(ip.rows) else ip.header[rows]
        source = block[:, at[0] : at[0] + width]
        destination = block[:, at[1] : at[1] + width]
        tcp_len = ip.payload[rows]
        ok = checksum_ok(
            buf,
            ip.transport[rows],
            tcp_len,
            record_end[rows] - ip.transport[rows],
            pseudo_header_sum(version, source, destination, tcp_len),
        )
        result[rows] = ok.to_numpy(dtype=np.int8, na_value=-1)
    return result


def _options(buf: Bytes, tcp_at: Int, header_len: Int) -> dict[str, npt.NDArray]:
    """TCP options in the first ``header_len`` bytes of each header, by a compiled walk
    (:func:`hskit.native.kernels.tcp_options`)."""
    from hskit.native.kernels import tcp_options  # loaded on first use, not on import

    mss, wscale, ts_val, ts_ecr, sack_perm, tfo = tcp_options(buf, tcp_at, header_len)
    return {
        "mss": mss,
        "wscale": wscale,
        "sack_perm": sack_perm,
        "tfo": tfo,
        "ts_val": ts_val,
        "ts_ecr": ts_ecr,
    }
