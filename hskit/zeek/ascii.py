"""A conn_log table written as Zeek writes conn.log: its TSV format or its JSON lines.

TSV, as Zeek's ASCII writer (``logging/writers/ascii``): a header of ``#separator``
(``\\x09``), ``#set_separator`` (``,``), ``#empty_field`` (``(empty)``),
``#unset_field`` (``-``), ``#path``, ``#open`` (local time, ``%Y-%m-%d-%H-%M-%S``),
``#fields`` and ``#types``, one tab-separated line per row and a ``#close`` line. Values
as Zeek's ASCII formatter writes them: ``time`` and ``interval`` with six decimals,
``count`` and ``port`` as integers, ``bool`` as ``T``/``F``, addresses in their usual
text, an unset field as ``-``, an empty string or set as ``(empty)``, a set's elements
joined by ``,``.

JSON (``LogAscii::use_json=T``): one object per row, keys in field order, unset fields
left out, times and intervals as numbers (seconds), counts and ports as integers, sets
as arrays.

Zeek reads a capture's timestamps in microseconds (a nanosecond capture's are cut to
microseconds), as doubles of seconds since the epoch: times and durations are written
from those, so the text is Zeek's.

>>> print(header_lines(["ts", "uid"], ["time", "string"], opened="2024-01-01-00-00-00"))
#separator \\x09
#set_separator	,
#empty_field	(empty)
#unset_field	-
#path	conn
#open	2024-01-01-00-00-00
#fields	ts	uid
#types	time	string
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from hskit import schema

SEPARATOR = "\t"
SET_SEPARATOR = ","
EMPTY_FIELD = "(empty)"
UNSET_FIELD = "-"
#: strftime format of ``#open`` and ``#close`` (``Ascii::Timestamp``).
HEADER_TIME_FORMAT = "%Y-%m-%d-%H-%M-%S"
_MICROSECONDS = 1_000_000
#: characters that make a text value need escaping (TSV) or quoting care (JSON).
_SPECIAL = r'[\t\\"\x00-\x1f\x7f]'


def write_conn_log(
    table: pd.DataFrame,
    destination: str | Path,
    *,
    as_json: bool = False,
    opened: str | None = None,
) -> Path:
    """Write a conn_log table to ``destination`` as Zeek's TSV conn.log, or as its JSON
    lines with ``as_json``. ``opened`` is the ``#open``/``#close`` time text (now, in
    local time, by default).

    >>> write_conn_log(hskit.zeek.conn_log(segments), "conn.log")  # doctest: +SKIP
    PosixPath('conn.log')
    """
    path = Path(destination)
    text = to_json_lines(table) if as_json else to_tsv(table, opened=opened)
    path.write_text(text, encoding="utf-8")
    return path


def header_lines(
    fields: Sequence[str], types: Sequence[str], *, opened: str, path_name: str = "conn"
) -> str:
    """The ``#``-lines Zeek writes before the rows of a log."""
    return "\n".join(
        [
            f"#separator {_escaped(SEPARATOR)}",
            f"#set_separator{SEPARATOR}{SET_SEPARATOR}",
            f"#empty_field{SEPARATOR}{EMPTY_FIELD}",
            f"#unset_field{SEPARATOR}{UNSET_FIELD}",
            f"#path{SEPARATOR}{path_name}",
            f"#open{SEPARATOR}{opened}",
            "#fields" + SEPARATOR + SEPARATOR.join(fields),
            "#types" + SEPARATOR + SEPARATOR.join(types),
        ]
    )


def to_tsv(table: pd.DataFrame, *, opened: str | None = None) -> str:
    """A conn_log table as the text of Zeek's TSV conn.log."""
    stamp = opened or time.strftime(HEADER_TIME_FORMAT, time.localtime())
    types = [schema.CONN_LOG_ZEEK_TYPES[name] for name in table.columns]
    lines = [header_lines(list(table.columns), types, opened=stamp)]
    if len(table):
        rows = _tsv_column(table[table.columns[0]], types[0])
        for name, kind in zip(table.columns[1:], types[1:], strict=True):
            rows = rows + SEPARATOR + _tsv_column(table[name], kind)
        lines.append("\n".join(rows.tolist()))
    lines.append(f"#close{SEPARATOR}{stamp}")
    return "\n".join(lines) + "\n"


