"""One segments table from the ring files of a live capture, as if they were one file.

Each ring file is loaded on its own (``hskit.load``), so its ``frame``, ``time``,
``stream``, relative numbers and ``from_client`` start afresh. :func:`merge` renumbers
them across the files the way a load of the files concatenated (``mergecap -a``) does:
frames count on across files, times count from the first frame of the first file,
conversations and relative sequence numbers are computed again over all the rows
(``hskit.native.streams``, the native reader's own rules), and the client of every
stream is decided again (``hskit.direction``).

When ``hskit.load`` accepts a list of files (a capture set) this module's job is
its job, and :func:`merge` can give way to it.

>>> parts = [hskit.load(p, progress=False) for p in ring_files]  # doctest: +SKIP
>>> segments, report = merge(parts)  # doctest: +SKIP
"""

from __future__ import annotations

import ipaddress
import mmap
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hskit import schema
from hskit.capture import Capture, LoadReport
from hskit.direction import from_client
from hskit.native.records import read_records
from hskit.native.streams import streams
from hskit.schema import ACK, SYN

if TYPE_CHECKING:
    import numpy.typing as npt

#: endpoint key = address code * PORTS + port (as the native reader builds it).
PORTS = 65536
#: the columns :func:`hskit.direction.from_client` reads.
CLIENT_COLUMNS = ("stream", "src_ip", "dst_ip", "src_port", "dst_port", "flags")


#: rows each column's buffers of a :class:`GrowingTable` reserve: address space, not
#: memory (pages are taken as rows are written: :func:`small_page_zeros`), so a live
#: capture's table never moves to larger buffers. Past it, the room doubles in one copy.
RESERVED_ROWS = 1 << 30
#: rows of the first buffers where the system refuses to reserve ``RESERVED_ROWS`` (a
#: strict overcommit policy): the room then doubles, each time in one copy of the rows.
FALLBACK_ROWS = 1 << 22
#: ``mmap``'s MAP_NORESERVE on Linux (Python names it from 3.13 on): no swap space is
#: set aside for the reservation.
MAP_NORESERVE = 0x4000
_LINUX = sys.platform.startswith("linux")


def merge(parts: Sequence[Capture], *, name: str | None = None) -> tuple[pd.DataFrame, LoadReport]:
    """The segments table and load report of ``parts`` (captures of consecutive ring files,
    in order) as one capture; ``name`` becomes the report's ``path``.

    >>> segments, report = merge([hskit.load(p) for p in sorted(ring)])  # doctest: +SKIP
    >>> report.frames == sum(p.load_report.frames for p in parts)  # doctest: +SKIP
    True
    """
    reports = [part.load_report for part in parts]
    report = _merged_report(reports, name)
    with_rows = [part.segments for part in parts if len(part.segments)]
    if not with_rows:
        return schema.empty_segments(), report
    addresses = _address_dtype(with_rows)
    segments = pd.concat(
        [_frames_counted_on(part, offset, addresses) for part, offset in _frame_offsets(parts)],
        ignore_index=True,
    )
    _times_from_first_frame(segments, parts)
    _conversations(segments)
    segments["from_client"] = from_client(segments)
    schema.check(segments, schema.SEGMENT_DTYPES, "segments")
    return segments, report


def _frame_offsets(parts: Sequence[Capture]) -> list[tuple[pd.DataFrame, int]]:
    """Each part's segments with the number of frames in the files before it."""
    counts = np.cumsum([0] + [part.load_report.frames for part in parts[:-1]])
    return [
        (part.segments, int(offset))
        for part, offset in zip(parts, counts, strict=True)
        if len(part.segments)
    ]


def _frames_counted_on(
    segments: pd.DataFrame, offset: int, addresses: pd.CategoricalDtype
) -> pd.DataFrame:
    """``segments`` with ``frame`` counted on from ``offset`` and addresses recoded to
    the shared categories ``addresses`` (codes only, no text)."""
    part = segments.copy()
    part["frame"] = (part["frame"].to_numpy(np.int64) + offset).astype(np.uint32)
    for column in ("src_ip", "dst_ip"):
        part[column] = part[column].cat.set_categories(addresses.categories)
    return part


