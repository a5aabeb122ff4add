"""Write the frames of chosen connections to a new capture file, records copied unchanged.

tshark selects the frames by number (``frame.number in {1..4 9 12..15}``) and writes
them in the input's own format: pcap with micro- or nanosecond timestamps stays so,
pcapng keeps its interface blocks (and so every link type). Packet bytes and
timestamps are copied as they are; frames are renumbered from 1 in the new file.
A capture set's frames are picked file by file and joined in the set's order
(``mergecap -a``).

>>> from hskit.export import to_pcap
>>> to_pcap("busy.pcap.gz", cap.segments, [3, 17], "two-connections.pcap")  # doctest: +SKIP
PosixPath('two-connections.pcap')
"""

from __future__ import annotations

import gzip
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from hskit.errors import NotACapture, TsharkNotFound
from hskit.loader import CaptureSource, capture_set
from hskit.native.chunks import count_frames
from hskit.tshark.facts import checked_tshark
from hskit.tshark.isolation import isolated
from hskit.tshark.locate import INSTALL_HINT, companion_executable
from hskit.tshark.process import run

#: tshark ``-F`` output type for each file magic (the first four bytes).
_FORMATS: dict[bytes, str] = {
    b"\xd4\xc3\xb2\xa1": "pcap",
    b"\xa1\xb2\xc3\xd4": "pcap",
    b"\x4d\x3c\xb2\xa1": "nsecpcap",
    b"\xa1\xb2\x3c\x4d": "nsecpcap",
    b"\x0a\x0d\x0d\x0a": "pcapng",
}
Int = npt.NDArray[np.int64]
#: longest display filter passed in one argument (Linux allows 128 KiB per argument).
MAX_FILTER_CHARS = 100_000


def capture_format(path: str | os.PathLike[str]) -> str:
    """tshark's name for the file's format (``pcap``, ``nsecpcap``, ``pcapng``), gzip or not.

    >>> capture_format("sample_pcaps/nanosecond.pcap")  # doctest: +SKIP
    'nsecpcap'
    """
    with open(path, "rb") as raw:
        magic = raw.read(4)
    if magic[:2] == b"\x1f\x8b":
        with gzip.open(path, "rb") as unzipped:
            magic = unzipped.read(4)
    if magic not in _FORMATS:
        raise NotACapture(f"{path} is not a pcap or pcapng file (magic {magic.hex()})")
    return _FORMATS[magic]


def frame_ranges(frames: npt.ArrayLike) -> list[str]:
    """Sorted, de-duplicated frame numbers as display-filter set items (runs as ``a..b``).

    >>> frame_ranges([1, 2, 3, 7, 9, 10])
    ['1..3', '7', '9..10']
    """
    numbers = np.unique(np.asarray(frames, dtype=np.int64))
    if numbers.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(numbers) != 1) + 1
    starts = numbers[np.concatenate([[0], breaks])]
    ends = numbers[np.concatenate([breaks - 1, [numbers.size - 1]])]
    items = np.where(
        starts == ends,
        starts.astype(str),
        np.char.add(np.char.add(starts.astype(str), ".."), ends.astype(str)),
    )
    return items.tolist()


def _chunks(items: list[str], limit: int) -> list[list[str]]:
    """Split set items into groups whose joined text stays under ``limit`` characters."""
    lengths = np.array([len(item) + 2 for item in items], dtype=np.int64)
    group = np.cumsum(lengths) // limit
    return [
        list(part)
        for part in np.split(np.array(items, dtype=object), np.flatnonzero(np.diff(group)) + 1)
    ]


def to_pcap(
    path_in: CaptureSource,
    segments: pd.DataFrame,
    streams: Iterable[int],
    path_out: str | os.PathLike[str],
) -> Path:
    """Copy the frames of ``streams`` (per ``segments``) from ``path_in`` into ``path_out``.

    ``path_in`` is what ``segments`` were loaded from: a capture, or a capture set as
    :func:`hskit.load` takes it (several files, a folder, a glob), whose frames are
    numbered across its files in reading order; the copy then holds the chosen frames of
    every file, in that order (as ``mergecap -a`` of the files would). The output has the
    input's format (pcapng when a set mixes formats) and link type(s); a name ending in
    ``.gz`` is gzip-compressed. Reading it back gives the same segments for those
    streams, with frames renumbered and streams numbered from 0.

    >>> to_pcap("capture.pcap", cap.segments, [0], "first.pcap")  # doctest: +SKIP
    >>> to_pcap(["ring_1.pcap", "ring_2.pcap"], ring.segments, [7], "one.pcap")  # doctest: +SKIP
    """
    files, _, _ = capture_set(path_in)
    target = Path(path_out)
    wanted = np.unique(np.fromiter((int(s) for s in streams), dtype=np.int64))
    frames = segments.loc[segments["stream"].isin(wanted), "frame"].to_numpy(np.int64)
    if frames.size == 0:
        raise ValueError(f"no segments of streams {wanted.tolist()} in the segments table")
    formats = {capture_format(file) for file in files}
    output_type = formats.pop() if len(formats) == 1 else "pcapng"
    tshark = checked_tshark()
    with isolated(tshark) as isolation:
        parts = []
        for file, local in _frames_by_file(files, frames):
            for chunk in _chunks(frame_ranges(local), MAX_FILTER_CHARS):
                part = isolation.folder / f"part{len(parts)}"
                display_filter = "frame.number in {" + ", ".join(chunk) + "}"
                run(
                    [tshark, "-n", "-r", os.path.abspath(file), "-Y", display_filter,
                     "-F", output_type, "-w", str(part)],
                    isolation,
                )  # fmt: skip
                parts.append(part)
        written = isolation.folder / "selected"
        if len(parts) == 1:
            parts[0].rename(written)
        else:
            mergecap = companion_executable(tshark, "mergecap")
            if mergecap is None:
                raise TsharkNotFound(f"mergecap (installed with tshark) is missing; {INSTALL_HINT}")
            merge = [mergecap, "-a", "-F", output_type, "-w", str(written), *map(str, parts)]
            run(merge, isolation)
        if target.name.endswith(".gz"):
            with written.open("rb") as plain, gzip.open(target, "wb") as packed:
                shutil.copyfileobj(plain, packed)
        else:
            shutil.copyfile(written, target)
    return target


def _frames_by_file(files: list[Path], frames: Int) -> Iterator[tuple[Path, Int]]:
    """Each file of a set with the chosen frames it holds, numbered within the file (a
    set's frames are numbered across its files, in reading order); files without any
    are left out."""
    if len(files) == 1:
        yield files[0], frames
        return
    start = 0
    for file in files:
        end = start + count_frames(file)
        local = frames[(frames > start) & (frames <= end)] - start
        if local.size:
            yield file, local
        start = end
