"""Progress feedback for long work: a ``tqdm.auto`` bar that appears only after a second.

>>> with byte_progress(1000, enabled=False) as bar:
...     bar.update(1000)
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from tqdm.auto import tqdm

#: seconds a task must run before its bar appears.
BAR_DELAY = 1.0


def byte_progress(
    total_bytes: int | None, *, enabled: bool | None, description: str = "loading"
) -> AbstractContextManager[tqdm]:
    """A bar counting bytes; ``enabled=None`` means on, shown only once work passes a second.

    ``enabled=False`` gives a silent bar object whose ``update`` does nothing visible.
    """
    return tqdm(
        total=total_bytes,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=description,
        delay=BAR_DELAY,
        disable=enabled is False,
        leave=False,
    )
