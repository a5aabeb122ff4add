"""``hskit summary`` and ``hskit connections``: what they print and write matches the
connections table, computed here separately with ``hskit.load``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import ZEEK_ORACLE_DIR

import hskit
from hskit.cli import classify_commands, main

# Seven streams: six complete handshakes closed with FINs, one reset in the handshake.
TRACE = "scripts.base.protocols.modbus.modbus_and_non_modbus_on_port_502.pcap"
CAPTURE = ZEEK_ORACLE_DIR / "traces" / TRACE


@pytest.fixture(scope="module")
def connections(zeek_oracle_dir) -> pd.DataFrame:
    return hskit.load(CAPTURE).connections


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def printed_counts(output: str, column: str) -> dict[str, int]:
    """The rows of the ``column  count`` table in ``hskit summary``'s output."""
    block = output.split(f"\n{column} ")[1].split("\n\n")[0]
    return {line.split()[0]: int(line.split()[1]) for line in block.splitlines()[1:]}


def test_summary_counts_match_the_connections_table(connections):
    code, output = run("summary", str(CAPTURE))
    assert code == 0, output
    print(output)
    assert f"{len(connections)} connections" in output.splitlines()[0]
    for column in classify_commands.COUNTED:
        expected = connections[column].astype(str).value_counts().to_dict()
        assert printed_counts(output, column) == expected, column


def test_summary_prints_handshake_time_percentiles_of_complete_handshakes(connections):
    _, output = run("summary", str(CAPTURE))
    times = connections.loc[connections["handshake"] == "complete", "handshake_time"]
    lines = output.rstrip().splitlines()
    assert lines[-3].startswith(f"handshake_time of {len(times)} complete handshakes")
    printed = [float(cell) for cell in lines[-1].split()]
    expected = np.percentile(times.to_numpy() * 1e3, [0, 50, 90, 99, 100])
    assert printed == pytest.approx(expected, abs=5e-4)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_connections_writes_the_connections_table(connections, tmp_path, suffix):
    output = tmp_path / f"out{suffix}"
    code, printed = run("connections", str(CAPTURE), "-o", str(output))
    assert code == 0, printed
    assert printed.strip() == f"wrote {len(connections)} connections to {output}"
    written = pd.read_csv(output) if suffix == ".csv" else pd.read_parquet(output)
    assert list(written.columns) == list(connections.columns)
    assert written["stream"].tolist() == connections["stream"].tolist()
    assert (
        written["handshake"].astype(str).tolist() == connections["handshake"].astype(str).tolist()
    )
    if suffix == ".parquet":
        pd.testing.assert_frame_equal(written, connections)


@pytest.mark.parametrize("command", [["summary"], ["connections", "-o", "x.csv"]])
def test_missing_capture_is_one_line_error(command, tmp_path):
    code, output = run(command[0], str(tmp_path / "missing.pcap"), *command[1:])
    assert code != 0
    assert len(output.strip().splitlines()) == 1, output
    assert "CaptureNotFound" in output


def test_file_that_is_not_a_capture_is_one_line_error(tmp_path):
    text = tmp_path / "notes.pcap"
    text.write_text("not a capture\n" * 10)
    code, output = run("summary", str(text))
    assert code != 0
    assert len(output.strip().splitlines()) == 1, output
    assert "NotACapture" in output


def test_unknown_output_format_is_refused(zeek_oracle_dir, tmp_path):
    code, output = run("connections", str(CAPTURE), "-o", str(tmp_path / "out.txt"))
    assert code != 0
    assert "must end in .parquet or .csv" in output.strip().splitlines()[-1]
