"""The sample captures bundled with hskit: real TCP traffic for every handshake and teardown.

Each capture was made by real Linux sockets between two network namespaces (see the
repository's ``sample_pcaps/README.md``); ``manifest()`` holds one row per connection
with the labels it should get. They ship inside the package, so they are there after
``pip install hskit``, like ``seaborn.load_dataset``'s data but without a download.

>>> import hskit
>>> hskit.samples.path("refused").name
'refused.pcap'
>>> "syn_flood" in hskit.samples.names()
True
>>> hskit.samples.manifest().loc[0, ["file", "handshake", "termination"]].tolist()
['close_client_first.pcap', 'complete', 'fin_3way']
"""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import pandas as pd

from hskit import schema
from hskit.errors import CaptureNotFound, UnknownSample

#: the captures' folder inside an installed package (``hskit/sample_pcaps``, from the
#: repository's ``sample_pcaps/``) and in a source checkout (beside ``hskit/``).
FOLDER_NAME = "sample_pcaps"
MANIFEST_NAME = "manifest.csv"
CAPTURE_SUFFIXES = (".pcapng.gz", ".pcap.gz", ".pcapng", ".pcap")

#: the manifest's columns, with the schema's dtypes where a column is also a connections
#: column, so a manifest row compares directly with a row of ``cap.connections``.
MANIFEST_DTYPES: dict[str, object] = {
    "file": pd.StringDtype(),
    "stream": schema.CONNECTION_DTYPES["stream"],
    "client_ip": schema.CONNECTION_DTYPES["client_ip"],
    "client_port": schema.CONNECTION_DTYPES["client_port"],
    "server_ip": schema.CONNECTION_DTYPES["server_ip"],
    "server_port": schema.CONNECTION_DTYPES["server_port"],
    "handshake": schema.HANDSHAKE_DTYPE,
    "termination": schema.TERMINATION_DTYPE,
    "closer": schema.CLOSER_DTYPE,
    "reset_by": schema.RESET_BY_DTYPE,
    "conn_state": schema.CONN_STATE_DTYPE,
    #: what the scenario does, in a few words.
    "note": pd.StringDtype(),
}


def folder() -> Path:
    """The folder of the bundled captures and their manifest.

    Inside the installed package when it was installed from a wheel; in a source
    checkout (an editable install, or ``PYTHONPATH`` set to it), the repository's
    ``sample_pcaps/``.

    >>> (folder() / "manifest.csv").is_file()
    True
    """
    packaged = resources.files("hskit") / FOLDER_NAME
    checkout = Path(__file__).resolve().parent.parent / FOLDER_NAME
    for candidate in (packaged, checkout):
        if isinstance(candidate, Path) and (candidate / MANIFEST_NAME).is_file():
            return candidate
    raise CaptureNotFound(
        f"hskit's sample captures are missing (looked in {packaged} and {checkout}); "
        "reinstall hskit"
    )


def _files() -> list[str]:
    """File names of the bundled captures: those the manifest describes, sorted."""
    with (folder() / MANIFEST_NAME).open(newline="", encoding="utf-8") as manifest_file:
        return sorted({row["file"] for row in csv.DictReader(manifest_file)})


def _name(file: str) -> str:
    return next(file.removesuffix(s) for s in CAPTURE_SUFFIXES if file.endswith(s))


def names() -> list[str]:
    """Names of the bundled captures (file names without their suffixes), sorted.

    >>> names()[:3]
    ['busy_server', 'close_client_first', 'close_server_first']
    """
    return [_name(file) for file in _files()]


def path(name: str) -> Path:
    """Path of the bundled capture ``name``: ``"refused"`` or its file name ``"refused.pcap"``.

    Raises :class:`hskit.errors.UnknownSample`, listing the names, for any other name.

    >>> cap = hskit.load(path("busy_server"))  # doctest: +SKIP
    """
    files = _files()
    by_name = {_name(file): file for file in files}
    file = by_name.get(name, name if name in files else None)
    if file is None:
        raise UnknownSample(f"no sample capture {name!r}; the samples are: {', '.join(by_name)}")
    found = folder() / file
    if not found.is_file():
        raise CaptureNotFound(f"the sample capture {file} is missing from {folder()}")
    return found


def manifest() -> pd.DataFrame:
    """The manifest: one row per connection of the bundled captures, with its labels.

    Columns :data:`MANIFEST_DTYPES`: the capture's ``file``, the connection's ``stream``
    and 4-tuple, the labels it gets (``handshake``, ``termination``, ``closer``,
    ``reset_by``, ``conn_state``; NA where none applies) and a ``note``.

    >>> manifest().query("file == 'refused.pcap'")["conn_state"].tolist()
    ['REJ']
    """
    table = pd.read_csv(folder() / MANIFEST_NAME, dtype=str, keep_default_na=False)
    return schema.conform(table.replace("", pd.NA), MANIFEST_DTYPES)
