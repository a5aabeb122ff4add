"""The isolation rules of every run of tshark and its companion tools, in one place.

Every run (``tshark --version``, ``tshark -G …``, a load, a frame's dissection, capinfos,
editcap, mergecap) gets a fresh temporary folder and runs inside it:

- **arguments**: a list, never a shell; tshark gets ``-n`` (no name resolution) and the
  :data:`PINNED_PREFERENCES` as ``-o`` options, so no preference can change the fields;
- **working folder**: the run's folder, never the user's current folder;
- **environment**: the caller's, without the variables that steer Wireshark
  (:data:`STEERING_VARIABLES`, every ``WIRESHARK_*`` and ``LUA_*``), plus

  - ``WIRESHARK_CONFIG_DIR`` = ``<run>/config``: an empty personal configuration (no
    preferences, profiles, ``init.lua`` or Lua plugins of the user; its
    ``disabled_protos`` is hskit's own);
  - ``HOME``, ``XDG_CONFIG_HOME``, ``XDG_DATA_HOME`` under ``<run>/home``: the personal
    plugin folder (``~/.local/lib/wireshark/plugins``: Lua and compiled plugins) is empty;
  - ``WIRESHARK_DATA_DIR`` = ``<run>/data`` (POSIX): links to the installation's data files
    (:data:`DATA_ENTRIES`: dissector dictionaries, vendor lists) and nothing else, so no
    global ``init.lua`` and no global configuration file (preferences, ``disabled_protos``
    …) is read;
  - ``WIRESHARK_PLUGIN_DIR`` = ``<run>/plugins`` (POSIX): links to the installation's
    compiled-plugin folders (``4.0/epan`` …) and no Lua file, so no global Lua plugin runs.

  With no ``init.lua`` and no Lua plugin anywhere, no Lua code runs. (Setting
  ``enable_lua = false`` in an ``init.lua`` of hskit's would say the same more directly,
  but tshark 4.0 then crashes on exit and loses the end of its output.)

Limits (Wireshark's, not hskit's): tshark ignores ``WIRESHARK_DATA_DIR`` and
``WIRESHARK_PLUGIN_DIR`` when it is started as root (or set-uid/set-gid). Run as root, or
where hskit cannot find the installation's folders beside tshark, or on Windows, the
global ``init.lua``, the global Lua plugins and the global configuration files of the
installation run and apply; the personal ones still do not. Compiled plugins installed
with Wireshark are part of the installation and load in every run.

>>> with isolated("/usr/bin/tshark") as run:  # doctest: +SKIP
...     run.env["WIRESHARK_CONFIG_DIR"].startswith(str(run.folder))
True
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DATA_ENTRIES",
    "PINNED_PREFERENCES",
    "STEERING_VARIABLES",
    "Isolation",
    "installed_data_folder",
    "installed_plugin_folder",
    "isolated",
    "preference_arguments",
]

#: preferences pinned on every tshark run, so a user's profile cannot change the output.
PINNED_PREFERENCES: dict[str, str] = {
    "tcp.relative_sequence_numbers": "TRUE",
    "tcp.analyze_sequence_numbers": "TRUE",
    "tcp.desegment_tcp_streams": "FALSE",
    "tcp.reassemble_out_of_order": "FALSE",
    "tcp.check_checksum": "TRUE",
    "tcp.calculate_timestamps": "FALSE",
    "tcp.track_bytes_in_flight": "FALSE",
    "tcp.try_heuristic_first": "FALSE",
    "ip.defragment": "FALSE",
    "ip.check_checksum": "FALSE",
    "ipv6.defragment": "FALSE",
}

#: environment variables removed from every run, with what they would steer.
STEERING_VARIABLES: dict[str, str] = {
    "WIRESHARK_*": "configuration, data and plugin folders, debugging and logging",
    "LUA_*": "where Lua looks for modules, and code Lua runs first",
    "ERF_RECORDS_TO_CHECK": "how many records wiretap reads to recognise an ERF file",
    "IPFIX_RECORDS_TO_CHECK": "how many records wiretap reads to recognise an IPFIX file",
    "SSLKEYLOGFILE": "TLS keys a dissection would use",
}
_STEERING_PREFIXES = tuple(name[:-1] for name in STEERING_VARIABLES if name.endswith("*"))

#: the installed data files a run may need (and no configuration file): dictionaries of
#: the dissectors that read them, vendor and well-known-address lists.
DATA_ENTRIES: tuple[str, ...] = (
    "diameter", "dtds", "radius", "tpncp", "wimaxasncp", "smi_modules",
    "enterprises.tsv", "manuf", "services", "wka",
)  # fmt: skip
#: a file every Wireshark installation keeps in its data folder, to recognise one.
_DATA_MARKER = "colorfilters"
#: compiled plugins sit in folders named for Wireshark's minor version (``4.0``).
_PLUGIN_VERSION_FOLDER = re.compile(r"\d+\.\d+")


@dataclass(frozen=True)
class Isolation:
    """One run's isolation: the environment to give it and the folder to run it in."""

    env: dict[str, str]
    folder: Path


