"""The findings' evidence of a growing capture, computed again only where it grew.

``diagnose`` reads the segments only through their evidence (:mod:`hskit.diagnose.
evidence`), reduced per stream from the segments and their Wireshark analysis, both of
which depend only on the stream's own rows. So when a ring file is appended,
:class:`KeptEvidence` analyses the streams with rows in it (all their rows, earlier
files' too), computes their evidence, and puts it in place of theirs in the evidence it
keeps: the evidence of the whole capture, at the cost of the touched streams. A long
connection is followed from a window of its rows instead (see the class), as
:class:`hskit.live.incremental.Classified` follows it for the tables.

>>> kept = KeptEvidence()  # doctest: +SKIP
>>> evidence = kept.update(segments)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hskit.analysis import analyze
from hskit.diagnose.evidence import Evidence, concat_evidence, stream_evidence
from hskit.diagnose.window import segment_signs, stall_gaps
from hskit.live.budget import EVIDENCE_BYTES_PER_ROW, fits_whole
from hskit.live.incremental import (
    CONTEXT,
    HEAD,
    LONG,
    counted_rows,
    first_rows,
    followable,
    rows_from_first,
    trimmed,
    window_of,
)
from hskit.wording import counted

if TYPE_CHECKING:
    import numpy.typing as npt

#: per stream-wise evidence table, the column holding the stream (None: the index).
BY_STREAM = {"syn_retries": "stream", "synacks": "stream", "gaps": "stream"}
#: ``Evidence.directions`` columns that count rows, and those of first and last times.
COUNTS = ("payload", "retransmitted", "lost_data", "acked_unseen", "zero_windows", "probes")


@dataclass
class OpenGap:
    """A followed stream's last gap between progress segments (:func:`hskit.diagnose.
    window.stall_gaps`), which its next rows extend: the position of its first row and
    the segments in it so far that were trying."""

    first: int
    trying: int


class KeptEvidence:
    """The :class:`~hskit.diagnose.evidence.Evidence` of a segments table that only
    grows at its end.

    Streams with new rows have their evidence computed again, all their rows; every
    other stream's is kept. A long connection (at least ``long`` rows, no SYN among the
    new ones: :func:`hskit.live.incremental.followable`) would cost its whole history at
    every file, so it is *followed*: its evidence is computed for a window of its rows,
    its first ``head`` rows (the handshake) and the ``context`` rows before the new ones,
    once without and once with the new rows, and what the new rows add (the counts, the
    last time) is added to its evidence. The segment signs of the new rows (zero window,
    probe, progress: :func:`hskit.diagnose.window.segment_signs`) are those of the whole
    stream when the window holds each side's largest sequence end so far and a row of
    each side after the handshake (else the stream is computed again, all rows); its
    open gap between progress segments is carried from file to file. The Wireshark
    analysis looks back (one pass in capture order): what the new rows add after the
    window is what they add after the whole history unless something older than the
    context still matters to them (a segment retransmitted more than ``context`` rows
    later), the same condition as the classifier's for followed streams. :meth:`exact`
    computes the followed streams again, all rows, which the live capture does once it
    has ended.

    >>> kept = KeptEvidence()  # doctest: +SKIP
    >>> evidence = kept.update(segments)  # doctest: +SKIP
    """

    def __init__(self, *, long: int = LONG, head: int = HEAD, context: int = CONTEXT) -> None:
        self.evidence: Evidence | None = None
        self.long, self.head, self.context = long, head, context
        #: rows of the segments table at the last update, of each stream, and each
        #: stream's first row.
        self._rows = 0
        self._counts = np.zeros(0, dtype=np.int64)
        self._first = np.zeros(0, dtype=np.int64)
        #: per direction (``stream * 2 + from_client``): the largest sequence end of its
        #: payload so far (0 before any), which decides a segment's progress.
        self._sent = np.zeros(0, dtype=np.int64)
        #: followed streams -> the positions of their window (head and context), and
        #: their open gap.
        self._windows: dict[int, npt.NDArray[np.int64]] = {}
        self._gaps: dict[int, OpenGap] = {}

    @property
    def followed(self) -> set[int]:
        """Streams whose evidence was grown from a window since computed whole."""
        return set(self._gaps)

    def update(self, segments: pd.DataFrame) -> Evidence:
        """The evidence of ``segments``: the previous call's rows plus new rows at the end.

        >>> evidence = kept.update(live.segments)  # doctest: +SKIP
        """
        stream = segments["stream"].to_numpy()  # a view: its rows are not copied
        before, self._rows = self._rows, len(segments)
        counts = self._counts
        self._counts = counted_rows(counts, stream[before:])
        self._first = first_rows(self._first, stream[before:], before)
        sent = self._sent
        self._sent = _sent_ends(sent, segments.iloc[before:], len(self._counts))
        if self.evidence is None:
            self.evidence = _evidence_of(segments)
            return self.evidence
        touched = np.unique(stream[before:]).astype(np.int64)
        if not len(touched):
            return self.evidence
        long = followable(segments, touched, counts, before, self.long)
        windows = {
            number: window_of(self._windows, stream, number, before, self.head, self.context)
            for number in long.tolist()
        }
        long = np.array(
            [n for n in long.tolist() if self._fits(segments, n, windows[n], sent)], np.int64
        )
        again = np.setdiff1d(touched, long)
        for number in again.tolist():
            self._windows.pop(number, None)
            self._gaps.pop(number, None)
        new = np.flatnonzero(np.isin(stream[before:], long)) + before
        window = np.sort(np.concatenate([np.zeros(0, np.int64), *(windows[n] for n in long)]))
        grown = np.sort(np.concatenate([rows_from_first(stream, self._first, again), window, new]))
        now, was = _evidence_apart(segments, grown, window)
        fresh = _of_streams(now, again)
        if len(long):
            fresh = concat_evidence([fresh, self._followed(segments, long, new, was, now)])
        self.evidence = concat_evidence([_of_streams(self.evidence, touched, keep=False), fresh])
        return self.evidence

    def exact(self, segments: pd.DataFrame) -> Evidence:
        """The evidence with the followed streams computed again, all their rows (what
        :func:`hskit.diagnose.evidence.stream_evidence` of ``segments`` gives); where that
        needs more memory than is available, the evidence as it is, with a
        :class:`~hskit.errors.NotExactWarning` (:mod:`hskit.live.budget`).

        >>> evidence = kept.exact(live.segments)  # doctest: +SKIP
        """
        evidence = self.update(segments)
        if not self._gaps:
            return evidence
        again = np.array(sorted(self._gaps), dtype=np.int64)
        rows = rows_from_first(segments["stream"].to_numpy(), self._first, again)
        if not fits_whole(
            len(rows),
            EVIDENCE_BYTES_PER_ROW,
            skipped=f"the evidence of the {counted(len(again), 'long connection')} followed "
            "from windows was not computed whole again",
            kept="it stays grown from windows",
        ):
            return evidence
        self._windows, self._gaps = {}, {}
        fresh = _evidence_of(segments.iloc[rows])
        self.evidence = concat_evidence([_of_streams(evidence, again, keep=False), fresh])
        return self.evidence

    def _fits(
        self,
        segments: pd.DataFrame,
        number: int,
        window: npt.NDArray[np.int64],
        sent: npt.NDArray[np.int64],
    ) -> bool:
        """Whether the stream ``number`` can be followed from its ``window``: each side
        has a row after the handshake in it (the peer's last window, for a probe) and
        its largest sequence end so far (``sent``, for the progress), and its open gap
        starts in it (found once from all its rows)."""
        rows = segments.iloc[window]
        side = rows["from_client"].to_numpy(bool)
        after_head = side[self.head :]
        if not (after_head.any() and (~after_head).any()):
            return False
        ends = _sent_ends(np.zeros(0, np.int64), rows, number + 1)
        if not np.array_equal(ends[2 * number : 2 * number + 2], sent[2 * number : 2 * number + 2]):
            return False
        if number not in self._gaps:
            stream = segments["stream"].to_numpy()
            mine = rows_from_first(stream, self._first, np.array([number]))
            self._gaps[number] = _open_gap(segments, mine[mine <= window[-1]])
        return bool(np.isin(self._gaps[number].first, window))

    def _followed(
        self,
        segments: pd.DataFrame,
        long: npt.NDArray[np.int64],
        new: npt.NDArray[np.int64],
        was: Evidence,
        now: Evidence,
    ) -> Evidence:
        """The evidence of the ``long`` streams grown by their ``new`` rows: what the new
        rows added to the windows' evidence (``was`` without them, ``now`` with them)
        added to the kept evidence, the gaps from each open gap on, and the windows and
        open gaps moved on."""
        assert self.evidence is not None
        old = _of_streams(self.evidence, long)
        streams = old.streams.copy()
        streams["end"] = np.fmax(streams["end"], _of_streams(now, long).streams["end"])
        streams["resent_syns"] += _added(was.streams, now.streams, long)["resent_syns"]
        directions = _grown_directions(old.directions, was.directions, now.directions, long)
        stream = segments["stream"].to_numpy()
        gaps = [old.gaps[~old.gaps["stream"].isin(long)]]
        for number in long.tolist():
            mine = new[stream[new] == number]
            gaps.append(self._grown_gaps(segments, number, mine, old.gaps))
            window = np.concatenate([self._windows[number], mine])
            self._windows[number] = trimmed(window, self.head, self.context)
        return Evidence(
            streams=streams,
            directions=directions,
            syn_retries=old.syn_retries,
            synacks=old.synacks,
            gaps=pd.concat(gaps, ignore_index=True),
            capture_end=now.capture_end,
        )

    def _grown_gaps(
        self, segments: pd.DataFrame, number: int, new: npt.NDArray[np.int64], gaps: pd.DataFrame
    ) -> pd.DataFrame:
        """The stream's gaps with trying segments (``gaps``: the kept ones) with its open
        gap extended by the ``new`` rows and the gaps they open."""
        opened, window = self._gaps[number], self._windows[number]
        signs = segment_signs(segments.iloc[np.concatenate([window, new])])
        # the open gap's first row, then the new rows
        at = np.concatenate(
            [np.searchsorted(window, [opened.first]), len(window) + np.arange(len(new))]
        )
        signs = signs.iloc[at]
        later = stall_gaps(segments.iloc[np.concatenate([[opened.first], new])], signs)
        trying = later["trying"].to_numpy(copy=True)
        trying[0] += opened.trying - int(signs["trying"].iloc[0])
        later["trying"] = trying
        progress = np.flatnonzero(signs["progress"].to_numpy(bool)[1:])
        first = int(new[progress[-1]]) if len(progress) else opened.first
        self._gaps[number] = OpenGap(first, int(trying[-1]))
        mine = gaps[gaps["stream"].to_numpy() == number]
        if opened.trying > 0:  # the open gap was kept: the grown one takes its place
            mine = mine.iloc[:-1]
        return pd.concat([mine, later[later["trying"] > 0]], ignore_index=True)


def _evidence_of(segments: pd.DataFrame) -> Evidence:
    """The evidence of ``segments`` (whole streams), their analysis computed here."""
    return stream_evidence(segments, analyze(segments))


def _evidence_apart(
    segments: pd.DataFrame, first: npt.NDArray[np.int64], second: npt.NDArray[np.int64]
) -> tuple[Evidence, Evidence]:
    """The evidence of the rows at ``first`` and of those at ``second`` (positions, each
    whole streams in capture order), each as if computed alone, in one call: the second
    group's streams are numbered past the first's (the evidence and the analysis work
    per stream), so the calls' fixed cost is paid once.

    >>> now, was = _evidence_apart(segments, grown_rows, window_rows)  # doctest: +SKIP
    """
    rows = segments.iloc[np.concatenate([first, second])]
    stream = rows["stream"].to_numpy(np.int64)
    span = int(stream.max()) + 1 if len(stream) else 1
    shift = np.repeat(np.array([0, span], np.int64), [len(first), len(second)])
    both = _evidence_of(rows.assign(stream=(stream + shift).astype(rows["stream"].dtype)))
    time = rows["time"].to_numpy(np.float64)
    ends = [time[: len(first)], time[len(first) :]]
    low, high = _of_streams(both, np.arange(span)), _of_streams(both, np.arange(span, 2 * span))
    return (
        replace(low, capture_end=float(ends[0].max()) if len(ends[0]) else None),
        replace(
            _renumbered(high, -span), capture_end=float(ends[1].max()) if len(ends[1]) else None
        ),
    )


def _renumbered(evidence: Evidence, shift: int) -> Evidence:
    """``evidence`` with ``shift`` added to every stream number (in the same dtypes)."""

    def moved(table: pd.DataFrame) -> pd.DataFrame:
        stream = table["stream"]
        return table.assign(stream=(stream.to_numpy(np.int64) + shift).astype(stream.dtype))

    directions = evidence.directions
    return replace(
        evidence,
        streams=evidence.streams.set_axis(evidence.streams.index + shift),
        directions=directions.set_axis(
            directions.index.set_levels(directions.index.levels[0] + shift, level="stream")
        ),
        syn_retries=moved(evidence.syn_retries),
        synacks=moved(evidence.synacks),
        gaps=moved(evidence.gaps),
    )


def _of_streams(
    evidence: Evidence, numbers: npt.NDArray[np.int64], *, keep: bool = True
) -> Evidence:
    """``evidence`` of the streams ``numbers`` only (``keep=False``: of every other
    stream), ``capture_end`` as it is."""

    def rows(table: pd.DataFrame, stream: npt.ArrayLike) -> pd.DataFrame:
        return table[np.isin(stream, numbers) == keep]

    return Evidence(
        streams=rows(evidence.streams, evidence.streams.index),
        directions=rows(evidence.directions, evidence.directions.index.get_level_values("stream")),
        syn_retries=rows(evidence.syn_retries, evidence.syn_retries["stream"]).reset_index(
            drop=True
        ),
        synacks=rows(evidence.synacks, evidence.synacks["stream"]).reset_index(drop=True),
        gaps=rows(evidence.gaps, evidence.gaps["stream"]).reset_index(drop=True),
        capture_end=evidence.capture_end,
    )


def _added(was: pd.DataFrame, now: pd.DataFrame, long: npt.NDArray[np.int64]) -> pd.DataFrame:
    """``now - was`` of the counts of the rows indexed by a stream of ``long`` (a missing
    row counts 0)."""
    was = was[np.isin(was.index.get_level_values("stream"), long)]
    now = now[np.isin(now.index.get_level_values("stream"), long)]
    return now.sub(was.reindex(now.index, fill_value=0), fill_value=0)


def _grown_directions(
    old: pd.DataFrame, was: pd.DataFrame, now: pd.DataFrame, long: npt.NDArray[np.int64]
) -> pd.DataFrame:
    """The kept directions of the ``long`` streams with what the new rows added to their
    windows' (``was`` -> ``now``): the counts summed, the zero-window times widened."""
    added = _added(was[list(COUNTS)], now[list(COUNTS)], long)
    index = old.index.union(added.index)
    grown = old.reindex(index)
    counts = grown[list(COUNTS)].fillna(0).astype(np.int64)
    counts = counts.add(added.reindex(index, fill_value=0), fill_value=0).astype(np.int64)
    windowed = now.reindex(index)
    return pd.DataFrame(
        {
            **{column: counts[column] for column in COUNTS},
            "zero_window_first": np.fmin(grown["zero_window_first"], windowed["zero_window_first"]),
            "zero_window_last": np.fmax(grown["zero_window_last"], windowed["zero_window_last"]),
        },
        index=index,
    )


def _sent_ends(
    sent: npt.NDArray[np.int64], segments: pd.DataFrame, streams: int
) -> npt.NDArray[np.int64]:
    """``sent`` (per direction, the largest sequence end of a payload so far) with the
    rows of ``segments`` taken in, for ``streams`` streams."""
    grown = np.zeros(2 * streams, np.int64)
    grown[: len(sent)] = sent
    payload = segments["payload_len"].to_numpy(np.int64)
    has = payload > 0
    direction = segments["stream"].to_numpy(np.int64) * 2 + segments["from_client"].to_numpy(int)
    ends = segments["rel_seq"].to_numpy(np.int64) + payload
    np.maximum.at(grown, direction[has], ends[has])
    return grown


def _open_gap(segments: pd.DataFrame, rows: npt.NDArray[np.int64]) -> OpenGap:
    """The last gap between progress segments of the stream whose rows (all of them so
    far) are at ``rows``: where it starts, and how many of its segments were trying."""
    signs = segment_signs(segments.iloc[rows])
    progress = np.flatnonzero(signs["progress"].to_numpy(bool))
    start = int(progress[-1]) if len(progress) else 0
    return OpenGap(int(rows[start]), int(signs["trying"].to_numpy(bool)[start:].sum()))
