"""Classifying a growing capture one piece at a time gives ``hskit.classify`` of all of it.

Each sample capture's segments are cut into pieces of rows; after every piece the
tables of :class:`hskit.live.incremental.Classified` (the touched streams classified
again, the others cached) must equal ``hskit.classify`` of the rows so far, every
column of connections and states.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

import hskit
from hskit.direction import from_client
from hskit.live.incremental import Classified, _classified_apart
from tests.conftest import SAMPLE_CAPTURES

if TYPE_CHECKING:
    import numpy.typing as npt

#: pieces each capture is cut into (rows, about evenly).
PIECES = 12


def _rows_so_far(segments: pd.DataFrame, end: int) -> pd.DataFrame:
    """The first ``end`` rows as a capture of them alone has them (client decided again,
    only the addresses seen so far)."""
    rows = segments.iloc[:end].copy()
    seen = set(rows["src_ip"]) | set(rows["dst_ip"])
    addresses = [a for a in segments["src_ip"].cat.categories if a in seen]
    for column in ("src_ip", "dst_ip"):
        rows[column] = rows[column].cat.set_categories(addresses)
    rows["from_client"] = from_client(rows)
    return rows


def growing(
    segments: pd.DataFrame, pieces: int
) -> Iterator[tuple[pd.DataFrame, npt.NDArray[np.int64] | None]]:
    """``segments`` grown in ``pieces`` steps, as a live capture sees them: the rows so
    far (:func:`_rows_so_far`) and the streams the step's new rows touched (None at the
    first step: everything is new)."""
    ends = np.unique(np.linspace(0, len(segments), pieces + 1).astype(int))[1:]
    start = 0
    for end in ends:
        rows = _rows_so_far(segments, end)
        touched = np.unique(rows["stream"].to_numpy(np.int64)[start:])
        yield rows, touched if start else None
        start = end


def _equal_to_the_whole_after_every_piece(
    segments: pd.DataFrame, tables: Classified, pieces: int
) -> None:
    """Feed ``segments`` to ``tables`` in ``pieces`` and check, after each, that its
    tables equal ``hskit.classify`` of every row so far."""
    for rows, touched in growing(segments, pieces):
        connections, states = tables.update(rows, touched)
        truth_connections, truth_states = hskit.classify(rows)
        pd.testing.assert_frame_equal(connections, truth_connections)
        pd.testing.assert_frame_equal(states, truth_states)


@pytest.mark.parametrize("capture", SAMPLE_CAPTURES, ids=lambda p: p.name)
def test_pieces_classified_incrementally_equal_the_whole_classified(capture: Path) -> None:
    segments = hskit.load(capture, progress=False).segments
    _equal_to_the_whole_after_every_piece(segments, Classified(), PIECES)


#: thresholds small enough that the sample captures' longer connections are followed
#: from a window of their rows.
SMALL = {"long": 24, "head": 6, "context": 12}


@pytest.mark.parametrize("capture", SAMPLE_CAPTURES, ids=lambda p: p.name)
def test_long_connections_followed_from_a_window_equal_the_whole_classified(
    capture: Path,
) -> None:
    segments = hskit.load(capture, progress=False).segments
    tables = Classified(**SMALL)
    _equal_to_the_whole_after_every_piece(segments, tables, 4 * PIECES)
    rows = _rows_so_far(segments, len(segments))
    connections, states = tables.exact(rows)
    truth_connections, truth_states = hskit.classify(rows)
    pd.testing.assert_frame_equal(connections, truth_connections)
    pd.testing.assert_frame_equal(states, truth_states)


def test_groups_classified_apart_in_one_call_equal_each_group_classified_alone() -> None:
    segments = hskit.load(hskit.samples.path("busy_server"), progress=False).segments
    stream = segments["stream"].to_numpy(np.int64)
    groups = [
        np.flatnonzero(stream % 2 == 0),
        np.flatnonzero(stream < 5),  # rows also in the first group
        np.arange(len(segments)),  # every row: its intervals end where the call's do
    ]
    for group, (connections, states) in zip(
        groups, _classified_apart(segments, groups), strict=True
    ):
        truth_connections, truth_states = hskit.classify(segments.iloc[group])
        pd.testing.assert_frame_equal(connections, truth_connections)
        ends = ["end"] if len(group) < len(segments) else []
        pd.testing.assert_frame_equal(states.drop(columns=ends), truth_states.drop(columns=ends))
