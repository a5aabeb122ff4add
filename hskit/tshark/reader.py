"""The tshark backend's ``read``: Wireshark's dissection of a capture, as the segments table.

tshark runs isolated (:mod:`hskit.tshark.isolation`) with only the protocols on the way to
TCP enabled (all of them for a display filter); its custom columns are parsed while it
writes (:mod:`hskit.tshark.columns`); capinfos counts the frames meanwhile
(:mod:`hskit.tshark.fileinfo`). An interrupt (Ctrl-C, a Jupyter interrupt) kills tshark
and removes its temporary folder.

Protocols that would carry TCP inside TCP (VPNs over TCP …) are disabled, so such a frame
is the outer segment (with a display filter, which dissects everything: the inner one).
TCP headers quoted in ICMP errors are not segments (``not_tcp``), but tshark still
numbers their connection in ``tcp.stream``, as a full dissection does.

>>> segments, report = read(Path("capture.pcap"), display_filter="tcp.port == 80")  # doctest: +SKIP
>>> report.backend, report.skipped  # doctest: +SKIP
('tshark', {'filtered': 12})
"""

from __future__ import annotations

import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa

from hskit.capture import LoadReport
from hskit.errors import TruncatedCaptureWarning, TsharkFailed
from hskit.progress import byte_progress
from hskit.tshark.columns import assemble, batches, command, segment_columns
from hskit.tshark.facts import checked_disabled_protocols
from hskit.tshark.fileinfo import file_info
from hskit.tshark.isolation import isolated
from hskit.tshark.locate import tshark_executable
from hskit.tshark.process import error_text, streamed_stdout

__all__ = ["read"]

#: tshark's words for a file that ends inside a record or has a corrupt record length.
_DAMAGED = ("cut short in the middle of a packet", "appears to be damaged or corrupt")


def read(
    path: Path, *, display_filter: str | None = None, progress: bool | None = None
) -> tuple[pd.DataFrame, LoadReport]:
    """Read ``path`` with tshark into ``(segments, load_report)``.

    ``display_filter`` is a Wireshark display filter (``-Y``); frames it removes are
    counted as ``skipped["filtered"]``. With a filter every protocol is dissected, so
    it may test application fields (``http.request``), at some cost in speed.
    Raises :class:`~hskit.errors.TsharkNotFound` and :class:`~hskit.errors.TsharkFailed`
    (with tshark's stderr).

    >>> segments, report = read(Path("capture.pcap"))  # doctest: +SKIP
    """
    tshark = tshark_executable()
    # a display filter may name any protocol (``http.request``): dissect them all
    disabled = checked_disabled_protocols(tshark, needed=display_filter is None)
    chunks: list[dict[str, object]] = []
    tally: Counter[str] = Counter()
    with (
        ThreadPoolExecutor(max_workers=1) as pool,
        isolated(tshark, disabled) as isolation,
        streamed_stdout(command(tshark, path, display_filter), isolation) as (stdout, finish),
        byte_progress(path.stat().st_size, enabled=progress) as bar,
    ):
        counting = pool.submit(file_info, tshark, path)  # capinfos, while tshark runs
        try:
            for batch in batches(stdout):
                chunk, counts = segment_columns(batch)
                chunks.append(chunk)
                tally.update(counts, lines=batch.num_rows)
                counted_frames = counting.result()[0] if counting.done() else None
                if counted_frames:
                    last_frame = batch.column("frame")[-1].as_py()
                    bar.update(bar.total * min(last_frame / counted_frames, 1.0) - bar.n)
        except pa.ArrowInvalid as error:  # a column tshark printed unlike its type
            raise TsharkFailed(
                f"tshark's output for {path} could not be read ({error}); please report it "
                "with the capture, and load it with backend='native' meanwhile if it can"
            ) from None
        exit_code, stderr_text = finish()
    total_frames, link_types = counting.result()
    lines, unknown_length = tally.pop("lines", 0), tally.pop("unknown_length", 0)
    odd_timestamps, unread_timestamps = (
        tally.pop("odd_timestamp", 0),
        tally.pop("unread_timestamp", 0),
    )
    if any(words in stderr_text for words in _DAMAGED):
        message = f"{error_text(stderr_text)}; loaded the {lines} whole frames before it"
        warnings.warn(f"{path}: {message}", TruncatedCaptureWarning, stacklevel=3)
    elif exit_code != 0:
        raise TsharkFailed(f"tshark failed (exit {exit_code}): {error_text(stderr_text)}")

    notes: list[str] = []
    frames = max(total_frames or 0, lines)
    if display_filter is not None:
        tally["filtered"] = frames - lines
        if total_frames is None:
            notes.append("capinfos unavailable: frames removed by the display filter not counted")
    if unknown_length:
        notes.append(
            f"{unknown_length} segments in first IP fragments: tshark gives no TCP length "
            "without reassembly, payload_len set to 0"
        )
    if odd_timestamps:
        notes.append(
            f"{odd_timestamps} frames have a sub-second timestamp field of a second or more "
            "(a corrupt record): tshark adds it to the seconds, keeping only the low 32 bits "
            "of the nanoseconds, as the native reader does"
        )
    if unread_timestamps:
        notes.append(f"{unread_timestamps} frames have a time tshark printed unreadably: NaT")
    segments = assemble(chunks)
    report = LoadReport(
        path=str(path),
        backend="tshark",
        frames=frames,
        tcp_segments=len(segments),
        skipped={reason: count for reason, count in sorted(tally.items()) if count},
        link_types=link_types,
        notes=notes,
    )
    return segments, report
