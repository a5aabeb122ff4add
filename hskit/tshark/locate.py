"""Where tshark and the Wireshark tools installed beside it (capinfos, editcap, mergecap) are.

pyshark finds tshark where Wireshark installs it (its ``config.ini``, Program Files on
Windows, the app bundle on macOS, PATH).

>>> tshark_executable()  # doctest: +SKIP
'/usr/bin/tshark'
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from pyshark.tshark.tshark import TSharkNotFoundException, get_process_path

from hskit.errors import TsharkNotFound

__all__ = ["INSTALL_HINT", "companion_executable", "tshark_executable"]

INSTALL_HINT = (
    "install Wireshark's tshark: Debian/Ubuntu `sudo apt-get install tshark`, "
    "Fedora `sudo dnf install wireshark-cli`, macOS `brew install wireshark`, "
    "Windows: the installer from wireshark.org (keep the TShark component ticked)"
)


def tshark_executable() -> str:
    """Path of tshark: pyshark's locator first, then PATH; :class:`TsharkNotFound` otherwise.

    >>> tshark_executable().endswith("tshark")  # doctest: +SKIP
    True
    """
    try:
        return get_process_path()
    except TSharkNotFoundException:
        found = shutil.which("tshark")
        if found is None:
            raise TsharkNotFound(f"tshark was not found; {INSTALL_HINT}") from None
        return found


def companion_executable(tshark: str, name: str) -> str | None:
    """A Wireshark tool installed beside ``tshark`` (``capinfos``, ``editcap``), or on PATH.

    >>> companion_executable("/usr/bin/tshark", "capinfos")  # doctest: +SKIP
    '/usr/bin/capinfos'
    """
    suffix = ".exe" if sys.platform.startswith("win") else ""
    beside = Path(tshark).with_name(name + suffix)
    return str(beside) if beside.exists() else shutil.which(name)
