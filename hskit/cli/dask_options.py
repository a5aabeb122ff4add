"""``--scheduler ADDRESS`` / ``--workers N``: run a command on a Dask cluster.

``--scheduler tcp://host:8786`` connects to a running cluster (``dask scheduler`` and
``dask worker`` processes); ``--workers N`` starts a local cluster of N worker processes
for the command. Either needs the ``dask`` extra (``pip install "hskit[dask]"``). The
dashboard's address is printed on stderr: the live task stream and progress are there.

>>> on_dask(scheduler="tcp://10.0.0.5:8786", workers=None)
True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from dask.distributed import Client


def dask_options(function: Any) -> Any:
    """The ``--scheduler`` and ``--workers`` options of a command that can run on Dask."""
    function = click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        help="Run on a local Dask cluster of N worker processes (needs hskit[dask]).",
    )(function)
    return click.option(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="Run on the Dask cluster at ADDRESS, e.g. tcp://10.0.0.5:8786 (needs hskit[dask]).",
    )(function)


def on_dask(scheduler: str | None, workers: int | None) -> bool:
    """Whether the options ask for Dask; both at once is a usage error.

    >>> on_dask(None, None), on_dask(None, 2)
    (False, True)
    """
    if scheduler is not None and workers is not None:
        raise click.UsageError("give --scheduler (a running cluster) or --workers, not both")
    return scheduler is not None or workers is not None


@contextmanager
def dask_client(scheduler: str | None, workers: int | None) -> Iterator[Client]:
    """A client of the cluster at ``scheduler``, or of a local cluster of ``workers``
    processes (closed afterwards); the dashboard's address goes to stderr."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise click.ClickException(
            'Dask is not installed: pip install "hskit[dask]" (dask[dataframe], distributed)'
        ) from None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as error:
            raise click.ClickException(
                f"cannot reach the Dask scheduler {scheduler}: {error}"
            ) from None
        with client:
            _announce(client)
            yield client
        return
    with (
        LocalCluster(n_workers=workers, processes=True, threads_per_worker=1) as cluster,
        Client(cluster) as client,
    ):
        _announce(client)
        yield client


def _announce(client: Client) -> None:
    workers = len(client.scheduler_info()["workers"])
    click.echo(
        f"dask: {workers} worker(s); progress on the dashboard {client.dashboard_link}", err=True
    )
