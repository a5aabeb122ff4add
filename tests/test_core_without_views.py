"""The tables, the samples, the accessor's table methods and the CLI's summary, demo and
diagnose need none of the view libraries (plotly, ipywidgets, anywidget).

Each check runs in a fresh interpreter in which importing those libraries fails, as on
a machine without them; only the views, the widgets and ``hskit report`` import them.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

#: makes ``import plotly`` (and the others) raise ImportError in the child interpreter.
BLOCK_VIEWS = (
    "import sys\nfor name in ('plotly', 'ipywidgets', 'anywidget'):\n    sys.modules[name] = None\n"
)


def run_without_views(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_VIEWS + code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.mark.parametrize("command", ["summary", "diagnose", "info"])
def test_cli_commands_on_tables_run_without_plotly(command: str) -> None:
    code = (
        "import hskit\nfrom hskit.cli import main\n"
        f"main(['{command}', str(hskit.samples.path('syn_flood'))], standalone_mode=False)\n"
    )
    assert "syn_flood" in run_without_views(code)


def test_demo_runs_without_plotly() -> None:
    code = "from hskit.cli import main\nmain(['demo', '--max-rows', '1'], standalone_mode=False)\n"
    assert "== refused.pcap" in run_without_views(code)


def test_the_accessors_table_methods_run_without_plotly() -> None:
    code = (
        "import hskit\n"
        "segments = hskit.load(hskit.samples.path('refused')).segments\n"
        "print(segments.hs.summary().loc['handshake'].index.tolist())\n"
        "print(len(segments.hs.diagnose()), len(segments.hs.filter('rst')))\n"
        "try:\n    segments.hs.ladder()\nexcept ImportError:\n    print('ladder needs plotly')\n"
    )
    assert run_without_views(code).splitlines() == ["['refused']", "1 1", "ladder needs plotly"]
