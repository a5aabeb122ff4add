"""One frame's full dissection as a collapsible tree, TCP first: the ladder's details panel.

tshark dissects the frame (``-T pdml``, every protocol, the loader's pinned TCP
preferences) through :func:`run_tshark_pdml`, a plain subprocess, so it works inside
a running event loop (a Jupyter cell) without ``nest_asyncio``. The PDML becomes
:class:`Field` trees (what pyshark's layers hold) and then nested ``<details>`` HTML,
with TCP open on top and every other layer folded below it.

>>> layers = frame_layers("sample_pcaps/refused.pcap", 1)  # doctest: +SKIP
>>> [layer.name for layer in layers][:2]  # doctest: +SKIP
['tcp', 'frame']
"""

from __future__ import annotations

import html
import os
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field

#: PDML's pseudo-protocols that say nothing about the packet.
_SKIPPED_PROTOCOLS = frozenset({"geninfo", "fake-field-wrapper"})
#: The layer shown first and unfolded.
FIRST_LAYER = "tcp"
_STYLE = (
    "font-family: monospace; font-size: 11px; line-height: 1.35;"
    " white-space: normal; overflow-wrap: anywhere"
)


@dataclass(frozen=True)
class Field:
    """One line of the dissection: its text (Wireshark's ``showname``), name, children."""

    name: str
    text: str
    children: list[Field] = field(default_factory=list)


def run_tshark_pdml(path: str | os.PathLike[str], frame_number: int) -> str:
    """tshark's PDML (XML) dissection of frame ``frame_number`` of the capture at ``path``,
    run the way every tshark run is (:func:`hskit.tshark.dissect.dissect_frame`)."""
    from hskit.tshark.dissect import dissect_frame

    return dissect_frame(path, frame_number, output="pdml")


def parse_pdml(pdml: str) -> list[Field]:
    """The protocol layers of the first packet in ``pdml``, TCP first, then in wire order.

    >>> text = ('<pdml><packet><proto name="frame" showname="Frame 1"/>'
    ...         '<proto name="tcp" showname="Transmission Control Protocol">'
    ...         '<field name="tcp.port" showname="Source Port: 80"/></proto></packet></pdml>')
    >>> [(layer.name, [f.text for f in layer.children]) for layer in parse_pdml(text)]
    [('tcp', ['Source Port: 80']), ('frame', [])]
    """
    root = ElementTree.fromstring(pdml)
    packet = root.find("packet")
    if packet is None:
        return []
    layers = [
        _field(proto)
        for proto in packet.findall("proto")
        if proto.get("name") not in _SKIPPED_PROTOCOLS
    ]
    return sorted(layers, key=lambda layer: layer.name != FIRST_LAYER)


def _field(element: ElementTree.Element) -> Field:
    text = element.get("showname") or element.get("show") or element.get("name") or ""
    children = [_field(child) for child in element if child.tag in ("field", "proto")]
    return Field(element.get("name") or "", text, children)


def frame_layers(path: str | os.PathLike[str], frame_number: int) -> list[Field]:
    """Frame ``frame_number``'s dissection as layers, TCP first; ``ValueError`` if absent."""
    layers = parse_pdml(run_tshark_pdml(path, frame_number))
    if not layers:
        raise ValueError(f"{path} has no frame {frame_number}")
    return layers


def layers_html(layers: list[Field]) -> str:
    """Nested ``<details>`` of the layers: the first (TCP) open, the others folded.

    >>> text = layers_html([Field("tcp", "TCP", [Field("tcp.port", "Port: 80")])])
    >>> "<details open data-layer='tcp'><summary><b>TCP</b>" in text, "Port: 80" in text
    (True, True)
    """
    parts = [_details(layer, open_=index == 0, top=True) for index, layer in enumerate(layers)]
    return f"<div class='hskit-dissection' style='{_STYLE}'>" + "".join(parts) + "</div>"


def _details(node: Field, *, open_: bool = False, top: bool = False) -> str:
    text = html.escape(node.text)
    if not node.children:
        return f"<div>{text}</div>"
    inner = "".join(_details(child) for child in node.children)
    attributes = (" open" if open_ else "") + (
        f" data-layer='{html.escape(node.name)}'" if top else ""
    )
    summary = f"<b>{text}</b>" if top else text
    return (
        f"<details{attributes}><summary>{summary}</summary>"
        f"<div style='margin-left: 1.2em'>{inner}</div></details>"
    )