def _address_dtype(parts: list[pd.DataFrame], known: Iterable[str] = ()) -> pd.CategoricalDtype:
    """One categorical over every part's addresses and ``known``, in the native reader's
    order (IPv4 by value, then IPv6 by value)."""
    seen = set(known).union(*(set(p["src_ip"].cat.categories) for p in parts))
    seen |= set().union(*(set(p["dst_ip"].cat.categories) for p in parts))
    return pd.CategoricalDtype(sorted(seen, key=_address_order))


def _address_order(text: str) -> tuple[int, int]:
    address = ipaddress.ip_address(text)
    return address.version, int(address)


def _times_from_first_frame(segments: pd.DataFrame, parts: Sequence[Capture]) -> None:
    """``time`` in seconds since the first frame of the first file that has frames."""
    first = next((part for part in parts if part.load_report.frames), None)
    if first is None:
        return
    ts_ns = segments["ts"].array.asi8
    segments["time"] = (ts_ns - _first_frame_ns(first)) / 1e9


def _first_frame_ns(part: Capture) -> int:
    """The timestamp (ns) of ``part``'s first frame: from its first segment's ``ts`` and
    ``time`` when that is known, else read from the file (a ring file whose first frame
    is not a TCP segment)."""
    rows = part.segments
    if len(rows) and not np.isnan(rows["time"].iloc[0]):
        return int(rows["ts"].array.asi8[0]) - round(float(rows["time"].iloc[0]) * 1e9)
    return int(read_records(Path(part.load_report.path), progress=False).ts_ns[0])


def _conversations(segments: pd.DataFrame) -> None:
    """``stream``, ``rel_seq`` and ``rel_ack`` over all rows, by the native reader's rules."""
    src_key = _endpoint_key(segments, "src")
    dst_key = _endpoint_key(segments, "dst")
    flags, seq, ack = (segments[c].to_numpy(np.int64) for c in ("flags", "seq", "ack"))
    numbered = streams(src_key, dst_key, flags, seq, ack)
    segments["stream"] = numbered.stream.astype(np.uint32)
    segments["rel_seq"] = numbered.rel_seq.astype(np.uint32)
    segments["rel_ack"] = numbered.rel_ack.astype(np.uint32)


def _endpoint_key(segments: pd.DataFrame, side: str) -> npt.NDArray[np.int64]:
    codes = segments[f"{side}_ip"].cat.codes.to_numpy(np.int64)
    return codes * PORTS + segments[f"{side}_port"].to_numpy(np.int64)


def _merged_report(reports: list[LoadReport], name: str | None) -> LoadReport:
    skipped: Counter[str] = Counter()
    for report in reports:
        skipped.update(report.skipped)
    return LoadReport(
        path=name if name is not None else (reports[0].path if reports else ""),
        backend=reports[0].backend if reports else "native",
        frames=sum(r.frames for r in reports),
        tcp_segments=sum(r.tcp_segments for r in reports),
        skipped=dict(skipped),
        link_types=sorted({t for r in reports for t in r.link_types}),
        bytes_lost=sum(r.bytes_lost for r in reports),
        notes=[note for r in reports for note in r.notes],
    )


