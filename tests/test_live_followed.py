"""A long connection followed from a window of its rows (:class:`hskit.live.incremental.
Classified`) is followed only while the window reproduces it, and its tables equal
``hskit.classify`` of every row so far after every piece either way.

The conversations are hand-built (:mod:`hskit.classify.synthetic`) with the window small
(a few rows), so that what decides the connection's teardown lies before the window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hskit.classify.synthetic import Conversation, segments
from hskit.live.incremental import Classified, _history, _same_steps, _same_values
from tests.test_live_incremental import _equal_to_the_whole_after_every_piece

#: a stream of 24 rows is long; its window holds 4 rows of its start and 8 before the new.
SMALL = {"long": 24, "head": 4, "context": 8}
#: pieces the conversation is fed in (its rows about evenly).
PIECES = 20


def _data(talk: Conversation, sender: str, count: int) -> Conversation:
    """``count`` data segments from ``sender``, each acknowledged by the other side."""
    for _ in range(count):
        if sender == "client":
            talk.client("P.", data=10).server(".")
        else:
            talk.server("P.", data=10).client(".")
    return talk


def test_a_long_stream_is_followed_from_its_window() -> None:
    talk = Conversation().client("S").server("S.").client(".")
    table = segments(_data(talk, "client", 60))
    tables = Classified(**SMALL)
    _equal_to_the_whole_after_every_piece(table, tables, PIECES)
    assert tables.followed == {0}, "the stream should have been followed"


def test_a_half_close_before_the_window_is_not_followed() -> None:
    # the client closes its side early, the server sends on: the FIN lies before the
    # window, which alone would say the connection is open and both sides established
    talk = _data(Conversation().client("S").server("S.").client("."), "client", 2)
    talk.client("F.").server(".")
    table = segments(_data(talk, "server", 60))
    tables = Classified(**SMALL)
    _equal_to_the_whole_after_every_piece(table, tables, PIECES)
    assert tables.followed == set()


def test_rows_compared_value_by_value_treat_missing_values_as_equal_only_to_missing() -> None:
    row = {"a": 1, "b": pd.NA, "c": np.nan, "d": pd.NaT, "e": "x", "f": pd.Timestamp(0)}
    assert _same_values(row, dict(row), set())
    for column, other in [("a", 2), ("b", 0), ("c", 0.0), ("d", pd.Timestamp(0)), ("e", "y"),
                          ("f", pd.NaT), ("a", pd.NA)]:  # fmt: skip
        changed = {**row, column: other}
        assert not _same_values(row, changed, set()), column
        assert _same_values(row, changed, {column}), column  # a column left out


def test_state_rows_compared_cell_by_cell() -> None:
    rows = [(0, "client", "ESTABLISHED", 0.5, pd.NA)]
    assert _same_steps(rows, [tuple(rows[0])])
    assert not _same_steps(rows, [(0, "client", "FIN_WAIT_1", 0.5, pd.NA)])
    assert not _same_steps(rows, [(0, "client", "ESTABLISHED", 0.5, 3)])
    assert not _same_steps(rows, rows * 2)
    assert not _same_steps(rows, None) and not _same_steps(None, None)


def test_history_grows_by_the_first_teardown_letters_only() -> None:
    assert _history("ShAD", "ShADd", "ShADad") == "ShADad"  # a letter the stream has
    assert _history("ShAD", "ShADdFf", "ShADad") == "ShADadFf"  # first FINs
    assert _history("ShAD", "ShADTt", "ShADadT") == "ShADadTt"  # first T of the server
    assert _history("ShAD", "ShADg", "ShADad") is None  # a letter that is not a first
    assert _history("ShAD", "ShAd", "ShADad") is None  # the window's history rewritten
