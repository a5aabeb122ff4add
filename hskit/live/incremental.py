"""The connections and states of a growing capture, classified again only where it grew.

``hskit.classify`` works per stream: a connection's row and its state intervals depend
on that stream's segments, and on the capture's last time only through the end of each
endpoint's last interval (which runs to the capture's end unless it is CLOSED). So when
a ring file is appended, :class:`Classified` runs the classifier on the rows of the
streams that have segments in the new file (all their rows, earlier files' too), keeps
the cached rows of every other stream, moves those streams' open interval ends to the
new capture end, and puts the rows back in stream order: the tables equal
``hskit.classify`` of the whole capture, at the cost of the touched streams.

>>> tables = Classified()  # doctest: +SKIP
>>> connections, states = tables.update(segments, touched)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hskit.capture import Capture
from hskit.classify import classify
from hskit.live.budget import CLASSIFY_BYTES_PER_ROW, fits_whole
from hskit.schema import SYN, TCP_STATES
from hskit.wording import counted

if TYPE_CHECKING:
    import numpy.typing as npt

    from hskit.capture import LoadReport

_CLOSED = TCP_STATES.index("CLOSED")


#: a stream with at least this many rows, established and open, is followed from a
#: bounded window of its rows once it is (see :class:`Classified`).
LONG = 20_000
#: rows of a followed stream's start kept in its window: its handshake.
HEAD = 32
#: rows before the new ones kept in a followed stream's window.
CONTEXT = 2_000
#: connection columns that count rows (so grow by what the new rows add).
COUNTED = (
    "packets_c2s", "packets_s2c", "bytes_c2s", "bytes_s2c", "syn_count", "synack_count",
    "retrans_c2s", "retrans_s2c", "lost_c2s", "lost_s2c", "dup_acks_c2s", "dup_acks_s2c",
    "zero_windows_c2s", "zero_windows_s2c",
)  # fmt: skip
#: connection columns of the capture times (the first and last segment's).
TIMES = ("first_ts", "last_ts", "duration")
#: connection columns of the teardown, which the new rows may set (a FIN or RST).
TEARDOWN = ("termination", "closer", "reset_by", "time_wait_end", "conn_state")
#: Zeek ``history`` letters a followed stream's new rows may write when the stream has
#: not got them yet: the teardown (F, R, once per side), and a first retransmission (T),
#: zero window (W) or bad checksum (C) of a side (Zeek writes these again only at their
#: 10th, 100th … occurrence, so the first is what the whole stream has too).
FIRST_LETTERS = "FfRrTtWwCc"
#: states columns a window must reproduce (the ends move with the capture).
STATE_KEYS = ("stream", "endpoint", "state", "start", "cause_frame")


class Classified:
    """``(connections, states)`` of a segments table that only grows at its end.

    Streams with new rows are classified again, all their rows; every other stream's
    rows are kept. A long connection (at least ``long`` rows) would cost its whole
    history at every file, so it is *followed* instead: ``hskit.classify`` runs on a
    window of its rows, its first ``head`` rows (the handshake) and the ``context`` rows
    before the new ones, once without and once with the new rows. It is followed when

    - the window without the new rows gives the connection's row and states as they
      are (but for the counted columns :data:`COUNTED`, the times and ``history``), so
      nothing before the context still shows (a FIN long ago, say), and
    - the new rows change in the window only the counted columns, the times, the
      teardown (:data:`TEARDOWN`, the states) and ``history`` by letters the stream has
      already or a first F, R, T, W or C of a side (no SYN among them);

    then its row is its previous row with the counts grown by what the new rows added
    to the window, the last time moved, and the teardown and states of the window with
    them. Otherwise it is classified again, all its rows. The classifier's per-segment
    analysis looks back (Wireshark's and Zeek's are one pass in capture order), so what
    the new rows add after the context is what they add after the whole history unless
    something older still matters to them (a segment retransmitted more than
    ``context`` rows later). Zeek writes T, W and C again at their 10th, 100th …
    occurrence: such a repeat is not in a followed row's ``history``. :meth:`exact`
    classifies the followed streams again, all rows, which the live capture does once
    it has ended.

    >>> tables = Classified()  # doctest: +SKIP
    >>> connections, states = tables.update(segments, touched)  # doctest: +SKIP
    """

    def __init__(self, *, long: int = LONG, head: int = HEAD, context: int = CONTEXT) -> None:
        self.tables: tuple[pd.DataFrame, pd.DataFrame] | None = None
        self.long, self.head, self.context = long, head, context
        #: rows of the segments table at the last update, and of each stream.
        self._rows = 0
        self._counts = np.zeros(0, dtype=np.int64)
        #: the first row of each stream (-1: none yet), and the capture's last time.
        self._first = np.zeros(0, dtype=np.int64)
        self._end = np.nan
        #: followed streams -> the positions of their window (head and context).
        self._windows: dict[int, npt.NDArray[np.int64]] = {}
        #: streams whose rows were grown from a window since they were classified whole.
        self.followed: set[int] = set()
        #: the streams whose rows the last call replaced (None: every stream's).
        self.replaced: npt.NDArray[np.int64] | None = None

    @property
    def end(self) -> float:
        """The capture's last time (``segments["time"].max()`` of the last call's)."""
        return self._end

    def update(
        self, segments: pd.DataFrame, touched: npt.NDArray[np.int64] | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The tables of ``segments``, which are the previous call's rows plus new rows of
        the streams ``touched`` (``None``: classify everything again)."""
        stream = segments["stream"].to_numpy()
        before, self._rows = self._rows, len(segments)
        whole = self.tables is None or touched is None
        if whole:
            before, self._counts, self._first = 0, np.zeros(0, np.int64), self._first[:0]
            self._end = np.nan
        counts = self._counts
        self._counts = counted_rows(counts, stream[before:])
        self._first = first_rows(self._first, stream[before:], before)
        # the capture's last time, NaN left out (as ``Series.max`` does)
        self._end = float(np.fmax(self._end, segments["time"].iloc[before:].max()))
        if whole:
            self._windows, self.followed, self.replaced = {}, set(), None
            self.tables = classify(segments)
            return self.tables
        self.replaced = np.zeros(0, np.int64)
        if len(touched) == 0:
            return self.tables
        long = followable(segments, touched, counts, before, self.long)
        new = np.flatnonzero(np.isin(stream[before:], long)) + before
        base = self._base(stream, long, before)
        short = rows_from_first(stream, self._first, np.setdiff1d(touched, long))
        fresh, was, now = _classified_apart(segments, [short, base, np.concatenate([base, new])])
        grown = self._grown(stream, new, was, now)
        followed = grown[0].index.to_numpy(np.int64)
        lost = np.setdiff1d(long, followed)  # long, but their window did not reproduce them
        if len(lost):
            whole = classify(segments[np.isin(stream, lost)])
            fresh = (_in_stream_order(fresh[0], whole[0]), _in_stream_order(fresh[1], whole[1]))
        again = np.setdiff1d(touched, followed)
        for number in again.tolist():
            self._windows.pop(number, None)
            self.followed.discard(number)
        self.followed.update(followed.tolist())
        return self._replaced(segments, again, fresh, grown)

    def exact(self, segments: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The tables with the followed streams classified again, all their rows (what
        ``hskit.classify`` of ``segments`` gives, at the cost of those streams); where
        that needs more memory than is available (:mod:`hskit.live.budget`), the tables
        as they are, with a :class:`~hskit.errors.NotExactWarning`, and the streams
        still :attr:`followed`.

        >>> connections, states = tables.exact(segments)  # doctest: +SKIP
        """
        if self.tables is None:
            return self.update(segments, None)
        self.replaced = np.zeros(0, np.int64)
        if not self.followed:
            return self.tables
        again = np.array(sorted(self.followed), dtype=np.int64)
        rows = rows_from_first(segments["stream"].to_numpy(), self._first, again)
        if not fits_whole(
            len(rows),
            CLASSIFY_BYTES_PER_ROW,
            skipped=f"the {counted(len(again), 'long connection')} followed from windows "
            "were not classified whole again",
            kept="their rows stay grown from windows (hskit.load of the ring needs as "
            "much to classify them)",
        ):
            return self.tables
        self.followed, self._windows = set(), {}
        fresh = classify(segments.iloc[rows])
        return self._replaced(segments, again, fresh, self._nothing_grown())

    def _nothing_grown(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        assert self.tables is not None
        return self.tables[0].iloc[:0].set_index("stream"), self.tables[1].iloc[:0]

    def _replaced(
        self,
        segments: pd.DataFrame,
        again: npt.NDArray[np.int64],
        fresh: tuple[pd.DataFrame, pd.DataFrame],
        grown: tuple[pd.DataFrame, pd.DataFrame],
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The tables with the streams ``again`` replaced by their ``fresh`` tables and
        the followed streams' ``grown`` columns (indexed by stream) and states put in
        place of their previous ones; every open interval ends at the capture's end."""
        assert self.tables is not None
        fresh_connections, fresh_states = fresh
        connections, states = self.tables
        kept_connections = connections[~np.isin(connections["stream"].to_numpy(), again)]
        rows, grown_states = grown
        if len(rows):
            kept_connections = kept_connections.copy()
            at = np.searchsorted(kept_connections["stream"].to_numpy(), rows.index.to_numpy())
            for column in rows.columns:
                values = kept_connections[column].array.copy()
                values[at] = rows[column].array
                kept_connections[column] = values
        replaced = np.concatenate([again, rows.index.to_numpy(np.int64)])
        self.replaced = np.unique(replaced)
        kept_states = states[~np.isin(states["stream"].to_numpy(), replaced)]
        self.tables = (
            _in_stream_order(kept_connections, fresh_connections),
            _open_ends_moved(_in_stream_order(kept_states, fresh_states, grown_states), self._end),
        )
        return self.tables

    def _base(
        self, stream: npt.NDArray[np.int64], long: npt.NDArray[np.int64], before: int
    ) -> npt.NDArray[np.int64]:
        """The rows of the ``long`` streams' windows, in capture order."""
        windows = [
            window_of(self._windows, stream, number, before, self.head, self.context)
            for number in long.tolist()
        ]
        return np.sort(np.concatenate([np.zeros(0, np.int64), *windows]))

    def _grown(
        self,
        stream: npt.NDArray[np.int64],
        new: npt.NDArray[np.int64],
        was: tuple[pd.DataFrame, pd.DataFrame],
        now: tuple[pd.DataFrame, pd.DataFrame],
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The followed columns (indexed by stream) and the states of the long streams
        whose window reproduces their classification (``was``: the tables of their
        windows) and, with their ``new`` rows (``now``: the tables of windows and new
        rows), changes only what the new rows can change (see the class)."""
        if not len(was[0]):
            return self._nothing_grown()
        assert self.tables is not None
        (was_connections, was_states), (now_connections, now_states) = was, now
        numbers = was_connections["stream"].to_numpy(np.int64)
        # each window has rows of its stream, so both tables have the same streams
        assert np.array_equal(numbers, now_connections["stream"].to_numpy(np.int64))
        connections, states = self.tables
        known = connections.iloc[np.searchsorted(connections["stream"].to_numpy(), numbers)]
        grows = {*COUNTED, *TIMES, "history"}
        fixed = grows | set(TEARDOWN)
        # a few rows (the long streams): compared value by value, not through pandas
        was_rows, now_rows, known_rows = map(_records, (was_connections, now_connections, known))
        was_steps, known_steps = (_state_steps(table, numbers) for table in (was_states, states))
        followed, histories = [], []
        for at, (a, b, k) in enumerate(zip(was_rows, now_rows, known_rows, strict=True)):
            history = _history(str(a["history"]), str(b["history"]), str(k["history"]))
            if (
                history is not None
                and _same_values(a, k, grows)
                and _same_values(a, b, fixed)
                and _same_steps(was_steps.get(int(numbers[at])), known_steps.get(int(numbers[at])))
            ):
                followed.append(at)
                histories.append(history)
        if not followed:
            return self._nothing_grown()
        index = pd.Index(numbers[followed], name="stream")
        counted = list(COUNTED)
        added = now_connections[counted].to_numpy(np.int64) - was_connections[counted].to_numpy(
            np.int64
        )
        totals = known[counted].to_numpy(np.int64)[followed] + added[followed]
        first_ns = known["first_ts"].array.asi8[followed]
        last_ns = np.maximum(
            known["last_ts"].array.asi8[followed], now_connections["last_ts"].array.asi8[followed]
        )
        columns: dict[str, Any] = {
            column: now_connections[column].array[followed] for column in TEARDOWN
        }
        columns.update(
            (column, total.astype(known[column].dtype))
            for column, total in zip(counted, totals.T, strict=True)
        )
        columns.update(
            first_ts=known["first_ts"].array[followed],
            last_ts=pd.to_datetime(last_ns, unit="ns", utc=True),
            duration=(last_ns - first_ns) / 1e9,
            history=pd.array(histories, dtype=known["history"].dtype),
        )
        rows = pd.DataFrame(columns, index=index)
        for number in index.tolist():
            window = np.concatenate([self._windows[number], new[stream[new] == number]])
            self._windows[number] = trimmed(window, self.head, self.context)
        return rows, now_states[np.isin(now_states["stream"].to_numpy(), index)]


def window_of(
    windows: dict[int, npt.NDArray[np.int64]],
    stream: npt.NDArray[np.int64],
    number: int,
    before: int,
    head: int,
    context: int,
) -> npt.NDArray[np.int64]:
    """A followed stream's window: its first ``head`` rows and last ``context`` rows
    before row ``before``, found once in ``stream`` and kept in ``windows`` (the caller
    carries it as rows come, :func:`trimmed`).

    >>> window_of({}, np.array([1, 2, 1, 1, 1]), 1, 5, 1, 2).tolist()
    [0, 3, 4]
    """
    if number not in windows:
        windows[number] = trimmed(np.flatnonzero(stream[:before] == number), head, context)
    return windows[number]


def trimmed(rows: npt.NDArray[np.int64], head: int, context: int) -> npt.NDArray[np.int64]:
    """``rows``' first ``head`` and, of the others, the last ``context``.

    >>> trimmed(np.arange(10), 2, 3).tolist()
    [0, 1, 7, 8, 9]
    """
    return np.concatenate([rows[:head], rows[head:][-context:]])


def followable(
    segments: pd.DataFrame,
    touched: npt.NDArray[np.int64],
    counts: npt.NDArray[np.int64],
    before: int,
    long: int,
) -> npt.NDArray[np.int64]:
    """The ``touched`` streams that may be followed from a window: with at least ``long``
    rows before row ``before`` (``counts`` per stream), and no SYN among the rows from
    ``before`` on (a SYN may begin another connection on the same ports).

    >>> table = pd.DataFrame({"stream": [0, 0, 1, 1], "flags": [16, 16, 2, 16]})
    >>> followable(table, np.array([0, 1]), np.array([5, 5]), 2, 3).tolist()
    [0]
    """
    known = touched[touched < len(counts)]
    candidates = known[counts[known] >= long]
    new = segments.iloc[before:]
    opening = new["stream"].to_numpy(np.int64)[(new["flags"].to_numpy(np.int64) & SYN) != 0]
    return candidates[~np.isin(candidates, opening)]


def _classified_apart(
    segments: pd.DataFrame, groups: list[npt.NDArray[np.int64]]
) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """``hskit.classify`` of each group of rows of ``segments`` (positions, each in
    capture order) as if classified alone, in one call: each group's streams are
    numbered apart (``hskit.classify`` works per stream), so a group may hold rows of
    another one, and the call's fixed cost is paid once. The open intervals' ends are
    those of the capture of all the groups' rows.

    >>> fresh, window = _classified_apart(segments, [short_rows, window_rows])  # doctest: +SKIP
    """
    sizes = [len(group) for group in groups]
    rows = segments.iloc[np.concatenate(groups)]
    stream = rows["stream"].to_numpy(np.int64)
    span = int(stream.max()) + 1 if len(stream) else 1
    shift = np.repeat(np.arange(len(groups), dtype=np.int64) * span, sizes)
    rows = rows.assign(stream=(stream + shift).astype(np.uint32))
    tables = classify(rows)
    apart = []
    for k in range(len(groups)):
        pieces = []
        for table in tables:
            numbers = table["stream"].to_numpy(np.int64)
            low, high = np.searchsorted(numbers, [k * span, (k + 1) * span])
            piece = table.iloc[low:high].reset_index(drop=True)
            pieces.append(piece.assign(stream=(numbers[low:high] - k * span).astype(np.uint32)))
        apart.append((pieces[0], pieces[1]))
    return apart


def rows_from_first(
    stream: npt.NDArray[np.unsignedinteger],
    first: npt.NDArray[np.int64],
    numbers: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """The positions of the rows of the streams ``numbers`` (each seen already) in a
    table's ``stream`` column, found from the first row of the earliest of them on
    (``first``: each stream's first row, :func:`first_rows`), not in the whole table.

    >>> rows_from_first(np.array([0, 1, 0, 2, 1]), np.array([0, 1, 3]), np.array([1])).tolist()
    [1, 4]
    """
    if not len(numbers):
        return np.zeros(0, np.int64)
    start = int(first[numbers].min())
    return np.flatnonzero(np.isin(stream[start:], numbers)) + start


def counted_rows(
    counts: npt.NDArray[np.int64], streams: npt.NDArray[np.int64], size: int = 0
) -> npt.NDArray[np.int64]:
    """``counts`` (rows per stream) with the rows of ``streams`` added.

    >>> counted_rows(np.array([2, 1]), np.array([1, 2, 2])).tolist()
    [2, 2, 2]
    """
    added = np.bincount(streams, minlength=max(len(counts), size))
    added[: len(counts)] += counts
    return added


def first_rows(
    first: npt.NDArray[np.int64], streams: npt.NDArray[np.unsignedinteger], offset: int
) -> npt.NDArray[np.int64]:
    """``first`` (each stream's first row, -1: none) with the rows ``streams`` (the
    streams of rows ``offset`` on) taken in.

    >>> first_rows(np.array([0, -1]), np.array([2, 1, 2], np.uint32), 5).tolist()
    [0, 6, 5]
    """
    numbers, at = np.unique(streams, return_index=True)
    size = max(len(first), int(numbers[-1]) + 1 if len(numbers) else 0)
    grown = np.concatenate([first, np.full(size - len(first), -1, np.int64)])
    unset = grown[numbers] < 0
    grown[numbers[unset]] = at[unset] + offset
    return grown


def _same_values(was: dict[str, Any], now: dict[str, Any], apart: set[str]) -> bool:
    """Whether two rows (column -> value) are equal in every column but those ``apart``,
    NA equal to NA.

    >>> _same_values({"a": 1, "b": pd.NA, "c": 2}, {"a": 1, "b": pd.NA, "c": 3}, {"c"})
    True
    """
    for column, value in was.items():
        if column in apart:
            continue
        other = now[column]
        if not _same_value(value, other):
            return False
    return True


def _same_value(value: Any, other: Any) -> bool:
    """Whether two cells are equal, NA equal to NA.

    >>> _same_value(float("nan"), pd.NA), _same_value(1.0, 1), _same_value(pd.NaT, 0)
    (True, True, False)
    """
    missing = pd.isna(value), pd.isna(other)
    if missing[0] or missing[1]:
        return missing[0] and missing[1]
    return bool(value == other)


def _same_steps(was: list[tuple[Any, ...]] | None, now: list[tuple[Any, ...]] | None) -> bool:
    """Whether a stream's state rows (:func:`_state_steps`) are equal, cell by cell;
    False when a side has none.

    >>> _same_steps([(1, float("nan"))], [(1, float("nan"))]), _same_steps(None, None)
    (True, False)
    """
    if was is None or now is None or len(was) != len(now):
        return False
    return all(
        _same_value(a, b) for row, other in zip(was, now, strict=True)
        for a, b in zip(row, other, strict=True)
    )  # fmt: skip


def _history(was: str, now: str, known: str) -> str | None:
    """The whole stream's Zeek ``history`` (``known``) with what the new rows appended to
    the window's (``was`` -> ``now``): letters it has already are not written again (D,
    A, or a T, which Zeek writes again only at the 10th, 100th … retransmission), a
    first of :data:`FIRST_LETTERS` is; None where the new rows did anything else.

    >>> _history("ShAD", "ShADdF", "ShADad")
    'ShADadF'
    """
    added = [letter for letter in dict.fromkeys(now[len(was) :]) if letter not in known]
    if not now.startswith(was) or not set(added) <= set(FIRST_LETTERS):
        return None
    return known + "".join(added)


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a short table as ``{column: value}`` (cheaper than ``to_dict``).

    >>> _records(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))[1]
    {'a': np.int64(2), 'b': 'y'}
    """
    columns = {name: column.array for name, column in table.items()}
    return [{name: array[at] for name, array in columns.items()} for at in range(len(table))]


def _state_steps(
    states: pd.DataFrame, numbers: npt.NDArray[np.int64]
) -> dict[int, list[tuple[Any, ...]]]:
    """Per stream of ``numbers``, its state rows but for the ends (:data:`STATE_KEYS`),
    in order.

    >>> rows = pd.DataFrame({"stream": [4, 4, 5], "endpoint": ["client"] * 3,
    ...                      "state": ["A", "B", "A"], "start": [0.0, 1.0, 0.0],
    ...                      "cause_frame": [1, 2, 1]})
    >>> [str(cell) for cell in _state_steps(rows, np.array([4]))[4][1]]
    ['4', 'client', 'B', '1.0', '2']
    """
    at = np.flatnonzero(np.isin(states["stream"].to_numpy(), numbers))
    columns = [states[name].array[at] for name in STATE_KEYS]
    steps: dict[int, list[tuple[Any, ...]]] = {}
    for row in zip(*columns, strict=True):
        steps.setdefault(int(row[0]), []).append(row)
    return steps


def _open_ends_moved(states: pd.DataFrame, capture_end: float) -> pd.DataFrame:
    """``states`` (whole streams) with each endpoint's last interval ending at
    ``capture_end``, or where it starts if it is CLOSED: the classifier's rule."""
    if not len(states):
        return states
    stream = states["stream"].to_numpy(np.int64)
    endpoint = states["endpoint"].cat.codes.to_numpy(np.int64)
    last = np.ones(len(states), dtype=bool)
    last[:-1] = (stream[1:] != stream[:-1]) | (endpoint[1:] != endpoint[:-1])
    start = states["start"].to_numpy()
    closed = states["state"].cat.codes.to_numpy() == _CLOSED
    end = states["end"].to_numpy(copy=True)
    end[last] = np.maximum(np.where(closed[last], start[last], capture_end), start[last])
    return states.assign(end=end)


def _in_stream_order(kept: pd.DataFrame, fresh: pd.DataFrame, *more: pd.DataFrame) -> pd.DataFrame:
    """``kept``, ``fresh`` and ``more`` rows together (in one concatenation), by stream
    (each stream's own order kept); categorical columns take ``fresh``'s categories
    (addresses seen since ``kept`` was classified; ``more`` has them already)."""
    changed = {
        column: dtype
        for column, dtype in fresh.dtypes.items()
        if isinstance(dtype, pd.CategoricalDtype) and dtype != kept[column].dtype
    }
    if changed:  # astype copies every column, even given no column to change
        kept = kept.astype(changed)
    both = pd.concat([kept, fresh, *more], ignore_index=True)
    order = np.argsort(both["stream"].to_numpy(), kind="stable")
    return both.take(order).reset_index(drop=True)


class ClassifiedCapture(Capture):
    """A :class:`~hskit.capture.Capture` whose tables were classified already.

    >>> tables = Classified().update(segments, None)  # doctest: +SKIP
    >>> capture = ClassifiedCapture(segments, report, tables)  # doctest: +SKIP
    """

    def __init__(
        self,
        segments: pd.DataFrame,
        load_report: LoadReport,
        tables: tuple[pd.DataFrame, pd.DataFrame],
    ) -> None:
        super().__init__(segments, load_report)
        self._classified = tables
