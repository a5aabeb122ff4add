"""``classify`` takes shortcuts that must not change its output.

- It computes ``conn_state`` and ``history`` from its own stream-sorted rows
  (:func:`hskit.classify.zeek.sorted_conn_fields`, endpoints told apart by
  ``from_client``) instead of calling :func:`hskit.classify.zeek.zeek_conn_fields`, the
  function the Zeek oracle tests check (endpoints told apart by address and port).
- On large tables it computes them on a second thread.

Both must give exactly what the plain path gives, on every capture in the repo and in
the Zeek oracle.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import ALL_CAPTURES

import hskit
from hskit.classify.zeek import zeek_conn_fields
from hskit.classify.zeek.ports import DEFAULT_LIKELY_SERVER_PORTS

classify_package = sys.modules["hskit.classify"]
PORT_CHOICES = {"client_by_syn": None, "zeek_ports": DEFAULT_LIKELY_SERVER_PORTS}


def _segments(capture: Path) -> pd.DataFrame:
    return hskit.load(capture, backend="auto", progress=False).segments


@pytest.mark.parametrize("ports", PORT_CHOICES.values(), ids=PORT_CHOICES.keys())
@pytest.mark.parametrize("capture", ALL_CAPTURES, ids=lambda path: path.name)
def test_zeek_columns_equal_zeek_conn_fields(capture: Path, ports: frozenset[int] | None) -> None:
    segments = _segments(capture)
    connections, _ = hskit.classify(segments, likely_server_ports=ports)
    expected = zeek_conn_fields(segments, likely_server_ports=ports)
    got = connections.set_index("stream")[["conn_state", "history"]]
    assert len(got) == segments["stream"].nunique()
    pd.testing.assert_frame_equal(got, expected.loc[got.index], check_names=False)


@pytest.mark.parametrize("capture", ALL_CAPTURES, ids=lambda path: path.name)
def test_threaded_path_equals_serial_path(capture: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    segments = _segments(capture)
    monkeypatch.setattr(classify_package, "PARALLEL_MIN_SEGMENTS", 10**12)
    serial = hskit.classify(segments)
    monkeypatch.setattr(classify_package, "PARALLEL_MIN_SEGMENTS", 0)
    monkeypatch.setattr(classify_package, "_cpus", lambda: 2)
    threaded = hskit.classify(segments)
    for serial_table, threaded_table in zip(serial, threaded, strict=True):
        pd.testing.assert_frame_equal(threaded_table, serial_table, check_exact=True)


def test_threaded_path_raises_the_workers_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error on the Zeek thread reaches the caller, not a log."""

    def broken(*arguments: object) -> None:
        raise RuntimeError("zeek worker failed")

    monkeypatch.setattr(classify_package, "PARALLEL_MIN_SEGMENTS", 0)
    monkeypatch.setattr(classify_package, "_cpus", lambda: 2)
    monkeypatch.setattr(classify_package, "sorted_conn_fields", broken)
    with pytest.raises(RuntimeError, match="zeek worker failed"):
        hskit.classify(_segments(ALL_CAPTURES[0]))
