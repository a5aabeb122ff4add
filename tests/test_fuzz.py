"""Mutated captures end in a result, an ``hskit.errors`` error or an hskit warning: never
another exception, a hang or running out of a 2 GiB address space (issue 18).

The corpus is ``tests/fuzzing.py``'s: seeded mutations of the sample captures, each loaded
in a child process under ``RLIMIT_AS`` and a timeout. By default 300 cases go through the
native reader and 30 through tshark; ``pytest tests/test_fuzz.py --fuzz=10000`` is the
release run (10,000 native, 1,000 tshark). A failing case is replayed with
``python tests/fuzzing.py --write INDEX case.pcap``: its index is the start of its name.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import fuzzing
import pytest

#: Cases of a default run, by backend (a few minutes on a loaded machine).
DEFAULT_CASES = {"native": 300, "tshark": 30}


def _count(request: pytest.FixtureRequest, backend: str) -> int:
    fuzz = request.config.getoption("--fuzz")
    if fuzz is None:
        return DEFAULT_CASES[backend]
    return fuzz if backend == "native" else max(fuzz // 10, 1)


def _run(backend: str, count: int, figures: Callable[[str], None]) -> None:
    grouped = fuzzing.campaign(count, backend, report=print)
    figures(f"{backend}: {fuzzing.summary(grouped)}")
    failures = [f"{name}: {outcome.kind}: {outcome.detail}" for kind in fuzzing.FAILURES
                for name, outcome in grouped.get(kind, [])]  # fmt: skip
    assert not failures, "\n".join(failures)
    # The mutations reach past the file header: some cases load whole, some warn, some fail.
    assert all(grouped.get(kind) for kind in fuzzing.PROMISED), fuzzing.summary(grouped)


def test_native_reader_ends_every_mutated_capture_in_a_promised_outcome(
    request: pytest.FixtureRequest, figures: Callable[[str], None]
) -> None:
    _run("native", _count(request, "native"), figures)


def test_tshark_backend_ends_every_mutated_capture_in_a_promised_outcome(
    tshark: str, request: pytest.FixtureRequest, figures: Callable[[str], None]
) -> None:
    _run("tshark", _count(request, "tshark"), figures)


def test_the_corpus_is_deterministic_and_uses_every_mutation() -> None:
    first = list(fuzzing.cases(300))
    assert first == list(fuzzing.cases(300))
    assert fuzzing.make_case(7, seed=1) != fuzzing.make_case(7, seed=0)
    used = {part for case in first for part in case.name.split("-", 2)[2].split("+")}
    assert used == {*fuzzing.MUTATIONS, "gzip_corrupt"}


def test_a_case_starts_with_the_compiled_reader_loaded_by_the_fork_server() -> None:
    context = fuzzing._context()
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=fuzzing.preloaded, args=(send,))
    child.start()
    send.close()
    assert receive.poll(60), "the child did not answer"
    # the installed package's loops are built: numba is not needed to read a capture
    assert receive.recv() == ["hskit._loops", "hskit.native.kernels"]
    child.join(60)


def test_the_harness_reports_a_hang(tmp_path) -> None:
    case = fuzzing.make_case(1)
    hang = fuzzing.run_case(
        case, "native", folder=tmp_path, timeout=1, child_main=fuzzing.never_answers
    )
    assert hang.kind == "hang"
    assert fuzzing.run_case(case, "native", folder=tmp_path).kind in fuzzing.PROMISED


def _raise(error: BaseException) -> Callable[..., None]:
    def load(*args: object, **kwargs: object) -> None:
        raise error

    return load


def _warn(*args: object, **kwargs: object) -> None:
    warnings.warn("an untyped warning", RuntimeWarning, stacklevel=1)


def test_an_untyped_exception_or_warning_is_a_crash_and_memory_error_an_oom(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import hskit

    path = str(tmp_path / "case.pcap")
    for load, kind in ((_raise(KeyError("x")), "crash"), (_warn, "crash"),
                       (_raise(MemoryError()), "oom")):  # fmt: skip
        monkeypatch.setattr(hskit, "load", load)
        assert fuzzing.load_outcome(path, "native").kind == kind