class Merger:
    """:func:`merge` one part at a time: each ring file's rows are appended to the table
    of the files before it, and only conversations with rows in the new file are
    numbered again, so the cost of :meth:`add` follows the new file, not the capture.

    What carries over between files is, for every address/port pair, its last
    conversation's stream number and the two base sequence numbers known so far: the
    new rows are numbered by :func:`hskit.native.streams.streams` behind one row per
    known base that sets that base again (a segment without SYN or ACK whose ``seq - 1``
    is the base), so the native reader's rules decide, not a second copy of them.

    >>> merger = Merger(name="ring")  # doctest: +SKIP
    >>> for part in parts: segments, report, touched = merger.add(part)  # doctest: +SKIP
    >>> segments.equals(merge(parts)[0])  # doctest: +SKIP
    True
    """

    def __init__(self, *, name: str | None = None, first_capacity: int = RESERVED_ROWS) -> None:
        self.name = name
        #: the merged rows so far, in buffers that grow by appending (room for
        #: ``first_capacity`` rows before it first doubles).
        self._table = GrowingTable(first_capacity=first_capacity)
        self._reports: list[LoadReport] = []
        #: the merged load report of the parts so far.
        self.report = _merged_report([], name)
        self._first_ns: int | None = None
        #: an id per address in order of first sight (stable across files).
        self._address_ids: dict[str, int] = {}
        #: per pair key: the last conversation's stream and its known bases.
        self._carry = pd.DataFrame(
            {name: np.zeros(0, np.int64) for name in _CARRY_COLUMNS}
        ).set_index("pair")
        self._streams = 0
        self._clients = _Clients()

    @property
    def parts(self) -> int:
        """How many parts were added so far."""
        return len(self._reports)

    @property
    def segments(self) -> pd.DataFrame:
        """The merged segments table so far (its columns are views of the buffers)."""
        return self._table.frame() if self._table.rows else schema.empty_segments()

    def add(self, part: Capture) -> tuple[pd.DataFrame, LoadReport, npt.NDArray[np.int64]]:
        """Append ``part`` (the next ring file): the merged segments, the merged report
        and the streams that have rows in ``part`` (whose rows before it may have changed
        ``from_client``). The rows before are not copied: the table returned by an
        earlier call stays as it was."""
        frames_before = sum(r.frames for r in self._reports)
        self._reports.append(part.load_report)
        report = self.report = _merged_report(self._reports, self.name)
        if self._first_ns is None and part.load_report.frames:
            self._first_ns = _first_frame_ns(part)
        rows = part.segments
        if not len(rows):
            return self.segments, report, np.zeros(0, np.int64)
        table = self._table
        addresses = _address_dtype([rows], known=table.categories("src_ip"))
        new = _frames_counted_on(rows, frames_before, addresses)
        new["time"] = (new["ts"].array.asi8 - self._first_ns) / 1e9
        self._number(new)
        before = table.rows
        table.recategorized(addresses)
        table.append(new)
        new_sides, moved = self._clients.decided(table.frame(), before)
        table.write("from_client", before, new_sides)
        if len(moved):  # a new row decides these streams' clients on the other side
            segments = table.frame()
            changed = np.flatnonzero(np.isin(segments["stream"].to_numpy(), moved))
            table.rewritten("from_client", changed, from_client(segments.iloc[changed]))
        segments = table.frame()
        schema.check(segments, schema.SEGMENT_DTYPES, "segments")
        return segments, report, np.unique(new["stream"].to_numpy(np.int64))

    def _keys(self, rows: pd.DataFrame, side: str) -> npt.NDArray[np.int64]:
        """Endpoint keys on the stable address ids."""
        column = rows[f"{side}_ip"]
        for address in column.cat.categories:
            self._address_ids.setdefault(address, len(self._address_ids))
        ids = np.array([self._address_ids[a] for a in column.cat.categories], dtype=np.int64)
        return ids[column.cat.codes.to_numpy(np.int64)] * PORTS + rows[f"{side}_port"].to_numpy(
            np.int64
        )

    def _number(self, new: pd.DataFrame) -> None:
        """``stream``, ``rel_seq``, ``rel_ack`` of the appended rows ``new``, in place."""
        src, dst = self._keys(new, "src"), self._keys(new, "dst")
        flags, seq, ack = (new[c].to_numpy(np.int64) for c in ("flags", "seq", "ack"))
        low, high = np.minimum(src, dst), np.maximum(src, dst)
        pair = (low << 32) | high
        carried = self._carry[self._carry.index.isin(np.unique(pair))]
        prefix = _base_rows(carried)
        count = len(prefix["pair"])
        numbered = streams(
            np.concatenate([prefix["src"], src]),
            np.concatenate([prefix["dst"], dst]),
            np.concatenate([prefix["flags"], flags]),
            np.concatenate([prefix["seq"], seq]),
            np.concatenate([prefix["ack"], ack]),
        )
        # subset conversations → stream numbers: carried ones keep theirs, the others
        # count on in order of first appearance (which is their order in ``numbered``).
        local = numbered.stream
        conversations = int(local.max()) + 1
        number = np.full(conversations, -1, dtype=np.int64)
        number[local[:count]] = carried.loc[prefix["pair"], "stream"].to_numpy()
        fresh = np.flatnonzero(number < 0)
        number[fresh] = self._streams + np.arange(len(fresh))
        self._streams += len(fresh)
        stream = number[local]
        new["stream"] = stream[count:].astype(np.uint32)
        new["rel_seq"] = numbered.rel_seq[count:].astype(np.uint32)
        new["rel_ack"] = numbered.rel_ack[count:].astype(np.uint32)
        all_pair = np.concatenate([prefix["pair"], pair])
        all_low = np.concatenate([np.minimum(prefix["src"], prefix["dst"]), low])
        direction = np.concatenate([prefix["src"] > prefix["dst"], src > dst]).astype(np.int64)
        self._carry = _updated_carry(
            self._carry,
            {
                "pair": all_pair,
                "stream": stream,
                "direction": direction,
                "low": all_low,
                "high": all_pair & 0xFFFFFFFF,
                "has_ack": np.concatenate([prefix["flags"], flags]) & ACK,
                "seq_base": (np.concatenate([prefix["seq"], seq]) - numbered.rel_seq) % _MOD,
                "ack_base": (np.concatenate([prefix["ack"], ack]) - numbered.rel_ack) % _MOD,
            },
        )


