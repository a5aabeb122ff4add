"""Imported once by the fork server of :mod:`fuzzing` (its preload list): loads a pcap, a
pcapng and a gzip-compressed seed, so the native reader's compiled loops (the built
``hskit._loops``, or numba's JIT where it is not built) are loaded in the server
and every case's child, forked from it, starts with them instead of paying their
start-up (seconds for numba on a loaded machine) case after case.
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

from fuzzing import seeds

import hskit


def warm_up() -> int:
    """Load one seed of each kind (pcap, pcapng, gzip); the number of files loaded.

    >>> warm_up()
    3
    """
    pcap = next(seed for seed in seeds() if not seed.blocks)
    pcapng = next(seed for seed in seeds() if seed.blocks)
    contents = {"a.pcap": pcap.data, "b.pcapng": pcapng.data, "c.pcap.gz": gzip.compress(pcap.data)}
    with tempfile.TemporaryDirectory(prefix="hskit-fuzz-warm-") as folder:
        for name, data in contents.items():
            path = Path(folder, name)
            path.write_bytes(data)
            len(hskit.load(path, progress=False).segments)
    return len(contents)


warm_up()
