"""Progress feedback for long work: a ``tqdm.auto`` bar that appears only after a second.

>>> with byte_progress(1000, enabled=False) as bar:
...     bar.update(1000)
>>> bar.n
1000
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tqdm.auto import tqdm

#: seconds a task must run before its bar appears.
BAR_DELAY = 1.0


class ByteBar(Protocol):
    """What the readers use of a bar: its total, its count and ``update``."""

    total: float | None
    n: float

    def update(self, n: float = 1) -> object: ...

    def __enter__(self) -> ByteBar: ...

    def __exit__(self, *exc_info: object) -> object: ...


@dataclass
class SilentBar:
    """A bar that counts and shows nothing, for ``enabled=False``.

    A disabled ``tqdm`` still starts tqdm's monitor thread and, on its first use in a
    process, imports ``multiprocessing`` for its lock, which a load that shows no bar (a
    Dask task, a live capture's ring file) has no use for.

    >>> with SilentBar(10) as bar:
    ...     bar.update(4)
    >>> bar.n
    4
    """

    total: float | None
    n: float = 0

    def update(self, n: float = 1) -> None:
        self.n += n

    def __enter__(self) -> SilentBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


def byte_progress(
    total_bytes: int | None, *, enabled: bool | None, description: str = "loading"
) -> ByteBar:
    """A bar counting bytes; ``enabled=None`` means on, shown only once work passes a second.

    ``enabled=False`` gives a :class:`SilentBar`, whose ``update`` only counts.
    """
    if enabled is False:
        return SilentBar(total_bytes)
    return tqdm(
        total=total_bytes,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=description,
        delay=BAR_DELAY,
        leave=False,
    )
