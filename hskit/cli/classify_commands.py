"""``hskit connections`` and ``hskit summary``: the connections table, and its overview.

>>> from click.testing import CliRunner
>>> CliRunner().invoke(main, ["summary", "--help"]).exit_code
0
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import pandas as pd

import hskit
from hskit.cli import backend_option, capture_argument, main, table_output_option
from hskit.cli.dask_options import dask_client, dask_options, on_dask
from hskit.cli.load_commands import write_table
from hskit.label_counts import COUNTED, count_labels
from hskit.wording import counted

#: the handshake_time percentiles ``hskit summary`` prints
PERCENTILES = (0, 50, 90, 99, 100)


@main.command()
@capture_argument
@backend_option
@table_output_option
def connections(file: str, backend: str, output: Path) -> None:
    """Write FILE's connections table (one row per TCP connection) to Parquet or CSV."""
    cap = hskit.load(file, backend=backend)  # type: ignore[arg-type]
    table = cap.connections
    write_table(table, output)
    click.echo(f"wrote {counted(len(table), 'connection')} to {output}")


@main.command()
@capture_argument
@backend_option
@dask_options
def summary(file: str, backend: str, scheduler: str | None, workers: int | None) -> None:
    """Connections of FILE counted by handshake, termination and conn_state, and the
    handshake time percentiles of complete handshakes (on Dask with --scheduler/--workers)."""
    if on_dask(scheduler, workers):
        import hskit.dask as hd

        with dask_client(scheduler, workers):
            found = hd.summary(hd.read_segments(file, backend=backend))
        segments, connections = found.segments, found.connections
        counts, times = found.counts, found.handshake_times
    else:
        cap = hskit.load(file, backend=backend)  # type: ignore[arg-type]
        table = cap.connections
        segments, connections = len(cap.segments), len(table)
        counts = {column: count_labels(table[column]) for column in COUNTED}
        times = table.loc[table["handshake"] == "complete", "handshake_time"]
    click.echo(f"{file}: {counted(segments, 'TCP segment')}, {counted(connections, 'connection')}")
    for column in COUNTED:
        click.echo("")
        click.echo(format_count_table(counts[column]))
    click.echo("")
    click.echo(format_percentiles(times))


def format_counts(labels: pd.Series) -> str:
    """A two-column text table of how often each label occurs, most frequent first.

    >>> print(format_counts(pd.Series(["a", "b", "a", None], name="x")))
    x   count
    a       2
    b       1
    NA      1
    """
    return format_count_table(count_labels(labels))


def format_count_table(counts: pd.Series) -> str:
    """:func:`format_counts` of counts already made (``count_labels``' result).

    >>> print(format_count_table(pd.Series([3], index=["SF"], name="conn_state")))
    conn_state  count
    SF              3
    """
    rows = [(str(label), str(count)) for label, count in counts.items()]
    return _table([(str(counts.name), "count"), *rows])


def format_percentiles(times: pd.Series) -> str:
    """Percentiles of handshake times (seconds) as a text table in milliseconds.

    >>> print(format_percentiles(pd.Series([0.001, 0.003])))
    handshake_time of 2 complete handshakes (ms)
    min    p50    p90    p99    max
    1.000  2.000  2.800  2.980  3.000
    """
    values = times.dropna().to_numpy(dtype=float)
    title = f"handshake_time of {len(values)} complete handshakes (ms)"
    if len(values) == 0:
        return title + "\n-"
    names = ["min" if p == 0 else "max" if p == 100 else f"p{p}" for p in PERCENTILES]
    cells = [f"{value * 1e3:.3f}" for value in np.percentile(values, PERCENTILES)]
    width = max(len(cell) for cell in [*names, *cells])
    return "\n".join(
        [
            title,
            "  ".join(n.ljust(width) for n in names).rstrip(),
            "  ".join(c.ljust(width) for c in cells).rstrip(),
        ]
    )


def _table(rows: list[tuple[str, str]]) -> str:
    left = max(len(name) for name, _ in rows)
    right = max(len(value) for _, value in rows)
    return "\n".join(f"{name:<{left}}  {value:>{right}}" for name, value in rows)
