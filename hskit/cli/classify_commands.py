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
from hskit import schema
from hskit.cli import (
    backend_option,
    capture_argument,
    capture_label,
    capture_source,
    load_capture,
    main,
    table_output_option,
)
from hskit.cli.dask_options import dask_client, dask_options, on_dask
from hskit.cli.load_commands import write_table
from hskit.errors import UnsupportedLinkType
from hskit.label_counts import COUNTED, count_labels
from hskit.loader import capture_set
from hskit.native.buckets import bucket_count, bucket_segments
from hskit.wording import counted

#: the handshake_time percentiles ``hskit summary`` prints
PERCENTILES = (0, 50, 90, 99, 100)


@main.command()
@capture_argument
@backend_option
@table_output_option
def connections(files: tuple[str, ...], backend: str, output: Path) -> None:
    """Write the connections table of FILE... (one row per TCP connection) to Parquet or
    CSV; several files, a folder or a glob are one capture set."""
    cap = load_capture(files, backend)
    table = cap.connections
    write_table(table, output)
    click.echo(f"wrote {counted(len(table), 'connection')} to {output}")


@main.command()
@capture_argument
@backend_option
@dask_options
@click.option(
    "--buckets",
    type=click.IntRange(min=1),
    default=None,
    help="Classify the connections in this many parts, one after the other (default: one "
    "per 32 MB of capture); fewer parts, more memory.",
)
def summary(
    files: tuple[str, ...],
    backend: str,
    scheduler: str | None,
    workers: int | None,
    buckets: int | None,
) -> None:
    """Connections of FILE... counted by handshake, termination and conn_state, and the
    handshake time percentiles of complete handshakes (on Dask with --scheduler/--workers).

    The native reader keeps the segments on disk, in buckets of connections, and
    classifies one bucket at a time: memory is bounded by a bucket, not the capture."""
    if on_dask(scheduler, workers):
        import hskit.dask as hd

        with dask_client(scheduler, workers):
            found = hd.summary(hd.read_segments(capture_source(files), backend=backend))
        segments, connections = found.segments, found.connections
        counts, times = found.counts, found.handshake_times
    else:
        segments, table = summary_connections(files, backend, buckets)
        connections = len(table)
        counts = {column: count_labels(table[column]) for column in COUNTED}
        times = table.loc[table["handshake"] == "complete", "handshake_time"]
    click.echo(
        f"{capture_label(files)}: {counted(segments, 'TCP segment')}, "
        f"{counted(connections, 'connection')}"
    )
    for column in COUNTED:
        click.echo("")
        click.echo(format_count_table(counts[column]))
    click.echo("")
    click.echo(format_percentiles(times))


def summary_connections(
    files: tuple[str, ...], backend: str, buckets: int | None
) -> tuple[int, pd.DataFrame]:
    """``(segments, connections)``: how many segments FILE... holds, and the columns of its
    connections table the summary counts, in stream order.

    With the native reader, bucket by bucket (:mod:`hskit.native.buckets`): each bucket's
    connections are what ``hskit.classify`` gives for the whole capture's rows of those
    streams. With tshark (or a link type only tshark reads), from ``hskit.load``.
    """
    kept = ["stream", *COUNTED, "handshake_time"]
    if backend != "tshark":
        paths, _, _ = capture_set(capture_source(files))
        parts, segments = [], 0
        try:
            for bucket in bucket_segments(
                paths, buckets=buckets or bucket_count(paths), progress=None
            ):
                segments += len(bucket)
                parts.append(hskit.classify(bucket)[0][kept])
        except UnsupportedLinkType:
            if backend == "native":
                raise
        else:
            if not parts:
                return 0, schema.empty_connections()[kept]
            table = pd.concat(parts, ignore_index=True)
            return segments, table.sort_values("stream", kind="stable", ignore_index=True)
    cap = load_capture(files, backend)
    return len(cap.segments), cap.connections[kept]


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
