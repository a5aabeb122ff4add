"""The ``hskit`` command line: one click group, commands grouped by pipeline stage.

Each ``*_commands`` module registers its commands on :data:`main`. Errors that hskit
raises on purpose become a one-line message and exit status 1, never a traceback.

>>> from click.testing import CliRunner
>>> CliRunner().invoke(main, ["--help"]).exit_code
0
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

import hskit
from hskit.capture import Capture
from hskit.errors import HskitError
from hskit.loader import CaptureSource, list_label


class _HskitGroup(click.Group):
    """A click group that turns :class:`HskitError` into a one-line error message."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HskitError as error:
            raise click.ClickException(f"{type(error).__name__}: {error}") from None


@click.group(cls=_HskitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hskit")
def main() -> None:
    """hskit: TCP handshakes and teardowns in packet captures, as tables and pictures."""


def capture_argument(function: Any) -> Any:
    """The FILE... argument every command takes: a pcap/pcapng capture (optionally
    gzipped), or a capture set as ``hskit.load`` reads it: several files, a folder or a
    glob (:func:`capture_source`)."""
    return click.argument(
        "files", nargs=-1, required=True, metavar="FILE...", type=click.Path(path_type=str)
    )(function)


def capture_source(files: tuple[str, ...]) -> CaptureSource:
    """What ``hskit.load`` is given for a command's FILE... arguments: the one file,
    folder or glob as written, or the list of several.

    >>> capture_source(("a.pcap",)), capture_source(("a.pcap", "b.pcap"))
    ('a.pcap', ['a.pcap', 'b.pcap'])
    """
    return files[0] if len(files) == 1 else list(files)


def load_capture(files: tuple[str, ...], backend: str) -> Capture:
    """``hskit.load`` of a command's FILE... arguments with its ``--backend``."""
    return hskit.load(capture_source(files), backend=backend)  # type: ignore[arg-type]


def capture_label(files: tuple[str, ...]) -> str:
    """How a command names its capture in what it prints: the file (folder, glob) as
    written, or the capture set's first and last file.

    >>> capture_label(("a.pcap",)), capture_label(("a.pcap", "b.pcap", "c.pcap"))
    ('a.pcap', 'a.pcap … c.pcap (3 files)')
    """
    return files[0] if len(files) == 1 else list_label(files)


def backend_option(function: Any) -> Any:
    """``--backend auto|native|tshark``, as in ``hskit.load``."""
    return click.option(
        "--backend",
        type=click.Choice(["auto", "native", "tshark"]),
        default="auto",
        show_default=True,
        help="Loader backend: native NumPy reader, tshark, or native with tshark fallback.",
    )(function)


def table_output_option(function: Any) -> Any:
    """``-o/--output FILE``: where a command writes its table, ``.parquet`` or ``.csv``."""
    return click.option(
        "-o",
        "--output",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        callback=folder_takes_a_file,
        help="Where to write the table: a .parquet or .csv file.",
    )(function)


def folder_takes_a_file(_ctx: click.Context, _param: click.Parameter, output: Path) -> Path:
    """Click callback of an output option: the one-line error of :func:`writing` before any
    work when ``output``'s folder cannot take a new file (missing, not a folder, no
    permission, ``/proc``), so a long load is not spent on a result that cannot be written.
    A file made and removed there is the test: it asks exactly what the write will ask.

    >>> folder_takes_a_file(None, None, Path("/no/such/folder/x.csv"))
    Traceback (most recent call last):
    click.exceptions.ClickException: cannot write /no/such/folder/x.csv: No such file or directory
    """
    with writing(output), tempfile.NamedTemporaryFile(dir=output.parent, prefix=".hskit-"):
        pass
    return output


@contextmanager
def writing(output: Path) -> Iterator[None]:
    """Turn a failure to write ``output`` (a missing folder, no permission, ``/proc``, a full
    disk) into a one-line error naming the file.

    >>> with writing(Path("/no/such/folder/x.csv")):
    ...     open("/no/such/folder/x.csv", "w")
    Traceback (most recent call last):
    click.exceptions.ClickException: cannot write /no/such/folder/x.csv: No such file or directory
    """
    try:
        yield
    except OSError as error:
        reason = error.strerror or str(error)
        raise click.ClickException(f"cannot write {output}: {reason}") from None


# Importing each module registers its commands on main.
from hskit.cli import (  # noqa: E402
    classify_commands,
    dataset_commands,
    demo_commands,
    diagnose_commands,
    live_commands,
    load_commands,
    report_commands,
    zeek_commands,
)

__all__ = [
    "backend_option",
    "capture_argument",
    "capture_label",
    "capture_source",
    "classify_commands",
    "dataset_commands",
    "demo_commands",
    "diagnose_commands",
    "folder_takes_a_file",
    "live_commands",
    "load_capture",
    "load_commands",
    "main",
    "report_commands",
    "table_output_option",
    "writing",
    "zeek_commands",
]
