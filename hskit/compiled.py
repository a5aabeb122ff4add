"""How hskit's compiled loops are compiled: ahead of time, or by numba on first use.

The loops are the native reader's (:mod:`hskit.native.kernels`,
:mod:`hskit.native.numbering`) and the TCP analysis's (:mod:`hskit.analysis.sequence`,
:mod:`hskit.analysis.acks`, :mod:`hskit.analysis.rows`). Installing hskit
(``pip install``, or the wheel) compiles every loop marked :func:`exported` into one
extension module, ``hskit._loops``, with numba's ahead-of-time compiler (``setup.py``).
A process then runs machine code without loading numba or LLVM at all: a fresh
process's first load or classification costs what the work costs, not about 115 MB and
half a second of JIT start-up on top.

Where that module is missing (a source tree on ``PYTHONPATH`` that was never built),
was built from other sources than the modules beside it (an editable install whose loops
changed since: a warning says to rebuild), or ``HSKIT_LOOPS=jit`` is set, numba compiles
the same functions on first use, as before. :data:`LOOPS` says which is in use.

Compiled code checks nothing about its arguments: an array of another type, or not
contiguous, would be read as the wrong bytes. So every call goes through
:class:`Loop`, which checks each argument against the loop's signature (written beside
it, in numba's notation) and raises ``TypeError`` instead.

>>> loop = Loop(lambda values, count: count, "int64(int64[::1], int64)")
>>> loop(np.zeros(3, np.int64), 2)
2
>>> loop(np.zeros(3, np.int32), 2)
Traceback (most recent call last):
TypeError: <lambda>: argument 1 must be a contiguous 1-d int64 array, not a 1-d int32 array
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

#: the loops in use: "built" (the ``hskit._loops`` extension) or "jit" (numba).
LOOPS: str
#: every exported loop: name -> (signature, Python function), as ``setup.py`` builds them.
EXPORTED: dict[str, tuple[str, Callable[..., Any]]] = {}

#: the file beside the built module naming the sources it was built from, with digests.
BUILT_FROM = "_loops.sources.json"
#: the source files of every exported loop and inlined helper, as they register.
_SOURCES: set[str] = set()


def source_digests() -> dict[str, str]:
    """SHA-256 of each source file of the loops registered so far, by its path in the
    package (what ``setup.py`` records beside the built module).

    >>> from hskit.native import kernels
    >>> len(source_digests()["native/kernels.py"])
    64
    """
    package = Path(__file__).resolve().parent
    return {
        Path(source).resolve().relative_to(package).as_posix(): _digest(Path(source))
        for source in sorted(_SOURCES)
    }


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _built_module() -> ModuleType | None:
    """``hskit._loops`` if it is built from the sources beside it and not refused by
    ``HSKIT_LOOPS=jit``; else None (numba's JIT)."""
    if os.environ.get("HSKIT_LOOPS") == "jit":
        return None
    try:
        from hskit import _loops  # type: ignore[attr-defined]
    except ImportError:  # a source tree that was never built
        return None
    package = Path(__file__).resolve().parent
    try:
        recorded = json.loads((package / BUILT_FROM).read_text())
        changed = [name for name, digest in recorded.items() if _digest(package / name) != digest]
    except (OSError, ValueError) as error:
        changed = [f"{BUILT_FROM} ({error})"]
    if changed:
        warnings.warn(
            f"hskit._loops was built from other sources than {', '.join(changed)}: numba "
            "compiles the loops on first use instead (rebuild them: pip install -e .)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return _loops


_BUILT = _built_module()
LOOPS = "built" if _BUILT is not None else "jit"

#: numba's dtype names in signatures, as NumPy dtypes.
_DTYPES = {
    name: np.dtype(dtype)
    for name, dtype in (
        ("boolean", np.bool_), ("int8", np.int8), ("int32", np.int32), ("int64", np.int64),
        ("uint8", np.uint8), ("uint16", np.uint16), ("uint32", np.uint32),
        ("uint64", np.uint64),
    )
}  # fmt: skip
_INT64 = (-(1 << 63), (1 << 63) - 1)

Check = Callable[[Any], str | None]


def exported(signature: str) -> Callable[[Callable[..., Any]], Loop]:
    """Mark a loop for the extension module, with its one ``signature`` (numba's
    notation: ``"int64(uint8[::1], int64)"``; arrays ``[::1]`` and ``[:, ::1]`` are
    contiguous, ``[:, :]`` any layout).

    >>> from hskit.native import kernels
    >>> EXPORTED["walk_pcap"][0]
    'UniTuple(int64, 3)(uint8[::1], int64, int64, int64, boolean, int64, int64[:, ::1])'
    >>> kernels.walk_pcap  # doctest: +ELLIPSIS
    <loop walk_pcap UniTuple(int64, 3)(uint8[::1], ...) (...)>
    """

    def mark(function: Callable[..., Any]) -> Loop:
        EXPORTED[function.__name__] = (signature, function)
        _SOURCES.add(function.__code__.co_filename)
        if _BUILT is not None:
            return Loop(getattr(_BUILT, function.__name__), signature, function)
        return Loop(_jit(function, inline=False), signature, function)

    return mark


def inlined(function: Callable[..., Any]) -> Callable[..., Any]:
    """A helper of exported loops, compiled into each of them; where the built module is
    in use, numba never sees it and it stays a Python function (nothing calls it).

    >>> from hskit.native import kernels
    >>> kernels._halves_sum(0x0001_0002_0003_0004)  # its four 16-bit words' sum
    10
    """
    _SOURCES.add(function.__code__.co_filename)
    if _BUILT is not None:
        return function
    return _jit(function, inline=True)


def _jit(function: Callable[..., Any], *, inline: bool) -> Callable[..., Any]:
    """``function`` compiled by numba on its first call (numba imports here)."""
    from numba import njit

    return njit(cache=True, nogil=True, inline="always" if inline else "never")(function)


class Loop:
    """A compiled loop that checks its arguments against ``signature`` first.

    ``function`` (default ``compiled``) gives the name, docstring and module (doctest
    finds the examples of the loop's source through them).

    >>> Loop(len, "int64(uint8[::1])")(np.zeros(4, np.uint8))
    4
    """

    def __init__(
        self,
        compiled: Callable[..., Any],
        signature: str,
        function: Callable[..., Any] | None = None,
    ) -> None:
        source = function or compiled
        self.__name__ = source.__name__
        self.__doc__ = source.__doc__
        self.__module__ = source.__module__
        self.__wrapped__ = source
        self.signature = signature
        self._compiled = compiled
        self._checks = [_check(argument) for argument in _arguments(signature)]

    def __call__(self, *arguments: Any) -> Any:
        if len(arguments) != len(self._checks):
            raise TypeError(
                f"{self.__name__} takes {len(self._checks)} arguments, not {len(arguments)}"
            )
        for number, (check, value) in enumerate(zip(self._checks, arguments, strict=True), 1):
            if (wanted := check(value)) is not None:
                raise TypeError(
                    f"{self.__name__}: argument {number} must be {wanted}, not {_kind(value)}"
                )
        return self._compiled(*arguments)

    def __repr__(self) -> str:
        return f"<loop {self.__name__} {self.signature} ({LOOPS})>"


def _arguments(signature: str) -> list[str]:
    """The argument types of ``signature``, each as written.

    >>> _arguments("UniTuple(int64, 2)(uint8[::1], Tuple((int64[::1], boolean[::1])), int64)")
    ['uint8[::1]', 'Tuple((int64[::1], boolean[::1]))', 'int64']
    """
    depth = 0
    for at in range(len(signature) - 1, -1, -1):  # the group that the last ")" closes
        depth += {")": 1, "(": -1}.get(signature[at], 0)
        if depth == 0:
            return _top_level(signature[at + 1 : -1])
    raise ValueError(f"not a signature: {signature}")


def _top_level(text: str) -> list[str]:
    """``text`` split at the commas outside brackets."""
    parts, depth, start = [], 0, 0
    for at, character in enumerate(text):
        if character in "([":
            depth += 1
        elif character in ")]":
            depth -= 1
        elif character == "," and depth == 0:
            parts.append(text[start:at].strip())
            start = at + 1
    if text[start:].strip():
        parts.append(text[start:].strip())
    return parts


def _check(argument: str) -> Check:
    """A check of one argument type: None for a fitting value, else what it must be."""
    if argument.startswith("Tuple(("):
        items = [_check(item) for item in _top_level(argument[len("Tuple((") : -2])]
        return lambda value: _tuple_check(value, items)
    if "[" in argument:
        name, layout = argument[:-1].split("[", 1)
        dtype, ndim = _DTYPES[name], layout.count(",") + 1
        contiguous = layout.endswith("::1")
        wanted = f"{'a contiguous ' if contiguous else 'a '}{ndim}-d {dtype} array"
        return lambda value: _array_check(value, dtype, ndim, contiguous, wanted)
    if argument == "boolean":
        return lambda value: None if isinstance(value, bool | np.bool_) else "a bool"
    return _integer_check


def _tuple_check(value: Any, items: list[Check]) -> str | None:
    if not isinstance(value, tuple) or len(value) != len(items):
        return f"a tuple of {len(items)}"
    for number, (check, item) in enumerate(zip(items, value, strict=True), 1):
        if (wanted := check(item)) is not None:
            return f"a tuple whose item {number} is {wanted} (not {_kind(item)})"
    return None


def _array_check(
    value: Any, dtype: np.dtype[Any], ndim: int, contiguous: bool, wanted: str
) -> str | None:
    fits = (
        isinstance(value, np.ndarray)
        and value.dtype == dtype
        and value.ndim == ndim
        and value.flags.aligned
        and (value.flags.c_contiguous or not contiguous)
    )
    return None if fits else wanted


def _integer_check(value: Any) -> str | None:
    if isinstance(value, bool | np.bool_):
        return "an integer"
    try:
        number = operator.index(value)
    except TypeError:
        return "an integer"
    return None if _INT64[0] <= number <= _INT64[1] else "a 64-bit integer"


def _kind(value: Any) -> str:
    """What ``value`` is, for an error message."""
    if isinstance(value, np.ndarray):
        layout = "" if value.flags.c_contiguous else " non-contiguous"
        return f"a{layout} {value.ndim}-d {value.dtype} array"
    return type(value).__name__
