"""One frame's full dissection (``tshark -V``), for drill-down from a view.

tshark runs with a plain :func:`subprocess.run`, so it works inside a running event loop
(a Jupyter cell) without ``nest_asyncio``: pyshark's synchronous API would raise "This
event loop is already running" there.

>>> print(dissect_frame("sample_pcaps/refused.pcap", 1)[:40])  # doctest: +SKIP
Frame 1: 74 bytes on wire (592 bits), 74
"""

from __future__ import annotations

import os
from typing import Literal

from hskit.errors import TsharkFailed
from hskit.loader import checked_capture_path
from hskit.tshark.facts import checked_tshark
from hskit.tshark.isolation import isolated, preference_arguments
from hskit.tshark.process import run

__all__ = ["dissect_frame"]


#: tshark's options for each kind of dissection: text (``-V``) or PDML (XML, a tree).
_OUTPUT_OPTIONS: dict[str, list[str]] = {"text": ["-V"], "pdml": ["-T", "pdml"]}


def dissect_frame(
    path: str | os.PathLike[str], frame_number: int, *, output: Literal["text", "pdml"] = "text"
) -> str:
    """Wireshark's full dissection of one frame of a capture: ``tshark -V`` text, or
    (``output="pdml"``) its PDML, the XML tree the views' dissection panel parses.

    Every protocol is dissected (application layers included), with the same pinned
    TCP preferences as the loader, so sequence numbers match ``cap.segments``. Reading
    stops at that frame. Safe inside a running event loop.

    >>> "Transmission Control Protocol" in dissect_frame("capture.pcap", 3)  # doctest: +SKIP
    True
    """
    if frame_number < 1:
        raise ValueError(f"frame numbers start at 1, not {frame_number}")
    capture = checked_capture_path(path)
    tshark = checked_tshark()
    arguments = [
        tshark, "-n", "-r", os.path.abspath(capture), *preference_arguments(),
        "-c", str(frame_number), "-Y", f"frame.number == {frame_number}",
        *_OUTPUT_OPTIONS[output],
    ]  # fmt: skip
    with isolated(tshark) as isolation:
        try:
            text = run(arguments, isolation)
        except TsharkFailed as error:
            raise TsharkFailed(
                f"could not dissect frame {frame_number} of {path}: {error}"
            ) from None
    if not text.strip():
        raise ValueError(f"{path} has no frame {frame_number}")
    return text
