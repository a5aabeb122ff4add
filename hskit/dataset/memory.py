"""Allocators that give freed memory back, for a conversion whose peak must not grow.

A conversion frees each bucket's tables before the next is read, but allocators keep
what was freed: Arrow's default pool (mimalloc or jemalloc) caches it, and glibc's malloc
keeps it in one arena per thread that ever allocated. Bucket after bucket the process
then grows though its live data does not. :func:`returning_memory` switches to Arrow's
system pool (plain ``malloc``) and a single glibc arena for its duration, and
:func:`give_back` asks glibc to return the free pages at the top of its heaps
(``malloc_trim``). Elsewhere than glibc only the Arrow pool changes.

>>> with returning_memory():
...     give_back()
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa

#: ``mallopt`` parameter: the most arenas glibc creates (``malloc.h``).
M_ARENA_MAX = -8
#: the arena limit while converting: one, so freed memory is found again by every thread.
CONVERT_ARENAS = 1
#: glibc's own arena limit on 64-bit systems when ``MALLOC_ARENA_MAX`` is unset: 8 per
#: core (``mallopt`` ignores 0, so the limit is restored as a number).
DEFAULT_ARENAS = 8 * (os.cpu_count() or 1)


def _glibc() -> ctypes.CDLL | None:
    """The C library if it is glibc (it has ``malloc_trim`` and ``mallopt``), else None."""
    try:
        libc = ctypes.CDLL(None)
    except (OSError, TypeError):  # Windows has no process-wide symbol table
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


_LIBC = _glibc()


@contextmanager
def returning_memory() -> Iterator[None]:
    """Arrow's system pool and one glibc arena while inside; the caller's pool and the
    arena limit of the environment again after.

    >>> with returning_memory():
    ...     pa.default_memory_pool().backend_name
    'system'
    """
    pool = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    if _LIBC is not None:
        _LIBC.mallopt(M_ARENA_MAX, CONVERT_ARENAS)
    try:
        yield
    finally:
        pa.set_memory_pool(pool)
        if _LIBC is not None:
            arenas = os.environ.get("MALLOC_ARENA_MAX", "")
            _LIBC.mallopt(M_ARENA_MAX, int(arenas) if arenas.isdigit() else DEFAULT_ARENAS)


def give_back() -> None:
    """Return the free memory of glibc's heaps to the system (nothing elsewhere).

    >>> give_back()
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
