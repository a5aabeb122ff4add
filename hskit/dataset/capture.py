"""``hskit.load_dataset``: a :class:`~hskit.capture.Capture` over a converted dataset.

Connections and states are read from their files on first access; the segments of one
stream from its bucket (:meth:`DatasetCapture.stream_segments`); ``diagnose`` reads one
bucket at a time, reducing each to its evidence; ``segments`` reads every bucket (what the
views of a whole capture need).

>>> cap = load_dataset("dataset/")  # doctest: +SKIP
>>> cap.stream_segments(42)[["frame", "flags", "rel_seq"]]  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from hskit import schema
from hskit.analysis import analyze
from hskit.capture import Capture
from hskit.dataset.convert import read_segments
from hskit.dataset.layout import BUCKET, CONNECTIONS, META, SEGMENTS, STATES, STREAMS, Meta
from hskit.diagnose import Evidence, Thresholds, diagnose_evidence
from hskit.diagnose.evidence import concat_evidence, stream_evidence
from hskit.errors import CaptureNotFound
from hskit.wording import counted


def load_dataset(dataset: str | os.PathLike[str]) -> DatasetCapture:
    """Open a dataset written by :func:`hskit.convert`.

    >>> load_dataset("dataset/").connections.shape  # doctest: +SKIP
    """
    folder = Path(dataset)
    if not (folder / META).is_file():
        raise CaptureNotFound(
            f"{folder} is not an hskit dataset (no {META}); make one with hskit convert"
        )
    return DatasetCapture(folder)


class DatasetCapture(Capture):
    """A capture kept on disk as a Parquet dataset (:mod:`hskit.dataset`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.meta = Meta.read(folder)
        self.load_report = self.meta.report
        self._segments: pd.DataFrame | None = None
        self._classified: tuple[pd.DataFrame, pd.DataFrame] | None = None
        self._conn_log: pd.DataFrame | None = None
        self._analysis: pd.DataFrame | None = None
        self._buckets: pd.Series | None = None

    def __repr__(self) -> str:
        report = self.load_report
        return (
            f"<hskit.DatasetCapture {str(self.folder)!r} of {report.path!r}: "
            f"{counted(report.frames, 'frame')}, {counted(report.tcp_segments, 'TCP segment')}, "
            f"{counted(self.meta.buckets, 'bucket')}>"
        )

    @property  # type: ignore[override]
    def segments(self) -> pd.DataFrame:
        """Every segment, in capture order (read from every bucket on first access)."""
        if self._segments is None:
            self._segments = read_segments(self.folder / SEGMENTS, self.meta)
        return self._segments

    def stream_segments(self, stream: int) -> pd.DataFrame:
        """The segments of one stream, read from its bucket only.

        >>> cap.stream_segments(0)["flags"].head(3)  # doctest: +SKIP
        """
        if self._buckets is None:
            table = pd.read_parquet(self.folder / STREAMS)
            self._buckets = pd.Series(table[BUCKET].to_numpy(), index=table["stream"].to_numpy())
        if stream not in self._buckets.index:
            raise KeyError(f"no stream {stream} in {self.folder}")
        bucket = int(self._buckets[stream])
        return read_segments(
            self.folder / SEGMENTS / f"{BUCKET}={bucket}",
            self.meta,
            filters=[("stream", "==", stream)],
        )

    def diagnose(self, thresholds: Thresholds | None = None, **overrides: Any) -> pd.DataFrame:
        """Findings, as :meth:`hskit.Capture.diagnose` gives them, in memory bounded by a
        bucket: each bucket's segments are read, analysed (:func:`hskit.analyze`) and
        reduced to their evidence (:func:`hskit.diagnose.evidence.stream_evidence`) in
        turn; the findings come from the evidence of every bucket, the connections and
        the states (:func:`hskit.diagnose.diagnose_evidence`).

        >>> load_dataset("dataset/").diagnose(stall_time=5.0)  # doctest: +SKIP
        """
        buckets = sorted((self.folder / SEGMENTS).glob(f"{BUCKET}=*"))
        evidence = [self._evidence(read_segments(bucket, self.meta)) for bucket in buckets]
        # a capture without segments has no bucket: the evidence of no segments
        evidence = evidence or [self._evidence(schema.empty_segments())]
        return diagnose_evidence(
            concat_evidence(evidence), self.connections, self.states, thresholds, **overrides
        )

    @staticmethod
    def _evidence(segments: pd.DataFrame) -> Evidence:
        """One bucket's evidence (its segments and their analysis are dropped after)."""
        return stream_evidence(segments, analyze(segments))

    def _classify(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        if self._classified is None:
            connections = pq.read_table(self.folder / CONNECTIONS).to_pandas()
            states = pq.read_table(self.folder / STATES).to_pandas()
            self._classified = (connections, states)
        return self._classified
