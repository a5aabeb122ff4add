"""``hskit.load``: pick a backend, read a capture, return a :class:`~hskit.capture.Capture`.

>>> import hskit
>>> cap = hskit.load("sample_pcaps/refused.pcap")  # doctest: +SKIP
>>> cap.load_report.backend  # doctest: +SKIP
'native'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from hskit.capture import Capture
from hskit.errors import CaptureNotFound, NotACapture, UnsupportedLinkType

Backend = Literal["auto", "native", "tshark"]
BACKENDS: tuple[str, ...] = ("auto", "native", "tshark")


def load(
    path: str | os.PathLike[str],
    backend: Backend = "auto",
    display_filter: str | None = None,
    progress: bool | None = None,
) -> Capture:
    """Read a pcap/pcapng capture (optionally gzip-compressed) into a :class:`Capture`.

    ``backend="auto"`` uses the native NumPy reader where it can and tshark otherwise
    (an unsupported link type, or a ``display_filter``, which only tshark evaluates);
    the switch is noted in ``cap.load_report.notes``. ``progress=None`` shows a bar
    on loads that take more than about a second; ``False`` never does.

    >>> cap = load("sample_pcaps/refused.pcap")  # doctest: +SKIP
    >>> cap.segments[["frame", "flags"]].head(2)  # doctest: +SKIP
    """
    capture_path = Path(path)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if not capture_path.exists():
        raise CaptureNotFound(f"no such capture file: {capture_path}")
    if capture_path.is_dir():
        raise NotACapture(f"{capture_path} is a directory, not a capture file")

    notes: list[str] = []
    if backend == "native" and display_filter is not None:
        raise ValueError(
            "display_filter needs the tshark backend (backend='tshark' or 'auto'); "
            "on a loaded capture filter cap.segments with a pandas mask instead"
        )
    if backend == "auto" and display_filter is not None:
        backend = "tshark"
        notes.append("display_filter given: loaded with tshark, which evaluates it")

    if backend in ("auto", "native"):
        from hskit import native

        try:
            segments, report = native.read(capture_path, progress=progress)
        except UnsupportedLinkType as error:
            if backend == "native":
                raise
            notes.append(f"native reader: {error}; loaded with tshark instead")
            backend = "tshark"
    if backend == "tshark":
        from hskit import tshark

        segments, report = tshark.read(
            capture_path, display_filter=display_filter, progress=progress
        )
    report.notes[:0] = notes
    return Capture(segments, report)
