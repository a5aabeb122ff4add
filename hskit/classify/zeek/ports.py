"""Zeek's ``likely_server_ports``: the TCP ports its analyzer scripts declare as server ports.

Zeek decides who originated a connection that starts without a SYN by these ports
(see :func:`hskit.direction.zeek_flipped`). Each protocol script in ``base/protocols``
adds its analyzer's ports with ``redef likely_server_ports += { ports }``; a plain
``zeek`` run loads them all, a bare run (``zeek -b``) only those of the scripts it
loads explicitly.

>>> 21 in DEFAULT_LIKELY_SERVER_PORTS
True
>>> sorted(bare_mode_ports(["base/protocols/conn", "base/protocols/ftp"]))
[21, 2811]
"""

from __future__ import annotations

from collections.abc import Iterable

#: TCP ports each ``base/protocols`` script adds to ``likely_server_ports`` (Zeek 7).
ANALYZER_PORTS: dict[str, frozenset[int]] = {
    "base/protocols/dce-rpc": frozenset({135}),
    "base/protocols/dnp3": frozenset({20000}),
    "base/protocols/dns": frozenset({53}),
    "base/protocols/ftp": frozenset({21, 2811}),
    "base/protocols/http": frozenset({80, 81, 631, 1080, 3128, 8000, 8080, 8888}),
    "base/protocols/irc": frozenset({6666, 6667, 6668, 6669}),
    "base/protocols/krb": frozenset({88}),
    "base/protocols/ldap": frozenset({389, 3268}),
    "base/protocols/modbus": frozenset({502}),
    "base/protocols/mysql": frozenset({1434, 3306}),
    "base/protocols/pop3": frozenset({110}),
    "base/protocols/rdp": frozenset({3389}),
    "base/protocols/smb": frozenset({139, 445}),
    "base/protocols/smtp": frozenset({25, 587}),
    "base/protocols/socks": frozenset({1080}),
    "base/protocols/ssh": frozenset({22}),
    "base/protocols/ssl": frozenset({443, 563, 585, 614, 636, 989, 990, 992, 993, 995, 5223}),
    "base/protocols/xmpp": frozenset({5222, 5269}),
}

#: what a plain (non-bare) ``zeek`` run treats as likely server ports.
DEFAULT_LIKELY_SERVER_PORTS: frozenset[int] = frozenset().union(*ANALYZER_PORTS.values())


def bare_mode_ports(loads: Iterable[str]) -> frozenset[int]:
    """The likely server ports of a bare-mode run (``zeek -b``) that loads ``loads``.

    A script is named as Zeek's ``@load`` names it; ``base/protocols/http/main`` and
    ``base/protocols/http/main.zeek`` count as ``base/protocols/http``. Scripts that
    declare no ports (``base/protocols/conn``, policy scripts) add nothing.

    >>> sorted(bare_mode_ports(["base/protocols/modbus/main.zeek"]))
    [502]
    """
    ports: set[int] = set()
    for script in loads:
        name = script.strip().removesuffix(".zeek").removesuffix("/main").rstrip("/")
        ports |= ANALYZER_PORTS.get(name, frozenset())
    return frozenset(ports)
