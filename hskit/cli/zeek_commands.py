"""``hskit conn-log``: the conn.log Zeek would write for captures, without Zeek.

>>> from click.testing import CliRunner
>>> CliRunner().invoke(main, ["conn-log", "--help"]).exit_code
0
"""

from __future__ import annotations

from pathlib import Path

import click

import hskit
from hskit.classify.zeek.connections import Timeouts
from hskit.classify.zeek.ports import DEFAULT_LIKELY_SERVER_PORTS, bare_mode_ports
from hskit.cli import (
    backend_option,
    capture_argument,
    folder_takes_a_file,
    load_capture,
    main,
    writing,
)
from hskit.zeek.ascii import write_conn_log


@main.command("conn-log")
@capture_argument
@backend_option
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    callback=folder_takes_a_file,
    help="Where to write the conn.log.",
)
@click.option("--json", "as_json", is_flag=True, help="Zeek's JSON lines instead of its TSV.")
@click.option(
    "-C",
    "--ignore-checksums",
    is_flag=True,
    help="Keep packets with a bad TCP checksum (Zeek's -C); without it they only add C/c.",
)
@click.option(
    "-b",
    "--bare",
    is_flag=True,
    help="Zeek's bare mode (-b): only the --load scripts' ports are likely server ports.",
)
@click.option(
    "--load",
    "loads",
    multiple=True,
    metavar="SCRIPT",
    help="A script a bare run loads (base/protocols/http …); repeat for more.",
)
@click.option(
    "--inactivity-timeout",
    type=float,
    default=Timeouts.tcp_inactivity_timeout,
    show_default=True,
    help="Zeek's tcp_inactivity_timeout, seconds: a connection silent this long ends.",
)
def conn_log(
    files: tuple[str, ...],
    backend: str,
    output: Path,
    as_json: bool,
    ignore_checksums: bool,
    bare: bool,
    loads: tuple[str, ...],
    inactivity_timeout: float,
) -> None:
    """Write the conn.log Zeek would write for FILE... (TCP connections; several files, a
    folder or a glob are one capture set, connections continuing from file to file)."""
    ports = bare_mode_ports(loads) if bare else DEFAULT_LIKELY_SERVER_PORTS
    table = hskit.zeek.conn_log(
        load_capture(files, backend).segments,
        ignore_checksums=ignore_checksums,
        likely_server_ports=ports,
        inactivity_timeout=inactivity_timeout,
    )
    with writing(output):
        write_conn_log(table, output, as_json=as_json)
    noun = "connection" if len(table) == 1 else "connections"
    click.echo(f"wrote {len(table)} {noun} to {output}")
