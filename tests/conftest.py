"""Shared fixtures: where tshark is, and which captures the repository holds.

Tests that need tshark use the ``tshark`` fixture. On a user's machine without tshark
they skip with the reason; in CI (``CI`` set) a missing tshark fails them instead.

Tests that measure agreement with an independent truth (Zeek's conn.log, the sample
manifest, tshark) report their figures through the ``figures`` fixture: printed in the
test's output and again, grouped by test, at the end of the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from hskit.tshark.facts import CACHE_DIR_VARIABLE

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO / "sample_pcaps"
#: link addresses of crafted frames (locally administered): scapy's default Ether() asks
#: the network for the destination's MAC (ARP / neighbour solicitation), frame by frame.
CRAFTED_LINK = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}
#: Zeek's traces and conn.log baselines, kept in the repository by tests/data/zeek/sync.py.
ZEEK_ORACLE_DIR = REPO / "tests" / "data" / "zeek"
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz")


def _captures_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.endswith(CAPTURE_SUFFIXES))


SAMPLE_CAPTURES: list[Path] = _captures_in(SAMPLE_DIR)
ZEEK_TRACES: list[Path] = _captures_in(ZEEK_ORACLE_DIR / "traces")
ALL_CAPTURES: list[Path] = SAMPLE_CAPTURES + ZEEK_TRACES


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """hskit's cache (tshark's version and protocol list) in a folder of this test run,
    for every test and every process it starts, not in the user's cache."""
    folder = tmp_path_factory.mktemp("hskit-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_DIR_VARIABLE, str(folder))
        yield folder


def unavailable(message: str) -> NoReturn:
    """A test cannot run here: skip on a user's machine, fail in CI (``CI`` set)."""
    if os.environ.get("CI"):
        pytest.fail("CI: " + message)
    pytest.skip(message)


def ring_of(captures: list[Path], frames: int, folder: Path) -> list[Path]:
    """``captures`` concatenated (``mergecap -a``) and cut into ring files of ``frames``
    frames each (``editcap -c``) in ``folder``, in order.

    >>> ring_of([SAMPLE_DIR / "refused.pcap"], 1, tmp_path)  # doctest: +SKIP
    """
    if not (shutil.which("editcap") and shutil.which("mergecap")):
        unavailable("editcap/mergecap (Debian: apt-get install wireshark-common) are missing")
    whole = folder / "all.pcapng"
    subprocess.run(["mergecap", "-a", "-w", str(whole), *map(str, captures)], check=True)
    subprocess.run(["editcap", "-c", str(frames), str(whole), str(folder / "ring.pcapng")],
                   check=True)  # fmt: skip
    return sorted(folder.glob("ring_*"))


def tshark_path() -> str | None:
    """tshark on PATH, or None."""
    return shutil.which("tshark")


@pytest.fixture(scope="session")
def tshark() -> str:
    """Path to tshark: skip without it on a user's machine, fail without it in CI."""
    path = tshark_path()
    if path is None:
        unavailable(
            "tshark is not installed (Debian/Ubuntu: sudo apt-get install tshark); "
            "tests that compare with tshark's own output need it"
        )
    return path


@pytest.fixture(scope="session")
def zeek_oracle_dir() -> Path:
    """The Zeek oracle (traces, expected conn.log CSVs, manifest) in ``tests/data/zeek``."""
    return ZEEK_ORACLE_DIR


#: Figures reported by tests in this run, by test (function name, without parameters).
_FIGURES: defaultdict[str, list[str]] = defaultdict(list)
#: the name of a test's property that holds a reported figure.
_FIGURE = "hskit figure"


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """``figures(line)``: report a measured figure (printed, and repeated in the summary).

    The figure travels as a property of the test's report, so the summary holds it also
    when the test ran in a pytest-xdist worker process.
    """

    def report(line: str) -> None:
        print(line)
        request.node.user_properties.append((_FIGURE, (request.node.originalname, line)))

    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect the figures of each finished test (in the process that prints the summary)."""
    if report.when != "call":
        return
    for key, value in report.user_properties:
        if key == _FIGURE:
            test, line = value
            _FIGURES[test].append(line.strip("\n"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The reported figures, one block per test."""
    if not _FIGURES:
        return
    terminalreporter.section("agreement figures")
    for test, lines in _FIGURES.items():
        terminalreporter.write_line(f"{test}:")
        for line in lines:
            terminalreporter.write_line(f"  {line}")


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--fuzz=N``: the long fuzzing run of tests/test_fuzz.py (N native cases, N // 10
    through tshark) instead of its few hundred."""
    parser.addoption(
        "--fuzz",
        type=int,
        default=None,
        metavar="N",
        help="tests/test_fuzz.py: N mutated captures through the native reader and N // 10 "
        "through tshark (default 300 and 30)",
    )
