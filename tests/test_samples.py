"""``hskit.samples`` finds the bundled captures and their manifest, by name or file name."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
from conftest import SAMPLE_CAPTURES, SAMPLE_DIR

import hskit
from hskit import samples, schema
from hskit.errors import HskitError, UnknownSample


def test_names_are_the_sample_captures_without_their_suffixes() -> None:
    files = [path.name for path in SAMPLE_CAPTURES]
    assert samples.names() == sorted(name.split(".")[0] for name in files)
    assert [samples.path(name).name for name in samples.names()] == sorted(files)


def test_a_sample_is_found_by_name_or_by_file_name() -> None:
    assert samples.path("refused") == samples.path("refused.pcap") == SAMPLE_DIR / "refused.pcap"
    assert samples.path("busy_server") == samples.path("busy_server.pcap.gz")
    assert samples.path("two_interfaces").name == "two_interfaces.pcapng"


def test_an_unknown_name_raises_a_typed_error_listing_the_names() -> None:
    with pytest.raises(UnknownSample) as raised:
        samples.path("refused.pcapng")
    assert isinstance(raised.value, HskitError) and isinstance(raised.value, LookupError)
    message = str(raised.value)
    assert "'refused.pcapng'" in message
    assert all(name in message for name in samples.names())


def test_manifest_holds_the_csv_rows_with_the_schema_dtypes() -> None:
    with (SAMPLE_DIR / "manifest.csv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    table = samples.manifest()
    assert list(table.columns) == list(rows[0])
    assert len(table) == len(rows)
    as_text = table.astype(object).where(table.notna(), "").astype(str)
    assert as_text.to_dict("records") == rows
    assert table["handshake"].dtype == schema.HANDSHAKE_DTYPE
    assert table["conn_state"].dtype == schema.CONN_STATE_DTYPE
    assert table["stream"].dtype == schema.CONNECTION_DTYPES["stream"]


def test_a_manifest_row_compares_with_the_connections_table() -> None:
    expected = samples.manifest().query("file == 'refused.pcap'")
    connections = hskit.load(samples.path("refused")).connections
    columns = ["stream", "handshake", "termination", "conn_state"]
    pd.testing.assert_frame_equal(
        expected[columns].reset_index(drop=True), connections[columns].reset_index(drop=True)
    )