#: the carry's columns: a pair's last stream and, per direction, whether its base is
#: known and its value.
_CARRY_COLUMNS = ("pair", "low", "high", "stream", "known0", "base0", "known1", "base1")
_MOD = 1 << 32


def _base_rows(carried: pd.DataFrame) -> dict[str, npt.NDArray[np.int64]]:
    """One row per known base of each carried pair: sent by that side, neither SYN nor
    ACK, ``seq`` one past the base (so the native rules set exactly that base)."""
    parts: list[pd.DataFrame] = []
    for side in (0, 1):
        known = carried[carried[f"known{side}"] != 0]
        low, high = known["low"].to_numpy(), known["high"].to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "pair": known.index.to_numpy(),
                    "src": high if side else low,
                    "dst": low if side else high,
                    "seq": (known[f"base{side}"].to_numpy() + 1) % _MOD,
                }
            )
        )
    rows = pd.concat(parts, ignore_index=True)
    return {
        "pair": rows["pair"].to_numpy(np.int64),
        "src": rows["src"].to_numpy(np.int64),
        "dst": rows["dst"].to_numpy(np.int64),
        "seq": rows["seq"].to_numpy(np.int64),
        "flags": np.zeros(len(rows), np.int64),
        "ack": np.zeros(len(rows), np.int64),
    }


def _updated_carry(carry: pd.DataFrame, rows: dict[str, npt.NDArray[np.int64]]) -> pd.DataFrame:
    """``carry`` with each pair in ``rows`` (columns of base rows and new rows, in order)
    replaced by its last conversation: a direction's base is known once that side sent
    a row (``seq - rel_seq``) or the other side acknowledged (``ack - rel_ack``).

    >>> carry = pd.DataFrame({c: [] for c in _CARRY_COLUMNS}, dtype=np.int64).set_index("pair")
    >>> one = {c: np.array([v]) for c, v in dict(pair=5, low=0, high=5, stream=0, direction=0,
    ...        has_ack=0, seq_base=99, ack_base=0).items()}
    >>> _updated_carry(carry, one)[["stream", "known0", "base0", "known1"]].values.tolist()
    [[0, 1, 99, 0]]
    """
    pair = rows["pair"]
    pairs, from_end = np.unique(pair[::-1], return_index=True)
    last = len(pair) - 1 - from_end  # each pair's last row: its last conversation's
    stream = rows["stream"][last]
    in_last = rows["stream"] == stream[np.searchsorted(pairs, pair)]
    found = pd.DataFrame(
        {"low": rows["low"][last], "high": rows["high"][last], "stream": stream},
        index=pd.Index(pairs, name="pair"),
    )
    for side in (0, 1):
        sent = in_last & (rows["direction"] == side)
        acked = in_last & (rows["direction"] != side) & (rows["has_ack"] != 0)
        own_known, own = _first_per_pair(pairs, pair, sent, rows["seq_base"])
        acked_known, acked_base = _first_per_pair(pairs, pair, acked, rows["ack_base"])
        found[f"known{side}"] = (own_known | acked_known).astype(np.int64)
        found[f"base{side}"] = np.where(own_known, own, acked_base)
    found = found[list(_CARRY_COLUMNS[1:])]
    return pd.concat([carry[~carry.index.isin(pairs)], found])


