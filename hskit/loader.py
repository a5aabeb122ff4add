"""``hskit.load``: pick a backend, read a capture, return a :class:`~hskit.capture.Capture`.

>>> import hskit
>>> cap = hskit.load("sample_pcaps/refused.pcap")  # doctest: +SKIP
>>> cap.load_report.backend  # doctest: +SKIP
'native'
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from hskit.capture import Capture
from hskit.errors import (
    CaptureNotFound,
    CaptureUnreadable,
    InvalidFilter,
    NotACapture,
    UnsupportedLinkType,
)

Backend = Literal["auto", "native", "tshark"]
BACKENDS: tuple[str, ...] = ("auto", "native", "tshark")

#: what a file that is not a regular file is, by its type bits (for the error message).
_FILE_KINDS: tuple[tuple[str, Callable[[int], bool]], ...] = (
    ("directory", stat.S_ISDIR),
    ("FIFO (named pipe)", stat.S_ISFIFO),
    ("character device", stat.S_ISCHR),
    ("block device", stat.S_ISBLK),
    ("socket", stat.S_ISSOCK),
)


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
    on loads that take more than about a second; ``False`` never does. A gzip-compressed
    capture that decompresses to more than ``$HSKIT_MAX_DECOMPRESSED`` (1 GiB unless set)
    raises :class:`~hskit.errors.CaptureTooLarge` (see docs/security.md).

    >>> cap = load("sample_pcaps/refused.pcap")  # doctest: +SKIP
    >>> cap.segments[["frame", "flags"]].head(2)  # doctest: +SKIP
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    capture_path = checked_capture_path(path)
    if display_filter is not None:
        check_display_filter(display_filter)

    notes: list[str] = []
    if backend == "native" and display_filter is not None:
        raise InvalidFilter(
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


def checked_capture_path(path: str | os.PathLike[str]) -> Path:
    """``path`` if it names a regular, non-empty file this user may read; else a typed error.

    A FIFO or a device would make a reader wait (or read) forever: only regular files are
    read; save what a pipe or device gives to a file first.

    >>> checked_capture_path("/dev/null")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    hskit.errors.NotACapture: /dev/null is a character device, not a capture file: ...
    """
    capture_path = Path(path)
    try:
        status = capture_path.stat()
    except FileNotFoundError:
        raise CaptureNotFound(f"no such capture file: {capture_path}") from None
    except PermissionError as error:
        raise CaptureUnreadable(f"cannot reach {capture_path}: {error.strerror}") from None
    if not stat.S_ISREG(status.st_mode):
        kind = next((name for name, test in _FILE_KINDS if test(status.st_mode)), "special file")
        raise NotACapture(
            f"{capture_path} is a {kind}, not a capture file: hskit reads regular files only"
            + (" (save the capture to a file first)" if kind != "directory" else "")
        )
    if status.st_size == 0:
        raise NotACapture(f"{capture_path} is empty (0 bytes): not a pcap or pcapng capture")
    try:
        with open(capture_path, "rb"):
            pass
    except PermissionError as error:
        raise CaptureUnreadable(
            f"cannot read {capture_path}: {error.strerror} (this user lacks read permission)"
        ) from None
    return capture_path


def check_display_filter(display_filter: object) -> None:
    """Refuse a display filter tshark cannot be given: not text, or with a NUL byte.

    >>> check_display_filter("tcp.port == 80\\x00")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    hskit.errors.InvalidFilter: display_filter has a NUL byte at position 14; ...
    """
    if not isinstance(display_filter, str):
        raise InvalidFilter(
            f"display_filter must be text (a Wireshark display filter), "
            f"not {type(display_filter).__name__}"
        )
    if "\0" in display_filter:
        raise InvalidFilter(
            f"display_filter has a NUL byte at position {display_filter.index(chr(0))}; "
            "a display filter is text without NUL bytes"
        )