@contextmanager
def isolated(tshark: str, disabled_protocols: str = "") -> Iterator[Isolation]:
    """A fresh temporary folder and environment for one run of ``tshark`` (or its tools).

    ``disabled_protocols`` (one name a line) becomes the run's ``disabled_protos`` file.
    The folder is removed on exit, whatever happened.

    >>> with isolated("/usr/bin/tshark") as run:  # doctest: +SKIP
    ...     sorted(path.name for path in run.folder.iterdir())
    ['config', 'data', 'home', 'plugins']
    """
    folder = Path(tempfile.mkdtemp(prefix="hskit-tshark-"))
    try:
        config, home = folder / "config", folder / "home"
        config.mkdir()
        home.mkdir()
        if disabled_protocols:
            (config / "disabled_protos").write_text(disabled_protocols, encoding="utf-8")
        env = {
            name: value
            for name, value in os.environ.items()
            if name not in STEERING_VARIABLES and not name.startswith(_STEERING_PREFIXES)
        }
        env.update(
            WIRESHARK_CONFIG_DIR=str(config),
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_DATA_HOME=str(home / ".local" / "share"),
        )
        if os.name == "posix":
            env.update(_installation_views(tshark, folder))
        yield Isolation(env=env, folder=folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def installed_data_folder(tshark: str) -> Path | None:
    """The data folder of the Wireshark installation ``tshark`` belongs to, if found.

    ``<prefix>/share/wireshark`` for ``<prefix>/bin/tshark`` (packages, Homebrew, conda),
    ``Contents/Resources/share/wireshark`` in a macOS app bundle.

    >>> installed_data_folder("/usr/bin/tshark")  # doctest: +SKIP
    PosixPath('/usr/share/wireshark')
    """
    prefix = Path(os.path.realpath(tshark)).parent.parent
    for candidate in (prefix / "share" / "wireshark", prefix / "Resources/share/wireshark"):
        if (candidate / _DATA_MARKER).is_file():
            return candidate
    return None


def installed_plugin_folder(tshark: str) -> Path | None:
    """The global plugin folder of the Wireshark installation ``tshark`` belongs to, if found.

    ``<prefix>/lib/wireshark/plugins``, also under ``lib64`` or a multiarch folder
    (``lib/x86_64-linux-gnu``), ``Contents/PlugIns/wireshark`` in a macOS app bundle.

    >>> installed_plugin_folder("/usr/bin/tshark")  # doctest: +SKIP
    PosixPath('/usr/lib/x86_64-linux-gnu/wireshark/plugins')
    """
    prefix = Path(os.path.realpath(tshark)).parent.parent
    candidates = [
        prefix / "lib" / "wireshark" / "plugins",
        prefix / "lib64" / "wireshark" / "plugins",
        *sorted(prefix.glob("lib/*/wireshark/plugins")),
        prefix / "PlugIns" / "wireshark",
    ]
    return next((candidate for candidate in candidates if candidate.is_dir()), None)


def _installation_views(tshark: str, folder: Path) -> dict[str, str]:
    """``WIRESHARK_DATA_DIR`` and ``WIRESHARK_PLUGIN_DIR`` for the installation's folders
    that were found: views of them (links) without Lua files and configuration files."""
    views: dict[str, str] = {}
    data = installed_data_folder(tshark)
    if data is not None:
        entries = [data / name for name in DATA_ENTRIES if (data / name).exists()]
        views["WIRESHARK_DATA_DIR"] = str(_linked(folder / "data", entries))
    plugins = installed_plugin_folder(tshark)
    if plugins is not None:
        compiled = [
            entry
            for entry in plugins.iterdir()
            if entry.is_dir() and _PLUGIN_VERSION_FOLDER.fullmatch(entry.name)
        ]
        views["WIRESHARK_PLUGIN_DIR"] = str(_linked(folder / "plugins", compiled))
    return views


def _linked(folder: Path, entries: list[Path]) -> Path:
    """``folder``, created, holding a link to each of ``entries``."""
    folder.mkdir()
    for entry in entries:
        (folder / entry.name).symlink_to(entry)
    return folder


def preference_arguments() -> list[str]:
    """``-o name:value`` arguments for :data:`PINNED_PREFERENCES`.

    >>> preference_arguments()[:2]
    ['-o', 'tcp.relative_sequence_numbers:TRUE']
    """
    return [
        item for name, value in PINNED_PREFERENCES.items() for item in ("-o", f"{name}:{value}")
    ]