def _first_per_pair(
    pairs: npt.NDArray[np.int64],
    pair: npt.NDArray[np.int64],
    mask: npt.NDArray[np.bool_],
    values: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """Per pair of ``pairs`` (sorted), whether a row of it is in ``mask`` and the first
    such row's value (0 where none).

    >>> _first_per_pair(np.array([1, 2]), np.array([2, 1, 2]), np.array([1, 0, 1], bool),
    ...                 np.array([7, 8, 9]))
    (array([False,  True]), array([0, 7]))
    """
    positions = np.flatnonzero(mask)
    hit, first = np.unique(pair[positions], return_index=True)
    known = np.zeros(len(pairs), dtype=bool)
    value = np.zeros(len(pairs), dtype=np.int64)
    slot = np.searchsorted(pairs, hit)
    known[slot] = True
    value[slot] = values[positions[first]]
    return known, value


class GrowingTable:
    """A table that grows at its end: each column in NumPy buffers with room to spare,
    so appending copies only the new rows, and :meth:`frame` is a DataFrame of views of
    the buffers (no copy). A categorical column keeps its codes, a nullable one its
    values and mask, a time its nanoseconds.

    The buffers reserve room for ``first_capacity`` rows (by default
    :data:`RESERVED_ROWS`: address space, whose pages are taken only as rows are
    written, :func:`small_page_zeros`), so appending never moves the rows. When the
    rows pass the room (or the system refused the reservation and gave
    :data:`FALLBACK_ROWS`), they move to buffers of twice the room, in one copy.

    A frame once returned never changes: appended rows land past its end, a buffer that
    grows is a new one, and rows before the end are changed only in a copy of their
    buffer (:meth:`rewritten`, :meth:`recategorized`).

    >>> table = GrowingTable(first_capacity=2)
    >>> table.append(pd.DataFrame({"a": [1, 2]}))
    >>> first = table.frame()
    >>> table.append(pd.DataFrame({"a": [3]}))
    >>> first["a"].tolist(), table.frame()["a"].tolist(), table.capacity
    ([1, 2], [1, 2, 3], 4)
    """

    def __init__(self, *, first_capacity: int = RESERVED_ROWS) -> None:
        #: column name -> its dtype and its buffers by part (see :func:`_parts`).
        self.dtypes: dict[str, object] = {}
        self.buffers: dict[str, dict[str, np.ndarray]] = {}
        self.rows = 0
        #: rows the buffers hold (0 before the first rows).
        self.capacity = 0
        self.first_capacity = first_capacity
        self._frame: pd.DataFrame | None = None

    def categories(self, column: str) -> pd.Index:
        """The categories of a categorical ``column`` (none before the first rows).

        >>> GrowingTable().categories("src_ip").tolist()
        []
        """
        dtype = self.dtypes.get(column)
        return dtype.categories if isinstance(dtype, pd.CategoricalDtype) else pd.Index([])

    def append(self, rows: pd.DataFrame) -> None:
        """Append ``rows`` (the table's columns, in order, with its dtypes and
        categories)."""
        end = self.rows + len(rows)
        if not self.buffers:
            self.dtypes = {column: rows[column].dtype for column in rows.columns}
            self._moved_to(max(self.first_capacity, end), end)
        elif end > self.capacity:
            self._moved_to(max(2 * self.capacity, end), end)
        for column in rows.columns:
            for part, values in _parts(rows[column]).items():
                self.buffers[column][part][self.rows : end] = values
        self.rows = end
        self._frame = None

    def _moved_to(self, capacity: int, end: int) -> None:
        """The rows so far in new buffers of ``capacity`` rows; of fewer (twice the room,
        :data:`FALLBACK_ROWS`, at least ``end``) where the system refuses that many, and
        a ``MemoryError`` that says so where it refuses even those."""
        try:
            buffers = {column: _zeroed(dtype, capacity) for column, dtype in self.dtypes.items()}
        except OSError as error:
            fewer = max(2 * self.capacity, FALLBACK_ROWS, end)
            if fewer >= capacity:
                raise MemoryError(
                    f"the system refused room for {capacity:,} rows of the merged table "
                    f"({error.strerror or error}); it holds {self.rows:,} rows and needs "
                    f"{end:,}"
                ) from error
            self._moved_to(fewer, end)
            return
        for column, parts in self.buffers.items():
            for part, values in parts.items():
                buffers[column][part][: self.rows] = values[: self.rows]
        self.buffers, self.capacity = buffers, capacity

    def write(self, column: str, start: int, values: npt.ArrayLike) -> None:
        """Set a NumPy ``column`` from row ``start`` on (rows no frame has shown yet:
        those of the last :meth:`append`)."""
        self.buffers[column]["values"][start : start + len(values)] = values  # type: ignore[arg-type]
        self._frame = None

    def rewritten(self, column: str, rows: npt.NDArray[np.int64], values: npt.ArrayLike) -> None:
        """Set a NumPy ``column`` at the positions ``rows``, in a copy of its rows so far
        (earlier frames keep theirs)."""
        old = self.buffers[column]["values"]
        buffer = small_page_zeros(self.capacity, old.dtype)
        buffer[: self.rows] = old[: self.rows]
        buffer[rows] = values
        self.buffers[column] = {"values": buffer}
        self._frame = None

    def recategorized(self, dtype: pd.CategoricalDtype) -> None:
        """Every categorical column on ``dtype``'s categories: its codes recoded in a new
        buffer, only when new categories come."""
        for column, known in self.dtypes.items():
            if isinstance(known, pd.CategoricalDtype) and not known.categories.equals(
                dtype.categories
            ):
                self.dtypes[column] = dtype
                self.buffers[column] = _recoded(self.buffers[column], known, dtype, self.rows)
                self._frame = None

    def frame(self) -> pd.DataFrame:
        """The rows so far as a DataFrame whose columns are views of the buffers."""
        if self._frame is None:
            self._frame = pd.DataFrame(
                {
                    column: _joined(self.dtypes[column], buffers, self.rows)
                    for column, buffers in self.buffers.items()
                },
                copy=False,
            )
        return self._frame


def _recoded(
    buffers: dict[str, np.ndarray],
    known: pd.CategoricalDtype,
    dtype: pd.CategoricalDtype,
    rows: int,
) -> dict[str, np.ndarray]:
    """New buffers (as many rows) of a categorical column's codes, its first ``rows``
    recoded from the categories ``known`` to ``dtype``'s.

    >>> old = pd.CategoricalDtype(["b"])
    >>> _recoded({"codes": np.array([0, 0], np.int8)}, old, pd.CategoricalDtype(["a", "b"]),
    ...          1)["codes"].tolist()
    [1, 0]
    """
    codes = buffers["codes"]
    recoded = _zeroed(dtype, len(codes))
    column = pd.Categorical.from_codes(codes[:rows], dtype=known, validate=False)
    recoded["codes"][:rows] = column.set_categories(dtype.categories).codes
    return recoded


def _parts(column: pd.Series) -> dict[str, npt.NDArray[Any]]:
    """A column's values as NumPy arrays: a categorical's codes, a nullable column's
    values (0 where missing) and mask, a time's nanoseconds since the epoch.

    >>> _parts(pd.Series([7, None], dtype="UInt16"))["mask"].tolist()
    [False, True]
    """
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return {"codes": column.cat.codes.to_numpy()}
    if isinstance(dtype, pd.DatetimeTZDtype):
        return {"values": column.array.asi8}
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):  # a nullable number or bool
        numpy_dtype = dtype.numpy_dtype  # type: ignore[attr-defined]
        return {
            "values": column.to_numpy(numpy_dtype, na_value=numpy_dtype.type(0)),
            "mask": column.isna().to_numpy(),
        }
    return {"values": column.to_numpy()}


