"""The tshark backend, and everything hskit does with tshark: one concern per module.

- :mod:`~hskit.tshark.locate`: where tshark and its companion tools are.
- :mod:`~hskit.tshark.isolation`: the environment and pinned preferences of every run
  (the isolation rules, in one place).
- :mod:`~hskit.tshark.process`: running a tool (a list of arguments, no shell), and
  streaming tshark's output so that however the reading ends, tshark ends.
- :mod:`~hskit.tshark.protocols`: which protocols a load dissects (up to TCP).
- :mod:`~hskit.tshark.facts`: tshark's version and protocol list, cached per build.
- :mod:`~hskit.tshark.columns`: the fields asked for, parsed into segment columns.
- :mod:`~hskit.tshark.fileinfo`: capinfos' frame count and link types.
- :mod:`~hskit.tshark.reader`: :func:`read`, a capture into the segments table.
- :mod:`~hskit.tshark.dissect`: :func:`dissect_frame`, one frame's full dissection.

>>> segments, report = read(Path("capture.pcap"))  # doctest: +SKIP
"""

from __future__ import annotations

from hskit.tshark.columns import COLUMNS, Column, command
from hskit.tshark.dissect import dissect_frame
from hskit.tshark.facts import CACHE_DIR_VARIABLE, MIN_VERSION, cache_folder
from hskit.tshark.protocols import ENABLED_PROTOCOLS, disabled_protocols
from hskit.tshark.reader import read

__all__ = [
    "CACHE_DIR_VARIABLE",
    "COLUMNS",
    "ENABLED_PROTOCOLS",
    "MIN_VERSION",
    "Column",
    "cache_folder",
    "command",
    "disabled_protocols",
    "dissect_frame",
    "read",
]
