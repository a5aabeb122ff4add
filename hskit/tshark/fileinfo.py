"""What capinfos says about a capture: its frame count and link types (record headers only).

capinfos runs while tshark dissects, so the progress bar knows the frame count early and
the load report names each link type as pcap does (``EN10MB``, ``LINUX_SLL`` …).

>>> file_info("/usr/bin/tshark", Path("capture.pcap"))  # doctest: +SKIP
(120, ['EN10MB'])
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from hskit.tshark.isolation import isolated
from hskit.tshark.locate import companion_executable
from hskit.tshark.process import run

__all__ = ["file_info"]

#: wiretap's short encapsulation names (capinfos -E) → pcap LINKTYPE names.
_LINK_TYPES: dict[str, str] = {
    "ether": "EN10MB",
    "linux-sll": "LINUX_SLL",
    "linux-sll2": "LINUX_SLL2",
    "rawip": "RAW",
    "rawip4": "IPV4",
    "rawip6": "IPV6",
    "null": "NULL",
    "loop": "LOOP",
    "ppp": "PPP",
    "ieee-802-11": "IEEE802_11",
    "ieee-802-11-radiotap": "IEEE802_11_RADIOTAP",
    "ieee-802-11-prism": "IEEE802_11_PRISM",
    "erf": "ERF",
    "nflog": "NFLOG",
    "pktap": "PKTAP",
}
#: capinfos' long descriptions of the same encapsulations (for per-packet link types).
_LINK_DESCRIPTIONS: dict[str, str] = {
    "Ethernet": "EN10MB",
    "Linux cooked-mode capture v1": "LINUX_SLL",
    "Linux cooked-mode capture v2": "LINUX_SLL2",
    "Raw IP": "RAW",
    "Raw IPv4": "IPV4",
    "Raw IPv6": "IPV6",
    "NULL/Loopback": "NULL",
    "OpenBSD loopback": "LOOP",
    "PPP": "PPP",
    "IEEE 802.11 Wireless LAN": "IEEE802_11",
    "IEEE 802.11 plus radiotap radio header": "IEEE802_11_RADIOTAP",
}


def file_info(tshark: str, path: Path) -> tuple[int | None, list[str]]:
    """Frame count and LINKTYPE names by capinfos (reads record headers only), if it can."""
    capinfos = companion_executable(tshark, "capinfos")
    if capinfos is None:
        return None, []
    with isolated(tshark) as isolation:
        table = run(
            [capinfos, "-T", "-M", "-r", "-c", "-E", os.path.abspath(path)], isolation, check=False
        ).strip()
    if table.count("\t") < 2:
        return None, []  # tshark will say what is wrong with the file
    _, encapsulation, count = table.rsplit("\t", 2)
    if encapsulation != "per-packet":
        return int(count), [_LINK_TYPES.get(encapsulation, encapsulation)]
    with isolated(tshark) as isolation:
        listing = run([capinfos, "-E", "-M", os.path.abspath(path)], isolation, check=False)
    described = re.findall(r"^\s{8,}(.+?) \(\d+\)$", listing, flags=re.MULTILINE)
    return int(count), sorted({_LINK_DESCRIPTIONS.get(name, name) for name in described})