def _zeroed(dtype: object, capacity: int) -> dict[str, np.ndarray]:
    """Buffers of ``capacity`` rows, zeros, for a column of ``dtype`` (by part), in
    memory of small pages (:func:`small_page_zeros`).

    >>> {part: b.dtype.name for part, b in _zeroed(pd.UInt16Dtype(), 4).items()}
    {'values': 'uint16', 'mask': 'bool'}
    """
    empty = _parts(pd.Series([], dtype=dtype))  # type: ignore[call-overload]
    return {part: small_page_zeros(capacity, values.dtype) for part, values in empty.items()}


def small_page_zeros(count: int, dtype: npt.DTypeLike) -> np.ndarray:
    """``count`` zeros of ``dtype`` in a private anonymous memory map of small pages,
    taken only as they are written (on Linux without swap set aside: a large ``count``
    reserves address space, not memory). NumPy asks for huge pages (2 MB, zeroed at
    the first write to any byte of them) for arrays of 4 MB and more, and a shared map
    costs more at the first write to a page and when it is unmapped (0.52-0.63 s and
    0.12 s for 580 MB here, against 0.38 s and 0.045 s for a private one).

    >>> zeros = small_page_zeros(3, np.uint16); zeros[1] = 7; zeros.tolist()
    [0, 7, 0]
    """
    dtype = np.dtype(dtype)
    size = max(count * dtype.itemsize, 1)
    if hasattr(mmap, "MAP_PRIVATE"):  # Unix
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
        memory = mmap.mmap(-1, size, flags | (MAP_NORESERVE if _LINUX else 0))
    else:
        memory = mmap.mmap(-1, size)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):  # Linux: small pages even where THP is "always"
        memory.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(memory, dtype=dtype, count=count)


