"""The :class:`Capture` that ``hskit.load`` returns, and its :class:`LoadReport`.

>>> import hskit
>>> cap = hskit.load("sample_pcaps/refused.pcap")  # doctest: +SKIP
>>> cap.connections[["stream", "handshake", "conn_state"]]  # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hskit.wording import counted

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hskit.diagnose import Thresholds
    from hskit.views.widgets import Explorer, LadderWidget, TimelineWidget


@dataclass
class LoadReport:
    """What a load read, what it kept and what it skipped, and why.

    >>> LoadReport(path="x.pcap", backend="native", frames=3, tcp_segments=2,
    ...            skipped={"not_tcp": 1}).skipped_total
    1
    """

    path: str
    backend: str
    frames: int
    tcp_segments: int
    #: frames not in the segments table, by reason (``not_ip``, ``not_tcp``,
    #: ``ip_fragment``, ``truncated_headers``, ``filtered`` …).
    skipped: dict[str, int] = field(default_factory=dict)
    #: link types seen, by their pcap LINKTYPE name (``EN10MB``, ``LINUX_SLL2`` …).
    link_types: list[str] = field(default_factory=list)
    #: bytes at the end of the file that did not form a whole record.
    bytes_lost: int = 0
    #: anything the user should know about how the load went.
    notes: list[str] = field(default_factory=list)
    #: the files of a capture set, in the order they were read (empty for one file).
    sources: list[str] = field(default_factory=list)

    @property
    def skipped_total(self) -> int:
        """Frames read but not in the segments table."""
        return sum(self.skipped.values())


class Capture:
    """A loaded capture: its ``segments``, and ``connections``/``states`` computed on demand.

    >>> cap = Capture(hskit.schema.empty_segments(), report)  # doctest: +SKIP
    """

    def __init__(self, segments: pd.DataFrame, load_report: LoadReport) -> None:
        self.segments = segments
        self.load_report = load_report
        self._classified: tuple[pd.DataFrame, pd.DataFrame] | None = None
        self._conn_log: pd.DataFrame | None = None
        self._analysis: pd.DataFrame | None = None

    def __repr__(self) -> str:
        report = self.load_report
        streams = int(self.segments["stream"].max()) + 1 if len(self.segments) else 0
        return (
            f"<hskit.Capture {report.path!r}: {counted(report.frames, 'frame')}, "
            f"{counted(report.tcp_segments, 'TCP segment')}, {counted(streams, 'stream')}, "
            f"backend={report.backend}>"
        )

    @property
    def connections(self) -> pd.DataFrame:
        """One row per connection (``hskit.classify``), computed on first access."""
        return self._classify()[0]

    @property
    def states(self) -> pd.DataFrame:
        """Endpoint state intervals (``hskit.classify``), computed on first access."""
        return self._classify()[1]

    @property
    def conn_log(self) -> pd.DataFrame:
        """The conn.log Zeek would write for this capture, one row per connection as Zeek
        delimits them (:func:`hskit.zeek.conn_log` with Zeek's defaults: bad checksums
        dropped, every analyzer's likely server ports, 5 min inactivity timeout),
        computed on first access; call :func:`hskit.zeek.conn_log` for other settings.

        >>> cap.conn_log[["id.orig_p", "id.resp_p", "conn_state", "history"]]  # doctest: +SKIP
        """
        if self._conn_log is None:
            from hskit.zeek import conn_log

            self._conn_log = conn_log(self.segments)
        return self._conn_log

    @property
    def analysis(self) -> pd.DataFrame:
        """Wireshark's TCP analysis of every segment (:func:`hskit.analyze`), aligned with
        ``segments``, computed on first access.

        >>> cap.analysis.loc[cap.analysis["retransmission"]]  # doctest: +SKIP
        """
        if self._analysis is None:
            from hskit.analysis import analyze

            self._analysis = analyze(self.segments)
        return self._analysis

    def _classify(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        if self._classified is None:
            from hskit.classify import classify

            # the connections' loss counts read the analysis: computed once, kept for both
            self._classified = classify(self.segments, analysis=self.analysis)
        return self._classified

    def ladder(self, stream: int | None = None) -> LadderWidget:
        """Interactive ladder (flow) diagram of one connection, with controls.

        >>> cap.ladder(0)  # doctest: +SKIP
        """
        from hskit.views.widgets import ladder_widget

        return ladder_widget(self, stream)

    def timeline(self, stream: int | None = None) -> TimelineWidget:
        """Both endpoints' states over time for ``stream``, or every connection (``None``)."""
        from hskit.views.widgets import timeline_widget

        return timeline_widget(self, stream)

    def explore(self) -> Explorer:
        """The connection table with filters, linked to the ladder and the state timeline."""
        from hskit.views.widgets import explorer

        return explorer(self)

    def diagnose(self, thresholds: Thresholds | None = None, **overrides: Any) -> pd.DataFrame:
        """Findings (no answer, refused, SYN flood, TIME_WAIT pressure …) as a DataFrame.

        ``overrides`` are :class:`hskit.diagnose.Thresholds` fields applied on top.

        >>> cap.diagnose(stall_time=5.0)  # doctest: +SKIP
        """
        from hskit.diagnose import diagnose

        return diagnose(
            self.segments,
            self.connections,
            self.states,
            thresholds,
            analysis=self.analysis,
            **overrides,
        )

    def to_pcap(self, streams: Iterable[int], path: str | os.PathLike[str]) -> Path:
        """Write the frames of connections ``streams`` to a new capture at ``path`` (of a
        capture set: the frames of every file, in the set's order)."""
        from hskit.export import to_pcap

        source = self.load_report.sources or self.load_report.path
        return to_pcap(source, self.segments, streams, path)
