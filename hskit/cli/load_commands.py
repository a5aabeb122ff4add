"""``hskit info`` and ``hskit segments``: what a capture holds, and its segments table.

>>> from click.testing import CliRunner
>>> CliRunner().invoke(main, ["info", "--help"]).exit_code
0
"""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from hskit.cli import (
    backend_option,
    capture_argument,
    load_capture,
    main,
    table_output_option,
    writing,
)
from hskit.wording import counted


@main.command()
@capture_argument
@backend_option
def info(files: tuple[str, ...], backend: str) -> None:
    """Frames, TCP segments, streams, link types, time span and backend of FILE... (a
    capture; several files, a folder or a glob are one capture set)."""
    cap = load_capture(files, backend)
    report = cap.load_report
    segments = cap.segments
    streams = int(segments["stream"].max()) + 1 if len(segments) else 0
    rows: list[tuple[str, str]] = [
        ("file", report.path),
        ("backend", report.backend),
        ("link types", ", ".join(report.link_types) or "-"),
        ("frames", str(report.frames)),
        ("TCP segments", str(report.tcp_segments)),
        ("streams", str(streams)),
    ]
    if len(segments):
        first, last = segments["ts"].min(), segments["ts"].max()
        rows.append(("first segment", first.isoformat()))
        rows.append(("last segment", last.isoformat()))
        rows.append(("span", f"{(last - first).total_seconds():.6f} s"))
    rows.extend((f"skipped ({reason})", str(count)) for reason, count in report.skipped.items())
    if report.bytes_lost:
        rows.append(("bytes lost", str(report.bytes_lost)))
    rows.extend(("note", note) for note in report.notes)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        click.echo(f"{name:<{width}}  {value}")


@main.command()
@capture_argument
@backend_option
@table_output_option
def segments(files: tuple[str, ...], backend: str, output: Path) -> None:
    """Write the segments table of FILE... (one row per TCP segment) to a Parquet or CSV file."""
    cap = load_capture(files, backend)
    write_table(cap.segments, output)
    click.echo(f"wrote {counted(len(cap.segments), 'segment')} to {output}")


def write_table(table: pd.DataFrame, output: Path) -> None:
    """Write ``table`` as Parquet or CSV, chosen by ``output``'s suffix.

    >>> write_table(pd.DataFrame({"a": [1]}), Path("x.txt"))
    Traceback (most recent call last):
    click.exceptions.BadParameter: output must end in .parquet or .csv, not 'x.txt'
    """
    suffix = output.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise click.BadParameter(f"output must end in .parquet or .csv, not {output.name!r}")
    with writing(output):
        if suffix == ".parquet":
            table.to_parquet(output, index=False)
        else:
            table.to_csv(output, index=False)
