"""``hskit demo`` analyzes every bundled capture natively and reports its connections."""

from __future__ import annotations

import re

import pandas as pd
from click.testing import CliRunner
from conftest import SAMPLE_CAPTURES, SAMPLE_DIR

from hskit.cli import main


def test_demo_reports_every_sample_with_its_manifest_connection_count() -> None:
    result = CliRunner().invoke(main, ["demo", "--max-rows", "3"])
    assert result.exit_code == 0, result.output
    reported = {
        match["file"]: int(match["connections"])
        for match in re.finditer(
            r"^== (?P<file>\S+): \d+ frames?, \d+ TCP segments?, "
            r"(?P<connections>\d+) connections?$",
            result.output,
            flags=re.MULTILINE,
        )
    }
    manifest = pd.read_csv(SAMPLE_DIR / "manifest.csv")
    expected = manifest.groupby("file").size().to_dict()
    assert set(reported) == {path.name for path in SAMPLE_CAPTURES}
    assert reported == expected


def test_demo_on_a_folder_without_captures_fails_with_one_line(tmp_path) -> None:
    result = CliRunner().invoke(main, ["demo", str(tmp_path)])
    assert result.exit_code != 0
    assert "no .pcap" in result.output and "Traceback" not in result.output
