"""``hskit.load``: pick a backend, read a capture, return a :class:`~hskit.capture.Capture`.

>>> import hskit
>>> cap = hskit.load("sample_pcaps/refused.pcap")  # doctest: +SKIP
>>> cap.load_report.backend  # doctest: +SKIP
'native'
"""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from hskit import schema
from hskit.capture import Capture
from hskit.errors import (
    CaptureNotFound,
    CaptureUnreadable,
    InvalidFilter,
    NotACapture,
    UnsupportedLinkType,
)
from hskit.native.chunks import LOAD_CHUNK_SIZE

if TYPE_CHECKING:
    import pandas as pd

    from hskit.capture import LoadReport

#: what ``hskit.load`` reads: a file, or a capture set (a list of files, a folder, a glob).
CaptureSource = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
_GLOB_CHARACTERS = frozenset("*?[")

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
    path: CaptureSource,
    backend: Backend = "auto",
    display_filter: str | None = None,
    progress: bool | None = None,
    chunk_size: int = LOAD_CHUNK_SIZE,
) -> Capture:
    """Read a pcap/pcapng capture (optionally gzip-compressed) into a :class:`Capture`.

    ``path`` may also be a capture set: a list of files, a folder (every file in it) or a
    glob (``"ring_*.pcapng"``). Its files are read in order of their first timestamp (the
    order rotation by ``dumpcap -b``/``tcpdump -C -G`` gives), as one capture: frames are
    numbered across the set as in ``mergecap -a`` of the files in that order, connections
    continue from file to file, and a categorical ``source`` column names each row's file.
    The native reader decodes ``chunk_size`` bytes at a time: peak memory is about the
    segments table plus a few chunks, whatever the capture's size.

    ``backend="auto"`` uses the native NumPy reader where it can and tshark otherwise
    (an unsupported link type, or a ``display_filter``, which only tshark evaluates);
    the switch is noted in ``cap.load_report.notes``. ``progress=None`` shows a bar
    on loads that take more than about a second; ``False`` never does. A gzip-compressed
    capture that decompresses to more than ``$HSKIT_MAX_DECOMPRESSED`` (1 GiB unless set)
    raises :class:`~hskit.errors.CaptureTooLarge` (see docs/security.md).

    >>> cap = load("sample_pcaps/refused.pcap")  # doctest: +SKIP
    >>> cap.segments[["frame", "flags"]].head(2)  # doctest: +SKIP
    >>> ring = load("captures/ring_*.pcapng")  # doctest: +SKIP
    >>> ring.segments["source"].value_counts()  # doctest: +SKIP
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    paths, label, notes = capture_set(path)
    if display_filter is not None:
        check_display_filter(display_filter)

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
            segments, report = native.read(
                paths, progress=progress, chunk_size=chunk_size, label=label
            )
        except UnsupportedLinkType as error:
            if backend == "native":
                raise
            notes.append(f"native reader: {error}; loaded with tshark instead")
            backend = "tshark"
    if backend == "tshark":
        from hskit import tshark

        if len(paths) == 1:
            segments, report = tshark.read(
                paths[0], display_filter=display_filter, progress=progress
            )
        else:
            segments, report = _tshark_set(paths, label, display_filter, progress)
    report.notes[:0] = notes
    if len(paths) > 1:
        report.notes.extend(_overlaps(segments, paths))
    return Capture(segments, report)


def capture_set(path: CaptureSource) -> tuple[list[Path], str, list[str]]:
    """``(files in reading order, label, notes)`` for a file, list, folder or glob.

    The files of a set are ordered by their first timestamp (then by name); each is
    checked by :func:`checked_capture_path`.

    >>> capture_set("sample_pcaps/refused.pcap")[0]  # doctest: +SKIP
    [PosixPath('sample_pcaps/refused.pcap')]
    """
    if isinstance(path, str | os.PathLike):
        text = os.fspath(path)
        if Path(text).is_dir():
            found = sorted(p for p in Path(text).iterdir() if p.is_file() and p.name[0] != ".")
            if not found:
                raise NotACapture(
                    f"{text} is an empty folder, not a capture file (a folder loads as the "
                    "capture set of the files in it)"
                )
        elif not Path(text).exists() and _GLOB_CHARACTERS & set(text):
            found = [Path(name) for name in sorted(glob.glob(text))]
            if not found:
                raise CaptureNotFound(f"no capture file matches {text}")
        else:
            single = checked_capture_path(text)
            return [single], str(single), []
        label = text
    else:
        found = [Path(os.fspath(p)) for p in path]
        if not found:
            raise CaptureNotFound("an empty list of capture files")
        if len(found) == 1:
            single = checked_capture_path(found[0])
            return [single], str(single), []
        label = list_label(found)
    paths = [checked_capture_path(p) for p in found]
    if len(paths) == 1:
        return paths, str(paths[0]), []
    from hskit.native.chunks import first_timestamp

    first = {p: first_timestamp(p) for p in paths}
    ordered = sorted(paths, key=lambda p: (first[p] is None, first[p] or 0, p.name))
    notes = [
        f"capture set of {len(ordered)} files, read in order of their first timestamp: "
        + ", ".join(p.name for p in ordered)
    ]
    return ordered, label, notes


def list_label(paths: Sequence[str | os.PathLike[str]]) -> str:
    """The load report's ``path`` for a list of capture files: the first and last file.

    >>> list_label(["a.pcap", "b.pcap", "c.pcap"])
    'a.pcap … c.pcap (3 files)'
    """
    return f"{os.fspath(paths[0])} … {os.fspath(paths[-1])} ({len(paths)} files)"


def _tshark_set(
    paths: list[Path], label: str, display_filter: str | None, progress: bool | None
) -> tuple[pd.DataFrame, LoadReport]:
    """A capture set through tshark: the files joined by ``mergecap -a`` (in order), read
    as one file, with the ``source`` column from each file's frame count."""
    import subprocess
    import tempfile

    import numpy as np
    import pandas as pd

    from hskit import tshark
    from hskit.errors import TsharkFailed, TsharkNotFound
    from hskit.native.chunks import count_frames, source_names
    from hskit.tshark.isolation import isolated
    from hskit.tshark.locate import companion_executable, tshark_executable

    tshark_path = tshark_executable()
    mergecap = companion_executable(tshark_path, "mergecap")
    if mergecap is None:
        raise TsharkNotFound("mergecap (installed with tshark) is needed to read a set with tshark")
    with tempfile.TemporaryDirectory(prefix="hskit-set-") as folder:
        merged = Path(folder) / "merged.pcapng"
        with isolated(tshark_path) as run:
            done = subprocess.run(
                [mergecap, "-a", "-w", str(merged), *map(str, paths)],
                env=run.env, cwd=run.folder, capture_output=True, text=True, check=False,
            )  # fmt: skip
        if done.returncode != 0:
            raise TsharkFailed(f"mergecap failed: {done.stderr.strip()}")
        segments, report = tshark.read(merged, display_filter=display_filter, progress=progress)
    ends = np.cumsum([count_frames(p) for p in paths])
    codes = np.searchsorted(ends, segments["frame"].to_numpy(np.int64) - 1, side="right")
    segments[schema.SOURCE] = pd.Categorical.from_codes(codes, categories=source_names(paths))
    report.path = label
    report.sources = [str(p) for p in paths]
    return segments, report


def _overlaps(segments: pd.DataFrame, paths: list[Path]) -> list[str]:
    """Notes on files of a set whose segments start before the previous file's end."""
    if not len(segments):
        return []
    span = segments.groupby(schema.SOURCE, observed=False)["ts"].agg(["min", "max"])
    notes = []
    for before, after in zip(span.index[:-1], span.index[1:], strict=True):
        if span.loc[after, "min"] < span.loc[before, "max"]:
            notes.append(
                f"{after} starts before {before} ends: the files overlap in time; read one "
                "after the other (as mergecap -a), not interleaved by timestamp"
            )
    return notes


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
