"""``hskit watch``: a live capture in the terminal (``rich``), ending with the summary.

The display redraws once per ring period: connections by state now (the live
``ss -tan | awk '{print $1}' | sort | uniq -c``), handshake outcomes, findings with the
time they fired, and the latest connections. When the capture ends (``--duration`` or
Ctrl-C) it prints what ``hskit summary`` prints for the whole capture.

>>> from click.testing import CliRunner
>>> CliRunner().invoke(main, ["watch", "--help"]).exit_code
0
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import click
import pandas as pd
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

import hskit
from hskit import schema
from hskit.cli import main
from hskit.cli.classify_commands import format_counts, format_percentiles
from hskit.diagnose.table import empty_findings
from hskit.label_counts import COUNTED
from hskit.live import LiveCapture
from hskit.live.capture import FINDINGS_EVERY
from hskit.wording import counted

#: rows of the latest-connections table.
LATEST = 8
#: label columns of the latest-connections table (after stream, client and server).
LATEST_LABELS = ("handshake", "termination", "client_state", "server_state")


@main.command()
@click.option("-i", "--interface", default="any", show_default=True, help="Interface to watch.")
@click.option("-f", "--filter", "bpf", default="tcp", show_default=True, help="Capture filter.")
@click.option("--duration", type=click.FloatRange(min=0), help="Stop after S seconds.")
@click.option(
    "--write",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the ring of capture files in DIR (otherwise deleted at the end).",
)
@click.option("--period", type=click.IntRange(min=1), default=1, show_default=True,
              help="Seconds per ring file: how often the display moves.")  # fmt: skip
def watch(
    interface: str, bpf: str, duration: float | None, write: Path | None, period: int
) -> None:
    """Watch TCP connections live: states now, handshakes, findings; Ctrl-C to stop."""
    live = hskit.live(interface, bpf=bpf or None, folder=write, period=period)
    started = time.monotonic()
    console = Console()
    try:
        with Live(console=console, auto_refresh=False) as screen:
            while duration is None or time.monotonic() - started < duration:
                screen.update(display(live, interface, bpf, time.monotonic() - started))
                screen.refresh()
                live.wait(files=1, timeout=min(period, _left(started, duration)))
            live.stop()
            _say_last_pass(live, console)
            screen.update(display(live, interface, bpf, time.monotonic() - started))
            screen.refresh()
    except KeyboardInterrupt:
        live.stop()
        _say_last_pass(live, console)
    click.echo("\n" + summary_text(live))
    if write is None:
        shutil.rmtree(live.folder, ignore_errors=True)
    else:
        click.echo(f"ring kept: {counted(len(live.ring_files), 'file')} in {live.folder}")


def _say_last_pass(live: LiveCapture, console: Console) -> None:
    """Once the capture has ended: that its long connections are classified whole now,
    where it has any (the last pass takes seconds per million of their segments)."""
    if whole := live.classifying_whole:
        console.print(f"stopped: classifying {counted(whole, 'long connection')} whole…")


def _left(started: float, duration: float | None) -> float:
    if duration is None:
        return float("inf")
    return max(0.0, duration - (time.monotonic() - started))


def display(live: LiveCapture, interface: str, bpf: str, elapsed: float) -> Group:
    """The live screen: a status line and four tables."""
    connections = live.connections
    if live.running:  # the findings run on their own thread: the display never waits
        live.findings_later(FINDINGS_EVERY, lambda findings, files: None)
        latest = live.latest_findings
        findings = latest[0] if latest is not None else empty_findings()
    else:
        findings, _ = live.findings(every=FINDINGS_EVERY)
    status = (
        f"[bold]hskit watch[/] {interface} {bpf!r}: {elapsed:.0f} s, "
        f"{counted(len(live.ring_files), 'ring file')}, "
        f"{counted(len(live.segments), 'TCP segment')}, "
        f"{counted(len(connections), 'connection')}"
        + ("" if live.running else " [bold](stopped)[/]")
    )
    return Group(
        status,
        states_now(connections),
        _counts_table("handshake", connections["handshake"]),
        findings_table(findings),
        latest_table(connections),
    )


def states_now(connections: pd.DataFrame) -> Table:
    """How many clients and servers are in each TCP state now (states seen only)."""
    table = Table("state now", "clients", "servers", title="connections by state")
    client = connections["client_state"].value_counts()
    server = connections["server_state"].value_counts()
    for state in schema.TCP_STATES:
        if client.get(state, 0) or server.get(state, 0):
            table.add_row(state, str(client.get(state, 0)), str(server.get(state, 0)))
    return table


def _counts_table(title: str, labels: pd.Series) -> Table:
    table = Table(title, "connections", title=f"{title} outcomes")
    for label, count in labels.value_counts().items():
        if count:
            table.add_row(str(label), str(count))
    return table


def findings_table(findings: pd.DataFrame) -> Table:
    """Findings with the capture time they fired (their first affected connection)."""
    table = Table("time", "kind", "severity", "endpoint", "count", title="findings")
    for row in findings.itertuples():
        table.add_row(f"{row.first_time:.1f}", str(row.kind), str(row.severity),
                      str(row.endpoint), str(row.count))  # fmt: skip
    return table


def latest_table(connections: pd.DataFrame) -> Table:
    """The connections that started last."""
    table = Table("stream", "client", "server", *LATEST_LABELS, title="latest connections")
    for row in connections.tail(LATEST).itertuples(index=False):
        labels = [getattr(row, column) for column in LATEST_LABELS]
        table.add_row(
            str(row.stream),
            f"{row.client_ip}:{row.client_port}",
            f"{row.server_ip}:{row.server_port}",
            *("" if pd.isna(label) else str(label) for label in labels),
        )
    return table


def summary_text(live: LiveCapture) -> str:
    """What ``hskit summary`` prints, for everything the live capture saw, and its drops;
    and, where the memory to classify its long connections whole was short at the end
    (a ``NotExactWarning`` said how much), that their rows are grown from windows."""
    snapshot = live.snapshot()
    connections = snapshot.connections
    drops = live.drops
    lines = [
        f"{live.folder}: {counted(len(snapshot.capture.segments), 'TCP segment')}, "
        f"{counted(len(connections), 'connection')}, "
        f"{'unknown' if drops is None else drops} dropped by the capture"
    ]
    if not snapshot.exact:
        lines.append(
            "long connections not classified whole (not enough memory): their rows are "
            "grown from windows of their segments"
        )
    for column in COUNTED:
        lines += ["", format_counts(connections[column])]
    complete = connections.loc[connections["handshake"] == "complete", "handshake_time"]
    lines += ["", format_percentiles(complete)]
    return "\n".join(lines)
