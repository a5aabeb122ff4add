"""Where tshark and the Wireshark tools installed beside it (capinfos, editcap, mergecap) are.

tshark is looked for, in this order, and never in the current folder:

1. the path given to :func:`tshark_executable`, else ``$HSKIT_TSHARK``
   (:data:`TSHARK_VARIABLE`): a path, or a bare name looked up on PATH;
2. PATH, skipping entries that are not absolute (an empty entry or ``.`` would mean the
   current folder);
3. the places Wireshark's installers use (Program Files on Windows, the app bundle on
   macOS, the usual ``bin`` folders elsewhere).

No configuration file is read: pyshark's locator reads ``config.ini`` from the current
folder, so a capture set unpacked with a ``config.ini`` naming a program of its own
would run that program; hskit does not use it.

>>> tshark_executable()  # doctest: +SKIP
'/usr/bin/tshark'
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

from hskit.errors import TsharkNotFound

__all__ = ["INSTALL_HINT", "TSHARK_VARIABLE", "companion_executable", "tshark_executable"]

#: environment variable naming the tshark to use: a path, or a name looked up on PATH.
TSHARK_VARIABLE = "HSKIT_TSHARK"

INSTALL_HINT = (
    "install Wireshark's tshark: Debian/Ubuntu `sudo apt-get install tshark`, "
    "Fedora `sudo dnf install wireshark-cli`, macOS `brew install wireshark`, "
    "Windows: the installer from wireshark.org (keep the TShark component ticked); "
    f"or name it in ${TSHARK_VARIABLE}"
)

_WINDOWS = sys.platform.startswith("win")
#: folders searched after PATH: where Wireshark's installers and packages put tshark.
_STANDARD_FOLDERS: tuple[str, ...] = (
    ("C:/Program Files/Wireshark", "C:/Program Files (x86)/Wireshark")
    if _WINDOWS
    else ("/Applications/Wireshark.app/Contents/MacOS", "/opt/homebrew/bin", "/usr/local/bin",
          "/usr/bin", "/usr/sbin", "/usr/lib/tshark")
)  # fmt: skip


def tshark_executable(explicit: str | os.PathLike[str] | None = None) -> str:
    """Absolute path of tshark; :class:`~hskit.errors.TsharkNotFound` when there is none.

    ``explicit`` (else ``$HSKIT_TSHARK``) must name an executable file: a wrong one is an
    error, not a reason to look elsewhere.

    >>> tshark_executable().endswith("tshark")  # doctest: +SKIP
    True
    """
    chosen = explicit if explicit is not None else os.environ.get(TSHARK_VARIABLE)
    if chosen:
        named = _named_executable(os.fspath(chosen))
        if named is None:
            source = "the tshark given" if explicit is not None else f"${TSHARK_VARIABLE}"
            raise TsharkNotFound(f"{source} ({chosen}) is not an executable file")
        return named
    found = next(chain(_on_path("tshark"), _in_folders("tshark", _standard_folders())), None)
    if found is None:
        raise TsharkNotFound(f"tshark was not found; {INSTALL_HINT}")
    return found


def companion_executable(tshark: str, name: str) -> str | None:
    """A Wireshark tool installed beside ``tshark`` (``capinfos``, ``editcap``), or on PATH.

    >>> companion_executable("/usr/bin/tshark", "capinfos")  # doctest: +SKIP
    '/usr/bin/capinfos'
    """
    folder = os.path.dirname(os.path.abspath(tshark))
    return next(chain(_in_folders(name, [folder]), _on_path(name)), None)


def _named_executable(chosen: str) -> str | None:
    """``chosen`` as a path (made absolute), or, when it is a bare name, found on PATH."""
    if os.sep not in chosen and (os.altsep is None or os.altsep not in chosen):
        return next(_on_path(chosen), None)
    path = os.path.abspath(chosen)
    return path if _is_executable(path) else None


def _on_path(name: str) -> Iterator[str]:
    """``name`` in each absolute PATH entry, in order (relative entries are skipped)."""
    entries = os.environ.get("PATH", os.defpath).split(os.pathsep)
    return _in_folders(name, [entry for entry in entries if os.path.isabs(entry)])


def _standard_folders() -> list[str]:
    if not _WINDOWS:
        return list(_STANDARD_FOLDERS)
    program_files = (os.environ.get(name) for name in ("ProgramFiles", "ProgramFiles(x86)"))
    return [str(Path(folder, "Wireshark")) for folder in program_files if folder] + list(
        _STANDARD_FOLDERS
    )


def _in_folders(name: str, folders: list[str]) -> Iterator[str]:
    filename = name + ".exe" if _WINDOWS and not name.lower().endswith(".exe") else name
    for folder in folders:
        path = os.path.join(folder, filename)
        if _is_executable(path):
            yield path


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)
