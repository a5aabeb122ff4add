"""``hskit demo``: load every bundled sample capture natively and print what each connection did.

The captures are :mod:`hskit.samples`, shipped inside the package, so the demo runs
from any folder after ``pip install hskit``.

>>> from click.testing import CliRunner
>>> CliRunner().invoke(main, ["demo", "--help"]).exit_code
0
"""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

import hskit
from hskit import samples
from hskit.cli import main
from hskit.timing import endpoint_text
from hskit.wording import counted

_SHOWN = ["stream", "client", "server", "handshake", "termination", "conn_state", "history"]


def sample_captures(folder: Path) -> list[Path]:
    """The capture files in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.name.endswith(samples.CAPTURE_SUFFIXES))


def connection_lines(connections: pd.DataFrame) -> pd.DataFrame:
    """The columns ``hskit demo`` prints, with endpoints as ``ip:port`` text."""
    shown = connections.assign(
        client=endpoint_text(connections["client_ip"], connections["client_port"]),
        server=endpoint_text(connections["server_ip"], connections["server_port"]),
    )
    return shown[_SHOWN]


@main.command()
@click.argument(
    "folder",
    required=False,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option("--max-rows", default=12, show_default=True, help="Connections shown per capture.")
def demo(folder: Path | None, max_rows: int) -> None:
    """Analyze every capture in FOLDER (default: hskit's bundled samples) without tshark."""
    if folder is None:
        captures = [samples.path(name) for name in samples.names()]
    else:
        captures = sample_captures(folder)
    if not captures:
        raise click.ClickException(f"no .pcap/.pcapng(.gz) files in {folder}")
    for path in captures:
        cap = hskit.load(path, backend="native", progress=False)
        connections = cap.connections
        click.echo(
            f"\n== {path.name}: {counted(cap.load_report.frames, 'frame')}, "
            f"{counted(len(cap.segments), 'TCP segment')}, "
            f"{counted(len(connections), 'connection')}"
        )
        lines = connection_lines(connections)
        click.echo(lines.head(max_rows).to_string(index=False))
        if len(lines) > max_rows:
            counts = connections.groupby(["handshake", "termination"], observed=True).size()
            click.echo(f"… {len(lines) - max_rows} more; all connections by label:")
            click.echo(counts.to_string())
