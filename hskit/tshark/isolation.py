"""How every tshark run is isolated from the user's Wireshark configuration.

Each run gets a fresh, empty configuration folder (``WIRESHARK_CONFIG_DIR``) instead of
the user's profile, and the preferences that shape hskit's fields are pinned on its
command line, so a profile cannot change the output.

>>> with isolated_environment() as env:
...     "WIRESHARK_CONFIG_DIR" in env
True
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["PINNED_PREFERENCES", "isolated_environment", "preference_arguments"]

#: preferences pinned on every tshark run, so a user's profile cannot change the output.
PINNED_PREFERENCES: dict[str, str] = {
    "tcp.relative_sequence_numbers": "TRUE",
    "tcp.analyze_sequence_numbers": "TRUE",
    "tcp.desegment_tcp_streams": "FALSE",
    "tcp.reassemble_out_of_order": "FALSE",
    "tcp.check_checksum": "FALSE",
    "tcp.calculate_timestamps": "FALSE",
    "tcp.track_bytes_in_flight": "FALSE",
    "tcp.try_heuristic_first": "FALSE",
    "ip.defragment": "FALSE",
    "ip.check_checksum": "FALSE",
    "ipv6.defragment": "FALSE",
}


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
