"""tshark through pyshark's eyes: locating the executable, and one frame's full dissection.

pyshark finds tshark where Wireshark installs it (its ``config.ini``, Program Files on
Windows, the app bundle on macOS, PATH). The drill-down dissection runs ``tshark -V``
with a plain :func:`subprocess.run`, so it works inside a running event loop (a Jupyter
cell) without ``nest_asyncio``: pyshark's synchronous API would raise "This event loop
is already running" there.

>>> tshark_executable()  # doctest: +SKIP
'/usr/bin/tshark'
>>> print(dissect_frame("sample_pcaps/refused.pcap", 1)[:40])  # doctest: +SKIP
Frame 1: 74 bytes on wire (592 bits), 74
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from pyshark.tshark.tshark import TSharkNotFoundException, get_process_path

from hskit.errors import TsharkFailed, TsharkNotFound

#: oldest tshark whose field names and custom-column syntax hskit relies on.
MIN_VERSION: tuple[int, int] = (3, 6)

INSTALL_HINT = (
    "install Wireshark's tshark: Debian/Ubuntu `sudo apt-get install tshark`, "
    "Fedora `sudo dnf install wireshark-cli`, macOS `brew install wireshark`, "
    "Windows: the installer from wireshark.org (keep the TShark component ticked)"
)

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


@lru_cache(maxsize=8)
def tshark_version(tshark: str) -> tuple[int, int, int]:
    """``(major, minor, patch)`` parsed from ``tshark --version``.

    >>> tshark_version(tshark_executable()) >= (3, 6, 0)  # doctest: +SKIP
    True
    """
    try:
        completed = subprocess.run(
            [tshark, "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError as error:
        raise TsharkNotFound(f"tshark at {tshark} cannot run ({error}); {INSTALL_HINT}") from None
    match = re.search(r"TShark \(Wireshark\) (\d+)\.(\d+)\.(\d+)", completed.stdout)
    if completed.returncode != 0 or match is None:
        raise TsharkFailed(
            f"`{tshark} --version` failed (exit {completed.returncode}): "
            f"{completed.stderr.strip() or completed.stdout.strip()}"
        )
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def require_version(tshark: str, version: tuple[int, int, int] | None = None) -> None:
    """Raise :class:`TsharkNotFound` when ``tshark`` is older than :data:`MIN_VERSION`.

    ``version`` is tshark's version when already known (from a cache); else it is asked.

    >>> require_version("/usr/bin/tshark", (4, 0, 17))
    """
    if version is None:
        version = tshark_version(tshark)
    if version[:2] < MIN_VERSION:
        found = ".".join(map(str, version))
        needed = ".".join(map(str, MIN_VERSION))
        message = f"tshark {found} at {tshark} is too old (hskit needs >= {needed})"
        raise TsharkNotFound(f"{message}; {INSTALL_HINT}")


def checked_tshark() -> str:
    """:func:`tshark_executable`, refusing versions older than :data:`MIN_VERSION`."""
    tshark = tshark_executable()
    require_version(tshark)
    return tshark


@contextmanager
def isolated_environment(disabled_protocols: str = "") -> Iterator[dict[str, str]]:
    """Environment for a tshark run whose configuration is a fresh, empty temporary folder.

    ``WIRESHARK_CONFIG_DIR`` points tshark at the folder instead of the user's profile;
    ``disabled_protocols`` (one name a line) becomes its ``disabled_protos`` file. The
    folder is removed on exit, whatever happened.

    >>> with isolated_environment() as env:
    ...     "WIRESHARK_CONFIG_DIR" in env
    True
    """
    folder = tempfile.mkdtemp(prefix="hskit-tshark-")
    try:
        if disabled_protocols:
            Path(folder, "disabled_protos").write_text(disabled_protocols, encoding="utf-8")
        yield {**os.environ, "WIRESHARK_CONFIG_DIR": folder}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def preference_arguments() -> list[str]:
    """``-o name:value`` arguments for :data:`PINNED_PREFERENCES`.

    >>> preference_arguments()[:2]
    ['-o', 'tcp.relative_sequence_numbers:TRUE']
    """
    return [
        item for name, value in PINNED_PREFERENCES.items() for item in ("-o", f"{name}:{value}")
    ]


def error_text(stderr: str) -> str:
    """tshark's stderr without its "Running as user root" chatter.

    >>> error_text('Running as user "root" and group "root". This could be dangerous.\\nbad')
    'bad'
    """
    lines = [line for line in stderr.splitlines() if not line.startswith("Running as user")]
    return "\n".join(lines).strip()


def dissect_frame(path: str | os.PathLike[str], frame_number: int) -> str:
    """Wireshark's full text dissection (``tshark -V``) of one frame of a capture.

    Every protocol is dissected (application layers included), with the same pinned
    TCP preferences as the loader, so sequence numbers match ``cap.segments``. Reading
    stops at that frame. Safe inside a running event loop.

    >>> "Transmission Control Protocol" in dissect_frame("capture.pcap", 3)  # doctest: +SKIP
    True
    """
    if frame_number < 1:
        raise ValueError(f"frame numbers start at 1, not {frame_number}")
    tshark = checked_tshark()
    arguments = [
        tshark, "-n", "-r", os.fspath(path), *preference_arguments(),
        "-c", str(frame_number), "-Y", f"frame.number == {frame_number}", "-V",
    ]  # fmt: skip
    with isolated_environment() as env:
        completed = subprocess.run(
            arguments, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
            check=False,
        )  # fmt: skip
    if completed.returncode != 0:
        raise TsharkFailed(
            f"tshark could not dissect frame {frame_number} of {path} "
            f"(exit {completed.returncode}): {error_text(completed.stderr)}"
        )
    if not completed.stdout.strip():
        raise ValueError(f"{path} has no frame {frame_number}")
    return completed.stdout
