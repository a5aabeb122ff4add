"""``hskit convert``: captures to a Parquet dataset, for captures bigger than memory.

>>> from click.testing import CliRunner
>>> CliRunner().invoke(main, ["convert", "--help"]).exit_code
0
"""

from __future__ import annotations

from pathlib import Path

import click
import pyarrow.parquet as pq

import hskit
from hskit.cli import main
from hskit.cli.dask_options import dask_client, dask_options, on_dask
from hskit.dataset.layout import CONNECTIONS, Meta
from hskit.native.chunks import DEFAULT_CHUNK_SIZE, MIN_CHUNK_SIZE
from hskit.wording import counted


@main.command()
@click.argument("captures", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option(
    "-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="New (or empty) folder for the dataset.",
)  # fmt: skip
@click.option(
    "--buckets", type=click.IntRange(min=1), default=None,
    help="Segment partitions (default: one per 4 MB of capture, at least 8).",
)  # fmt: skip
@click.option(
    "--chunk-size", type=click.IntRange(min=MIN_CHUNK_SIZE), default=DEFAULT_CHUNK_SIZE,
    show_default=True, help="Capture bytes decoded at a time (not on Dask: a file a task).",
)  # fmt: skip
@dask_options
def convert(
    captures: tuple[str, ...],
    output: Path,
    buckets: int | None,
    chunk_size: int,
    scheduler: str | None,
    workers: int | None,
) -> None:
    """Convert CAPTURES (files of one capture set, a folder or a glob) to a Parquet dataset.

    Read it back with hskit.load_dataset(OUTPUT). On Dask (--scheduler, --workers) the
    workers write the segments: OUTPUT must be on a file system they all see.
    """
    source: str | list[str] = captures[0] if len(captures) == 1 else list(captures)
    try:
        if on_dask(scheduler, workers):
            import hskit.dask as hd

            with dask_client(scheduler, workers):
                hd.convert(source, output, buckets=buckets)
        else:
            hskit.convert(source, output, buckets=buckets, chunk_size=chunk_size)
    except FileExistsError as error:
        raise click.ClickException(str(error)) from None
    # counts from the dataset's metadata: reading its tables back would take the memory
    # the conversion was bounded not to take
    meta = Meta.read(output)
    connections = pq.read_metadata(output / CONNECTIONS).num_rows
    click.echo(
        f"wrote {counted(meta.report.tcp_segments, 'segment')} of "
        f"{counted(connections, 'connection')} in "
        f"{counted(meta.buckets, 'bucket')} to {output}"
    )