def to_json_lines(table: pd.DataFrame) -> str:
    """A conn_log table as Zeek's JSON conn.log: one object per line."""
    if len(table) == 0:
        return ""
    types = [schema.CONN_LOG_ZEEK_TYPES[name] for name in table.columns]
    lines = np.full(len(table), "", dtype=object)
    for name, kind in zip(table.columns, types, strict=True):
        values = _json_column(table[name], kind, table)
        present = values != None  # noqa: E711 (elementwise)
        key = "," + json.dumps(name) + ":"
        lines[present] = lines[present] + key + values[present]
    objects = np.char.add(np.char.add("{", np.char.lstrip(lines.astype(str), ",")), "}")
    return "\n".join(objects.tolist()) + "\n"


def zeek_seconds(ts: pd.Series) -> npt.NDArray[np.float64]:
    """Timestamps as Zeek holds them: seconds since the epoch as doubles, from whole
    seconds plus microseconds (``tv_sec + tv_usec / 1e6``)."""
    return _seconds(_microseconds(ts))


def _seconds(micros: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    seconds, fraction = np.divmod(micros, _MICROSECONDS)
    return seconds.astype(np.float64) + fraction / 1e6


def _microseconds(ts: pd.Series) -> npt.NDArray[np.int64]:
    """Timestamps in whole microseconds (cut, as libpcap cuts nanoseconds for Zeek)."""
    return np.floor_divide(ts.array.asi8, 1000)


def _interval_micros(column: pd.Series) -> npt.NDArray[np.int64]:
    """Intervals (seconds) in whole microseconds (0 where unset)."""
    return np.rint(column.to_numpy(np.float64, na_value=0.0) * _MICROSECONDS).astype(np.int64)


def _tsv_column(column: pd.Series, kind: str) -> npt.NDArray[np.object_]:
    """One column's cells as Zeek's ASCII formatter writes them."""
    missing = column.isna().to_numpy()
    if kind == "time":
        text = _six_decimals(_microseconds(column))
    elif kind == "interval":
        text = _six_decimals(_interval_micros(column))
    elif kind == "bool":
        text = np.where(column.fillna(False).to_numpy(bool), "T", "F").astype(object)
    elif kind in ("count", "port"):
        text = column.to_numpy(np.int64, na_value=0).astype(str).astype(object)
    else:  # string, addr, enum, set[string]: text, separators and odd bytes escaped
        text = _text(column, _escaped_value)
        text[text == ""] = EMPTY_FIELD
    text[missing] = UNSET_FIELD
    return text


def _json_column(column: pd.Series, kind: str, table: pd.DataFrame) -> npt.NDArray[np.object_]:
    """One column's JSON values as text (None where the field is unset)."""
    missing = column.isna().to_numpy()
    if kind == "time":
        text = zeek_seconds(column).astype(str).astype(object)
    elif kind == "interval":
        # last_time - start_time, both as Zeek's doubles
        start = _microseconds(table["ts"])
        duration = _seconds(start + _interval_micros(column)) - _seconds(start)
        text = duration.astype(str).astype(object)
    elif kind == "bool":
        text = np.where(column.fillna(False).to_numpy(bool), "true", "false").astype(object)
    elif kind in ("count", "port"):
        text = column.to_numpy(np.int64, na_value=0).astype(str).astype(object)
    elif kind.startswith("set["):
        text = "[" + _text(column, json.dumps) + "]"
        text[column.fillna("").to_numpy(str) == ""] = "[]"
    else:
        text = '"' + _text(column, lambda value: json.dumps(value)[1:-1]) + '"'
    text[missing] = None
    return text


def _text(column: pd.Series, escape: Callable[[str], str]) -> npt.NDArray[np.object_]:
    """A text column's values (NA as empty), ``escape`` applied to the few that hold a
    separator, a backslash, a quote or a control character."""
    text = column.astype("string").fillna("")
    odd = text.str.contains(_SPECIAL, regex=True).to_numpy(bool)
    values = text.to_numpy(object)
    values[odd] = [escape(value) for value in values[odd]]
    return values


def _six_decimals(micros: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
    """Whole microseconds as seconds with six decimals (``%.6f``)."""
    seconds, fraction = np.divmod(micros, _MICROSECONDS)
    fraction_text = np.char.zfill(fraction.astype(str), 6)
    return np.char.add(np.char.add(seconds.astype(str), "."), fraction_text).astype(object)


def _escaped(text: str) -> str:
    """Every character as ``\\xNN`` (how Zeek writes its separator in the header)."""
    return "".join(f"\\x{ord(character):02x}" for character in text)


def _escaped_value(text: str) -> str:
    """A string value as Zeek's ASCII formatter escapes it: the separator, backslash
    and non-printable characters as ``\\xNN``."""
    return "".join(
        character
        if character.isprintable() and character not in (SEPARATOR, "\\")
        else _escaped(character)
        for character in text
    )
