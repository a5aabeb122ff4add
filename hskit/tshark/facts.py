"""What hskit learns about a tshark build: its version and its list of protocols, cached.

Both are asked once per tshark build and kept in ``tshark-facts.json`` in
:func:`cache_folder` (``$HSKIT_CACHE_DIR`` overrides it), so a load starts tshark at once.
A build is told from another by its resolved path, size and modification time.

The protocol list is :func:`~hskit.tshark.protocols.disabled_protocols`: what a load leaves
out. An entry records the :data:`_FACTS_FORMAT` it was made with; an entry of another
format (made by other rules) is asked again.

>>> require_version("/usr/bin/tshark", (4, 0, 17))
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from functools import lru_cache
from pathlib import Path

from hskit.errors import TsharkFailed, TsharkNotFound
from hskit.tshark.isolation import isolated
from hskit.tshark.locate import INSTALL_HINT, tshark_executable
from hskit.tshark.process import run
from hskit.tshark.protocols import disabled_protocols

__all__ = [
    "CACHE_DIR_VARIABLE",
    "MIN_VERSION",
    "cache_folder",
    "checked_disabled_protocols",
    "checked_tshark",
    "require_version",
    "tshark_version",
]

#: oldest tshark whose field names and custom-column syntax hskit relies on.
MIN_VERSION: tuple[int, int] = (3, 6)

#: environment variable naming the folder of hskit's cache (instead of the user's cache).
CACHE_DIR_VARIABLE = "HSKIT_CACHE_DIR"
#: the cache file: each tshark build's version and ``disabled_protos`` list.
_FACTS_FILE = "tshark-facts.json"
#: the rules the cached facts were made by (2: protocols above the transport layers).
_FACTS_FORMAT = 2


@lru_cache(maxsize=8)
def tshark_version(tshark: str) -> tuple[int, int, int]:
    """``(major, minor, patch)`` parsed from ``tshark --version``.

    >>> tshark_version(tshark_executable()) >= (3, 6, 0)  # doctest: +SKIP
    True
    """
    with isolated(tshark) as isolation:
        output = run([tshark, "--version"], isolation)
    match = re.search(r"TShark \(Wireshark\) (\d+)\.(\d+)\.(\d+)", output)
    if match is None:
        raise TsharkFailed(f"`{tshark} --version` did not give a version: {output.strip()!r}")
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


def cache_folder() -> Path:
    """Where hskit caches what it learns about tshark builds.

    ``$HSKIT_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/hskit``, else ``~/.cache/hskit``.

    >>> cache_folder()  # doctest: +SKIP
    PosixPath('/home/me/.cache/hskit')
    """
    chosen = os.environ.get(CACHE_DIR_VARIABLE)
    if chosen:
        return Path(chosen)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hskit"


def checked_disabled_protocols(tshark: str, *, needed: bool) -> str:
    """Refuse a too old ``tshark``; give its ``disabled_protos`` list ("" unless ``needed``).

    Both come from the cache file when it holds them for this very build of tshark (same
    resolved path, size and modification time); what it lacks is asked of tshark, both
    runs at once, and stored. A cache that cannot be read or written is done without.
    """
    build = _build_identity(tshark)
    stored = _stored_facts()
    known = _known_facts(stored.get(build["path"]), build) if build else {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        asked_version = None if "version" in known else pool.submit(tshark_version, tshark)
        asked_listing = (
            pool.submit(disabled_protocols, tshark)
            if needed and "disabled_protocols" not in known
            else None
        )
        if asked_version is not None:
            known["version"] = asked_version.result()
        require_version(tshark, known["version"])  # type: ignore[arg-type]
        if asked_listing is not None:
            known["disabled_protocols"] = asked_listing.result()
    if build and (asked_version or asked_listing):
        stored[build["path"]] = {**build, **known}
        _store_facts(stored)
    return known["disabled_protocols"] if needed else ""  # type: ignore[return-value]


def _build_identity(tshark: str) -> dict[str, object] | None:
    """What tells one build of tshark from another (resolved path, size, modification time),
    and the format of the facts hskit keeps about it."""
    try:
        resolved = os.path.realpath(tshark)
        status = os.stat(resolved)
    except OSError:
        return None  # asking tshark itself will say what is wrong
    return {
        "path": resolved,
        "size": status.st_size,
        "mtime_ns": status.st_mtime_ns,
        "format": _FACTS_FORMAT,
    }


def _stored_facts() -> dict[str, object]:
    """The cache file's entries by tshark path; none when it is missing or unreadable."""
    try:
        entries = json.loads((cache_folder() / _FACTS_FILE).read_text(encoding="utf-8"))
    except (OSError, RuntimeError, ValueError):  # RuntimeError: no home folder
        return {}
    return entries if isinstance(entries, dict) else {}


def _known_facts(entry: object, build: dict[str, object]) -> dict[str, object]:
    """The well-formed facts of a cache entry, if it was written for this very ``build``."""
    if not isinstance(entry, dict) or any(entry.get(key) != build[key] for key in build):
        return {}
    known: dict[str, object] = {}
    version = entry.get("version")
    if isinstance(version, list) and len(version) == 3 and all(type(v) is int for v in version):
        known["version"] = tuple(version)
    if isinstance(entry.get("disabled_protocols"), str):
        known["disabled_protocols"] = entry["disabled_protocols"]
    return known


def _store_facts(entries: dict[str, object]) -> None:
    """Write the cache file atomically (a temporary file renamed over it), if it can."""
    temporary: str | None = None
    try:
        folder = cache_folder()
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=folder, prefix=".tshark-facts-", delete=False
        ) as file:
            temporary = file.name
            json.dump(entries, file)
        os.replace(temporary, folder / _FACTS_FILE)
    except (OSError, RuntimeError):  # the cache only saves time: loading goes on without it
        if temporary is not None:
            with suppress(OSError):
                os.unlink(temporary)
