"""Computations in steps: a generator that yields between its steps and returns its
result, so a caller can run code between them (``benchmarks/live.py`` times each step
of the live findings; a caller sharing the interpreter can let other work go first).

>>> def two_steps():
...     yield
...     return 2
>>> finished(two_steps())
2
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TypeVar

T = TypeVar("T")
#: a computation in steps: yields between them, returns its result.
Steps = Generator[None, None, T]


def finished(steps: Steps[T], between_steps: Callable[[], None] | None = None) -> T:
    """Run ``steps`` to the end (calling ``between_steps`` between two of them): what
    they return.

    >>> def two_steps():
    ...     yield
    ...     return 2
    >>> finished(two_steps())
    2
    """
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value
        if between_steps is not None:
            between_steps()
