"""Progress bars: a bar for ``progress=None`` (the default), none at all for ``False``."""

from __future__ import annotations

import subprocess
import sys

from tqdm.auto import tqdm

from hskit.progress import SilentBar, byte_progress
from tests.conftest import REPO

#: a fresh process loads a sample capture without a bar, then reports what is running.
_SILENT_LOAD = """
import sys, threading
import hskit
hskit.load(sys.argv[1], backend="native", progress=False)
print("multiprocessing" in sys.modules, threading.active_count())
"""


def test_a_default_load_gets_a_tqdm_bar() -> None:
    with byte_progress(100, enabled=None) as bar:
        assert isinstance(bar, tqdm)
        assert (bar.total, bar.disable) == (100, False)


def test_a_silent_bar_counts_like_tqdm() -> None:
    with byte_progress(100, enabled=False) as bar:
        bar.update(30)
        bar.update(bar.total - bar.n)
    assert isinstance(bar, SilentBar)
    assert bar.n == 100


def test_a_load_without_progress_starts_no_thread_and_no_multiprocessing() -> None:
    """A disabled tqdm would start its monitor thread and import ``multiprocessing``."""
    capture = REPO / "sample_pcaps" / "close_client_first.pcap"
    result = subprocess.run(
        [sys.executable, "-c", _SILENT_LOAD, str(capture)],
        capture_output=True, text=True, check=True, cwd=REPO,
    )  # fmt: skip
    assert result.stdout.split() == ["False", "1"]