def _joined(dtype: object, buffers: dict[str, np.ndarray], rows: int) -> Any:
    """The first ``rows`` of a column's buffers as its array, without a copy.

    >>> parts = {"values": np.array([1, 0], np.uint8), "mask": np.array([0, 1], bool)}
    >>> _joined(pd.UInt8Dtype(), parts, 2)
    <IntegerArray>
    [1, <NA>]
    Length: 2, dtype: UInt8
    """
    if isinstance(dtype, pd.CategoricalDtype):
        return pd.Categorical.from_codes(buffers["codes"][:rows], dtype=dtype, validate=False)
    if isinstance(dtype, pd.DatetimeTZDtype):  # the public constructors copy
        ns = buffers["values"][:rows].view(f"M8[{dtype.unit}]")
        return pd.arrays.DatetimeArray._simple_new(ns, dtype=dtype)
    if "mask" in buffers:
        array_type = dtype.construct_array_type()  # type: ignore[attr-defined]
        return array_type(buffers["values"][:rows], buffers["mask"][:rows], copy=False)
    return buffers["values"][:rows]


class _Clients:
    """``from_client`` of a table that grows at its end, at the cost of the new rows.

    :func:`hskit.direction.from_client` decides each stream's client from one row: its
    first SYN without ACK, else its first SYN-ACK, else its first row. So it is run on
    the new rows behind each of their streams' first rows of those three kinds seen so
    far (the only rows that can decide), and on all rows of a stream again only when
    the new rows change the side its client is on.

    >>> clients = _Clients()  # doctest: +SKIP
    >>> segments["from_client"] = clients.decided(segments, rows_before)  # doctest: +SKIP
    """

    def __init__(self) -> None:
        #: per stream, the row of its first SYN without ACK, SYN-ACK and row (-1: none).
        self.firsts = np.full((0, 3), -1, dtype=np.int64)

    def decided(
        self, segments: pd.DataFrame, before: int
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
        """``from_client`` of the rows of ``segments`` from ``before`` on, and the streams
        whose earlier rows it changes (a new row decides the client on the other side).
        The first ``before`` rows are those of the previous calls, with their answers in
        the ``from_client`` column; the cost follows the new rows."""
        stream = segments["stream"].to_numpy()
        new_stream = stream[before:].astype(np.int64)
        if len(new_stream) and new_stream.max() >= len(self.firsts):
            grown = np.full((int(new_stream.max()) + 1, 3), -1, dtype=np.int64)
            grown[: len(self.firsts)] = self.firsts
            self.firsts = grown
        deciding = self.firsts[np.unique(new_stream)].reshape(-1)
        deciding = np.unique(deciding[deciding >= 0])
        rows = np.concatenate([deciding, np.arange(before, len(stream))])
        answer = from_client(segments[list(CLIENT_COLUMNS)].iloc[rows])  # not every column
        moved = answer[: len(deciding)] != segments["from_client"].to_numpy()[deciding]
        self._remember_firsts(segments, before)
        return answer[len(deciding) :], np.unique(stream[deciding[moved]]).astype(np.int64)

    def _remember_firsts(self, segments: pd.DataFrame, before: int) -> None:
        stream = segments["stream"].to_numpy()[before:].astype(np.int64)
        flags = segments["flags"].to_numpy()[before:].astype(np.int64) & (SYN | ACK)
        for kind, mask in enumerate((flags == SYN, flags == SYN | ACK, np.ones(len(flags), bool))):
            streams, first = np.unique(stream[mask], return_index=True)
            rows = np.flatnonzero(mask)[first] + before
            unset = self.firsts[streams, kind] < 0
            self.firsts[streams[unset], kind] = rows[unset]
