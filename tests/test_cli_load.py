"""``hskit info`` and ``hskit segments``, and the CLI's behaviour on bad input."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import SAMPLE_DIR

import hskit
from hskit.cli import main

CAPTURE = SAMPLE_DIR / "port_reuse.pcap"


def _info_fields(output: str) -> dict[str, str]:
    return dict(re.findall(r"^(\S[^\n]*?)\s{2,}(\S[^\n]*)$", output, flags=re.MULTILINE))


def test_info_counts_frames_and_streams_as_tshark_does(tshark: str) -> None:
    result = CliRunner().invoke(main, ["info", str(CAPTURE)])
    assert result.exit_code == 0, result.output
    fields = _info_fields(result.output)
    listing = subprocess.run(
        [
            tshark,
            "-n",
            "-r",
            str(CAPTURE),
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "tcp.stream",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    rows = [line.split("\t") for line in listing if line]
    assert int(fields["frames"]) == len(rows)
    assert int(fields["TCP segments"]) == sum(1 for row in rows if row[1])
    assert int(fields["streams"]) == len({row[1] for row in rows if row[1]})
    assert fields["backend"] == "native" and fields["link types"] == "EN10MB"


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_segments_writes_the_segments_table(tmp_path: Path, suffix: str) -> None:
    output = tmp_path / f"segments{suffix}"
    result = CliRunner().invoke(main, ["segments", str(CAPTURE), "-o", str(output)])
    assert result.exit_code == 0, result.output
    written = pd.read_parquet(output) if suffix == ".parquet" else pd.read_csv(output)
    expected = hskit.load(CAPTURE).segments
    assert len(written) == len(expected)
    assert written["frame"].tolist() == expected["frame"].tolist()
    assert written["seq"].tolist() == expected["seq"].tolist()
    if suffix == ".parquet":
        pd.testing.assert_frame_equal(written, expected, check_categorical=False)


@pytest.mark.parametrize(
    ("content", "error"),
    [(None, "CaptureNotFound"), (b"", "NotACapture"), (b"GET / HTTP/1.1\r\n\r\n", "NotACapture")],
)
def test_bad_input_gives_one_line_and_a_nonzero_exit(
    tmp_path: Path, content: bytes | None, error: str
) -> None:
    path = tmp_path / "input.pcap"
    if content is not None:
        path.write_bytes(content)
    result = CliRunner().invoke(main, ["info", str(path)])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and error in lines[0], result.output


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for name in main.commands:
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, name


def test_segments_refuses_an_unknown_output_format(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["segments", str(CAPTURE), "-o", str(tmp_path / "x.txt")])
    assert result.exit_code != 0 and ".parquet or .csv" in result.output
